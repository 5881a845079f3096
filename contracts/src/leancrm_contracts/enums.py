"""Identifiers and enumerations (contract section 3) and the contract's closed value sets.

Every enumeration is a :class:`~enum.StrEnum`: members compare equal to, and
serialise as, the contract's strings. Validation accepts the string value (or a
member); any other value is an error naming the field.
"""

from enum import StrEnum
from typing import Annotated, Final

from pydantic import StringConstraints


class Channel(StrEnum):
    PHONE = "phone"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"
    WEB_SELF_SERVICE = "web_self_service"
    COMMUNITY = "community"
    BOT = "bot"


#: channels where a person serves the customer
ASSISTED_CHANNELS: Final[frozenset[Channel]] = frozenset(
    {Channel.PHONE, Channel.CHAT, Channel.EMAIL, Channel.SMS, Channel.SOCIAL}
)
#: self-service ("pull") channels
SELF_SERVICE_CHANNELS: Final[frozenset[Channel]] = frozenset(
    {Channel.WEB_SELF_SERVICE, Channel.COMMUNITY, Channel.BOT}
)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class IdentificationStep(StrEnum):
    IVR = "ivr"
    AGENT = "agent"
    BOT = "bot"
    SELF_SERVICE = "self_service"


class ResolvedBy(StrEnum):
    AGENT = "agent"
    SELF_SERVICE = "self_service"
    COMMUNITY = "community"
    BOT = "bot"


class AbandonStage(StrEnum):
    IVR = "ivr"
    QUEUE = "queue"
    HOLD = "hold"
    SELF_SERVICE = "self_service"


class FeedbackSource(StrEnum):
    TWEET = "tweet"
    SURVEY = "survey"
    IDEA = "idea"
    REVIEW = "review"
    COMMUNITY_POST = "community_post"
    COMPLAINT = "complaint"


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class RoutingTeam(StrEnum):
    """The teams feedback is routed to (``feedback.routed``)."""

    PRODUCT = "product"
    MARKETING = "marketing"
    SALES = "sales"
    SERVICE = "service"


class Producer(StrEnum):
    """The ``producer`` of an event envelope: the service that owns the stream."""

    CUSTOMERS = "customers"
    INTERACTIONS = "interactions"
    FEEDBACK = "feedback"
    IMPROVEMENTS = "improvements"


class ResultStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class ErrorCode(StrEnum):
    """``error.code`` of a rejected command result (section 2.3)."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    OUT_OF_ORDER = "out_of_order"


class DlqErrorCode(StrEnum):
    """The ``dlq_error_code`` header of a dead-letter message (section 2.4)."""

    UNDECODABLE = "undecodable"
    INVALID_ENVELOPE = "invalid_envelope"
    INVALID_DATA = "invalid_data"
    UNSUPPORTED_VERSION = "unsupported_version"


#: a lowercase slug: ``billing``, ``order_status``, ``tier-2``
SLUG_PATTERN: Final = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"

#: contact reason: lowercase slug, 1–64 characters
Reason = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=SLUG_PATTERN)
]
#: team: lowercase slug, 1–64 characters (agent teams are free; routing uses RoutingTeam)
Team = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=SLUG_PATTERN)
]
#: agent_id: any string of 1–64 characters (section 3)
AgentId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
#: customer segment: a free label (``enterprise``, ``SMB``, ``Gold``), 1–64 characters with at
#: least one non-whitespace character; case-sensitive, not normalised. The contract gives no
#: format; it is a grouping key of the read model, so it is bounded like the other labels.
Segment = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=r"\S")]
