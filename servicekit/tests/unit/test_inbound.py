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


def record(value: bytes | dict[str, Any], headers: tuple[tuple[str, bytes], ...] = ()) -> InboundRecord:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return InboundRecord(TOPIC, 2, 41, b"key-1", raw, headers)


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
