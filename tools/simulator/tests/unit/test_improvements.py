"""The three improvements of the knob ``improvements`` (improvements.py): sent to the
improvements service by the contract's rules, and acted out by the scenario — the one
that works changes its scope for good, the one that fades for a while, the one that does
nothing not at all; nothing changes before they start."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta

from leancrm_simulator.checker import check
from leancrm_simulator.improvements import plan
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import IMPROVEMENTS_COMMANDS, SimCommand

Make = Callable[[Knobs], tuple[SimCommand, ...]]
START = date(2026, 11, 2)
KNOBS = Knobs(seed=5, customers=400, days=28, start=START, improvements=True)
STARTS_ON = START + timedelta(days=14)


def reidentified_per_contact(commands: tuple[SimCommand, ...], reason: str,
                             days: range) -> float:
    """Agent re-identifications per phone contact of ``reason`` started on ``days``."""
    wanted = {(START + timedelta(days=d)).isoformat() for d in days}
    scope: set[str] = set()
    per: dict[str, int] = defaultdict(int)
    for c in commands:
        if (c.command_type == "start_interaction" and c.data["reason"] == reason
                and c.data["channel"] == "phone" and c.envelope["occurred_at"][:10] in wanted):
            scope.add(c.data["interaction_id"])
        elif c.command_type == "identify_customer" and c.data["interaction_id"] in scope:
            per[c.data["interaction_id"]] += 1
    return sum(max(0, n - 1) for n in per.values()) / len(scope)


def test_three_improvements_are_started_and_two_adopted_by_the_rules(make: Make) -> None:
    commands = make(KNOBS)
    sent = [c for c in commands if c.topic == IMPROVEMENTS_COMMANDS]
    assert [(c.command_type, c.envelope["occurred_at"][:10]) for c in sent] == [
        ("start_improvement", "2026-11-16"), ("start_improvement", "2026-11-16"),
        ("start_improvement", "2026-11-16"), ("end_improvement", "2026-11-21"),
        ("end_improvement", "2026-11-23")]
    starts = {c.data["title"]: c.data for c in sent if c.command_type == "start_improvement"}
    assert {d["target"] for d in starts.values()} == {"over_processing_per_contact",
                                                      "abandonment_rate"}
    assert all(d["starts_on"] == STARTS_ON.isoformat() for d in starts.values())
    assert all(c.key == c.data["improvement_id"] for c in sent)
    assert {c.data["outcome"] for c in sent if c.command_type == "end_improvement"} == {"adopted"}
    assert check(commands) == []


def test_each_is_in_force_in_its_scope_and_time_only() -> None:
    works, fades, nothing = plan(28)
    start_ms = 0
    day = 86_400_000
    assert works.in_force("billing", "phone", 14 * day, start_ms)
    assert works.in_force("billing", "phone", 27 * day, start_ms)  # for good
    assert not works.in_force("billing", "phone", 14 * day - 1, start_ms)  # not before
    assert not works.in_force("billing", "chat", 20 * day, start_ms)  # its scope only
    assert not works.in_force("complaint", "phone", 20 * day, start_ms)
    assert fades.in_force("technical_issue", "phone", 18 * day, start_ms)
    assert not fades.in_force("technical_issue", "phone", 19 * day, start_ms)  # worn off
    assert fades.end is not None and fades.end[0] == 19
    assert not any(nothing.in_force("order_status", "phone", d * day, start_ms) for d in range(28))
    assert KNOBS.replace(improvements=False).namespace() == Knobs(
        seed=5, customers=400, days=28, start=START).namespace()  # ids as before the knob


def test_one_works_one_fades_one_does_nothing(make: Make) -> None:
    commands = make(KNOBS)
    before, early, late = range(7, 14), range(14, 19), range(21, 28)
    billing = [reidentified_per_contact(commands, "billing", d) for d in (before, early, late)]
    tech = [reidentified_per_contact(commands, "technical_issue", d) for d in (before, early, late)]
    assert billing[1] < 0.25 * billing[0] and billing[2] < 0.25 * billing[0]  # for good
    assert tech[1] < 0.25 * tech[0] and tech[2] > 0.7 * tech[0]  # then back
    # the one that does nothing: the other reasons are worked as before
    other = [reidentified_per_contact(commands, "order_status", d) for d in (before, late)]
    assert other[1] > 0.7 * other[0]


def test_too_short_a_period_starts_them_without_ending_them(make: Make) -> None:
    commands = make(Knobs(seed=5, customers=50, days=1, improvements=True))
    assert [c.command_type for c in commands if c.topic == IMPROVEMENTS_COMMANDS] == [
        "start_improvement"] * 3
