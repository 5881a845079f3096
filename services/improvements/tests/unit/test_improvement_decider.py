"""The Improvement aggregate, pure: every rule of contract section 4 (improvements)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leancrm_contracts import improvements as im
from leancrm_contracts.base import event_data_json
from leancrm_contracts.examples import COMMAND_EXAMPLES
from leancrm_improvements.domain.improvement import Improvement, ImprovementsDecider
from leancrm_servicekit.decider import Command, DomainError, RecordedEvent

D = ImprovementsDecider()
IID = str(uuid.uuid4())
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def cmd(command_type: str, at: datetime = T0, **data: Any) -> Command:
    example = {k: v for k, v in COMMAND_EXAMPLES[command_type].items() if k != "improvement_id"}
    model = im.COMMANDS[command_type].model_validate({**example, "improvement_id": IID, **data})
    return Command(command_id=str(uuid.uuid4()), command_type=command_type, occurred_at=at, data=model)


def run(state: Improvement, command: Command) -> tuple[Improvement, list[Any]]:
    events = list(D.decide(state, command))
    for i, e in enumerate(events, 1):
        state = D.evolve(state, RecordedEvent(e.event_type, i, command.occurred_at, e.customer_id,
                                              event_data_json(e.data)))
    return state, events


def started() -> Improvement:
    state, _ = run(D.initial_state(), cmd("start_improvement"))
    return state


def test_start_emits_started_with_the_commands_fields_keyed_by_the_improvement() -> None:
    state, events = run(D.initial_state(), cmd("start_improvement"))
    assert [e.event_type for e in events] == ["improvement.started"]
    assert event_data_json(events[0].data) == {**COMMAND_EXAMPLES["start_improvement"],
                                               "improvement_id": IID}
    assert events[0].key == IID and events[0].customer_id is None
    assert state.running and str(state.starts_on) == "2026-11-30"


def test_start_twice_is_a_conflict() -> None:
    with pytest.raises(DomainError) as err:
        run(started(), cmd("start_improvement"))
    assert err.value.code == "conflict" and "already started" in err.value.message


def test_end_of_an_unknown_improvement_is_not_found() -> None:
    with pytest.raises(DomainError) as err:
        run(D.initial_state(), cmd("end_improvement"))
    assert err.value.code == "not_found" and IID in err.value.message


@pytest.mark.parametrize("outcome", ["adopted", "abandoned"])
def test_end_records_the_outcome_and_only_once(outcome: str) -> None:
    state, events = run(started(), cmd("end_improvement", at=datetime(2026, 12, 14, tzinfo=UTC),
                                       outcome=outcome, note="what we learned"))
    assert [e.event_type for e in events] == ["improvement.ended"]
    assert event_data_json(events[0].data) == {"improvement_id": IID, "outcome": outcome,
                                               "note": "what we learned"}
    assert not state.running and state.outcome == outcome
    with pytest.raises(DomainError) as err:
        run(state, cmd("end_improvement", outcome="adopted"))
    assert err.value.code == "conflict" and f"already ended ({outcome})" in err.value.message


def test_an_improvement_ends_on_its_start_day_but_not_before() -> None:
    _, events = run(started(), cmd("end_improvement", at=datetime(2026, 11, 30, 0, 0, tzinfo=UTC)))
    assert events
    with pytest.raises(DomainError) as err:
        run(started(), cmd("end_improvement", at=datetime(2026, 11, 29, 23, 59, tzinfo=UTC)))
    assert err.value.code == "conflict" and "starts on 2026-11-30" in err.value.message
