"""Decoding consumed Kafka records into commands, results or dead letters (pure).

Contract section 2.4: a record that is not JSON, or whose envelope has no usable
``command_id``, goes to the DLQ; a command with a usable ``command_id`` whose other
fields fail validation gets a ``rejected`` result with code ``invalid`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from leancrm_contracts.envelope import (
    CONTENT_TYPE_JSON,
    DLQ_AT,
    DLQ_CONSUMER,
    DLQ_ERROR_CODE,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    CommandEnvelope,
)
from leancrm_contracts.topics import DLQ
from leancrm_servicekit.decider import Command
from leancrm_servicekit.eventstore import OutboxMessage

MAX_COMMAND_ID = 128


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A consumed Kafka record, as the broker delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: InboundRecord
    error_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class InvalidCommand:
    """A command addressed by a usable command_id that failed validation."""

    command_id: str
    command_type: str
    message: str


Decoded = Command | InvalidCommand | DeadLetter


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """'data.email: value is not a valid email address; occurred_at: ...' naming each field."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        parts.append(f"{loc or '(message)'}: {err['msg']}")
    return "; ".join(parts)


def decode_command(
    record: InboundRecord, command_models: Mapping[str, type[BaseModel]]
) -> Decoded:
    try:
        obj: Any = json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return DeadLetter(record, "undecodable", f"not UTF-8 JSON: {exc}")
    if not isinstance(obj, dict):
        return DeadLetter(record, "invalid_envelope", f"expected a JSON object, got {type(obj).__name__}")
    command_id = obj.get("command_id")
    if not isinstance(command_id, str) or not 1 <= len(command_id) <= MAX_COMMAND_ID:
        return DeadLetter(
            record,
            "invalid_envelope",
            "command_id: missing or not a string of 1-128 characters; no result can be addressed",
        )
    raw_type = obj.get("command_type")
    command_type = raw_type if isinstance(raw_type, str) else ""
    try:
        envelope = CommandEnvelope.model_validate(obj)
    except ValidationError as exc:
        return InvalidCommand(command_id, command_type, describe_validation_error(exc))
    model = command_models.get(envelope.command_type)
    if model is None:
        known = ", ".join(sorted(command_models))
        return InvalidCommand(
            command_id,
            command_type,
            f"command_type: unknown command type {envelope.command_type!r} on {record.topic}"
            f" (known: {known})",
        )
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        return InvalidCommand(command_id, command_type, describe_validation_error(exc, "data"))
    return Command(
        command_id=envelope.command_id,
        command_type=envelope.command_type,
        occurred_at=envelope.occurred_at,
        data=data,
        correlation_id=envelope.correlation_id,
    )


def dead_letter_message(letter: DeadLetter, consumer: str, now: datetime | None = None) -> OutboxMessage:
    """The DLQ message of section 2.4: the original bytes and key, unchanged."""
    rec = letter.record
    at = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    original = tuple(
        (k, v.decode(errors="replace"))
        for k, v in rec.headers
        if not k.startswith("dlq_")
    )
    headers: Sequence[tuple[str, str]] = (
        *original,
        (DLQ_REASON, letter.reason[:1000]),
        (DLQ_ERROR_CODE, letter.error_code),
        (DLQ_SOURCE_TOPIC, rec.topic),
        (DLQ_SOURCE_PARTITION, str(rec.partition)),
        (DLQ_SOURCE_OFFSET, str(rec.offset)),
        (DLQ_CONSUMER, consumer),
        (DLQ_AT, at),
    )
    if not any(k == HEADER_CONTENT_TYPE for k, _ in headers):
        headers = ((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON), *headers)
    if not any(k == HEADER_MESSAGE_TYPE for k, _ in headers):
        headers = ((HEADER_MESSAGE_TYPE, "dead_letter"), *headers)
    return OutboxMessage(
        topic=DLQ,
        key=rec.key,
        value=rec.value,
        headers=tuple(headers),
    )
