"""Capacity per UTC hour and team, occupancy and overproduction (contract section 5)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leancrm_waste.domain.capacity import (
    CapacityHour,
    SignInPeriod,
    busy_by_hour,
    capacity_hourly,
    hour_of,
    occupancy,
    overproduction_rows,
    overproduction_s,
    periods_after,
    resume_point,
    sign_in_periods,
    split_by_hour,
    staffed_by_hour,
    staffed_from,
)
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import AgentSegment, summarise_interaction

D = datetime(2026, 11, 23, tzinfo=UTC)


def t(hh: int, mm: int, ss: int = 0) -> datetime:
    return D + timedelta(hours=hh, minutes=mm, seconds=ss)


def agent(event_id: str, kind: str, at: datetime, agent_id: str, **data: Any) -> Event:
    return Event(event_id, f"agent.{kind}", at, {"agent_id": agent_id, **data})


def test_a_sign_in_from_0845_to_1010_splits_900_3600_600() -> None:
    assert split_by_hour(t(8, 45), t(10, 10)) == [(t(8, 0), 900.0), (t(9, 0), 3600.0), (t(10, 0), 600.0)]
    periods = sign_in_periods([agent("i1", "signed_in", t(8, 45), "ann", team="billing"),
                               agent("o1", "signed_out", t(10, 10), "ann")])
    assert periods == [SignInPeriod("ann", "billing", t(8, 45), t(10, 10), "i1")]
    assert staffed_by_hour(periods) == {
        (t(8, 0), "billing"): 900.0, (t(9, 0), "billing"): 3600.0, (t(10, 0), "billing"): 600.0}


def test_split_is_half_open_and_empty_for_empty_intervals() -> None:
    assert split_by_hour(t(9, 30), t(10, 0)) == [(t(9, 0), 1800.0)]
    assert split_by_hour(t(10, 0), t(10, 0)) == []
    assert split_by_hour(t(10, 5), t(10, 0)) == []
    assert split_by_hour(t(9, 59, 59) + timedelta(microseconds=500_000), t(10, 0)) == [(t(9, 0), 0.5)]


def test_only_closed_periods_count_under_the_team_given_at_sign_in() -> None:
    events = [
        agent("i1", "signed_in", t(8, 0), "ann", team="billing"),
        agent("o1", "signed_out", t(8, 30), "ann"),
        agent("i2", "signed_in", t(8, 30), "ann", team="retention"),   # same instant as the sign-out
        agent("o2", "signed_out", t(9, 15), "ann"),
        agent("i3", "signed_in", t(9, 40), "bob", team="billing"),
        agent("o3", "signed_out", t(10, 0), "bob"),
        agent("i4", "signed_in", t(10, 0), "ann", team="billing"),      # still signed in: nothing yet
    ]
    periods = sign_in_periods(events)
    assert [(p.agent_id, p.team, p.start, p.end) for p in periods] == [
        ("ann", "billing", t(8, 0), t(8, 30)), ("ann", "retention", t(8, 30), t(9, 15)),
        ("ann", "billing", t(10, 0), None), ("bob", "billing", t(9, 40), t(10, 0))]
    expected = {(t(8, 0), "billing"): 1800.0, (t(8, 0), "retention"): 1800.0,
                (t(9, 0), "retention"): 900.0, (t(9, 0), "billing"): 1200.0}
    assert staffed_by_hour(periods) == expected
    for perm in itertools.permutations(events):
        assert staffed_by_hour(sign_in_periods(list(perm) + events[:2])) == expected


def test_a_zero_length_sign_in_at_one_instant_does_not_swallow_the_next_period() -> None:
    # in and out at 09:00 (rank alone would put the sign-out first and leave ann signed in)
    events = [agent("i1", "signed_in", t(9, 0), "ann", team="t"),
              agent("o1", "signed_out", t(9, 0), "ann"),
              agent("i2", "signed_in", t(11, 0), "ann", team="t"),
              agent("o2", "signed_out", t(11, 30), "ann")]
    assert staffed_by_hour(sign_in_periods(events)) == {(t(11, 0), "t"): 1800.0}


def test_repeated_sign_ins_and_stray_sign_outs_are_ignored() -> None:
    events = [agent("o0", "signed_out", t(7, 0), "ann"),
              agent("i1", "signed_in", t(8, 0), "ann", team="t"),
              agent("i2", "signed_in", t(8, 20), "ann", team="other"),
              agent("o1", "signed_out", t(8, 30), "ann")]
    assert staffed_by_hour(sign_in_periods(events)) == {(t(8, 0), "t"): 1800.0}


def test_busy_time_splits_across_hours_under_the_team_at_agent_assigned() -> None:
    def e(n: int, kind: str, at: datetime, **data: Any) -> Event:
        return Event(f"x{n}", f"interaction.{kind}", at, {"interaction_id": "i", **data})

    f = summarise_interaction([
        e(1, "started", t(9, 40), customer_id="c", channel="phone", reason="r", direction="inbound"),
        e(2, "agent_assigned", t(9, 50), agent_id="a", team="tech"),
        e(3, "transferred", t(10, 20), to_queue="q", to_channel="phone", reason="x",
          from_agent_id="a", from_channel="phone"),
        e(4, "agent_assigned", t(10, 25), agent_id="b", team="billing"),
        e(5, "ended", t(12, 5)),
    ])
    # tech 09:50→10:20: 600 in 09h, 1200 in 10h; billing 10:25→12:05: 2100, 3600, 300
    assert busy_by_hour(f.agent_segments) == {
        (t(9, 0), "tech"): 600.0, (t(10, 0), "tech"): 1200.0, (t(10, 0), "billing"): 2100.0,
        (t(11, 0), "billing"): 3600.0, (t(12, 0), "billing"): 300.0}
    # the same segments passed twice count once; open segments count nothing
    open_seg = AgentSegment(t(12, 0), None, "tech", "c", "x9")
    assert busy_by_hour([*f.agent_segments, *f.agent_segments, open_seg]) == busy_by_hour(f.agent_segments)


def test_occupancy_is_busy_over_staffed_and_none_without_staffing() -> None:
    assert occupancy(1800.0, 3600.0) == 0.5
    assert occupancy(0.0, 0.0) is None
    assert occupancy(600.0, 0.0) is None


def test_overproduction_is_idle_beyond_the_target_occupancy() -> None:
    # staffed 3600, busy 1800: idle 1800; default target 0.85 allows 0.15 × 3600 = 540 idle
    assert overproduction_s(1800.0, 3600.0) == 1260.0
    assert overproduction_s(1800.0, 3600.0, target=0.5) == 0.0     # allows 1800 idle
    assert overproduction_s(1800.0, 3600.0, target=0.75) == 900.0   # allows 900 idle
    assert overproduction_s(1800.0, 3600.0, target=1.0) == 1800.0   # any idle is overproduction
    assert overproduction_s(-600.0, 3600.0) == 0.0                  # busy beyond staffed


@pytest.mark.parametrize("target", [0.0, -0.1, 1.01])
def test_target_occupancy_must_be_in_0_exclusive_to_1_inclusive(target: float) -> None:
    with pytest.raises(ValueError, match="target occupancy"):
        overproduction_s(10.0, 100.0, target=target)
    with pytest.raises(ValueError, match="target occupancy"):
        capacity_hourly({}, {}, target=target)


def test_capacity_rows_and_overproduction_ledger_rows_per_hour_and_team() -> None:
    staffed = {(t(9, 0), "billing"): 3600.0, (t(10, 0), "billing"): 1800.0}
    busy = {(t(9, 0), "billing"): 2700.0, (t(10, 0), "billing"): 1800.0, (t(10, 0), "tech"): 600.0}
    rows = capacity_hourly(staffed, busy, target=0.5)
    assert rows == [
        # idle 900, allowed 0.5 × 3600 = 1800 → 0
        CapacityHour(t(9, 0), "billing", 3600.0, 2700.0, 900.0, 0.75, 0.0),
        CapacityHour(t(10, 0), "billing", 1800.0, 1800.0, 0.0, 1.0, 0.0),
        CapacityHour(t(10, 0), "tech", 0.0, 600.0, -600.0, None, 0.0),   # busy without staffing
    ]
    low = capacity_hourly({(t(9, 0), "billing"): 3600.0}, {(t(9, 0), "billing"): 720.0}, target=0.6)
    # idle 2880, allowed 0.4 × 3600 = 1440 → 1440
    assert low == [CapacityHour(t(9, 0), "billing", 3600.0, 720.0, 2880.0, 0.2, 1440.0)]
    assert [(r.occurred_at, r.team, r.quantity) for r in overproduction_rows(low)] == [
        (t(9, 0), "billing", 1440.0)]
    # an hour without idle time beyond the target is no occurrence: no ledger row
    assert overproduction_rows(reversed(rows)) == []
    (row,) = overproduction_rows([*rows, *low])
    assert (row.waste_type, row.subtype, row.occurred_at, row.team, row.quantity, row.unit,
            row.source_event_id, row.interaction_id, row.key) == (
        "overproduction", "idle_capacity", t(9, 0), "billing", 1440.0, "seconds", None, None,
        "overproduction/idle_capacity/2026-11-23T09:00:00+00:00/billing")


# -- resuming after a closed period: an agent's history need not be read whole ---------


def random_history(rng: random.Random, n: int) -> list[Event]:
    """Sign-ins and sign-outs of one agent, valid or not (double sign-ins, stray
    sign-outs), many sharing an instant, teams changing."""
    events = []
    for i in range(n):
        kind = rng.choice(["signed_in", "signed_out"])
        at = t(8, 0) + timedelta(minutes=rng.choice([0, 0, 15, 30, 45, 60, 90, 150]) * (i // 3))
        data = {"team": rng.choice(["billing", "tech"])} if kind == "signed_in" else {}
        events.append(agent(f"e{i:03d}", kind, at, "ann", **data))
    return events


@pytest.mark.parametrize("seed", range(300))
def test_resuming_after_any_resume_point_gives_the_tail_of_the_full_scan(seed: int) -> None:
    rng = random.Random(seed)
    events = random_history(rng, rng.randint(2, 24))
    rng.shuffle(events)
    full = sign_in_periods(events)
    for before in sorted({e.occurred_at for e in events} | {t(23, 0)}):
        cut = resume_point(full, before)
        assert cut is None or cut < before
        head = [p for p in full if cut is not None and p.start <= cut]
        assert all(p.end is not None and p.end <= cut for p in head), (seed, cut)
        assert head + periods_after(cut, events) == full, (seed, cut)
        if cut is not None:
            reaching = [p for p in full if p.end is not None and p.end > hour_of(cut)]
            assert staffed_from(hour_of(cut), reaching) == {
                key: v for key, v in staffed_by_hour(full).items() if key[0] >= hour_of(cut)}


def test_a_sign_in_at_the_instant_of_a_sign_out_is_no_resume_point() -> None:
    events = [agent("i1", "signed_in", t(8, 0), "ann", team="tech"),
              agent("o1", "signed_out", t(9, 0), "ann"),
              agent("i2", "signed_in", t(9, 0), "ann", team="tech"),
              agent("o2", "signed_out", t(10, 0), "ann")]
    full = sign_in_periods(events)
    assert resume_point(full, t(9, 30)) is None  # at 9:00 ann signed straight in again
    assert resume_point(full, t(11, 0)) == t(10, 0)
    assert periods_after(t(10, 0), events) == []
