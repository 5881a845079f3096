"""Decoding consumed Kafka records into commands, results or dead letters (pure).

Contract section 2.4: a record that is not JSON, or whose envelope has no usable
``command_id``, goes to the DLQ; a command with a usable ``command_id`` whose other
fields fail validation gets a ``rejected`` result with code ``invalid`` instead.

Every record gets a verdict of its own, whatever its bytes: the bounds of section 2.5
(size, nesting, timestamps) are checked before anything costly, JSON is read as strict
UTF-8 (no UTF-16/32, no byte-order mark, no NaN), and any exception decoding one
record raises — a bug, or input nobody foresaw — is that record's dead letter, never
its batch's failure.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from leancrm_contracts.envelope import (
    CONTENT_TYPE_JSON,
    DLQ_AT,
    DLQ_CONSUMER,
    DLQ_ERROR_CODE,
    DLQ_ORIGINAL_SHA256,
    DLQ_ORIGINAL_SIZE,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    DLQ_TRUNCATED,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    CommandEnvelope,
)
from leancrm_contracts.limits import (
    DLQ_MAX_KEY_BYTES,
    DLQ_MAX_ORIGINAL_HEADER_BYTES,
    DLQ_MAX_VALUE_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    MAX_REASON_CHARS,
)
from leancrm_contracts.topics import DLQ
from leancrm_servicekit.decider import Command
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.outbox import OutboxMessage

log = get_logger(component="inbound")

MAX_COMMAND_ID = 128
MAX_COMMAND_TYPE = 128
#: validation errors named in one reason; the rest are counted
MAX_ERRORS_NAMED = 5
#: characters of one field name or path part quoted in a reason
MAX_NAME_CHARS = 64


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
    """'data.email: value is not a valid email address; occurred_at: ...' naming each field:
    the first few, then how many more (a record with 10,000 unknown fields must not make
    a reason of half a megabyte), each name cut to a readable length."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for err in errors[:MAX_ERRORS_NAMED]:
        loc = ".".join(clip(str(p), MAX_NAME_CHARS)
                       for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        parts.append(f"{loc or '(message)'}: {err['msg']}")
    if len(errors) > MAX_ERRORS_NAMED:
        parts.append(f"and {len(errors) - MAX_ERRORS_NAMED:,} more errors")
    return clip("; ".join(parts), MAX_REASON_CHARS)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Unreadable(ValueError):
    """A record that is not one strict UTF-8 JSON value within the bounds of section 2.5.
    ``beyond_bounds``: it is JSON, too deep or with too long a number to be read whole —
    its top-level ``command_id`` may still be found, and a command then answered."""

    def __init__(self, reason: str, *, beyond_bounds: bool = False) -> None:
        super().__init__(reason)
        self.beyond_bounds = beyond_bounds


NESTED_TOO_DEEP = f"JSON nested more than {MAX_NESTING} levels deep (section 2.5)"
#: Python's own bound on the digits of an integer it reads from text
MAX_INT_DIGITS = 4300


def _reject_constant(name: str) -> Any:
    raise Unreadable(f"{name} is not a JSON number")


def parse_json(value: bytes) -> Any:
    """One JSON value from ``value``, read as section 2 says a message is: strict UTF-8
    with no byte-order mark (``json.loads`` would also guess UTF-16 and UTF-32), no
    NaN or Infinity, at most ``MAX_MESSAGE_BYTES`` and ``MAX_NESTING`` deep. Raises
    ``Unreadable`` naming what is wrong."""
    if len(value) > MAX_MESSAGE_BYTES:
        raise Unreadable(f"the value has {len(value):,} bytes, more than the {MAX_MESSAGE_BYTES:,} "
                         "a message may have (section 2.5)")
    if value.startswith(b"\xef\xbb\xbf"):
        raise Unreadable("not UTF-8 JSON: the value starts with a byte-order mark; "
                         "a message is UTF-8 without one")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 JSON: {exc.reason} at byte {exc.start}") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise Unreadable(NESTED_TOO_DEEP, beyond_bounds=True) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise Unreadable(f"a number of more than {MAX_INT_DIGITS:,} digits (section 2.5)",
                             beyond_bounds=True) from None
        raise Unreadable(f"not UTF-8 JSON: {clip(str(exc), 200)}") from None
    check_nesting(value, obj)
    return obj


