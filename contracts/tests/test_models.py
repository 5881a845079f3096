"""Section 4: the data model of every command and event, and the registry."""

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from leancrm_contracts import customers, feedback, improvements, interactions, registry, topics
from leancrm_contracts.base import (
    CommandData,
    EventData,
    by_command_type,
    by_event_type,
    event_data_json,
)
from leancrm_contracts.enums import Channel, Direction, Producer
from leancrm_contracts.examples import (
    AGENT_ID,
    COMMAND_EXAMPLES,
    CUSTOMER_ID,
    EVENT_EXAMPLES,
    FEEDBACK_ID,
    INTERACTION_ID,
)

MODES = ["python", "json"]
SERVICES = [customers, interactions, feedback, improvements]

#: what section 4's table adds to the command's fields, per event
ADDED = {
    "interaction.transferred": {"from_agent_id", "from_channel"},
    "feedback.sentiment_scored": {"score", "label", "scorer"},
    "feedback.routed": {"team", "reason"},
}
#: the command that causes each event
CAUSE = {
    **{e: c for c, e in customers.EVENT_OF_COMMAND.items()},
    **{e: c for c, e in interactions.EVENT_OF_COMMAND.items()},
    **{e: c for c, es in feedback.EVENTS_OF_COMMAND.items() for e in es},
    **{e: c for c, e in improvements.EVENT_OF_COMMAND.items()},
}


def validate(model: type[BaseModel], data: Any, mode: str) -> BaseModel:
    if mode == "json":
        return model.model_validate_json(json.dumps(data))
    return model.model_validate(data)


def error_locs(model: type[BaseModel], data: Any, mode: str) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as exc:
        validate(model, data, mode)
    return [tuple(e["loc"]) for e in exc.value.errors()]


# -- completeness ---------------------------------------------------------------------------


def test_every_command_and_event_of_the_contract() -> None:
    assert set(registry.ALL_COMMANDS) == {
        "register_customer", "change_customer_details", "change_consent", "forget_customer",
        "start_interaction", "identify_customer", "queue_interaction", "assign_agent",
        "transfer_interaction", "start_hold", "end_hold", "resolve_interaction",
        "abandon_interaction", "end_interaction", "sign_in_agent", "sign_out_agent",
        "submit_feedback", "vote_idea", "start_improvement", "end_improvement",
    }  # fmt: skip
    assert set(registry.ALL_EVENTS) == {
        "customer.registered", "customer.details_changed", "customer.consent_changed",
        "customer.forgotten", "interaction.started", "interaction.customer_identified",
        "interaction.queued", "interaction.agent_assigned", "interaction.transferred",
        "interaction.hold_started", "interaction.hold_ended", "interaction.resolved",
        "interaction.abandoned", "interaction.ended", "agent.signed_in", "agent.signed_out",
        "feedback.received", "feedback.sentiment_scored", "feedback.routed",
        "feedback.idea_voted", "improvement.started", "improvement.ended",
    }  # fmt: skip
    assert set(COMMAND_EXAMPLES) == set(registry.ALL_COMMANDS)
    assert set(EVENT_EXAMPLES) == set(registry.ALL_EVENTS)
    assert set(CAUSE) == set(registry.ALL_EVENTS)


@pytest.mark.parametrize("command_type", sorted(COMMAND_EXAMPLES))
def test_command_model_is_named_after_the_command(command_type: str) -> None:
    model = registry.ALL_COMMANDS[command_type]
    assert model.__name__ == command_type.title().replace("_", "")
    assert issubclass(model, CommandData)


def test_event_models_are_named_after_the_events() -> None:
    for event_type, model in registry.ALL_EVENTS.items():
        assert issubclass(model, EventData)
        words = event_type.replace(".", "_").split("_")
        assert model.__name__ == "".join(w.title() for w in words), event_type


# -- valid examples round-trip --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command_type", sorted(COMMAND_EXAMPLES))
def test_command_example_round_trips(command_type: str, mode: str) -> None:
    model = registry.ALL_COMMANDS[command_type]
    example = COMMAND_EXAMPLES[command_type]
    parsed = validate(model, example, mode)
    assert parsed.model_dump(mode="json", exclude_unset=True) == example
    assert model.model_validate_json(parsed.model_dump_json()) == parsed


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("event_type", sorted(EVENT_EXAMPLES))
def test_event_example_round_trips(event_type: str, mode: str) -> None:
    model = registry.ALL_EVENTS[event_type]
    example = EVENT_EXAMPLES[event_type]
    parsed = validate(model, example, mode)
    assert isinstance(parsed, EventData)
    assert event_data_json(parsed) == example
    assert model.model_validate(event_data_json(parsed)) == parsed


