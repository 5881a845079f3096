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
from uuid import UUID

from leancrm_contracts import customers as c
from leancrm_contracts.base import EventData
from leancrm_servicekit.decider import (
    Command,
    DomainError,
    NewEvent,
    RecordedEvent,
    event_from_command,
)


@dataclass(frozen=True, slots=True)
class Customer:
    """What the rules need: whether the customer exists and is forgotten. No personal
    field: the stored events carry them sealed (contract section 2.8), and no rule reads
    them."""

    customer_id: str | None = None
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
            case c.CustomerRegistered.event_type:  # version 1 or 2: the same clear fields
                return Customer(customer_id=str(d["customer_id"]), segment=d.get("segment"))
            case c.CustomerDetailsChanged.event_type:
                return replace(state, segment=d.get("segment", state.segment))
            case c.CustomerForgotten.event_type:
                return replace(state, forgotten=True)
            case _:
                return state

    def decide(self, state: Customer, command: Command) -> Sequence[NewEvent]:
        data = command.data
        key = self.stream_id(command)
        match data:
            case c.RegisterCustomer():
                if state.exists:
                    raise DomainError("conflict", f"customer {key} is already registered")
                return [_event(data.customer_id, event_from_command(c.CustomerRegistered, data))]
            case c.ChangeCustomerDetails():
                self._require(state, key)
                if state.forgotten:
                    raise DomainError(
                        "conflict", f"customer {key} has been forgotten; details can no longer change"
                    )
                given = {f: getattr(data, f) for f in c.DETAIL_FIELDS if getattr(data, f) is not None}
                changed = c.CustomerDetailsChanged(customer_id=data.customer_id, **given)
                return [_event(data.customer_id, changed)]
            case c.ChangeConsent():
                self._require(state, key)
                return [_event(data.customer_id, event_from_command(c.CustomerConsentChanged, data))]
            case c.ForgetCustomer():
                self._require(state, key)
                if state.forgotten:
                    raise DomainError("conflict", f"customer {key} is already forgotten")
                return [_event(data.customer_id, event_from_command(c.CustomerForgotten, data))]
        raise DomainError("invalid", f"command_type: {command.command_type} is not a customers command")

    @staticmethod
    def _require(state: Customer, key: str) -> None:
        if not state.exists:
            raise DomainError("not_found", f"customer {key} is not registered")


def _event(customer_id: UUID, data: EventData) -> NewEvent:
    """A customers event: on the customer's stream, keyed by its customer_id."""
    return NewEvent(data, customer_id=customer_id, key=str(customer_id))
