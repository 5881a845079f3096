"""The improvements service (section 4): countermeasures tracked to their effect.
Stream and key = improvement_id; the envelope's customer_id is null.

Events carry exactly the command's fields (optional ones as ``null``); nothing is added.
``starts_on`` is a calendar date (``YYYY-MM-DD``, as a JSON string), within the
timestamps' bounds (section 2.5). Free strings: title 1–200 characters, notes 1–2,000,
not blank; teams and reasons are slugs (section 3).
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Final
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from .base import CommandData, EventData, by_command_type, by_event_type
from .enums import Channel, Producer, Reason, Team
from .fields import NON_BLANK
from .limits import TIMESTAMP_MAX, TIMESTAMP_MIN
from .topics import IMPROVEMENTS_COMMANDS, IMPROVEMENTS_EVENTS

PRODUCER: Final = Producer.IMPROVEMENTS
COMMAND_TOPIC: Final = IMPROVEMENTS_COMMANDS
EVENT_TOPIC: Final = IMPROVEMENTS_EVENTS


class Target(StrEnum):
    """The daily rate an improvement means to move (section 3)."""

    FCR_RATE = "fcr_rate"
    FAILURE_DEMAND_RATE = "failure_demand_rate"
    TRANSFER_RATE = "transfer_rate"
    ABANDONMENT_RATE = "abandonment_rate"
    FLOW_EFFICIENCY = "flow_efficiency"
    OCCUPANCY = "occupancy"
    WAITING_S_PER_CONTACT = "waiting_s_per_contact"
    OVER_PROCESSING_PER_CONTACT = "over_processing_per_contact"
    MOTION_PER_CONTACT = "motion_per_contact"
    TRANSPORTATION_PER_CONTACT = "transportation_per_contact"
    DEFECTS_PER_CONTACT = "defects_per_contact"
    INVENTORY_PER_CONTACT = "inventory_per_contact"


#: the targets that are fractions in [0, 1] (their limits are clipped to it)
FRACTION_TARGETS: Final[frozenset[Target]] = frozenset({
    Target.FCR_RATE, Target.FAILURE_DEMAND_RATE, Target.TRANSFER_RATE,
    Target.ABANDONMENT_RATE, Target.FLOW_EFFICIENCY, Target.OCCUPANCY,
})


class Direction(StrEnum):
    """Which way the target should move."""

    DECREASE = "decrease"
    INCREASE = "increase"


class Outcome(StrEnum):
    ADOPTED = "adopted"
    ABANDONED = "abandoned"


class Status(StrEnum):
    """``waste.improvements.status``."""

    RUNNING = "running"
    ADOPTED = "adopted"
    ABANDONED = "abandoned"


def _iso_date_only(value: object) -> object:
    """A date is a ``YYYY-MM-DD`` string (or a ``date``): no numbers, no timestamps."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date as YYYY-MM-DD") from None


def _date_within_bounds(value: date) -> date:
    if not TIMESTAMP_MIN.date() <= value < TIMESTAMP_MAX.date():
        raise ValueError(
            f"must be from {TIMESTAMP_MIN.date()} up to, not including, {TIMESTAMP_MAX.date()}"
        )
    return value


#: a calendar day, ``YYYY-MM-DD``
Day = Annotated[date, BeforeValidator(_iso_date_only), AfterValidator(_date_within_bounds)]
#: what is changed: 1–200 characters, not blank
Title = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=200, pattern=NON_BLANK)
]
#: why, or what was learned: 1–2,000 characters, not blank
Note = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=2000, pattern=NON_BLANK)
]
#: the expected change, in the target's unit: > 0, at most 1,000,000
Size = Annotated[float, Field(strict=True, gt=0, le=1_000_000, allow_inf_nan=False)]


class Scope(BaseModel):
    """Where the change applies; a part left out is not narrowed (section 4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Channel | None = None
    reason: Reason | None = None
    team: Team | None = None


class Expected(BaseModel):
    """The effect the owning team expects: a direction and a size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: Direction
    size: Size


class _Start(BaseModel):
    improvement_id: UUID
    title: Title
    target: Target
    scope: Scope = Scope()
    starts_on: Day
    owner_team: Team
    expected: Expected
    note: Note | None = None


class _End(BaseModel):
    improvement_id: UUID
    outcome: Outcome
    note: Note


# -- commands -------------------------------------------------------------------------------


class StartImprovement(_Start, CommandData):
    """``start_improvement``: a countermeasure, its target rate, scope, start date, owning
    team and expected effect. improvement_id must be new (``conflict``)."""

    command_type = "start_improvement"


class EndImprovement(_End, CommandData):
    """``end_improvement``: adopted or abandoned, with a note. Only a running improvement
    ends (``conflict``), and not before its start date (``conflict``)."""

    command_type = "end_improvement"


# -- events ---------------------------------------------------------------------------------


class ImprovementStarted(_Start, EventData):
    """``improvement.started``: the command's fields."""

    event_type = "improvement.started"


class ImprovementEnded(_End, EventData):
    """``improvement.ended``: the command's fields."""

    event_type = "improvement.ended"


#: each command and the event it causes when accepted (section 4's table), in its order
CAUSES: Final[tuple[tuple[type[CommandData], type[EventData]], ...]] = (
    (StartImprovement, ImprovementStarted),
    (EndImprovement, ImprovementEnded),
)
COMMANDS: Final[dict[str, type[CommandData]]] = by_command_type(command for command, _ in CAUSES)
EVENTS: Final[dict[str, type[EventData]]] = by_event_type(event for _, event in CAUSES)
#: the event each command causes when accepted
EVENT_OF_COMMAND: Final[dict[str, str]] = {
    command.command_type: event.event_type for command, event in CAUSES
}
