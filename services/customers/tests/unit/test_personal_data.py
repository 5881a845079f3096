"""Sealing the customers service's events (contract section 2.8), pure: what the event
store and the topic get instead of the events as decided."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from leancrm_contracts import customers as c
from leancrm_customers.personal_data import CustomerSealing, seal_event
from leancrm_servicekit.crypto import Kek, Keyring, generate_kek, new_data_key, open_personal
from leancrm_servicekit.eventstore import StoredEvent

CID = uuid.UUID("5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31")
NOW = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)


def event(event_type: str, data: dict[str, Any]) -> StoredEvent:
    return StoredEvent(uuid.uuid4(), str(CID), 1, event_type, 1, NOW, NOW, CID, None, "cmd-1",
                       str(CID), {"customer_id": str(CID), **data})


def test_a_registration_is_sealed_into_a_valid_version_2_event() -> None:
    key = new_data_key()
    clear = {"name": "Ada", "email": None, "phone": "+44 1", "segment": "retail"}
    sealed = seal_event(event("customer.registered", clear), key)
    assert sealed.schema_version == 2
    c.CustomerRegisteredV2.model_validate(sealed.data)
    assert set(sealed.data) == {"customer_id", "segment", "personal"}
    assert b"Ada" not in json.dumps(sealed.data).encode()
    assert open_personal(key, CID, "customer.registered", sealed.data["personal"]) == {
        "name": "Ada", "email": None, "phone": "+44 1"}


def test_a_change_seals_only_the_changed_personal_fields() -> None:
    key = new_data_key()
    sealed = seal_event(event("customer.details_changed", {"email": "a@b.co"}), key)
    c.CustomerDetailsChangedV2.model_validate(sealed.data)
    assert open_personal(key, CID, "customer.details_changed", sealed.data["personal"]) == {"email": "a@b.co"}
    segment_only = seal_event(event("customer.details_changed", {"segment": "vip"}), key)
    assert segment_only.data == {"customer_id": str(CID), "segment": "vip"}
    assert segment_only.schema_version == 2


def test_a_sealing_creates_a_key_on_registration_and_erases_it_on_forget() -> None:
    sealing = CustomerSealing(Keyring.of(Kek.from_base64(generate_kek())), {})
    sealing.seal(event("customer.registered", {"name": "Ada", "email": None, "phone": None,
                                               "segment": "retail"}))
    assert set(sealing.created) == {CID}
    consent = event("customer.consent_changed", {"channel": "sms", "granted": True})
    assert sealing.seal(consent) == consent  # nothing personal: as it was
    forgotten = event("customer.forgotten", {})
    assert sealing.seal(forgotten) == forgotten
    assert sealing.created == {} and sealing.erased == {CID} and CID not in sealing.keys


def test_a_customer_registered_before_version_2_gets_a_key_on_its_next_change() -> None:
    sealing = CustomerSealing(Keyring.of(Kek.from_base64(generate_kek())), {})
    sealed = sealing.seal(event("customer.details_changed", {"name": "Bea"}))
    assert open_personal(sealing.created[CID], CID, "customer.details_changed",
                         sealed.data["personal"]) == {"name": "Bea"}
