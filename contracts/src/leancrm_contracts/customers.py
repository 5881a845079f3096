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

from .base import CommandData, EventData, by_command_type, by_event_type
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
