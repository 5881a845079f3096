"""repeat_of, first_contact_resolution and defects/repeat_contact (contract section 5)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import summarise_interaction
from leancrm_waste.domain.repeats import (
    InteractionStart,
    first_contact_resolution,
    link_interactions,
    link_repeats,
    repeat_contact_rows,
    repeated,
)

C1, C2 = "c1", "c2"
D = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
US = timedelta(microseconds=1)


def start(iid: str, at: datetime, reason: str = "billing", customer: str = C1) -> InteractionStart:
    return InteractionStart(iid, reason, at, customer_id=customer, channel="phone", team=f"team_{iid}",
                            started_event_id=f"{iid}-started")


def test_a_contact_within_7_days_with_the_same_reason_is_a_repeat() -> None:
    links = link_repeats([start("A", D), start("B", D + timedelta(days=3))])
    assert links == {"A": None, "B": "A"}


def test_exactly_7_days_is_inside_the_window_one_microsecond_more_is_outside() -> None:
    assert link_repeats([start("A", D), start("B", D + WEEK)]) == {"A": None, "B": "A"}
    assert link_repeats([start("A", D), start("B", D + WEEK + US)]) == {"A": None, "B": None}


def test_another_reason_is_no_repeat() -> None:
    assert link_repeats([start("A", D), start("B", D + timedelta(hours=1), reason="complaint")]) == {
        "A": None, "B": None}


def test_a_chain_of_repeats_points_each_to_the_most_recent_earlier_contact() -> None:
    a, b, c = start("A", D), start("B", D + timedelta(days=5)), start("C", D + timedelta(days=9))
    # C is 9 days after A (outside) but 4 days after B; B is 5 days after A
    assert link_repeats([a, b, c]) == {"A": None, "B": "A", "C": "B"}
    # even when both earlier ones are within 7 days, the most recent wins
    c2 = start("C", D + timedelta(days=6))
    assert link_repeats([a, b, c2]) == {"A": None, "B": "A", "C": "B"}
    rows = repeat_contact_rows([a, b, c])
    assert [(r.interaction_id, r.occurred_at, r.source_event_id, r.team, r.key) for r in rows] == [
        ("A", D + timedelta(days=5), "B-started", "team_A", "defects/repeat_contact/A/B"),
        ("B", D + timedelta(days=9), "C-started", "team_B", "defects/repeat_contact/B/C"),
    ]
    r = rows[0]
    assert (r.waste_type, r.subtype, r.customer_id, r.channel, r.reason, r.quantity, r.unit) == (
        "defects", "repeat_contact", C1, "phone", "billing", 1.0, "count")


def test_a_gap_longer_than_7_days_breaks_the_chain() -> None:
    got = link_repeats([start("A", D), start("B", D + timedelta(days=8)),
                        start("C", D + timedelta(days=10))])
    assert got == {"A": None, "B": None, "C": "B"}


def test_same_instant_starts_are_ordered_by_interaction_id() -> None:
    assert link_repeats([start("Y", D), start("X", D)]) == {"X": None, "Y": "X"}


def test_any_arrival_order_gives_the_same_links_and_rows() -> None:
    starts = [start("A", D), start("B", D + timedelta(days=2)), start("C", D + timedelta(days=2)),
              start("D", D + timedelta(days=9, seconds=1)), start("E", D + timedelta(days=3), "complaint"),
              start("F", D + timedelta(days=4), "complaint")]
    expected = link_repeats(starts)
    assert expected == {"A": None, "B": "A", "C": "B", "D": None, "E": None, "F": "E"}
    expected_rows = repeat_contact_rows(starts)
    for perm in itertools.permutations(starts):
        assert link_repeats(perm) == expected
        assert repeat_contact_rows(perm) == expected_rows


def test_link_repeats_is_per_customer() -> None:
    with pytest.raises(ValueError, match="per customer"):
        link_repeats([start("A", D), start("B", D, customer=C2)])


def test_first_contact_resolution_words() -> None:
    assert first_contact_resolution(resolved=True, transfers=0, has_repeat=False) is True
    assert first_contact_resolution(resolved=True, transfers=1, has_repeat=False) is False
    assert first_contact_resolution(resolved=False, transfers=0, has_repeat=False) is False
    assert first_contact_resolution(resolved=True, transfers=0, has_repeat=True) is False
    assert repeated({"A": None, "B": "A", "C": "B"}) == frozenset({"A", "B"})


# --- from events: link_interactions over several customers ---------------------------


def interaction(iid: str, customer: str, at: datetime, *, resolved: bool = True, transfer: bool = False,
                reason: str = "billing") -> list[Event]:
    def e(n: int, kind: str, when: datetime, **data: Any) -> Event:
        return Event(f"{iid}-{n}", f"interaction.{kind}", when, {"interaction_id": iid, **data})

    evs = [e(1, "started", at, customer_id=customer, channel="chat", reason=reason, direction="inbound"),
           e(2, "agent_assigned", at + timedelta(minutes=1), agent_id="a", team="ta")]
    if transfer:
        evs += [e(3, "transferred", at + timedelta(minutes=2), to_queue="q", to_channel="chat",
                  reason="x", from_agent_id="a", from_channel="chat"),
                e(4, "agent_assigned", at + timedelta(minutes=3), agent_id="b", team="tb")]
    if resolved:
        evs.append(e(5, "resolved", at + timedelta(minutes=4), resolved_by="agent"))
    evs.append(e(6, "ended", at + timedelta(minutes=5)))
    return evs


def test_fcr_turns_false_when_a_repeat_arrives() -> None:
    a = summarise_interaction(interaction("A", C1, D))
    before = link_interactions([a])
    assert [(r.figures.interaction_id, r.repeat_of, r.first_contact_resolution) for r in before] == [
        ("A", None, True)]
    b = summarise_interaction(interaction("B", C1, D + timedelta(days=6)))
    after = link_interactions([b, a])
    assert [(r.figures.interaction_id, r.repeat_of, r.first_contact_resolution) for r in after] == [
        ("A", None, False), ("B", "A", True)]


def test_link_interactions_keeps_customers_apart_and_needs_resolution_without_transfer() -> None:
    figures = [
        summarise_interaction(interaction("A", C1, D)),
        summarise_interaction(interaction("B", C2, D + timedelta(hours=1))),       # other customer
        summarise_interaction(interaction("C", C1, D + timedelta(days=8), transfer=True)),
        summarise_interaction(interaction("E", C1, D + timedelta(days=8, hours=1), resolved=False,
                                          reason="complaint")),
    ]
    got = [(r.figures.interaction_id, r.repeat_of, r.first_contact_resolution)
           for r in link_interactions(reversed(figures))]
    assert got == [("A", None, True), ("B", None, True), ("C", None, False), ("E", None, False)]


def test_interactions_without_a_known_start_take_no_part() -> None:
    partial = [ev for ev in interaction("B", C1, D + timedelta(days=1))
               if ev.event_type != "interaction.started"]
    got = link_interactions([summarise_interaction(interaction("A", C1, D)), summarise_interaction(partial)])
    assert [(r.figures.interaction_id, r.repeat_of, r.first_contact_resolution) for r in got] == [
        ("A", None, True), ("B", None, True)]
