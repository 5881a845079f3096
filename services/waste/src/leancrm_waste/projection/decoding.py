"""Decoding consumed event records (contract 2.1 and 2.4), pure.

Not JSON → DLQ ``undecodable``; an envelope that fails validation → DLQ
``invalid_envelope``; an event type the projector does not handle → skipped (forward
compatible); a ``schema_version`` of a handled type newer than it reads → DLQ
``unsupported_version``; data that fails the model of its version → DLQ
``invalid_data``. Data of an older version is upcast to the current one
(``registry.upcast``: the customers events' version 1, contract section 2.8), here, for
the live projector and a rebuild alike. A record of the key topic is decoded by
:func:`decode_key`. Two faults that pass the models but would stop the projector for
good if written (section 2.4: a bad message never stops a consumer) are dead-lettered
too: a ``stream_id`` that is not the id of the aggregate the data names (section 2.1;
the projector keys interactions and agents by it) → ``invalid_envelope``; text
PostgreSQL cannot store (NUL) → ``invalid_data`` in ``data``, else ``invalid_envelope``.
A value beyond the bounds of section 2.5 (size, nesting) is ``undecodable``, a timestamp
beyond them ``invalid_envelope``; and whatever else decoding one record raises is that
record's dead letter, never its batch's failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import from_json

from leancrm_contracts.customers import CustomerKey
from leancrm_contracts.envelope import EventEnvelope
from leancrm_contracts.limits import MAX_MESSAGE_BYTES
from leancrm_contracts.registry import ALL_EVENTS, EVENT_VERSIONS, upcast
from leancrm_servicekit.inbound import (
    DeadLetter,
    InboundRecord,
    Unreadable,
    check_nesting,
    describe_validation_error,
    unforeseen,
    unstorable_text,
)

#: The highest schema_version of each event type this projector can read.
SUPPORTED_VERSION: dict[str, int] = {t: max(v) for t, v in EVENT_VERSIONS.items()}
#: What an event type's stream_id must equal (section 2.1: the aggregate's id), by the
#: part of its type before the dot; True where that id is a UUID.
STREAM_FIELD: dict[str, tuple[str, bool]] = {
    "customer": ("customer_id", True),
    "interaction": ("interaction_id", True),
    "agent": ("agent_id", False),
    "feedback": ("feedback_id", True),
    "improvement": ("improvement_id", True),
}
#: event_type → what it is about ("interaction", "agent", "feedback", "customer", "improvement")
KIND: dict[str, str] = {t: t.split(".", 1)[0] for t in ALL_EVENTS}


@dataclass(frozen=True, slots=True)
class Skipped:
    record: InboundRecord
    event_type: str


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    record: InboundRecord
    envelope: EventEnvelope
    data: dict[str, Any]  # the validated data, as JSON, upcast to the current version
    kind: str  # KIND of its event_type


@dataclass(frozen=True, slots=True)
class KeyUpdate:
    """A record of the key topic: a customer's wrapped key, or its erasure (tombstone)."""

    record: InboundRecord
    customer_id: UUID
    key: CustomerKey | None  # None: erased


def decode_key(record: InboundRecord) -> KeyUpdate | DeadLetter:
    """The verdict on one record of the key topic (contract section 2.8); never raises.
    A null (or empty) value is a tombstone; the record's key names the customer."""
    try:
        try:
            customer_id = UUID((record.key or b"").decode())
        except ValueError:
            return DeadLetter(record, "invalid_envelope", "the key of a key record is not a customer_id")
        if not record.value:
            return KeyUpdate(record, customer_id, None)
        if len(record.value) > MAX_MESSAGE_BYTES:
            return DeadLetter(record, "undecodable", "the value is larger than a message may be")
        try:
            key = CustomerKey.model_validate_json(record.value)
        except ValidationError as exc:
            if any(err["type"] == "json_invalid" for err in exc.errors()):
                return DeadLetter(record, "undecodable", f"not UTF-8 JSON: {exc.errors()[0]['msg']}")
            return DeadLetter(record, "invalid_data", describe_validation_error(exc))
        if key.customer_id != customer_id:
            return DeadLetter(record, "invalid_data", "customer_id is not the record's key")
        return KeyUpdate(record, customer_id, key)
    except Exception as exc:  # whatever one record does, it is that record's verdict
        return unforeseen(record, exc)


