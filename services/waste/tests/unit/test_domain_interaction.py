"""Contract section 5, per interaction: every figure from the spec's words, worked by hand."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from leancrm_waste.domain.events import Event, order_interaction_events
from leancrm_waste.domain.interaction import AgentSegment, summarise_interaction
from leancrm_waste.domain.wastes import interaction_wastes

IID = "00000000-0000-0000-0000-000000000001"
CID = "00000000-0000-0000-0000-0000000000c1"
DAY = datetime(2026, 11, 23, tzinfo=UTC)


def t(hh: int, mm: int, ss: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


class Stream:
    """Builds one interaction's events with readable, deterministic event ids."""

    def __init__(self, iid: str = IID) -> None:
        self.iid = iid
        self.events: list[Event] = []

    def add(self, kind: str, at: datetime, **data: Any) -> Event:
        e = Event(f"{self.iid[-2:]}-{len(self.events) + 1:02d}", f"interaction.{kind}", at,
                  {"interaction_id": self.iid, **data})
        self.events.append(e)
        return e

    def started(self, at: datetime, channel: str = "phone", reason: str = "billing") -> Event:
        return self.add("started", at, customer_id=CID, channel=channel, reason=reason, direction="inbound")

    def transfer(self, at: datetime, from_channel: str | None, to_channel: str | None,
                 agent: str = "a") -> Event:
        return self.add("transferred", at, to_queue="q", to_channel=to_channel, reason="specialist",
                        from_agent_id=agent, from_channel=from_channel)

    def assign(self, at: datetime, agent: str, team: str) -> Event:
        return self.add("agent_assigned", at, agent_id=agent, team=team)


def the_call() -> Stream:
    """A phone call about billing: IVR identification, queue, agent a1 identifies the
    customer again and puts them on hold, hands off to a2 on the phone (motion), a2 holds
    and switches the customer to email (transportation), a3 answers the email, identifies
    again, holds, resolves; the interaction ends."""
    s = Stream()
    s.started(t(9, 0, 0))                                             # 01
    s.add("customer_identified", t(9, 0, 20), step="ivr", method="account_number")   # 02
    s.add("queued", t(9, 0, 40), queue="billing")                     # 03 queue ep 1 starts
    s.assign(t(9, 2, 10), "a1", "billing_team")                       # 04 ep 1 = 90 s; a1 starts
    s.add("customer_identified", t(9, 2, 40), step="agent", method="account_number")  # 05 repeat #1
    s.add("hold_started", t(9, 4, 0))                                 # 06 hold 1 starts
    s.add("hold_ended", t(9, 5, 30))                                  # 07 hold 1 = 90 s
    s.transfer(t(9, 6, 0), "phone", "phone", "a1")                    # 08 a1 = 230 s; ep 2 starts; handoff
    s.assign(t(9, 7, 15), "a2", "tech_support")                       # 09 ep 2 = 75 s; a2 starts
    s.add("hold_started", t(9, 8, 0))                                 # 10 hold 2 starts
    s.transfer(t(9, 9, 0), "phone", "email", "a2")                    # 11 hold 2 = 60; a2 = 105; ep 3; switch
    s.assign(t(9, 40, 0), "a3", "email_team")                         # 12 ep 3 = 1860 s; a3 starts
    s.add("customer_identified", t(9, 41, 0), step="agent", method="email_address")  # 13 repeat #2
    s.add("hold_started", t(9, 44, 0))                                # 14 hold 3 starts
    s.add("hold_ended", t(9, 46, 30))                                 # 15 hold 3 = 150 s
    s.add("resolved", t(9, 50, 0), resolved_by="agent")               # 16 inside a3's segment
    s.add("ended", t(9, 52, 0))                                       # 17 a3 = 720 s
    return s


