"""The transactional outbox and its parking lot: every message a service publishes
(events, command results, dead letters) is written here in the same transaction as
its cause; the relay publishes rows in id order and deletes exactly the rows the
broker acknowledged. A message the broker or the producer refuses for good (too
large, invalid) is *parked* — moved, with its reason, to ``parked_messages`` — so that
what follows it is published; once the cause is fixed it is replayed into the outbox.

All SQL of the outbox and the parking lot lives in this module; the tables are made by
``migrations/kit_0001_event_store.sql``, ``kit_0002_nothing_lost.sql``,
``kit_0003_relay_positions.sql`` and ``kit_0004_tombstones.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from leancrm_servicekit.db import Conn, check_identifier


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to publish; ``value`` None is a tombstone (a compacted topic's delete,
    e.g. a shredded customer key, contract section 2.8)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    message: OutboxMessage
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the broker or the producer will never take one outbox row."""

    row: OutboxRow
    reason: str  # a short name: message_too_large, invalid_topic, ...
    error: str  # what the client said


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    id: int
    outbox_id: int
    message: OutboxMessage
    reason: str
    error: str
    created_at: datetime
    parked_at: datetime


_INSERT = """
INSERT INTO outbox (topic, kafka_key, value, headers)
SELECT m.topic, m.kafka_key, m.value, m.headers
FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[]) WITH ORDINALITY
     AS m(topic, kafka_key, value, headers, n)
ORDER BY m.n
"""
#: the next rows in id order, at most $1 of them and, beyond the first, at most $2 bytes of
#: values: a round of 1,000 dead letters of 256 KiB each must not need 256 MB of memory
_READ = """
SELECT id, topic, kafka_key, value, headers, created_at FROM (
    SELECT o.*, sum(coalesce(octet_length(o.value), 0)) OVER (ORDER BY o.id) AS running
    FROM (SELECT * FROM outbox ORDER BY id LIMIT $1) o
) r WHERE running - coalesce(octet_length(value), 0) < $2 ORDER BY id
"""
#: bytes of message values the relay takes in one round (at least one message)
READ_MAX_BYTES = 8 * 1024 * 1024
_BACKLOG = "SELECT count(*) FROM outbox"
#: one statement (atomic by itself): remember where acknowledged messages ended, delete
#: the published rows, move the refused ones to the parking lot
_SETTLE = """
WITH positions AS (
    INSERT INTO relay_positions (topic, partition, next_offset)
    SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
    ON CONFLICT (topic, partition) DO UPDATE
    SET next_offset = greatest(relay_positions.next_offset, excluded.next_offset)
    RETURNING 1
), published AS (
    DELETE FROM outbox WHERE id = ANY($4::bigint[]) RETURNING 1
), refused AS (
    SELECT * FROM unnest($5::bigint[], $6::text[], $7::text[]) AS r(id, reason, error)
), moved AS (
    DELETE FROM outbox o USING refused r WHERE o.id = r.id
    RETURNING o.id, o.topic, o.kafka_key, o.value, o.headers, o.created_at, r.reason, r.error
)
INSERT INTO parked_messages (outbox_id, topic, kafka_key, value, headers, reason, error, created_at)
SELECT id, topic, kafka_key, value, headers, reason, error, created_at FROM moved ORDER BY id
"""
_POSITIONS = "SELECT topic, partition, next_offset FROM relay_positions WHERE topic = ANY($1::text[])"
_PARKED_SUMMARY = """
SELECT reason, topic, count(*) AS messages, min(parked_at) AS first, max(parked_at) AS last,
       min(id) AS first_id, max(id) AS last_id
FROM parked_messages GROUP BY reason, topic ORDER BY reason, topic
"""
_PARKED_PAGE = """
SELECT id, outbox_id, topic, kafka_key, value, headers, reason, error, created_at, parked_at
FROM parked_messages
WHERE id > $1 AND ($2::bigint IS NULL OR id <= $2) AND ($3::text IS NULL OR reason = $3)
ORDER BY id LIMIT $4
"""
_UNPARK = """
WITH chosen AS (
    SELECT id FROM parked_messages
    WHERE id > $1 AND ($2::bigint IS NULL OR id <= $2) AND ($3::text IS NULL OR reason = $3)
    ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM parked_messages p USING chosen c WHERE p.id = c.id
    RETURNING p.id, p.topic, p.kafka_key, p.value, p.headers
), queued AS (
    INSERT INTO outbox (topic, kafka_key, value, headers)
    SELECT topic, kafka_key, value, headers FROM moved ORDER BY id
)
SELECT coalesce(max(id), 0) AS last_id, count(*) AS messages FROM moved
"""


