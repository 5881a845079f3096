"""The record of replays (dead letters sent back to their topic, parked messages moved
back to the outbox): tables ``replays`` and ``replayed_dead_letters`` of a service's
schema (``migrations/kit_0002_nothing_lost.sql``). All their SQL lives here."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import asyncpg


class ReplayLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def start(self, kind: str, selection: dict[str, Any]) -> int:
        return int(await self.pool.fetchval(
            "INSERT INTO replays (kind, selection) VALUES ($1, $2::jsonb) RETURNING id",
            kind, json.dumps(selection, default=str)))

    async def finish(self, replay_id: int, skipped: int) -> None:
        await self.pool.execute(
            "UPDATE replays SET finished_at = now(), skipped = $2 WHERE id = $1", replay_id, skipped)

    async def replayed(self, positions: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        """Which of these DLQ positions (partition, offset) an earlier replay sent back."""
        wanted = list(positions)
        if not wanted:
            return set()
        rows = await self.pool.fetch(
            "SELECT dlq_partition, dlq_offset FROM replayed_dead_letters "
            "WHERE (dlq_partition, dlq_offset) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))",
            [p for p, _ in wanted], [o for _, o in wanted])
        return {(r["dlq_partition"], r["dlq_offset"]) for r in rows}

    async def mark_replayed(self, replay_id: int, positions: Iterable[tuple[int, int]]) -> None:
        sent = list(positions)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO replayed_dead_letters (dlq_partition, dlq_offset, replay_id) "
                "SELECT p, o, $3 FROM unnest($1::int[], $2::bigint[]) AS u(p, o) "
                "ON CONFLICT (dlq_partition, dlq_offset) DO UPDATE SET replay_id = excluded.replay_id",
                [p for p, _ in sent], [o for _, o in sent], replay_id)
            await conn.execute("UPDATE replays SET messages = messages + $2 WHERE id = $1",
                               replay_id, len(sent))

    async def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(
            "SELECT id, kind, selection, messages, skipped, started_at, finished_at, by_user "
            "FROM replays ORDER BY id DESC LIMIT $1", limit)]
