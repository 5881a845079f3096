"""The Customer aggregate: stream = customer_id (contract section 4, customers).

| command | event | rules |
| register_customer | customer.registered | customer_id new, else conflict |
| change_customer_details | customer.details_changed (changed fields only) |
|   exists; at least one field; not forgotten |
| change_consent | customer.consent_changed | exists |
| forget_customer | customer.forgotten | exists; not already forgotten |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from leancrm_contracts import customers as c
from leancrm_servicekit.decider import (
    Command,
    DomainError,
    NewEvent,
    RecordedEvent,
    event_from_command,
)

DETAIL_FIELDS = ("name", "email", "phone", "segment")


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    segment: str | None = None
    forgotten: bool = False

    @property
    def exists(self) -> bool:
        return self.customer_id is not None


class CustomersDecider:
    producer = "customers"

    def stream_id(self, command: Command) -> str:
        return str(command.data.customer_id)  # type: ignore[attr-defined]

    def initial_state(self) -> Customer:
        return Customer()

    def evolve(self, state: Customer, event: RecordedEvent) -> Customer:
        d = event.data
        match event.event_type:
            case "customer.registered":
                return Customer(
                    customer_id=str(d["customer_id"]),
                    name=d.get("name"),
                    email=d.get("email"),
                    phone=d.get("phone"),
                    segment=d.get("segment"),
                )
            case "customer.details_changed":
                return replace(state, **{f: d[f] for f in DETAIL_FIELDS if f in d})
            case "customer.forgotten":
                return replace(state, name=None, email=None, phone=None, forgotten=True)
            case _:
                return state

    def decide(self, state: Customer, command: Command) -> Sequence[NewEvent]:
        data = command.data
        key = self.stream_id(command)
        match data:
            case c.RegisterCustomer():
                if state.exists:
                    raise DomainError("conflict", f"customer {key} is already registered")
                registered = event_from_command(c.CustomerRegistered, data)
                return [self._event("customer.registered", registered, data)]
            case c.ChangeCustomerDetails():
                self._require(state, key)
                if state.forgotten:
                    raise DomainError(
                        "conflict", f"customer {key} has been forgotten; details can no longer change"
                    )
                given = {f: getattr(data, f) for f in DETAIL_FIELDS if getattr(data, f) is not None}
                event = c.CustomerDetailsChanged(customer_id=data.customer_id, **given)
                return [self._event("customer.details_changed", event, data)]
            case c.ChangeConsent():
                self._require(state, key)
                consent = event_from_command(c.CustomerConsentChanged, data)
                return [self._event("customer.consent_changed", consent, data)]
            case c.ForgetCustomer():
                self._require(state, key)
                if state.forgotten:
                    raise DomainError("conflict", f"customer {key} is already forgotten")
                forgotten = event_from_command(c.CustomerForgotten, data)
                return [self._event("customer.forgotten", forgotten, data)]
        raise DomainError("invalid", f"command_type: {command.command_type} is not a customers command")

    @staticmethod
    def _require(state: Customer, key: str) -> None:
        if not state.exists:
            raise DomainError("not_found", f"customer {key} is not registered")

    @staticmethod
    def _event(event_type: str, event: object, data: object) -> NewEvent:
        customer_id = data.customer_id  # type: ignore[attr-defined]
        return NewEvent(
            event_type=event_type,
            data=event,  # type: ignore[arg-type]
            customer_id=customer_id,
            key=str(customer_id),
        )
