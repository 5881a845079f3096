"""The generator: deterministic, valid by the contract's rules, and shaped like a front office."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from leancrm_simulator.checker import check
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import (
    CUSTOMERS_COMMANDS,
    FEEDBACK_COMMANDS,
    INTERACTIONS_COMMANDS,
    SimCommand,
)
from leancrm_simulator.scenario import generate

BASE = Knobs(seed=11, customers=300, days=7)  # the conftest's base scenario

Make = Callable[[Knobs], tuple[SimCommand, ...]]
OCCURRED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _wire(commands: tuple[SimCommand, ...]) -> list[tuple[str, str, dict[str, object]]]:
    return [(c.topic, c.key, c.envelope) for c in commands]


def test_same_seed_and_knobs_give_the_very_same_commands() -> None:
    knobs = Knobs(seed=5, customers=80, days=3)
    first, second = generate(knobs), generate(Knobs(seed=5, customers=80, days=3))
    assert _wire(tuple(first)) == _wire(tuple(second))


def test_another_seed_gives_other_commands_and_ids() -> None:
    a = tuple(generate(Knobs(seed=1, customers=80, days=2)))
    b = tuple(generate(Knobs(seed=2, customers=80, days=2)))
    assert _wire(a) != _wire(b)
    assert not {c.command_id for c in a} & {c.command_id for c in b}
    assert not {c.key for c in a} & {c.key for c in b}


def test_command_ids_are_unique_and_name_the_scenario(base_commands: tuple[SimCommand, ...]
                                                      ) -> None:
    ids = [c.command_id for c in base_commands]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(f"sim-{BASE.namespace()}-") and len(i) <= 128 for i in ids)


def test_commands_come_in_business_time_order_with_rfc3339_z_times(
        base_commands: tuple[SimCommand, ...]) -> None:
    times = [c.at_ms for c in base_commands]
    assert times == sorted(times)
    assert all(OCCURRED_AT.match(c.envelope["occurred_at"]) for c in base_commands)
    first = datetime.fromisoformat(base_commands[0].envelope["occurred_at"])
    last = datetime.fromisoformat(base_commands[-1].envelope["occurred_at"])
    assert first >= datetime(2026, 11, 23, tzinfo=UTC)
    assert last < datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize("knobs", [
    BASE,
    Knobs(seed=3, customers=150, days=10, start=date(2027, 2, 26)),
    Knobs(seed=4, customers=200, days=4, fcr=0.0, transfer=1.0, cross_channel=0.5,
          reidentify=1.0),
    Knobs(seed=5, customers=200, days=4, fcr=1.0, transfer=0.0, self_service=1.0),
    Knobs(seed=6, customers=250, days=4, agents_per_team=1, staffing=0.2, contact_rate=8.0),
    Knobs(seed=7, customers=100, days=5, agents_per_team=12, staffing=4.0, email_backlog=1.0,
          feedback_rate=1.0, cross_channel=1.0),
    Knobs(seed=8, customers=1, days=1),
    Knobs(seed=9, customers=50, days=2, contact_rate=0.0, feedback_rate=0.0),
], ids=lambda k: f"seed{k.seed}")
def test_every_command_obeys_its_streams_rules(knobs: Knobs, make: Make) -> None:
    assert check(make(knobs)) == []


def test_topics_and_keys_follow_the_contract(base_commands: tuple[SimCommand, ...]) -> None:
    for c in base_commands:
        d = c.data
        if c.topic == CUSTOMERS_COMMANDS:
            assert c.key == d["customer_id"]
        elif c.command_type in ("sign_in_agent", "sign_out_agent"):
            assert c.topic == INTERACTIONS_COMMANDS and c.key == d["agent_id"]
        elif c.topic == INTERACTIONS_COMMANDS:
            assert c.envelope["correlation_id"] == d["interaction_id"]
        elif c.command_type == "submit_feedback":
            assert c.topic == FEEDBACK_COMMANDS
            assert c.key == (d["customer_id"] or d["feedback_id"])
        assert c.headers() == [("content-type", b"application/json"),
                               ("message_type", c.command_type.encode())]


def test_customers_are_registered_before_anything_is_about_them(
        base_commands: tuple[SimCommand, ...]) -> None:
    registered: dict[str, int] = {}
    for c in base_commands:
        if c.command_type == "register_customer":
            registered[c.data["customer_id"]] = c.at_ms
        for field in ("customer_id", "voter_customer_id"):
            cid = c.data.get(field)
            if cid is not None:
                assert cid in registered and registered[cid] <= c.at_ms, c.envelope
    assert len(registered) == BASE.customers


def test_a_front_office_week_has_every_kind_of_traffic(
        base_commands: tuple[SimCommand, ...]) -> None:
    types = Counter(c.command_type for c in base_commands)
    assert set(types) == {
        "register_customer", "change_customer_details", "change_consent", "forget_customer",
        "start_interaction", "identify_customer", "queue_interaction", "assign_agent",
        "transfer_interaction", "start_hold", "end_hold", "resolve_interaction",
        "abandon_interaction", "end_interaction", "sign_in_agent", "sign_out_agent",
        "submit_feedback", "vote_idea"}
    data = [c.data for c in base_commands]
    channels = {d["channel"] for d in data if "direction" in d}
    assert channels == {"phone", "chat", "email", "sms", "social", "web_self_service",
                        "community", "bot"}
    assert {d["step"] for d in data if "step" in d} == {"ivr", "agent", "bot", "self_service"}
    assert {d["resolved_by"] for d in data if "resolved_by" in d} == {
        "agent", "self_service", "community", "bot"}
    assert {d["stage"] for d in data if "stage" in d} == {"ivr", "queue", "hold", "self_service"}
    assert {d["direction"] for d in data if "direction" in d} == {"inbound", "outbound"}
    feedback = [d for c, d in zip(base_commands, data, strict=True)
                if c.command_type == "submit_feedback"]
    assert {f["source"] for f in feedback} == {"tweet", "survey", "idea", "review",
                                               "community_post", "complaint"}
    assert any(f["customer_id"] is None for f in feedback)
    assert any(f["interaction_id"] is not None for f in feedback)
    assert {"price", "offers"} <= {f["topic"] for f in feedback}
    assert any(f["rating"] is not None for f in feedback)
    complaint_kinds = {f["topic"] for f in feedback if f["source"] == "complaint"}
    assert len(complaint_kinds) >= 3
    votes = [d for c, d in zip(base_commands, data, strict=True)
             if c.command_type == "vote_idea"]
    assert {v["vote"] for v in votes} == {1, -1}
    per_voter = Counter((v["feedback_id"], v["voter_customer_id"]) for v in votes)
    assert max(per_voter.values()) >= 2, "someone changes their vote"


def test_demand_peaks_in_the_morning_and_weekdays_are_busier(
        base_commands: tuple[SimCommand, ...]) -> None:
    starts = [datetime.fromisoformat(c.envelope["occurred_at"]) for c in base_commands
              if c.command_type == "start_interaction" and c.data["channel"] == "phone"]
    by_hour = Counter(s.hour for s in starts)
    assert by_hour[10] > 2 * by_hour[19]
    assert by_hour[13] > by_hour[12]
    by_day = Counter(s.weekday() for s in starts)
    assert by_day[0] > by_day[5] > by_day[6]
    assert by_hour[3] == 0, "phone lines are closed at night"


def test_agents_sign_in_in_shifts_and_out_the_same_day(
        base_commands: tuple[SimCommand, ...]) -> None:
    shifts = [c for c in base_commands if c.command_type in ("sign_in_agent", "sign_out_agent")]
    agents = {c.data["agent_id"] for c in shifts}
    assert len(agents) == 5 * BASE.agents_per_team
    teams = {c.data["team"] for c in shifts if c.command_type == "sign_in_agent"}
    assert teams == {"billing_team", "tech_support", "retention", "customer_service", "digital"}
    open_since: dict[str, datetime] = {}
    for c in shifts:
        at = datetime.fromisoformat(c.envelope["occurred_at"])
        if c.command_type == "sign_in_agent":
            open_since[c.data["agent_id"]] = at
        else:
            assert open_since.pop(c.data["agent_id"]).date() == at.date()
    assert not open_since


def test_email_backlog_leaves_some_emails_open_or_older_than_a_day(
        base_commands: tuple[SimCommand, ...]) -> None:
    started: dict[str, int] = {}
    ended: dict[str, int] = {}
    for c in base_commands:
        if c.command_type == "start_interaction" and c.data["channel"] == "email":
            started[c.data["interaction_id"]] = c.at_ms
        elif c.command_type == "end_interaction" and c.data["interaction_id"] in started:
            ended[c.data["interaction_id"]] = c.at_ms
    aged = [i for i, t in ended.items() if t - started[i] > 24 * 3600 * 1000]
    still_open = set(started) - set(ended)
    assert aged and still_open


def test_self_service_failures_fall_back_to_the_phone(
        base_commands: tuple[SimCommand, ...]) -> None:
    """A customer who gave up in self-service calls about the same reason soon after."""
    gave_up: dict[tuple[str, str], int] = {}
    starts: dict[str, tuple[str, str, str]] = {}
    fell_back = 0
    for c in base_commands:
        d = c.data
        if c.command_type == "start_interaction":
            starts[d["interaction_id"]] = (d["customer_id"], d["reason"], d["channel"])
            key = (d["customer_id"], d["reason"])
            recent = key in gave_up and c.at_ms - gave_up[key] < 72 * 3600_000
            if d["channel"] == "phone" and recent:
                fell_back += 1
        elif c.command_type == "abandon_interaction" and d["stage"] == "self_service":
            customer, reason, _ = starts[d["interaction_id"]]
            gave_up[(customer, reason)] = c.at_ms
    assert fell_back >= 10
