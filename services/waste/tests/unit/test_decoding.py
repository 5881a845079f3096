"""Decoding consumed events, pure: what the projector applies, skips or dead-letters."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from leancrm_servicekit.inbound import DeadLetter, InboundRecord
from leancrm_waste.projection.decoding import DecodedEvent, Skipped, decode_event

IID = str(uuid.uuid4())
CID = str(uuid.uuid4())


def interaction_started(**over: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_type": "interaction.started", "schema_version": 1,
        "occurred_at": "2026-11-23T09:00:00.000Z", "recorded_at": "2026-11-23T09:00:00.100Z",
        "producer": "interactions", "stream_id": IID, "stream_version": 1, "customer_id": CID,
        "correlation_id": None, "causation_id": "c-1",
        "data": {"interaction_id": IID, "customer_id": CID, "channel": "phone",
                 "reason": "billing"}}
    env.update(over)
    return env


def agent_signed_in(**over: Any) -> dict[str, Any]:
    env = interaction_started(event_type="agent.signed_in", stream_id="a-7", customer_id=None,
                              data={"agent_id": "a-7", "team": "billing_team"})
    env.update(over)
    return env


def decode(env: dict[str, Any]) -> DecodedEvent | Skipped | DeadLetter:
    return decode_event(InboundRecord("crm.interactions.events.v1", 3, 9, b"k",
                                      json.dumps(env).encode()))


def test_a_valid_event_decodes_with_its_data_as_json() -> None:
    decoded = decode(interaction_started())
    assert isinstance(decoded, DecodedEvent)
    assert decoded.data["interaction_id"] == IID and decoded.data["channel"] == "phone"


def test_a_stream_id_in_another_spelling_of_the_same_uuid_is_the_same_stream() -> None:
    assert isinstance(decode(interaction_started(stream_id=IID.upper())), DecodedEvent)


@pytest.mark.parametrize("env", [
    interaction_started(stream_id="not-a-uuid"),
    interaction_started(stream_id=str(uuid.uuid4())),
    agent_signed_in(stream_id="a-8"),
], ids=["not a uuid", "another interaction", "another agent"])
def test_a_stream_id_that_is_not_the_aggregate_is_an_invalid_envelope(env: dict[str, Any]) -> None:
    decoded = decode(env)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_envelope"
    assert decoded.reason.startswith("stream_id: ") and "section 2.1" in decoded.reason


def test_nul_in_the_data_is_invalid_data_naming_the_field() -> None:
    env = interaction_started()
    env["data"]["reason"] = "bill\x00ing"
    decoded = decode(env)
    # the reason slug pattern may say so first; either way it is invalid_data on data.reason
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_data"
    assert decoded.reason.startswith("data.reason: ")


def test_nul_in_free_text_of_the_data_is_invalid_data() -> None:
    env = agent_signed_in()
    env["data"]["note"] = "x\x00"  # a field the model ignores is still in the bytes stored
    decoded = decode(env)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_data"
    assert decoded.reason == "data.note: contains the NUL character (U+0000), which cannot be stored"


def test_nul_in_the_envelope_is_an_invalid_envelope() -> None:
    decoded = decode(interaction_started(causation_id="c-\x001"))
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_envelope"
    assert decoded.reason.startswith("causation_id: contains the NUL character")


def test_unknown_types_are_skipped_before_anything_else_is_asked_of_them() -> None:
    decoded = decode(interaction_started(event_type="interaction.tagged", stream_id="x\x00"))
    assert isinstance(decoded, Skipped)


# -- hostile records: each gets its own verdict, none raises (issue 10) -------------------


def decode_raw(value: bytes) -> DecodedEvent | Skipped | DeadLetter:
    return decode_event(InboundRecord("crm.interactions.events.v1", 3, 9, b"k", value))


def test_a_timestamp_beyond_the_calendar_is_an_invalid_envelope_not_an_overflow() -> None:
    # 9999-12-31T23:59:59-01:00 is in year 10000 in UTC: astimezone raised OverflowError in
    # the projector, every time, for every partition
    for stamp in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"):
        decoded = decode(interaction_started(occurred_at=stamp))
        assert isinstance(decoded, DeadLetter) and decoded.error_code == "invalid_envelope", stamp
        assert decoded.reason.startswith("occurred_at: ") and "1970-01-01" in decoded.reason


@pytest.mark.parametrize(("value", "code"), [
    (json.dumps(interaction_started()).encode("utf-16"), "undecodable"),
    (json.dumps(interaction_started()).encode("utf-32"), "undecodable"),
    (b"\xef\xbb\xbf" + json.dumps(interaction_started()).encode(), "undecodable"),
    (b'{"a":' * 1000 + b"1" + b"}" * 1000, "undecodable"),
    (b'{"event_id": ' + b"9" * 5000 + b"}", "undecodable"),
    (b"x" * 262_145, "undecodable"),
    (b"", "undecodable"),
    (b"null", "invalid_envelope"),
], ids=["utf-16", "utf-32", "bom", "nested 1000", "5000 digits", "too large", "empty", "null"])
def test_hostile_bytes_are_dead_lettered(value: bytes, code: str) -> None:
    decoded = decode_raw(value)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == code, decoded


def test_data_nested_deeper_than_the_bound_is_undecodable() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = {"x": deep}
    env = interaction_started()
    env["data"]["extra"] = deep  # an unknown field: ignored, but not at any depth
    decoded = decode(env)
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "undecodable"
    assert "nested more than 64" in decoded.reason


def test_whatever_decoding_raises_is_the_records_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    import leancrm_waste.projection.decoding as decoding

    def boom(*_: Any) -> None:
        raise KeyError("a bug nobody foresaw")

    monkeypatch.setattr(decoding, "_stream_mismatch", boom)
    decoded = decode(interaction_started())
    assert isinstance(decoded, DeadLetter) and decoded.error_code == "undecodable"
    assert decoded.reason.startswith("could not be decoded: KeyError")


def test_nan_and_infinity_are_not_json_even_in_fields_the_projector_ignores() -> None:
    # pydantic reads NaN into an unknown field and drops it: the event was applied
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        value = json.dumps(interaction_started()).encode()[:-1] + b', "score": ' + token + b"}"
        decoded = decode_raw(value)
        assert isinstance(decoded, DeadLetter) and decoded.error_code == "undecodable"
        assert "NaN and Infinity" in decoded.reason
    text = interaction_started()
    text["data"]["reason"] = "nan"  # the word in a string is no number
    assert isinstance(decode(text), DecodedEvent)
