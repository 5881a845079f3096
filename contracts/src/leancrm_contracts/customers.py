"""The customers service (section 4, stream = customer_id; key = customer_id).

``change_customer_details``: a field given as ``null`` counts as not given (v1 has no
way to clear a detail); at least one of name, email, phone, segment must be non-null.
``customer.details_changed`` holds ``customer_id`` plus the changed fields only: build it
with only those set (or from the command's full dump: its serialiser drops ``null``
details); the fields not changed are absent, never ``null``.
"""

from typing import Any, Final, Self
from uuid import UUID

from pydantic import (
    BaseModel,
    SerializerFunctionWrapHandler,
    StrictBool,
    model_serializer,
    model_validator,
)

from .base import CommandData, EventData
from .enums import Channel, Producer, Segment
from .fields import Email, Name, Phone
from .topics import CUSTOMERS_COMMANDS, CUSTOMERS_EVENTS

PRODUCER: Final = Producer.CUSTOMERS
COMMAND_TOPIC: Final = CUSTOMERS_COMMANDS
EVENT_TOPIC: Final = CUSTOMERS_EVENTS

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


class ChangeCustomerDetails(_DetailsChange, CommandData):
    """``change_customer_details``: at least one of name, email, phone, segment."""

    @model_validator(mode="after")
    def _at_least_one_detail(self) -> Self:
        if all(getattr(self, f) is None for f in DETAIL_FIELDS):
            raise ValueError("at least one of name, email, phone, segment must be given")
        return self


class ChangeConsent(_Consent, CommandData):
    """``change_consent``: ``granted`` is a JSON boolean (``"yes"``, ``1`` are errors)."""


class ForgetCustomer(_Customer, CommandData):
    """``forget_customer``: afterwards PII is erased and detail changes are ``conflict``."""


# -- events ---------------------------------------------------------------------------------


class CustomerRegistered(_Registration, EventData):
    """``customer.registered``: the command's fields (email/phone ``null`` when not given)."""


class CustomerDetailsChanged(_DetailsChange, EventData):
    """``customer.details_changed``: customer_id and the changed fields only (see module).

    Built from a full ``ChangeCustomerDetails.model_dump()`` it still serialises without the
    ``null`` (not given) details."""

    __exclude_unset__ = True

    @model_serializer(mode="wrap")
    def _changed_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if k not in DETAIL_FIELDS or v is not None}


class CustomerConsentChanged(_Consent, EventData):
    """``customer.consent_changed``: customer_id, channel, granted."""


class CustomerForgotten(_Customer, EventData):
    """``customer.forgotten``: customer_id."""


COMMANDS: Final[dict[str, type[BaseModel]]] = {
    "register_customer": RegisterCustomer,
    "change_customer_details": ChangeCustomerDetails,
    "change_consent": ChangeConsent,
    "forget_customer": ForgetCustomer,
}
EVENTS: Final[dict[str, type[BaseModel]]] = {
    "customer.registered": CustomerRegistered,
    "customer.details_changed": CustomerDetailsChanged,
    "customer.consent_changed": CustomerConsentChanged,
    "customer.forgotten": CustomerForgotten,
}
#: the event each command causes when accepted
EVENT_OF_COMMAND: Final[dict[str, str]] = {
    "register_customer": "customer.registered",
    "change_customer_details": "customer.details_changed",
    "change_consent": "customer.consent_changed",
    "forget_customer": "customer.forgotten",
}
