"""The PostgreSQL event store: streams with optimistic concurrency, a gapless
global position and command deduplication. Its commit also queues the outgoing
messages in the outbox (:mod:`leancrm_servicekit.outbox`) and advances the consumer
positions (:mod:`leancrm_servicekit.offsets`), in the same transaction.

All SQL of the event store lives in this module; the tables are created by
``migrations/kit_0001_event_store.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from leancrm_servicekit.db import Conn
from leancrm_servicekit.offsets import ConsumerOffsets, TopicPartition
from leancrm_servicekit.outbox import Outbox, OutboxMessage


class ConcurrencyConflict(Exception):
    """Another writer appended to one of the streams (or handled one of the commands)
    first. The caller reloads and decides again."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: UUID
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    customer_id: UUID | None
    correlation_id: str | None
    causation_id: str | None
    key: str
    data: dict[str, Any]
    global_position: int = 0


@dataclass(frozen=True, slots=True)
class ProcessedCommand:
    command_id: str
    command_type: str
    status: str
    event_ids: tuple[UUID, ...]
    error: dict[str, str] | None
    processed_at: datetime


@dataclass(frozen=True, slots=True)
class PositionClaim:
    """The consumed partitions a commit covers: the next offsets read before deciding
    (``expected``; absent = never stored) and those to store (``next``). The commit fails
    with ``ConcurrencyConflict`` if another consumer moved one in between."""

    expected: dict[TopicPartition, int]
    next: dict[TopicPartition, int]


_LOAD_STREAMS = """
SELECT global_position, event_id, stream_id, stream_version, event_type, schema_version,
       occurred_at, recorded_at, customer_id, correlation_id, causation_id, kafka_key, data
FROM events WHERE stream_id = ANY($1::text[])
ORDER BY stream_id, stream_version
"""

_PROCESSED = """
SELECT command_id, command_type, status, event_ids, error, processed_at
FROM processed_commands WHERE command_id = ANY($1::text[])
"""

_ALLOCATE = """
UPDATE positions SET last_position = last_position + $1 RETURNING last_position
"""

_INSERT_EVENTS = """
INSERT INTO events (global_position, event_id, stream_id, stream_version, event_type,
                    schema_version, occurred_at, recorded_at, customer_id, correlation_id,
                    causation_id, kafka_key, data)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::int[],
                     $7::timestamptz[], $8::timestamptz[], $9::uuid[], $10::text[], $11::text[],
                     $12::text[], $13::jsonb[])
"""

_INSERT_PROCESSED = """
INSERT INTO processed_commands (command_id, command_type, status, event_ids, error, processed_at)
SELECT c.command_id, c.command_type, c.status,
       ARRAY(SELECT jsonb_array_elements_text(c.event_ids)::uuid), c.error, c.processed_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::timestamptz[])
     AS c(command_id, command_type, status, event_ids, error, processed_at)
"""

_COUNT_AFTER = "SELECT count(*) FROM events WHERE global_position > $1"
_READ_ALL = """
SELECT global_position, event_id, stream_id, stream_version, event_type, schema_version,
       occurred_at, recorded_at, customer_id, correlation_id, causation_id, kafka_key, data
FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2
"""


def _event(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        global_position=row["global_position"],
        event_id=row["event_id"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        customer_id=row["customer_id"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        key=row["kafka_key"],
        data=json.loads(row["data"]),
    )


class EventStore:
    """One service's event store, in the schema its pool's search_path names."""

    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, offsets: ConsumerOffsets | None = None) -> None:
        self.pool = pool
        self.outbox = outbox
        self.offsets = offsets or ConsumerOffsets()

    async def positions(self, parts: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offsets of consumed partitions (absent: never stored)."""
        async with self.pool.acquire() as conn:
            return await self.offsets.read(conn, parts)

    async def load_streams(self, stream_ids: Iterable[str]) -> dict[str, list[StoredEvent]]:
        ids = sorted(set(stream_ids))
        streams: dict[str, list[StoredEvent]] = {s: [] for s in ids}
        if not ids:
            return streams
        for row in await self.pool.fetch(_LOAD_STREAMS, ids):
            streams[row["stream_id"]].append(_event(row))
        return streams

    async def processed(self, command_ids: Iterable[str]) -> dict[str, ProcessedCommand]:
        ids = sorted(set(command_ids))
        if not ids:
            return {}
        return {
            r["command_id"]: ProcessedCommand(
                command_id=r["command_id"],
                command_type=r["command_type"],
                status=r["status"],
                event_ids=tuple(r["event_ids"]),
                error=json.loads(r["error"]) if r["error"] is not None else None,
                processed_at=r["processed_at"],
            )
            for r in await self.pool.fetch(_PROCESSED, ids)
        }

    async def commit(
        self,
        events: Sequence[StoredEvent],
        commands: Sequence[ProcessedCommand],
        outbox: Sequence[OutboxMessage],
        read_model: Callable[[Conn, Sequence[StoredEvent]], Awaitable[None]]
        | None = None,
        positions: PositionClaim | None = None,
    ) -> None:
        """Append events, record commands, queue outgoing messages and advance the
        consumer positions, atomically; ``read_model`` updates the service's own read
        state in the same transaction.

        Raises ``ConcurrencyConflict`` when a stream version or command id is taken, or
        another consumer handled some of the claimed records first.
        """
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                if positions is not None and not await self.offsets.compare_and_advance(
                        conn, positions.expected, positions.next):
                    raise ConcurrencyConflict(
                        f"another consumer handled records of {sorted(positions.next)} first")
                last = await conn.fetchval(_ALLOCATE, len(events))
                if events:
                    first = last - len(events) + 1
                    await conn.execute(
                        _INSERT_EVENTS,
                        list(range(first, last + 1)),
                        [e.event_id for e in events],
                        [e.stream_id for e in events],
                        [e.stream_version for e in events],
                        [e.event_type for e in events],
                        [e.schema_version for e in events],
                        [e.occurred_at for e in events],
                        [e.recorded_at for e in events],
                        [e.customer_id for e in events],
                        [e.correlation_id for e in events],
                        [e.causation_id for e in events],
                        [e.key for e in events],
                        [json.dumps(e.data) for e in events],
                    )
                if commands:
                    await conn.execute(
                        _INSERT_PROCESSED,
                        [c.command_id for c in commands],
                        [c.command_type for c in commands],
                        [c.status for c in commands],
                        [json.dumps([str(i) for i in c.event_ids]) for c in commands],
                        [json.dumps(c.error) if c.error is not None else None for c in commands],
                        [c.processed_at for c in commands],
                    )
                if read_model is not None and events:
                    await read_model(conn, events)
                await self.outbox.insert(conn, outbox)
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyConflict(str(exc)) from exc

    async def count_after(self, position: int) -> int:
        """How many events lie after a global position."""
        return int(await self.pool.fetchval(_COUNT_AFTER, position))

    async def read_all(self, after_position: int, limit: int) -> list[StoredEvent]:
        """Events in global order after a position: for republishing to a broker that
        lost its topics."""
        return [_event(r) for r in await self.pool.fetch(_READ_ALL, after_position, limit)]
