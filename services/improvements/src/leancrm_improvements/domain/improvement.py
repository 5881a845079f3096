"""The Improvement aggregate: stream = improvement_id (contract section 4, improvements).

| command | event | rules |
| start_improvement | improvement.started | improvement_id new, else conflict |
| end_improvement | improvement.ended | exists (not_found); running, else conflict; |
|   |   | occurred_at's UTC day not before starts_on, else conflict |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date
from uuid import UUID

from leancrm_contracts import improvements as im
from leancrm_contracts.base import EventData
from leancrm_servicekit.decider import (
    Command,
    DomainError,
    NewEvent,
    RecordedEvent,
    event_from_command,
)


@dataclass(frozen=True, slots=True)
class Improvement:
    improvement_id: str | None = None
    starts_on: date | None = None
    outcome: str | None = None

    @property
    def exists(self) -> bool:
        return self.improvement_id is not None

    @property
    def running(self) -> bool:
        return self.exists and self.outcome is None


class ImprovementsDecider:
    producer = "improvements"

    def stream_id(self, command: Command) -> str:
        return str(command.data.improvement_id)  # type: ignore[attr-defined]

    def initial_state(self) -> Improvement:
        return Improvement()

    def evolve(self, state: Improvement, event: RecordedEvent) -> Improvement:
        d = event.data
        match event.event_type:
            case im.ImprovementStarted.event_type:
                return Improvement(improvement_id=str(d["improvement_id"]),
                                   starts_on=date.fromisoformat(str(d["starts_on"])))
            case im.ImprovementEnded.event_type:
                return replace(state, outcome=str(d["outcome"]))
            case _:
                return state

    def decide(self, state: Improvement, command: Command) -> Sequence[NewEvent]:
        data = command.data
        key = self.stream_id(command)
        match data:
            case im.StartImprovement():
                if state.exists:
                    raise DomainError("conflict", f"improvement {key} is already started")
                return [_event(data.improvement_id, event_from_command(im.ImprovementStarted, data))]
            case im.EndImprovement():
                if not state.exists:
                    raise DomainError("not_found", f"improvement {key} is not started")
                if not state.running:
                    raise DomainError("conflict",
                                      f"improvement {key} has already ended ({state.outcome})")
                ends_on = command.occurred_at.astimezone(UTC).date()
                if state.starts_on is not None and ends_on < state.starts_on:
                    raise DomainError("conflict", f"improvement {key} starts on {state.starts_on}; "
                                      f"it cannot end before (occurred_at is {ends_on})")
                return [_event(data.improvement_id, event_from_command(im.ImprovementEnded, data))]
        raise DomainError("invalid", f"command_type: {command.command_type} is not an improvements command")


def _event(improvement_id: UUID, data: EventData) -> NewEvent:
    """An improvements event: on the improvement's stream, keyed by its improvement_id, no
    customer."""
    return NewEvent(data, customer_id=None, key=str(improvement_id))
