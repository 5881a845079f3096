"""The Customer aggregate, pure: every rule of contract section 4 (customers)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leancrm_contracts import customers as c
from leancrm_customers.domain.customer import Customer, CustomersDecider
from leancrm_servicekit.decider import Command, DomainError, RecordedEvent

D = CustomersDecider()
CID = str(uuid.uuid4())
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def cmd(command_type: str, **data: Any) -> Command:
    model = c.COMMANDS[command_type].model_validate({"customer_id": CID, **data})
    return Command(command_id=str(uuid.uuid4()), command_type=command_type, occurred_at=T0, data=model)


def run(state: Customer, command: Command) -> tuple[Customer, list[Any]]:
    events = list(D.decide(state, command))
    for i, e in enumerate(events, 1):
        state = D.evolve(state, RecordedEvent(e.event_type, i, T0, e.customer_id,
                                              e.data.model_dump(mode="json", exclude_unset=True)))
    return state, events


def registered() -> Customer:
    state, _ = run(D.initial_state(), cmd("register_customer", name="Ada", email="ada@example.com",
                                         phone="+31 20 555 0100", segment="retail"))
    return state


def test_register_emits_registered_with_the_commands_fields() -> None:
    _, events = run(D.initial_state(), cmd("register_customer", name="Ada", segment="retail"))
    assert [e.event_type for e in events] == ["customer.registered"]
    data = events[0].data.model_dump(mode="json")
    assert data == {"customer_id": CID, "name": "Ada", "email": None, "phone": None, "segment": "retail"}
    assert events[0].key == CID and str(events[0].customer_id) == CID


def test_register_twice_is_a_conflict() -> None:
    with pytest.raises(DomainError) as err:
        run(registered(), cmd("register_customer", name="Ada", segment="retail"))
    assert err.value.code == "conflict" and "already registered" in err.value.message


@pytest.mark.parametrize(
    ("command_type", "data"),
    [
        ("change_customer_details", {"name": "Bea"}),
        ("change_consent", {"channel": "email", "granted": True}),
        ("forget_customer", {}),
    ],
)
def test_commands_on_an_unknown_customer_are_not_found(command_type: str, data: dict[str, Any]) -> None:
    with pytest.raises(DomainError) as err:
        run(D.initial_state(), cmd(command_type, **data))
    assert err.value.code == "not_found" and CID in err.value.message


def test_details_changed_carries_only_the_changed_fields() -> None:
    state, events = run(registered(), cmd("change_customer_details", email="ada@new.example"))
    assert events[0].event_type == "customer.details_changed"
    assert events[0].data.model_dump(mode="json", exclude_unset=True) == {
        "customer_id": CID, "email": "ada@new.example"}
    assert state.exists and not state.forgotten


def test_consent_change_is_recorded() -> None:
    _, events = run(registered(), cmd("change_consent", channel="sms", granted=False))
    assert events[0].event_type == "customer.consent_changed"
    assert events[0].data.model_dump(mode="json") == {"customer_id": CID, "channel": "sms", "granted": False}


def test_forget_erases_pii_from_state_and_blocks_further_detail_changes() -> None:
    state, events = run(registered(), cmd("forget_customer"))
    assert events[0].event_type == "customer.forgotten"
    assert events[0].data.model_dump(mode="json") == {"customer_id": CID}
    assert state.forgotten and not hasattr(state, "name")  # the state holds no personal field
    with pytest.raises(DomainError) as err:
        run(state, cmd("change_customer_details", name="Ada again"))
    assert err.value.code == "conflict" and "forgotten" in err.value.message
    with pytest.raises(DomainError) as err2:
        run(state, cmd("forget_customer"))
    assert err2.value.code == "conflict"


def test_consent_can_still_change_after_forget() -> None:
    state, _ = run(registered(), cmd("forget_customer"))
    _, events = run(state, cmd("change_consent", channel="phone", granted=False))
    assert events[0].event_type == "customer.consent_changed"
