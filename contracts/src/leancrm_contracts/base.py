"""Base classes of the ``data`` models (section 4).

* :class:`CommandData`: unknown fields are an error (``extra="forbid"``): a typo in a
  command must not be silently dropped.
* :class:`EventData`: unknown fields are ignored (forward compatible, section 2.1).

Both are frozen value objects, and each concrete model knows its type: the class
variable ``command_type`` / ``event_type`` (never a field). :func:`by_command_type` and
:func:`by_event_type` build the services' lookups from the classes, so a type's string
is written once, on its model. An event's data holds exactly the fields of the command
that caused it (optional ones present as ``null``), plus what section 4's table adds;
the modules share one field class per command between the two, so they cannot drift.
"""

from collections.abc import Iterable
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class CommandData(BaseModel):
    """The ``data`` of a command envelope.

    Each concrete model names its ``command_type`` (a class variable, not a field: it is
    in the envelope, never in ``data``); it is the only place that string is written.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    command_type: ClassVar[str]


class EventData(BaseModel):
    """The ``data`` of an event envelope.

    Each concrete model names its ``event_type`` (a class variable, not a field: it is in
    the envelope, never in ``data``); it is the only place that string is written.
    ``__exclude_unset__`` marks a type whose JSON holds only the fields that were set
    (``customer.details_changed``); serialise with :func:`event_data_json`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    __exclude_unset__: ClassVar[bool] = False


def event_data_json(data: EventData) -> dict[str, object]:
    """The event's ``data`` as published: JSON-mode, honouring ``__exclude_unset__``."""
    return data.model_dump(mode="json", exclude_unset=type(data).__exclude_unset__)


M = TypeVar("M", bound=BaseModel)
C = TypeVar("C", bound=CommandData)
E = TypeVar("E", bound=EventData)


def by_command_type(models: Iterable[type[C]]) -> dict[str, type[C]]:
    """``command_type`` → model, in the order given; a type named twice is an error."""
    return _by_type(((m.command_type, m) for m in models), "command_type")


def by_event_type(models: Iterable[type[E]]) -> dict[str, type[E]]:
    """``event_type`` → model, in the order given; a type named twice is an error."""
    return _by_type(((m.event_type, m) for m in models), "event_type")


def _by_type(pairs: Iterable[tuple[str, type[M]]], what: str) -> dict[str, type[M]]:
    mapping: dict[str, type[M]] = {}
    for name, model in pairs:
        if name in mapping:
            raise ValueError(
                f"{what} {name!r} is named by both {mapping[name].__name__} and {model.__name__}"
            )
        mapping[name] = model
    return mapping
