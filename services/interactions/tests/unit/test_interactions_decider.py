"""The interactions decider, pure: every rule of contract section 4 (interactions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from leancrm_contracts import interactions as m
from leancrm_interactions.domain import Agent, Interaction, InteractionsDecider, NoStream, State
from leancrm_servicekit.decider import Command, DomainError, NewEvent, RecordedEvent

D = InteractionsDecider()
IID = str(uuid.uuid4())
CID = str(uuid.uuid4())
AGENT = "a-17"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

#: a valid data payload (beside interaction_id / agent_id) for every command type
DATA: dict[str, dict[str, Any]] = {
    "start_interaction": {"customer_id": CID, "channel": "phone", "reason": "billing"},
    "identify_customer": {"step": "ivr", "method": "account_number"},
    "queue_interaction": {"queue": "billing"},
    "assign_agent": {"agent_id": AGENT, "team": "billing"},
    "transfer_interaction": {"to_queue": "tech", "to_channel": "chat", "reason": "technical"},
    "start_hold": {},
    "end_hold": {},
    "resolve_interaction": {"resolved_by": "agent"},
    "abandon_interaction": {"stage": "queue"},
    "end_interaction": {},
}
INTERACTION_COMMANDS = list(DATA)
AGENT_DATA: dict[str, dict[str, Any]] = {"sign_in_agent": {"team": "billing"}, "sign_out_agent": {}}

#: one step of a history: a command type and data beside the defaults
Step = tuple[str, dict[str, Any]]


class Clock:
    """Hands out strictly increasing business times."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=10)
        return self.t


def cmd(command_type: str, at: datetime = T0, iid: str = IID, **data: Any) -> Command:
    if command_type in AGENT_DATA:
        payload = {"agent_id": AGENT, **AGENT_DATA[command_type], **data}
    else:
        payload = {"interaction_id": iid, **DATA[command_type], **data}
    model = m.COMMANDS[command_type].model_validate(payload)
    return Command(command_id=str(uuid.uuid4()), command_type=command_type, occurred_at=at,
                   data=model)


def run(state: State, command: Command, version: int = 0) -> tuple[State, list[NewEvent]]:
    """Decide, then fold the new events back the way the kit does (stored JSON)."""
    events = list(D.decide(state, command))
    for i, e in enumerate(events, version + 1):
        state = D.evolve(state, RecordedEvent(e.event_type, i, command.occurred_at, e.customer_id,
                                              e.data.model_dump(mode="json")))
    return state, events


def given(*steps: Step, at: datetime = T0) -> State:
    state: State = D.initial_state()
    for n, (command_type, data) in enumerate(steps):
        state, _ = run(state, cmd(command_type, at=at, **data), n)
    return state


def rejected(state: State, command: Command) -> DomainError:
    with pytest.raises(DomainError) as err:
        D.decide(state, command)
    return err.value


START: Step = ("start_interaction", {})
QUEUE: Step = ("queue_interaction", {})
ASSIGN: Step = ("assign_agent", {})
HOLD: Step = ("start_hold", {})
RESOLVE: Step = ("resolve_interaction", {})
ABANDON: Step = ("abandon_interaction", {})
END: Step = ("end_interaction", {})


def only(events: list[NewEvent]) -> NewEvent:
    assert len(events) == 1
    return events[0]


def data_of(event: NewEvent) -> dict[str, Any]:
    return dict(event.data.model_dump(mode="json"))


# --- start ----------------------------------------------------------------------------


def test_start_emits_started_with_the_commands_fields_keyed_by_customer() -> None:
    state, events = run(D.initial_state(), cmd("start_interaction"))
    e = only(events)
    assert e.event_type == "interaction.started"
    assert isinstance(e.data, m.EVENTS["interaction.started"])
    assert data_of(e) == {"interaction_id": IID, "customer_id": CID, "channel": "phone",
                          "reason": "billing", "direction": "inbound"}
    assert str(e.customer_id) == CID and e.key == CID
    assert isinstance(state, Interaction) and str(state.customer_id) == CID


