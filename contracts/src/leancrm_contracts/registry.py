"""Lookups across the command services: which models belong to which topic and producer."""

from typing import Final

from . import customers, feedback, improvements, interactions
from .base import CommandData, EventData, by_command_type, by_event_type
from .enums import Producer

_SERVICES: Final = (customers, interactions, feedback, improvements)

#: command topic → command_type → data model
COMMANDS_BY_TOPIC: Final[dict[str, dict[str, type[CommandData]]]] = {
    s.COMMAND_TOPIC: s.COMMANDS for s in _SERVICES
}
#: event topic → event_type → data model
EVENTS_BY_TOPIC: Final[dict[str, dict[str, type[EventData]]]] = {
    s.EVENT_TOPIC: s.EVENTS for s in _SERVICES
}
#: every event_type → its data model (no type is named by two services)
ALL_EVENTS: Final[dict[str, type[EventData]]] = by_event_type(
    model for s in _SERVICES for model in s.EVENTS.values()
)
#: every command_type → its data model (no type is named by two services)
ALL_COMMANDS: Final[dict[str, type[CommandData]]] = by_command_type(
    model for s in _SERVICES for model in s.COMMANDS.values()
)
#: producer → its event topic
EVENT_TOPIC_BY_PRODUCER: Final[dict[Producer, str]] = {s.PRODUCER: s.EVENT_TOPIC for s in _SERVICES}
#: producer → the command topic it consumes
COMMAND_TOPIC_BY_PRODUCER: Final[dict[Producer, str]] = {
    s.PRODUCER: s.COMMAND_TOPIC for s in _SERVICES
}
#: event_type → the producer that emits it
PRODUCER_OF_EVENT: Final[dict[str, Producer]] = {t: s.PRODUCER for s in _SERVICES for t in s.EVENTS}


def event_topic_for_producer(producer: Producer | str) -> str:
    """The events topic of a producer (``customers`` → ``crm.customers.events.v1``);
    ``ValueError`` for an unknown producer."""
    return EVENT_TOPIC_BY_PRODUCER[Producer(producer)]


def command_topic_for_producer(producer: Producer | str) -> str:
    """The command topic a service consumes; ``ValueError`` for an unknown producer."""
    return COMMAND_TOPIC_BY_PRODUCER[Producer(producer)]

#: event_type → schema_version → data model, for every version a consumer reads (the
#: customers service's personal events have two, section 2.8; every other type one)
EVENT_VERSIONS: Final[dict[str, dict[int, type[EventData]]]] = {
    t: customers.VERSIONS.get(t, {1: model}) for t, model in ALL_EVENTS.items()
}
#: event_type → the schema_version its producer writes
SCHEMA_VERSION: Final[dict[str, int]] = {t: max(v) for t, v in EVENT_VERSIONS.items()}


def upcast(event_type: str, schema_version: int, data: dict[str, object]) -> dict[str, object]:
    """The data of any version read in the form of the version written now (only the
    customers service's events have older versions: :func:`customers.upcast`)."""
    if event_type in customers.VERSIONS:
        return customers.upcast(event_type, schema_version, data)
    return data