def decode_event(record: InboundRecord) -> DecodedEvent | Skipped | DeadLetter:
    """The verdict on one consumed event record; never raises."""
    try:
        return _decode_event(record)
    except Exception as exc:  # whatever one record does, it is that record's verdict
        return unforeseen(record, exc)


def _decode_event(record: InboundRecord) -> DecodedEvent | Skipped | DeadLetter:
    if len(record.value) > MAX_MESSAGE_BYTES:
        return DeadLetter(record, "undecodable",
                          f"the value has {len(record.value):,} bytes, more than the "
                          f"{MAX_MESSAGE_BYTES:,} a message may have (section 2.5)")
    if (b"NaN" in record.value or b"Infinity" in record.value) and _not_strict_json(record.value):
        return DeadLetter(record, "undecodable",
                          "not UTF-8 JSON: NaN and Infinity are not JSON numbers (section 2.5)")
    try:
        envelope = EventEnvelope.model_validate_json(record.value)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return DeadLetter(record, "undecodable", f"not UTF-8 JSON: {exc.errors()[0]['msg']}")
        return DeadLetter(record, "invalid_envelope", describe_validation_error(exc))
    try:
        check_nesting(record.value, envelope.data, depth=2)  # data is inside the envelope
    except Unreadable as exc:
        return DeadLetter(record, "undecodable", str(exc))
    versions = EVENT_VERSIONS.get(envelope.event_type)
    if versions is None:
        return Skipped(record, envelope.event_type)
    model = versions.get(envelope.schema_version)
    if model is None:
        return DeadLetter(
            record,
            "unsupported_version",
            f"schema_version {envelope.schema_version} of {envelope.event_type} is not one this "
            f"projector reads (1 to {SUPPORTED_VERSION[envelope.event_type]})",
        )
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        return DeadLetter(record, "invalid_data", describe_validation_error(exc, "data"))
    unstorable = unstorable_text(record.value)
    if unstorable is not None:
        path, problem = unstorable
        code = "invalid_data" if path.startswith("data.") else "invalid_envelope"
        return DeadLetter(record, code, f"{path}: {problem}")
    dumped = upcast(envelope.event_type, envelope.schema_version,
                    data.model_dump(mode="json", exclude_unset=True))
    kind = KIND[envelope.event_type]
    mismatch = _stream_mismatch(envelope, kind, dumped)
    if mismatch is not None:
        return DeadLetter(record, "invalid_envelope", mismatch)
    return DecodedEvent(record, envelope, dumped, kind)


def _not_strict_json(value: bytes) -> bool:
    """Whether ``value`` holds NaN or Infinity as a number (pydantic reads them, into
    fields it would otherwise drop unseen); a rare, slower look for values that name them."""
    try:
        from_json(value, allow_inf_nan=False)
    except ValueError:
        try:
            from_json(value)
        except ValueError:
            return False  # not JSON for other reasons, which validation names
        return True
    return False


def _stream_mismatch(envelope: EventEnvelope, kind: str, data: dict[str, Any]) -> str | None:
    """Why stream_id is not the aggregate's id of the data, or None."""
    field, is_uuid = STREAM_FIELD.get(kind, (None, False))
    if field is None:
        return None
    expected = data.get(field)
    if envelope.stream_id == expected:  # the usual case: canonical text on both sides
        return None
    if is_uuid and expected is not None:
        try:
            if UUID(envelope.stream_id) == UUID(str(expected)):
                return None
        except ValueError:
            pass
    return (f"stream_id: {envelope.stream_id[:64]!r} is not the {field} of this "
            f"{envelope.event_type} event ({expected!r}); section 2.1: stream_id is the aggregate")
