"""The key of every command (contract section 1.1): the id of the stream it acts on,
the value of one field of its ``data``. One stream's commands under one key stay in one
partition and are decided in the order they were sent.

>>> from leancrm_contracts.interactions import EndInteraction
>>> command_key(EndInteraction(interaction_id="1c4a4c53-3c1f-4c43-8a8f-6b1f26d1f0a2"))
'1c4a4c53-3c1f-4c43-8a8f-6b1f26d1f0a2'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import customers, feedback, improvements, interactions
from .base import CommandData

#: the agent commands of the interactions service: their stream is the agent
_AGENT_COMMANDS: Final = (interactions.SignInAgent.command_type,
                          interactions.SignOutAgent.command_type)

#: command_type → the field of its data whose value is the command's key (its stream)
STREAM_FIELD: Final[Mapping[str, str]] = {
    **dict.fromkeys(customers.COMMANDS, "customer_id"),
    **{t: "agent_id" if t in _AGENT_COMMANDS else "interaction_id" for t in interactions.COMMANDS},
    **dict.fromkeys(feedback.COMMANDS, "feedback_id"),
    **dict.fromkeys(improvements.COMMANDS, "improvement_id"),
}


def command_key(data: CommandData) -> str:
    """The Kafka key of a command with this ``data``: the id of its stream, as text."""
    return str(getattr(data, STREAM_FIELD[data.command_type]))


def command_key_of(command_type: str, data: Mapping[str, Any]) -> str:
    """The key of a command given as JSON (``data`` as a mapping); ``KeyError`` names an
    unknown command type or a missing field."""
    return str(data[STREAM_FIELD[command_type]])