def test_the_call_worked_by_hand() -> None:
    f = summarise_interaction(the_call().events)
    assert (f.interaction_id, f.customer_id, f.channel, f.reason) == (IID, CID, "phone", "billing")
    assert (f.started_at, f.ended_at) == (t(9, 0), t(9, 52))
    assert (f.status, f.resolved_by, f.resolved, f.reached_agent) == ("resolved", "agent", True, True)
    # queue episodes: 09:00:40→09:02:10 (90), 09:06:00→09:07:15 (75), 09:09:00→09:40:00 (1860)
    assert f.queue_wait_s == 2025.0
    # holds: 09:04:00→09:05:30 (90), 09:08:00→transfer 09:09:00 (60), 09:44:00→09:46:30 (150)
    assert f.hold_s == 300.0
    # segments: a1 09:02:10→09:06:00 (230), a2 09:07:15→09:09:00 (105), a3 09:40→09:52 (720)
    assert f.handle_s == 1055.0
    # resolved at 09:50 inside a3's segment (720 s) with 150 s of hold inside it
    assert f.value_added_s == 570.0
    assert f.lead_time_s == 3120.0  # 09:00 → 09:52
    assert (f.identifications, f.transfers, f.cross_channel_transfers) == (3, 2, 1)
    assert (f.transfers_before_resolution, f.last_team) == (2, "email_team")
    assert f.agent_segments == (
        AgentSegment(t(9, 2, 10), t(9, 6), "billing_team", "a1", "01-04"),
        AgentSegment(t(9, 7, 15), t(9, 9), "tech_support", "a2", "01-09"),
        AgentSegment(t(9, 40), t(9, 52), "email_team", "a3", "01-12"),
    )
    rows = [(r.waste_type, r.subtype, r.occurred_at, r.team, r.quantity, r.unit, r.source_event_id)
            for r in interaction_wastes(f)]
    assert rows == [
        ("waiting", "queue", t(9, 0, 40), "billing_team", 90.0, "seconds", "01-03"),
        ("over_processing", "repeat_identification", t(9, 2, 40), "billing_team", 1.0, "count", "01-05"),
        ("waiting", "hold", t(9, 4), "billing_team", 90.0, "seconds", "01-06"),
        ("motion", "handoff", t(9, 6), "billing_team", 1.0, "count", "01-08"),
        ("waiting", "queue", t(9, 6), "tech_support", 75.0, "seconds", "01-08"),
        ("waiting", "hold", t(9, 8), "tech_support", 60.0, "seconds", "01-10"),
        ("transportation", "channel_switch", t(9, 9), "tech_support", 1.0, "count", "01-11"),
        ("waiting", "queue", t(9, 9), "email_team", 1860.0, "seconds", "01-11"),
        ("over_processing", "repeat_identification", t(9, 41), "email_team", 1.0, "count", "01-13"),
        ("waiting", "hold", t(9, 44), "email_team", 150.0, "seconds", "01-14"),
        ("defects", "not_first_agent", t(9, 52), "email_team", 1.0, "count", "01-17"),
    ]
    assert {(r.interaction_id, r.customer_id, r.channel, r.reason) for r in interaction_wastes(f)} == {
        (IID, CID, "phone", "billing")}


def test_duplicates_and_shuffled_arrival_give_identical_figures_and_rows() -> None:
    events = the_call().events
    expected = summarise_interaction(events)
    expected_rows = interaction_wastes(expected)
    rng = random.Random(20261123)
    for _ in range(200):
        batch = events + rng.sample(events, rng.randrange(len(events)))
        rng.shuffle(batch)
        got = summarise_interaction(batch)
        assert got == expected
        assert interaction_wastes(got) == expected_rows


def test_every_permutation_of_a_small_interaction_with_ties_gives_the_same_figures() -> None:
    s = Stream()
    s.started(t(10, 0))
    s.add("queued", t(10, 0))                       # same instant as started
    s.assign(t(10, 1), "a1", "t1")
    s.transfer(t(10, 3), "chat", "chat", "a1")
    s.assign(t(10, 3), "a2", "t2")                  # same instant as the transfer
    s.add("ended", t(10, 5))
    expected = summarise_interaction(s.events)
    # queue 10:00→10:01 (60) + transfer 10:03→assign 10:03 (0); a1 120 s, a2 120 s
    assert (expected.queue_wait_s, expected.handle_s, expected.transfers) == (60.0, 240.0, 1)
    for perm in itertools.permutations(s.events):
        assert summarise_interaction(perm) == expected


# --- each duration, as the contract words it ---------------------------------------


