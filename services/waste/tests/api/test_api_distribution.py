"""Demand and the lead-time distribution over a period (contract section 6.2:
``/api/v1/demand``, ``/api/v1/lead-times``) over the hand-made read model of
``dataset.py``.

15 June (D), started: phone/billing J1, J2, J5 (repeats J1), J6; chat/order_status J3,
J9 (repeats J3). Ended on D, with lead times: billing J1 600, J2 1200, J5 600, J6 600;
order_status J3 600, J9 300; complaint K7 694,800 s (started 7 June 08:00, ended D
09:00). 8–14 June, each day: phone/billing I1, I2 (600 s each), chat/order_status I3,
I4 (600 s each; I4 repeats I3). Open now: O1–O4 (billing), started in the last 30 h.
"""

from __future__ import annotations

import pytest

from .test_api import DAY, Api, api, views_on_this_store  # noqa: F401  (the fixtures)

WEEK = {"from": "2026-06-08", "to": "2026-06-16"}


def counts(row: dict[str, object]) -> tuple[object, ...]:
    return (row["contacts"], row["value_demand"], row["failure_demand"], row["failure_demand_share"])


async def test_demand_of_a_day_per_channel_and_reason_per_reason_per_channel_and_total(api: Api) -> None:  # noqa: F811
    body = await api.get("/api/v1/demand", **DAY)
    assert (body["from"], body["to"]) == ("2026-06-15T00:00:00.000Z", "2026-06-16T00:00:00.000Z")
    assert [(r["channel"], r["reason"], *counts(r)) for r in body["rows"]] == [
        ("phone", "billing", 4, 3, 1, 0.25), ("chat", "order_status", 2, 1, 1, 0.5)]
    assert [(r["reason"], *counts(r)) for r in body["by_reason"]] == [
        ("billing", 4, 3, 1, 0.25), ("order_status", 2, 1, 1, 0.5)]
    assert [(r["channel"], *counts(r)) for r in body["by_channel"]] == [
        ("phone", 4, 3, 1, 0.25), ("chat", 2, 1, 1, 0.5)]
    assert counts(body["total"]) == (6, 4, 2, 0.3333)           # 2 / 6, to 4 decimals


async def test_demand_over_a_week_sums_its_days_and_follows_the_filters(api: Api) -> None:  # noqa: F811
    body = await api.get("/api/v1/demand", **WEEK)
    # 8 days: billing 7 × 2 + 4 = 18 (J5 a repeat); order_status 7 × 2 + 2 = 16 (I4 × 7, J9)
    assert [(r["reason"], *counts(r)) for r in body["by_reason"]] == [
        ("billing", 18, 17, 1, 0.0556), ("order_status", 16, 8, 8, 0.5)]
    assert counts(body["total"]) == (34, 25, 9, 0.2647)          # 9 / 34
    chat = await api.get("/api/v1/demand", channel="chat", **WEEK)
    assert [r["reason"] for r in chat["rows"]] == ["order_status"]
    assert counts(chat["total"]) == (16, 8, 8, 0.5)
    assert chat["filters"] == {"channel": ["chat"], "reason": None, "team": None}
    billing = await api.get("/api/v1/demand", reason="billing", team="care", **WEEK)
    assert counts(billing["total"]) == (18, 17, 1, 0.0556)
    sales = await api.get("/api/v1/demand", team="sales", **WEEK)   # a known team with no contacts
    assert sales["rows"] == [] and counts(sales["total"]) == (0, 0, 0, None)


async def test_lead_time_distribution_of_the_contacts_ended_on_a_day(api: Api) -> None:  # noqa: F811
    body = await api.get("/api/v1/lead-times", **DAY)
    assert body["buckets"] == ["<1h", "1-4h", "4-24h", "1-3d", ">3d"]
    by = {r["reason"]: r for r in body["by_reason"]}
    # ordered by p85, longest first
    assert [r["reason"] for r in body["by_reason"]] == ["complaint", "billing", "order_status"]
    billing = by["billing"]                                      # 600, 600, 600, 1200
    assert (billing["ended_interactions"], billing["p50_lead_time_s"], billing["p85_lead_time_s"],
            billing["p95_lead_time_s"]) == (4, 600.0, 930.0, 1110.0)   # h = 1.5, 2.55, 2.85
    assert billing["histogram"] == {"<1h": 4, "1-4h": 0, "4-24h": 0, "1-3d": 0, ">3d": 0}
    order = by["order_status"]                                   # 300, 600
    assert (order["p50_lead_time_s"], order["p85_lead_time_s"], order["p95_lead_time_s"]) == (
        450.0, 555.0, 585.0)                                     # h = 0.5, 0.85, 0.95
    complaint = by["complaint"]                                  # K7: started 8 days and 1 h before
    assert (complaint["ended_interactions"], complaint["p50_lead_time_s"]) == (1, 694800.0)
    assert complaint["histogram"][">3d"] == 1
    # overall: 300, 600, 600, 600, 600, 1200, 694800 (n = 7)
    o = body["overall"]
    assert o["ended_interactions"] == 7 and o["p50_lead_time_s"] == 600.0          # h = 3
    assert o["p85_lead_time_s"] == pytest.approx(70560.0)         # h = 5.1: 1200 + 0.1 · 693600
    assert o["p95_lead_time_s"] == pytest.approx(486720.0)        # h = 5.7: 1200 + 0.7 · 693600
    assert o["histogram"] == {"<1h": 6, "1-4h": 0, "4-24h": 0, "1-3d": 0, ">3d": 1}
    assert body["open"] == 0                                     # O1–O4 started after the period

    phone = await api.get("/api/v1/lead-times", channel="phone", **DAY)
    assert [r["reason"] for r in phone["by_reason"]] == ["billing"]
    assert phone["overall"]["p95_lead_time_s"] == 1110.0


