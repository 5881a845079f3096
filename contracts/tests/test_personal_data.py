"""Section 2.8 as code: the version 2 models of the personal events and the upcaster
that every consumer reads version 1 through."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from leancrm_contracts import customers as c
from leancrm_contracts import registry
from leancrm_contracts.examples import EVENT_EXAMPLES, EVENT_EXAMPLES_BY_VERSION

CID = "5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31"
SEALED = EVENT_EXAMPLES_BY_VERSION["customer.registered"][2]["personal"]


def test_a_v1_registration_upcasts_to_v2_with_its_fields_in_clear() -> None:
    v1 = c.CustomerRegistered.model_validate(
        {"customer_id": CID, "name": "Ada", "email": None, "phone": "+44 1", "segment": "smb"})
    upcast = c.upcast("customer.registered", 1, v1.model_dump(mode="json"))
    assert upcast == {"customer_id": CID, "segment": "smb",
                      "personal": {"alg": "none", "name": "Ada", "email": None, "phone": "+44 1"}}


def test_a_v1_change_upcasts_to_the_changed_fields_only() -> None:
    change = c.CustomerDetailsChanged(customer_id=CID, email="a@b.co")  # type: ignore[arg-type]
    upcast = c.upcast("customer.details_changed", 1, c.CustomerDetailsChanged.model_dump(change, mode="json"))
    assert upcast == {"customer_id": CID, "personal": {"alg": "none", "email": "a@b.co"}}
    segment_only = c.upcast("customer.details_changed", 1, {"customer_id": CID, "segment": "x"})
    assert segment_only == {"customer_id": CID, "segment": "x"}


@pytest.mark.parametrize("event_type", ["customer.registered", "customer.details_changed"])
def test_v2_data_passes_unchanged(event_type: str) -> None:
    data = EVENT_EXAMPLES_BY_VERSION[event_type][2]
    model = registry.EVENT_VERSIONS[event_type][2]
    assert c.upcast(event_type, 2, model.model_validate(data).model_dump(mode="json")) == data


def test_other_types_pass_unchanged_through_the_registry() -> None:
    for event_type, data in EVENT_EXAMPLES.items():
        if event_type not in c.PERSONAL_EVENT_TYPES:
            assert registry.upcast(event_type, 1, dict(data)) == data


@pytest.mark.parametrize("data", [
    {"customer_id": CID, "segment": "smb", "personal": {**SEALED, "alg": "none"}},
    {"customer_id": CID, "segment": "smb", "personal": {**SEALED, "nonce": "short"}},
    {"customer_id": CID, "segment": "smb", "personal": {**SEALED, "ciphertext": "not base64!"}},
    {"customer_id": CID, "segment": "smb", "name": "Ada", "personal": {**SEALED, "extra": 1}},
    {"customer_id": CID, "segment": "smb"},
])
def test_v2_registrations_need_a_sealed_personal(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        c.CustomerRegisteredV2.model_validate(data)


def test_a_v2_change_names_something_and_serialises_what_changed() -> None:
    with pytest.raises(ValidationError):
        c.CustomerDetailsChangedV2.model_validate({"customer_id": CID})
    change = c.CustomerDetailsChangedV2.model_validate({"customer_id": CID, "segment": "smb"})
    assert change.model_dump(mode="json") == {"customer_id": CID, "segment": "smb"}


def test_a_v2_registration_drops_clear_personal_fields_it_is_given() -> None:
    """Event data ignores unknown fields: a name sent beside ``personal`` is not kept."""
    model = c.CustomerRegisteredV2.model_validate(
        {"customer_id": CID, "segment": "smb", "personal": SEALED, "name": "Ada"})
    assert "Ada" not in model.model_dump_json()


def test_associated_data_is_canonical() -> None:
    upper = CID.upper().replace("-", "")
    assert c.personal_associated_data(upper, "customer.registered") == (
        f"leancrm:personal:v2:{CID}:customer.registered".encode())
    assert c.key_associated_data(upper) == f"leancrm:customer-key:v1:{CID}".encode()