def test_queue_wait_runs_to_the_next_agent_assigned_abandoned_or_ended() -> None:
    a = Stream()
    a.started(t(9, 0))
    a.add("queued", t(9, 0, 10), queue="q")
    a.assign(t(9, 1, 10), "a", "t")
    a.add("ended", t(9, 5))
    assert summarise_interaction(a.events).queue_wait_s == 60.0

    b = Stream()
    b.started(t(9, 0))
    b.add("queued", t(9, 0, 10), queue="q")
    b.add("abandoned", t(9, 2, 10), stage="queue")
    b.add("ended", t(9, 3))
    assert summarise_interaction(b.events).queue_wait_s == 120.0  # abandoned closes it, not ended

    c = Stream()
    c.started(t(9, 0))
    c.add("queued", t(9, 0, 10), queue="q")
    c.add("ended", t(9, 4, 10))
    assert summarise_interaction(c.events).queue_wait_s == 240.0


def test_a_transfer_re_queues_and_an_episode_without_its_end_counts_nothing_yet() -> None:
    s = Stream()
    s.started(t(9, 0))
    s.add("queued", t(9, 0), queue="q")
    s.assign(t(9, 1), "a", "t")
    s.transfer(t(9, 2), "phone", "phone")
    f = summarise_interaction(s.events)  # still waiting after the transfer
    assert f.queue_wait_s == 60.0
    assert [(q.start, q.end, q.duration_s) for q in f.queue_episodes] == [
        (t(9, 0), t(9, 1), 60.0), (t(9, 2), None, None)]
    s.assign(t(9, 4, 30), "b", "t")
    assert summarise_interaction(s.events).queue_wait_s == 60.0 + 150.0


def test_hold_runs_to_the_next_hold_ended_transferred_or_ended() -> None:
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 0), "a", "t")
    s.add("hold_started", t(9, 1))
    s.add("hold_ended", t(9, 1, 45))           # 45
    s.add("hold_started", t(9, 2))
    s.transfer(t(9, 3), "phone", "phone")      # 60: the transfer ends the hold
    s.assign(t(9, 4), "b", "t")
    s.add("hold_started", t(9, 5))
    s.add("ended", t(9, 7, 30))                # 150: ended ends the hold
    f = summarise_interaction(s.events)
    assert f.hold_s == 255.0
    assert [h.duration_s for h in f.hold_episodes] == [45.0, 60.0, 150.0]


def test_an_unfinished_hold_counts_nothing_yet() -> None:
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 0), "a", "t")
    s.add("hold_started", t(9, 1))
    f = summarise_interaction(s.events)
    assert (f.hold_s, f.handle_s, f.hold_episodes[0].end) == (0.0, 0.0, None)
    assert interaction_wastes(f) == []


def test_handle_runs_from_each_agent_assigned_to_the_next_transferred_or_ended() -> None:
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 1), "a", "t1")
    s.transfer(t(9, 4), "chat", "chat", "a")   # 180
    s.assign(t(9, 5), "b", "t2")
    s.add("ended", t(9, 12, 30))               # 450
    f = summarise_interaction(s.events)
    assert f.handle_s == 630.0
    assert [(g.agent_id, g.team, g.duration_s) for g in f.agent_segments] == [
        ("a", "t1", 180.0), ("b", "t2", 450.0)]


def test_an_open_agent_segment_has_no_end_and_counts_nothing() -> None:
    s = Stream()
    s.started(t(9, 0))
    s.add("queued", t(9, 0))
    s.assign(t(9, 1), "a", "t")
    f = summarise_interaction(s.events)
    assert f.agent_segments == (AgentSegment(t(9, 1), None, "t", "a", "01-03"),)
    assert (f.handle_s, f.queue_wait_s, f.lead_time_s, f.status) == (0.0, 60.0, None, "open")


def test_value_added_by_an_agent_is_the_resolving_segment_minus_hold_inside_it() -> None:
    s = Stream()
    s.started(t(10, 0))
    s.add("queued", t(10, 0))
    s.assign(t(10, 2), "a", "t")
    s.add("hold_started", t(10, 4))
    s.add("resolved", t(10, 5), resolved_by="agent")
    s.add("ended", t(10, 8))
    f = summarise_interaction(s.events)
    # segment 10:02→10:08 = 360; hold 10:04→10:08 (ended ends it) = 240; 360 − 240
    assert (f.handle_s, f.hold_s, f.value_added_s, f.lead_time_s) == (360.0, 240.0, 120.0, 480.0)


