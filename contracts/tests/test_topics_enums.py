"""Topic names (section 1), enumerations and slugs (section 3), exactly as the contract."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from leancrm_contracts import enums, topics
from leancrm_contracts.enums import (
    ASSISTED_CHANNELS,
    SELF_SERVICE_CHANNELS,
    AgentId,
    Channel,
    Reason,
    Segment,
    Team,
)


def test_topic_names_are_the_contracts() -> None:
    assert topics.CUSTOMERS_COMMANDS == "crm.customers.commands.v1"
    assert topics.INTERACTIONS_COMMANDS == "crm.interactions.commands.v1"
    assert topics.FEEDBACK_COMMANDS == "crm.feedback.commands.v1"
    assert topics.CUSTOMERS_EVENTS == "crm.customers.events.v1"
    assert topics.INTERACTIONS_EVENTS == "crm.interactions.events.v1"
    assert topics.FEEDBACK_EVENTS == "crm.feedback.events.v1"
    assert topics.IMPROVEMENTS_COMMANDS == "crm.improvements.commands.v1"
    assert topics.IMPROVEMENTS_EVENTS == "crm.improvements.events.v1"
    assert topics.COMMAND_RESULTS == "crm.command-results.v1"
    assert topics.DLQ == "crm.dlq.v1"
    assert topics.ALERTS == "crm.alerts.v1"


def test_topic_tuples() -> None:
    assert topics.COMMAND_TOPICS == (
        "crm.customers.commands.v1",
        "crm.interactions.commands.v1",
        "crm.feedback.commands.v1",
        "crm.improvements.commands.v1",
    )
    assert topics.EVENT_TOPICS == (
        "crm.customers.events.v1",
        "crm.interactions.events.v1",
        "crm.feedback.events.v1",
        "crm.improvements.events.v1",
    )
    assert (
        *topics.COMMAND_TOPICS,
        *topics.EVENT_TOPICS,
        "crm.command-results.v1",
        "crm.dlq.v1",
        "crm.alerts.v1",
        "crm.customers.keys.v1",
    ) == topics.ALL_TOPICS
    assert len(set(topics.ALL_TOPICS)) == 12
    assert topics.KEY_TOPIC_CONFIG["cleanup.policy"] == "compact"


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (
            enums.Channel,
            "phone chat email sms social web_self_service community bot",
        ),
        (enums.Direction, "inbound outbound"),
        (enums.IdentificationStep, "ivr agent bot self_service"),
        (enums.ResolvedBy, "agent self_service community bot"),
        (enums.AbandonStage, "ivr queue hold self_service"),
        (enums.FeedbackSource, "tweet survey idea review community_post complaint"),
        (enums.SentimentLabel, "negative neutral positive"),
        (enums.RoutingTeam, "product marketing sales service"),
        (enums.Producer, "customers interactions feedback improvements"),
        (enums.ResultStatus, "accepted rejected duplicate"),
        (enums.ErrorCode, "invalid not_found conflict out_of_order"),
        (enums.DlqErrorCode, "undecodable invalid_envelope invalid_data unsupported_version"),
    ],
)
def test_enumerations_are_the_contracts(enum: type[enums.StrEnum], values: str) -> None:
    assert [m.value for m in enum] == values.split()


def test_channel_groups_partition_the_channels() -> None:
    assert {c.value for c in ASSISTED_CHANNELS} == {"phone", "chat", "email", "sms", "social"}
    assert {c.value for c in SELF_SERVICE_CHANNELS} == {"web_self_service", "community", "bot"}
    assert set(Channel) == ASSISTED_CHANNELS | SELF_SERVICE_CHANNELS
    assert not ASSISTED_CHANNELS & SELF_SERVICE_CHANNELS


@pytest.mark.parametrize("slug_type", [Reason, Team])
@pytest.mark.parametrize("value", ["billing", "order_status", "tier-2", "a", "x" * 64, "b2b"])
def test_slugs_accept(slug_type: Any, value: str) -> None:
    assert TypeAdapter(slug_type).validate_python(value) == value


@pytest.mark.parametrize("slug_type", [Reason, Team])
@pytest.mark.parametrize(
    "value",
    ["", "Billing", "order status", "_billing", "billing_", "a__b", "a-_b", "x" * 65, "é", 5, None],
)
def test_slugs_reject(slug_type: Any, value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(slug_type).validate_python(value)


def test_agent_id_is_1_to_64_characters() -> None:
    ta: TypeAdapter[str] = TypeAdapter(AgentId)
    assert ta.validate_python("A 17") == "A 17"
    assert ta.validate_python("a" * 64) == "a" * 64
    for bad in ("", "a" * 65, 17):
        with pytest.raises(ValidationError):
            ta.validate_python(bad)


def test_segment_is_a_non_blank_label_of_at_most_64() -> None:
    ta: TypeAdapter[str] = TypeAdapter(Segment)
    assert ta.validate_python("Gold customers") == "Gold customers"
    for bad in ("", "   ", "s" * 65, 1):
        with pytest.raises(ValidationError):
            ta.validate_python(bad)