def test_start_keeps_an_outbound_direction() -> None:
    _, events = run(D.initial_state(), cmd("start_interaction", direction="outbound"))
    assert data_of(only(events))["direction"] == "outbound"


def test_start_twice_is_a_conflict() -> None:
    err = rejected(given(START), cmd("start_interaction"))
    assert err.code == "conflict" and "already exists" in err.message
    assert "start_interaction" in err.message
    # identity comes before ordering: an earlier duplicate start is still a conflict
    assert rejected(given(START), cmd("start_interaction", at=T0 - timedelta(1))).code == "conflict"


@pytest.mark.parametrize("command_type", INTERACTION_COMMANDS[1:])
def test_a_command_on_an_interaction_never_started_is_not_found(command_type: str) -> None:
    err = rejected(D.initial_state(), cmd(command_type))
    assert err.code == "not_found" and "never started" in err.message
    assert command_type in err.message and IID in err.message


# --- events: fields and keys ----------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "command_type", "event_type"),
    [
        ((START,), "identify_customer", "interaction.customer_identified"),
        ((START,), "queue_interaction", "interaction.queued"),
        ((START,), "assign_agent", "interaction.agent_assigned"),
        ((START, ASSIGN), "start_hold", "interaction.hold_started"),
        ((START, ASSIGN, HOLD), "end_hold", "interaction.hold_ended"),
        ((START, ASSIGN), "resolve_interaction", "interaction.resolved"),
        ((START,), "abandon_interaction", "interaction.abandoned"),
        ((START,), "end_interaction", "interaction.ended"),
    ],
)
def test_each_event_carries_exactly_the_commands_fields_under_the_customers_key(
    history: tuple[Step, ...], command_type: str, event_type: str
) -> None:
    command = cmd(command_type)
    _, events = run(given(*history), command)
    e = only(events)
    assert e.event_type == event_type
    assert isinstance(e.data, m.EVENTS[event_type])
    assert data_of(e) == command.data.model_dump(mode="json")
    assert str(e.customer_id) == CID and e.key == CID


# --- identify -------------------------------------------------------------------------


def test_identify_is_accepted_again_and_after_resolution_while_open() -> None:
    state = given(START, ("identify_customer", {}), ASSIGN, RESOLVE)
    _, events = run(state, cmd("identify_customer", step="agent", method="date_of_birth"))
    assert data_of(only(events))["step"] == "agent"


# --- queue ----------------------------------------------------------------------------


def test_queue_twice_is_a_conflict() -> None:
    err = rejected(given(START, QUEUE), cmd("queue_interaction", queue="other"))
    assert err.code == "conflict" and "already queued on billing" in err.message


def test_assigning_clears_queued_so_it_can_be_queued_again() -> None:
    state = given(START, QUEUE, ASSIGN)
    assert isinstance(state, Interaction) and state.queue is None and state.agent_id == AGENT
    _, events = run(state, cmd("queue_interaction"))
    assert only(events).event_type == "interaction.queued"


# --- assign ---------------------------------------------------------------------------


def test_assign_while_an_agent_is_assigned_is_a_conflict() -> None:
    err = rejected(given(START, ASSIGN), cmd("assign_agent", agent_id="a-99"))
    assert err.code == "conflict"
    assert err.message.endswith(f"interaction {IID} already has agent {AGENT} assigned; "
                                "transfer or end it first")


# --- transfer -------------------------------------------------------------------------


def test_transfer_without_an_agent_is_a_conflict() -> None:
    err = rejected(given(START, QUEUE), cmd("transfer_interaction"))
    assert err.code == "conflict" and "has no agent assigned" in err.message
    assert "transfer_interaction" in err.message


