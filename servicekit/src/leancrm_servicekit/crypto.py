"""Crypto-shredding (contract section 2.8): personal fields sealed with a key per customer,
data keys wrapped with a key-encryption key (KEK). AES-256-GCM from ``cryptography``
throughout; pure functions and small value objects, no I/O.

* :func:`new_data_key` — a customer's 32 random bytes. Deleting every copy erases the
  customer: what was sealed with it cannot be opened again.
* :func:`seal_personal` / :func:`open_personal` — the ``personal`` object of a version 2
  customer event: a JSON object of the personal fields, sealed under the data key with
  the associated data ``leancrm:personal:v2:<customer_id>:<event_type>``.
* :class:`Kek` / :class:`Keyring` — the KEK (from the service's secrets) wraps and
  unwraps data keys for the key store and the key topic, bound to the customer by the
  associated data ``leancrm:customer-key:v1:<customer_id>``. A keyring is the current
  KEK (wraps) and earlier ones still accepted (unwrap only), for rotation.

Nothing here logs, and no error message carries a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leancrm_contracts.customers import (
    CLEAR_ALG,
    PERSONAL_FIELDS,
    SEALED_ALG,
    key_associated_data,
    personal_associated_data,
)

KEY_BYTES = 32
NONCE_BYTES = 12


class CannotOpen(Exception):
    """A sealed value or wrapped key does not open: no key, the wrong key, or tampered.
    The message never holds key material or plaintext."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CannotOpen("not base64") from exc


def new_data_key() -> bytes:
    """A fresh data key for one customer (256 random bits)."""
    return AESGCM.generate_key(bit_length=256)


def generate_kek() -> str:
    """A fresh key-encryption key, as the base64 text LEANCRM_PERSONAL_DATA_KEK takes."""
    return _b64(os.urandom(KEY_BYTES))


def kek_id_of(key: bytes) -> str:
    """The KEK's id: the first 16 hex digits of its SHA-256 (names it, reveals nothing)."""
    return hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True)
class Kek:
    """One key-encryption key."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a key-encryption key has {KEY_BYTES} bytes, not {len(self.key)}")

    @classmethod
    def from_base64(cls, text: str) -> Kek:
        """From base64 text (standard or URL-safe alphabet); ``ValueError`` saying what is
        wrong, never echoing the text."""
        cleaned = text.strip()
        try:
            raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/").encode("ascii"),
                                   validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("is not base64 text (make one with: python -c 'import os, base64; "
                             "print(base64.b64encode(os.urandom(32)).decode())')") from None
        if len(raw) != KEY_BYTES:
            raise ValueError(f"must decode to {KEY_BYTES} bytes (256 bits), not {len(raw)}")
        return cls(raw)

    @property
    def id(self) -> str:
        return kek_id_of(self.key)

    def wrap(self, customer_id: UUID | str, data_key: bytes) -> str:
        """``data_key`` encrypted for ``customer_id``: base64 of nonce + AES-GCM output."""
        nonce = os.urandom(NONCE_BYTES)
        return _b64(nonce + AESGCM(self.key).encrypt(nonce, data_key, key_associated_data(customer_id)))

    def unwrap(self, customer_id: UUID | str, wrapped: str) -> bytes:
        raw = _unb64(wrapped)
        try:
            key = AESGCM(self.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                           key_associated_data(customer_id))
        except (InvalidTag, ValueError) as exc:
            raise CannotOpen("the wrapped key does not open with this key-encryption key "
                             "for this customer") from exc
        if len(key) != KEY_BYTES:
            raise CannotOpen("the wrapped key is not a data key")
        return key


@dataclass(frozen=True)
class Keyring:
    """The current KEK, which wraps, and earlier ones that still unwrap (rotation)."""

    current: Kek
    previous: tuple[Kek, ...] = ()

    @classmethod
    def of(cls, current: Kek, previous: Iterable[Kek] = ()) -> Keyring:
        return cls(current, tuple(k for k in previous if k.id != current.id))

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.current.id, *(k.id for k in self.previous))

    def wrap(self, customer_id: UUID | str, data_key: bytes) -> tuple[str, str]:
        """(kek_id, wrapped key) under the current KEK."""
        return self.current.id, self.current.wrap(customer_id, data_key)

    def unwrap(self, customer_id: UUID | str, kek_id: str, wrapped: str) -> bytes:
        for kek in (self.current, *self.previous):
            if kek.id == kek_id:
                return kek.unwrap(customer_id, wrapped)
        raise CannotOpen(f"the key-encryption key {kek_id} is not configured here")


def seal_personal(data_key: bytes, customer_id: UUID | str, event_type: str,
                  fields: Mapping[str, Any]) -> dict[str, str]:
    """The ``personal`` object of a version 2 event: ``fields`` sealed under the data key."""
    plaintext = json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":")).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, plaintext, personal_associated_data(customer_id, event_type))
    return {"alg": SEALED_ALG, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}


def open_personal(data_key: bytes | None, customer_id: UUID | str, event_type: str,
                  personal: Mapping[str, Any]) -> dict[str, Any]:
    """The personal fields of an upcast ``personal`` object: those of version 1
    (``alg: none``) as they are, a sealed one opened with ``data_key``. ``CannotOpen``
    when there is no key, it is the wrong one or the value was tampered with."""
    alg = personal.get("alg")
    if alg == CLEAR_ALG:
        return {f: personal[f] for f in PERSONAL_FIELDS if f in personal}
    if alg != SEALED_ALG:
        raise CannotOpen(f"unknown alg {str(alg)[:20]!r}")
    if data_key is None:
        raise CannotOpen("no data key")
    try:
        plaintext = AESGCM(data_key).decrypt(
            _unb64(str(personal["nonce"])), _unb64(str(personal["ciphertext"])),
            personal_associated_data(customer_id, event_type))
        opened = json.loads(plaintext)
    except (InvalidTag, ValueError, KeyError) as exc:
        raise CannotOpen("the sealed personal data does not open with this customer's key") from exc
    if not isinstance(opened, dict):
        raise CannotOpen("the sealed personal data is not an object")
    return {f: opened[f] for f in PERSONAL_FIELDS if f in opened}
