"""Base classes of the ``data`` models (section 4).

* :class:`CommandData`: unknown fields are an error (``extra="forbid"``): a typo in a
  command must not be silently dropped.
* :class:`EventData`: unknown fields are ignored (forward compatible, section 2.1).

Both are frozen value objects. An event's data holds exactly the fields of the command
that caused it (optional ones present as ``null``), plus what section 4's table adds;
the modules share one field class per command between the two, so they cannot drift.
"""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class CommandData(BaseModel):
    """The ``data`` of a command envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EventData(BaseModel):
    """The ``data`` of an event envelope.

    ``__exclude_unset__`` marks a type whose JSON holds only the fields that were set
    (``customer.details_changed``); serialise with :func:`event_data_json`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    __exclude_unset__: ClassVar[bool] = False


def event_data_json(data: EventData) -> dict[str, object]:
    """The event's ``data`` as published: JSON-mode, honouring ``__exclude_unset__``."""
    return data.model_dump(mode="json", exclude_unset=type(data).__exclude_unset__)