def test_transfer_carries_from_agent_from_channel_and_to_channel() -> None:
    command = cmd("transfer_interaction")
    state, events = run(given(START, QUEUE, ASSIGN), command)
    e = only(events)
    assert e.event_type == "interaction.transferred"
    assert isinstance(e.data, m.EVENTS["interaction.transferred"])
    assert data_of(e) == {**command.data.model_dump(mode="json"), "from_agent_id": AGENT,
                          "from_channel": "phone", "to_channel": "chat"}
    assert e.key == CID
    # the agent is released, the interaction waits again on to_queue, on the new channel
    assert isinstance(state, Interaction)
    assert (state.agent_id, state.queue, state.channel) == (None, "tech", "chat")


def test_transfer_without_to_channel_stays_on_the_current_channel() -> None:
    _, events = run(given(START, ASSIGN), cmd("transfer_interaction", to_channel=None))
    d = data_of(only(events))
    assert d["from_channel"] == d["to_channel"] == "phone"


def test_after_a_transfer_the_next_agent_can_be_assigned_and_queueing_is_a_conflict() -> None:
    state = given(START, ASSIGN, ("transfer_interaction", {}))
    assert rejected(state, cmd("queue_interaction")).code == "conflict"  # queued on to_queue
    state, events = run(state, cmd("assign_agent", agent_id="a-42"), 3)
    assert only(events).event_type == "interaction.agent_assigned"
    _, events = run(state, cmd("transfer_interaction", to_channel=None, to_queue="x"), 4)
    d = data_of(only(events))
    assert (d["from_agent_id"], d["from_channel"], d["to_channel"]) == ("a-42", "chat", "chat")


def test_transfer_during_a_hold_ends_the_hold_with_the_one_event() -> None:
    state, events = run(given(START, ASSIGN, HOLD), cmd("transfer_interaction"), 3)
    assert [e.event_type for e in events] == ["interaction.transferred"]
    assert isinstance(state, Interaction) and not state.on_hold
    err = rejected(state, cmd("end_hold"))
    assert err.code == "conflict" and "is not on hold" in err.message


# --- hold -----------------------------------------------------------------------------


def test_start_hold_needs_an_assigned_agent() -> None:
    err = rejected(given(START, QUEUE), cmd("start_hold"))
    assert err.code == "conflict" and "has no agent assigned" in err.message
    assert "start_hold" in err.message


def test_start_hold_twice_is_a_conflict() -> None:
    err = rejected(given(START, ASSIGN, HOLD), cmd("start_hold"))
    assert err.code == "conflict" and "already on hold" in err.message


def test_end_hold_needs_a_hold() -> None:
    err = rejected(given(START, ASSIGN), cmd("end_hold"))
    assert err.code == "conflict" and "end_hold" in err.message and "is not on hold" in err.message


def test_a_hold_can_start_again_after_it_ended() -> None:
    state = given(START, ASSIGN, HOLD, ("end_hold", {}))
    _, events = run(state, cmd("start_hold"))
    assert only(events).event_type == "interaction.hold_started"


# --- resolve / abandon ----------------------------------------------------------------


def test_resolve_twice_is_a_conflict() -> None:
    err = rejected(given(START, ASSIGN, RESOLVE), cmd("resolve_interaction", resolved_by="bot"))
    assert err.code == "conflict" and "already resolved (by agent)" in err.message


def test_resolve_after_abandon_is_a_conflict() -> None:
    err = rejected(given(START, ABANDON), cmd("resolve_interaction"))
    assert err.code == "conflict" and "was abandoned" in err.message
    assert "cannot be resolved" in err.message


def test_abandon_after_resolve_is_a_conflict() -> None:
    err = rejected(given(START, ASSIGN, RESOLVE), cmd("abandon_interaction"))
    assert err.code == "conflict" and "cannot be abandoned" in err.message


def test_abandon_twice_is_a_conflict() -> None:
    err = rejected(given(START, ABANDON), cmd("abandon_interaction", stage="hold"))
    assert err.code == "conflict" and "already abandoned (at queue)" in err.message


