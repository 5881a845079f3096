"""The input type and the one deterministic order every figure is computed in.

Contract section 5 ends: "Every figure is the same whether the events arrive once or
several times, in one batch or many". So every function here first reduces its input
to a *set* (deduplicated by event_id) and then puts that set in an order that depends
on nothing but the set:

1. ``occurred_at`` (business time; section 4 forbids a stream to go backwards, so this
   is the real order except between events with the same timestamp);
2. within one timestamp, the event type's natural place in a contact's life
   (``INTERACTION_LIFECYCLE`` / ``AGENT_LIFECYCLE``), then ``event_id`` — *except* that an
   event which section 4's rules forbid in the state reached so far is passed over
   while a permitted one is waiting in the same timestamp. Example: a transfer away from
   agent a1 and the assignment of agent a2 at the same second. By rank alone the
   assignment would come first, which section 4 forbids ("assign_agent: no agent
   currently assigned"); the rules put the transfer first. When no waiting event is
   permitted (a history with gaps, or invalid input), the lowest (rank, event_id) wins.
   The state used is the one the already-ordered events reach, so the result is still
   a function of the set alone.

Limits, stated plainly: events at one instant can admit several orders section 4
permits (an ``abandoned`` and a ``transferred`` at the same millisecond, either way
round), and the figures then follow the preferred one, not necessarily the one that
happened. The choice is greedy, one event at a time, so on rare multi-event ties it can
take a locally permitted event that a later one shows wrong (a ``hold_started`` put on
the outgoing agent of a same-instant transfer + assignment, found out by the next
``hold_ended``). Without ties the order is exactly the order things happened in. The
envelope's ``stream_version`` would settle every tie, but it is not part of this input
type (and a consumer must not need it to get the figures right).

If two events share an event_id but differ (a producer bug: ids are unique), the one
that sorts first by (occurred_at, event_type, canonical JSON of data) is kept, so even
then arrival order cannot matter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

STARTED = "interaction.started"
IDENTIFIED = "interaction.customer_identified"
QUEUED = "interaction.queued"
ASSIGNED = "interaction.agent_assigned"
HOLD_STARTED = "interaction.hold_started"
HOLD_ENDED = "interaction.hold_ended"
RESOLVED = "interaction.resolved"
TRANSFERRED = "interaction.transferred"
ABANDONED = "interaction.abandoned"
ENDED = "interaction.ended"
SIGNED_IN = "agent.signed_in"
SIGNED_OUT = "agent.signed_out"

#: A contact's natural life, used to order events that share a timestamp.
INTERACTION_LIFECYCLE: tuple[str, ...] = (
    STARTED, IDENTIFIED, QUEUED, ASSIGNED, HOLD_STARTED, HOLD_ENDED,
    RESOLVED, TRANSFERRED, ABANDONED, ENDED,
)
#: Sign-out before sign-in: an agent who signs out and back in (another team) at the
#: same instant has two periods that touch, not one that swallows the other.
AGENT_LIFECYCLE: tuple[str, ...] = (SIGNED_OUT, SIGNED_IN)
#: Rank of event types not in a lifecycle (they sort after every known type).
UNKNOWN_RANK = 99


@dataclass(frozen=True)
class Event:
    """One domain event, as far as the waste figures need it.

    ``occurred_at`` must be timezone-aware; it is normalised to UTC. ``data`` is the
    event's payload as in contract section 4.
    """

    event_id: str
    event_type: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is UTC:
            return
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"event {self.event_id}: occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))


def _canonical(e: Event) -> tuple[datetime, str, str]:
    return (e.occurred_at, e.event_type, json.dumps(dict(e.data), sort_keys=True, default=str))


def dedupe(events: Iterable[Event]) -> list[Event]:
    """One event per event_id (see the module doc for conflicting duplicates)."""
    kept: dict[str, Event] = {}
    for e in events:
        seen = kept.get(e.event_id)
        if seen is None or _canonical(e) < _canonical(seen):
            kept[e.event_id] = e
    return list(kept.values())


S = TypeVar("S")
#: (state, event) -> (section 4 permits the event in that state, state after it)
Step = Callable[[S, Event], tuple[bool, S]]


def _order(events: Iterable[Event], rank: Mapping[str, int], initial: S, step: Step[S]) -> list[Event]:
    unique = sorted(dedupe(events),
                    key=lambda e: (e.occurred_at, rank.get(e.event_type, UNKNOWN_RANK), e.event_id))
    out: list[Event] = []
    state = initial
    i = 0
    while i < len(unique):
        j = i
        while j < len(unique) and unique[j].occurred_at == unique[i].occurred_at:
            j += 1
        waiting = unique[i:j]  # one timestamp, already in (rank, event_id) order
        while waiting:
            pick, after = 0, step(state, waiting[0])
            if not after[0]:
                for k in range(1, len(waiting)):
                    candidate = step(state, waiting[k])
                    if candidate[0]:
                        pick, after = k, candidate
                        break
            out.append(waiting.pop(pick))
            state = after[1]
        i = j
    return out


# The state section 4's interaction rules depend on, as bit flags (cheap to copy).
_STARTED, _ENDED, _QUEUED, _AGENT, _HOLD, _RESOLVED, _ABANDONED = (1 << i for i in range(7))


def _contact_step(s: int, e: Event) -> tuple[bool, int]:
    """Section 4's rules for the interaction commands, as the events they emit.
    "Queued" is set by ``queued`` and ``transferred`` and cleared only by
    ``agent_assigned``; "open" means not ended."""
    t = e.event_type
    is_open = not s & _ENDED
    if t == STARTED:
        return not s & _STARTED, s | _STARTED
    if t == IDENTIFIED:
        return is_open, s
    if t == QUEUED:
        return is_open and not s & _QUEUED, s | _QUEUED
    if t == ASSIGNED:
        return is_open and not s & _AGENT, (s | _AGENT) & ~_QUEUED
    if t == HOLD_STARTED:
        return is_open and bool(s & _AGENT) and not s & _HOLD, s | _HOLD
    if t == HOLD_ENDED:
        return is_open and bool(s & _HOLD), s & ~_HOLD
    if t == TRANSFERRED:
        # ends any hold, releases the agent, queues again
        return is_open and bool(s & _AGENT), (s | _QUEUED) & ~(_AGENT | _HOLD)
    if t == RESOLVED:
        return is_open and not s & (_RESOLVED | _ABANDONED), s | _RESOLVED
    if t == ABANDONED:
        return is_open and not s & (_RESOLVED | _ABANDONED), s | _ABANDONED
    if t == ENDED:
        return is_open, (s | _ENDED) & ~_HOLD
    return True, s  # types the waste figures do not use never constrain the order


def order_interaction_events(events: Iterable[Event]) -> list[Event]:
    """The events of one interaction, deduplicated, in the order of the module doc."""
    rank = {t: i for i, t in enumerate(INTERACTION_LIFECYCLE)}
    return _order(events, rank, 0, _contact_step)


def _agent_step(signed_in: bool, e: Event) -> tuple[bool, bool]:
    if e.event_type == SIGNED_IN:
        return not signed_in, True
    if e.event_type == SIGNED_OUT:
        return signed_in, False
    return True, signed_in


def order_agent_events(events: Iterable[Event]) -> list[Event]:
    """The events of ONE agent, deduplicated, in the order of the module doc."""
    rank = {t: i for i, t in enumerate(AGENT_LIFECYCLE)}
    return _order(events, rank, False, _agent_step)
