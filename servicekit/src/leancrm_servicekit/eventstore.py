"""The PostgreSQL event store: streams with optimistic concurrency, a gapless
global position, command deduplication and the transactional outbox.

All SQL of the store lives in this module; the tables are created by
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
class OutboxMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    message: OutboxMessage


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

_INSERT_OUTBOX = """
INSERT INTO outbox (topic, kafka_key, value, headers)
SELECT m.topic, m.kafka_key, m.value, m.headers
FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[]) WITH ORDINALITY
     AS m(topic, kafka_key, value, headers, n)
ORDER BY m.n
"""

_READ_OUTBOX = "SELECT id, topic, kafka_key, value, headers FROM outbox ORDER BY id LIMIT $1"
_DELETE_OUTBOX = "DELETE FROM outbox WHERE id <= $1"
_OUTBOX_BACKLOG = "SELECT count(*) FROM outbox"
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

    def __init__(self, pool: asyncpg.Pool, notify_channel: str) -> None:
        self.pool = pool
        self.notify_channel = notify_channel

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
    ) -> None:
        """Append events, record commands and queue outgoing messages, atomically;
        ``read_model`` updates the service's own read state in the same transaction.

        Raises ``ConcurrencyConflict`` when a stream version or command id is taken.
        """
        try:
            async with self.pool.acquire() as conn, conn.transaction():
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
                if outbox:
                    await self._insert_outbox(conn, outbox)
                    await conn.execute("SELECT pg_notify($1, '')", self.notify_channel)
        except asyncpg.UniqueViolationError as exc:
            raise ConcurrencyConflict(str(exc)) from exc

    @staticmethod
    async def _insert_outbox(conn: Conn, outbox: Sequence[OutboxMessage]) -> None:
        await conn.execute(
            _INSERT_OUTBOX,
            [m.topic for m in outbox],
            [m.key for m in outbox],
            [m.value for m in outbox],
            [json.dumps([list(h) for h in m.headers]) for m in outbox],
        )

    async def enqueue(self, outbox: Sequence[OutboxMessage]) -> None:
        """Queue messages with no events (e.g. republishing), in position order."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetchval(_ALLOCATE, 0)
            await self._insert_outbox(conn, outbox)
            await conn.execute("SELECT pg_notify($1, '')", self.notify_channel)

    async def read_outbox(self, conn: Conn, limit: int) -> list[OutboxRow]:
        rows = await conn.fetch(_READ_OUTBOX, limit)
        return [
            OutboxRow(
                id=r["id"],
                message=OutboxMessage(
                    topic=r["topic"],
                    key=bytes(r["kafka_key"]) if r["kafka_key"] is not None else None,
                    value=bytes(r["value"]),
                    headers=tuple((h[0], h[1]) for h in json.loads(r["headers"])),
                ),
            )
            for r in rows
        ]

    async def delete_outbox_through(self, conn: Conn, last_id: int) -> None:
        await conn.execute(_DELETE_OUTBOX, last_id)

    async def outbox_backlog(self) -> int:
        return int(await self.pool.fetchval(_OUTBOX_BACKLOG))

    async def read_all(self, after_position: int, limit: int) -> list[StoredEvent]:
        """Events in global order after a position: for republishing to a broker that
        lost its topics."""
        return [_event(r) for r in await self.pool.fetch(_READ_ALL, after_position, limit)]