def test_an_agent_resolution_needs_an_agent_assigned() -> None:
    # never assigned: the resolution would count as a first-contact resolution by an
    # agent with no agent time (contract section 4)
    err = rejected(given(START, QUEUE), cmd("resolve_interaction", resolved_by="agent"))
    assert err.code == "conflict" and "has no agent assigned" in err.message
    # released by a transfer and waiting again: no agent is assigned now
    transfer: Step = ("transfer_interaction", {})
    err = rejected(given(START, ASSIGN, transfer), cmd("resolve_interaction", resolved_by="agent"))
    assert err.code == "conflict" and "has no agent assigned" in err.message
    # assigned (and on hold): fine
    _, events = run(given(START, ASSIGN, HOLD), cmd("resolve_interaction", resolved_by="agent"))
    assert data_of(only(events))["resolved_by"] == "agent"


def test_self_service_resolution_needs_no_agent() -> None:
    state = given(("start_interaction", {"channel": "web_self_service"}))
    _, events = run(state, cmd("resolve_interaction", resolved_by="self_service"))
    assert data_of(only(events))["resolved_by"] == "self_service"


# --- end: terminal --------------------------------------------------------------------


def test_end_during_a_hold_ends_the_hold_with_the_one_event() -> None:
    state, events = run(given(START, ASSIGN, HOLD), cmd("end_interaction"), 3)
    assert [e.event_type for e in events] == ["interaction.ended"]
    assert isinstance(state, Interaction) and state.ended and not state.on_hold


@pytest.mark.parametrize("command_type", INTERACTION_COMMANDS)
def test_every_command_on_an_ended_interaction_is_a_conflict(command_type: str) -> None:
    state = given(START, ASSIGN, HOLD, END)
    err = rejected(state, cmd(command_type))
    assert err.code == "conflict"
    if command_type != "start_interaction":
        assert "has ended" in err.message and "terminal" in err.message


# --- out_of_order ---------------------------------------------------------------------


@pytest.mark.parametrize("command_type", INTERACTION_COMMANDS[1:])
def test_a_command_earlier_than_the_last_event_is_out_of_order(command_type: str) -> None:
    state = given(START, ASSIGN, HOLD, at=T0)
    err = rejected(state, cmd(command_type, at=T0 - timedelta(milliseconds=1)))
    assert err.code == "out_of_order" and "earlier than the last event" in err.message


def test_a_command_at_the_same_time_as_the_last_event_is_fine() -> None:
    _, events = run(given(START, at=T0), cmd("queue_interaction", at=T0))
    assert only(events).event_type == "interaction.queued"


def test_out_of_order_is_judged_before_the_rules_and_the_terminal_state() -> None:
    state = given(START, END, at=T0)
    earlier = T0 - timedelta(seconds=1)
    assert rejected(state, cmd("end_interaction", at=earlier)).code == "out_of_order"
    assert rejected(state, cmd("end_interaction", at=T0)).code == "conflict"


# --- whole contacts -------------------------------------------------------------------


def contact(steps: list[Step]) -> tuple[State, list[NewEvent]]:
    clock = Clock()
    state: State = D.initial_state()
    emitted: list[NewEvent] = []
    for command_type, data in steps:
        state, events = run(state, cmd(command_type, at=clock(), **data), len(emitted))
        assert [e.event_type for e in events] == [m.EVENT_OF_COMMAND[command_type]]
        emitted += events
    return state, emitted