def test_value_added_counts_only_the_segment_in_which_resolved_occurred() -> None:
    s = Stream()
    s.started(t(10, 0))
    s.assign(t(10, 0), "a", "t")
    s.add("hold_started", t(10, 1))
    s.add("hold_ended", t(10, 2))              # hold in a's segment, not the resolving one
    s.transfer(t(10, 5), "phone", "phone")
    s.assign(t(10, 6), "b", "t")
    s.add("resolved", t(10, 9), resolved_by="agent")
    s.transfer(t(10, 10), "phone", "phone", "b")   # after the resolution
    s.assign(t(10, 11), "c", "t")
    s.add("ended", t(10, 20))
    f = summarise_interaction(s.events)
    assert f.value_added_s == 240.0  # b: 10:06 → 10:10
    assert (f.transfers, f.transfers_before_resolution) == (2, 1)


def test_value_added_is_zero_while_the_resolving_segment_is_open() -> None:
    s = Stream()
    s.started(t(10, 0))
    s.assign(t(10, 1), "a", "t")
    s.add("resolved", t(10, 3), resolved_by="agent")
    f = summarise_interaction(s.events)
    assert (f.status, f.value_added_s, f.lead_time_s) == ("resolved", 0.0, None)
    s.add("ended", t(10, 4))
    assert summarise_interaction(s.events).value_added_s == 180.0


def test_resolved_by_agent_outside_any_agent_segment_adds_no_value() -> None:
    s = Stream()
    s.started(t(10, 0))
    s.assign(t(10, 1), "a", "t")
    s.transfer(t(10, 2), "phone", "phone")
    s.add("resolved", t(10, 3), resolved_by="agent")   # while queued again
    s.add("ended", t(10, 4))
    assert summarise_interaction(s.events).value_added_s == 0.0


@pytest.mark.parametrize("resolver", ["self_service", "community", "bot"])
def test_self_service_value_added_is_resolved_minus_started(resolver: str) -> None:
    s = Stream()
    s.started(t(12, 0), channel="web_self_service")
    s.add("customer_identified", t(12, 0, 30), step="self_service", method="login")
    s.add("resolved", t(12, 4), resolved_by=resolver)
    s.add("ended", t(12, 5))
    f = summarise_interaction(s.events)
    assert (f.value_added_s, f.lead_time_s, f.status, f.reached_agent) == (240.0, 300.0, "resolved", False)
    assert interaction_wastes(f) == []


def test_not_resolved_adds_no_value_and_lead_time_is_ended_minus_started() -> None:
    s = Stream()
    s.started(t(12, 0))
    s.add("queued", t(12, 0))
    s.assign(t(12, 1), "a", "t")
    s.add("ended", t(12, 11, 15))
    f = summarise_interaction(s.events)
    assert (f.value_added_s, f.lead_time_s, f.status) == (0.0, 675.0, "unresolved")


# --- counts and status ----------------------------------------------------------------


def test_transfers_and_cross_channel_transfers_including_null_channels() -> None:
    s = Stream()
    s.started(t(9, 0), channel="chat")
    s.assign(t(9, 1), "a", "t")
    s.transfer(t(9, 2), "chat", None)        # to_channel null: stays on chat
    s.assign(t(9, 3), "b", "t")
    s.transfer(t(9, 4), None, "email")       # from_channel null: the channel it was in (chat)
    s.assign(t(9, 5), "c", "t")
    s.transfer(t(9, 6), None, "email")       # now in email: same channel
    s.assign(t(9, 7), "d", "t")
    s.transfer(t(9, 8), "email", "phone")
    f = summarise_interaction(s.events)
    assert (f.transfers, f.cross_channel_transfers) == (4, 2)
    assert [x.cross_channel for x in f.transfer_events] == [False, True, False, True]


def test_identifications_count_every_customer_identified() -> None:
    s = Stream()
    s.started(t(9, 0))
    for i, step in enumerate(["ivr", "bot", "agent", "agent"]):
        s.add("customer_identified", t(9, 1 + i), step=step, method="x")
    assert summarise_interaction(s.events).identifications == 4


