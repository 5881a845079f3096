"""The views of issue 14 served by the API (generic view endpoints, contract section 6)
over the hand-made read model of ``dataset.py``: 15 June, phone/billing J1 (queue
1500 s), J2, J5, J6 (0 s); leads 600, 1200, 600, 600 s."""

from __future__ import annotations

import pytest

from .test_api import DAY, Api, api, views_on_this_store  # noqa: F401  (the fixtures)


async def test_service_level_demand_and_lead_times(api: Api) -> None:  # noqa: F811
    targets = await api.get("/api/v1/service_level_targets")
    assert [(r["channel"], r["threshold_s"]) for r in targets["rows"]] == [
        ("chat", 60.0), ("email", 86400.0), ("phone", 20.0), ("sms", 3600.0), ("social", 3600.0)]

    sl = await api.get("/api/v1/service_level_hourly", channel="phone", **DAY)
    assert [(r["bucket_start"][11:16], r["offered"], r["answered_within_threshold"], r["service_level"],
             r["avg_speed_of_answer_s"], r["p90_speed_of_answer_s"]) for r in sl["rows"]] == [
        ("09:00", 1, 0, 0.0, 1500.0, 1500.0), ("10:00", 1, 1, 1.0, 0.0, 0.0),
        ("12:00", 1, 1, 1.0, 0.0, 0.0), ("13:00", 1, 1, 1.0, 0.0, 0.0)]

    demand = await api.get("/api/v1/demand_daily", reason="billing", **DAY)
    assert [(r["channel"], r["contacts"], r["value_demand"], r["failure_demand"], r["failure_demand_share"])
            for r in demand["rows"]] == [("phone", 4, 3, 1, 0.25)]  # J5 repeats J1

    leads = await api.get("/api/v1/lead_time_daily", **DAY)
    rows = {r["reason"]: r for r in leads["rows"]}
    assert (rows["billing"]["ended_interactions"], rows["billing"]["p50_lead_time_s"]) == (4, 600.0)
    assert rows["billing"]["p85_lead_time_s"] == pytest.approx(930.0)   # h = 2.55: 600 + 0.55 · 600
    assert rows["billing"]["p95_lead_time_s"] == pytest.approx(1110.0)  # h = 2.85
    assert rows["complaint"]["ended_interactions"] == 1                 # K7, started a week before

    assert "channel" in await api.bad("/api/v1/lead_time_daily", channel="phone")  # per reason only
