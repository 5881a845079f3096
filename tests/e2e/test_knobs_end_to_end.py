"""The whole system, end to end: the simulator produces commands to the three command
topics, the command services decide and publish, the projector fills the views —
and two knobs move the figures in the expected direction (issue 5)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from leancrm_devstack.embedded import EmbeddedBroker
from leancrm_devstack.testing import Infra, wait_until
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings
from leancrm_simulator.run import drive
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@contextlib.asynccontextmanager
async def system(infra: Infra, bootstrap: str) -> AsyncIterator[str]:
    """The four services in this process on their own schemas; yields the waste schema."""
    from leancrm_customers.app import SPEC as CUSTOMERS
    from leancrm_feedback.app import SPEC as FEEDBACK
    from leancrm_interactions.app import SPEC as INTERACTIONS

    tag = uuid.uuid4().hex[:8]
    common: dict[str, Any] = {"kafka_bootstrap": bootstrap, "database_url": infra.dsn,
                              "http_port": 0, "partitions": 3, "relay_poll_interval_s": 0.2}
    services: list[CommandService | WasteService] = [
        CommandService(spec, ServiceSettings(db_schema=f"{spec.name[:4]}_{tag}",
                                             consumer_group=f"{spec.name}-{tag}", **common))
        for spec in (CUSTOMERS, INTERACTIONS, FEEDBACK)
    ]
    waste = WasteService(WasteSettings(db_schema=f"w_{tag}", consumer_group=f"waste-{tag}", **common))
    services.append(waste)
    try:
        for s in services:
            await (s.start(http=False) if isinstance(s, WasteService) else s.start())
        yield f"w_{tag}"
    finally:
        for s in reversed(services):
            await s.stop()


async def figures_after(infra: Infra, bootstrap: str, **knobs: Any) -> dict[str, float]:
    async with system(infra, bootstrap) as waste_schema:
        summary = await drive({"LEANCRM_KAFKA_BOOTSTRAP": bootstrap}, speed=0,
                              wait_for_results=True, result_timeout_s=60, customers=60, days=2,
                              **knobs)
        assert summary.results_by_status["accepted"] == sum(summary.commands_by_topic.values())
        interaction_starts = summary.commands_by_type["start_interaction"]
        conn = await asyncpg.connect(infra.dsn)
        try:
            async def projected() -> bool:
                store = await conn.fetchval(f"SELECT store FROM {waste_schema}.active_store")
                n = await conn.fetchval(f"SELECT count(*) FROM {store}.interactions")
                return bool(n >= interaction_starts)
            await wait_until(projected, 90, what="every interaction in the read model")
            # let the tail of the interactions (ends, sign-outs) land: wait for quiet
            last = -1
            async def settled() -> bool:
                nonlocal last
                store = await conn.fetchval(f"SELECT store FROM {waste_schema}.active_store")
                n = int(await conn.fetchval(f"SELECT count(*) FROM {store}.seen_events"))
                done, last = n == last, n
                return done
            await wait_until(settled, 60, interval_s=1.0, what="the projector to settle")
            rows = await conn.fetch("SELECT waste_type, sum(quantity) AS q FROM waste.waste_ledger "
                                    "GROUP BY waste_type")
            cap = await conn.fetchrow("SELECT sum(busy_s) / nullif(sum(staffed_s), 0) AS occupancy "
                                      "FROM waste.capacity_hourly")
        finally:
            await conn.close()
    out = {r["waste_type"]: float(r["q"]) for r in rows}
    out["occupancy"] = float(cap["occupancy"] or 0)
    return out


async def test_more_staff_and_more_reidentification_move_the_wastes(infra: Infra) -> None:
    results = []
    for knobs in ({"agents_per_team": 1, "staffing": 1.0, "reidentify": 0.1},
                  {"agents_per_team": 5, "staffing": 2.0, "reidentify": 0.9}):
        broker = EmbeddedBroker().start()  # each system on its own broker: topics start empty
        try:
            results.append(await figures_after(infra, broker.bootstrap, seed=3, **knobs))
        finally:
            broker.stop()
    lean, heavy = results
    # more staff: more overproduction (idle capacity) and lower occupancy
    assert heavy["overproduction"] > lean["overproduction"]
    assert heavy["occupancy"] < lean["occupancy"]
    # more re-identification by agents: more over-processing
    assert heavy["over_processing"] > lean["over_processing"]
