"""Applying one consumed batch to the read model, inside the batch's transaction.

Dead letters are returned (the checkpointed consumer queues them in the outbox);
unknown event types are skipped; events already applied (by event_id) are skipped.
Interactions touched by the batch are recomputed from all their events (those stored
before and the batch's own) with the pure waste definitions, agents from their last
resume point (``domain.capacity.resume_point``: the same as from their first event),
so the figures do not depend on arrival order, batch boundaries, duplicates or which
instance applied what.

Personal data (contract section 2.8): records of the key topic store each customer's
wrapped key, or erase it; sealed personal fields are opened with the KEK-unwrapped key
(in memory only) and merged like clear ones, or wait, ciphertext only, until a key
comes — ``personal_data`` says ``withheld`` meanwhile, ``erased`` once the key's
tombstone or ``customer.forgotten`` arrived, whatever the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leancrm_contracts.customers import CLEAR_ALG, CustomerForgotten
from leancrm_contracts.topics import CUSTOMERS_KEYS
from leancrm_servicekit.crypto import CannotOpen, Keyring, open_personal
from leancrm_servicekit.db import Conn
from leancrm_servicekit.inbound import DeadLetter, InboundRecord, dead_letter_message
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.outbox import OutboxMessage
from leancrm_waste.projection import figures
from leancrm_waste.projection.decoding import DecodedEvent, KeyUpdate, Skipped, decode_event, decode_key
from leancrm_waste.projection.rows import RawEvent
from leancrm_waste.projection.writes import WasteStore

log = get_logger(component="apply")
CONSUMER = "waste"


CustomerEvent = tuple[str, UUID, int, dict[str, Any]]  # event_type, customer_id, version, data
Pending = tuple[UUID, int, str, dict[str, Any]]  # customer_id, version, event_type, personal


class WasteApplier:
    def __init__(self, store: WasteStore, keyring: Keyring | None = None) -> None:
        """``keyring``: the KEKs that unwrap customers' keys; None: personal data sealed
        since schema_version 2 is withheld."""
        self.store = store
        self.keyring = keyring
        self.skipped = 0

    async def __call__(
        self, conn: Conn, records: Sequence[InboundRecord]
    ) -> list[OutboxMessage]:
        dead: list[OutboxMessage] = []
        events: list[DecodedEvent] = []
        keys: dict[UUID, tuple[str, str] | None] = {}  # the last word of the batch per customer
        for r in records:
            d = decode_key(r) if r.topic == CUSTOMERS_KEYS else decode_event(r)
            if isinstance(d, KeyUpdate):
                keys[d.customer_id] = (d.key.kek_id, d.key.wrapped_key) if d.key else None
            elif isinstance(d, DeadLetter):
                log.warning("event_dead_lettered", error_code=d.error_code, reason=d.reason,
                            topic=r.topic, partition=r.partition, offset=r.offset)
                dead.append(dead_letter_message(d, CONSUMER))
            elif isinstance(d, Skipped):
                self.skipped += 1
            else:
                events.append(d)
        if not events:
            if keys:
                await self.store.lock_customers(conn, set(keys))
                await self._apply_customers(conn, [], keys)
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
        # a customer's key and its events come on different topics, so perhaps in two
        # transactions at once: each waits for the other's commit, and sees what it wrote
        await self.store.lock_customers(conn, set(keys) | {
            e.envelope.customer_id for e in events if e.kind == "customer" and e.envelope.customer_id})
        ids = [str(e.envelope.event_id) for e in events]  # canonical text, once per event
        new_ids = await self.store.mark_seen(conn, ids, [e.envelope.event_type for e in events])
        interactions: list[RawEvent] = []
        agents: list[RawEvent] = []
        feedback: list[RawEvent] = []
        improvements: list[RawEvent] = []
        customers: list[CustomerEvent] = []
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
        if customers or keys:
            await self._apply_customers(conn, customers, keys)
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

    async def _apply_customers(self, conn: Conn, customers: Sequence[CustomerEvent],
                               keys: dict[UUID, tuple[str, str] | None]) -> None:
        """The batch's key records stored (a tombstone erases); customer events (upcast:
        personal fields clear, ``alg: none``, or sealed) merged into the customers table,
        sealed fields opened with the customer's key or kept waiting for one; then each
        customer's ``personal_data`` settled. The customers are locked."""
        if keys:
            await self.store.apply_keys(conn, keys)
        keyed = set(keys)
        entries: list[CustomerEvent] = []
        sealed: list[Pending] = []
        forgotten: set[UUID] = set()
        for event_type, customer_id, version, data in customers:
            fields = dict(data)
            personal = fields.pop("personal", None)
            if event_type == CustomerForgotten.event_type:
                forgotten.add(customer_id)
            if personal is not None and personal.get("alg") == CLEAR_ALG:
                fields.update(open_personal(None, customer_id, event_type, personal))
            elif personal is not None:
                sealed.append((customer_id, version, event_type, personal))
            entries.append((event_type, customer_id, version, fields))
        touched = keyed | forgotten | {p[0] for p in sealed}
        if touched:
            stored = await self.store.pending_personal(conn, touched)
            waiting, opened = self._open(
                [*stored, *sealed], await self.store.personal_status(conn, touched), forgotten)
            entries.extend(opened)
            await self.store.replace_pending(conn, touched, waiting)
        if entries:
            await self.store.apply_customer_events(conn, entries)
        await self.store.settle_personal_data(conn, touched | {e[1] for e in entries})

    def _open(self, pending: Sequence[Pending],
              status: dict[UUID, tuple[str | None, str | None, bool]], forgotten: set[UUID]
              ) -> tuple[list[Pending], list[CustomerEvent]]:
        """(what still waits for a key, what opened as customer events with clear fields);
        what an erased key sealed is dropped."""
        waiting: list[Pending] = []
        opened: list[CustomerEvent] = []
        data_keys: dict[UUID, bytes | None] = {}
        for customer_id, version, event_type, personal in pending:
            kek_id, wrapped, erased = status.get(customer_id, (None, None, False))
            if erased or customer_id in forgotten:
                continue
            if customer_id not in data_keys:
                data_keys[customer_id] = self._unwrap(customer_id, kek_id, wrapped)
            try:
                fields = open_personal(data_keys[customer_id], customer_id, event_type, personal)
            except CannotOpen:
                waiting.append((customer_id, version, event_type, personal))
                continue
            opened.append((event_type, customer_id, version, fields))
        return waiting, opened

    def _unwrap(self, customer_id: UUID, kek_id: str | None, wrapped: str | None) -> bytes | None:
        if self.keyring is None or kek_id is None or wrapped is None:
            return None
        try:
            return self.keyring.unwrap(customer_id, kek_id, wrapped)
        except CannotOpen as exc:
            log.warning("personal_data_key_unusable", customer_id=str(customer_id), kek_id=kek_id,
                        reason=str(exc))
            return None

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
