"""Decoding the customers' personal events and key records (contract section 2.8), pure:
version 1 and 2 both decode to the version 2 form, the key topic's records to a key or
its erasure, and anything else to a dead letter."""

from __future__ import annotations

import json
import uuid
from typing import Any

from leancrm_contracts.examples import EVENT_EXAMPLES_BY_VERSION, KEY_EXAMPLE
from leancrm_servicekit.inbound import DeadLetter, InboundRecord
from leancrm_waste.projection.decoding import DecodedEvent, KeyUpdate, decode_event, decode_key

CID = str(uuid.uuid4())
SEALED = EVENT_EXAMPLES_BY_VERSION["customer.registered"][2]["personal"]


def registered(version: int, data: dict[str, Any]) -> InboundRecord:
    env = {"event_id": str(uuid.uuid4()), "event_type": "customer.registered", "schema_version": version,
           "occurred_at": "2026-11-23T09:00:00.000Z", "recorded_at": "2026-11-23T09:00:00.100Z",
           "producer": "customers", "stream_id": CID, "stream_version": 1, "customer_id": CID,
           "correlation_id": None, "causation_id": "c-1", "data": {"customer_id": CID, **data}}
    return InboundRecord("crm.customers.events.v1", 0, 1, CID.encode(), json.dumps(env).encode())


def test_version_1_and_2_decode_to_the_version_2_form() -> None:
    v1 = decode_event(registered(1, {"name": "Ada", "email": None, "phone": None, "segment": "smb"}))
    v2 = decode_event(registered(2, {"segment": "smb", "personal": SEALED}))
    assert isinstance(v1, DecodedEvent) and isinstance(v2, DecodedEvent)
    assert v1.data == {"customer_id": CID, "segment": "smb",
                       "personal": {"alg": "none", "name": "Ada", "email": None, "phone": None}}
    assert v2.data == {"customer_id": CID, "segment": "smb", "personal": SEALED}


def test_a_v2_event_with_clear_fields_or_alg_none_is_invalid_data() -> None:
    clear = decode_event(registered(2, {"segment": "smb", "personal": {"alg": "none", "name": "Ada"}}))
    assert isinstance(clear, DeadLetter) and clear.error_code == "invalid_data"
    missing = decode_event(registered(2, {"segment": "smb", "name": "Ada"}))
    assert isinstance(missing, DeadLetter) and missing.error_code == "invalid_data"


def test_a_version_beyond_the_newest_is_unsupported() -> None:
    later = decode_event(registered(3, {"segment": "smb", "personal": SEALED}))
    assert isinstance(later, DeadLetter) and later.error_code == "unsupported_version"


def key_record(key: bytes | None, value: bytes) -> InboundRecord:
    return InboundRecord("crm.customers.keys.v1", 0, 1, key, value)


def test_key_records_decode_to_a_key_or_its_erasure() -> None:
    cid = KEY_EXAMPLE["customer_id"]
    update = decode_key(key_record(cid.encode(), json.dumps(KEY_EXAMPLE).encode()))
    assert isinstance(update, KeyUpdate) and update.key is not None
    assert update.key.wrapped_key == KEY_EXAMPLE["wrapped_key"] and str(update.customer_id) == cid
    erased = decode_key(key_record(cid.encode(), b""))  # a tombstone arrives as b""
    assert isinstance(erased, KeyUpdate) and erased.key is None


def test_bad_key_records_are_dead_letters() -> None:
    cid = KEY_EXAMPLE["customer_id"]
    verdicts = {
        "not a customer": decode_key(key_record(b"nobody", b"")),
        "no key": decode_key(key_record(None, json.dumps(KEY_EXAMPLE).encode())),
        "another customer": decode_key(key_record(str(uuid.uuid4()).encode(),
                                                  json.dumps(KEY_EXAMPLE).encode())),
        "not json": decode_key(key_record(cid.encode(), b"\xff{")),
        "short key": decode_key(key_record(cid.encode(), json.dumps(
            {**KEY_EXAMPLE, "wrapped_key": "AAAA"}).encode())),
    }
    assert {k: v.error_code for k, v in verdicts.items() if isinstance(v, DeadLetter)} == {
        "not a customer": "invalid_envelope", "no key": "invalid_envelope",
        "another customer": "invalid_data", "not json": "undecodable", "short key": "invalid_data"}
