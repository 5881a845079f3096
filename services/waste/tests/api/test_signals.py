"""GET /api/v1/signals: the XmR chart of each daily key rate, on the hand-made month of
../huddle/weeks.py (limits worked by hand there), behind the token scope waste:read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from leancrm_devstack.testing import Infra
from leancrm_waste.read.api import api_routes

from ..huddle.weeks import install, store_name
from .access import ANALYST, bearer, guard
from .dataset import point_views_at

pytestmark = pytest.mark.integration
JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


@dataclass
class FakeService:
    api_pool: asyncpg.Pool | None
    consumer: None = None


@dataclass
class Api:
    client: httpx.AsyncClient
    dsn: str
    store: str

    async def get(self, **params: Any) -> Any:
        r = await self.client.get("/api/v1/signals", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    async def bad(self, **params: Any) -> dict[str, str]:
        r = await self.client.get("/api/v1/signals", params=params)
        assert r.status_code == 400, r.text
        return dict(r.json()["errors"])


@pytest.fixture(scope="module")
async def api(infra: Infra) -> AsyncIterator[Api]:
    store = store_name()
    await install(infra.dsn, store)
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=2)
    app = Starlette(routes=api_routes(FakeService(pool), guard=guard()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://waste",
                                 headers=bearer(ANALYST)) as c:
        yield Api(c, infra.dsn, store)
    await pool.close()


@pytest.fixture(autouse=True)
async def views_on_this_store(api: Api) -> None:
    await point_views_at(api.dsn, api.store)


def by_rate(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["rate"]: c for c in body["charts"]}


async def test_every_rate_with_its_limits_points_and_signals(api: Api) -> None:
    body = await api.get(**JUNE)
    assert body["from"] == "2026-06-01" and body["to"] == "2026-06-30"
    charts = by_rate(body)
    assert list(charts) == ["fcr_rate", "failure_demand_rate", "flow_efficiency", "abandonment_rate",
                            "occupancy", "waiting_per_contact_s", "service_level"]
    fcr = charts["fcr_rate"]
    assert fcr["limits"]["centre"] == pytest.approx(0.85)
    assert fcr["limits"]["average_moving_range"] == pytest.approx(0.1)
    assert (fcr["limits"]["lower"], fcr["limits"]["upper"]) == (pytest.approx(0.584), 1.0)
    assert fcr["baseline"] == {"from": "2026-06-01", "to": "2026-06-20"}
    assert len(fcr["points"]) == 30
    points = {p["day"]: p for p in fcr["points"]}
    assert points["2026-06-29"] == {"day": "2026-06-29", "value": 0.5, "moving_range": pytest.approx(0.275),
                                    "contacts": 80, "open": 0, "in_baseline": False,
                                    "rules": ["outside_limits"], "signal": True}
    assert points["2026-06-28"]["value"] is None and points["2026-06-28"]["contacts"] == 10  # a gap
    assert points["2026-06-30"]["open"] == 10
    assert fcr["signals"] == ["2026-06-29"]
    assert charts["waiting_per_contact_s"]["unit"] == "seconds"
    assert charts["waiting_per_contact_s"]["limits"]["upper"] == pytest.approx(113.2)
    assert charts["occupancy"]["target"] == 0.85
    # service level: phone waits 50–70 s against its 20 s, so 0 until D's 20 emails (45 s of 24 h)
    sl = charts["service_level"]
    assert (sl["limits"]["lower"], sl["limits"]["upper"]) == (0, 0)
    assert {p["day"]: p["value"] for p in sl["points"]}["2026-06-29"] == 0.25
    assert "2026-06-29" in sl["signals"]
    d = body["definitions"]
    assert d["baseline"] == {"kind": "first days with a value", "points": 20}
    assert d["limits"].startswith("centre ± 2.66 × average moving range")
    assert set(d["rules"]) == {"outside_limits", "three_of_four", "eight_on_one_side"}


async def test_a_stated_baseline_filters_and_one_rate(api: Api) -> None:
    body = await api.get(rate="fcr_rate", baseline_from="2026-06-01", baseline_to="2026-06-07", **JUNE)
    (fcr,) = body["charts"]
    assert fcr["limits"]["centre"] == pytest.approx(6.0 / 7) and fcr["limits"]["baseline_points"] == 7
    assert body["definitions"]["baseline"] == {"kind": "stated", "from": "2026-06-01", "to": "2026-06-07"}
    sales = await api.get(rate="fcr_rate", team="sales", min_contacts="10", **JUNE)
    assert sales["charts"][0]["limits"] is None  # one day of sales: no limits
    assert [p["value"] for p in sales["charts"][0]["points"] if p["value"] is not None] == [1.0]
    email = by_rate(await api.get(channel="email", **JUNE))
    assert "not_applicable" in email["occupancy"] and email["fcr_rate"]["limits"] is None
    email10 = by_rate(await api.get(channel="email", min_contacts="10", rate="service_level", **JUNE))
    assert email10["service_level"]["points"][28]["value"] == 1.0  # 29 June: 20 of 20 in time
    care = by_rate(await api.get(team="care", **JUNE))
    assert care["service_level"]["not_applicable"] == "service level has no team (it is per channel)"


async def test_bad_parameters_are_named(api: Api) -> None:
    assert "unknown rate nps" in (await api.bad(rate="nps"))["rate"]
    assert "unknown channel fax" in (await api.bad(channel="fax"))["channel"]
    assert "unknown team nobody (known: care, sales)" in (await api.bad(team="nobody"))["team"]
    assert "go together" in (await api.bad(baseline_from="2026-06-01"))["baseline_to"]
    assert "must not be before from" in (await api.bad(**{"from": "2026-06-10", "to": "2026-06-01"}))["to"]
    assert "not a parameter of the signals" in (await api.bad(limit="5"))["limit"]
    assert "min_contacts" in await api.bad(min_contacts="0")


async def test_it_needs_a_token_with_waste_read(api: Api) -> None:
    r = await api.client.get("/api/v1/signals", headers={"Authorization": ""})
    assert r.status_code == 401


async def test_the_range_is_bounded(api: Api) -> None:
    assert "at most 731 days" in (await api.bad(**{"from": "1970-01-01", "to": "2199-12-31"}))["to"]
    assert "up to, not including" in (await api.bad(to="2200-01-01"))["to"]
    edge = await api.get(to="1970-01-01", rate="fcr_rate")
    assert edge["from"] == "1969-10-04" and edge["charts"][0]["limits"] is None


async def test_the_summary_says_when_its_period_is_not_finished(api: Api) -> None:
    """The month's last day: 10 emails queued since 12:00, no waiting counted yet."""
    from datetime import datetime

    from ..huddle.weeks import QUEUED_SINCE

    r = await api.client.get("/api/v1/summary", params={"from": "2026-06-30", "to": "2026-07-01"})
    assert r.status_code == 200, r.text
    u = r.json()["unfinished"]
    at = datetime.fromisoformat(u["at"].replace("Z", "+00:00"))
    assert (u["finished"], u["open"], u["waiting_now"]) == (False, 10, 10)
    assert u["by_channel"] == [{"channel": "email", "open": 10, "waiting_now": 10,
                                "waiting_so_far_s": pytest.approx(10 * (at - QUEUED_SINCE).total_seconds())}]
    done = await api.client.get("/api/v1/summary", params={"from": "2026-06-29", "to": "2026-06-30"})
    assert done.json()["unfinished"] == {**done.json()["unfinished"], "finished": True, "open": 0,
                                         "by_channel": []}
    phone = await api.client.get("/api/v1/summary", params={"from": "2026-06-30", "to": "2026-07-01",
                                                            "channel": "phone"})
    assert phone.json()["unfinished"]["finished"] is True


async def test_the_openapi_document_describes_it(api: Api) -> None:
    doc = (await api.client.get("/api/v1/openapi.json")).json()
    get = doc["paths"]["/api/v1/signals"]["get"]
    assert get["security"] == [{"bearer": ["waste:read"]}]
    assert [p["name"] for p in get["parameters"]] == ["rate", "from", "to", "baseline_from", "baseline_to",
                                                       "channel", "team", "min_contacts"]
