"""The pure shape every command service's domain takes.

A service's domain is a *decider*: three pure functions over one aggregate stream.
The service kit does all I/O (loading the stream's events, appending the new ones
with optimistic concurrency, the outbox); the domain never imports asyncpg, Kafka
or structlog.

- ``initial_state()``: the state of a stream that has no events yet.
- ``evolve(state, event)``: the state after one recorded event (a fold).
- ``decide(state, command)``: the events a command produces on that state, or a
  ``DomainError`` naming the contract's error code and the rule that was broken.

``event_from_command`` is contract section 4's rule for an event's data, shared by
every decider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel

from leancrm_contracts.base import EventData

ErrorCode = Literal["invalid", "not_found", "conflict", "out_of_order"]


class DomainError(Exception):
    """A command broke a rule of the contract (section 2.3 error codes)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Command:
    """A validated command as the domain sees it."""

    command_id: str
    command_type: str
    occurred_at: datetime
    data: BaseModel
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event the domain decided on; the kit adds the envelope fields.

    ``data`` is the contract's model of the event, and its class names the
    ``event_type``: a decider builds ``NewEvent(m.InteractionQueued(...), ...)`` and
    never pairs a type string with a model by hand. ``customer_id`` is the envelope's
    customer_id (None for ``agent.*`` and anonymous feedback) and ``key`` the Kafka key
    the event is published under (contract section 1).
    """

    data: EventData
    customer_id: UUID | None
    key: str

    @property
    def event_type(self) -> str:
        """The envelope's ``event_type``: the one its data model names."""
        return type(self.data).event_type


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as read back from the event store, for ``evolve``."""

    event_type: str
    stream_version: int
    occurred_at: datetime
    customer_id: UUID | None
    data: Mapping[str, Any]


S = TypeVar("S")
E = TypeVar("E", bound=EventData)


def event_from_command(event: type[E], command_data: BaseModel, **additions: Any) -> E:
    """The data of ``event`` caused by a command (contract section 4): exactly the
    command's fields (optional ones not given as ``null``), plus the table's additions
    for that event, which may also replace a field (``interaction.transferred``'s
    ``to_channel``)."""
    return event.model_validate({**command_data.model_dump(), **additions})


class Decider(Protocol, Generic[S]):
    """What a command service's domain provides to the kit."""

    #: the envelope's ``producer`` field: customers, interactions or feedback
    producer: str

    def stream_id(self, command: Command) -> str:
        """The aggregate stream the command addresses."""
        ...

    def initial_state(self) -> S: ...

    def evolve(self, state: S, event: RecordedEvent) -> S: ...

    def decide(self, state: S, command: Command) -> Sequence[NewEvent]:
        """Events for the command, or raise ``DomainError``."""
        ...
