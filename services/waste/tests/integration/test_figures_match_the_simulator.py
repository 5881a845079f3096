"""Two independent readings of contract section 5 must agree: the projector's views
over the events, and the simulator's own figures computed from the commands it sent."""

from __future__ import annotations

import asyncpg
import pytest

from leancrm_devstack.testing import Infra
from leancrm_simulator.figures import measure
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.offline import offline_events
from leancrm_simulator.scenario import generate
from leancrm_waste.service import WasteService

from .conftest import produce, running, wait_applied, waste_settings

pytestmark = pytest.mark.integration


async def test_view_totals_equal_the_simulators_figures(infra: Infra, bootstrap: str) -> None:
    # with the improvements: they change how agents work, and are projected too
    commands = generate(Knobs(customers=80, days=4, agents_per_team=2, seed=7, improvements=True))
    events = list(offline_events(commands))
    expected = measure(commands)
    await produce(bootstrap, events)
    async with running(WasteService(waste_settings(infra, bootstrap, "w_sim"))):
        await wait_applied(infra.dsn, "w_sim", len(events))
        conn = await asyncpg.connect(infra.dsn)
        try:
            i = await conn.fetchrow("""
                SELECT count(*) AS contacts,
                       count(*) FILTER (WHERE status = 'resolved') AS resolved,
                       count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
                       count(*) FILTER (WHERE status = 'unresolved') AS unresolved,
                       count(*) FILTER (WHERE status = 'open') AS still_open,
                       count(*) FILTER (WHERE first_contact_resolution) AS fcr,
                       count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
                       sum(identifications) AS identifications,
                       sum(queue_wait_s) AS queue_wait_s, sum(hold_s) AS hold_s,
                       sum(handle_s) AS handle_s, sum(value_added_s) AS value_added_s,
                       coalesce(sum(lead_time_s), 0) AS lead_time_s
                FROM waste.interactions""")
            w = {r["waste_type"]: r for r in await conn.fetch(
                "SELECT waste_type, count(*) AS n, sum(quantity) AS q FROM waste.waste_ledger "
                "GROUP BY waste_type")}
            c = await conn.fetchrow("SELECT sum(staffed_s) AS staffed, sum(busy_s) AS busy, "
                                    "sum(overproduction_s) AS over, count(*) AS hours, "
                                    "count(*) FILTER (WHERE overproduction_s > 0) AS over_hours "
                                    "FROM waste.capacity_hourly")
            improvements = {r["status"]: r["n"] for r in await conn.fetch(
                "SELECT status, count(*) AS n FROM waste.improvements GROUP BY status")}
            anomalies = await conn.fetch("SELECT * FROM waste.data_quality")
        finally:
            await conn.close()
    assert i["contacts"] == expected.contacts
    assert sum(improvements.values()) == expected.improvements_started == 3
    assert improvements.get("adopted", 0) == expected.improvements_ended["adopted"] > 0
    # the simulator assigns agents only while signed in, under their team, and
    # registers every customer first: nothing spanning streams is out of place
    assert anomalies == []
    assert (i["resolved"], i["abandoned"], i["unresolved"], i["still_open"]) == (
        expected.resolved, expected.abandoned, expected.unresolved, expected.still_open)
    assert i["fcr"] == expected.first_contact_resolutions
    assert i["failure_demand"] == expected.failure_demand
    assert i["identifications"] == expected.identifications
    assert w["over_processing"]["n"] == expected.over_processing
    assert w.get("motion", {"n": 0})["n"] == expected.motion
    assert w.get("transportation", {"n": 0})["n"] == expected.transportation
    assert w["defects"]["n"] == expected.defects
    assert w.get("inventory", {"n": 0})["n"] == expected.inventory
    # overproduction: a ledger row per staffed hour and team with idle time beyond the
    # target, none for the others (issue 14: zero rows made waste_daily count hours
    # without waste); capacity_hourly keeps every hour
    assert c["hours"] > c["over_hours"] > 0
    assert w["overproduction"]["n"] == c["over_hours"]
    for got, want in ((i["queue_wait_s"], expected.queue_wait_s), (i["hold_s"], expected.hold_s),
                      (i["handle_s"], expected.handle_s), (i["value_added_s"], expected.value_added_s),
                      (i["lead_time_s"], expected.lead_time_s), (c["staffed"], expected.staffed_s),
                      (c["busy"], expected.busy_s), (c["over"], expected.overproduction_s)):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
