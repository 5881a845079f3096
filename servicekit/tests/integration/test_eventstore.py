"""The event store against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from leancrm_devstack.testing import Infra
from leancrm_servicekit.db import KIT_MIGRATIONS, create_pool, migrate, pending_migrations
from leancrm_servicekit.eventstore import (
    ConcurrencyConflict,
    EventStore,
    PositionClaim,
    ProcessedCommand,
    StoredEvent,
)
from leancrm_servicekit.outbox import Outbox, OutboxMessage

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def event(stream: str, version: int) -> StoredEvent:
    return StoredEvent(
        event_id=uuid.uuid4(), stream_id=stream, stream_version=version, event_type="x.happened",
        schema_version=1, occurred_at=NOW, recorded_at=NOW, customer_id=None,
        correlation_id=None, causation_id="c", key=stream, data={"n": version},
    )


@pytest.fixture
async def store(infra: Infra, schema_name: str) -> AsyncIterator[EventStore]:
    applied = await migrate(infra.dsn, schema_name, [KIT_MIGRATIONS])
    assert applied == ["kit_0001_event_store.sql", "kit_0002_nothing_lost.sql",
                       "kit_0003_relay_positions.sql", "kit_0004_tombstones.sql"]
    assert await migrate(infra.dsn, schema_name, [KIT_MIGRATIONS]) == []  # once only
    pool = await create_pool(infra.dsn, schema_name)
    yield EventStore(pool, Outbox(pool, schema_name))
    await pool.close()


async def test_append_load_and_gapless_positions(store: EventStore) -> None:
    await store.commit([event("a", 1), event("b", 1)], [], [])
    await store.commit([event("a", 2)], [], [])
    streams = await store.load_streams(["a", "b", "c"])
    assert [e.stream_version for e in streams["a"]] == [1, 2]
    assert streams["c"] == []
    assert [e.global_position for e in await store.read_all(0, 10)] == [1, 2, 3]


async def test_a_taken_stream_version_is_a_conflict_and_nothing_is_written(store: EventStore) -> None:
    await store.commit([event("a", 1)], [], [])
    with pytest.raises(ConcurrencyConflict):
        await store.commit([event("b", 1), event("a", 1)], [],
                           [OutboxMessage("t", b"k", b"v", ())])
    assert (await store.load_streams(["b"]))["b"] == []
    assert await store.outbox.backlog() == 0


async def test_concurrent_writers_keep_positions_gapless(store: EventStore) -> None:
    await asyncio.gather(*(store.commit([event(f"s{i}", 1), event(f"s{i}", 2)], [], [])
                           for i in range(30)))
    positions = [e.global_position for e in await store.read_all(0, 1000)]
    assert positions == list(range(1, 61))


async def test_processed_commands_and_outbox_order(store: EventStore) -> None:
    e = event("a", 1)
    await store.commit(
        [e],
        [ProcessedCommand("cmd-1", "do", "accepted", (e.event_id,), None, NOW)],
        [OutboxMessage("t", b"k1", b"1", (("h", "v"),)), OutboxMessage("t", None, b"2", ())],
    )
    with pytest.raises(ConcurrencyConflict):  # the command id is taken
        await store.commit([], [ProcessedCommand("cmd-1", "do", "accepted", (), None, NOW)], [])
    done = await store.processed(["cmd-1", "cmd-2"])
    assert list(done) == ["cmd-1"] and done["cmd-1"].event_ids == (e.event_id,)
    async with store.pool.acquire() as conn:
        rows = await store.outbox.read(conn, 10)
        assert [(r.message.key, r.message.value, r.message.headers) for r in rows] == [
            (b"k1", b"1", (("h", "v"),)), (None, b"2", ())]
        await store.outbox.settle(conn, [rows[0].id], [])
    assert await store.outbox.backlog() == 1


async def test_the_relay_deletes_exactly_what_it_published(store: EventStore, infra: Infra,
                                                           schema_name: str) -> None:
    """A message whose transaction took its id first but commits after the relay read the
    outbox, and before it deletes what it published, must stay (deleting every id up to
    the last published one deleted it unpublished)."""
    slow = await asyncpg.connect(infra.dsn, server_settings={"search_path": schema_name})
    try:
        tx = slow.transaction()
        await tx.start()
        await store.outbox.insert(slow, [OutboxMessage("t", b"k", b"slow", ())])  # takes its id now
        await store.outbox.enqueue([OutboxMessage("t", b"k", b"fast", ())])  # a later id, committed
        async with store.pool.acquire() as conn:
            read = await store.outbox.read(conn, 10)
            assert [r.message.value for r in read] == [b"fast"]  # the slow one is not visible yet
            await tx.commit()  # it commits between the relay's read and its delete
            await store.outbox.settle(conn, [r.id for r in read], [])
            assert [r.message.value for r in await store.outbox.read(conn, 10)] == [b"slow"]
    finally:
        await slow.close()


async def test_the_relay_reads_a_bounded_number_of_bytes_at_a_time(store: EventStore) -> None:
    await store.outbox.enqueue([OutboxMessage("t", None, bytes([i]) * 5_000_000, ()) for i in range(3)])
    async with store.pool.acquire() as conn:
        assert [r.message.value[0] for r in await store.outbox.read(conn, 10)] == [0, 1]  # 8 MB: two
        assert len(await store.outbox.read(conn, 10, max_bytes=1)) == 1  # always at least one


async def test_positions_advance_with_the_commit_and_a_stale_claim_is_a_conflict(
        store: EventStore) -> None:
    tp = ("crm.x.commands.v1", 2)
    assert await store.positions([tp]) == {}
    await store.commit([event("a", 1)], [], [], positions=PositionClaim({}, {tp: 8}))
    assert await store.positions([tp]) == {tp: 8}
    with pytest.raises(ConcurrencyConflict):  # another consumer got there first
        await store.commit([event("b", 1)], [], [], positions=PositionClaim({tp: 5}, {tp: 9}))
    assert (await store.load_streams(["b"]))["b"] == []  # and nothing of it was written
    await store.commit([], [], [], positions=PositionClaim({tp: 8}, {tp: 9}))
    assert await store.positions([tp]) == {tp: 9}


async def test_migrations_refuse_odd_schema_names(infra: Infra) -> None:
    with pytest.raises(ValueError, match="identifier"):
        await migrate(infra.dsn, "x; drop table y", [KIT_MIGRATIONS])
    conn = await asyncpg.connect(infra.dsn)
    await conn.close()


async def test_replicas_migrating_a_new_schema_together_apply_each_migration_once(
    infra: Infra, schema_name: str, tmp_path: Path
) -> None:
    """Several replicas starting at once on an empty database: they race to create the
    schema and its ledger, then take turns under the ledger's lock; each migration is
    applied once, by one of them — and a migration that fails leaves none of the batch."""
    (tmp_path / "0001_counter.sql").write_text(
        "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1);")
    results = await asyncio.gather(*(migrate(infra.dsn, schema_name, [KIT_MIGRATIONS, tmp_path])
                                     for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, len(list(KIT_MIGRATIONS.glob("*.sql"))) + 1]
    conn = await asyncpg.connect(infra.dsn)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {schema_name}.runs") == 1
        (tmp_path / "0002_broken.sql").write_text("INSERT INTO runs VALUES (2); SELECT 1/0;")
        (tmp_path / "0003_fine.sql").write_text("INSERT INTO runs VALUES (3);")
        with pytest.raises(asyncpg.DivisionByZeroError):
            await migrate(infra.dsn, schema_name, [KIT_MIGRATIONS, tmp_path])
        assert await conn.fetchval(f"SELECT count(*) FROM {schema_name}.runs") == 1
        assert await pending_migrations(conn, schema_name, [KIT_MIGRATIONS, tmp_path]) == [
            "0002_broken.sql", "0003_fine.sql"]
    finally:
        await conn.close()
