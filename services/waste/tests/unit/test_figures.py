"""Contract section 5, per interaction, from the spec's own words — worked by hand."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from leancrm_waste.projection.figures import agent_tail, interaction, split_by_hour
from leancrm_waste.projection.rows import RawEvent

IID = uuid.UUID(int=1)
CID = str(uuid.UUID(int=2))
D = datetime(2026, 11, 23, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


def ev(event_type: str, when: datetime, **data: Any) -> RawEvent:
    return RawEvent(str(IID), str(uuid.uuid4()), f"interaction.{event_type}", when, data)


def started(when: datetime, channel: str = "phone") -> RawEvent:
    return ev("started", when, interaction_id=str(IID), customer_id=CID, channel=channel,
              reason="billing", direction="inbound")


def transfer(when: datetime, from_channel: str, to_channel: str, agent: str) -> RawEvent:
    return ev("transferred", when, to_queue="q", to_channel=to_channel, reason="needs_specialist",
              from_agent_id=agent, from_channel=from_channel)


# A phone call: IVR identification, queue, agent 1 asks again, hold, handoff to agent 2
# (same channel), switch to email, agent 3 resolves.
CALL = [
    started(at(9, 0)),
    ev("customer_identified", at(9, 0, 30), step="ivr", method="account_number"),
    ev("queued", at(9, 1), queue="billing"),
    ev("agent_assigned", at(9, 3), agent_id="a1", team="billing_team"),
    ev("customer_identified", at(9, 3, 30), step="agent", method="account_number"),
    ev("hold_started", at(9, 5)),
    ev("hold_ended", at(9, 6)),
    transfer(at(9, 7), "phone", "phone", "a1"),
    ev("agent_assigned", at(9, 9), agent_id="a2", team="tech_support"),
    transfer(at(9, 12), "phone", "email", "a2"),
    ev("agent_assigned", at(9, 20), agent_id="a3", team="digital"),
    ev("resolved", at(9, 25), resolved_by="agent"),
    ev("ended", at(9, 26)),
]


def test_the_call_worked_by_hand() -> None:
    row, ledger, busy = interaction(IID, CALL)
    # queue episodes: 09:01→09:03, 09:07→09:09 (transfer re-queues), 09:12→09:20
    assert row.queue_wait_s == 120 + 120 + 480
    assert row.hold_s == 60
    # agent segments: a1 09:03→09:07, a2 09:09→09:12, a3 09:20→09:26 (ended)
    assert row.handle_s == 240 + 180 + 360
    # resolved by agent inside a3's segment, no hold inside it
    assert row.value_added_s == 360
    assert row.lead_time_s == 26 * 60
    assert (row.identifications, row.transfers, row.cross_channel_transfers) == (2, 2, 1)
    assert (row.status, row.resolved_by, row.reached_agent) == ("resolved", "agent", True)
    kinds = sorted((r.waste_type, r.subtype, r.occurred_at, r.quantity) for r in ledger)
    assert kinds == sorted([
        ("waiting", "queue", at(9, 1), 120.0), ("waiting", "queue", at(9, 7), 120.0),
        ("waiting", "queue", at(9, 12), 480.0), ("waiting", "hold", at(9, 5), 60.0),
        ("over_processing", "repeat_identification", at(9, 3, 30), 1.0),
        ("motion", "handoff", at(9, 7), 1.0),
        ("transportation", "channel_switch", at(9, 12), 1.0),
        ("defects", "not_first_agent", at(9, 26), 1.0),
    ])
    assert {r.unit for r in ledger if r.waste_type == "waiting"} == {"seconds"}
    assert sorted((b.team, b.busy_s) for b in busy) == [
        ("billing_team", 240.0), ("digital", 360.0), ("tech_support", 180.0)]


def test_duplicates_and_any_arrival_order_give_the_same_figures() -> None:
    expected = interaction(IID, CALL)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = CALL + rng.sample(CALL, 5)
        rng.shuffle(shuffled)
        assert interaction(IID, shuffled) == expected


def test_hold_inside_the_resolving_segment_is_not_value_added() -> None:
    events = [started(at(10, 0)), ev("queued", at(10, 0)),
              ev("agent_assigned", at(10, 2), agent_id="a", team="t"),
              ev("hold_started", at(10, 4)), ev("resolved", at(10, 5), resolved_by="agent"),
              ev("ended", at(10, 8))]
    row, ledger, _ = interaction(IID, events)
    # segment 10:02→10:08 = 360 s; hold 10:04→ended 10:08 = 240 s (ended ends the hold)
    assert (row.handle_s, row.hold_s, row.value_added_s) == (360, 240, 120)
    assert [(r.subtype, r.quantity) for r in ledger if r.waste_type == "waiting"] == [
        ("queue", 120.0), ("hold", 240.0)]


def test_a_zero_length_queue_episode_is_no_waste() -> None:
    events = [started(at(10, 0)), ev("queued", at(10, 1)),
              ev("agent_assigned", at(10, 1), agent_id="a", team="t"), ev("ended", at(10, 3))]
    row, ledger, _ = interaction(IID, events)
    assert row.queue_wait_s == 0 and not [r for r in ledger if r.waste_type == "waiting"]


def test_abandoned_in_the_queue_is_an_unresolved_defect() -> None:
    events = [started(at(11, 0)), ev("queued", at(11, 0)),
              ev("abandoned", at(11, 5), stage="queue"), ev("ended", at(11, 5))]
    row, ledger, busy = interaction(IID, events)
    assert (row.status, row.queue_wait_s, row.value_added_s, row.reached_agent) == (
        "abandoned", 300, 0, False)
    assert [(r.waste_type, r.subtype) for r in ledger if r.waste_type == "defects"] == [
        ("defects", "unresolved")]
    assert busy == []


def test_self_service_value_is_resolved_minus_started() -> None:
    events = [started(at(12, 0), "bot"), ev("resolved", at(12, 4), resolved_by="bot"),
              ev("ended", at(12, 5))]
    row, ledger, _ = interaction(IID, events)
    assert (row.value_added_s, row.lead_time_s, row.status) == (240, 300, "resolved")
    assert ledger == []


def test_ended_more_than_a_day_after_start_is_aged_backlog() -> None:
    events = [started(at(9, 0), "email"), ev("queued", at(9, 0)),
              ev("agent_assigned", at(10, 0, day=1), agent_id="a", team="digital"),
              ev("ended", at(10, 30, day=1))]
    row, ledger, _ = interaction(IID, events)
    assert ("inventory", "aged_backlog", at(10, 30, day=1)) in [
        (r.waste_type, r.subtype, r.occurred_at) for r in ledger]
    assert ("defects", "unresolved") in [(r.waste_type, r.subtype) for r in ledger]
    assert row.status == "unresolved" and row.queue_wait_s == 25 * 3600


def test_exactly_24_hours_is_not_aged() -> None:
    events = [started(at(9, 0), "email"), ev("ended", at(9, 0, day=1))]
    _, ledger, _ = interaction(IID, events)
    assert "inventory" not in {r.waste_type for r in ledger}


def test_open_interactions_have_no_lead_time_and_count_open_segments_nowhere() -> None:
    events = [started(at(9, 0)), ev("queued", at(9, 0)),
              ev("agent_assigned", at(9, 1), agent_id="a", team="t")]
    row, _, busy = interaction(IID, events)
    assert (row.status, row.lead_time_s, row.handle_s, busy) == ("open", None, 0, [])
    assert row.queue_wait_s == 60


def test_capacity_split_across_hour_boundaries() -> None:
    assert split_by_hour(at(8, 45), at(10, 10)) == [
        (at(8, 0), 900.0), (at(9, 0), 3600.0), (at(10, 0), 600.0)]
    periods = [
        {"event_id": "e1", "event_type": "agent.signed_in", "occurred_at": at(8, 45),
         "team": "billing_team"},
        {"event_id": "e2", "event_type": "agent.signed_out", "occurred_at": at(10, 10), "team": None},
        {"event_id": "e3", "event_type": "agent.signed_in", "occurred_at": at(11, 0), "team": "retention"},
    ]  # the second period is still open: not staffed time yet
    rows, staffed = agent_tail("a1", None, periods, [])
    assert [(r.start_at, r.end_at, r.team) for r in rows] == [
        (at(8, 45), at(10, 10), "billing_team"), (at(11, 0), None, "retention")]
    assert [(s.agent_id, s.bucket_start, s.team, s.staffed_s) for s in staffed] == [
        ("a1", at(8, 0), "billing_team", 900.0), ("a1", at(9, 0), "billing_team", 3600.0),
        ("a1", at(10, 0), "billing_team", 600.0)]


def test_an_agent_resumed_after_10_10_keeps_the_hour_the_earlier_period_reaches() -> None:
    # stored: the period 08:45–10:10 (kept: it reaches past 10:00); events after 10:10
    kept = [{"signed_in_event_id": "e1", "team": "billing_team", "start_at": at(8, 45),
             "end_at": at(10, 10)}]
    later = [
        {"event_id": "e3", "event_type": "agent.signed_in", "occurred_at": at(10, 30), "team": "tech"},
        {"event_id": "e4", "event_type": "agent.signed_out", "occurred_at": at(11, 15), "team": None},
    ]
    rows, staffed = agent_tail("a1", at(10, 10), later, kept)
    assert [(r.signed_in_event_id, r.start_at, r.end_at) for r in rows] == [("e3", at(10, 30), at(11, 15))]
    assert [(s.bucket_start, s.team, s.staffed_s) for s in staffed] == [
        (at(10, 0), "billing_team", 600.0), (at(10, 0), "tech", 1800.0), (at(11, 0), "tech", 900.0)]


def test_busy_time_split_across_hours_under_the_assigned_team() -> None:
    events = [started(at(9, 50)), ev("agent_assigned", at(9, 50), agent_id="a", team="tech"),
              ev("ended", at(10, 20))]
    _, _, busy = interaction(IID, events)
    assert [(b.bucket_start, b.team, b.busy_s) for b in busy] == [
        (at(9, 0), "tech", 600.0), (at(10, 0), "tech", 1200.0)]


def test_the_row_says_since_when_an_open_interaction_waits() -> None:
    """waste.open_interactions: queued_since / on_hold_since of the episodes still open."""
    queued = [started(at(9, 0)), ev("queued", at(9, 1), queue="billing")]
    row, ledger, _ = interaction(IID, queued)
    assert (row.queued_since, row.on_hold_since) == (at(9, 1), None)
    assert not [w for w in ledger if w.waste_type == "waiting"]  # nothing counted until it ends
    held = [*queued, ev("agent_assigned", at(9, 3), agent_id="a1", team="care"),
            ev("hold_started", at(9, 4))]
    row, _, _ = interaction(IID, held)
    assert (row.queued_since, row.on_hold_since) == (None, at(9, 4))
    row, _, _ = interaction(IID, [*held, ev("ended", at(9, 9))])
    assert (row.queued_since, row.on_hold_since) == (None, None)
