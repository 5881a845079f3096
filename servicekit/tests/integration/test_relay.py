"""The outbox relay against a real broker: order, leadership, outages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from leancrm_servicekit.db import KIT_MIGRATIONS, create_pool, migrate
from leancrm_servicekit.embedded import EmbeddedBroker
from leancrm_servicekit.eventstore import EventStore, OutboxMessage
from leancrm_servicekit.kafka import ensure_topics
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.relay import OutboxRelay
from leancrm_servicekit.testing import Infra, TopicReader, wait_until

pytestmark = pytest.mark.integration
TOPIC = "relay.test.v1"


@pytest.fixture
async def store(infra: Infra, schema_name: str, bootstrap: str) -> AsyncIterator[EventStore]:
    await migrate(infra.dsn, schema_name, [KIT_MIGRATIONS])
    await ensure_topics(bootstrap, [TOPIC], 3, 1)
    pool = await create_pool(infra.dsn, schema_name)
    yield EventStore(pool, f"n_{schema_name}")
    await pool.close()


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def make_relay(infra: Infra, schema: str, store: EventStore, bootstrap: str) -> OutboxRelay:
    return OutboxRelay(dsn=infra.dsn, schema=schema, store=store, bootstrap=bootstrap,
                       metrics=ServiceMetrics("test"), batch_size=50, poll_interval_s=0.2)


def msgs(prefix: str, n: int, keys: int = 5) -> list[OutboxMessage]:
    return [OutboxMessage(TOPIC, f"key-{i % keys}".encode(), f"{prefix}-{i}".encode(),
                          (("message_type", "test"),)) for i in range(n)]


def per_key_order(values: list[bytes], keys: list[bytes | None]) -> dict[bytes | None, list[int]]:
    out: dict[bytes | None, list[int]] = {}
    for v, k in zip(values, keys, strict=True):
        out.setdefault(k, []).append(int(v.decode().rsplit("-", 1)[1]))
    return out


async def test_relay_publishes_in_order_per_key_and_empties_the_outbox(
    infra: Infra, schema_name: str, store: EventStore, bootstrap: str
) -> None:
    relay = make_relay(infra, schema_name, store, bootstrap)
    async with TopicReader(bootstrap, TOPIC) as reader, running(relay):
        for chunk in range(4):
            await store.enqueue(msgs(f"c{chunk}", 100)[chunk * 25:(chunk + 1) * 25])
        await wait_until(lambda: len(reader.on(TOPIC)) >= 100, 30, what="100 relayed messages")
        await wait_until(_empty(store), 10, what="an empty outbox")
    recs = reader.on(TOPIC)
    order = per_key_order([r.value for r in recs], [r.key for r in recs])
    assert all(v == sorted(v) for v in order.values())
    assert sorted(n for v in order.values() for n in v) == list(range(100))
    assert dict(recs[0].headers)["message_type"] == b"test"


async def test_only_one_relay_leads(
    infra: Infra, schema_name: str, store: EventStore, bootstrap: str
) -> None:
    a = make_relay(infra, schema_name, store, bootstrap)
    b = make_relay(infra, schema_name, store, bootstrap)
    async with TopicReader(bootstrap, TOPIC) as reader, running(a), running(b):
        await wait_until(lambda: a.is_leader or b.is_leader, 10, what="a leader")
        await store.enqueue(msgs("x", 40))
        await wait_until(lambda: len(reader.on(TOPIC)) >= 40, 30, what="40 messages")
        assert a.is_leader != b.is_leader
    assert len(reader.on(TOPIC)) == 40


async def test_relay_survives_a_20s_broker_outage_and_loses_nothing(
    infra: Infra, schema_name: str, store: EventStore, bootstrap: str,
    broker_handle: EmbeddedBroker | None,
) -> None:
    if broker_handle is None:
        pytest.skip("needs the embedded broker to pause it")
    relay = make_relay(infra, schema_name, store, bootstrap)
    async with TopicReader(bootstrap, TOPIC) as reader, running(relay):
        await store.enqueue(msgs("before", 10))
        await wait_until(lambda: len(reader.on(TOPIC)) >= 10, 30, what="first 10")
        broker_handle.pause()
        try:
            await store.enqueue(msgs("during", 30))
            await asyncio.sleep(20)
            assert await store.outbox_backlog() == 30  # nothing deleted unacknowledged
        finally:
            broker_handle.resume()
        await wait_until(lambda: {r.value for r in reader.on(TOPIC)} >= {
            m.value for m in msgs("during", 30)}, 60, what="the 30 held messages")
        await wait_until(_empty(store), 30, what="an empty outbox")
        assert relay.last_error is None


def _empty(store: EventStore):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await store.outbox_backlog() == 0
    return check