def check_nesting(value: bytes, obj: Any, depth: int = 1) -> None:
    """Raise ``Unreadable`` when ``obj`` (parsed from ``value``, at ``depth`` in it) nests
    objects and arrays more than ``MAX_NESTING`` deep. Only a value with that many
    brackets can, so the walk is skipped for nearly every message."""
    if value.count(b"{") + value.count(b"[") <= MAX_NESTING:
        return
    stack: list[tuple[Any, int]] = [(obj, depth)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_NESTING:
                raise Unreadable(NESTED_TOO_DEEP, beyond_bounds=True)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


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
    """The verdict on one consumed command record; never raises (section 2.4: a bad
    message never stops a consumer)."""
    try:
        return _decode_command(record, command_models)
    except Exception as exc:  # whatever one record does, it is that record's verdict
        return unforeseen(record, exc)


def unforeseen(record: InboundRecord, exc: Exception) -> DeadLetter:
    """The dead letter of a record whose decoding raised what no rule foresaw: logged with
    its traceback (it may be a bug to fix, and the DLQ keeps the record to replay)."""
    log.error("record_decoding_failed", topic=record.topic, partition=record.partition,
              offset=record.offset, exc_info=exc)
    return DeadLetter(record, "undecodable",
                      clip(f"could not be decoded: {type(exc).__name__}: {exc}", MAX_REASON_CHARS))


#: what matters to find a top-level member without parsing: strings and punctuation
_PUNCTUATION = re.compile(rb'["\[\]{}:,]')


def _tokens(value: bytes) -> Iterator[bytes]:
    """The strings and punctuation of a JSON text, in order, in linear time whatever the
    bytes (a regular expression for strings would backtrack on an unterminated one)."""
    position = 0
    while (match := _PUNCTUATION.search(value, position)) is not None:
        start = match.start()
        if value[start] != 0x22:  # not a quote: punctuation
            yield value[start:start + 1]
            position = start + 1
            continue
        end = start + 1
        while True:  # the closing quote: one not escaped by an odd number of backslashes
            end = value.find(b'"', end)
            if end < 0:
                return  # unterminated: nothing more can be read
            slashes = 0
            while value[end - 1 - slashes] == 0x5C:
                slashes += 1
            if slashes % 2 == 0:
                break
            end += 1
        yield value[start:end + 1]
        position = end + 1


def top_level_strings(value: bytes, names: Sequence[str]) -> dict[str, str]:
    """The top-level members of the JSON object in ``value`` that are named in ``names``
    and hold a string, found by scanning its tokens instead of parsing it: for a value
    too deep or with too long a number to be parsed. Linear; never recursive."""
    found: dict[str, str] = {}
    wanted = set(names)
    depth = 0
    pending_key: str | None = None  # a key at depth 1 whose ':' was just read
    previous = b""
    previous_string: bytes | None = None
    for token in _tokens(value):
        if token in (b"{", b"["):
            depth += 1
            pending_key = None
        elif token in (b"}", b"]"):
            depth -= 1
            pending_key = None
        elif token == b":":
            if depth == 1 and previous_string is not None:
                pending_key = _json_string(previous_string)
        elif token == b",":
            pending_key = None
        elif pending_key is not None and previous == b":":  # a string value of a top-level key
            text = _json_string(token)
            if pending_key in wanted and text is not None and pending_key not in found:
                found[pending_key] = text
            pending_key = None
        previous_string = token if token.startswith(b'"') else None
        previous = token
        if len(found) == len(wanted):
            break
    return found


def _json_string(token: bytes) -> str | None:
    try:
        text = json.loads(token)
    except ValueError:
        return None
    return text if isinstance(text, str) else None


def _beyond_bounds(record: InboundRecord, reason: str) -> Decoded:
    """A command too deep or with too long a number to be read whole is still answered
    when its top-level command_id can be found (section 2.4: a usable command_id gets a
    result); else it is a dead letter."""
    found = top_level_strings(record.value, ("command_id", "command_type"))
    command_id = found.get("command_id")
    if command_id is None or not 1 <= len(command_id) <= MAX_COMMAND_ID or storable(command_id) != command_id:
        return DeadLetter(record, "undecodable", reason)
    command_type = found.get("command_type", "")
    if len(command_type) > MAX_COMMAND_TYPE or storable(command_type) != command_type:
        command_type = ""
    return InvalidCommand(command_id, command_type, reason)


def _decode_command(
    record: InboundRecord, command_models: Mapping[str, type[BaseModel]]
) -> Decoded:
    try:
        obj: Any = parse_json(record.value)
    except Unreadable as exc:
        if exc.beyond_bounds:
            return _beyond_bounds(record, str(exc))
        return DeadLetter(record, "undecodable", str(exc))
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
    # the result echoes the type; one the result cannot carry is answered as ""
    command_type = raw_type if isinstance(raw_type, str) and len(raw_type) <= MAX_COMMAND_TYPE else ""
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
    wrong_header = header_problem(record.headers, envelope.command_type)
    if wrong_header is not None:
        return InvalidCommand(command_id, command_type, wrong_header)
    model = command_models.get(envelope.command_type)
    if model is None:
        known = ", ".join(sorted(command_models))
        return InvalidCommand(
            command_id,
            command_type,
            f"command_type: unknown command type {clip(envelope.command_type, MAX_NAME_CHARS)!r} "
            f"on {record.topic} (known: {known})",
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


def header_problem(headers: Sequence[tuple[str, bytes]], command_type: str) -> str | None:
    """What is wrong with a command's headers (contract section 2), or None: it carries
    ``content-type: application/json`` (parameters such as ``; charset=utf-8`` allowed)
    and ``message_type`` equal to its ``command_type``; a header given twice must say
    the same each time. Header names are exact (lowercase)."""
    content_types = [v for k, v in headers if k == HEADER_CONTENT_TYPE]
    if not content_types:
        return (f"header {HEADER_CONTENT_TYPE}: missing; every command carries "
                f"{HEADER_CONTENT_TYPE}: {CONTENT_TYPE_JSON} (section 2)")
    for value in content_types:
        if value.split(b";", 1)[0].strip().lower() != CONTENT_TYPE_JSON.encode():
            return (f"header {HEADER_CONTENT_TYPE}: {_shown(value)} is not {CONTENT_TYPE_JSON} "
                    "(section 2)")
    message_types = [v for k, v in headers if k == HEADER_MESSAGE_TYPE]
    if not message_types:
        return (f"header {HEADER_MESSAGE_TYPE}: missing; every command carries "
                f"{HEADER_MESSAGE_TYPE} equal to its command_type (section 2)")
    for value in message_types:
        if value != command_type.encode():
            return (f"header {HEADER_MESSAGE_TYPE}: {_shown(value)} contradicts command_type "
                    f"{clip(command_type, MAX_NAME_CHARS)!r}; they must be equal (section 2)")
    return None


def _shown(value: bytes) -> str:
    """A header value quoted in a reason: its text, cut to a readable length."""
    return repr(clip(storable(value.decode(errors="replace")), MAX_NAME_CHARS))


def dead_letter_message(letter: DeadLetter, consumer: str, now: datetime | None = None) -> OutboxMessage:
    """The DLQ message of section 2.4: the original bytes and key, unchanged up to their
    bounds (section 2.5) and cut beyond, with the original's size and SHA-256, so a dead
    letter always fits the producer's request size whatever came in (a 1 MiB record plus
    headers would be refused by the producer for ever)."""
    rec = letter.record
    at = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    value = rec.value[:DLQ_MAX_VALUE_BYTES]
    key = rec.key[:DLQ_MAX_KEY_BYTES] if rec.key is not None else None
    original: list[tuple[str, str]] = []
    header_bytes = 0
    headers_cut = False
    for k, v in rec.headers:
        if k.startswith("dlq_"):
            continue
        header_bytes += len(k) + len(v)
        if header_bytes > DLQ_MAX_ORIGINAL_HEADER_BYTES:
            headers_cut = True
            continue
        original.append((storable(k), storable(v.decode(errors="replace"))))  # stored as JSONB
    truncated = len(value) < len(rec.value) or key != rec.key or headers_cut
    headers: Sequence[tuple[str, str]] = (
        *original,
        (DLQ_REASON, storable(clip(letter.reason, MAX_REASON_CHARS))),
        (DLQ_ERROR_CODE, letter.error_code),
        (DLQ_SOURCE_TOPIC, storable(rec.topic)),
        (DLQ_SOURCE_PARTITION, str(rec.partition)),
        (DLQ_SOURCE_OFFSET, str(rec.offset)),
        (DLQ_CONSUMER, consumer),
        (DLQ_AT, at),
        (DLQ_ORIGINAL_SIZE, str(len(rec.value))),
        (DLQ_ORIGINAL_SHA256, hashlib.sha256(rec.value).hexdigest()),
        (DLQ_TRUNCATED, "true" if truncated else "false"),
    )
    if not any(k == HEADER_CONTENT_TYPE for k, _ in headers):
        headers = ((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON), *headers)
    if not any(k == HEADER_MESSAGE_TYPE for k, _ in headers):
        headers = ((HEADER_MESSAGE_TYPE, "dead_letter"), *headers)
    return OutboxMessage(
        topic=DLQ,
        key=key,
        value=value,
        headers=tuple(headers),
    )


def storable(text: str) -> str:
    """Text PostgreSQL can store: NUL and lone surrogates become U+FFFD."""
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text)