def _message(r: asyncpg.Record) -> OutboxMessage:
    return OutboxMessage(
        topic=r["topic"],
        key=bytes(r["kafka_key"]) if r["kafka_key"] is not None else None,
        value=bytes(r["value"]) if r["value"] is not None else None,
        headers=tuple((h[0], h[1]) for h in json.loads(r["headers"])),
    )


class Outbox:
    """One service's outbox, in the schema its pool's ``search_path`` names."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        #: the relay LISTENs here; every write NOTIFYs it
        self.notify_channel = f"leancrm_outbox_{check_identifier(schema)}"

    async def insert(self, conn: Conn, messages: Sequence[OutboxMessage]) -> None:
        """Queue ``messages`` in ``conn``'s transaction, in order, and wake the relay."""
        if not messages:
            return
        await conn.execute(
            _INSERT,
            [m.topic for m in messages],
            [m.key for m in messages],
            [m.value for m in messages],
            [json.dumps([list(h) for h in m.headers]) for m in messages],
        )
        await conn.execute("SELECT pg_notify($1, '')", self.notify_channel)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        """Queue messages in a transaction of their own (e.g. republishing)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self.insert(conn, messages)

    async def read(self, conn: Conn, limit: int, max_bytes: int = READ_MAX_BYTES) -> list[OutboxRow]:
        """The next rows in id order: at most ``limit``, and at most ``max_bytes`` of values
        beyond the first row."""
        return [OutboxRow(id=r["id"], message=_message(r), created_at=r["created_at"])
                for r in await conn.fetch(_READ, limit, max_bytes)]

    async def settle(self, conn: Conn, published: Sequence[int], refused: Sequence[Refusal],
                     positions: Mapping[tuple[str, int], int] | None = None) -> None:
        """Delete exactly the rows the broker acknowledged and park the refused ones,
        remembering where the acknowledged messages ended (``positions``: the next offset
        per topic partition), in one statement. (Deleting every id up to the last
        published one would also delete a row that a slower transaction committed in
        between, unpublished.)"""
        tps = list(positions or {})
        await conn.execute(_SETTLE, [tp[0] for tp in tps], [tp[1] for tp in tps],
                           [(positions or {})[tp] for tp in tps], list(published),
                           [r.row.id for r in refused], [r.reason for r in refused],
                           [r.error for r in refused])

    async def published_positions(self, conn: Conn, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """Where the acknowledged messages of these topics ended (next offset per partition)."""
        return {(r["topic"], r["partition"]): r["next_offset"]
                for r in await conn.fetch(_POSITIONS, list(topics))}

    async def backlog(self) -> int:
        return int(await self.pool.fetchval(_BACKLOG))

    # -- the parking lot ----------------------------------------------------------------

    async def parked_count(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM parked_messages"))

    async def parked_summary(self) -> list[dict[str, Any]]:
        """Parked messages by reason and topic: how many, when first and last, id range."""
        return [dict(r) for r in await self.pool.fetch(_PARKED_SUMMARY)]

    async def parked_page(self, after_id: int = 0, *, through_id: int | None = None,
                          reason: str | None = None, limit: int = 100) -> list[ParkedMessage]:
        """Parked messages after ``after_id`` in id order (keyset paging)."""
        rows = await self.pool.fetch(_PARKED_PAGE, after_id, through_id, reason, limit)
        return [ParkedMessage(id=r["id"], outbox_id=r["outbox_id"], message=_message(r),
                              reason=r["reason"], error=r["error"], created_at=r["created_at"],
                              parked_at=r["parked_at"]) for r in rows]

    async def unpark(self, replay_id: int, after_id: int, *, through_id: int | None,
                     reason: str | None, batch: int) -> tuple[int, int]:
        """Move the next ``batch`` chosen parked messages back into the outbox, in id order,
        in one transaction that also counts them in replay ``replay_id``. Returns (the
        last id moved, how many); (0, 0) when none is left."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_UNPARK, after_id, through_id, reason, batch)
            assert row is not None
            moved = int(row["messages"])
            if moved:
                await conn.execute("UPDATE replays SET messages = messages + $2 WHERE id = $1",
                                   replay_id, moved)
                await conn.execute("SELECT pg_notify($1, '')", self.notify_channel)
            return int(row["last_id"]), moved
