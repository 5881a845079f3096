"""Teams, rosters and agents' calendars.

Planners roster each team per day from the demand forecast: at least one agent
whenever the team is open, more at the forecast peaks, scaled by the ``staffing``
knob. Shifts are blocks (8 hours, or 4 for evening cover), so staff put on for a
peak stays through the quiet hours after it: the overproduction the Lean picture
describes. Every agent signs in a few minutes before the shift, signs out after it
(or after the last contact they were handling) and always before midnight.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field

from .demand import MEAN_SEGMENT_S, agents_for, forecast_workload, hours_open
from .knobs import Knobs
from .model import DAY, HOUR, MINUTE, SECOND, TEAMS

LONG_SHIFT_H = 8
SHORT_SHIFT_H = 4
#: No new contact in the last minute of a shift; nothing after 23:40.
LAST_START_BEFORE_END = MINUTE
DAY_CUTOFF = DAY - 20 * MINUTE


@dataclass(slots=True)
class Shift:
    sign_in_ms: int
    start_ms: int
    end_ms: int
    day_start_ms: int
    last_busy_ms: int = 0


@dataclass(slots=True)
class Agent:
    agent_id: str
    team: str
    shifts: list[Shift] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    booked_ms: int = 0
    shift_ends: list[int] = field(default_factory=list)

    def earliest_slot(self, at_ms: int, duration_ms: int, not_after_ms: int) -> int | None:
        """Earliest start ≥ at_ms, within a shift and free for duration_ms; None if none."""
        for shift in self.shifts[bisect_right(self.shift_ends, at_ms):]:
            if shift.start_ms > not_after_ms:
                return None
            latest = min(shift.end_ms - LAST_START_BEFORE_END, not_after_ms)
            candidate = max(at_ms, shift.sign_in_ms + 30 * SECOND)
            i = bisect_right(self.ends, candidate)
            while candidate <= latest:
                if i >= len(self.starts) or candidate + duration_ms + SECOND <= self.starts[i]:
                    if candidate + duration_ms <= shift.day_start_ms + DAY_CUTOFF:
                        return candidate
                    break
                candidate = max(candidate, self.ends[i])
                i += 1
        return None

    def book(self, start_ms: int, end_ms: int) -> None:
        """Reserve [start_ms, end_ms), plus a second to breathe before the next contact."""
        i = bisect_right(self.starts, start_ms)
        self.starts.insert(i, start_ms)
        self.ends.insert(i, end_ms + SECOND)
        self.booked_ms += end_ms - start_ms
        shift = self.shifts[bisect_right(self.shift_ends, start_ms)]
        shift.last_busy_ms = max(shift.last_busy_ms, end_ms)


@dataclass(slots=True)
class Team:
    name: str
    agents: list[Agent]

    def find(self, at_ms: int, duration_ms: int, not_after_ms: int) -> tuple[Agent, int] | None:
        """The agent who can take the contact first (ties: the least loaded)."""
        best: tuple[int, int, int] | None = None
        for index, agent in enumerate(self.agents):
            slot = agent.earliest_slot(at_ms, duration_ms, not_after_ms)
            if slot is not None and (best is None or (slot, agent.booked_ms, index) < best):
                best = (slot, agent.booked_ms, index)
        if best is None:
            return None
        return self.agents[best[2]], best[0]


def agent_id(team: str, number: int, namespace: str) -> str:
    return f"{team}-{number:02d}-{namespace}"


def plan_shifts(need: dict[int, int], open_h: int, close_h: int,
                pool: int) -> list[tuple[int, int]]:
    """Shift blocks [start_h, end_h): first one agent through the opening hours, then
    more where ``need`` asks for them, never more shifts than agents in the pool."""
    def block(h: int) -> tuple[int, int]:
        end = min(close_h, h + LONG_SHIFT_H)
        return (h, end) if end - h >= SHORT_SHIFT_H else (max(open_h, close_h - SHORT_SHIFT_H),
                                                          close_h)

    shifts: list[tuple[int, int]] = []
    h = open_h
    while h < close_h and len(shifts) < pool:
        shifts.append(block(h))
        h = shifts[-1][1]
    for h in range(open_h, close_h):
        covering = sum(1 for s, e in shifts if s <= h < e)
        while covering < need.get(h, 0) and len(shifts) < pool:
            shifts.append(block(h))
            covering += 1
    return shifts


def hourly_need(knobs: Knobs, team: str, work: dict[int, float], open_h: int,
                close_h: int) -> dict[int, int]:
    """Agents wanted per hour: the forecast at the service level, at least one, x ``staffing``."""
    handle_s = MEAN_SEGMENT_S["chat" if team == "digital" else "phone"]
    need = {}
    for h in range(open_h, close_h):
        base = max(1, agents_for(work.get(h, 0.0), handle_s))
        need[h] = min(knobs.agents_per_team, math.ceil(knobs.staffing * base - 1e-9))
    return need


def roster(knobs: Knobs, start_ms: int, namespace: str, rng: random.Random) -> dict[str, Team]:
    """Every team's agents with their shifts for the whole period."""
    teams = {t: Team(t, [Agent(agent_id(t, n + 1, namespace), t)
                         for n in range(knobs.agents_per_team)]) for t in TEAMS}
    forecasts = {wd: forecast_workload(knobs, wd) for wd in range(7)}
    for day in range(knobs.days):
        weekday = (knobs.start.weekday() + day) % 7
        day_ms = start_ms + day * DAY
        for name, team in teams.items():
            hours = hours_open(name, weekday)
            if hours is None:
                continue
            need = hourly_need(knobs, name, forecasts[weekday].get(name, {}), *hours)
            blocks = plan_shifts(need, *hours, pool=len(team.agents))
            # rotate: who worked least so far goes first (ties in a seeded random order)
            order = sorted(team.agents, key=lambda a: (len(a.shifts), rng.random()))
            for agent, (s, e) in zip(order, blocks, strict=False):
                early = rng.randrange(0, 8 * MINUTE)
                agent.shifts.append(Shift(sign_in_ms=day_ms + s * HOUR - early,
                                          start_ms=day_ms + s * HOUR, end_ms=day_ms + e * HOUR,
                                          day_start_ms=day_ms))
    for team in teams.values():
        for agent in team.agents:
            agent.shifts.sort(key=lambda s: s.start_ms)
            agent.shift_ends = [s.end_ms for s in agent.shifts]
    return teams


def sign_out_ms(shift: Shift, rng: random.Random) -> int:
    """After the shift and after the last contact, before midnight."""
    after_shift = shift.end_ms + rng.randrange(0, 6 * MINUTE)
    after_work = shift.last_busy_ms + rng.randrange(20 * SECOND, 3 * MINUTE)
    return min(max(after_shift, after_work), shift.day_start_ms + DAY - MINUTE)

