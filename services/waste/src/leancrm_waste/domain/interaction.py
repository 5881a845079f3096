"""Per interaction (contract section 5): every ``waste.interactions`` column that one
interaction's own events determine (``repeat_of`` and ``first_contact_resolution`` need
the customer's other interactions: see ``repeats``).

Each duration is implemented exactly as the contract words it, over the events in the
order of ``events.order_interaction_events`` ("next" = next in that order):

- queue episode: each ``queued`` or ``transferred`` (which re-queues) runs to the next
  ``agent_assigned``, ``abandoned`` or ``ended``;
- hold episode: each ``hold_started`` runs to the next ``hold_ended``, ``transferred`` or
  ``ended``;
- agent segment: each ``agent_assigned`` runs to the next ``transferred`` or ``ended``.

An episode or segment whose closing event has not arrived yet is *open*: it has no end
and contributes nothing to any sum (nor to busy time, nor to the ledger) until it closes.
Episodes are taken literally, each from its own start, so overlapping episodes are
each counted in full. Section 4 rules out overlapping holds and agent segments, but
not one overlap of queue episodes: ``queue_interaction`` is permitted while an agent
is assigned (assignment clears "queued"), and a ``transferred`` before the next
``agent_assigned`` then starts a second episode while the first is still open — the
contract lists no ``transferred`` among a queue episode's closers, so both run to that
next ``agent_assigned`` and the overlap counts twice in queue_wait_s (and gives two
waiting/queue rows). Input section 4 forbids (two ``agent_assigned`` without a
transfer between) likewise gives overlapping segments, both counted.

Interpretations where the contract is silent (each is tested):

- status: ``abandoned`` if an ``abandoned`` event exists (even before ``ended``);
  else ``resolved`` if a ``resolved`` exists (even before ``ended``); else ``unresolved``
  if ``ended``; else ``open``. Section 4 makes resolved and abandoned exclusive.
- value_added_s for ``resolved_by = agent``: the agent segment in which ``resolved``
  occurred is the one that started before it and had not closed before it (in event
  order; "resolved" and the segment's closing event at the same instant count as
  inside, as the lifecycle rank puts ``resolved`` first). While that segment is still
  open its duration is unknown and value_added_s is 0; if ``resolved`` falls in no
  segment (no agent assigned at the time) it is 0. "Hold inside it" is the part of each
  closed hold episode that lies inside the segment, summed; the result is never
  below 0. ``self_service``/``community``/``bot``: resolved − started (0 while
  ``started`` is missing). Anything else, or not resolved: 0.
- cross-channel transfer: to_channel ≠ from_channel. A null ``to_channel`` means the
  channel did not change; a null ``from_channel`` is taken as the channel the
  interaction was in (the started channel, changed by every earlier transfer).
- partial histories (e.g. no ``started`` yet): nothing raises; what is unknown is None
  (customer_id, channel, reason, started_at, lead_time_s) and what is known is counted.
  interaction_id is taken from the argument, else from any event's ``data`` (every
  interaction command, hence event, carries it).
- several ``resolved``/``ended``/``started`` events with different ids (forbidden by
  section 4): the first in event order counts.
- team attribution (carried on episodes, identifications and transfers for the ledger):
  the team of the agent segment concerned — the segment active at the event (for a
  transfer, the one it closes; for a hold, the one it interrupts); else the team of the
  agent last assigned before it; else None (no agent yet). A queue episode's team is
  the team of the agent whose assignment closes it (the team that answered); if it is
  closed otherwise (abandoned, ended) or still open, the team last assigned before it
  started (e.g. the transferring agent's), else None. ``last_team`` is the team of the
  last ``agent_assigned`` of all.
- sums are exact-rounded (``math.fsum``), so they do not depend on summation order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from math import fsum
from typing import Any

from leancrm_waste.domain.events import (
    ABANDONED,
    ASSIGNED,
    ENDED,
    HOLD_ENDED,
    HOLD_STARTED,
    IDENTIFIED,
    QUEUED,
    RESOLVED,
    STARTED,
    TRANSFERRED,
    Event,
    order_interaction_events,
)

SELF_SERVICE_RESOLVERS = frozenset({"self_service", "community", "bot"})


def seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


@dataclass(frozen=True)
class AgentSegment:
    """``agent_assigned`` → next ``transferred``/``ended`` (end None while open)."""

    start: datetime
    end: datetime | None
    team: str | None
    agent_id: str | None
    source_event_id: str  # the agent_assigned event

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else seconds(self.start, self.end)


@dataclass(frozen=True)
class Episode:
    """A queue episode (``queued``/``transferred`` → next ``agent_assigned``/``abandoned``/
    ``ended``) or a hold episode (``hold_started`` → next ``hold_ended``/``transferred``/
    ``ended``); end None while open. ``team``: see ``interaction_wastes``."""

    kind: str  # "queue" or "hold"
    start: datetime
    end: datetime | None
    source_event_id: str  # the event that started it
    team: str | None

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else seconds(self.start, self.end)


@dataclass(frozen=True)
class Identification:
    event_id: str
    at: datetime
    step: str | None
    team: str | None  # the segment active at the time, else the last assigned team, else None


@dataclass(frozen=True)
class Transfer:
    event_id: str
    at: datetime
    from_channel: str | None
    to_channel: str | None
    cross_channel: bool
    team: str | None  # the segment the transfer closes, else the last assigned team


@dataclass(frozen=True)
class InteractionFigures:
    # waste.interactions columns
    interaction_id: str | None
    customer_id: str | None
    channel: str | None
    reason: str | None
    started_at: datetime | None
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
    # what the ledger, capacity, repeats and rates need besides
    resolved: bool
    resolved_at: datetime | None
    transfers_before_resolution: int
    reached_agent: bool
    last_team: str | None
    started_event_id: str | None
    ended_event_id: str | None
    agent_segments: tuple[AgentSegment, ...]
    queue_episodes: tuple[Episode, ...]
    hold_episodes: tuple[Episode, ...]
    identification_events: tuple[Identification, ...]
    transfer_events: tuple[Transfer, ...]

    @property
    def abandoned(self) -> bool:
        return self.status == "abandoned"

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def _next_index(evs: Sequence[Event], after: int, closers: frozenset[str]) -> int | None:
    for j in range(after + 1, len(evs)):
        if evs[j].event_type in closers:
            return j
    return None


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _interaction_id(given: str | None, evs: Sequence[Event]) -> str | None:
    ids = {str(e.data["interaction_id"]) for e in evs if e.data.get("interaction_id") is not None}
    if given is not None:
        ids.add(given)
    if len(ids) > 1:
        raise ValueError(f"events of more than one interaction: {sorted(ids)}")
    return next(iter(ids), None)


QUEUE_CLOSERS = frozenset({ASSIGNED, ABANDONED, ENDED})
HOLD_CLOSERS = frozenset({HOLD_ENDED, TRANSFERRED, ENDED})
SEGMENT_CLOSERS = frozenset({TRANSFERRED, ENDED})


def summarise_interaction(events: Iterable[Event], interaction_id: str | None = None) -> InteractionFigures:
    """The figures of ONE interaction from its events, in any order, with duplicates."""
    return summarise_ordered(order_interaction_events(events), interaction_id)


def summarise_ordered(evs: Sequence[Event], interaction_id: str | None = None) -> InteractionFigures:
    """The figures of events already deduplicated and in order (``summarise_interaction``
    is this after ``order_interaction_events``)."""
    iid = _interaction_id(interaction_id, evs)
    at = [e.occurred_at for e in evs]

    def first(event_type: str) -> int | None:
        return next((i for i, e in enumerate(evs) if e.event_type == event_type), None)

    i_started, i_ended, i_resolved = first(STARTED), first(ENDED), first(RESOLVED)
    d0 = evs[i_started].data if i_started is not None else {}
    started_at = at[i_started] if i_started is not None else None
    ended_at = at[i_ended] if i_ended is not None else None

    # agent segments, as (start index, end index | None)
    seg_idx = [(i, _next_index(evs, i, SEGMENT_CLOSERS))
               for i, e in enumerate(evs) if e.event_type == ASSIGNED]

    def team_of(i: int) -> str | None:
        return _str_or_none(evs[i].data.get("team"))

    def segment_at(k: int) -> int | None:
        """Start index of the most recently started segment active at index k."""
        active = [s for s, end in seg_idx if s < k and (end is None or end >= k)]
        return active[-1] if active else None

    def last_assigned_before(k: int) -> int | None:
        before = [s for s, _ in seg_idx if s < k]
        return before[-1] if before else None

    def team_at(k: int) -> str | None:
        """The team of the segment concerned at index k, else the last assigned team."""
        s = segment_at(k)
        if s is None:
            s = last_assigned_before(k)
        return None if s is None else team_of(s)

    segments = tuple(
        AgentSegment(start=at[s], end=at[end] if end is not None else None, team=team_of(s),
                     agent_id=_str_or_none(evs[s].data.get("agent_id")), source_event_id=evs[s].event_id)
        for s, end in seg_idx)

    queue: list[Episode] = []
    holds: list[Episode] = []
    for i, e in enumerate(evs):
        if e.event_type in (QUEUED, TRANSFERRED):
            j = _next_index(evs, i, QUEUE_CLOSERS)
            if j is not None and evs[j].event_type == ASSIGNED:
                team = team_of(j)  # the team that answered
            else:
                last = last_assigned_before(i)  # e.g. the transferring agent's
                team = None if last is None else team_of(last)
            queue.append(Episode("queue", at[i], at[j] if j is not None else None, e.event_id, team))
        elif e.event_type == HOLD_STARTED:
            j = _next_index(evs, i, HOLD_CLOSERS)
            end = at[j] if j is not None else None
            holds.append(Episode("hold", at[i], end, e.event_id, team_at(i)))

    # identifications and transfers
    idents = tuple(Identification(e.event_id, at[i], _str_or_none(e.data.get("step")), team_at(i))
                   for i, e in enumerate(evs) if e.event_type == IDENTIFIED)
    transfers: list[Transfer] = []
    channel_now = _str_or_none(d0.get("channel"))
    for i, e in enumerate(evs):
        if e.event_type != TRANSFERRED:
            continue
        from_ch = _str_or_none(e.data.get("from_channel")) or channel_now
        to_ch = _str_or_none(e.data.get("to_channel")) or from_ch
        transfers.append(Transfer(e.event_id, at[i], _str_or_none(e.data.get("from_channel")),
                                  _str_or_none(e.data.get("to_channel")), to_ch != from_ch, team_at(i)))
        channel_now = to_ch

    # value added
    resolved_by = _str_or_none(evs[i_resolved].data.get("resolved_by")) if i_resolved is not None else None
    value_added = 0.0
    if i_resolved is not None and resolved_by == "agent":
        s = segment_at(i_resolved)
        if s is not None:
            seg = next(x for x in segments if x.source_event_id == evs[s].event_id)
            if seg.end is not None:
                inside = 0.0
                for h in holds:
                    if h.end is not None:
                        lo, hi = max(h.start, seg.start), min(h.end, seg.end)
                        if hi > lo:
                            inside += seconds(lo, hi)
                value_added = max(0.0, seconds(seg.start, seg.end) - inside)
    elif i_resolved is not None and resolved_by in SELF_SERVICE_RESOLVERS and started_at is not None:
        value_added = seconds(started_at, at[i_resolved])

    if first(ABANDONED) is not None:
        status = "abandoned"
    elif i_resolved is not None:
        status = "resolved"
    elif i_ended is not None:
        status = "unresolved"
    else:
        status = "open"

    last = seg_idx[-1][0] if seg_idx else None
    return InteractionFigures(
        interaction_id=iid,
        customer_id=_str_or_none(d0.get("customer_id")),
        channel=_str_or_none(d0.get("channel")),
        reason=_str_or_none(d0.get("reason")),
        started_at=started_at,
        ended_at=ended_at,
        status=status,
        resolved_by=resolved_by,
        transfers=len(transfers),
        cross_channel_transfers=sum(1 for t in transfers if t.cross_channel),
        identifications=len(idents),
        queue_wait_s=fsum(q.duration_s or 0.0 for q in queue),
        hold_s=fsum(h.duration_s or 0.0 for h in holds),
        handle_s=fsum(s.duration_s or 0.0 for s in segments),
        value_added_s=value_added,
        lead_time_s=(seconds(started_at, ended_at)
                     if started_at is not None and ended_at is not None else None),
        resolved=i_resolved is not None,
        resolved_at=at[i_resolved] if i_resolved is not None else None,
        transfers_before_resolution=(
            sum(1 for i, e in enumerate(evs) if e.event_type == TRANSFERRED and i < i_resolved)
            if i_resolved is not None else 0),
        reached_agent=bool(seg_idx),
        last_team=None if last is None else team_of(last),
        started_event_id=evs[i_started].event_id if i_started is not None else None,
        ended_event_id=evs[i_ended].event_id if i_ended is not None else None,
        agent_segments=segments,
        queue_episodes=tuple(queue),
        hold_episodes=tuple(holds),
        identification_events=idents,
        transfer_events=tuple(transfers),
    )


def waiting_since(f: InteractionFigures) -> tuple[datetime | None, datetime | None]:
    """(queued since, on hold since) of an interaction that has not ended: the start of
    its earliest open queue episode and of its earliest open hold episode (None when it
    has none, and always None once it has ended). What a contact still waiting has
    accrued so far is *now* minus these; its closed episodes are in queue_wait_s and
    hold_s (and the ledger) already, so nothing is counted twice."""
    if f.ended_at is not None:
        return None, None
    queued = [q.start for q in f.queue_episodes if q.end is None]
    held = [h.start for h in f.hold_episodes if h.end is None]
    return (min(queued) if queued else None), (min(held) if held else None)
