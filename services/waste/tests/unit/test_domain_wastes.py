"""The seven wastes of contract section 5, per interaction: each type and subtype."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import summarise_interaction
from leancrm_waste.domain.wastes import WasteRow, interaction_wastes

IID = "00000000-0000-0000-0000-0000000000a1"
CID = "00000000-0000-0000-0000-0000000000c1"
DAY = datetime(2026, 11, 23, tzinfo=UTC)


def t(hh: int, mm: int, ss: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


def stream(*steps: tuple[str, datetime, dict[str, Any]]) -> list[Event]:
    return [Event(f"e{i:02d}", f"interaction.{kind}", at, {"interaction_id": IID, **data})
            for i, (kind, at, data) in enumerate(steps, start=1)]


def started(at: datetime, channel: str = "phone") -> tuple[str, datetime, dict[str, Any]]:
    return ("started", at, {"customer_id": CID, "channel": channel, "reason": "order_status",
                            "direction": "inbound"})


def step(kind: str, at: datetime, **data: Any) -> tuple[str, datetime, dict[str, Any]]:
    return (kind, at, data)


def rows(*steps: tuple[str, datetime, dict[str, Any]]) -> list[WasteRow]:
    return interaction_wastes(summarise_interaction(stream(*steps)))


def brief(rs: list[WasteRow]) -> list[tuple[str, str, datetime, str | None, float, str, str | None]]:
    return [(r.waste_type, r.subtype, r.occurred_at, r.team, r.quantity, r.unit, r.source_event_id)
            for r in rs]


def test_waiting_queue_and_hold_each_episode_with_positive_duration() -> None:
    got = rows(
        started(t(9, 0)),                                        # e01
        step("queued", t(9, 0), queue="q"),                      # e02: 0 s, answered at once: no row
        step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
        step("hold_started", t(9, 1)),                           # e04: 0 s hold: no row
        step("hold_ended", t(9, 1)),
        step("hold_started", t(9, 2)),                           # e06: 30 s
        step("hold_ended", t(9, 2, 30)),
        step("transferred", t(9, 3), to_queue="q2", to_channel="phone", reason="x",
             from_agent_id="a", from_channel="phone"),           # e08: re-queued 9:03 → 9:07:20
        step("agent_assigned", t(9, 7, 20), agent_id="b", team="tb"),
        step("ended", t(9, 8)),
    )
    assert [r for r in brief(got) if r[0] == "waiting"] == [
        ("waiting", "hold", t(9, 2), "ta", 30.0, "seconds", "e06"),
        ("waiting", "queue", t(9, 3), "tb", 260.0, "seconds", "e08"),
    ]


def test_over_processing_each_identification_after_the_first() -> None:
    got = rows(
        started(t(9, 0)),
        step("customer_identified", t(9, 0, 5), step="ivr", method="account_number"),   # e02: first
        step("customer_identified", t(9, 0, 9), step="ivr", method="date_of_birth"),    # e03: again, no agent
        step("queued", t(9, 1), queue="q"),
        step("agent_assigned", t(9, 2), agent_id="a", team="ta"),
        step("customer_identified", t(9, 2, 30), step="agent", method="account_number"),  # e06
    )
    assert brief(got) == [
        ("over_processing", "repeat_identification", t(9, 0, 9), None, 1.0, "count", "e03"),
        ("waiting", "queue", t(9, 1), "ta", 60.0, "seconds", "e04"),
        ("over_processing", "repeat_identification", t(9, 2, 30), "ta", 1.0, "count", "e06"),
    ]


def test_motion_for_a_same_channel_transfer_transportation_for_a_channel_switch() -> None:
    got = rows(
        started(t(9, 0), channel="chat"),
        step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
        step("transferred", t(9, 1), to_queue="q", to_channel="chat", reason="x",
             from_agent_id="a", from_channel="chat"),             # e03 handoff
        step("agent_assigned", t(9, 1), agent_id="b", team="tb"),
        step("transferred", t(9, 2), to_queue="q", to_channel="phone", reason="x",
             from_agent_id="b", from_channel="chat"),             # e05 channel switch
        step("agent_assigned", t(9, 2), agent_id="c", team="tc"),
        step("resolved", t(9, 3), resolved_by="agent"),
        step("ended", t(9, 4)),                                   # e08
    )
    assert brief(got) == [
        ("motion", "handoff", t(9, 1), "ta", 1.0, "count", "e03"),
        ("transportation", "channel_switch", t(9, 2), "tb", 1.0, "count", "e05"),
        ("defects", "not_first_agent", t(9, 4), "tc", 1.0, "count", "e08"),
    ]
    # every row carries the interaction's own channel (where it started)
    assert {r.channel for r in got} == {"chat"}


def test_defect_unresolved_when_ended_without_resolution() -> None:
    got = rows(started(t(9, 0)), step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
               step("ended", t(9, 5)))
    assert brief(got) == [("defects", "unresolved", t(9, 5), "ta", 1.0, "count", "e03")]


def test_defect_unresolved_includes_abandoned_and_has_no_team_without_an_agent() -> None:
    got = rows(started(t(9, 0)), step("queued", t(9, 0), queue="q"),
               step("abandoned", t(9, 4), stage="queue"), step("ended", t(9, 4)))
    assert brief(got) == [
        ("waiting", "queue", t(9, 0), None, 240.0, "seconds", "e02"),
        ("defects", "unresolved", t(9, 4), None, 1.0, "count", "e04"),
    ]


def test_end_of_interaction_rows_wait_for_the_end() -> None:
    # abandoned, not ended: no defect yet; resolved after a transfer, not ended: none yet
    assert rows(started(t(9, 0)), step("abandoned", t(9, 1), stage="ivr")) == []
    pending = rows(
        started(t(9, 0)), step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
        step("transferred", t(9, 1), to_queue="q", to_channel="phone", reason="x",
             from_agent_id="a", from_channel="phone"),
        step("agent_assigned", t(9, 1), agent_id="b", team="tb"),
        step("resolved", t(9, 2), resolved_by="agent"))
    assert [r.waste_type for r in pending] == ["motion"]


def test_not_first_agent_only_when_the_transfer_came_before_the_resolution() -> None:
    got = rows(
        started(t(9, 0)), step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
        step("resolved", t(9, 1), resolved_by="agent"),
        step("transferred", t(9, 2), to_queue="q", to_channel="phone", reason="x",
             from_agent_id="a", from_channel="phone"),
        step("agent_assigned", t(9, 2), agent_id="b", team="tb"),
        step("ended", t(9, 3)))
    assert [(r.waste_type, r.subtype) for r in got] == [("motion", "handoff")]


def test_resolved_first_time_is_no_defect() -> None:
    assert rows(started(t(9, 0)), step("agent_assigned", t(9, 0), agent_id="a", team="ta"),
                step("resolved", t(9, 1), resolved_by="agent"), step("ended", t(9, 2))) == []


def test_inventory_aged_backlog_when_ended_more_than_24_hours_after_start() -> None:
    got = rows(started(t(9, 0), channel="email"), step("queued", t(9, 0), queue="q"),
               step("agent_assigned", t(9, 0, 1, day=1), agent_id="a", team="ta"),
               step("resolved", t(9, 5, day=1), resolved_by="agent"),
               step("ended", t(9, 5, day=1)))
    assert brief(got) == [
        ("waiting", "queue", t(9, 0), "ta", 86401.0, "seconds", "e02"),
        ("inventory", "aged_backlog", t(9, 5, day=1), "ta", 1.0, "count", "e05"),
    ]


def test_exactly_24_hours_is_not_aged_but_a_second_more_is() -> None:
    assert rows(started(t(9, 0)), step("resolved", t(9, 1), resolved_by="bot"),
                step("ended", t(9, 0, day=1))) == []
    got = rows(started(t(9, 0)), step("ended", t(9, 0, 1, day=1)))
    assert [(r.waste_type, r.subtype) for r in got] == [("defects", "unresolved"),
                                                         ("inventory", "aged_backlog")]


def test_row_keys_are_unique_and_deterministic() -> None:
    steps = (started(t(9, 0)), step("queued", t(9, 0), queue="q"),
             step("agent_assigned", t(9, 1), agent_id="a", team="ta"),
             step("transferred", t(9, 2), to_queue="q", to_channel="phone", reason="x",
                  from_agent_id="a", from_channel="phone"),
             step("ended", t(9, 0, 1, day=1)))
    got = rows(*steps)
    # the transfer causes both a handoff and a queue episode; ended causes two rows
    assert [r.key for r in got] == [
        f"waiting/queue/{IID}/e02",
        f"motion/handoff/{IID}/e04",
        f"waiting/queue/{IID}/e04",
        f"defects/unresolved/{IID}/e05",
        f"inventory/aged_backlog/{IID}/e05",
    ]
    events = stream(*steps)
    assert interaction_wastes(summarise_interaction(reversed(events))) == got