def test_a_full_contact_through_every_interaction_command_type() -> None:
    state, events = contact([
        ("start_interaction", {}),
        ("identify_customer", {"step": "ivr", "method": "account_number"}),
        ("queue_interaction", {"queue": "billing"}),
        ("assign_agent", {"agent_id": "a-17", "team": "billing"}),
        ("identify_customer", {"step": "agent", "method": "account_number"}),
        ("start_hold", {}),
        ("end_hold", {}),
        ("start_hold", {}),
        ("transfer_interaction", {"to_queue": "tech", "to_channel": "chat", "reason": "technical"}),
        ("assign_agent", {"agent_id": "a-42", "team": "tech"}),
        ("resolve_interaction", {"resolved_by": "agent"}),
        ("end_interaction", {}),
    ])
    assert {m.EVENT_OF_COMMAND[c] for c in INTERACTION_COMMANDS} - {e.event_type for e in events} \
        == {"interaction.abandoned"}  # resolve and abandon exclude each other: see the next test
    assert [e.event_type for e in events] == [
        "interaction.started",
        "interaction.customer_identified",
        "interaction.queued",
        "interaction.agent_assigned",
        "interaction.customer_identified",
        "interaction.hold_started",
        "interaction.hold_ended",
        "interaction.hold_started",
        "interaction.transferred",
        "interaction.agent_assigned",
        "interaction.resolved",
        "interaction.ended",
    ]
    assert {e.key for e in events} == {CID}
    assert all(isinstance(e.data, m.EVENTS[e.event_type]) for e in events)
    assert isinstance(state, Interaction)
    assert state.ended and state.resolved_by == "agent" and not state.on_hold
    assert state.channel == "chat" and state.agent_id == "a-42"


def test_an_abandoned_contact_ends_unresolved() -> None:
    state, events = contact([
        ("start_interaction", {"channel": "chat", "reason": "order_status"}),
        ("queue_interaction", {"queue": "orders"}),
        ("abandon_interaction", {"stage": "queue"}),
        ("end_interaction", {}),
    ])
    assert [e.event_type for e in events] == [
        "interaction.started", "interaction.queued", "interaction.abandoned", "interaction.ended",
    ]
    assert isinstance(state, Interaction)
    assert state.ended and state.abandoned_stage == "queue" and state.resolved_by is None


# --- agents ---------------------------------------------------------------------------


def test_sign_in_emits_signed_in_keyed_by_agent_without_customer() -> None:
    command = cmd("sign_in_agent")
    state, events = run(D.initial_state(), command)
    e = only(events)
    assert e.event_type == "agent.signed_in" and isinstance(e.data, m.EVENTS["agent.signed_in"])
    assert data_of(e) == {"agent_id": AGENT, "team": "billing"}
    assert e.customer_id is None and e.key == AGENT
    assert isinstance(state, Agent) and state.signed_in and state.team == "billing"


def test_sign_in_twice_is_a_conflict() -> None:
    err = rejected(given(("sign_in_agent", {})), cmd("sign_in_agent", team="tech"))
    assert err.code == "conflict" and "already signed in (team billing)" in err.message


def test_sign_out_emits_signed_out_and_a_new_sign_in_may_follow_with_another_team() -> None:
    state, events = run(given(("sign_in_agent", {})), cmd("sign_out_agent"), 1)
    e = only(events)
    assert e.event_type == "agent.signed_out" and data_of(e) == {"agent_id": AGENT}
    assert e.customer_id is None and e.key == AGENT
    assert isinstance(state, Agent) and not state.signed_in
    state, events = run(state, cmd("sign_in_agent", team="tech"), 2)
    assert data_of(only(events))["team"] == "tech"


def test_sign_out_when_signed_out_is_a_conflict() -> None:
    state = given(("sign_in_agent", {}), ("sign_out_agent", {}))
    err = rejected(state, cmd("sign_out_agent"))
    assert err.code == "conflict" and "is not signed in" in err.message


def test_sign_out_of_an_agent_never_signed_in_is_not_found() -> None:
    err = rejected(D.initial_state(), cmd("sign_out_agent"))
    assert err.code == "not_found" and "never signed in" in err.message


@pytest.mark.parametrize(
    ("history", "command_type"),
    [
        ((("sign_in_agent", {}), ("sign_out_agent", {})), "sign_in_agent"),
        ((("sign_in_agent", {}),), "sign_out_agent"),
    ],
)
def test_an_agent_command_earlier_than_the_last_event_is_out_of_order(
    history: tuple[Step, ...], command_type: str
) -> None:
    err = rejected(given(*history, at=T0), cmd(command_type, at=T0 - timedelta(seconds=1)))
    assert err.code == "out_of_order" and f"agent {AGENT}" in err.message