async def test_lead_times_over_a_week_are_one_distribution_not_the_latest_day(api: Api) -> None:  # noqa: F811
    body = await api.get("/api/v1/lead-times", reason="billing", **WEEK)
    # 8 days: 17 × 600 s and J2's 1200 s; p95 at h = 16.15: 600 + 0.15 · 600
    (billing,) = body["by_reason"]
    assert (billing["ended_interactions"], billing["p50_lead_time_s"], billing["p85_lead_time_s"],
            billing["p95_lead_time_s"]) == (18, 600.0, 600.0, 690.0)
    # the default period (the last 7 days) has no ended contact of June, and O1–O4 still open
    now = await api.get("/api/v1/lead-times")
    assert now["overall"] == {"ended_interactions": 0, "p50_lead_time_s": None, "p85_lead_time_s": None,
                              "p95_lead_time_s": None,
                              "histogram": {"<1h": 0, "1-4h": 0, "4-24h": 0, "1-3d": 0, ">3d": 0}}
    assert now["by_reason"] == [] and now["open"] == 4


async def test_bad_input_is_a_400_naming_each_parameter_and_the_known_values(api: Api) -> None:  # noqa: F811
    for path in ("/api/v1/demand", "/api/v1/lead-times"):
        errors = await api.bad(path, channel="fax", colour="red", **DAY)
        assert "unknown channel 'fax'" in errors["channel"] and "phone" in errors["channel"]
        assert "not a parameter of the" in errors["colour"]
        errors = await api.bad(path, reason="nope", team="nobody", **DAY)
        assert errors["reason"] == "unknown reason 'nope' (known: billing, complaint, order_status)"
        assert errors["team"] == "unknown team 'nobody' (known: care, sales)"
        assert "to" in await api.bad(path, **{"from": "2026-06-16", "to": "2026-06-15"})
        too_long = await api.bad(path, **{"from": "2026-01-01", "to": "2026-06-15"})
        assert too_long == {"to": "the range may cover at most 92 days"}
        r = await api.client.get(path, params=DAY, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401


async def test_csv_and_the_period_words_as_the_other_endpoints(api: Api) -> None:  # noqa: F811
    r = await api.client.get("/api/v1/lead-times", params={**DAY, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines() == [
        "reason,ended_interactions,p50_lead_time_s,p85_lead_time_s,p95_lead_time_s,<1h,1-4h,4-24h,1-3d,>3d",
        ",7,600.0,70560.0,486720.0,6,0,0,0,1",
        "complaint,1,694800.0,694800.0,694800.0,0,0,0,0,1",
        "billing,4,600.0,930.0,1110.0,4,0,0,0,0",
        "order_status,2,450.0,555.0,585.0,2,0,0,0,0"]
    r = await api.client.get("/api/v1/demand", params=DAY, headers={"Accept": "text/csv"})
    assert r.text.splitlines() == [
        "channel,reason,contacts,value_demand,failure_demand,failure_demand_share",
        "phone,billing,4,3,1,0.25", "chat,order_status,2,1,1,0.5"]
    assert "format" in await api.bad("/api/v1/demand", format="xml", **DAY)
    body = await api.get("/api/v1/demand", period="last_7_days")   # the summary's periods, today included
    assert body["time_zone"] == "UTC" and counts(body["total"]) == (4, 4, 0, 0.0)  # O1–O4, open


async def test_the_openapi_document_and_the_index_describe_both(api: Api) -> None:  # noqa: F811
    doc = (await api.client.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/demand", "/api/v1/lead-times"):
        op = doc["paths"][path]["get"]
        assert op["security"] == [{"bearer": ["waste:read"]}]
        assert [p["name"] for p in op["parameters"]] == ["from", "to", "period", "channel", "reason", "team",
                                                         "format"]
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    index = (await api.client.get("/api/v1")).json()["endpoints"]
    assert (index["demand"], index["lead_times"]) == ("/api/v1/demand", "/api/v1/lead-times")
