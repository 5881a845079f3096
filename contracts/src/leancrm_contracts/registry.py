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
