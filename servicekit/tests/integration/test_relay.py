"""The outbox relay against a real broker: order, leadership, outages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from leancrm_devstack.embedded import EmbeddedBroker
from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_servicekit.db import KIT_MIGRATIONS, create_pool, migrate
from leancrm_servicekit.kafka import ensure_topics
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox, OutboxMessage
from leancrm_servicekit.relay import OutboxRelay

pytestmark = pytest.mark.integration
TOPIC = "relay.test.v1"


@pytest.fixture
async def store(infra: Infra, schema_name: str, bootstrap: str) -> AsyncIterator[Outbox]:
    await migrate(infra.dsn, schema_name, [KIT_MIGRATIONS])
    await ensure_topics(bootstrap, [TOPIC], 3, 1)
    pool = await create_pool(infra.dsn, schema_name)
    yield Outbox(pool, schema_name)
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


def make_relay(infra: Infra, schema: str, store: Outbox, bootstrap: str) -> OutboxRelay:
    return OutboxRelay(dsn=infra.dsn, schema=schema, outbox=store, bootstrap=bootstrap,
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
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
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
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
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
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str,
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
            assert await store.backlog() == 30  # nothing deleted unacknowledged
        finally:
            broker_handle.resume()
        await wait_until(lambda: {r.value for r in reader.on(TOPIC)} >= {
            m.value for m in msgs("during", 30)}, 60, what="the 30 held messages")
        await wait_until(_empty(store), 30, what="an empty outbox")
        assert relay.last_error is None
        await read_to_the_end(bootstrap, reader)
    # once each: the round that timed out during the pause was written when the broker
    # came back, and the relay looked for it before sending again
    assert sorted(r.value for r in reader.on(TOPIC) if r.value != b"end") == sorted(
        m.value for m in msgs("before", 10) + msgs("during", 30))


async def read_to_the_end(bootstrap: str, reader: TopicReader) -> None:
    """Put a marker at the end of every partition and wait until the reader has all:
    then it has read everything published before them."""
    from aiokafka import AIOKafkaProducer

    marker = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await marker.start()
    for partition in range(3):
        await marker.send_and_wait(TOPIC, b"end", partition=partition)
    await marker.stop()
    await wait_until(lambda: [r.value for r in reader.on(TOPIC)].count(b"end") == 3, 30,
                     what="every partition read to its end")


def _empty(store: Outbox):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await store.backlog() == 0
    return check


async def test_a_message_the_producer_refuses_for_good_is_parked_and_the_rest_go_on(
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
) -> None:
    """A message larger than the producer's max_request_size (1 MiB) is refused on every
    try (MessageSizeTooLargeError): it used to block the outbox for ever."""
    huge = OutboxMessage(TOPIC, b"key-0", b"x" * (1_100_000), (("message_type", "test"),))
    relay = make_relay(infra, schema_name, store, bootstrap)
    async with TopicReader(bootstrap, TOPIC) as reader, running(relay):
        await store.enqueue([*msgs("a", 3), huge, *msgs("b", 3)])
        await wait_until(lambda: len(reader.on(TOPIC)) >= 6, 30, what="the six others")
        await wait_until(_empty(store), 10, what="an empty outbox")
        assert relay.last_error is None
    assert sorted(r.value for r in reader.on(TOPIC)) == sorted(m.value for m in msgs("a", 3) + msgs("b", 3))
    (parked,) = await store.parked_page()
    assert (parked.reason, parked.message.value, parked.message.key) == (
        "message_too_large", huge.value, b"key-0")
    assert "MessageSizeTooLargeError" in parked.error
    assert relay.metrics.parked.labels(reason="message_too_large")._value.get() == 1


async def test_a_killed_leader_is_replaced_at_once_and_no_other_role_can_hold_the_lease(
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
) -> None:
    a = make_relay(infra, schema_name, store, bootstrap)
    b = make_relay(infra, schema_name, store, bootstrap)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    tasks = {a: asyncio.create_task(a.run(stop_a)), b: asyncio.create_task(b.run(stop_b))}
    async with TopicReader(bootstrap, TOPIC) as reader:
        await wait_until(lambda: a.is_leader or b.is_leader, 10, what="a leader")
        leader, standby = (a, b) if a.is_leader else (b, a)
        # the leader dies without a word (its lease is still valid for 30 s): its database
        # session ends with it, and the standby need not wait for the lease to expire
        tasks[leader].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[leader]
        await wait_until(lambda: standby.is_leader, 10, what="the standby leading")
        await store.enqueue(msgs("x", 20))
        await wait_until(lambda: len(reader.on(TOPIC)) >= 20, 30, what="20 messages")
    stop_a.set()
    stop_b.set()
    await asyncio.wait_for(tasks[standby], 30)
    # the lease is a row of the service's own schema: a role without rights on it (such as
    # leancrm_ops) cannot take it, where a fixed-key advisory lock could be taken by anyone
    role = f"r_{schema_name}"
    await store.pool.execute(f"CREATE ROLE {role}")
    await store.pool.execute(f"GRANT USAGE ON SCHEMA {schema_name} TO {role}")
    try:
        async with store.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL ROLE {role}")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("UPDATE relay_lease SET holder = 'intruder'")
    finally:
        await store.pool.execute(f"REVOKE USAGE ON SCHEMA {schema_name} FROM {role}")
        await store.pool.execute(f"DROP ROLE {role}")


async def test_a_leader_killed_between_the_ack_and_the_delete_publishes_nothing_twice(
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
) -> None:
    """The previous leader published rows and died before deleting them: the next leader
    finds them after the remembered offsets and drops them — and only as many copies as
    it finds (two identical messages, one published, leave one to publish)."""
    from aiokafka import AIOKafkaProducer

    from leancrm_servicekit.kafka import encode_headers

    async with TopicReader(bootstrap, TOPIC) as reader:
        async with running(make_relay(infra, schema_name, store, bootstrap)):
            await store.enqueue(msgs("warm", 12))  # the relay remembers where these ended
            await wait_until(_empty(store), 30, what="the first messages published")
        twin = OutboxMessage(TOPIC, b"key-1", b"twin", (("message_type", "test"),))
        pending = [*msgs("late", 6), twin, twin]
        await store.enqueue(pending)
        # the killed leader's last round: acknowledged by the broker, never deleted
        killed = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await killed.start()
        for m in [*pending[:4], twin]:
            await killed.send_and_wait(m.topic, m.value, key=m.key, headers=encode_headers(m.headers))
        await killed.stop()
        async with running(make_relay(infra, schema_name, store, bootstrap)):
            await wait_until(_empty(store), 30, what="the outbox emptied")
        await read_to_the_end(bootstrap, reader)
        values = sorted(r.value for r in reader.on(TOPIC) if r.value != b"end")
    assert values == sorted([m.value for m in msgs("warm", 12)] + [m.value for m in pending])


async def test_a_tombstone_is_published_with_a_null_value_in_order_and_once(
    infra: Infra, schema_name: str, store: Outbox, bootstrap: str
) -> None:
    """A compacted topic's delete (a shredded customer key, contract 2.8) is a record with
    a null value: the outbox holds it as such, and the relay's look for what it already
    published tells a tombstone from an empty value."""
    relay = make_relay(infra, schema_name, store, bootstrap)
    key = b"customer-1"
    messages = [OutboxMessage(TOPIC, key, b"", (("message_type", "empty"),)),
                OutboxMessage(TOPIC, key, b"the key", (("message_type", "customer.key"),)),
                OutboxMessage(TOPIC, key, None, (("message_type", "customer.key_erased"),))]
    async with TopicReader(bootstrap, TOPIC) as reader:
        await store.enqueue(messages)
        async with running(relay):
            await wait_until(lambda: len([r for r in reader.on(TOPIC) if r.key == key]) >= 3, 30,
                             what="the three records")
            await wait_until(_empty(store), 10, what="an empty outbox")
        # a new leader that finds the same rows again (a crash before its delete and its
        # positions) sends none of them twice: the tombstone is recognised as published
        await store.pool.execute("DELETE FROM relay_positions")
        await store.enqueue(messages)
        async with running(make_relay(infra, schema_name, store, bootstrap)):
            await wait_until(_empty(store), 30, what="the rows dropped as published")
        await read_to_the_end(bootstrap, reader)
    records = [r for r in reader.on(TOPIC) if r.key == key]
    assert [r.value for r in records] == [b"", b"the key", None]
    assert dict(records[-1].headers)["message_type"] == b"customer.key_erased"
