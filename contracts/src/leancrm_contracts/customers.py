"""The customers service (section 4, stream = customer_id; key = customer_id).

``change_customer_details``: a field given as ``null`` counts as not given (v1 has no
way to clear a detail); at least one of name, email, phone, segment must be non-null.
``customer.details_changed`` holds ``customer_id`` plus the changed fields only: build it
with only those set (or from the command's full dump: its serialiser drops ``null``
details); the fields not changed are absent, never ``null``.

Personal data (section 2.8): ``CustomerRegistered`` and ``CustomerDetailsChanged`` are the
events as decided, with name, email and phone in clear: ``schema_version`` 1. What is
written and published is ``schema_version`` 2 (``CustomerRegisteredV2``,
``CustomerDetailsChangedV2``): those fields sealed into ``personal``
(``SealedPersonalData``). :func:`upcast` turns the data of any version a consumer meets
into the version 2 form; version 1's fields become ``personal = {"alg": "none", ...}``.
The key topic's value is ``CustomerKey``.
"""

from typing import Annotated, Any, ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    StrictBool,
    StringConstraints,
    model_serializer,
    model_validator,
)

from .base import CommandData, EventData, by_command_type, by_event_type
from .enums import Channel, Producer, Segment
from .fields import Email, Name, Phone
from .topics import CUSTOMERS_COMMANDS, CUSTOMERS_EVENTS, CUSTOMERS_KEYS

PRODUCER: Final = Producer.CUSTOMERS
COMMAND_TOPIC: Final = CUSTOMERS_COMMANDS
EVENT_TOPIC: Final = CUSTOMERS_EVENTS
KEY_TOPIC: Final = CUSTOMERS_KEYS

DETAIL_FIELDS: Final[tuple[str, ...]] = ("name", "email", "phone", "segment")


class _Registration(BaseModel):
    customer_id: UUID
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    segment: Segment


class _DetailsChange(BaseModel):
    customer_id: UUID
    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    segment: Segment | None = None


class _Consent(BaseModel):
    customer_id: UUID
    channel: Channel
    granted: StrictBool


class _Customer(BaseModel):
    customer_id: UUID


# -- commands -------------------------------------------------------------------------------


class RegisterCustomer(_Registration, CommandData):
    """``register_customer``: name 1–200 chars, email ≤ 254 (basic format), phone ≤ 32,
    segment 1–64 chars. customer_id must be new (``conflict``)."""

    command_type = "register_customer"


class ChangeCustomerDetails(_DetailsChange, CommandData):
    """``change_customer_details``: at least one of name, email, phone, segment."""

    command_type = "change_customer_details"

    @model_validator(mode="after")
    def _at_least_one_detail(self) -> Self:
        if all(getattr(self, f) is None for f in DETAIL_FIELDS):
            raise ValueError("at least one of name, email, phone, segment must be given")
        return self


class ChangeConsent(_Consent, CommandData):
    """``change_consent``: ``granted`` is a JSON boolean (``"yes"``, ``1`` are errors)."""

    command_type = "change_consent"


class ForgetCustomer(_Customer, CommandData):
    """``forget_customer``: afterwards PII is erased and detail changes are ``conflict``."""

    command_type = "forget_customer"


# -- events ---------------------------------------------------------------------------------


class CustomerRegistered(_Registration, EventData):
    """``customer.registered``: the command's fields (email/phone ``null`` when not given)."""

    event_type = "customer.registered"


class CustomerDetailsChanged(_DetailsChange, EventData):
    """``customer.details_changed``: customer_id and the changed fields only (see module).

    Built from a full ``ChangeCustomerDetails.model_dump()`` it still serialises without the
    ``null`` (not given) details."""

    event_type = "customer.details_changed"
    __exclude_unset__ = True

    @model_serializer(mode="wrap")
    def _changed_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if k not in DETAIL_FIELDS or v is not None}


class CustomerConsentChanged(_Consent, EventData):
    """``customer.consent_changed``: customer_id, channel, granted."""

    event_type = "customer.consent_changed"


class CustomerForgotten(_Customer, EventData):
    """``customer.forgotten``: customer_id."""

    event_type = "customer.forgotten"


#: each command and the event it causes when accepted (section 4's table), in its order
CAUSES: Final[tuple[tuple[type[CommandData], type[EventData]], ...]] = (
    (RegisterCustomer, CustomerRegistered),
    (ChangeCustomerDetails, CustomerDetailsChanged),
    (ChangeConsent, CustomerConsentChanged),
    (ForgetCustomer, CustomerForgotten),
)
COMMANDS: Final[dict[str, type[CommandData]]] = by_command_type(command for command, _ in CAUSES)
EVENTS: Final[dict[str, type[EventData]]] = by_event_type(event for _, event in CAUSES)
#: the event each command causes when accepted
EVENT_OF_COMMAND: Final[dict[str, str]] = {
    command.command_type: event.event_type for command, event in CAUSES
}


# -- personal data: sealed events (schema_version 2) and the key topic, section 2.8 ---------