# --- streams --------------------------------------------------------------------------


def test_stream_id_is_the_interaction_or_the_agent() -> None:
    assert D.stream_id(cmd("assign_agent")) == IID
    assert D.stream_id(cmd("sign_in_agent")) == AGENT
    assert D.producer == "interactions"
    assert isinstance(D.initial_state(), NoStream)


def test_a_command_of_the_other_stream_kind_is_a_conflict() -> None:
    agent_named_like_it = given(("sign_in_agent", {"agent_id": IID}))
    err = rejected(agent_named_like_it, cmd("queue_interaction"))
    assert err.code == "conflict" and "already holds an agent" in err.message
    err = rejected(given(START), cmd("sign_in_agent", agent_id=IID))
    assert err.code == "conflict" and "already holds an interaction" in err.message


def test_a_foreign_command_is_invalid() -> None:
    class Foreign(BaseModel):
        interaction_id: str

    command = Command(command_id="x", command_type="foreign", occurred_at=T0,
                      data=Foreign(interaction_id=IID))
    assert rejected(D.initial_state(), command).code == "invalid"


def test_unknown_event_types_are_skipped_by_the_fold() -> None:
    state = given(START)
    later = D.evolve(state, RecordedEvent("interaction.something_new", 2, T0, None, {}))
    assert isinstance(later, Interaction) and later.channel == "phone"


# --- the contract's examples (AsyncAPI) form a stream the decider accepts ---------------


def _command_of(event_type: str) -> str:
    return next(c for c, e in m.EVENT_OF_COMMAND.items() if e == event_type)


def _replay_examples(interaction_id: str, extra: dict[int, tuple[str, dict[str, Any]]]) -> None:
    from leancrm_contracts import examples as ex

    expected = {t: ex.example_event(t) for t, (stream, _, _) in ex.EVENT_POSITIONS.items()
                if stream == interaction_id}
    steps: dict[int, tuple[str, dict[str, Any], datetime | None]] = {
        e["stream_version"]: (_command_of(t), ex.COMMAND_EXAMPLES[_command_of(t)],
                              datetime.fromisoformat(e["occurred_at"]))
        for t, e in expected.items()}
    steps.update({v: (ct, data, None) for v, (ct, data) in extra.items()})
    assert sorted(steps) == list(range(1, len(steps) + 1))  # a gapless stream
    state: State = D.initial_state()
    last = T0
    for version in sorted(steps):
        command_type, data, at = steps[version]
        at = at or last  # a step the examples leave out: at the time of the one before
        command = Command(command_id=f"c-{version}", command_type=command_type, occurred_at=at,
                          data=m.COMMANDS[command_type].model_validate(data))
        state, events = run(state, command, version - 1)
        event = only(events)
        if event.event_type in expected and version in {e["stream_version"] for e in expected.values()}:
            example = expected[event.event_type]
            assert example["stream_version"] == version, event.event_type
            assert data_of(event) == example["data"] and str(event.customer_id) == example["customer_id"]
        last = at


def test_the_example_history_of_an_interaction_is_what_the_decider_makes() -> None:
    """leancrm_contracts.examples tells a phone call (and an abandoned one) as one
    consistent history: replayed through the decider in version order — with the steps
    the examples leave out (the second agent's assignment, version 8) — the example
    commands make exactly the example events, at the example versions."""
    from leancrm_contracts import examples as ex

    second_agent = {"interaction_id": ex.INTERACTION_ID, "agent_id": "agent-0043", "team": "tech"}
    _replay_examples(ex.INTERACTION_ID, {8: ("assign_agent", second_agent)})
    start_2 = {**ex.COMMAND_EXAMPLES["start_interaction"], "interaction_id": ex.INTERACTION_ID_2}
    queue_2 = {"interaction_id": ex.INTERACTION_ID_2, "queue": "billing"}
    _replay_examples(ex.INTERACTION_ID_2, {1: ("start_interaction", start_2),
                                           2: ("queue_interaction", queue_2)})
