"""Section 5 of the contract, per interaction and per agent: the figures and ledger
rows one stream determines. Pure: no I/O (the projector feeds it stored events).

Events are ordered by occurred_at, then by their natural place in a contact's life
(LIFECYCLE), then by event_id, so duplicates and arrival order change nothing.
Figures that need other interactions (repeat_of, first_contact_resolution,
defects/repeat_contact) and overproduction are derived set-based in the views.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from leancrm_waste.store import InteractionRow, LedgerRow, RawEvent

LIFECYCLE = {t: i for i, t in enumerate((
    "interaction.started", "interaction.customer_identified", "interaction.queued",
    "interaction.agent_assigned", "interaction.hold_started", "interaction.hold_ended",
    "interaction.resolved", "interaction.transferred", "interaction.abandoned",
    "interaction.ended",
))}
HOUR = timedelta(hours=1)
AGED = timedelta(hours=24)


def ordered(events: Iterable[RawEvent]) -> list[RawEvent]:
    unique = {e.event_id: e for e in events}.values()
    return sorted(unique, key=lambda e: (e.occurred_at, LIFECYCLE.get(e.event_type, 99), str(e.event_id)))


def split_by_hour(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """Seconds of [start, end) in each UTC hour it touches."""
    out = []
    cursor = start
    while cursor < end:
        bucket = cursor.replace(minute=0, second=0, microsecond=0)
        nxt = min(bucket + HOUR, end)
        out.append((bucket, (nxt - cursor).total_seconds()))
        cursor = nxt
    return out


@dataclass
class _Segment:
    agent_id: str
    team: str | None
    start: datetime
    hold_s: float = 0.0
    resolved_inside: bool = False


def interaction(interaction_id: UUID, events: Sequence[RawEvent]
                ) -> tuple[InteractionRow, list[LedgerRow], list[tuple[UUID, datetime, str, float]]]:
    evs = ordered(events)
    started: RawEvent | None = next((e for e in evs if e.event_type == "interaction.started"), None)
    d0: dict[str, Any] = started.data if started else {}
    customer_id = UUID(str(d0["customer_id"])) if d0.get("customer_id") else None
    channel, reason = d0.get("channel"), d0.get("reason")
    started_at = started.occurred_at if started else None
    ledger: list[LedgerRow] = []
    busy: list[tuple[UUID, datetime, str, float]] = []

    def row(waste_type: str, subtype: str, at: datetime, quantity: float, unit: str,
            source: UUID | None, team: str | None) -> None:
        ledger.append(LedgerRow(
            row_key=f"{interaction_id}:{waste_type}:{subtype}:{source}", interaction_id=interaction_id,
            waste_type=waste_type, subtype=subtype, occurred_at=at, customer_id=customer_id,
            channel=channel, reason=reason, team=team, quantity=quantity, unit=unit,
            source_event_id=source))

    queue_open: RawEvent | None = None
    hold_open: RawEvent | None = None
    segment: _Segment | None = None
    queue_wait = hold = handle = value_added = 0.0
    identifications = transfers = cross = 0
    transfers_at_resolve: int | None = None
    resolved_by: str | None = None
    abandoned = False
    ended_at: datetime | None = None
    reached_agent = False
    team: str | None = None

    def close_queue(at: datetime, picked_by: str | None) -> None:
        nonlocal queue_open, queue_wait
        if queue_open is not None:
            dur = (at - queue_open.occurred_at).total_seconds()
            queue_wait += dur
            if dur > 0:
                row("waiting", "queue", queue_open.occurred_at, dur, "seconds", queue_open.event_id,
                    picked_by or team)
            queue_open = None

    def close_hold(at: datetime) -> None:
        nonlocal hold_open, hold
        if hold_open is not None:
            dur = (at - hold_open.occurred_at).total_seconds()
            hold += dur
            if segment is not None:
                segment.hold_s += dur
            if dur > 0:
                row("waiting", "hold", hold_open.occurred_at, dur, "seconds", hold_open.event_id, team)
            hold_open = None

    def close_segment(at: datetime) -> None:
        nonlocal segment, handle, value_added
        if segment is not None:
            dur = (at - segment.start).total_seconds()
            handle += dur
            if segment.resolved_inside:
                value_added = dur - segment.hold_s
            if segment.team is not None:
                busy.extend((interaction_id, b, segment.team, s) for b, s in split_by_hour(segment.start, at))
            segment = None

    for e in evs:
        t, d, at = e.event_type, e.data, e.occurred_at
        if t == "interaction.customer_identified":
            identifications += 1
            if identifications > 1:
                row("over_processing", "repeat_identification", at, 1, "count", e.event_id, team)
        elif t == "interaction.queued":
            close_queue(at, None)
            queue_open = e
        elif t == "interaction.agent_assigned":
            close_queue(at, d.get("team"))
            close_segment(at)
            team = d.get("team")
            reached_agent = True
            segment = _Segment(str(d.get("agent_id")), team, at)
        elif t == "interaction.hold_started":
            close_hold(at)
            hold_open = e
        elif t == "interaction.hold_ended":
            close_hold(at)
        elif t == "interaction.transferred":
            close_hold(at)
            close_segment(at)
            close_queue(at, None)
            transfers += 1
            if d.get("to_channel") != d.get("from_channel"):
                cross += 1
                row("transportation", "channel_switch", at, 1, "count", e.event_id, team)
            else:
                row("motion", "handoff", at, 1, "count", e.event_id, team)
            queue_open = e
        elif t == "interaction.resolved":
            resolved_by = d.get("resolved_by")
            transfers_at_resolve = transfers
            if resolved_by == "agent":
                if segment is not None:
                    segment.resolved_inside = True
            elif started_at is not None:
                value_added = (at - started_at).total_seconds()
        elif t == "interaction.abandoned":
            abandoned = True
            close_queue(at, None)
        elif t == "interaction.ended":
            close_hold(at)
            close_segment(at)
            close_queue(at, None)
            ended_at = at

    if abandoned:
        status = "abandoned"
    elif resolved_by is not None:
        status = "resolved"
    elif ended_at is not None:
        status = "unresolved"
    else:
        status = "open"
    ended_event = next((e for e in reversed(evs) if e.event_type == "interaction.ended"), None)
    if ended_at is not None and ended_event is not None:
        if status in ("unresolved", "abandoned"):
            row("defects", "unresolved", ended_at, 1, "count", ended_event.event_id, team)
        if status == "resolved" and (transfers_at_resolve or 0) >= 1:
            row("defects", "not_first_agent", ended_at, 1, "count", ended_event.event_id, team)
        if started_at is not None and ended_at - started_at > AGED:
            row("inventory", "aged_backlog", ended_at, 1, "count", ended_event.event_id, team)
    lead = (ended_at - started_at).total_seconds() if ended_at and started_at else None
    busy_sum: dict[tuple[datetime, str], float] = {}
    for _, bucket, busy_team, seconds in busy:
        busy_sum[(bucket, busy_team)] = busy_sum.get((bucket, busy_team), 0.0) + seconds
    return (
        InteractionRow(
            interaction_id=interaction_id, customer_id=customer_id, channel=channel, reason=reason,
            started_at=started_at, started_event_id=started.event_id if started else None,
            ended_at=ended_at, status=status, resolved_by=resolved_by, transfers=transfers,
            cross_channel_transfers=cross, identifications=identifications,
            queue_wait_s=queue_wait, hold_s=hold, handle_s=handle, value_added_s=value_added,
            lead_time_s=lead, reached_agent=reached_agent, team=team,
        ),
        ledger,
        [(interaction_id, b, t, sec) for (b, t), sec in sorted(busy_sum.items())],
    )


def staffed(agent_id: str, events: Sequence[Any]) -> list[tuple[str, datetime, str, float]]:
    """Closed sign-in periods (agent.signed_in → next agent.signed_out), under the team
    given at sign-in, split by UTC hour. ``events`` have event_type, occurred_at, team
    and event_id, in (occurred_at, event_type, event_id) order."""
    out: dict[tuple[datetime, str], float] = {}
    signed_in: tuple[datetime, str] | None = None
    for e in events:
        if e["event_type"] == "agent.signed_in":
            signed_in = (e["occurred_at"], e["team"])
        elif e["event_type"] == "agent.signed_out" and signed_in is not None:
            start, team = signed_in
            for bucket, seconds in split_by_hour(start, e["occurred_at"]):
                out[(bucket, team)] = out.get((bucket, team), 0.0) + seconds
            signed_in = None
    return [(agent_id, b, t, s) for (b, t), s in sorted(out.items())]
