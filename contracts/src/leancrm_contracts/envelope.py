"""Message format (contract section 2): timestamps, envelopes, command results, headers.

Envelopes and results ignore fields they do not know (forward compatible); their
``data`` is a plain JSON object, validated separately against the model of its
``event_type`` / ``command_type`` (see :mod:`leancrm_contracts.registry`).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from .enums import ErrorCode, Producer, ResultStatus
from .limits import TIMESTAMP_MAX, TIMESTAMP_MIN

# -- headers (section 2 and 2.4) ------------------------------------------------------------

HEADER_CONTENT_TYPE: Final = "content-type"
HEADER_MESSAGE_TYPE: Final = "message_type"
CONTENT_TYPE_JSON: Final = "application/json"
#: ``message_type`` of a command result; the contract names only event and command types,
#: so this value is the project's choice
MESSAGE_TYPE_COMMAND_RESULT: Final = "command_result"

DLQ_REASON: Final = "dlq_reason"
DLQ_ERROR_CODE: Final = "dlq_error_code"
DLQ_SOURCE_TOPIC: Final = "dlq_source_topic"
DLQ_SOURCE_PARTITION: Final = "dlq_source_partition"
DLQ_SOURCE_OFFSET: Final = "dlq_source_offset"
DLQ_CONSUMER: Final = "dlq_consumer"
DLQ_AT: Final = "dlq_at"
#: size in bytes of the original value (section 2.4: a dead letter's value is truncated
#: beyond ``limits.DLQ_MAX_VALUE_BYTES``)
DLQ_ORIGINAL_SIZE: Final = "dlq_original_size"
#: SHA-256 of the original value, hex
DLQ_ORIGINAL_SHA256: Final = "dlq_original_sha256"
#: ``true`` when the value, key or original headers were cut to their bounds, else ``false``
DLQ_TRUNCATED: Final = "dlq_truncated"
#: every DLQ header name of section 2.4, in the contract's order
DLQ_HEADERS: Final[tuple[str, ...]] = (
    DLQ_REASON,
    DLQ_ERROR_CODE,
    DLQ_SOURCE_TOPIC,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_OFFSET,
    DLQ_CONSUMER,
    DLQ_AT,
)
#: what every dead letter also carries about the original (section 2.4)
DLQ_ORIGINAL_HEADERS: Final[tuple[str, ...]] = (DLQ_ORIGINAL_SIZE, DLQ_ORIGINAL_SHA256, DLQ_TRUNCATED)

# -- timestamps -----------------------------------------------------------------------------

#: RFC 3339 date-time with a mandatory offset (``T``, ``t`` or a space between date and time)
RFC3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339_only(value: object) -> object:
    """Accept a datetime, or an RFC 3339 string with an offset; nothing else (no epoch
    numbers, no dates without time, no naive strings)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if not RFC3339.match(value):
            raise ValueError(
                "timestamp must be RFC 3339 with an offset, e.g. 2026-11-23T09:15:02.120Z"
            )
        return value
    raise ValueError("timestamp must be an RFC 3339 string with an offset")


def _within_bounds(value: datetime) -> datetime:
    """Section 2.5: a timestamp lies in [1970-01-01T00:00:00Z, 2200-01-01T00:00:00Z).
    Outside, converting it to UTC may not even be possible (``9999-12-31T23:59:59-01:00``
    is in year 10000)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not TIMESTAMP_MIN <= utc < TIMESTAMP_MAX:
        raise ValueError(
            "timestamp must lie from 1970-01-01T00:00:00Z up to, not including, 2200-01-01T00:00:00Z"
        )
    return value


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``: milliseconds when the time is a whole number of them
    (``2026-11-23T09:15:02.120Z``), else microseconds (``...02.120001Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    utc = value.astimezone(UTC)
    micros = utc.microsecond
    fraction = f"{micros // 1000:03d}" if micros % 1000 == 0 else f"{micros:06d}"
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{fraction}Z"


#: an aware datetime: naive values, epoch numbers, malformed strings and instants outside
#: [1970-01-01Z, 2200-01-01Z) are errors; serialised to JSON by :func:`format_timestamp`
#: (python-mode dumps keep the datetime)
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_only),
    AfterValidator(_within_bounds),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]

CommandId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
#: correlation/causation ids: at most 128 characters (causation_id is a command_id)
TraceId = Annotated[str, StringConstraints(strict=True, max_length=128)]
TypeName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
StreamId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]

_FORWARD_COMPATIBLE = ConfigDict(extra="ignore")


class EventEnvelope(BaseModel):
    """Section 2.1: the value of every message on a ``*.events.v1`` topic.

    ``customer_id`` must be present (``null`` for ``agent.*`` and anonymous feedback);
    ``correlation_id`` and ``causation_id`` default to ``null`` when absent.
    """

    model_config = _FORWARD_COMPATIBLE

    event_id: UUID
    event_type: TypeName
    schema_version: PositiveInt
    occurred_at: Timestamp
    recorded_at: Timestamp
    producer: Producer
    stream_id: StreamId
    stream_version: PositiveInt
    customer_id: UUID | None
    correlation_id: TraceId | None = None
    causation_id: TraceId | None = None
    data: dict[str, Any]


class CommandEnvelope(BaseModel):
    """Section 2.2: the value of every message on a ``*.commands.v1`` topic."""

    model_config = _FORWARD_COMPATIBLE

    command_id: CommandId
    command_type: TypeName
    occurred_at: Timestamp
    correlation_id: TraceId | None = None
    data: dict[str, Any]


class CommandError(BaseModel):
    """``error`` of a rejected command result; ``message`` names the field or the rule."""

    model_config = _FORWARD_COMPATIBLE

    code: ErrorCode
    message: Annotated[str, StringConstraints(strict=True)]


class CommandResult(BaseModel):
    """Section 2.3: one per command received, on ``crm.command-results.v1``.

    ``command_type`` may be empty: a command whose envelope had no usable type is still
    answered. ``rejected`` carries an error and no event ids; ``accepted`` and
    ``duplicate`` carry no error (a duplicate repeats the original's event ids).
    """

    model_config = _FORWARD_COMPATIBLE

    command_id: CommandId
    command_type: Annotated[str, StringConstraints(strict=True, max_length=128)]
    status: ResultStatus
    event_ids: list[UUID] = Field(default_factory=list)
    error: CommandError | None = None
    processed_at: Timestamp

    @model_validator(mode="after")
    def _status_matches_error(self) -> Self:
        if self.status is ResultStatus.REJECTED:
            if self.error is None:
                raise ValueError("error: a rejected result must carry an error")
            if self.event_ids:
                raise ValueError("event_ids: a rejected result has no events")
        elif self.error is not None:
            raise ValueError(f"error: must be null when status is {self.status.value}")
        return self
