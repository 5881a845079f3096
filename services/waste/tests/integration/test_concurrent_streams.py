"""Two transactions holding events of the same interaction (the contract lets one
stream's events arrive in two partitions): the second waits for the first and then
sees its events, so neither overwrites the figures with half of the story."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from leancrm_devstack.testing import Infra, wait_until
from leancrm_servicekit.inbound import InboundRecord
from leancrm_waste.projection import stores
from leancrm_waste.projection.apply import WasteApplier
from leancrm_waste.projection.writes import WasteStore

pytestmark = pytest.mark.integration
TOPIC = "crm.interactions.events.v1"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def event(iid: str, cid: str, version: int, kind: str, minutes: int, **data: Any) -> bytes:
    at = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": f"interaction.{kind}", "schema_version": 1,
        "occurred_at": at, "recorded_at": at, "producer": "interactions", "stream_id": iid,
        "stream_version": version, "customer_id": cid, "correlation_id": None,
        "causation_id": f"c-{version}", "data": {"interaction_id": iid, **data}}).encode()


async def test_the_second_transaction_waits_and_recomputes_with_the_firsts_events(
    infra: Infra,
) -> None:
    store = f"race_{uuid.uuid4().hex[:8]}"
    iid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    first_half = [  # partition 0
        event(iid, cid, 1, "started", 0, customer_id=cid, channel="phone", reason="billing"),
        event(iid, cid, 2, "queued", 0, queue="general"),
    ]
    second_half = [  # partition 1
        event(iid, cid, 3, "agent_assigned", 2, agent_id="a-1", team="billing_team"),
        event(iid, cid, 4, "resolved", 9, resolved_by="agent", resolution="fixed"),
        event(iid, cid, 5, "ended", 10),
    ]
    applier = WasteApplier(WasteStore(store))
    a, b, watcher = [await asyncpg.connect(infra.dsn) for _ in range(3)]
    try:
        await stores.create_store(a, store, 0.85)
        ta = a.transaction()
        await ta.start()
        await applier(a, [InboundRecord(TOPIC, 0, i, cid.encode(), v) for i, v in enumerate(first_half)])

        async def second() -> None:
            async with b.transaction():
                await applier(b, [InboundRecord(TOPIC, 1, i, cid.encode(), v)
                                  for i, v in enumerate(second_half)])

        pid_b = b.get_server_pid()
        task = asyncio.create_task(second())

        async def b_waits_on_a_lock() -> bool:
            return bool(await watcher.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid_b))

        await wait_until(b_waits_on_a_lock, 20, what="the second transaction to wait for the first")
        assert not task.done()
        await ta.commit()
        await asyncio.wait_for(task, 20)
        row = await watcher.fetchrow(
            f"SELECT status, started_at, queue_wait_s, handle_s, lead_time_s "
            f"FROM {store}.interactions WHERE interaction_id = $1", uuid.UUID(iid))
        events = await watcher.fetchval(
            f"SELECT count(*) FROM {store}.interaction_events WHERE interaction_id = $1", uuid.UUID(iid))
    finally:
        for c in (a, b, watcher):
            await c.close()
    assert events == 5
    # the figures of all five events: queued 09:00 → assigned 09:02, handled 09:02 → 09:10
    assert dict(row) == {"status": "resolved", "started_at": T0, "queue_wait_s": 120.0,
                         "handle_s": 480.0, "lead_time_s": 600.0}
