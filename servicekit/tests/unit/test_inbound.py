"""Decoding a consumed record (contract §2.4), pure: what goes to the DLQ, what gets a
``rejected``/``invalid`` result, what is a command — and the DLQ message's headers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leancrm_contracts.customers import COMMANDS
from leancrm_contracts.topics import DLQ
from leancrm_servicekit.decider import Command
from leancrm_servicekit.inbound import (
    DeadLetter,
    InboundRecord,
    InvalidCommand,
    dead_letter_message,
    decode_command,
    unstorable_text,
)

TOPIC = "crm.customers.commands.v1"


def record(value: bytes | dict[str, Any],
           headers: tuple[tuple[str, bytes], ...] | None = None) -> InboundRecord:
    """A record as a client following the contract sends it: with the headers of section
    2 (``message_type`` = the value's command_type) unless ``headers`` are given."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    if headers is None:
        command_type = _command_type_of(raw)
        headers = (("content-type", b"application/json"),
                   ("message_type", str(command_type or "").encode()))
    return InboundRecord(TOPIC, 2, 41, b"key-1", raw, headers)


def _command_type_of(raw: bytes) -> str:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    command_type = obj.get("command_type") if isinstance(obj, dict) else None
    return command_type if isinstance(command_type, str) else ""


def register(**over: Any) -> dict[str, Any]:
    cmd: dict[str, Any] = {
        "command_id": "c-1", "command_type": "register_customer",
        "occurred_at": "2026-11-24T09:00:00Z", "correlation_id": None,
        "data": {"customer_id": str(uuid.uuid4()), "name": "Ada", "email": None, "phone": None,
                 "segment": "retail"}}
    cmd.update(over)
    return cmd


def test_a_valid_command_decodes_to_its_model() -> None:
    decoded = decode_command(record(register()), COMMANDS)
    assert isinstance(decoded, Command)
    assert decoded.command_id == "c-1" and decoded.command_type == "register_customer"
    assert decoded.occurred_at == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert type(decoded.data) is COMMANDS["register_customer"]


@pytest.mark.parametrize(("value", "code"), [
    (b"\xff\xfe not utf-8", "undecodable"),
    (b"{not json", "undecodable"),
    (b"[1, 2]", "invalid_envelope"),
    (json.dumps({"command_type": "register_customer"}).encode(), "invalid_envelope"),
    (json.dumps(register(command_id="")).encode(), "invalid_envelope"),
    (json.dumps(register(command_id="x" * 129)).encode(), "invalid_envelope"),
    (json.dumps(register(command_id=17)).encode(), "invalid_envelope"),
])
def test_no_usable_command_id_is_a_dead_letter(value: bytes, code: str) -> None:
    decoded = decode_command(record(value), COMMANDS)
    assert isinstance(decoded, DeadLetter)
    assert decoded.error_code == code and decoded.reason


@pytest.mark.parametrize(("cmd", "field"), [
    (register(occurred_at="yesterday"), "occurred_at"),
    (register(command_type="delete_everything"), "command_type"),
    (register(data={"customer_id": "not-a-uuid", "name": "Ada", "segment": "retail"}),
     "data.customer_id"),
    (register(data={"customer_id": str(uuid.uuid4()), "name": "x" * 5000, "segment": "retail"}),
     "data.name"),
])
def test_a_usable_command_id_with_bad_fields_is_invalid_naming_the_field(
        cmd: dict[str, Any], field: str) -> None:
    decoded = decode_command(record(cmd), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.command_id == "c-1"
    assert decoded.message.startswith(field) or f"; {field}" in decoded.message, decoded.message


def test_the_dead_letter_keeps_the_original_bytes_key_and_headers_and_adds_section_2_4() -> None:
    rec = record(b"{not json", headers=(("message_type", b"register_customer"), ("trace", b"t-9")))
    letter = decode_command(rec, COMMANDS)
    assert isinstance(letter, DeadLetter)
    msg = dead_letter_message(letter, "leancrm-customers", now=datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    assert msg.topic == DLQ and msg.value == rec.value and msg.key == rec.key
    headers = dict(msg.headers)
    assert headers["message_type"] == "register_customer" and headers["trace"] == "t-9"
    assert headers["content-type"] == "application/json"
    assert headers["dlq_error_code"] == "undecodable"
    assert headers["dlq_source_topic"] == TOPIC
    assert headers["dlq_source_partition"] == "2" and headers["dlq_source_offset"] == "41"
    assert headers["dlq_consumer"] == "leancrm-customers"
    assert headers["dlq_at"] == "2026-11-24T09:30:00Z"
    assert headers["dlq_reason"].startswith("not UTF-8 JSON")


# -- text PostgreSQL cannot store: valid JSON, passes the model, fails every write ------


def with_name(name: str, **over: Any) -> bytes:
    cmd = register(**over)
    cmd["data"]["name"] = name
    return json.dumps(cmd).encode()  # ensure_ascii: NUL and surrogates travel as \u escapes


@pytest.mark.parametrize(("name", "problem"), [
    ("Ada\x00", "NUL character (U+0000)"),
    ("Ada\ud800", "lone surrogate"),
])
def test_a_field_postgresql_cannot_store_is_invalid_naming_it(name: str, problem: str) -> None:
    decoded = decode_command(record(with_name(name)), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.command_id == "c-1" and decoded.command_type == "register_customer"
    assert decoded.message.startswith("data.name: ") and problem in decoded.message


def test_a_command_id_postgresql_cannot_store_is_a_dead_letter() -> None:
    decoded = decode_command(record(with_name("Ada", command_id="c\x00-1")), COMMANDS)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_envelope"
    assert decoded.reason.startswith("command_id: contains the NUL character")


def test_a_command_type_postgresql_cannot_store_is_invalid_without_it() -> None:
    decoded = decode_command(record(with_name("Ada", command_type="register\x00")), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.command_type == "" and decoded.message.startswith("command_type: ")


def test_a_key_postgresql_cannot_store_is_invalid() -> None:
    cmd = register()
    cmd["data"]["no\x00te"] = "x"
    decoded = decode_command(record(cmd), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.message.startswith("data: has a key that contains the NUL character")


def test_escaped_text_that_only_looks_like_nul_and_surrogate_pairs_are_fine() -> None:
    # a backslash followed by "u0000" is ordinary text; an emoji is a valid surrogate pair
    decoded = decode_command(record(with_name("Ada \\u0000 😀")), COMMANDS)
    assert isinstance(decoded, Command)
    assert decoded.data.name == "Ada \\u0000 😀"  # type: ignore[attr-defined]


def test_unstorable_text_finds_the_path_in_lists_and_says_nothing_of_clean_messages() -> None:
    assert unstorable_text(json.dumps({"a": [1, {"b": "x\x00"}]}).encode()) == (
        "a.1.b", "contains the NUL character (U+0000), which cannot be stored")
    assert unstorable_text(json.dumps({"a": "é", "b": [None, 1.5]}).encode()) is None


def test_the_dead_letter_headers_are_storable() -> None:
    rec = InboundRecord(TOPIC, 0, 7, b"k", b"not json", (("x-trace\x00", b"a\x00b"),))
    msg = dead_letter_message(DeadLetter(rec, "undecodable", "not UTF-8 JSON"), "customers")
    assert ("x-trace\ufffd", "a\ufffdb") in msg.headers
    assert msg.value == b"not json"


# -- hostile records: each gets its own verdict, none raises (issue 10) -------------------


@pytest.mark.parametrize("value", [
    b"[" * 1000 + b"]" * 1000,  # RecursionError escaped to faststream and lost the batch
    b'{"n": ' + b"9" * 5000 + b"}",  # ValueError, likewise
    json.dumps(register(data={"customer_id": str(uuid.uuid4()), "name": "A\x00da",
                              "segment": "retail"})).encode("utf-16"),  # passed, then failed every commit
    json.dumps(register()).encode("utf-32"),
    b"\xef\xbb\xbf" + json.dumps(register()).encode(),
    b'{"command_id": "c-1", "x": NaN}',
    b"{" * 5 + b"x" * 300_000,
    b"",
], ids=["nested 1000", "5000 digits", "utf-16 with NUL", "utf-32", "bom", "NaN", "too large", "empty"])
def test_bytes_that_are_not_strict_utf8_json_within_bounds_are_dead_letters(value: bytes) -> None:
    decoded = decode_command(record(value), COMMANDS)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "undecodable", decoded
    assert decoded.reason.startswith(("not UTF-8 JSON", "the value has", "JSON nested", "a number of"))


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"command_id": "c-1", "command_type": "register_customer", "n": ' + b"9" * 5000 + b"}",
     "a number of more than 4,300 digits"),
    (b'{"data": ' + b"[" * 1000 + b"]" * 1000 + b', "command_type": "register_customer", '
     b'"command_id": "c-1"}', "JSON nested more than 64 levels deep"),
    (json.dumps(register(correlation_id=nested(70))).encode(),
     "JSON nested more than 64 levels deep"),
], ids=["5000 digits", "nested 1000", "nested 70"])
def test_json_beyond_the_bounds_with_a_top_level_command_id_is_answered_invalid(
        value: bytes, reason: str) -> None:
    """Too deep or with too long a number to be read whole, the command still has a usable
    command_id at the top: it is answered (section 2.4), found without parsing."""
    decoded = decode_command(record(value), COMMANDS)
    assert isinstance(decoded, InvalidCommand), decoded
    assert (decoded.command_id, decoded.command_type) == ("c-1", "register_customer")
    assert decoded.message.startswith(reason)


def test_a_timestamp_beyond_the_calendar_is_invalid_not_an_overflow() -> None:
    decoded = decode_command(record(register(occurred_at="9999-12-31T23:59:59-01:00")), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.message.startswith("occurred_at: ") and "2200-01-01" in decoded.message


def test_nesting_beyond_the_bound_without_a_command_id_is_a_dead_letter_naming_it() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    decoded = decode_command(record({"command_type": "register_customer", "data": deep}), COMMANDS)
    assert isinstance(decoded, DeadLetter) and "nested more than 64" in decoded.reason


def test_ten_thousand_unknown_fields_make_a_short_message() -> None:
    cmd = register()
    cmd["data"].update({f"field_{i}": i for i in range(10_000)})
    decoded = decode_command(record(cmd), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert len(decoded.message) <= 1000 and "more errors" in decoded.message


def test_a_command_type_too_long_for_a_result_is_answered_without_it() -> None:
    decoded = decode_command(record(register(command_type="x" * 200)), COMMANDS)
    assert isinstance(decoded, InvalidCommand) and decoded.command_type == ""


def test_whatever_decoding_raises_is_the_records_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    import leancrm_servicekit.inbound as inbound

    def boom(*_: Any) -> None:
        raise OverflowError("a bug nobody foresaw")

    monkeypatch.setattr(inbound, "unstorable_text", boom)
    decoded = decode_command(record(register()), COMMANDS)
    assert isinstance(decoded, DeadLetter)
    assert decoded.reason.startswith("could not be decoded: OverflowError")


def test_a_dead_letter_never_exceeds_its_bounds_and_says_what_the_original_was() -> None:
    import hashlib

    value = b"\xff" * 1_100_000
    rec = InboundRecord(TOPIC, 1, 5, b"k" * 5000, value, tuple((f"h{i}", b"v" * 1000) for i in range(100)))
    msg = dead_letter_message(DeadLetter(rec, "undecodable", "r" * 5000), "customers")
    headers = dict(msg.headers)
    assert len(msg.value) == 262_144 and msg.value == value[:262_144]
    assert msg.key is not None and len(msg.key) == 1024
    assert headers["dlq_original_size"] == "1100000"
    assert headers["dlq_original_sha256"] == hashlib.sha256(value).hexdigest()
    assert headers["dlq_truncated"] == "true" and len(headers["dlq_reason"]) <= 1000
    assert sum(len(k) + len(v) for k, v in msg.headers) < 20_000
    small = dead_letter_message(DeadLetter(record(b"{oops"), "undecodable", "r"), "customers")
    assert dict(small.headers)["dlq_truncated"] == "false" and small.value == b"{oops"


# --- headers (contract section 2) -------------------------------------------------------

JSON_TYPE = ("content-type", b"application/json")
REGISTER_TYPE = ("message_type", b"register_customer")


@pytest.mark.parametrize(("headers", "named"), [
    ((), "header content-type: missing"),
    ((REGISTER_TYPE,), "header content-type: missing"),
    ((("content-type", b"text/plain"), REGISTER_TYPE), "'text/plain' is not application/json"),
    ((JSON_TYPE,), "header message_type: missing"),
    ((JSON_TYPE, ("message_type", b"forget_customer")),
     "'forget_customer' contradicts command_type 'register_customer'"),
    ((JSON_TYPE, REGISTER_TYPE, ("message_type", b"forget_customer")), "contradicts"),
    ((JSON_TYPE, ("Message_Type", b"register_customer")), "header message_type: missing"),
    ((JSON_TYPE, ("message_type", b"\xff\xfe")), "contradicts command_type"),
])
def test_a_command_without_its_headers_or_contradicting_them_is_invalid(
    headers: tuple[tuple[str, bytes], ...], named: str
) -> None:
    decoded = decode_command(record(register(), headers), COMMANDS)
    assert isinstance(decoded, InvalidCommand)
    assert decoded.command_id == "c-1" and decoded.command_type == "register_customer"
    assert named in decoded.message and "section 2" in decoded.message


@pytest.mark.parametrize("content_type", [
    b"application/json", b"application/json; charset=utf-8", b"Application/JSON"])
def test_the_contracts_headers_make_a_command(content_type: bytes) -> None:
    headers = (("content-type", content_type), REGISTER_TYPE, ("trace", b"t-1"))
    assert isinstance(decode_command(record(register(), headers), COMMANDS), Command)


def test_an_unusable_command_id_is_a_dead_letter_whatever_the_headers() -> None:
    decoded = decode_command(record(register(command_id=""), ()), COMMANDS)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_envelope"


def test_an_invalid_envelope_is_named_before_the_headers() -> None:
    decoded = decode_command(record(register(occurred_at="yesterday"), ()), COMMANDS)
    assert isinstance(decoded, InvalidCommand) and decoded.message.startswith("occurred_at")
