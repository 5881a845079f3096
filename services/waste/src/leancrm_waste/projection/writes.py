"""All SQL of the waste projector's private store (schema ``{store}``), set-based:
each function writes one batch's rows with one statement, or reads back what a batch
recomputes from (the stored events of its interactions, its agents' tails). The rows
it writes are the records of :mod:`leancrm_waste.projection.rows`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from leancrm_servicekit.db import Conn, check_identifier
from leancrm_waste.projection.rows import (
    AgentPeriodRow,
    BusyRow,
    InteractionRow,
    LedgerRow,
    RawEvent,
    StaffedRow,
)


def _json(rows: Sequence[Any]) -> str:
    """Rows (dataclasses named like the table's columns) as one JSON array, the
    parameter of ``json_populate_recordset``/``json_to_recordset``: one C-speed dump
    per statement instead of one encoded array element per value."""
    return orjson.dumps(rows, default=_uuid_text).decode()


def _uuid_text(value: Any) -> str:
    """orjson writes uuid.UUID itself; asyncpg's own UUID type (a subclass) comes here."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_UPDATE_INTERACTION = ", ".join(
    f"{c} = excluded.{c}" for c in InteractionRow.__slots__ if c != "interaction_id")


class WasteStore:
    def __init__(self, schema: str) -> None:
        self.s = check_identifier(schema)

    async def lock_streams(self, conn: Conn, interactions: Iterable[UUID],
                           agents: Iterable[str]) -> None:
        """Lock each interaction and agent of the batch for the transaction, in sorted
        order (two transactions locking overlapping sets wait for each other, never
        deadlock). An interaction is locked by its row, created as a placeholder when
        new (the batch's recomputation fills it in): row locks take no shared memory,
        whereas thousands of advisory locks per batch could exhaust PostgreSQL's lock
        table (max_locks_per_transaction × max_connections). An agent is locked by its
        row of ``agents``, likewise. Rows of the store can be locked by the projector's
        role only: an advisory lock on a known key could be held by any role."""
        ids = sorted(set(interactions))
        if ids:
            # a new row another transaction is inserting makes this wait for its commit
            await conn.execute(
                f"INSERT INTO {self.s}.interactions (interaction_id, status, transfers, "
                "cross_channel_transfers, identifications, queue_wait_s, hold_s, handle_s, "
                "value_added_s, reached_agent) SELECT id, 'open', 0, 0, 0, 0, 0, 0, 0, FALSE "
                "FROM unnest($1::uuid[]) AS id ON CONFLICT DO NOTHING",
                ids,
            )
            await conn.execute(
                f"SELECT FROM {self.s}.interactions WHERE interaction_id = ANY($1::uuid[]) "
                "ORDER BY interaction_id FOR UPDATE",
                ids,
            )
        agent_ids = sorted(set(agents))
        if agent_ids:
            await conn.execute(
                f"INSERT INTO {self.s}.agents (agent_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                agent_ids)
            await conn.execute(
                f"SELECT FROM {self.s}.agents WHERE agent_id = ANY($1::text[]) ORDER BY agent_id FOR UPDATE",
                agent_ids)

    async def mark_seen(self, conn: Conn, ids: Sequence[str],
                        types: Sequence[str]) -> set[str]:
        """Record event ids (canonical UUID text); return those never seen before (the
        rest are duplicates), as the same text."""
        rows = await conn.fetch(
            f"INSERT INTO {self.s}.seen_events (event_id, event_type) "
            "SELECT (x->>0)::uuid, x->>1 FROM json_array_elements($1::json) AS x "
            "ON CONFLICT DO NOTHING RETURNING event_id::text",
            orjson.dumps(list(zip(ids, types, strict=True))).decode(),
        )
        return {r[0] for r in rows}

    async def add_interaction_events(self, conn: Conn, events: Sequence[RawEvent]) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.interaction_events "
            "(interaction_id, event_id, event_type, occurred_at, data) "
            "SELECT stream_id, event_id, event_type, occurred_at, data "
            "FROM json_to_recordset($1::json) AS x(stream_id uuid, event_id uuid, event_type text, "
            "occurred_at timestamptz, data json) "
            "ON CONFLICT DO NOTHING",
            _json(events),
        )

    async def interaction_events(self, conn: Conn,
                                 ids: Iterable[UUID]) -> dict[UUID, list[RawEvent]]:
        out: dict[UUID, list[RawEvent]] = {}
        rows = await conn.fetch(
            f"SELECT interaction_id, event_id::text, event_type, occurred_at, data::text "
            f"FROM {self.s}.interaction_events WHERE interaction_id = ANY($1::uuid[])",
            list(ids),
        )
        for r in rows:
            out.setdefault(r["interaction_id"], []).append(
                RawEvent(str(r["interaction_id"]), r["event_id"], r["event_type"],
                         r["occurred_at"], orjson.loads(r["data"])))
        return out

    async def replace_interactions(self, conn: Conn, rows: Sequence[InteractionRow],
                                   ledger: Sequence[LedgerRow],
                                   busy: Sequence[BusyRow]) -> None:
        ids = [r.interaction_id for r in rows]
        await conn.execute(
            f"INSERT INTO {self.s}.interactions SELECT * FROM "
            f"json_populate_recordset(NULL::{self.s}.interactions, $1::json) "
            f"ON CONFLICT (interaction_id) DO UPDATE SET {_UPDATE_INTERACTION}",
            _json(rows),
        )
        await conn.execute(f"DELETE FROM {self.s}.ledger WHERE interaction_id = ANY($1::uuid[])", ids)
        if ledger:
            await conn.execute(
                f"INSERT INTO {self.s}.ledger SELECT * FROM "
                f"json_populate_recordset(NULL::{self.s}.ledger, $1::json) "
                "ON CONFLICT (row_key) DO NOTHING",
                _json(ledger),
            )
        await conn.execute(f"DELETE FROM {self.s}.busy_hourly WHERE interaction_id = ANY($1::uuid[])", ids)
        if busy:
            await conn.execute(
                f"INSERT INTO {self.s}.busy_hourly SELECT * FROM "
                f"json_populate_recordset(NULL::{self.s}.busy_hourly, $1::json)",
                _json(busy),
            )

    async def add_agent_events(self, conn: Conn, events: Sequence[RawEvent]) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.agent_events (agent_id, event_id, event_type, occurred_at, team) "
            "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[]) "
            "ON CONFLICT DO NOTHING",
            [e.stream_id for e in events], [e.event_id for e in events],
            [e.event_type for e in events], [e.occurred_at for e in events],
            [e.data.get("team") for e in events],
        )

    async def agent_resume_points(self, conn: Conn,
                                  before: Mapping[str, datetime]) -> dict[str, datetime]:
        """Per agent, the domain's ``capacity.resume_point`` before the given instant, from
        the stored periods (agents without one are left out: replay them whole). A
        period spans past another's end only by starting at that very instant (an
        agent's periods follow one another), so one index probe tells."""
        rows = await conn.fetch(
            f"SELECT a.agent_id, c.end_at FROM unnest($1::text[], $2::timestamptz[]) AS a(agent_id, "
            "before) CROSS JOIN LATERAL (SELECT p.end_at FROM "
            f"{self.s}.agent_periods p WHERE p.agent_id = a.agent_id AND p.end_at < a.before "
            f"AND NOT EXISTS (SELECT FROM {self.s}.agent_periods q WHERE q.agent_id = p.agent_id "
            "AND q.start_at = p.end_at AND (q.end_at IS NULL OR q.end_at > p.end_at)) "
            "ORDER BY p.end_at DESC LIMIT 1) AS c",
            list(before), list(before.values()),
        )
        return {r["agent_id"]: r["end_at"] for r in rows}

    async def agent_tails(self, conn: Conn, cuts: Mapping[str, datetime | None]
                          ) -> tuple[dict[str, list[asyncpg.Record]], dict[str, list[asyncpg.Record]]]:
        """Per agent: its events after its cut (all when None), and its stored closed
        periods that began by the cut and reach past the cut's hour (they still count
        in the hours recomputed)."""
        agents, at = list(cuts), list(cuts.values())
        events: dict[str, list[asyncpg.Record]] = {a: [] for a in agents}
        for r in await conn.fetch(
            "SELECT e.agent_id, e.event_id::text, e.event_type, e.occurred_at, e.team "
            f"FROM unnest($1::text[], $2::timestamptz[]) AS a(agent_id, cut) JOIN {self.s}.agent_events e "
            "ON e.agent_id = a.agent_id AND (a.cut IS NULL OR e.occurred_at > a.cut)",
            agents, at,
        ):
            events[r["agent_id"]].append(r)
        kept: dict[str, list[asyncpg.Record]] = {a: [] for a in agents}
        for r in await conn.fetch(
            "SELECT p.agent_id, p.signed_in_event_id::text, p.team, p.start_at, p.end_at "
            f"FROM unnest($1::text[], $2::timestamptz[]) AS a(agent_id, cut) JOIN {self.s}.agent_periods p "
            "ON p.agent_id = a.agent_id AND p.start_at <= a.cut "
            "AND p.end_at > date_trunc('hour', a.cut AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
            agents, at,
        ):
            kept[r["agent_id"]].append(r)
        return events, kept

    async def replace_agent_tails(self, conn: Conn, cuts: Mapping[str, datetime | None],
                                  periods: Sequence[AgentPeriodRow],
                                  staffed: Sequence[StaffedRow]) -> None:
        """Each agent's periods after its cut and staffed hours from the cut's hour on
        (everything when the cut is None), replaced."""
        agents, at = list(cuts), list(cuts.values())
        await conn.execute(
            f"DELETE FROM {self.s}.agent_periods p USING unnest($1::text[], $2::timestamptz[]) "
            "AS a(agent_id, cut) WHERE p.agent_id = a.agent_id AND (a.cut IS NULL OR p.start_at > a.cut)",
            agents, at,
        )
        if periods:
            await conn.execute(
                f"INSERT INTO {self.s}.agent_periods SELECT * FROM "
                f"json_populate_recordset(NULL::{self.s}.agent_periods, $1::json)",
                _json(periods),
            )
        await conn.execute(
            f"DELETE FROM {self.s}.staffed_hourly s USING unnest($1::text[], $2::timestamptz[]) "
            "AS a(agent_id, cut) WHERE s.agent_id = a.agent_id AND (a.cut IS NULL OR "
            "s.bucket_start >= date_trunc('hour', a.cut AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
            agents, at,
        )
        if staffed:
            await conn.execute(
                f"INSERT INTO {self.s}.staffed_hourly SELECT * FROM "
                f"json_populate_recordset(NULL::{self.s}.staffed_hourly, $1::json)",
                _json(staffed),
            )

    async def apply_customer_events(self, conn: Conn,
                                    events: Sequence[tuple[str, UUID, int, dict[str, Any]]]) -> None:
        """(event_type, customer_id, stream_version, data) of a batch, merged per customer
        and written with one statement. Each field takes the value of the highest
        stream_version that set it; forgotten is for ever and erases name and email."""
        merged: dict[UUID, dict[str, Any]] = {}
        for event_type, customer_id, version, data in events:
            m = merged.setdefault(customer_id, {"forgotten": False})
            if event_type == "customer.forgotten":
                m["forgotten"] = True
            elif event_type in ("customer.registered", "customer.details_changed"):
                for f in ("segment", "name", "email"):
                    if f in data and version > m.get(f + "_v", 0):
                        m[f], m[f + "_v"] = data[f], version
        if not merged:
            return
        ids = list(merged)
        rows = [merged[i] for i in ids]
        for r in rows:
            if r["forgotten"]:
                r["name"] = r["email"] = None
        await conn.execute(
            f"INSERT INTO {self.s}.customers AS c (customer_id, segment, name, email, forgotten, "
            "segment_v, name_v, email_v) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], "
            "$4::text[], $5::bool[], $6::int[], $7::int[], $8::int[]) "
            "ON CONFLICT (customer_id) DO UPDATE SET "
            "forgotten = c.forgotten OR excluded.forgotten, "
            "segment = CASE WHEN excluded.segment_v > c.segment_v THEN excluded.segment ELSE c.segment END, "
            "segment_v = greatest(c.segment_v, excluded.segment_v), "
            "name = CASE WHEN c.forgotten OR excluded.forgotten THEN NULL "
            "    WHEN excluded.name_v > c.name_v THEN excluded.name ELSE c.name END, "
            "name_v = greatest(c.name_v, excluded.name_v), "
            "email = CASE WHEN c.forgotten OR excluded.forgotten THEN NULL "
            "    WHEN excluded.email_v > c.email_v THEN excluded.email ELSE c.email END, "
            "email_v = greatest(c.email_v, excluded.email_v)",
            ids, [r.get("segment") for r in rows], [r.get("name") for r in rows],
            [r.get("email") for r in rows], [r["forgotten"] for r in rows],
            [r.get("segment_v", 0) for r in rows], [r.get("name_v", 0) for r in rows],
            [r.get("email_v", 0) for r in rows],
        )

    # -- personal data (contract section 2.8) ---------------------------------------------

    async def lock_customers(self, conn: Conn, customer_ids: Iterable[UUID]) -> None:
        """Lock each customer's row of ``personal_keys`` (made when new) for the
        transaction, in sorted order, as :meth:`lock_streams` does for interactions."""
        ids = sorted(set(customer_ids))
        if not ids:
            return
        await conn.execute(f"INSERT INTO {self.s}.personal_keys (customer_id) "
                           "SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING", ids)
        await conn.execute(f"SELECT FROM {self.s}.personal_keys WHERE customer_id = ANY($1::uuid[]) "
                           "ORDER BY customer_id FOR UPDATE", ids)

    async def apply_keys(self, conn: Conn, keys: Mapping[UUID, tuple[str, str] | None]) -> None:
        """Customers' wrapped keys (kek_id, wrapped_key) as the key topic last said; None
        erases a key for ever."""
        ids = list(keys)
        await conn.execute(
            f"INSERT INTO {self.s}.personal_keys AS k (customer_id, kek_id, wrapped_key, erased) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[]) "
            "ON CONFLICT (customer_id) DO UPDATE SET "
            "kek_id = CASE WHEN k.erased OR excluded.erased THEN NULL ELSE excluded.kek_id END, "
            "wrapped_key = CASE WHEN k.erased OR excluded.erased THEN NULL ELSE excluded.wrapped_key END, "
            "erased = k.erased OR excluded.erased",
            ids, [k[0] if (k := keys[i]) else None for i in ids],
            [k[1] if (k := keys[i]) else None for i in ids], [keys[i] is None for i in ids])

    async def personal_status(self, conn: Conn, customer_ids: Iterable[UUID]
                              ) -> dict[UUID, tuple[str | None, str | None, bool]]:
        """customer_id → (kek_id, wrapped_key, erased: key tombstoned or customer forgotten)."""
        rows = await conn.fetch(
            "SELECT x.customer_id, k.kek_id, k.wrapped_key, "
            "coalesce(k.erased, FALSE) OR coalesce(c.forgotten, FALSE) AS erased "
            f"FROM unnest($1::uuid[]) AS x(customer_id) "
            f"LEFT JOIN {self.s}.personal_keys k USING (customer_id) "
            f"LEFT JOIN {self.s}.customers c USING (customer_id)", list(customer_ids))
        return {r["customer_id"]: (r["kek_id"], r["wrapped_key"], r["erased"]) for r in rows}

    async def pending_personal(self, conn: Conn, customer_ids: Iterable[UUID]
                               ) -> list[tuple[UUID, int, str, dict[str, Any]]]:
        """The sealed personal fields waiting for a key: (customer_id, stream_version,
        event_type, personal)."""
        rows = await conn.fetch(
            f"SELECT customer_id, stream_version, event_type, personal FROM {self.s}.personal_pending "
            "WHERE customer_id = ANY($1::uuid[])", list(customer_ids))
        return [(r["customer_id"], r["stream_version"], r["event_type"], orjson.loads(r["personal"]))
                for r in rows]

    async def replace_pending(self, conn: Conn, customer_ids: Iterable[UUID],
                              pending: Sequence[tuple[UUID, int, str, dict[str, Any]]]) -> None:
        """These customers' waiting personal fields become ``pending``."""
        await conn.execute(f"DELETE FROM {self.s}.personal_pending WHERE customer_id = ANY($1::uuid[])",
                           list(customer_ids))
        if pending:
            await conn.execute(
                f"INSERT INTO {self.s}.personal_pending (customer_id, stream_version, event_type, "
                "personal) SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[]) "
                "ON CONFLICT DO NOTHING",
                [p[0] for p in pending], [p[1] for p in pending], [p[2] for p in pending],
                [orjson.dumps(p[3]).decode() for p in pending])

    async def settle_personal_data(self, conn: Conn, customer_ids: Iterable[UUID]) -> None:
        """Each customer's ``personal_data`` from what the store holds: ``erased`` (key
        tombstoned or forgotten: name and email emptied, and the versions that set them
        forgotten too, so the row is the same whatever arrived before the erasure),
        ``withheld`` (sealed fields wait for a key), else ``clear``."""
        await conn.execute(
            f"UPDATE {self.s}.customers c SET personal_data = st.state, "
            "name = CASE WHEN st.state = 'erased' THEN NULL ELSE c.name END, "
            "email = CASE WHEN st.state = 'erased' THEN NULL ELSE c.email END, "
            "name_v = CASE WHEN st.state = 'erased' THEN 0 ELSE c.name_v END, "
            "email_v = CASE WHEN st.state = 'erased' THEN 0 ELSE c.email_v END "
            "FROM (SELECT c2.customer_id, CASE "
            "  WHEN c2.forgotten OR coalesce(k.erased, FALSE) THEN 'erased' "
            f"  WHEN EXISTS (SELECT FROM {self.s}.personal_pending p WHERE p.customer_id = c2.customer_id) "
            "  THEN 'withheld' ELSE 'clear' END AS state "
            f"  FROM {self.s}.customers c2 LEFT JOIN {self.s}.personal_keys k USING (customer_id) "
            "  WHERE c2.customer_id = ANY($1::uuid[])) st "
            "WHERE c.customer_id = st.customer_id", list(customer_ids))

    async def apply_feedback_events(self, conn: Conn, events: Sequence[RawEvent]) -> None:
        """Feedback events of a batch merged per feedback (each event sets its own
        columns, so order does not matter) and votes per voter (the latest vote by
        occurred_at, then event_id, wins); two statements."""
        feedback: dict[UUID, dict[str, Any]] = {}
        votes: dict[tuple[UUID, UUID], tuple[int, datetime, str]] = {}
        for e in events:
            d = e.data
            fid = UUID(str(d["feedback_id"]))
            if e.event_type == "feedback.idea_voted":
                key = (fid, UUID(str(d["voter_customer_id"])))
                vote = (int(d["vote"]), e.occurred_at, e.event_id)
                if key not in votes or (vote[1], str(vote[2])) > (votes[key][1], str(votes[key][2])):
                    votes[key] = vote
                continue
            f = feedback.setdefault(fid, {})
            f.update(customer_id=_uuid(d.get("customer_id")), source=d.get("source"),
                     interaction_id=_uuid(d.get("interaction_id")), topic=d.get("topic"),
                     rating=d.get("rating"))
            if e.event_type == "feedback.received":
                f["received_at"] = e.occurred_at
            elif e.event_type == "feedback.sentiment_scored":
                f["score"], f["label"] = d.get("score"), d.get("label")
            elif e.event_type == "feedback.routed":
                f["team"] = d.get("team")
        if feedback:
            ids = list(feedback)
            rows = [feedback[i] for i in ids]
            await conn.execute(
                f"INSERT INTO {self.s}.feedback AS f (feedback_id, customer_id, source, interaction_id, "
                "topic, rating, received_at, sentiment_score, sentiment_label, routed_team) "
                "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], "
                "$6::int[], $7::timestamptz[], $8::float8[], $9::text[], $10::text[]) "
                "ON CONFLICT (feedback_id) DO UPDATE SET "
                "received_at = coalesce(excluded.received_at, f.received_at), "
                "sentiment_score = coalesce(excluded.sentiment_score, f.sentiment_score), "
                "sentiment_label = coalesce(excluded.sentiment_label, f.sentiment_label), "
                "routed_team = coalesce(excluded.routed_team, f.routed_team)",
                ids, [r.get("customer_id") for r in rows], [r.get("source") for r in rows],
                [r.get("interaction_id") for r in rows], [r.get("topic") for r in rows],
                [r.get("rating") for r in rows], [r.get("received_at") for r in rows],
                [r.get("score") for r in rows], [r.get("label") for r in rows],
                [r.get("team") for r in rows],
            )
        if votes:
            keys = list(votes)
            await conn.execute(
                f"INSERT INTO {self.s}.idea_votes AS v (feedback_id, voter_customer_id, vote, voted_at, "
                "event_id) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[], "
                "$5::uuid[]) ON CONFLICT (feedback_id, voter_customer_id) DO UPDATE SET "
                "vote = excluded.vote, voted_at = excluded.voted_at, event_id = excluded.event_id "
                "WHERE (excluded.voted_at, excluded.event_id::text) > (v.voted_at, v.event_id::text)",
                [k[0] for k in keys], [k[1] for k in keys], [votes[k][0] for k in keys],
                [votes[k][1] for k in keys], [votes[k][2] for k in keys],
            )


    async def apply_improvement_events(self, conn: Conn, events: Sequence[RawEvent]) -> None:
        """Improvement events of a batch merged per improvement (the start sets its
        columns, the end its own: order does not matter); one statement."""
        merged: dict[UUID, dict[str, Any]] = {}
        for e in events:
            d = e.data
            m = merged.setdefault(UUID(str(d["improvement_id"])), {})
            if e.event_type == "improvement.started":
                scope, expected = d.get("scope") or {}, d.get("expected") or {}
                m.update(title=d.get("title"), target=d.get("target"), channel=scope.get("channel"),
                         reason=scope.get("reason"), team=scope.get("team"),
                         starts_on=date.fromisoformat(str(d["starts_on"])),
                         owner_team=d.get("owner_team"), direction=expected.get("direction"),
                         size=expected.get("size"), note=d.get("note"), started_at=e.occurred_at)
            elif e.event_type == "improvement.ended":
                m.update(outcome=d.get("outcome"), outcome_note=d.get("note"), ended_at=e.occurred_at)
        if not merged:
            return
        ids = list(merged)
        rows = [merged[i] for i in ids]

        def col(name: str) -> list[Any]:
            return [r.get(name) for r in rows]

        await conn.execute(
            f"INSERT INTO {self.s}.improvements AS i (improvement_id, title, target, channel, reason, "
            "team, starts_on, owner_team, expected_direction, expected_size, note, started_at, "
            "outcome, outcome_note, ended_at) SELECT * FROM unnest($1::uuid[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[], $9::text[], "
            "$10::float8[], $11::text[], $12::timestamptz[], $13::text[], $14::text[], "
            "$15::timestamptz[]) ON CONFLICT (improvement_id) DO UPDATE SET "
            + ", ".join(f"{c} = coalesce(excluded.{c}, i.{c})" for c in (
                "title", "target", "channel", "reason", "team", "starts_on", "owner_team",
                "expected_direction", "expected_size", "note", "started_at", "outcome",
                "outcome_note", "ended_at")),
            ids, col("title"), col("target"), col("channel"), col("reason"), col("team"),
            col("starts_on"), col("owner_team"), col("direction"), col("size"), col("note"),
            col("started_at"), col("outcome"), col("outcome_note"), col("ended_at"),
        )


def _uuid(value: Any) -> UUID | None:
    return UUID(str(value)) if value is not None else None
