"""The HTTP API over the views of schema waste, on a hand-made read model whose figures
are worked out in dataset.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from leancrm_devstack.testing import Infra
from leancrm_waste.read.api import api_routes
from leancrm_waste.read.catalogue import VIEWS
from leancrm_waste.read.costs import DEFAULT_COST_SECONDS
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .access import ANALYST, bearer, guard
from .dataset import DataSet, install, point_views_at, uid

pytestmark = pytest.mark.integration
DAY = {"from": "2026-06-15", "to": "2026-06-16"}


class FakeConsumer:
    def lag(self) -> dict[str, int]:
        return {"crm.interactions.events.v1/1": 3, "crm.customers.events.v1/0": 0,
                "crm.interactions.events.v1/0": 5}


@dataclass
class FakeService:
    api_pool: asyncpg.Pool | None
    consumer: FakeConsumer | None = None


@dataclass
class Api:
    client: httpx.AsyncClient
    ds: DataSet
    dsn: str
    store: str

    async def get(self, path: str, **params: Any) -> Any:
        r = await self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    async def bad(self, path: str, **params: Any) -> dict[str, str]:
        r = await self.client.get(path, params=params)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"] == "bad_request"
        assert all(f"{k}: {v}" in body["message"] for k, v in body["errors"].items())
        return dict(body["errors"])


@pytest.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    store = f"api_{uuid.uuid4().hex[:10]}"
    ds = await install(infra.dsn, store)
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=2)
    app = Starlette(routes=api_routes(FakeService(pool, FakeConsumer()), guard=guard()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://waste",
                                 headers=bearer(ANALYST)) as c:
        yield Api(c, ds, infra.dsn, store)
    await pool.close()


@pytest.fixture(autouse=True)
async def views_on_this_store(api: Api) -> None:
    await point_views_at(api.dsn, api.store)


def ids(api: Api, *names: str) -> list[str]:
    return [str(api.ds.ids[n]) for n in names]


async def test_interactions_of_a_day_in_started_order_with_contract_types(api: Api) -> None:
    body = await api.get("/api/v1/interactions", **DAY)
    assert body["view"] == "interactions" and body["count"] == 6 and body["more"] is False
    assert [r["interaction_id"] for r in body["rows"]] == ids(api, "J1", "J2", "J3", "J5", "J6", "J9")
    assert body["filters"]["from"] == "2026-06-15T00:00:00.000Z"
    assert body["filters"]["to"] == "2026-06-16T00:00:00.000Z"
    j1, j2, _, j5, j6, j9 = body["rows"]
    assert j1["started_at"] == "2026-06-15T09:00:00.000Z" and j1["ended_at"] == "2026-06-15T09:10:00.000Z"
    assert j1["queue_wait_s"] == 1500.0 and j1["lead_time_s"] == 600.0
    assert j2["transfers"] == 2 and isinstance(j2["transfers"], int)
    assert j5["repeat_of"] == str(api.ds.ids["J1"]) and j9["repeat_of"] == str(api.ds.ids["J3"])
    assert [r["first_contact_resolution"] for r in body["rows"]] == [False, False, False, True, False, True]
    assert j6["status"] == "unresolved" and j6["resolved_by"] is None


async def test_interaction_filters_combine_and_accept_lists(api: Api) -> None:
    chat = await api.get("/api/v1/interactions", channel="chat", **DAY)
    assert [r["interaction_id"] for r in chat["rows"]] == ids(api, "J3", "J9")
    assert chat["filters"]["channel"] == ["chat"]
    both = await api.client.get("/api/v1/interactions", params=[
        ("from", "2026-06-15T10:00:00Z"), ("to", "2026-06-15T13:00:00+00:00"),
        ("channel", "phone"), ("channel", "chat")])
    assert [r["interaction_id"] for r in both.json()["rows"]] == ids(api, "J2", "J3", "J5")
    unresolved = await api.get("/api/v1/interactions", status="unresolved,abandoned", **DAY)
    assert [r["interaction_id"] for r in unresolved["rows"]] == ids(api, "J6")
    a = await api.get("/api/v1/interactions", customer_id=str(uid("customer-A")))
    assert [r["interaction_id"] for r in a["rows"]] == ids(api, "J1", "J5")
    # a timestamp with an offset is the same instant in UTC
    at_ten = await api.get("/api/v1/interactions",
                           **{"from": "2026-06-15T12:00:00+02:00", "to": "2026-06-15T10:00:01Z"})
    assert [r["interaction_id"] for r in at_ten["rows"]] == ids(api, "J2")
    open_now = await api.get("/api/v1/interactions", status="open")
    assert {r["interaction_id"] for r in open_now["rows"]} == set(ids(api, "O1", "O2", "O3", "O4"))
    assert all(r["ended_at"] is None and r["lead_time_s"] is None for r in open_now["rows"])


async def test_pages_are_stable_and_complete(api: Api) -> None:
    first = await api.get("/api/v1/interactions", limit=4, **DAY)
    assert first["count"] == 4 and first["more"] is True and first["next_offset"] == 4
    rest = await api.get("/api/v1/interactions", limit=4, offset=4, **DAY)
    assert rest["count"] == 2 and rest["more"] is False and rest["next_offset"] is None
    assert [r["interaction_id"] for r in first["rows"] + rest["rows"]] == ids(
        api, "J1", "J2", "J3", "J5", "J6", "J9")
    desc = await api.get("/api/v1/interactions", order="desc", limit=2, **DAY)
    assert [r["interaction_id"] for r in desc["rows"]] == ids(api, "J9", "J6")


async def test_waste_ledger_includes_derived_rows_and_filters_by_team_and_type(api: Api) -> None:
    defects = await api.get("/api/v1/waste_ledger", waste_type="defects", **DAY)
    got = [(r["subtype"], r["occurred_at"], r["interaction_id"]) for r in defects["rows"]]
    assert got == [
        ("not_first_agent", "2026-06-15T10:20:00.000Z", str(api.ds.ids["J2"])),
        ("repeat_contact", "2026-06-15T12:00:00.000Z", str(api.ds.ids["J1"])),
        ("unresolved", "2026-06-15T13:10:00.000Z", str(api.ds.ids["J6"])),
        ("repeat_contact", "2026-06-15T16:00:00.000Z", str(api.ds.ids["J3"])),
    ]
    assert all(r["quantity"] == 1 and r["unit"] == "count" for r in defects["rows"])
    # the sales hour had no idle time beyond the target: no occurrence, no ledger row
    # (issue 14); capacity_hourly keeps the hour
    sales = await api.get("/api/v1/waste_ledger", team="sales")
    assert sales["rows"] == []
    care = await api.get("/api/v1/waste_ledger", team="care", waste_type="overproduction", **DAY)
    assert [r["quantity"] for r in care["rows"]] == [pytest.approx(1260.0), pytest.approx(1260.0)]
    email = await api.get("/api/v1/waste_ledger", channel="email", reason="complaint")
    assert [(r["waste_type"], r["occurred_at"]) for r in email["rows"]] == [
        ("waiting", "2026-06-07T08:00:00.000Z"), ("inventory", "2026-06-15T09:00:00.000Z")]


async def test_hourly_capacity_daily_and_backlog_views(api: Api) -> None:
    hourly = await api.get("/api/v1/hourly_metrics", channel="phone", **DAY)
    assert [(r["bucket_start"][11:16], r["contacts"], r["failure_demand"], r["transfers"])
            for r in hourly["rows"]] == [("09:00", 1, 0, 0), ("10:00", 1, 0, 2), ("12:00", 1, 1, 0),
                                          ("13:00", 1, 0, 0)]
    cap = await api.get("/api/v1/capacity_hourly", team="care", **DAY)
    assert [(r["bucket_start"], r["staffed_s"], r["busy_s"], r["occupancy"]) for r in cap["rows"]] == [
        ("2026-06-15T09:00:00.000Z", 3600.0, 1800.0, 0.5), ("2026-06-15T10:00:00.000Z", 3600.0, 1800.0, 0.5)]
    # an hourly bucket counts from its start: 10:30 leaves 10:00 out
    later = await api.get("/api/v1/capacity_hourly", **{"from": "2026-06-15T09:30:00Z", "to": "2026-06-16"})
    assert [(r["bucket_start"][11:16], r["team"]) for r in later["rows"]] == [
        ("10:00", "care"), ("11:00", "sales")]

    vsd = await api.get("/api/v1/value_stream_daily", **DAY)
    rows = {(r["channel"], r["reason"]): r for r in vsd["rows"]}
    assert list(rows) == [("chat", "order_status"), ("email", "complaint"), ("phone", "billing")]
    phone = rows[("phone", "billing")]
    assert phone["day"] == "2026-06-15" and phone["contacts"] == 4 and isinstance(phone["contacts"], int)
    assert phone["fcr_rate"] == 0.25 and phone["failure_demand_rate"] == 0.25
    assert phone["flow_efficiency"] == pytest.approx(900 / 3000)
    assert (phone["waiting_s"], phone["over_processing"], phone["transportation"], phone["defects"]) == (
        1500.0, 1, 2, 3)
    assert rows[("email", "complaint")]["contacts"] == 0 and rows[("email", "complaint")]["inventory"] == 1
    # a day counts from its 00:00 UTC: from = the 15th at noon starts with the 16th
    vsd2 = await api.get("/api/v1/value_stream_daily", **{"from": "2026-06-15T12:00:00Z", "to": "2026-06-17"})
    assert {r["day"] for r in vsd2["rows"]} == {"2026-06-16"}

    wd = await api.get("/api/v1/waste_daily", waste_type="waiting,overproduction", **DAY)
    assert [(r["waste_type"], r["occurrences"], r["quantity"], r["unit"]) for r in wd["rows"]] == [
        ("overproduction", 2, pytest.approx(2520.0), "seconds"), ("waiting", 1, 1500.0, "seconds")]

    backlog = await api.get("/api/v1/backlog")
    assert [(r["channel"], r["age_band"], r["open_interactions"]) for r in backlog["rows"]] == [
        ("chat", ">24h", 1), ("email", "1-24h", 1), ("email", ">24h", 1), ("phone", "<1h", 1)]
    aged = await api.get("/api/v1/backlog", age_band=">24h", channel="email")
    assert [(r["channel"], r["open_interactions"]) for r in aged["rows"]] == [("email", 1)]


async def test_feedback_and_customers(api: Api) -> None:
    fb = await api.get("/api/v1/feedback_daily", **DAY)
    assert [(r["source"], r["routed_team"], r["feedback_count"], r["avg_sentiment"], r["negative_share"],
             r["ideas"], r["idea_votes"]) for r in fb["rows"]] == [
        ("idea", "product", 1, pytest.approx(0.2), 0.0, 1, 1),
        ("survey", "service", 2, pytest.approx(0.0), 0.5, 0, 0)]
    assert isinstance(fb["rows"][0]["idea_votes"], int)
    marketing = await api.get("/api/v1/feedback_daily", team="marketing")
    assert [(r["day"], r["source"]) for r in marketing["rows"]] == [("2026-06-14", "tweet")]
    forgotten = await api.get("/api/v1/customers", forgotten="true")
    assert forgotten["rows"] == [{"customer_id": str(uid("customer-B")), "segment": "SMB", "name": None,
                                  "email": None, "forgotten": True, "personal_data": "erased"}]
    retail = await api.get("/api/v1/customers", segment="retail")
    assert [r["name"] for r in retail["rows"]] == ["Ada"]


async def test_bad_filters_are_400_errors_naming_the_parameter(api: Api) -> None:
    e = await api.bad("/api/v1/interactions", **{"from": "yesterday"})
    assert e == {"from": "not an RFC 3339 timestamp or date (e.g. 2026-11-30 or 2026-11-30T09:00:00Z)"}
    assert "no such date" in (await api.bad("/api/v1/interactions", to="2026-02-30"))["to"]
    assert "from" in await api.bad("/api/v1/interactions", **{"from": "2026-06-15T09:00:00"})  # no offset
    assert (await api.bad("/api/v1/interactions", channel="fax"))["channel"] == (
        "unknown channel 'fax' (one of phone, chat, email, sms, social, web_self_service, community, bot)")
    assert "lowercase slug" in (await api.bad("/api/v1/interactions", reason="Billing!"))["reason"]
    assert (await api.bad("/api/v1/hourly_metrics", team="care"))["team"].startswith(
        "not a parameter of hourly_metrics (allowed: from, to, channel, reason, limit")
    rework = await api.bad("/api/v1/waste_ledger", waste_type="rework")
    assert "unknown waste type 'rework'" in rework["waste_type"]
    assert "unknown routing team 'care'" in (await api.bad("/api/v1/feedback_daily", team="care"))["team"]
    assert "not a UUID" in (await api.bad("/api/v1/interactions", customer_id="42"))["customer_id"]
    for limit in ("0", "10001", "ten"):
        assert (await api.bad("/api/v1/waste_daily", limit=limit))["limit"] == (
            "must be an integer from 1 to 10,000")
    assert (await api.bad("/api/v1/waste_daily", offset="-1"))["offset"] == (
        "must be an integer from 0 to 1,000,000 (paging is bounded: narrow the filters, e.g. from and to, "
        "to reach later rows)")
    assert (await api.bad("/api/v1/waste_daily", order="up"))["order"] == "must be asc or desc"
    assert (await api.bad("/api/v1/waste_daily", **{"from": "2026-06-15", "to": "2026-06-15"}))["to"] == (
        "must be later than from (2026-06-15T00:00:00.000Z)")
    r = await api.client.get("/api/v1/waste_daily", params=[("from", "2026-06-01"), ("from", "2026-06-02")])
    assert r.status_code == 400 and r.json()["errors"] == {"from": "given more than once"}
    both = await api.bad("/api/v1/hourly_metrics", channel="fax", to="soon")
    assert set(both) == {"channel", "to"}
    assert "from" in await api.bad("/api/v1/backlog", **{"from": "2026-06-15"})  # backlog is "now"


async def test_summary_of_the_day(api: Api) -> None:
    s = await api.get("/api/v1/summary", **DAY)
    assert s["filters"] == {"from": "2026-06-15T00:00:00.000Z", "to": "2026-06-16T00:00:00.000Z",
                            "channel": None, "reason": None, "team": None}
    assert s["cost_seconds"] == DEFAULT_COST_SECONDS and s["target_occupancy"] == 0.85
    h = s["headline"]
    assert h["contacts"] == 6 and h["abandonment_rate"] == 0
    # fractions are rounded to 4 decimals, seconds to 0.1 s (contract section 6a)
    assert h["fcr_rate"] == 0.3333 and h["failure_demand_rate"] == 0.3333
    assert h["flow_efficiency"] == 0.3333
    assert h["occupancy"] == 0.6667 and h["overproduction_s"] == pytest.approx(2520)
    assert h["open_interactions"] == 4
    p = s["pareto"]
    assert p["rank_by"] == "cost_s" and p["total_cost_s"] == pytest.approx(6210)
    assert [(r["waste_type"], r["occurrences"], r["quantity"], r["cost_s"]) for r in p["rows"]] == [
        ("overproduction", 2, pytest.approx(2520), pytest.approx(2520)),
        ("waiting", 1, 1500.0, 1500.0), ("defects", 4, 4.0, 1200.0), ("inventory", 1, 1.0, 600.0),
        ("transportation", 2, 2.0, 360.0), ("over_processing", 1, 1.0, 30.0), ("motion", 0, 0.0, 0.0)]
    assert [r["cumulative_share"] for r in p["rows"]] == [round(x, 4) for x in (
        2520 / 6210, 4020 / 6210, 5220 / 6210, 5820 / 6210, 6180 / 6210, 1.0, 1.0)]
    assert p["rows"][0]["words"].startswith("too many agents")
    assert [(d["day"], d["contacts"], d["fcr"], d["failure_demand"]) for d in s["daily"]] == [
        ("2026-06-15", 6, 2, 2)]
    assert s["capacity"]["teams"] == ["care", "sales"]
    assert [(r["bucket_start"][11:16], r["team"], r["occupancy"]) for r in s["capacity"]["rows"]] == [
        ("09:00", "care", 0.5), ("10:00", "care", 0.5), ("11:00", "sales", 1.0)]
    assert s["backlog"]["by_band"] == {"<1h": 1, "1-24h": 1, ">24h": 2}
    assert [(r["source"], r["team"], r["feedback_count"], r["avg_sentiment"], r["idea_votes"])
            for r in s["sentiment"]["rows"]] == [("idea", "product", 1, pytest.approx(0.2), 1),
                                                 ("survey", "service", 2, pytest.approx(0.0), 0)]


async def test_summary_over_the_baseline_week_and_with_filters(api: Api) -> None:
    week = await api.get("/api/v1/summary", **{"from": "2026-06-08", "to": "2026-06-15"})
    assert [d["day"] for d in week["daily"]] == [f"2026-06-{d:02d}" for d in range(8, 15)]
    assert {(d["contacts"], d["fcr_rate"], d["failure_demand_rate"], d["abandonment_rate"],
             d["flow_efficiency"]) for d in week["daily"]} == {(4, 0.25, 0.25, 0.25, 0.375)}
    costs = {r["waste_type"]: r["quantity"] for r in week["pareto"]["rows"]}
    assert costs["waiting"] == 2800.0 and costs["defects"] == 21 and costs["transportation"] == 0
    assert costs["overproduction"] == pytest.approx(7 * 1260)
    # a day without contacts is in the series, with no rates
    gap = await api.get("/api/v1/summary", **{"from": "2026-06-14", "to": "2026-06-17T12:00:00Z"})
    assert [(d["day"], d["contacts"], d["fcr_rate"]) for d in gap["daily"]] == [
        ("2026-06-14", 4, 0.25), ("2026-06-15", 6, 0.3333), ("2026-06-16", 1, 1.0),
        ("2026-06-17", 0, None)]

    chat = await api.get("/api/v1/summary", channel="chat", **DAY)
    assert chat["headline"]["contacts"] == 2 and chat["headline"]["fcr_rate"] == 0.5
    assert {r["waste_type"]: r["cost_s"] for r in chat["pareto"]["rows"] if r["cost_s"]} == {"defects": 300.0}
    assert chat["backlog"]["by_band"] == {"<1h": 0, "1-24h": 0, ">24h": 1}
    assert chat["capacity"]["teams"] == ["care", "sales"]  # capacity is per team, not channel
    sales = await api.get("/api/v1/summary", team="sales", **DAY)
    assert sales["capacity"]["teams"] == ["sales"] and sales["headline"]["occupancy"] == 1.0
    # every interaction of the day was last with an agent of care: none counts under sales
    assert sales["pareto"]["total_cost_s"] == 0 and sales["headline"]["contacts"] == 0


async def test_summary_defaults_and_errors(api: Api) -> None:
    s = await api.get("/api/v1/summary")
    start, end = s["filters"]["from"], s["filters"]["to"]
    assert start.endswith("T00:00:00.000Z") and end.endswith("T00:00:00.000Z")
    assert len(s["daily"]) == 7 and s["daily"][-1]["day"] == s["generated_at"][:10]
    only_from = await api.get("/api/v1/summary", **{"from": "2026-06-08"})
    assert only_from["filters"]["to"] == "2026-06-15T00:00:00.000Z"
    assert (await api.bad("/api/v1/summary", **{"from": "2026-01-01", "to": "2026-06-01"}))["to"] == (
        "the range may cover at most 92 days")
    errors = await api.bad("/api/v1/summary", waste_type="defects", channel="fax")
    assert set(errors) == {"waste_type", "channel"}


async def test_lag_openapi_and_the_dashboard_page(api: Api) -> None:
    lag = await api.get("/api/v1/lag")
    assert lag == {"partitions": {"crm.customers.events.v1/0": 0, "crm.interactions.events.v1/0": 5,
                                  "crm.interactions.events.v1/1": 3}, "total": 8, "consumer": True}
    doc = await api.get("/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.") and set(VIEWS) <= {p.rsplit("/", 1)[1] for p in doc["paths"]}
    assert {"/api/v1/summary", "/api/v1/lag"} <= set(doc["paths"])
    for path in ("/", "/dashboard"):
        page = await api.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<base href="/">' in page.text
        for name in ("pareto", "flow_efficiency", "fcr_failure_demand", "occupancy", "overproduction",
                     "backlog", "sentiment"):
            assert f'data-chart="{name}"' in page.text
    js = await api.client.get("/dashboard/static/dashboard.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "cdn" not in js.text.lower() and "http://" not in js.text.replace("http://www.w3.org", "")
    css = await api.client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_unconnected_service_answers_503_and_no_consumer_means_no_lag() -> None:
    app = Starlette(routes=api_routes(FakeService(None, None), guard=guard()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w",
                                 headers=bearer(ANALYST)) as c:
        r = await c.get("/api/v1/summary")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        assert (await c.get("/api/v1/lag")).json() == {"partitions": {}, "total": 0, "consumer": False}


def test_the_service_serves_the_api_beside_health_and_metrics() -> None:
    service = WasteService(WasteSettings(target_occupancy=0.8))
    paths = {getattr(r, "path", None) for r in service.routes()}
    assert {"/health", "/ready", "/metrics", "/api/v1/summary", "/api/v1/lag", "/dashboard", "/"} <= paths
    assert {f"/api/v1/{v}" for v in VIEWS} <= paths


async def test_every_filter_cuts_every_figure_it_can_and_says_which_it_cannot(api: Api) -> None:
    care = await api.get("/api/v1/summary", team="care", **DAY)
    assert care["headline"]["contacts"] == 6 and [d["contacts"] for d in care["daily"]] == [6]
    assert care["capacity"]["teams"] == ["care"] and care["headline"]["overproduction_s"] == 2520
    assert care["backlog"]["by_band"] == {"<1h": 1, "1-24h": 1, ">24h": 2}  # open ones are care's too
    assert care["not_applied"] == {"backlog": {"from": "not by period: the backlog is what is open now"},
                                   "sentiment": {"team": "not by agent team: feedback is routed to "
                                                         "product, marketing, sales or service"}}
    sales = await api.get("/api/v1/summary", team="sales", **DAY)
    assert sales["backlog"]["by_band"] == {"<1h": 0, "1-24h": 0, ">24h": 0}
    assert sales["sentiment"] == care["sentiment"]  # said so in not_applied

    # channel: overproduction is per team-hour, so the Pareto says so instead of "0 s"
    chat = await api.get("/api/v1/summary", channel="chat", **DAY)
    over = next(r for r in chat["pareto"]["rows"] if r["waste_type"] == "overproduction")
    assert over["cost_s"] is None and over["quantity"] is None and over["share"] is None
    assert over["not_applicable"] == "not by channel: overproduction is counted per team-hour"
    assert chat["pareto"]["rows"][-1] is over and chat["pareto"]["total_cost_s"] == 300
    assert chat["headline"]["overproduction_s"] == 2520
    assert chat["not_applied"]["capacity"] == {
        "channel": "not by channel: staffing, occupancy and overproduction are counted per team-hour"}
    assert chat["not_applied"]["pareto"] == {
        "overproduction.channel": "not by channel: overproduction is counted per team-hour"}

    # reason cuts the flow, the Pareto and the backlog
    billing = await api.get("/api/v1/summary", reason="billing", **DAY)
    assert billing["filters"]["reason"] == ["billing"]
    assert billing["headline"]["contacts"] == 4 and billing["headline"]["fcr_rate"] == 0.25
    assert billing["backlog"]["by_band"] == {"<1h": 1, "1-24h": 1, ">24h": 2}
    complaint = await api.get("/api/v1/summary", reason="complaint", **DAY)
    assert complaint["headline"]["contacts"] == 0 and complaint["headline"]["open_interactions"] == 0
    assert {r["waste_type"]: r["quantity"] for r in complaint["pareto"]["rows"]
            if r["quantity"]} == {"inventory": 1}
    assert set(complaint["not_applied"]["capacity"]) == {"reason"}
    both = await api.get("/api/v1/summary", reason="billing", channel="email", team="care", **DAY)
    assert both["backlog"]["by_band"] == {"<1h": 0, "1-24h": 1, ">24h": 1}
    assert {r["channel"] for r in both["backlog"]["rows"]} == {"email"}
    assert care["known"] == {"channel": ["phone", "chat", "email", "sms", "social", "web_self_service",
                                         "community", "bot"],
                             "reason": ["billing", "complaint", "order_status"], "team": ["care", "sales"]}


async def test_unknown_reasons_and_teams_are_400_naming_the_known_ones(api: Api) -> None:
    e = await api.bad("/api/v1/summary", team="nonexistent_team", **DAY)
    assert e == {"team": "unknown team 'nonexistent_team' (known: care, sales)"}
    e = await api.bad("/api/v1/summary", reason="billing,refunds", team="care")
    assert e == {"reason": "unknown reason 'refunds' (known: billing, complaint, order_status)"}
    e = await api.bad("/api/v1/waste_ledger", team="digital", reason="nope")
    assert set(e) == {"team", "reason"} and e["team"].endswith("(known: care, sales)")
    assert (await api.bad("/api/v1/customers", segment="enterprise"))["segment"] == (
        "unknown segment 'enterprise' (known: SMB, retail)")
    # the interactions are cut by the last assigned agent's team
    care = await api.get("/api/v1/interactions", team="care", **DAY)
    assert care["count"] == 6 and {r["team"] for r in care["rows"]} == {"care"}
    assert (await api.get("/api/v1/interactions", team="sales", **DAY))["count"] == 0


async def test_the_breakdown_of_a_waste_by_channel_reason_and_team(api: Api) -> None:
    defects = await api.get("/api/v1/breakdown", by="channel", waste="defects", **DAY)
    assert defects["by"] == "channel" and defects["filters"]["waste"] == ["defects"]
    assert [(r["channel"], r["occurrences"], r["cost_s"], r["share"]) for r in defects["rows"]] == [
        ("phone", 3, 900.0, 0.75), ("chat", 1, 300.0, 0.25)]
    assert defects["wastes"] == [{"waste_type": "defects", "unit": "count", "cost_per_unit_s": 300.0,
                                  "occurrences": 4, "quantity": 4.0, "cost_s": 1200.0,
                                  "not_applicable": None}]
    every = await api.get("/api/v1/breakdown", by="channel", **DAY)
    assert [w["waste_type"] for w in every["wastes"]] == ["overproduction", "transportation", "inventory",
                                                          "motion", "defects", "over_processing", "waiting"]
    over = every["wastes"][0]
    assert over["not_applicable"] == "not by channel: overproduction is counted per team-hour"
    assert over["cost_s"] is None and not any(r["waste_type"] == "overproduction" for r in every["rows"])
    assert {(r["waste_type"], r["channel"]) for r in every["rows"]} == {
        ("waiting", "phone"), ("over_processing", "phone"), ("transportation", "phone"),
        ("defects", "phone"), ("defects", "chat"), ("inventory", "email")}
    team = await api.get("/api/v1/breakdown", by="team", waste="overproduction,waiting", **DAY)
    assert [(r["waste_type"], r["team"], r["quantity"], r["share"]) for r in team["rows"]] == [
        ("overproduction", "care", 2520.0, 1.0), ("waiting", "care", 1500.0, 1.0)]
    reason = await api.get("/api/v1/breakdown", by="reason", channel="chat", **DAY)
    assert [(r["waste_type"], r["reason"]) for r in reason["rows"]] == [("defects", "order_status")]
    assert reason["wastes"][0]["not_applicable"] == (
        "not by channel: overproduction is counted per team-hour; "
        "not by reason: overproduction is counted per team-hour")
    errors = await api.bad("/api/v1/breakdown", waste="rework", team="nobody")
    assert errors["by"].startswith(
        "required: what to break the wastes down by (one of channel, reason, team)")
    assert "unknown waste type 'rework'" in errors["waste"]
    assert (await api.bad("/api/v1/breakdown", by="customer"))["by"] == (
        "cannot break down by 'customer' (one of channel, reason, team)")
    assert (await api.bad("/api/v1/breakdown", by="team", team="nobody"))["team"] == (
        "unknown team 'nobody' (known: care, sales)")


async def test_a_named_period_instead_of_from_and_to(api: Api) -> None:
    today = await api.get("/api/v1/summary", period="today")
    assert len(today["daily"]) == 1 and today["daily"][0]["day"] == today["generated_at"][:10]
    week = await api.get("/api/v1/summary", period="last_7_days")
    assert len(week["daily"]) == 7 and week["daily"][-1]["day"] == today["daily"][0]["day"]
    yesterday = await api.get("/api/v1/breakdown", by="team", period="yesterday")
    assert yesterday["filters"]["to"] == today["filters"]["from"]
    errors = await api.bad("/api/v1/summary", period="yesterday", to="2026-06-16")
    assert errors == {"period": "give either period or from/to, not both"}
    assert (await api.bad("/api/v1/summary", period="last_week"))["period"].startswith(
        "unknown period 'last_week' (one of today, yesterday, last_7_days")


async def test_every_view_and_the_breakdown_answer_csv_with_a_header_row(api: Api) -> None:
    import csv
    import io

    for name, view in VIEWS.items():
        r = await api.client.get(f"/api/v1/{name}", params={"format": "csv", "limit": "3"})
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == list(view.columns), name
        json_rows = (await api.get(f"/api/v1/{name}", limit="3"))["rows"]
        assert len(rows) - 1 == len(json_rows) and r.headers["x-more"] in ("true", "false"), name
    # the same values as the JSON, rounded; empty for null; Accept: text/csv does the same
    r = await api.client.get("/api/v1/interactions", params={**DAY, "limit": "2"},
                             headers={"Accept": "text/csv"})
    header, j1, _ = list(csv.reader(io.StringIO(r.text)))
    row = dict(zip(header, j1, strict=True))
    assert row["started_at"] == "2026-06-15T09:00:00.000Z" and row["queue_wait_s"] == "1500.0"
    assert row["first_contact_resolution"] == "false" and row["repeat_of"] == "" and row["team"] == "care"
    assert r.headers["x-more"] == "true" and r.headers["x-next-offset"] == "2"
    vsd = await api.client.get("/api/v1/value_stream_daily", params={**DAY, "format": "csv"})
    assert vsd.text.splitlines()[0].startswith("day,channel,reason,contacts,fcr_rate")
    assert not re.search(r"\.[0-9]{5,}", vsd.text), vsd.text  # no float noise
    b = await api.client.get("/api/v1/breakdown", params={**DAY, "by": "channel", "waste": "defects",
                                                          "format": "csv"})
    assert b.text.splitlines() == ["waste_type,channel,occurrences,quantity,unit,cost_s,share",
                                   "defects,phone,3,3.0,count,900.0,0.75",
                                   "defects,chat,1,1.0,count,300.0,0.25"]
    assert (await api.bad("/api/v1/backlog", format="xlsx"))["format"] == (
        "unknown format 'xlsx' (one of json, csv)")
    assert "format" in await api.bad("/api/v1/summary", format="csv")  # nested: JSON only


async def test_seconds_and_fractions_come_rounded(api: Api) -> None:
    from leancrm_waste.read.shaping import rounded

    assert rounded({"lead_time_s": 1297705.5299500003, "fcr_rate": 0.33333333, "share": 2 / 3,
                    "occurrences": 3, "rows": [{"quantity": 0.30000000000000004, "avg_sentiment": -1 / 3}],
                    "label": "x"}) == {
        "lead_time_s": 1297705.5, "fcr_rate": 0.3333, "share": 0.6667, "occurrences": 3,
        "rows": [{"quantity": 0.3, "avg_sentiment": -0.3333}], "label": "x"}
    # an open interaction's age in seconds is whatever the clock says: still 0.1 s
    conn = await asyncpg.connect(api.dsn)
    try:
        await conn.execute(f"UPDATE {api.store}.interactions SET queue_wait_s = 1297705.5299500003 "
                           "WHERE interaction_id = $1", api.ds.ids["J3"])
        body = await api.get("/api/v1/interactions", **DAY)
        assert [r["queue_wait_s"] for r in body["rows"] if r["interaction_id"] == str(api.ds.ids["J3"])] == [
            1297705.5]
    finally:
        await conn.execute(f"UPDATE {api.store}.interactions SET queue_wait_s = 0 WHERE interaction_id = $1",
                           api.ds.ids["J3"])
        await conn.close()


async def test_the_index_lists_every_endpoint_and_openapi_describes_each_answer(api: Api) -> None:
    index = await api.get("/api/v1")
    assert index["endpoints"] == {**{v: f"/api/v1/{v}" for v in VIEWS}, "summary": "/api/v1/summary",
                                  "breakdown": "/api/v1/breakdown", "signals": "/api/v1/signals",
                                  "improvement_effects": "/api/v1/improvements/effects",
                                  "demand": "/api/v1/demand", "lead_times": "/api/v1/lead-times",
                                  "lag": "/api/v1/lag",
                                  "openapi": "/api/v1/openapi.json", "dashboard": "/dashboard"}
    doc = await api.get("/api/v1/openapi.json")
    for url in index["endpoints"].values():
        if url.startswith("/api/"):
            op = doc["paths"][url]["get"]
            assert "schema" in op["responses"]["200"]["content"]["application/json"], url
    for name, view in VIEWS.items():
        op = doc["paths"][f"/api/v1/{name}"]["get"]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert list(schema["properties"]["rows"]["items"]["properties"]) == list(view.columns)
        assert "text/csv" in op["responses"]["200"]["content"]
        for p in op["parameters"]:
            if p["name"] in {f.param for f in view.filters} and p["schema"].get("type") == "array":
                assert p["style"] == "form" and p["explode"] is True
    summary = doc["paths"]["/api/v1/summary"]["get"]
    channel = next(p for p in summary["parameters"] if p["name"] == "channel")
    assert channel["schema"]["type"] == "array" and channel["schema"]["items"]["enum"][0] == "phone"
    assert (channel["style"], channel["explode"]) == ("form", True)
    rows = doc["paths"]["/api/v1/value_stream_daily"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["properties"]["rows"]["items"]["properties"]
    assert rows["fcr_rate"]["maximum"] == 1 and "fraction from 0 to 1" in rows["fcr_rate"]["description"]
    assert "seconds" in rows["avg_handle_s"]["description"]
    assert rows["contacts"]["type"] == ["integer", "null"]


async def test_a_team_that_appears_after_the_known_values_were_read_is_not_refused(api: Api) -> None:
    await api.get("/api/v1/summary", **DAY)  # the known teams are read (and kept a minute)
    assert "night" not in (await api.get("/api/v1/summary", **DAY))["known"]["team"]
    conn = await asyncpg.connect(api.dsn)
    hour = datetime(2026, 6, 15, 22, tzinfo=UTC)
    try:
        await conn.execute(f"INSERT INTO {api.store}.staffed_hourly VALUES ('agent-night', $1, "
                           "'night', 3600)", hour)
        night = await api.get("/api/v1/summary", team="night", **DAY)
        assert night["capacity"]["teams"] == ["night"] and "night" in night["known"]["team"]
        assert (await api.get("/api/v1/capacity_hourly", team="night"))["count"] == 1
    finally:
        await conn.execute(f"DELETE FROM {api.store}.staffed_hourly WHERE team = 'night'")
        await conn.close()