def test_status_open_resolved_unresolved_abandoned() -> None:
    s = Stream()
    s.started(t(9, 0))
    assert summarise_interaction(s.events).status == "open"
    ab = Stream()
    ab.started(t(9, 0))
    ab.add("queued", t(9, 0))
    ab.add("abandoned", t(9, 3), stage="queue")
    f = summarise_interaction(ab.events)   # abandoned before its end arrives
    assert (f.status, f.ended_at, f.resolved, f.queue_wait_s) == ("abandoned", None, False, 180.0)
    ab.add("ended", t(9, 3))
    assert summarise_interaction(ab.events).status == "abandoned"
    un = Stream()
    un.started(t(9, 0))
    un.add("ended", t(9, 3))
    assert summarise_interaction(un.events).status == "unresolved"
    re = Stream()
    re.started(t(9, 0))
    re.add("resolved", t(9, 3), resolved_by="bot")
    assert summarise_interaction(re.events).status == "resolved"  # resolved, not ended yet


# --- partial histories, ties, bad input --------------------------------------------------


def test_a_partial_history_without_started_gives_what_is_known() -> None:
    s = Stream()
    s.add("queued", t(9, 0, 30))
    s.assign(t(9, 2), "a", "t")
    s.add("customer_identified", t(9, 2, 5), step="agent", method="x")
    s.add("resolved", t(9, 4), resolved_by="bot")
    s.add("ended", t(9, 5))
    f = summarise_interaction(s.events)
    assert (f.interaction_id, f.customer_id, f.channel, f.reason, f.started_at) == (
        IID, None, None, None, None)
    assert (f.queue_wait_s, f.handle_s, f.identifications, f.status) == (90.0, 180.0, 1, "resolved")
    assert (f.lead_time_s, f.value_added_s, f.ended_at) == (None, 0.0, t(9, 5))


def test_no_events_at_all_gives_an_empty_open_interaction() -> None:
    f = summarise_interaction([], interaction_id=IID)
    assert (f.interaction_id, f.status, f.queue_wait_s, f.transfers, f.agent_segments) == (
        IID, "open", 0.0, 0, ())


def test_events_of_two_interactions_are_refused() -> None:
    a, b = Stream(IID), Stream("00000000-0000-0000-0000-000000000002")
    a.started(t(9, 0))
    b.started(t(9, 0))
    with pytest.raises(ValueError, match="more than one interaction"):
        summarise_interaction(a.events + b.events)
    with pytest.raises(ValueError, match="more than one interaction"):
        summarise_interaction(a.events, interaction_id="00000000-0000-0000-0000-000000000002")


def test_naive_timestamps_are_refused_and_offsets_normalised_to_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event("x", "interaction.ended", datetime(2026, 11, 23, 9, 0), {})
    cet = timezone(timedelta(hours=1))
    e = Event("x", "interaction.ended", datetime(2026, 11, 23, 10, 0, tzinfo=cet), {})
    assert e.occurred_at == t(9, 0) and e.occurred_at.tzinfo is UTC


def test_a_transfer_and_the_next_assignment_at_the_same_instant_follow_section_4() -> None:
    # By lifecycle rank agent_assigned sorts before transferred; section 4 forbids
    # assigning b while a is assigned, so the transfer goes first.
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 1), "a", "ta")
    tr = s.transfer(t(9, 4), "phone", "phone", "a")
    asg = s.assign(t(9, 4), "b", "tb")
    s.add("ended", t(9, 6))
    assert [e.event_id for e in order_interaction_events(s.events)][2:4] == [tr.event_id, asg.event_id]
    f = summarise_interaction(s.events)
    assert [(g.agent_id, g.duration_s) for g in f.agent_segments] == [("a", 180.0), ("b", 120.0)]
    assert (f.queue_wait_s, f.handle_s) == (0.0, 300.0)


def test_an_assignment_and_its_transfer_at_the_same_instant_make_a_zero_segment() -> None:
    # Here no agent is assigned before the instant, so the assignment goes first.
    s = Stream()
    s.started(t(9, 0))
    s.add("queued", t(9, 0))
    s.assign(t(9, 2), "a", "ta")
    s.transfer(t(9, 2), "phone", "phone", "a")
    s.assign(t(9, 3), "b", "tb")
    s.add("ended", t(9, 5))
    f = summarise_interaction(s.events)
    assert [(g.agent_id, g.duration_s) for g in f.agent_segments] == [("a", 0.0), ("b", 120.0)]
    assert f.queue_wait_s == 120.0 + 60.0


