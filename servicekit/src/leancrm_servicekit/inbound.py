"""Decoding consumed Kafka records into commands, results or dead letters (pure).

Contract section 2.4: a record that is not JSON, or whose envelope has no usable
``command_id``, goes to the DLQ; a command with a usable ``command_id`` whose other
fields fail validation gets a ``rejected`` result with code ``invalid`` instead.
"""

from __future__ import annotations

import json
import re
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


#: escapes that may decode to text PostgreSQL cannot store: NUL, or half a surrogate pair
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def unstorable_text(value: bytes, obj: Any = None) -> tuple[str, str] | None:
    """(path, problem) of the first string, key or value, of a JSON message that
    PostgreSQL cannot store as text: one holding the NUL character (U+0000) or a lone
    surrogate. Such a message is valid JSON and may pass its model, yet writing it
    fails every time: left alone it would stop the consumer for good (section 2.4: a
    bad message never stops a consumer). ``obj`` is ``value`` already parsed, if it
    is; only a message with such an escape is parsed and searched."""
    if not _SUSPECT_ESCAPE.search(value):
        return None
    return _find_unstorable(json.loads(value) if obj is None else obj, "")


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains the NUL character (U+0000), which cannot be stored"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "contains a lone surrogate (not a Unicode character), which cannot be stored"
    return None


def _find_unstorable(obj: Any, path: str) -> tuple[str, str] | None:
    if isinstance(obj, str):
        problem = _text_problem(obj)
        return None if problem is None else (path or "(message)", problem)
    items: Any = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, item in items:
        if isinstance(key, str) and (problem := _text_problem(key)) is not None:
            return path or "(message)", "has a key that " + problem
        found = _find_unstorable(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


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
    unstorable = unstorable_text(record.value, obj)
    if unstorable is not None:
        path, problem = unstorable
        if path == "command_id":
            return DeadLetter(record, "invalid_envelope",
                              f"command_id: {problem}; no result can be addressed")
        if path == "command_type":
            command_type = ""
        return InvalidCommand(command_id, command_type, f"{path}: {problem}")
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
        (_storable(k), _storable(v.decode(errors="replace")))  # headers are stored as JSONB
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


def _storable(text: str) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates become U+FFFD."""
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)
