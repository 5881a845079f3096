"""Fuzzing every consumer's decoding path (issue 10): arbitrary bytes, arbitrary JSON,
valid messages with fields replaced by wrong types and huge or tiny values, and random
headers and keys. Each input must get a verdict — a command, an ``invalid`` answer, a
skip or a dead letter — and nothing may raise out of it; what the verdict makes
(the result, the dead letter) must stay within the contract's bounds and be storable
by PostgreSQL. Pure: no broker, no database; hypothesis shrinks any failure to its core.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leancrm_contracts.envelope import DLQ_HEADERS, DLQ_ORIGINAL_HEADERS, CommandError, CommandResult
from leancrm_contracts.examples import COMMAND_EXAMPLES, EVENT_EXAMPLES
from leancrm_contracts.limits import (
    DLQ_MAX_KEY_BYTES,
    DLQ_MAX_ORIGINAL_HEADER_BYTES,
    DLQ_MAX_VALUE_BYTES,
    MAX_REASON_CHARS,
)
from leancrm_contracts.registry import ALL_COMMANDS, COMMANDS_BY_TOPIC, EVENTS_BY_TOPIC, PRODUCER_OF_EVENT
from leancrm_servicekit.decider import Command
from leancrm_servicekit.inbound import (
    DeadLetter,
    InboundRecord,
    InvalidCommand,
    dead_letter_message,
    decode_command,
)
from leancrm_waste.projection.decoding import DecodedEvent, Skipped, decode_event

ERROR_CODES = {"undecodable", "invalid_envelope", "invalid_data", "unsupported_version"}
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- strategies -----------------------------------------------------------------------------

#: any code point, lone surrogates and NUL included (hypothesis leaves surrogates out by default)
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
huge_text = st.builds(lambda c, n: c * n, st.characters(codec=None, categories=None),
                      st.integers(1, 20_000))
numbers = st.one_of(st.integers(), st.integers(-10**80, 10**80), st.floats(allow_nan=True),
                    st.just(True), st.just(False))
#: values that broke a consumer once, or sit on a bound
EDGES = ["", " ", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2199-12-31T23:59:59Z",
         "2200-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2026-11-23T09:00:00Z", str(uuid.uuid4()),
         "x" * 128, "x" * 129, "x" * 200, "a\x00b", "\ud800", 10**4200, -(2**63), 2**64, 1e308]
scalars = st.one_of(st.none(), numbers, any_text, huge_text, st.sampled_from(EDGES), st.sampled_from(EDGES))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(any_text, inner, max_size=5)), max_leaves=20)


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


weird_values = st.one_of(json_values, st.integers(1, 300).map(_deep))
headers = st.lists(st.tuples(any_text, st.binary(max_size=200)), max_size=6)
keys = st.one_of(st.none(), st.binary(max_size=64), st.binary(min_size=2000, max_size=3000))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()  # \u escapes: NUL and surrogates travel


def _encodings(value: Any) -> st.SearchStrategy[bytes]:
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    return st.sampled_from([text.encode("utf-8", "surrogatepass"), text.encode("utf-16", "surrogatepass"),
                            text.encode("utf-32", "surrogatepass"), b"\xef\xbb\xbf" + _dumps(value)])


@st.composite
def mutated_commands(draw: st.DrawFn) -> bytes:
    """A valid command with parts replaced: the path where most real faults hide."""
    command_type = draw(st.sampled_from(sorted(COMMAND_EXAMPLES)))
    cmd: dict[str, Any] = {"command_id": f"c-{draw(st.integers(0, 10**6))}", "command_type": command_type,
                           "occurred_at": "2026-11-23T09:00:00.000Z", "correlation_id": None,
                           "data": dict(COMMAND_EXAMPLES[command_type])}
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["envelope", "data", "extra"]))
        if where == "envelope":
            cmd[draw(st.sampled_from(sorted(cmd)))] = draw(weird_values)
        elif where == "data" and isinstance(cmd["data"], dict) and cmd["data"]:
            cmd["data"][draw(st.sampled_from(sorted(cmd["data"])))] = draw(weird_values)
        else:
            cmd["data" if draw(st.booleans()) and isinstance(cmd["data"], dict) else "x"] = draw(weird_values)
    return draw(st.one_of(st.just(_dumps(cmd)), _encodings(cmd)))


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, bytes]:
    event_type = draw(st.sampled_from(sorted(EVENT_EXAMPLES)))
    producer = PRODUCER_OF_EVENT[event_type]
    topic = next(t for t, models in EVENTS_BY_TOPIC.items() if event_type in models)
    data = dict(EVENT_EXAMPLES[event_type])
    stream = next((str(data[f]) for f in ("interaction_id", "agent_id", "feedback_id", "customer_id")
                   if f in data), "s")
    env: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
        "occurred_at": "2026-11-23T09:00:00.000Z", "recorded_at": "2026-11-23T09:00:00.100Z",
        "producer": str(producer), "stream_id": stream, "stream_version": 1,
        "customer_id": data.get("customer_id"), "correlation_id": None, "causation_id": "c-1", "data": data}
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()) and data:
            data[draw(st.sampled_from(sorted(data)))] = draw(weird_values)
        else:
            env[draw(st.sampled_from(sorted(env)))] = draw(weird_values)
    return topic, draw(st.one_of(st.just(_dumps(env)), _encodings(env)))


raw_values = st.one_of(st.binary(max_size=2000), json_values.map(_dumps),
                       st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
                       st.integers(4000, 6000).map(lambda n: b'{"command_id": "c", "n": ' + b"9" * n + b"}"))

# -- what every verdict must be ------------------------------------------------------------------


def _storable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _check_dead_letter(letter: DeadLetter) -> None:
    assert letter.error_code in ERROR_CODES
    assert letter.reason.strip() and len(letter.reason) <= MAX_REASON_CHARS
    msg = dead_letter_message(letter, "fuzz")
    assert len(msg.value) <= DLQ_MAX_VALUE_BYTES
    assert msg.key is None or len(msg.key) <= DLQ_MAX_KEY_BYTES
    names = {k for k, _ in msg.headers}
    assert set(DLQ_HEADERS) | set(DLQ_ORIGINAL_HEADERS) <= names
    assert all(_storable(k) and _storable(v) for k, v in msg.headers)  # written as JSONB
    json.dumps(msg.headers)
    original = sum(len(k) + len(v) for k, v in msg.headers if not k.startswith("dlq_"))
    assert original <= DLQ_MAX_ORIGINAL_HEADER_BYTES + 100  # + content-type/message_type added


def _check_command_verdict(verdict: Command | InvalidCommand | DeadLetter) -> None:
    if isinstance(verdict, DeadLetter):
        _check_dead_letter(verdict)
    elif isinstance(verdict, InvalidCommand):
        assert 1 <= len(verdict.command_id) <= 128 and _storable(verdict.command_id)
        assert _storable(verdict.command_type)
        # the result the service writes for it can be made (a 200-character command_type
        # could not, and stopped the line)
        CommandResult(command_id=verdict.command_id, command_type=verdict.command_type, status="rejected",
                      error=CommandError(code="invalid", message=verdict.message[:MAX_REASON_CHARS]),
                      processed_at="2026-11-23T09:00:00Z")
        assert verdict.message.strip()
    else:
        assert verdict.command_type in ALL_COMMANDS


KNOWN = [  # each once stopped a line
    b"[" * 1000 + b"]" * 1000,
    b'{"command_id": "c-1", "n": ' + b"9" * 5000 + b"}",
    json.dumps({"command_id": "c-1", "command_type": "register_customer",
                "occurred_at": "2026-11-23T09:00:00Z", "data": {"name": "A\x00"}}).encode("utf-16"),
    json.dumps({"command_id": "c-1", "command_type": "x" * 200, "occurred_at": "2026-11-23T09:00:00Z",
                "data": {}}).encode(),
    json.dumps({"command_id": "c-1", "command_type": "register_customer",
                "occurred_at": "9999-12-31T23:59:59-01:00", "data": {}}).encode(),
]


def _record(topic: str, value: bytes, key: bytes | None = None,
            hdrs: list[tuple[str, bytes]] | None = None) -> InboundRecord:
    return InboundRecord(topic, 0, 0, key, value, tuple(hdrs or ()))


# -- the properties -------------------------------------------------------------------------------


@FUZZ
@given(topic=st.sampled_from(sorted(COMMANDS_BY_TOPIC)), value=raw_values, key=keys, hdrs=headers)
@example(topic='crm.customers.commands.v1', value=KNOWN[0], key=None, hdrs=[])
@example(topic='crm.customers.commands.v1', value=KNOWN[1], key=None, hdrs=[])
@example(topic='crm.customers.commands.v1', value=KNOWN[2], key=None, hdrs=[])
@example(topic='crm.customers.commands.v1', value=KNOWN[3], key=None, hdrs=[])
@example(topic='crm.customers.commands.v1', value=KNOWN[4], key=None, hdrs=[])
def test_any_bytes_on_a_command_topic_get_a_verdict(topic: str, value: bytes, key: bytes | None,
                                                    hdrs: list[tuple[str, bytes]]) -> None:
    _check_command_verdict(decode_command(_record(topic, value, key, hdrs), COMMANDS_BY_TOPIC[topic]))


@FUZZ
@given(value=mutated_commands(), key=keys, hdrs=headers)
def test_valid_commands_with_parts_replaced_get_a_verdict(value: bytes, key: bytes | None,
                                                          hdrs: list[tuple[str, bytes]]) -> None:
    for topic, models in COMMANDS_BY_TOPIC.items():  # also on the wrong topic
        _check_command_verdict(decode_command(_record(topic, value, key, hdrs), models))


@FUZZ
@given(topic=st.sampled_from(sorted(EVENTS_BY_TOPIC)), value=raw_values, key=keys, hdrs=headers)
@example(topic='crm.interactions.events.v1', value=KNOWN[0], key=None, hdrs=[])
@example(topic='crm.interactions.events.v1', value=KNOWN[1], key=None, hdrs=[])
@example(topic='crm.interactions.events.v1', value=KNOWN[2], key=None, hdrs=[])
@example(topic='crm.interactions.events.v1', value=KNOWN[3], key=None, hdrs=[])
@example(topic='crm.interactions.events.v1', value=KNOWN[4], key=None, hdrs=[])
def test_any_bytes_on_an_event_topic_get_a_verdict(topic: str, value: bytes, key: bytes | None,
                                                   hdrs: list[tuple[str, bytes]]) -> None:
    verdict = decode_event(_record(topic, value, key, hdrs))
    if isinstance(verdict, DeadLetter):
        _check_dead_letter(verdict)
    else:
        assert isinstance(verdict, DecodedEvent | Skipped)


@FUZZ
@given(event=mutated_events(), key=keys, hdrs=headers)
def test_valid_events_with_parts_replaced_get_a_verdict(event: tuple[str, bytes], key: bytes | None,
                                                        hdrs: list[tuple[str, bytes]]) -> None:
    topic, value = event
    verdict = decode_event(_record(topic, value, key, hdrs))
    if isinstance(verdict, DeadLetter):
        _check_dead_letter(verdict)
    elif isinstance(verdict, DecodedEvent):
        # what the projector writes: text PostgreSQL can store, a timestamp it can convert
        assert _storable(json.dumps(verdict.data, ensure_ascii=False).replace("\\u0000", "\x00"))
        assert verdict.envelope.occurred_at.year in range(1970, 2200)
    else:
        assert isinstance(verdict, Skipped)