#: the personal fields: sealed in version 2, erased on forget
PERSONAL_FIELDS: Final[tuple[str, ...]] = ("name", "email", "phone")
#: ``alg`` of sealed personal fields: AES-256-GCM
SEALED_ALG: Final = "A256GCM"
#: ``alg`` of personal fields that were never sealed (version 1, upcast): in memory only
CLEAR_ALG: Final = "none"
#: ``message_type`` of a key record, and of its tombstone
KEY_MESSAGE_TYPE: Final = "customer.key"
KEY_ERASED_MESSAGE_TYPE: Final = "customer.key_erased"

#: standard base64 with padding
_B64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: 12 bytes
Nonce = Annotated[str, StringConstraints(strict=True, min_length=16, max_length=16, pattern=_B64)]
#: AES-GCM output of a JSON object of three bounded fields (and the 16-byte tag)
Ciphertext = Annotated[str, StringConstraints(strict=True, min_length=24, max_length=4096, pattern=_B64)]
#: 12-byte nonce + 32-byte key + 16-byte tag = 60 bytes
WrappedKey = Annotated[str, StringConstraints(strict=True, min_length=80, max_length=80, pattern=_B64)]
KekId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{16}$")]


class SealedPersonalData(BaseModel):
    """``personal`` of a version 2 event: the personal fields it sets, as a UTF-8 JSON
    object sealed with AES-256-GCM under the customer's data key; associated data
    ``leancrm:personal:v2:<customer_id>:<event_type>`` (section 2.8)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alg: Literal["A256GCM"]
    nonce: Nonce
    ciphertext: Ciphertext


class CustomerRegisteredV2(EventData):
    """``customer.registered``, schema_version 2: customer_id, segment, and name, email
    and phone sealed in ``personal``."""

    event_type = "customer.registered"
    schema_version: ClassVar[int] = 2

    customer_id: UUID
    segment: Segment
    personal: SealedPersonalData


class CustomerDetailsChangedV2(EventData):
    """``customer.details_changed``, schema_version 2: customer_id and the changed fields
    only — segment in clear, the changed personal fields sealed in ``personal`` (absent
    when none of them changed); at least one of the two."""

    event_type = "customer.details_changed"
    schema_version: ClassVar[int] = 2
    __exclude_unset__ = True

    customer_id: UUID
    segment: Segment | None = None
    personal: SealedPersonalData | None = None

    @model_validator(mode="after")
    def _something_changed(self) -> Self:
        if self.segment is None and self.personal is None:
            raise ValueError("at least one of segment, personal must be given")
        return self

    @model_serializer(mode="wrap")
    def _changed_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if k == "customer_id" or v is not None}


class CustomerKey(BaseModel):
    """The value of a record on ``crm.customers.keys.v1`` (key = customer_id): the
    customer's 32-byte data key, as base64 of a 12-byte nonce and its AES-256-GCM
    encryption under the key-encryption key named by ``kek_id`` (associated data
    ``leancrm:customer-key:v1:<customer_id>``). A null value (tombstone) erases it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_id: UUID
    kek_id: KekId
    wrapped_key: WrappedKey


#: event_type → schema_version → the model of its data, for every version still read
VERSIONS: Final[dict[str, dict[int, type[EventData]]]] = {
    CustomerRegistered.event_type: {1: CustomerRegistered, 2: CustomerRegisteredV2},
    CustomerDetailsChanged.event_type: {1: CustomerDetailsChanged, 2: CustomerDetailsChangedV2},
    CustomerConsentChanged.event_type: {1: CustomerConsentChanged},
    CustomerForgotten.event_type: {1: CustomerForgotten},
}
#: the schema_version each event type is written with
SCHEMA_VERSION: Final[dict[str, int]] = {t: max(v) for t, v in VERSIONS.items()}
#: the event types whose data carries personal fields
PERSONAL_EVENT_TYPES: Final[frozenset[str]] = frozenset(
    (CustomerRegistered.event_type, CustomerDetailsChanged.event_type))


def personal_associated_data(customer_id: UUID | str, event_type: str) -> bytes:
    """The associated data of a sealed ``personal`` (section 2.8)."""
    return f"leancrm:personal:v2:{UUID(str(customer_id))}:{event_type}".encode()


def key_associated_data(customer_id: UUID | str) -> bytes:
    """The associated data of a wrapped data key (section 2.8)."""
    return f"leancrm:customer-key:v1:{UUID(str(customer_id))}".encode()


def upcast(event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """The validated JSON ``data`` of a customer event of any version read, in the form of
    the version written now (section 2.8, "Reading version 1"); pure.

    Version 1 of ``customer.registered`` / ``customer.details_changed`` carries the
    personal fields in clear: they move into ``personal = {"alg": "none", <fields>}``
    (all three for a registration, the changed ones for a change; no ``personal`` when
    none changed). Other types and current versions are returned unchanged."""
    if event_type not in PERSONAL_EVENT_TYPES or schema_version >= SCHEMA_VERSION[event_type]:
        return data
    personal = {f: data[f] for f in PERSONAL_FIELDS if f in data}
    if event_type == CustomerRegistered.event_type:
        personal = {f: data.get(f) for f in PERSONAL_FIELDS}
    upcast_data = {k: v for k, v in data.items() if k not in PERSONAL_FIELDS}
    if personal:
        upcast_data["personal"] = {"alg": CLEAR_ALG, **personal}
    return upcast_data
