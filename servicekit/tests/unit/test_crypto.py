"""Crypto-shredding's primitives (servicekit/crypto.py, contract section 2.8): sealing
opens only with the customer's key, for that customer and event type; wrapping opens
only with the KEK that wrapped it, for that customer; nothing leaks into errors."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from leancrm_contracts.customers import SealedPersonalData, personal_associated_data
from leancrm_servicekit.crypto import (
    CannotOpen,
    Kek,
    Keyring,
    generate_kek,
    new_data_key,
    open_personal,
    seal_personal,
)
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings, load_settings

CID = uuid.UUID("5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31")
FIELDS = {"name": "Zoë Ærenfeld-Ñúñez", "email": "zoe@example.com", "phone": None}


def test_sealed_personal_data_round_trips_and_is_the_contract_s_shape() -> None:
    key = new_data_key()
    sealed = seal_personal(key, CID, "customer.registered", FIELDS)
    SealedPersonalData.model_validate(sealed)  # what a consumer validates
    assert open_personal(key, CID, "customer.registered", sealed) == FIELDS
    text = json.dumps(sealed).encode()
    for value in ("Zoë", "Ærenfeld", "zoe@example.com"):
        assert value.encode() not in text and json.dumps(value).encode() not in text


def test_two_seals_of_the_same_fields_differ() -> None:
    key = new_data_key()
    one, two = (seal_personal(key, CID, "customer.registered", FIELDS) for _ in range(2))
    assert one["nonce"] != two["nonce"] and one["ciphertext"] != two["ciphertext"]


def test_the_wrong_key_or_no_key_does_not_open() -> None:
    sealed = seal_personal(new_data_key(), CID, "customer.registered", FIELDS)
    with pytest.raises(CannotOpen) as wrong:
        open_personal(new_data_key(), CID, "customer.registered", sealed)
    with pytest.raises(CannotOpen):
        open_personal(None, CID, "customer.registered", sealed)
    assert "Zo" not in str(wrong.value)


def test_a_seal_moved_to_another_customer_or_event_type_does_not_open() -> None:
    key = new_data_key()
    sealed = seal_personal(key, CID, "customer.registered", FIELDS)
    with pytest.raises(CannotOpen):
        open_personal(key, uuid.uuid4(), "customer.registered", sealed)
    with pytest.raises(CannotOpen):
        open_personal(key, CID, "customer.details_changed", sealed)


@pytest.mark.parametrize("part", ["nonce", "ciphertext"])
def test_a_tampered_seal_does_not_open(part: str) -> None:
    key = new_data_key()
    sealed = seal_personal(key, CID, "customer.registered", FIELDS)
    raw = bytearray(base64.b64decode(sealed[part]))
    raw[len(raw) // 2] ^= 0x01
    with pytest.raises(CannotOpen):
        open_personal(key, CID, "customer.registered", {**sealed, part: base64.b64encode(raw).decode()})
    with pytest.raises(CannotOpen):
        open_personal(key, CID, "customer.registered", {**sealed, part: "%%%not base64"})


def test_upcast_v1_fields_are_returned_as_they_are() -> None:
    assert open_personal(None, CID, "customer.registered", {"alg": "none", **FIELDS}) == FIELDS
    with pytest.raises(CannotOpen):
        open_personal(new_data_key(), CID, "customer.registered", {"alg": "rot13", "name": "x"})


def test_personal_associated_data_is_the_contract_s() -> None:
    assert personal_associated_data(CID, "customer.registered") == (
        b"leancrm:personal:v2:5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31:customer.registered")


def test_a_data_key_wraps_and_unwraps_for_its_customer_only() -> None:
    kek = Kek.from_base64(generate_kek())
    key = new_data_key()
    wrapped = kek.wrap(CID, key)
    assert len(base64.b64decode(wrapped)) == 60 and key not in base64.b64decode(wrapped)
    assert kek.unwrap(CID, wrapped) == key
    assert kek.unwrap(str(CID).upper(), wrapped) == key  # canonical id in the associated data
    with pytest.raises(CannotOpen):
        kek.unwrap(uuid.uuid4(), wrapped)
    with pytest.raises(CannotOpen):
        Kek.from_base64(generate_kek()).unwrap(CID, wrapped)
    tampered = bytearray(base64.b64decode(wrapped))
    tampered[-1] ^= 0x80
    with pytest.raises(CannotOpen):
        kek.unwrap(CID, base64.b64encode(tampered).decode())


def test_a_keyring_wraps_with_the_current_kek_and_unwraps_with_earlier_ones() -> None:
    old, new = Kek.from_base64(generate_kek()), Kek.from_base64(generate_kek())
    key = new_data_key()
    before = Keyring.of(old)
    kek_id, wrapped = before.wrap(CID, key)
    assert kek_id == old.id and len(kek_id) == 16
    rotated = Keyring.of(new, [old])
    assert rotated.unwrap(CID, kek_id, wrapped) == key
    assert rotated.wrap(CID, key)[0] == new.id
    with pytest.raises(CannotOpen, match="not configured"):
        Keyring.of(new).unwrap(CID, kek_id, wrapped)
    assert "key=" not in repr(old) and old.key.hex() not in repr(rotated)


@pytest.mark.parametrize(("value", "problem"), [
    ("not base64!", "is not base64"),
    (base64.b64encode(b"short").decode(), "must decode to 32 bytes"),
])
def test_a_bad_kek_is_refused_naming_the_variable_not_the_value(value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(ServiceSettings, {"LEANCRM_PERSONAL_DATA_KEK": value})
    assert "LEANCRM_PERSONAL_DATA_KEK" in str(refused.value) and problem in str(refused.value)
    assert value not in str(refused.value)


def test_the_kek_may_come_from_a_file_and_rotation_needs_a_current_kek(tmp_path: Path) -> None:
    kek = generate_kek()
    secret = tmp_path / "kek"
    secret.write_text(kek + "\n")
    settings = load_settings(ServiceSettings, {"LEANCRM_PERSONAL_DATA_KEK_FILE": str(secret)})
    keyring = settings.personal_data_keyring()
    assert keyring is not None and keyring.current.id == Kek.from_base64(kek).id
    assert load_settings(ServiceSettings, {}).personal_data_keyring() is None
    with pytest.raises(ConfigurationError, match="LEANCRM_PERSONAL_DATA_PREVIOUS_KEKS is set without"):
        load_settings(ServiceSettings, {"LEANCRM_PERSONAL_DATA_PREVIOUS_KEKS": generate_kek()})
