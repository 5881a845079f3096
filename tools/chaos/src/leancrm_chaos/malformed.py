"""Hostile records, as a system the services do not control could produce them.

Every record is built from the run's seed and its number alone (``build(spec, seed)``
gives the same bytes every time), carries a unique marker ``mal-<seed>-<n>`` at the start
of its key — and as its ``command_id`` where the kind has a usable one — and has an
expected verdict (contract section 2.4):

* on a command topic, a ``rejected`` result with code ``invalid`` when the record is one
  UTF-8 JSON object with a string ``command_id`` of 1–128 characters (a usable one);
  otherwise a dead letter on ``crm.dlq.v1`` from that topic's service;
* on an event topic, a dead letter from the consumer ``waste``; none of them is a valid
  event, so none may reach the read model.

Contract section 2 says a message value is one UTF-8 JSON object: UTF-16 and UTF-32
values, and JSON extensions such as ``NaN``, are not JSON messages, whatever a lenient
parser makes of them, so their verdict is a dead letter. Bad parts are put where the
models must refuse them whatever else a consumer does (a known field of the wrong type,
not an unknown field an event consumer must ignore), so each verdict is certain.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from leancrm_contracts.topics import (
    COMMAND_TOPICS,
    CUSTOMERS_COMMANDS,
    CUSTOMERS_EVENTS,
    EVENT_TOPICS,
    FEEDBACK_COMMANDS,
    FEEDBACK_EVENTS,
    IMPROVEMENTS_COMMANDS,
    IMPROVEMENTS_EVENTS,
    INTERACTIONS_COMMANDS,
    INTERACTIONS_EVENTS,
)
from leancrm_simulator.model import stable_uuid

INVALID = "invalid"
DEAD_LETTER = "dead_letter"
COMMAND, EVENT = "command", "event"

#: who must answer a record on each topic (the DLQ's dlq_consumer)
CONSUMER_OF: dict[str, str] = {
    CUSTOMERS_COMMANDS: "customers", INTERACTIONS_COMMANDS: "interactions",
    FEEDBACK_COMMANDS: "feedback", CUSTOMERS_EVENTS: "waste", INTERACTIONS_EVENTS: "waste",
    FEEDBACK_EVENTS: "waste", IMPROVEMENTS_COMMANDS: "improvements", IMPROVEMENTS_EVENTS: "waste",
}
#: the aiokafka producer's default max_request_size: values above it need the raised producer
PRODUCER_LIMIT = 1_048_576
ONE_MIB_RANGE = (1_000_000, 1_040_000)
MAX_TIMESTAMP = "9999-12-31T23:59:59-01:00"
MIN_TIMESTAMP = "0001-01-01T00:00:00+01:00"
GOOD_TIME = "2026-11-30T12:00:00.000Z"
UNKNOWN_FIELDS = 10_000
BIG_INTEGER_DIGITS = 5_000
HUGE_PART_BYTES = 300 * 1024


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    what: str
    #: variant → expected verdict on a command topic
    command_variants: dict[str, str]
    #: variants on an event topic (every verdict there is a dead letter)
    event_variants: tuple[str, ...]
    #: "big" (hundreds of KiB or more) and "medium" kinds are sent less often
    size: str = "small"


KINDS: tuple[Kind, ...] = (
    Kind("random_bytes", "random bytes", {"random": DEAD_LETTER}, ("random",)),
    Kind("not_json", "text that is not JSON (also NaN and trailing garbage)",
         {"prose": DEAD_LETTER, "truncated": DEAD_LETTER, "single_quotes": DEAD_LETTER,
          "nan": DEAD_LETTER, "trailing_garbage": DEAD_LETTER},
         ("prose", "truncated", "single_quotes", "nan", "trailing_garbage")),
    Kind("json_not_object", "JSON that is not an object",
         {"array": DEAD_LETTER, "string": DEAD_LETTER, "number": DEAD_LETTER, "null": DEAD_LETTER,
          "true": DEAD_LETTER, "array_of_command": DEAD_LETTER},
         ("array", "string", "number", "null", "true", "array_of_event")),
    Kind("deep_nesting", "JSON nested 1,000-1,500 deep",
         {"whole_value": DEAD_LETTER, "in_data": INVALID}, ("whole_value", "in_data")),
    Kind("huge_integer", "an integer of 5,000 digits",
         {"in_data": INVALID, "as_command_type": INVALID}, ("in_data", "as_schema_version")),
    Kind("utf16", "the value encoded as UTF-16, with and without a byte-order mark",
         {"le_bom": DEAD_LETTER, "be_bom": DEAD_LETTER, "le": DEAD_LETTER, "be": DEAD_LETTER},
         ("le_bom", "be_bom", "le", "be")),
    Kind("utf32", "the value encoded as UTF-32, with and without a byte-order mark",
         {"le_bom": DEAD_LETTER, "be_bom": DEAD_LETTER, "le": DEAD_LETTER, "be": DEAD_LETTER},
         ("le_bom", "be_bom", "le", "be")),
    Kind("utf16_nul", "UTF-16 with \\u0000 in a name (a value, or a member's name)",
         {"in_value": DEAD_LETTER, "in_member_name": DEAD_LETTER},
         ("in_value", "in_member_name")),
    Kind("nul", "the NUL character \\u0000 in strings",
         {"in_text": INVALID, "in_member_name": INVALID, "in_command_type": INVALID},
         ("in_text", "in_member_name", "in_stream_id")),
    Kind("lone_surrogate", "a lone surrogate \\ud800 in strings",
         {"in_text": INVALID, "in_member_name": INVALID}, ("in_text", "in_member_name")),
    Kind("extreme_timestamp", f"timestamps {MAX_TIMESTAMP} and {MIN_TIMESTAMP}",
         {"max": INVALID, "min": INVALID},
         ("max_occurred", "min_occurred", "max_recorded", "min_recorded")),
    Kind("unknown_fields", f"a valid-looking command with {UNKNOWN_FIELDS:,} unknown data fields",
         {"command": INVALID}, ("command",), size="medium"),
    Kind("wrong_types", "fields of the wrong type",
         {"command_type_number": INVALID, "occurred_at_number": INVALID, "data_string": INVALID,
          "id_number": INVALID, "correlation_object": INVALID, "data_null": INVALID},
         ("stream_version_string", "event_id_number", "data_string", "occurred_at_number",
          "customer_id_object")),
    Kind("missing_command_id", "no usable command_id: missing, null, a number, empty, a list",
         {"missing": DEAD_LETTER, "null": DEAD_LETTER, "number": DEAD_LETTER, "empty": DEAD_LETTER,
          "list": DEAD_LETTER}, ("missing_event_id", "command_without_id")),
    Kind("long_command_id", "a command_id of 200 characters (and of 129, one too many)",
         {"200": DEAD_LETTER, "129": DEAD_LETTER}, ("command_200", "event_id_200")),
    Kind("one_mib", "a value of about 1 MiB that is not JSON", {"binary": DEAD_LETTER},
         ("binary",), size="big"),
    Kind("over_one_mib", "a value just over the producer's 1 MiB (sent by a raised producer)",
         {"binary": DEAD_LETTER}, ("binary",), size="big"),
    Kind("huge_headers", "300 KiB of headers: one huge, hundreds small",
         {"dead_letter_value": DEAD_LETTER, "invalid_value": INVALID},
         ("not_json", "broken_event"), size="big"),
    Kind("binary_headers", "headers with binary (non-UTF-8) values and odd names",
         {"dead_letter_value": DEAD_LETTER, "invalid_value": INVALID}, ("not_json", "broken_event")),
    Kind("empty_value", "an empty value", {"empty": DEAD_LETTER}, ("empty",)),
    Kind("null_value", "a null value (tombstone)", {"null": DEAD_LETTER}, ("null",)),
    Kind("huge_key", "a key of 300 KiB with binary bytes",
         {"dead_letter_value": DEAD_LETTER, "invalid_value": INVALID},
         ("not_json", "broken_event"), size="big"),
)
KIND_BY_NAME = {k.name: k for k in KINDS}


@dataclass(frozen=True, slots=True)
class MalformedSpec:
    n: int
    seed: int
    kind: str
    variant: str
    topic: str

    @property
    def marker(self) -> str:
        return f"mal-{self.seed}-{self.n:06d}"

    @property
    def topic_class(self) -> str:
        return COMMAND if self.topic in COMMAND_TOPICS else EVENT

    @property
    def expect(self) -> str:
        if self.topic_class == EVENT:
            return DEAD_LETTER
        return KIND_BY_NAME[self.kind].command_variants[self.variant]

    @property
    def consumer(self) -> str:
        return CONSUMER_OF[self.topic]


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    spec: MalformedSpec
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    #: command_id-like strings it carries (none of them may get an event)
    command_ids: tuple[str, ...] = ()
    #: on an event topic, the event_id its event-shaped payload has (or would have had):
    #: it must never reach the read model
    event_id: str | None = None

    @property
    def size(self) -> int:
        return (len(self.value or b"") + len(self.key or b"")
                + sum(len(k) + len(v) for k, v in self.headers))

    @property
    def needs_raised_producer(self) -> bool:
        return self.size > PRODUCER_LIMIT - 4096


def plan(seed: int, count: int) -> list[MalformedSpec]:
    """``count`` hostile records: first every kind on a command and on an event topic,
    then every kind on every topic, then random kinds (big ones capped), variants in turn."""
    rng = random.Random(f"{seed}:malformed")
    topics = (*COMMAND_TOPICS, *EVENT_TOPICS)
    caps = {"big": max(6, count // 500), "medium": max(6, count // 100)}
    kinds = list(KINDS)
    rng.shuffle(kinds)
    pairs: list[tuple[Kind, str]] = []
    for kind in kinds:
        pairs.append((kind, rng.choice(COMMAND_TOPICS)))
        pairs.append((kind, rng.choice(EVENT_TOPICS)))
    rest = [(k, t) for k in kinds for t in topics if (k, t) not in pairs]
    rng.shuffle(rest)
    pairs.extend(rest)
    chosen = pairs[:count]
    per_kind = Counter(k.name for k, _ in chosen)
    while len(chosen) < count:
        open_kinds = [k for k in KINDS if k.size == "small" or per_kind[k.name] < caps[k.size]]
        kind = rng.choice(open_kinds)
        chosen.append((kind, rng.choice(topics)))
        per_kind[kind.name] += 1
    rng.shuffle(chosen)
    turn: Counter[tuple[str, str]] = Counter()
    specs = []
    for n, (kind, topic) in enumerate(chosen):
        klass = COMMAND if topic in COMMAND_TOPICS else EVENT
        variants = list(kind.command_variants) if klass == COMMAND else list(kind.event_variants)
        variant = variants[turn[(kind.name, klass)] % len(variants)]
        turn[(kind.name, klass)] += 1
        specs.append(MalformedSpec(n, seed, kind.name, variant, topic))
    return specs


# -- the payloads ---------------------------------------------------------------------------

#: per command topic: the command type, its data, and the free-text field to spoil
def _base_command(spec: MalformedSpec) -> tuple[dict[str, Any], str, str]:
    def ident(purpose: str) -> str:
        return stable_uuid("chaos", spec.seed, spec.n, purpose)

    topic = spec.topic if spec.topic in COMMAND_TOPICS else CUSTOMERS_COMMANDS
    if topic == CUSTOMERS_COMMANDS:
        command_type, text_field = "register_customer", "name"
        data: dict[str, Any] = {"customer_id": ident("customer"), "name": "Hostile Input",
                                "email": None, "phone": None, "segment": "retail"}
        id_field = "customer_id"
    elif topic == INTERACTIONS_COMMANDS:
        command_type, text_field = "start_interaction", "reason"
        data = {"interaction_id": ident("interaction"), "customer_id": ident("customer"),
                "channel": "phone", "reason": "billing", "direction": "inbound"}
        id_field = "interaction_id"
    elif topic == IMPROVEMENTS_COMMANDS:
        command_type, text_field = "start_improvement", "title"
        data = {"improvement_id": ident("improvement"), "title": "hostile input",
                "target": "fcr_rate", "scope": {"channel": None, "reason": None, "team": None},
                "starts_on": GOOD_TIME[:10], "owner_team": "chaos",
                "expected": {"direction": "increase", "size": 0.1}, "note": None}
        id_field = "improvement_id"
    else:
        command_type, text_field = "submit_feedback", "text"
        data = {"feedback_id": ident("feedback"), "customer_id": None, "source": "survey",
                "text": "hostile input", "rating": 5, "interaction_id": None, "topic": None}
        id_field = "feedback_id"
    envelope = {"command_id": spec.marker, "command_type": command_type, "occurred_at": GOOD_TIME,
                "correlation_id": None, "data": data}
    return envelope, text_field, id_field


def _base_event(spec: MalformedSpec) -> tuple[dict[str, Any], str]:
    def ident(purpose: str) -> str:
        return stable_uuid("chaos", spec.seed, spec.n, purpose)

    customer: str | None = ident("customer")
    if spec.topic == INTERACTIONS_EVENTS:
        stream, event_type, producer, text_field = ident("interaction"), "interaction.started", \
            "interactions", "reason"
        data: dict[str, Any] = {"interaction_id": stream, "customer_id": customer,
                                "channel": "phone", "reason": "billing", "direction": "inbound"}
    elif spec.topic == FEEDBACK_EVENTS:
        stream, event_type, producer, text_field = ident("feedback"), "feedback.received", \
            "feedback", "text"
        data = {"feedback_id": stream, "customer_id": None, "source": "survey",
                "text": "hostile input", "rating": 5, "interaction_id": None, "topic": None}
        customer = None
    elif spec.topic == IMPROVEMENTS_EVENTS:
        stream, event_type, producer, text_field = ident("improvement"), "improvement.started", \
            "improvements", "title"
        data = {"improvement_id": stream, "title": "hostile input", "target": "fcr_rate",
                "scope": {"channel": None, "reason": None, "team": None},
                "starts_on": GOOD_TIME[:10], "owner_team": "chaos",
                "expected": {"direction": "increase", "size": 0.1}, "note": None}
        customer = None
    else:
        stream, event_type, producer, text_field = ident("customer"), "customer.registered", \
            "customers", "name"
        data = {"customer_id": customer, "name": "Hostile Input", "email": None, "phone": None,
                "segment": "retail"}
    envelope: dict[str, Any] = {"event_id": ident("event"), "event_type": event_type, "schema_version": 1,
                "occurred_at": GOOD_TIME, "recorded_at": GOOD_TIME, "producer": producer,
                "stream_id": stream, "stream_version": 1, "customer_id": customer,
                "correlation_id": None, "causation_id": spec.marker, "data": data}
    return envelope, text_field


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))  # ASCII: NUL and surrogates as \u escapes


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _big_integer(rng: random.Random) -> str:
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(BIG_INTEGER_DIGITS - 1))


def _not_json_bytes(rng: random.Random, marker: str, size: int) -> bytes:
    head = marker.encode() + b"\x00\xff"  # a NUL and an invalid UTF-8 byte: never JSON
    return head + rng.randbytes(max(0, size - len(head)))


def _is_json(value: bytes) -> bool:
    try:
        json.loads(value)
    except Exception:  # anything a lenient parser refuses
        return False
    return True


def _encode(text: str, codec: str, variant: str) -> bytes:
    boms = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
            "utf-32-be": b"\x00\x00\xfe\xff"}
    body = text.encode(codec)
    return boms[codec] + body if variant.endswith("_bom") else body


def _contract_headers(message_type: str) -> list[tuple[str, bytes]]:
    return [("content-type", b"application/json"), ("message_type", message_type.encode())]


def build(spec: MalformedSpec) -> MalformedRecord:
    """The record of ``spec``: the same bytes every time."""
    rng = random.Random(f"{spec.seed}:malformed:{spec.n}")
    marker = spec.marker
    key: bytes | None = marker.encode()
    command, text_field, id_field = _base_command(spec)
    event, event_text = _base_event(spec)
    is_event = spec.topic_class == EVENT
    headers = _contract_headers(event["event_type"] if is_event else command["command_type"])
    command_ids: tuple[str, ...] = (marker,)
    event_id: str | None = event["event_id"] if is_event else None
    v = spec.variant
    value: bytes | None
    kind = spec.kind

    def spoiled_command(**changes: Any) -> bytes:
        cmd = json.loads(json.dumps(command))
        cmd.update(changes)
        return _dumps(cmd).encode()

    if kind == "random_bytes":
        while True:
            value = rng.randbytes(rng.randint(1, 2048))
            if not _is_json(value):
                break
    elif kind == "not_json":
        text = {
            "prose": f"{marker}: this is not JSON at all",
            "truncated": _dumps(event if is_event else command)[:-7],
            "single_quotes": "{'command_id': '" + marker + "', 'command_type': 'register_customer'}",
            "nan": _dumps(event if is_event else command)[:-1] + ',"score":NaN}',
            "trailing_garbage": _dumps(event if is_event else command) + " trailing garbage",
        }[v]
        value = text.encode()
    elif kind == "json_not_object":
        value = {
            "array": b"[1,2,3]", "string": _dumps(marker).encode(), "number": b"42",
            "null": b"null", "true": b"true",
            "array_of_command": _dumps([command]).encode(), "array_of_event": _dumps([event]).encode(),
        }[v]
    elif kind == "deep_nesting":
        depth = rng.randint(1000, 1500)
        if v == "whole_value":
            value = ("[" * depth + "]" * depth).encode()
        else:
            target = event if is_event else command
            value = _with_raw(target, ["data", event_text if is_event else text_field],
                              _nested(depth))
    elif kind == "huge_integer":
        number = _big_integer(rng)
        if is_event:
            path = ["schema_version"] if v == "as_schema_version" else ["data", event_text]
            value = _with_raw(event, path, number)
        else:
            path = ["command_type"] if v == "as_command_type" else ["data", text_field]
            value = _with_raw(command, path, number)
    elif kind in ("utf16", "utf32"):
        codec = ("utf-16-" if kind == "utf16" else "utf-32-") + v[:2]
        value = _encode(_dumps(event if is_event else command), codec, v)
    elif kind == "utf16_nul":
        target = event if is_event else command
        field = event_text if is_event else text_field
        if v == "in_value":
            target["data"][field] = "Ada\x00Lovelace"
        else:
            target["data"]["na\x00me"] = "Ada"
        value = _encode(_dumps(target), "utf-16-le", "le_bom" if spec.n % 2 else "le")
    elif kind == "nul":
        if is_event:
            if v == "in_text":
                event["data"][event_text] = "hostile\x00input"
            elif v == "in_member_name":
                event["data"]["bad\x00name"] = "x"
                event["data"][event_text] = "hostile\x00input"  # a known field too: never valid
            else:
                event["stream_id"] = str(event["stream_id"]) + "\x00"
            value = _dumps(event).encode()
        else:
            if v == "in_text":
                command["data"][text_field] = "hostile\x00input"
            elif v == "in_member_name":
                command["data"]["bad\x00name"] = "x"
            else:
                command["command_type"] = command["command_type"] + "\x00"
            value = _dumps(command).encode()
    elif kind == "lone_surrogate":
        target = event if is_event else command
        field = event_text if is_event else text_field
        if v == "in_text":
            target["data"][field] = "hostile\ud800input"
        else:
            target["data"]["bad\ud800name"] = "x"
            if is_event:
                target["data"][field] = "hostile\ud800input"
        value = _dumps(target).encode()
    elif kind == "extreme_timestamp":
        if is_event:
            moment = MAX_TIMESTAMP if v.startswith("max") else MIN_TIMESTAMP
            event["occurred_at" if v.endswith("occurred") else "recorded_at"] = moment
            value = _dumps(event).encode()
        else:
            command["occurred_at"] = MAX_TIMESTAMP if v == "max" else MIN_TIMESTAMP
            value = _dumps(command).encode()
    elif kind == "unknown_fields":
        for i in range(UNKNOWN_FIELDS):
            command["data"][f"u{i:05d}"] = i
        value = _dumps(command).encode()
    elif kind == "wrong_types":
        if is_event:
            change = {"stream_version_string": ("stream_version", "one"),
                      "event_id_number": ("event_id", 12345), "data_string": ("data", "data"),
                      "occurred_at_number": ("occurred_at", 1_764_590_400),
                      "customer_id_object": ("customer_id", {"id": 1})}[v]
            event[change[0]] = change[1]
            value = _dumps(event).encode()
        elif v == "id_number":
            command["data"][id_field] = 12345
            value = _dumps(command).encode()
        else:
            field, bad = {"command_type_number": ("command_type", 7),
                          "occurred_at_number": ("occurred_at", 1_764_590_400),
                          "data_string": ("data", "data"),
                          "correlation_object": ("correlation_id", {"id": 1}),
                          "data_null": ("data", None)}[v]
            value = spoiled_command(**{field: bad})
    elif kind == "missing_command_id":
        if is_event:
            if v == "missing_event_id":
                del event["event_id"]
                value = _dumps(event).encode()
            else:
                del command["command_id"]
                value = _dumps(command).encode()
        else:
            if v == "missing":
                del command["command_id"]
            else:
                command["command_id"] = {"null": None, "number": 12345, "empty": "",
                                         "list": [marker]}[v]
            value = _dumps(command).encode()
    elif kind == "long_command_id":
        length = 129 if v == "129" else 200
        long_id = (marker + "." + "x" * length)[:length]
        if is_event and v == "event_id_200":
            event["event_id"] = long_id
            value = _dumps(event).encode()
        else:
            command["command_id"] = long_id
            value = _dumps(command).encode()
        command_ids = (marker, long_id)
    elif kind == "one_mib":
        value = _not_json_bytes(rng, marker, rng.randint(*ONE_MIB_RANGE))
    elif kind == "over_one_mib":
        value = _not_json_bytes(rng, marker, PRODUCER_LIMIT + rng.randint(1, 8192))
    elif kind in ("huge_headers", "binary_headers", "huge_key"):
        if v in ("dead_letter_value", "not_json"):
            value = _not_json_bytes(rng, marker, rng.randint(16, 256))
        elif v == "broken_event":
            event["stream_version"] = "one"
            value = _dumps(event).encode()
        else:  # invalid_value
            command["data"][id_field] = 12345
            value = _dumps(command).encode()
        if kind == "huge_headers":
            headers = [*headers, ("x-chaos-huge", b"h" * (256 * 1024)),
                       *((f"x-chaos-{i:03d}", rng.randbytes(32).hex().encode()) for i in range(300))]
        elif kind == "binary_headers":
            headers = [("content-type", rng.randbytes(16)), ("message_type", b"\xff\xfe\xfd\x00"),
                       ("x-chaos-binary", rng.randbytes(256)), ("ключ-☃", b"\x00\x01\x02"),
                       ("", b""), ("x-chaos-nul", b"a\x00b"), ("dlq_reason", b"forged by a producer")]
        else:
            key = marker.encode() + b"|" + rng.randbytes(HUGE_PART_BYTES)
    elif kind == "empty_value":
        value = b""
    elif kind == "null_value":
        value = None
    else:  # pragma: no cover - every kind is handled above
        raise ValueError(f"unknown kind {kind!r}")
    return MalformedRecord(spec, key, value, headers, command_ids, event_id)


def _with_raw(obj: dict[str, Any], path: list[str], raw: str) -> bytes:
    """``obj`` as JSON with the value at ``path`` replaced by the raw JSON text ``raw``
    (a nesting or a number Python's encoder would not write that way)."""
    placeholder = "@@chaos-raw@@"
    copy = json.loads(json.dumps(obj))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = placeholder
    return _dumps(copy).replace(_dumps(placeholder), raw, 1).encode()