@pytest.mark.parametrize("event_type", sorted(EVENT_EXAMPLES))
def test_event_holds_the_commands_fields_plus_the_tables_additions(event_type: str) -> None:
    event_fields = set(registry.ALL_EVENTS[event_type].model_fields)
    command_fields = set(registry.ALL_COMMANDS[CAUSE[event_type]].model_fields)
    assert event_fields == command_fields | ADDED.get(event_type, set())


@pytest.mark.parametrize("event_type", sorted(set(EVENT_EXAMPLES) - set(ADDED)))
def test_event_built_from_its_command_serialises_every_field(event_type: str) -> None:
    """Optional fields the command did not give are present as null in the event."""
    command_type = CAUSE[event_type]
    minimal = {
        k: v
        for k, v in COMMAND_EXAMPLES[command_type].items()
        if registry.ALL_COMMANDS[command_type].model_fields[k].is_required()
    }
    if command_type == "change_customer_details":
        minimal["phone"] = "+1 555 0100"
    data = registry.ALL_COMMANDS[command_type].model_validate(minimal)
    event = registry.ALL_EVENTS[event_type].model_validate(data.model_dump())
    published = event_data_json(event)  # type: ignore[arg-type]
    if event_type == "customer.details_changed":
        assert published == minimal
    else:
        assert set(published) == set(registry.ALL_COMMANDS[command_type].model_fields)


def test_direction_defaults_to_inbound() -> None:
    data = {k: v for k, v in COMMAND_EXAMPLES["start_interaction"].items() if k != "direction"}
    started = interactions.StartInteraction.model_validate(data)
    assert started.direction is Direction.INBOUND
    event = interactions.InteractionStarted.model_validate(started.model_dump())
    assert event_data_json(event)["direction"] == "inbound"


def test_transferred_to_channel_is_never_null() -> None:
    cmd = interactions.TransferInteraction.model_validate(
        {"interaction_id": INTERACTION_ID, "to_queue": "tech", "reason": "technical"}
    )
    assert cmd.to_channel is None
    extra = {"from_agent_id": AGENT_ID, "from_channel": "phone"}
    with pytest.raises(ValidationError) as exc:
        interactions.InteractionTransferred.model_validate({**cmd.model_dump(), **extra})
    assert [tuple(e["loc"]) for e in exc.value.errors()] == [("to_channel",)]
    event = interactions.InteractionTransferred.model_validate(
        {**cmd.model_dump(), **extra, "to_channel": "phone"}
    )
    assert event.to_channel is Channel.PHONE


def test_details_changed_publishes_only_the_changed_fields() -> None:
    event = customers.CustomerDetailsChanged(customer_id=CUSTOMER_ID, name="Ada King")  # type: ignore[arg-type]
    assert event_data_json(event) == {"customer_id": CUSTOMER_ID, "name": "Ada King"}
    assert json.loads(event.model_dump_json()) == {"customer_id": CUSTOMER_ID, "name": "Ada King"}
    cmd = customers.ChangeCustomerDetails.model_validate(
        {"customer_id": CUSTOMER_ID, "phone": "+1 555 0100", "email": None}
    )
    built = customers.CustomerDetailsChanged.model_validate(cmd.model_dump())
    for dumped in (built.model_dump(mode="json"), json.loads(built.model_dump_json())):
        assert dumped == {"customer_id": CUSTOMER_ID, "phone": "+1 555 0100"}
    assert customers.CustomerDetailsChanged.__exclude_unset__ is True
    assert customers.CustomerRegistered.__exclude_unset__ is False


# -- strictness: each bad input is an error naming the field ---------------------------------