def test_without_a_permitted_event_the_lifecycle_rank_then_event_id_decides() -> None:
    # Two hold_ended with no hold started (a history with gaps): neither is permitted,
    # so (rank, event_id) decides; the figures do not depend on it anyway.
    s = Stream()
    e1 = s.add("hold_ended", t(9, 0))
    e2 = s.add("hold_ended", t(9, 0))
    e0 = s.add("customer_identified", t(9, 0), step="ivr", method="x")
    assert [e.event_id for e in order_interaction_events([e2, e1, e0])] == [
        e0.event_id, e1.event_id, e2.event_id]


def test_conflicting_copies_of_one_event_id_resolve_the_same_way_in_any_order() -> None:
    a = Event("dup", "interaction.ended", t(9, 5), {"interaction_id": IID})
    b = Event("dup", "interaction.ended", t(9, 6), {"interaction_id": IID})
    st = Stream()
    start = st.started(t(9, 0))
    assert summarise_interaction([start, a, b]) == summarise_interaction([b, start, a])
    assert summarise_interaction([b, start, a]).ended_at == t(9, 5)


def test_a_hold_ended_and_restarted_at_one_instant_keeps_the_second_hold() -> None:
    # rank alone gives started, started, ended (both holds 0 s); section 4 forbids a
    # second hold_started while on hold, so the hold_ended goes between them
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 0), "a", "t")
    s.add("hold_started", t(9, 1))
    s.add("hold_started", t(9, 2))
    s.add("hold_ended", t(9, 2))
    s.add("hold_ended", t(9, 4))
    f = summarise_interaction(s.events)
    assert [h.duration_s for h in f.hold_episodes] == [60.0, 120.0]
    assert f.hold_s == 180.0


def test_queued_while_an_agent_is_assigned_then_transferred_counts_both_episodes_in_full() -> None:
    # Section 4 permits queue_interaction while an agent is assigned; the contract ends a
    # queue episode only at agent_assigned, abandoned or ended, so the queued episode
    # (09:03 → 09:07) and the transfer's (09:05 → 09:07) both count: the overlap twice.
    s = Stream()
    s.started(t(9, 0))
    s.assign(t(9, 1), "a", "ta")
    s.add("queued", t(9, 3), queue="callback")
    s.transfer(t(9, 5), "phone", "phone", "a")
    s.assign(t(9, 7), "b", "tb")
    s.add("ended", t(9, 8))
    f = summarise_interaction(s.events)
    assert [(q.start, q.end) for q in f.queue_episodes] == [(t(9, 3), t(9, 7)), (t(9, 5), t(9, 7))]
    assert (f.queue_wait_s, f.handle_s) == (240.0 + 120.0, 240.0 + 60.0)
    assert [(r.subtype, r.quantity) for r in interaction_wastes(f) if r.waste_type == "waiting"] == [
        ("queue", 240.0), ("queue", 120.0)]


def test_waiting_since_is_the_start_of_the_episodes_still_open() -> None:
    """Contacts still waiting (waste.open_interactions): queued since the earliest open
    queue episode, on hold since the open hold episode; nothing once closed or ended."""
    from leancrm_waste.domain.interaction import waiting_since

    s = Stream()
    s.started(t(9, 0))
    s.add("queued", t(9, 1), queue="billing")
    assert waiting_since(summarise_interaction(s.events)) == (t(9, 1), None)
    s.assign(t(9, 5), "a1", "care")
    assert waiting_since(summarise_interaction(s.events)) == (None, None)
    s.add("hold_started", t(9, 6))
    assert waiting_since(summarise_interaction(s.events)) == (None, t(9, 6))
    s.add("hold_ended", t(9, 8))
    s.transfer(t(9, 9), "phone", "phone", "a1")                   # re-queues
    f = summarise_interaction(s.events)
    assert waiting_since(f) == (t(9, 9), None) and f.queue_wait_s == 240 and f.hold_s == 120
    s.add("ended", t(9, 20))                                      # closes every episode
    assert waiting_since(summarise_interaction(s.events)) == (None, None)
