"""All SQL of the waste projector's private store (schema ``{store}``), set-based:
each function writes one batch's rows with one statement."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from leancrm_servicekit.db import check_identifier


@dataclass(frozen=True, slots=True)
class RawEvent:
    stream_id: str
    event_id: UUID
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InteractionRow:
    interaction_id: UUID
    customer_id: UUID | None
    channel: str | None
    reason: str | None
    started_at: datetime | None
    started_event_id: UUID | None
    ended_at: datetime | None
    status: str
    resolved_by: str | None
    transfers: int
    cross_channel_transfers: int
    identifications: int
    queue_wait_s: float
    hold_s: float
    handle_s: float
    value_added_s: float
    lead_time_s: float | None
    reached_agent: bool
    team: str | None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    row_key: str
    interaction_id: UUID
    waste_type: str
    subtype: str
    occurred_at: datetime
    customer_id: UUID | None
    channel: str | None
    reason: str | None
    team: str | None
    quantity: float
    unit: str
    source_event_id: UUID | None


class WasteStore:
    def __init__(self, schema: str) -> None:
        self.s = check_identifier(schema)

    async def mark_seen(self, conn: asyncpg.Connection, ids: Sequence[UUID],
                        types: Sequence[str]) -> set[UUID]:
        """Record event ids; return those never seen before (the rest are duplicates)."""
        rows = await conn.fetch(
            f"INSERT INTO {self.s}.seen_events (event_id, event_type) "
            "SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
            list(ids), list(types),
        )
        return {r["event_id"] for r in rows}

    async def add_interaction_events(self, conn: asyncpg.Connection, events: Sequence[RawEvent]) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.interaction_events "
            "(interaction_id, event_id, event_type, occurred_at, data) "
            "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[]) "
            "ON CONFLICT DO NOTHING",
            [UUID(e.stream_id) for e in events], [e.event_id for e in events],
            [e.event_type for e in events], [e.occurred_at for e in events],
            [json.dumps(e.data) for e in events],
        )

    async def interaction_events(self, conn: asyncpg.Connection,
                                 ids: Iterable[UUID]) -> dict[UUID, list[RawEvent]]:
        out: dict[UUID, list[RawEvent]] = {}
        rows = await conn.fetch(
            f"SELECT interaction_id, event_id, event_type, occurred_at, data "
            f"FROM {self.s}.interaction_events WHERE interaction_id = ANY($1::uuid[])",
            list(ids),
        )
        for r in rows:
            out.setdefault(r["interaction_id"], []).append(
                RawEvent(str(r["interaction_id"]), r["event_id"], r["event_type"],
                         r["occurred_at"], json.loads(r["data"])))
        return out

    async def replace_interactions(self, conn: asyncpg.Connection, rows: Sequence[InteractionRow],
                                   ledger: Sequence[LedgerRow],
                                   busy: Sequence[tuple[UUID, datetime, str, float]]) -> None:
        ids = [r.interaction_id for r in rows]
        cols = list(InteractionRow.__slots__)  # type: ignore[attr-defined]
        types = ["uuid", "uuid", "text", "text", "timestamptz", "uuid", "timestamptz", "text",
                 "text", "int", "int", "int", "float8", "float8", "float8", "float8", "float8",
                 "bool", "text"]
        params = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        await conn.execute(
            f"INSERT INTO {self.s}.interactions ({', '.join(cols)}) SELECT * FROM unnest({params}) "
            f"ON CONFLICT (interaction_id) DO UPDATE SET {updates}",
            *[[getattr(r, c) for r in rows] for c in cols],
        )
        await conn.execute(f"DELETE FROM {self.s}.ledger WHERE interaction_id = ANY($1::uuid[])", ids)
        if ledger:
            lcols = list(LedgerRow.__slots__)  # type: ignore[attr-defined]
            ltypes = ["text", "uuid", "text", "text", "timestamptz", "uuid", "text", "text", "text",
                      "float8", "text", "uuid"]
            lparams = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(ltypes))
            await conn.execute(
                f"INSERT INTO {self.s}.ledger ({', '.join(lcols)}) SELECT * FROM unnest({lparams}) "
                "ON CONFLICT (row_key) DO NOTHING",
                *[[getattr(r, c) for r in ledger] for c in lcols],
            )
        await conn.execute(f"DELETE FROM {self.s}.busy_hourly WHERE interaction_id = ANY($1::uuid[])", ids)
        if busy:
            await conn.execute(
                f"INSERT INTO {self.s}.busy_hourly (interaction_id, bucket_start, team, busy_s) "
                "SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::float8[])",
                [b[0] for b in busy], [b[1] for b in busy], [b[2] for b in busy], [b[3] for b in busy],
            )

    async def add_agent_events(self, conn: asyncpg.Connection, events: Sequence[RawEvent]) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.agent_events (agent_id, event_id, event_type, occurred_at, team) "
            "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) "
            "ON CONFLICT DO NOTHING",
            [e.stream_id for e in events], [e.event_id for e in events],
            [e.event_type for e in events], [e.occurred_at for e in events],
            [e.data.get("team") for e in events],
        )

    async def agent_events(self, conn: asyncpg.Connection,
                           agents: Iterable[str]) -> dict[str, list[asyncpg.Record]]:
        out: dict[str, list[asyncpg.Record]] = {}
        for r in await conn.fetch(
            f"SELECT agent_id, event_id, event_type, occurred_at, team FROM {self.s}.agent_events "
            "WHERE agent_id = ANY($1::text[]) ORDER BY agent_id, occurred_at, event_type, event_id",
            list(agents),
        ):
            out.setdefault(r["agent_id"], []).append(r)
        return out

    async def replace_staffed(self, conn: asyncpg.Connection, agents: Sequence[str],
                              rows: Sequence[tuple[str, datetime, str, float]]) -> None:
        await conn.execute(f"DELETE FROM {self.s}.staffed_hourly WHERE agent_id = ANY($1::text[])",
                           list(agents))
        if rows:
            await conn.execute(
                f"INSERT INTO {self.s}.staffed_hourly (agent_id, bucket_start, team, staffed_s) "
                "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::float8[])",
                [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
            )

    async def apply_customer_event(self, conn: asyncpg.Connection, event_type: str,
                                   customer_id: UUID, version: int, data: dict[str, Any]) -> None:
        """Each field takes the value of the highest stream_version that set it; a
        forgotten customer's name and email are never written again."""
        if event_type == "customer.forgotten":
            await conn.execute(
                f"INSERT INTO {self.s}.customers (customer_id, forgotten) VALUES ($1, TRUE) "
                "ON CONFLICT (customer_id) DO UPDATE SET name = NULL, email = NULL, forgotten = TRUE",
                customer_id,
            )
            return
        if event_type not in ("customer.registered", "customer.details_changed"):
            return
        await conn.execute(
            f"INSERT INTO {self.s}.customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING",
            customer_id)
        await conn.execute(
            f"UPDATE {self.s}.customers SET "
            "segment = CASE WHEN $2::jsonb ? 'segment' AND $3 > segment_v "
            "    THEN $2::jsonb->>'segment' ELSE segment END, "
            "segment_v = CASE WHEN $2::jsonb ? 'segment' THEN greatest(segment_v, $3) ELSE segment_v END, "
            "name = CASE WHEN NOT forgotten AND $2::jsonb ? 'name' AND $3 > name_v "
            "    THEN $2::jsonb->>'name' ELSE name END, "
            "name_v = CASE WHEN $2::jsonb ? 'name' THEN greatest(name_v, $3) ELSE name_v END, "
            "email = CASE WHEN NOT forgotten AND $2::jsonb ? 'email' AND $3 > email_v "
            "    THEN $2::jsonb->>'email' ELSE email END, "
            "email_v = CASE WHEN $2::jsonb ? 'email' THEN greatest(email_v, $3) ELSE email_v END "
            "WHERE customer_id = $1",
            customer_id, json.dumps(data), version,
        )

    async def apply_feedback_events(self, conn: asyncpg.Connection, events: Sequence[RawEvent]) -> None:
        for e in events:
            d = e.data
            if e.event_type == "feedback.idea_voted":
                await conn.execute(
                    f"INSERT INTO {self.s}.idea_votes AS v (feedback_id, voter_customer_id, vote, "
                    "voted_at, event_id) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (feedback_id, voter_customer_id) DO UPDATE SET vote = excluded.vote, "
                    "voted_at = excluded.voted_at, event_id = excluded.event_id "
                    "WHERE (excluded.voted_at, excluded.event_id) > (v.voted_at, v.event_id)",
                    UUID(d["feedback_id"]), UUID(d["voter_customer_id"]), d["vote"], e.occurred_at,
                    e.event_id,
                )
                continue
            common = (UUID(d["feedback_id"]), _uuid(d.get("customer_id")), d.get("source"),
                      _uuid(d.get("interaction_id")), d.get("topic"), d.get("rating"))
            await conn.execute(
                f"INSERT INTO {self.s}.feedback (feedback_id, customer_id, source, interaction_id, "
                "topic, rating) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (feedback_id) DO NOTHING",
                *common,
            )
            if e.event_type == "feedback.received":
                await conn.execute(
                    f"UPDATE {self.s}.feedback SET received_at = $2 WHERE feedback_id = $1",
                    common[0], e.occurred_at)
            elif e.event_type == "feedback.sentiment_scored":
                await conn.execute(
                    f"UPDATE {self.s}.feedback SET sentiment_score = $2, sentiment_label = $3 "
                    "WHERE feedback_id = $1", common[0], d.get("score"), d.get("label"))
            elif e.event_type == "feedback.routed":
                await conn.execute(
                    f"UPDATE {self.s}.feedback SET routed_team = $2 WHERE feedback_id = $1",
                    common[0], d.get("team"))


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value is not None else None