LONG = "x" * 5001
BAD: list[tuple[str, str, object]] = [
    # customers
    ("register_customer", "customer_id", "not-a-uuid"),
    ("register_customer", "customer_id", 12345),
    ("register_customer", "name", ""),
    ("register_customer", "name", "   "),
    ("register_customer", "name", "n" * 201),
    ("register_customer", "name", 42),
    ("register_customer", "email", "ada.example.com"),
    ("register_customer", "email", "ada@example"),
    ("register_customer", "email", "a" * 250 + "@b.co"),
    ("register_customer", "phone", "call me"),
    ("register_customer", "phone", "1" * 33),
    ("register_customer", "phone", 4420794609),
    ("register_customer", "segment", ""),
    ("register_customer", "segment", "s" * 65),
    ("register_customer", "segment", None),
    ("change_customer_details", "email", "nope"),
    ("change_consent", "granted", "yes"),
    ("change_consent", "granted", 1),
    ("change_consent", "granted", None),
    ("change_consent", "channel", "fax"),
    ("change_consent", "channel", "Phone"),
    # interactions
    ("start_interaction", "interaction_id", "9e2f4b7a-1c3d-4e5f-8a9b"),
    ("start_interaction", "customer_id", None),
    ("start_interaction", "channel", "pigeon"),
    ("start_interaction", "reason", "Billing"),
    ("start_interaction", "reason", "order status"),
    ("start_interaction", "reason", "r" * 65),
    ("start_interaction", "direction", "sideways"),
    ("start_interaction", "direction", None),
    ("identify_customer", "step", "dna"),
    ("identify_customer", "method", ""),
    ("identify_customer", "method", "m" * 65),
    ("queue_interaction", "queue", ""),
    ("queue_interaction", "queue", "q" * 65),
    ("queue_interaction", "queue", 7),
    ("assign_agent", "agent_id", ""),
    ("assign_agent", "agent_id", "a" * 65),
    ("assign_agent", "agent_id", 17),
    ("assign_agent", "team", "Billing Team"),
    ("transfer_interaction", "to_channel", "fax"),
    ("transfer_interaction", "reason", "Needs Tech!"),
    ("transfer_interaction", "to_queue", ""),
    ("resolve_interaction", "resolved_by", "magic"),
    ("resolve_interaction", "resolved_by", "ivr"),
    ("abandon_interaction", "stage", "agent"),
    ("sign_in_agent", "team", ""),
    ("sign_in_agent", "agent_id", None),
    # feedback
    ("submit_feedback", "source", "letter"),
    ("submit_feedback", "text", ""),
    ("submit_feedback", "text", LONG),
    ("submit_feedback", "text", 5),
    ("submit_feedback", "rating", "7"),
    ("submit_feedback", "rating", 11),
    ("submit_feedback", "rating", -1),
    ("submit_feedback", "rating", 7.5),
    ("submit_feedback", "rating", 7.0),
    ("submit_feedback", "rating", True),
    ("submit_feedback", "customer_id", "anonymous"),
    ("submit_feedback", "interaction_id", "x"),
    ("submit_feedback", "topic", ""),
    ("submit_feedback", "topic", "t" * 101),
    ("vote_idea", "vote", True),
    ("vote_idea", "vote", 0),
    ("vote_idea", "vote", 2),
    ("vote_idea", "vote", "1"),
    ("vote_idea", "vote", 1.0),
    ("vote_idea", "vote", None),
    ("vote_idea", "voter_customer_id", None),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("command_type", "field", "value"), BAD)
def test_bad_command_data_names_the_field(
    command_type: str, field: str, value: object, mode: str
) -> None:
    data = {**COMMAND_EXAMPLES[command_type], field: value}
    locs = error_locs(registry.ALL_COMMANDS[command_type], data, mode)
    assert locs and all(loc[0] == field for loc in locs), locs


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("command_type", "field", "value"), BAD)
def test_bad_event_data_names_the_field(
    command_type: str, field: str, value: object, mode: str
) -> None:
    """The events carry the same fields, so the same values fail there too."""
    event_types = [e for e, c in CAUSE.items() if c == command_type]
    for event_type in event_types:
        model = registry.ALL_EVENTS[event_type]
        if field not in model.model_fields:
            continue
        data = {**EVENT_EXAMPLES[event_type], field: value}
        locs = error_locs(model, data, mode)
        assert locs and all(loc[0] == field for loc in locs), (event_type, locs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("feedback.sentiment_scored", "score", 1.5),
        ("feedback.sentiment_scored", "score", -1.01),
        ("feedback.sentiment_scored", "score", "0.5"),
        ("feedback.sentiment_scored", "score", True),
        ("feedback.sentiment_scored", "label", "angry"),
        ("feedback.sentiment_scored", "scorer", ""),
        ("feedback.routed", "team", "legal"),
        ("feedback.routed", "reason", "Price Signal"),
        ("interaction.transferred", "from_channel", "fax"),
        ("interaction.transferred", "from_agent_id", ""),
        ("interaction.transferred", "to_channel", None),
    ],
)
def test_bad_event_additions_name_the_field(
    event_type: str, field: str, value: object, mode: str
) -> None:
    data = {**EVENT_EXAMPLES[event_type], field: value}
    locs = error_locs(registry.ALL_EVENTS[event_type], data, mode)
    assert locs and all(loc[0] == field for loc in locs), locs


