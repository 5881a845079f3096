"""Building a command as the contract wants it (pure, no I/O): the envelope of section
2.2 around a ``data`` model of section 4, the topic of section 1, the key of section 1.1
(the stream's id) and the headers of section 2."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from leancrm_contracts.base import CommandData
from leancrm_contracts.envelope import (
    CONTENT_TYPE_JSON,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    CommandEnvelope,
)
from leancrm_contracts.keys import command_key
from leancrm_contracts.registry import COMMANDS_BY_TOPIC

#: command_type → the topic that carries it (section 1)
TOPIC_OF: Final[dict[str, str]] = {
    command_type: topic for topic, models in COMMANDS_BY_TOPIC.items() for command_type in models
}


@dataclass(frozen=True, slots=True)
class OutgoingCommand:
    """One command ready to produce: where, under which key, with which headers."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    envelope: CommandEnvelope

    @property
    def command_id(self) -> str:
        return self.envelope.command_id

    @property
    def command_type(self) -> str:
        return self.envelope.command_type


def new_command_id() -> str:
    return f"cmd-{uuid.uuid4()}"


def build_command(data: CommandData, *, occurred_at: datetime | None = None,
                  command_id: str | None = None,
                  correlation_id: str | None = None) -> OutgoingCommand:
    """The command carrying ``data`` (a model of ``leancrm_contracts``, validated when it was
    made). ``occurred_at`` is the business time at the source (default: now, UTC; a naive
    datetime is an error); ``command_id`` defaults to a new one — to send a command again
    (after a timeout, a restart) give the same command_id: the service answers it once,
    and ``duplicate`` afterwards (section 2.6)."""
    envelope = CommandEnvelope(
        command_id=command_id or new_command_id(),
        command_type=data.command_type,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id,
        data=data.model_dump(mode="json"),
    )
    value = json.dumps(envelope.model_dump(mode="json"), ensure_ascii=False,
                       separators=(",", ":")).encode()
    return OutgoingCommand(
        topic=TOPIC_OF[data.command_type],
        key=command_key(data),
        value=value,
        headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON.encode()),
                 (HEADER_MESSAGE_TYPE, data.command_type.encode())),
        envelope=envelope,
    )
