"""Section 2: timestamps, envelopes, command results, header names."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from leancrm_contracts import envelope as env
from leancrm_contracts.enums import ErrorCode, Producer, ResultStatus
from leancrm_contracts.envelope import (
    CommandEnvelope,
    CommandError,
    CommandResult,
    EventEnvelope,
    Timestamp,
    format_timestamp,
)

TS: TypeAdapter[datetime] = TypeAdapter(Timestamp)
EVENT_ID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
CUSTOMER_ID = "5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31"


def locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[int | str, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


# -- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2026, 11, 23, 9, 15, 2, 120000, tzinfo=UTC), "2026-11-23T09:15:02.120Z"),
        (datetime(2026, 11, 23, 9, 15, 2, tzinfo=UTC), "2026-11-23T09:15:02.000Z"),
        (datetime(2026, 11, 23, 9, 15, 2, 120001, tzinfo=UTC), "2026-11-23T09:15:02.120001Z"),
        (datetime(2026, 11, 23, 9, 15, 2, 5, tzinfo=UTC), "2026-11-23T09:15:02.000005Z"),
        (
            datetime(2026, 11, 23, 10, 15, 2, 120000, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-23T09:15:02.120Z",
        ),
        (
            datetime(2026, 11, 22, 23, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2026-11-23T04:00:00.000Z",
        ),
    ],
)
def test_timestamps_serialise_as_utc_rfc3339_with_z(value: datetime, text: str) -> None:
    assert format_timestamp(value) == text
    assert TS.dump_json(value).decode() == f'"{text}"'
    assert TS.validate_json(f'"{text}"') == value


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T09:15:02.120Z",
        "2026-11-23T09:15:02Z",
        "2026-11-23T10:15:02.120+01:00",
        "2026-11-23t09:15:02.120z",
        "2026-11-23 09:15:02.120Z",
        "2026-11-23T09:15:02.123456789Z",
    ],
)
def test_timestamps_accept_rfc3339_with_an_offset(text: str) -> None:
    parsed = TS.validate_python(text)
    assert parsed.utcoffset() is not None
    assert TS.validate_json(json.dumps(text)) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-23T09:15:02.120",  # naive
        datetime(2026, 11, 23, 9, 15, 2),  # naive
        "2026-11-23",
        "2026-11-23T09:15Z",
        "23/11/2026 09:15",
        "2026-13-23T09:15:02Z",
        "2026-11-23T09:15:02+0100",
        "",
        1763889302,
        1763889302.12,
        True,
        None,
    ],
)
def test_timestamps_reject_naive_and_malformed(value: object) -> None:
    with pytest.raises(ValidationError):
        TS.validate_python(value)
    if not isinstance(value, datetime):
        with pytest.raises(ValidationError):
            TS.validate_json(json.dumps(value))


def test_format_timestamp_refuses_naive() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_timestamp(datetime(2026, 1, 1))


# -- event envelope -------------------------------------------------------------------------


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": EVENT_ID,
        "event_type": "interaction.started",
        "schema_version": 1,
        "occurred_at": "2026-11-23T09:15:02.120Z",
        "recorded_at": "2026-11-23T09:15:02.245Z",
        "producer": "interactions",
        "stream_id": "9e2f4b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "stream_version": 3,
        "customer_id": CUSTOMER_ID,
        "correlation_id": "corr-1",
        "causation_id": "cmd-1",
        "data": {"anything": [1, 2]},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_event_envelope_round_trips() -> None:
    raw = event()
    parsed = EventEnvelope.model_validate_json(json.dumps(raw))
    assert parsed.producer is Producer.INTERACTIONS
    assert json.loads(parsed.model_dump_json()) == raw
    assert EventEnvelope.model_validate(raw) == parsed


def test_event_envelope_ignores_unknown_fields() -> None:
    parsed = EventEnvelope.model_validate(event(tenant="acme", trace={"id": 1}))
    assert "tenant" not in parsed.model_dump()


def test_event_envelope_optional_ids() -> None:
    parsed = EventEnvelope.model_validate(
        event(customer_id=None, correlation_id=..., causation_id=...)
    )
    assert parsed.customer_id is None
    assert parsed.correlation_id is None and parsed.causation_id is None
    dumped = json.loads(parsed.model_dump_json())
    assert dumped["customer_id"] is None and dumped["causation_id"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "not-a-uuid"),
        ("event_id", 12),
        ("event_type", ""),
        ("schema_version", 0),
        ("schema_version", "1"),
        ("schema_version", 1.0),
        ("schema_version", True),
        ("occurred_at", "2026-11-23T09:15:02"),
        ("recorded_at", "yesterday"),
        ("producer", "waste"),
        ("stream_id", ""),
        ("stream_version", 0),
        ("stream_version", "3"),
        ("customer_id", "5b0c3a52"),
        ("correlation_id", 7),
        ("causation_id", "c" * 129),
        ("data", "{}"),
        ("data", [1]),
        ("customer_id", ...),
        ("data", ...),
        ("event_id", ...),
    ],
)
def test_event_envelope_rejects(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        EventEnvelope.model_validate(event(**{field: value}))
    assert all(loc[0] == field for loc in locs(exc))
    with pytest.raises(ValidationError):
        EventEnvelope.model_validate_json(json.dumps(event(**{field: value})))


# -- command envelope -----------------------------------------------------------------------


def command(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "command_id": "cmd-1",
        "command_type": "start_interaction",
        "occurred_at": "2026-11-23T09:15:02.120Z",
        "correlation_id": None,
        "data": {"interaction_id": "x"},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def test_command_envelope_round_trips_and_ignores_unknown_fields() -> None:
    parsed = CommandEnvelope.model_validate(command(source_system="erp"))
    assert json.loads(parsed.model_dump_json()) == command()
    assert CommandEnvelope.model_validate(command(correlation_id=...)).correlation_id is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("command_id", ""),
        ("command_id", "c" * 129),
        ("command_id", 42),
        ("command_id", ...),
        ("command_type", ""),
        ("command_type", None),
        ("occurred_at", "2026-11-23T09:15:02.120"),
        ("occurred_at", 1763889302),
        ("correlation_id", 1),
        ("data", None),
        ("data", ...),
    ],
)
def test_command_envelope_rejects(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        CommandEnvelope.model_validate(command(**{field: value}))
    assert all(loc[0] == field for loc in locs(exc))


def test_command_id_of_128_characters_is_fine() -> None:
    assert CommandEnvelope.model_validate(command(command_id="c" * 128)).command_id == "c" * 128


# -- command result -------------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 15, 3, 1000, tzinfo=UTC)


def test_command_result_json_shape() -> None:
    result = CommandResult(
        command_id="cmd-1",
        command_type="start_interaction",
        status=ResultStatus.ACCEPTED,
        event_ids=[EVENT_ID],  # type: ignore[list-item]
        processed_at=NOW,
    )
    assert json.loads(result.model_dump_json()) == {
        "command_id": "cmd-1",
        "command_type": "start_interaction",
        "status": "accepted",
        "event_ids": [EVENT_ID],
        "error": None,
        "processed_at": "2026-11-23T09:15:03.001Z",
    }
    assert CommandResult.model_validate_json(result.model_dump_json()) == result


def test_rejected_result_carries_an_error() -> None:
    result = CommandResult.model_validate(
        {
            "command_id": "cmd-1",
            "command_type": "",
            "status": "rejected",
            "event_ids": [],
            "error": {"code": "invalid", "message": "data.channel: bad"},
            "processed_at": "2026-11-23T09:15:03.001Z",
            "future_field": 1,
        }
    )
    assert result.error == CommandError(code=ErrorCode.INVALID, message="data.channel: bad")
    assert json.loads(result.model_dump_json())["error"] == {
        "code": "invalid",
        "message": "data.channel: bad",
    }


@pytest.mark.parametrize(
    ("status", "error", "event_ids"),
    [
        ("rejected", None, []),
        ("rejected", {"code": "conflict", "message": "x"}, [EVENT_ID]),
        ("accepted", {"code": "conflict", "message": "x"}, []),
        ("duplicate", {"code": "conflict", "message": "x"}, []),
    ],
)
def test_result_status_and_error_agree(
    status: str, error: dict[str, str] | None, event_ids: list[str]
) -> None:
    with pytest.raises(ValidationError):
        CommandResult.model_validate(
            {
                "command_id": "cmd-1",
                "command_type": "x",
                "status": status,
                "event_ids": event_ids,
                "error": error,
                "processed_at": "2026-11-23T09:15:03.001Z",
            }
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "ok"),
        ("error", {"code": "boom", "message": "x"}),
        ("event_ids", ["nope"]),
        ("processed_at", "2026-11-23T09:15:03"),
        ("command_id", ""),
    ],
)
def test_command_result_rejects(field: str, value: object) -> None:
    raw: dict[str, Any] = {
        "command_id": "cmd-1",
        "command_type": "x",
        "status": "rejected",
        "event_ids": [],
        "error": {"code": "invalid", "message": "x"},
        "processed_at": "2026-11-23T09:15:03.001Z",
        field: value,
    }
    with pytest.raises(ValidationError) as exc:
        CommandResult.model_validate(raw)
    assert locs(exc)[0][0] == field


# -- header names ---------------------------------------------------------------------------


def test_header_names_are_the_contracts() -> None:
    assert env.HEADER_CONTENT_TYPE == "content-type"
    assert env.HEADER_MESSAGE_TYPE == "message_type"
    assert env.CONTENT_TYPE_JSON == "application/json"
    assert env.DLQ_REASON == "dlq_reason"
    assert env.DLQ_ERROR_CODE == "dlq_error_code"
    assert env.DLQ_SOURCE_TOPIC == "dlq_source_topic"
    assert env.DLQ_SOURCE_PARTITION == "dlq_source_partition"
    assert env.DLQ_SOURCE_OFFSET == "dlq_source_offset"
    assert env.DLQ_CONSUMER == "dlq_consumer"
    assert env.DLQ_AT == "dlq_at"
    assert env.DLQ_HEADERS == (
        "dlq_reason",
        "dlq_error_code",
        "dlq_source_topic",
        "dlq_source_partition",
        "dlq_source_offset",
        "dlq_consumer",
        "dlq_at",
    )
