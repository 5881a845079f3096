"""Applying one consumed batch to the read model, inside the batch's transaction.

Dead letters are returned (the checkpointed consumer queues them in the outbox);
unknown event types are skipped; events already applied (by event_id) are skipped.
Interactions touched by the batch are recomputed from all their events (those stored
before and the batch's own) with the pure waste definitions, agents from their last
resume point (``domain.capacity.resume_point``: the same as from their first event),
so the figures do not depend on arrival order, batch boundaries, duplicates or which
instance applied what.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leancrm_servicekit.db import Conn
from leancrm_servicekit.inbound import DeadLetter, InboundRecord, dead_letter_message
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.outbox import OutboxMessage
from leancrm_waste.projection import figures
from leancrm_waste.projection.decoding import DecodedEvent, Skipped, decode_event
from leancrm_waste.projection.rows import RawEvent
from leancrm_waste.projection.writes import WasteStore

log = get_logger(component="apply")
CONSUMER = "waste"


class WasteApplier:
    def __init__(self, store: WasteStore) -> None:
        self.store = store
        self.skipped = 0

    async def __call__(
        self, conn: Conn, records: Sequence[InboundRecord]
    ) -> list[OutboxMessage]:
        dead: list[OutboxMessage] = []
        events: list[DecodedEvent] = []
        for r in records:
            d = decode_event(r)
            if isinstance(d, DeadLetter):
                log.warning("event_dead_lettered", error_code=d.error_code, reason=d.reason,
                            topic=r.topic, partition=r.partition, offset=r.offset)
                dead.append(dead_letter_message(d, CONSUMER))
            elif isinstance(d, Skipped):
                self.skipped += 1
            else:
                events.append(d)
        if not events:
            return dead
        # The contract lets one stream's events arrive in two partitions (a producer may
        # key them otherwise), so two transactions, here or in another instance, may
        # hold events of the same interaction: each would recompute it without the
        # other's uncommitted events and the last to commit would win. Locking every
        # interaction and agent of the batch first, in sorted order, serialises them:
        # the second reads the first's events once it has committed.
        streams: dict[str, UUID] = {}
        agent_ids: set[str] = set()
        for e in events:
            kind = e.kind
            if kind == "interaction" and e.envelope.stream_id not in streams:
                streams[e.envelope.stream_id] = UUID(e.envelope.stream_id)  # once each
            elif kind == "agent":
                agent_ids.add(e.envelope.stream_id)
        await self.store.lock_streams(conn, set(streams.values()), agent_ids)
        ids = [str(e.envelope.event_id) for e in events]  # canonical text, once per event
        new_ids = await self.store.mark_seen(conn, ids, [e.envelope.event_type for e in events])
        interactions: list[RawEvent] = []
        agents: list[RawEvent] = []
        feedback: list[RawEvent] = []
        improvements: list[RawEvent] = []
        customers: list[tuple[str, UUID, int, dict[str, Any]]] = []
        for e, event_id in zip(events, ids, strict=True):
            if event_id not in new_ids:
                continue  # applied before
            new_ids.discard(event_id)  # a duplicate inside the batch counts once
            env = e.envelope
            kind = e.kind
            if kind == "customer":
                if env.customer_id is not None:
                    customers.append((env.event_type, env.customer_id, env.stream_version, e.data))
                continue
            # as the store gives it back: occurred_at in UTC
            raw = RawEvent(env.stream_id, event_id, env.event_type,
                           env.occurred_at.astimezone(UTC), e.data)
            if kind == "interaction":
                interactions.append(raw)
            elif kind == "agent":
                agents.append(raw)
            elif kind == "feedback":
                feedback.append(raw)
            elif kind == "improvement":
                improvements.append(raw)
        if customers:
            await self.store.apply_customer_events(conn, customers)
        if interactions:
            # read what was stored before this batch, then add the batch: the batch's own
            # events (never seen before, by event_id) need not make the round trip back
            by_interaction = await self.store.interaction_events(
                conn, {streams[e.stream_id] for e in interactions})
            await self.store.add_interaction_events(conn, interactions)
            for raw in interactions:
                by_interaction.setdefault(streams[raw.stream_id], []).append(raw)
            await self._recompute_interactions(conn, by_interaction)
        if agents:
            await self.store.add_agent_events(conn, agents)
            first: dict[str, datetime] = {}
            for raw in agents:
                if raw.stream_id not in first or raw.occurred_at < first[raw.stream_id]:
                    first[raw.stream_id] = raw.occurred_at
            await self._recompute_agents(conn, first)
        if feedback:
            await self.store.apply_feedback_events(conn, feedback)
        if improvements:
            await self.store.apply_improvement_events(conn, improvements)
        return dead

    async def _recompute_interactions(self, conn: Conn,
                                      by_interaction: dict[UUID, list[RawEvent]]) -> None:
        """Recompute each interaction from all its events, stored and new."""
        rows, ledger, busy = [], [], []
        for interaction_id in sorted(by_interaction):
            row, waste_rows, busy_rows = figures.interaction(interaction_id, by_interaction[interaction_id])
            rows.append(row)
            ledger.extend(waste_rows)
            busy.extend(busy_rows)
        await self.store.replace_interactions(conn, rows, ledger, busy)

    async def _recompute_agents(self, conn: Conn, first: dict[str, datetime]) -> None:
        """Replay each agent from its last resume point before the batch's earliest event
        of that agent (the whole history when there is none)."""
        points = await self.store.agent_resume_points(conn, first)
        cuts = {agent_id: points.get(agent_id) for agent_id in sorted(first)}
        events, kept = await self.store.agent_tails(conn, cuts)
        periods, staffed = [], []
        for agent_id, cut in cuts.items():
            p, st = figures.agent_tail(agent_id, cut, events[agent_id], kept[agent_id])
            periods.extend(p)
            staffed.extend(st)
        await self.store.replace_agent_tails(conn, cuts, periods, staffed)
