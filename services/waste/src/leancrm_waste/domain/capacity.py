"""Capacity per UTC hour and team (contract section 5) and the overproduction rows.

- staffed_s: the part of each *closed* sign-in period (``agent.signed_in`` → the agent's
  next ``agent.signed_out``) inside the hour, under the team given at sign-in. A period
  still open counts nothing yet.
- busy_s: the part of each *closed* agent segment (``agent_assigned`` → next
  ``transferred``/``ended``, i.e. handle time) inside the hour, under the team given at
  ``agent_assigned``. An open segment counts nothing yet.
- idle_s = staffed_s − busy_s; occupancy = busy_s / staffed_s, None when staffed_s is 0;
  overproduction_s = max(0, idle_s − (1 − target) × staffed_s), target in (0, 1],
  default 0.85.

Choices where the contract is silent:

- Intervals are half-open [start, end): an interval ending exactly on the hour puts
  nothing in the next hour, and (hour, team) keys with 0 seconds are not produced.
- Busy time is not clipped to staffed time: an agent busy while not signed in (or
  under another team) can make busy_s > staffed_s, occupancy > 1 and idle_s < 0;
  overproduction_s is then 0. Nothing is hidden.
- A sign-in period or segment without a team (forbidden by section 4: team is
  required) cannot be attributed and is left out.
- Sign-in pairing, per agent, in the order of ``events.order_agent_events``: a
  ``signed_in`` while already signed in and a ``signed_out`` while signed out (both
  rejected by section 4) are ignored.
- Inputs are deduplicated (periods by their sign-in event, segments by their
  ``agent_assigned`` event), and sums are exact-rounded (``math.fsum``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import fsum

from leancrm_waste.domain.events import SIGNED_IN, SIGNED_OUT, Event, order_agent_events
from leancrm_waste.domain.interaction import AgentSegment
from leancrm_waste.domain.wastes import WasteRow, row_key

HOUR = timedelta(hours=1)
DEFAULT_TARGET_OCCUPANCY = 0.85

HourTeam = tuple[datetime, str]


def hour_of(at: datetime) -> datetime:
    """The UTC hour an instant falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def split_by_hour(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """Seconds of [start, end) in each UTC hour it touches (empty if end <= start)."""
    out: list[tuple[datetime, float]] = []
    cursor, end = start.astimezone(UTC), end.astimezone(UTC)
    while cursor < end:
        bucket = hour_of(cursor)
        nxt = min(bucket + HOUR, end)
        out.append((bucket, (nxt - cursor).total_seconds()))
        cursor = nxt
    return out


@dataclass(frozen=True)
class SignInPeriod:
    agent_id: str
    team: str | None
    start: datetime
    end: datetime | None  # None while the agent is still signed in
    source_event_id: str  # the agent.signed_in event


def sign_in_periods(events: Iterable[Event]) -> list[SignInPeriod]:
    """Sign-in periods from ``agent.*`` events of any agents (agent_id from ``data``)."""
    per_agent: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.event_type in (SIGNED_IN, SIGNED_OUT) and e.data.get("agent_id") is not None:
            per_agent[str(e.data["agent_id"])].append(e)
    periods: list[SignInPeriod] = []
    for agent_id, evs in sorted(per_agent.items()):
        current: Event | None = None
        for e in order_agent_events(evs):
            if e.event_type == SIGNED_IN and current is None:
                current = e
            elif e.event_type == SIGNED_OUT and current is not None:
                periods.append(_period(agent_id, current, e.occurred_at))
                current = None
        if current is not None:
            periods.append(_period(agent_id, current, None))
    return periods


def resume_point(periods: Iterable[SignInPeriod], before: datetime) -> datetime | None:
    """The latest instant earlier than ``before`` after which the pairing scan of ONE
    agent can resume from "signed out", or None (start from the beginning).

    The scan takes the events of one instant together (their order depends only on
    the state they start from), so it can resume after an instant once the agent is
    signed out with every event of that instant paired: the end of a closed period
    that no period spans past — none started at or before it and ends after it or is
    still open (a sign-in at the very instant of the sign-out opens such a one)."""
    known = list(periods)
    ends = sorted({p.end for p in known if p.end is not None and p.end < before}, reverse=True)
    for end in ends:
        if not any(p.start <= end and (p.end is None or p.end > end) for p in known):
            return end
    return None


def periods_after(cut: datetime | None, events: Iterable[Event]) -> list[SignInPeriod]:
    """The sign-in periods of ONE agent that start after ``cut`` (a ``resume_point``),
    from its events after ``cut`` alone: the same periods ``sign_in_periods`` finds
    over all its events, so a projector need not read an agent's whole history. The
    periods starting at or before ``cut`` all closed by then. None: every period."""
    if cut is None:
        return sign_in_periods(events)
    return sign_in_periods(e for e in events if e.occurred_at > cut)


def staffed_from(hour: datetime | None, periods: Iterable[SignInPeriod]) -> dict[HourTeam, float]:
    """``staffed_by_hour`` of the hours from ``hour`` on (all when None): exact when
    ``periods`` holds every closed period that reaches past ``hour``."""
    by_hour = staffed_by_hour(periods)
    return by_hour if hour is None else {k: v for k, v in by_hour.items() if k[0] >= hour}


def _period(agent_id: str, signed_in: Event, end: datetime | None) -> SignInPeriod:
    team = signed_in.data.get("team")
    return SignInPeriod(agent_id, None if team is None else str(team), signed_in.occurred_at, end,
                        signed_in.event_id)


def _by_hour(intervals: Iterable[tuple[str, str | None, datetime, datetime | None]]) -> dict[HourTeam, float]:
    parts: dict[HourTeam, list[float]] = defaultdict(list)
    seen: set[str] = set()
    for key, team, start, end in intervals:
        if key in seen or team is None or end is None:
            continue
        seen.add(key)
        for bucket, secs in split_by_hour(start, end):
            parts[(bucket, team)].append(secs)
    return {k: fsum(v) for k, v in sorted(parts.items())}


def staffed_by_hour(periods: Iterable[SignInPeriod]) -> dict[HourTeam, float]:
    """(UTC hour, team at sign-in) → staffed seconds, closed periods only."""
    return _by_hour((p.source_event_id, p.team, p.start, p.end) for p in periods)


def busy_by_hour(segments: Iterable[AgentSegment]) -> dict[HourTeam, float]:
    """(UTC hour, team at agent_assigned) → busy seconds, closed segments only."""
    return _by_hour((s.source_event_id, s.team, s.start, s.end) for s in segments)


def occupancy(busy_s: float, staffed_s: float) -> float | None:
    return None if staffed_s == 0 else busy_s / staffed_s


def validate_target(target: float) -> float:
    if not 0 < target <= 1:
        raise ValueError(f"target occupancy must be in (0, 1], got {target}")
    return target


def overproduction_s(idle_s: float, staffed_s: float, target: float = DEFAULT_TARGET_OCCUPANCY) -> float:
    """Idle time beyond what the target occupancy allows: max(0, idle − (1 − target) × staffed)."""
    validate_target(target)
    return max(0.0, idle_s - (1 - target) * staffed_s)


@dataclass(frozen=True)
class CapacityHour:
    """A ``waste.capacity_hourly`` row."""

    bucket_start: datetime
    team: str
    staffed_s: float
    busy_s: float
    idle_s: float
    occupancy: float | None
    overproduction_s: float


def capacity_hourly(staffed: Mapping[HourTeam, float], busy: Mapping[HourTeam, float],
                    target: float = DEFAULT_TARGET_OCCUPANCY) -> list[CapacityHour]:
    """One row per (hour, team) with staffed or busy time, in (hour, team) order."""
    validate_target(target)
    out = []
    for bucket, team in sorted(set(staffed) | set(busy)):
        st, bu = staffed.get((bucket, team), 0.0), busy.get((bucket, team), 0.0)
        idle = st - bu
        out.append(CapacityHour(bucket, team, st, bu, idle, occupancy(bu, st),
                                overproduction_s(idle, st, target)))
    return out


def overproduction_rows(capacity: Iterable[CapacityHour]) -> list[WasteRow]:
    """``overproduction/idle_capacity``: one row per UTC hour and team whose idle time
    beyond the target is positive — an hour without it is no occurrence of the waste
    (``capacity_hourly`` keeps every hour); occurred_at = the hour, no interaction,
    source_event_id None."""
    return [
        WasteRow(waste_type="overproduction", subtype="idle_capacity", occurred_at=c.bucket_start,
                 interaction_id=None, customer_id=None, channel=None, reason=None, team=c.team,
                 quantity=c.overproduction_s, unit="seconds", source_event_id=None,
                 key=row_key("overproduction", "idle_capacity", c.bucket_start.isoformat(), c.team))
        for c in sorted(capacity, key=lambda c: (c.bucket_start, c.team))
        if c.overproduction_s > 0
    ]
