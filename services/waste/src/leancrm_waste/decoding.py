"""Decoding consumed event records (contract 2.1 and 2.4), pure.

Not JSON → DLQ ``undecodable``; an envelope that fails validation → DLQ
``invalid_envelope``; an event type the projector does not handle → skipped (forward
compatible); a newer ``schema_version`` of a handled type → DLQ
``unsupported_version`` (no upcaster exists yet); data that fails its model → DLQ
``invalid_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from leancrm_contracts.envelope import EventEnvelope
from leancrm_contracts.registry import ALL_EVENTS
from leancrm_servicekit.inbound import DeadLetter, InboundRecord, describe_validation_error

#: The highest schema_version of each event type this projector can read.
SUPPORTED_VERSION = 1


@dataclass(frozen=True, slots=True)
class Skipped:
    record: InboundRecord
    event_type: str


@dataclass(frozen=True, slots=True)
class DecodedEvent:
    record: InboundRecord
    envelope: EventEnvelope
    data: dict[str, Any]  # the validated data, as JSON


def decode_event(record: InboundRecord) -> DecodedEvent | Skipped | DeadLetter:
    try:
        envelope = EventEnvelope.model_validate_json(record.value)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return DeadLetter(record, "undecodable", f"not UTF-8 JSON: {exc.errors()[0]['msg']}")
        return DeadLetter(record, "invalid_envelope", describe_validation_error(exc))
    model = ALL_EVENTS.get(envelope.event_type)
    if model is None:
        return Skipped(record, envelope.event_type)
    if envelope.schema_version > SUPPORTED_VERSION:
        return DeadLetter(
            record,
            "unsupported_version",
            f"schema_version {envelope.schema_version} of {envelope.event_type} is newer than "
            f"{SUPPORTED_VERSION}, the newest this projector reads",
        )
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        return DeadLetter(record, "invalid_data", describe_validation_error(exc, "data"))
    return DecodedEvent(record, envelope, data.model_dump(mode="json", exclude_unset=True))