def test_score_accepts_the_bounds_and_integers() -> None:
    for score in (-1, 0, 1, 0.25):
        data = {**EVENT_EXAMPLES["feedback.sentiment_scored"], "score": score}
        assert feedback.FeedbackSentimentScored.model_validate(data).score == score


def test_vote_is_plus_or_minus_one() -> None:
    for vote in (1, -1):
        data = {**COMMAND_EXAMPLES["vote_idea"], "vote": vote}
        assert feedback.VoteIdea.model_validate_json(json.dumps(data)).vote == vote


def test_text_of_5000_and_rating_bounds_are_fine() -> None:
    for text, rating in (("x" * 5000, 0), ("x", 10), ("ok", None)):
        data = {**COMMAND_EXAMPLES["submit_feedback"], "text": text, "rating": rating}
        assert feedback.SubmitFeedback.model_validate(data).rating == rating


def test_anonymous_feedback() -> None:
    data = {"feedback_id": FEEDBACK_ID, "source": "tweet", "text": "meh"}
    parsed = feedback.SubmitFeedback.model_validate(data)
    assert parsed.customer_id is None
    received = feedback.FeedbackReceived.model_validate(parsed.model_dump())
    assert event_data_json(received) == {
        **data,
        "customer_id": None,
        "rating": None,
        "interaction_id": None,
        "topic": None,
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command_type", sorted(COMMAND_EXAMPLES))
def test_required_fields_are_required(command_type: str, mode: str) -> None:
    model = registry.ALL_COMMANDS[command_type]
    for name, info in model.model_fields.items():
        if not info.is_required():
            continue
        data = {k: v for k, v in COMMAND_EXAMPLES[command_type].items() if k != name}
        assert error_locs(model, data, mode) == [(name,)]


@pytest.mark.parametrize(
    "data",
    [
        {"customer_id": CUSTOMER_ID},
        {"customer_id": CUSTOMER_ID, "name": None, "email": None, "phone": None, "segment": None},
    ],
)
def test_change_customer_details_needs_a_detail(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as exc:
        customers.ChangeCustomerDetails.model_validate(data)
    (error,) = exc.value.errors()
    assert error["loc"] == ()  # the whole of ``data``: the service reports it as data
    assert "at least one of name, email, phone, segment" in error["msg"]


@pytest.mark.parametrize("command_type", sorted(COMMAND_EXAMPLES))
def test_commands_forbid_unknown_fields(command_type: str) -> None:
    data = {**COMMAND_EXAMPLES[command_type], "colour": "red"}
    locs = error_locs(registry.ALL_COMMANDS[command_type], data, "python")
    assert locs == [("colour",)]


@pytest.mark.parametrize("event_type", sorted(EVENT_EXAMPLES))
def test_events_ignore_unknown_fields(event_type: str) -> None:
    data = {**EVENT_EXAMPLES[event_type], "added_in_v2": {"x": 1}}
    parsed = registry.ALL_EVENTS[event_type].model_validate(data)
    assert event_data_json(parsed) == EVENT_EXAMPLES[event_type]  # type: ignore[arg-type]


def test_models_are_frozen() -> None:
    cmd = interactions.EndHold.model_validate({"interaction_id": INTERACTION_ID})
    with pytest.raises(ValidationError):
        cmd.interaction_id = INTERACTION_ID  # type: ignore[misc]


# -- registry -------------------------------------------------------------------------------


def test_registry_by_topic() -> None:
    assert registry.COMMANDS_BY_TOPIC == {
        topics.CUSTOMERS_COMMANDS: customers.COMMANDS,
        topics.INTERACTIONS_COMMANDS: interactions.COMMANDS,
        topics.FEEDBACK_COMMANDS: feedback.COMMANDS,
        topics.IMPROVEMENTS_COMMANDS: improvements.COMMANDS,
    }
    assert registry.EVENTS_BY_TOPIC == {
        topics.CUSTOMERS_EVENTS: customers.EVENTS,
        topics.INTERACTIONS_EVENTS: interactions.EVENTS,
        topics.FEEDBACK_EVENTS: feedback.EVENTS,
        topics.IMPROVEMENTS_EVENTS: improvements.EVENTS,
    }
    assert sum(len(m) for m in registry.COMMANDS_BY_TOPIC.values()) == len(registry.ALL_COMMANDS)
    assert sum(len(m) for m in registry.EVENTS_BY_TOPIC.values()) == len(registry.ALL_EVENTS)


def test_each_model_knows_its_type_and_it_is_not_a_field() -> None:
    """The type is a class variable: the registry is keyed by it, and neither ``data``
    nor its JSON Schema holds it."""
    for command_type, command in registry.ALL_COMMANDS.items():
        assert command.command_type == command_type
        assert "command_type" not in command.model_fields
        assert "command_type" not in command.model_json_schema()["properties"]
    for event_type, event in registry.ALL_EVENTS.items():
        assert event.event_type == event_type
        assert "event_type" not in event.model_fields
        assert "event_type" not in event.model_json_schema()["properties"]
        assert "event_type" not in event_data_json(event.model_validate(EVENT_EXAMPLES[event_type]))


def test_a_type_named_by_two_models_is_an_error() -> None:
    class Again(EventData):
        event_type = interactions.InteractionStarted.event_type

    with pytest.raises(ValueError, match=r"'interaction\.started' is named by both"):
        models: list[type[EventData]] = [interactions.InteractionStarted, Again]
        by_event_type(models)
    with pytest.raises(ValueError, match="'vote_idea' is named by both"):
        by_command_type([feedback.VoteIdea, feedback.VoteIdea])


def test_service_constants() -> None:
    for service, producer in zip(SERVICES, Producer, strict=True):
        assert service.PRODUCER is producer
        assert f"crm.{producer.value}.events.v1" == service.EVENT_TOPIC
        assert f"crm.{producer.value}.commands.v1" == service.COMMAND_TOPIC
        assert registry.event_topic_for_producer(producer) == service.EVENT_TOPIC
        assert registry.event_topic_for_producer(producer.value) == service.EVENT_TOPIC
        assert registry.command_topic_for_producer(producer) == service.COMMAND_TOPIC
        assert all(registry.PRODUCER_OF_EVENT[e] is producer for e in service.EVENTS)
    with pytest.raises(ValueError):
        registry.event_topic_for_producer("waste")


# -- improvements ---------------------------------------------------------------------------


def _start(**changes: Any) -> dict[str, Any]:
    return {**COMMAND_EXAMPLES["start_improvement"], **changes}


@pytest.mark.parametrize("mode", MODES)
def test_start_improvement_defaults_to_the_whole_centre_and_no_note(mode: str) -> None:
    data = _start()
    del data["scope"], data["note"]
    parsed = validate(improvements.StartImprovement, data, mode)
    event = improvements.ImprovementStarted.model_validate(parsed.model_dump())
    assert event_data_json(event)["scope"] == {"channel": None, "reason": None, "team": None}
    assert event_data_json(event)["note"] is None
    assert event_data_json(event)["starts_on"] == "2026-11-30"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"starts_on": "2026-11-30T00:00:00Z"}, ("starts_on",)),
        ({"starts_on": 1764460800}, ("starts_on",)),
        ({"starts_on": "2026-02-30"}, ("starts_on",)),
        ({"starts_on": "1969-12-31"}, ("starts_on",)),
        ({"target": "happiness"}, ("target",)),
        ({"title": " "}, ("title",)),
        ({"title": "x" * 201}, ("title",)),
        ({"note": "x" * 2001}, ("note",)),
        ({"owner_team": "Billing Team"}, ("owner_team",)),
        ({"scope": {"channel": "fax"}}, ("scope", "channel")),
        ({"scope": {"queue": "billing"}}, ("scope", "queue")),
        ({"expected": {"direction": "down", "size": 0.1}}, ("expected", "direction")),
        ({"expected": {"direction": "decrease", "size": 0}}, ("expected", "size")),
        ({"expected": {"direction": "decrease", "size": "0.1"}}, ("expected", "size")),
        ({"expected": {"direction": "decrease", "size": 2_000_000}}, ("expected", "size")),
    ],
)
def test_start_improvement_bounds(mode: str, changes: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert loc in error_locs(improvements.StartImprovement, _start(**changes), mode)


@pytest.mark.parametrize("mode", MODES)
def test_end_improvement_needs_an_outcome_and_a_note(mode: str) -> None:
    base = COMMAND_EXAMPLES["end_improvement"]
    assert ("outcome",) in error_locs(improvements.EndImprovement, {**base, "outcome": "done"}, mode)
    assert ("note",) in error_locs(
        improvements.EndImprovement, {k: v for k, v in base.items() if k != "note"}, mode)
