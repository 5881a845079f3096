"""The interactions service (section 4). Stream = interaction_id, key = customer_id;
agent commands (``sign_in_agent``/``sign_out_agent``): stream and key = agent_id.

Events carry exactly the command's fields (optional ones as ``null``), plus:

* ``interaction.started``: ``direction`` always present (the default ``inbound`` applied);
* ``interaction.transferred``: ``from_agent_id``, ``from_channel`` and a non-null
  ``to_channel`` (the one given, else ``from_channel``).

Free strings: method and queue 1–64 characters, not blank; reasons and teams are slugs.
"""

from typing import Final
from uuid import UUID

from pydantic import BaseModel

from .base import CommandData, EventData
from .enums import (
    AbandonStage,
    AgentId,
    Channel,
    Direction,
    IdentificationStep,
    Producer,
    Reason,
    ResolvedBy,
    Team,
)
from .fields import Method, Queue
from .topics import INTERACTIONS_COMMANDS, INTERACTIONS_EVENTS

PRODUCER: Final = Producer.INTERACTIONS
COMMAND_TOPIC: Final = INTERACTIONS_COMMANDS
EVENT_TOPIC: Final = INTERACTIONS_EVENTS


class _Interaction(BaseModel):
    interaction_id: UUID


class _Start(_Interaction):
    customer_id: UUID
    channel: Channel
    reason: Reason
    direction: Direction = Direction.INBOUND


class _Identify(_Interaction):
    step: IdentificationStep
    method: Method


class _Queue(_Interaction):
    queue: Queue


class _Assign(_Interaction):
    agent_id: AgentId
    team: Team


class _Transfer(_Interaction):
    to_queue: Queue
    to_channel: Channel | None = None
    reason: Reason


class _Resolve(_Interaction):
    resolved_by: ResolvedBy


class _Abandon(_Interaction):
    stage: AbandonStage


class _SignIn(BaseModel):
    agent_id: AgentId
    team: Team


class _Agent(BaseModel):
    agent_id: AgentId


# -- commands -------------------------------------------------------------------------------


class StartInteraction(_Start, CommandData):
    """``start_interaction``: direction defaults to ``inbound``; interaction_id new."""


class IdentifyCustomer(_Identify, CommandData):
    """``identify_customer``: step ivr/agent/bot/self_service, method 1–64 chars."""


class QueueInteraction(_Queue, CommandData):
    """``queue_interaction``: queue 1–64 chars."""


class AssignAgent(_Assign, CommandData):
    """``assign_agent``: agent_id 1–64 chars, team a slug."""


class TransferInteraction(_Transfer, CommandData):
    """``transfer_interaction``: to_queue 1–64 chars, to_channel optional (same channel when
    null), reason a slug like every contact reason."""


class StartHold(_Interaction, CommandData):
    """``start_hold``."""


class EndHold(_Interaction, CommandData):
    """``end_hold``."""


class ResolveInteraction(_Resolve, CommandData):
    """``resolve_interaction``: resolved_by agent/self_service/community/bot."""


class AbandonInteraction(_Abandon, CommandData):
    """``abandon_interaction``: stage ivr/queue/hold/self_service."""


class EndInteraction(_Interaction, CommandData):
    """``end_interaction``: terminal."""


class SignInAgent(_SignIn, CommandData):
    """``sign_in_agent``: stream = agent_id; team a slug."""


class SignOutAgent(_Agent, CommandData):
    """``sign_out_agent``: stream = agent_id."""


# -- events ---------------------------------------------------------------------------------


class InteractionStarted(_Start, EventData):
    """``interaction.started``."""


class InteractionCustomerIdentified(_Identify, EventData):
    """``interaction.customer_identified``."""


class InteractionQueued(_Queue, EventData):
    """``interaction.queued``."""


class InteractionAgentAssigned(_Assign, EventData):
    """``interaction.agent_assigned``."""


class InteractionTransferred(_Transfer, EventData):
    """``interaction.transferred``: the command's fields plus the agent and channel it
    left; ``to_channel`` is never null here."""

    to_channel: Channel
    from_agent_id: AgentId
    from_channel: Channel


class InteractionHoldStarted(_Interaction, EventData):
    """``interaction.hold_started``."""


class InteractionHoldEnded(_Interaction, EventData):
    """``interaction.hold_ended``."""


class InteractionResolved(_Resolve, EventData):
    """``interaction.resolved``."""


class InteractionAbandoned(_Abandon, EventData):
    """``interaction.abandoned``."""


class InteractionEnded(_Interaction, EventData):
    """``interaction.ended``."""


class AgentSignedIn(_SignIn, EventData):
    """``agent.signed_in`` (envelope customer_id null, key agent_id)."""


class AgentSignedOut(_Agent, EventData):
    """``agent.signed_out`` (envelope customer_id null, key agent_id)."""


COMMANDS: Final[dict[str, type[BaseModel]]] = {
    "start_interaction": StartInteraction,
    "identify_customer": IdentifyCustomer,
    "queue_interaction": QueueInteraction,
    "assign_agent": AssignAgent,
    "transfer_interaction": TransferInteraction,
    "start_hold": StartHold,
    "end_hold": EndHold,
    "resolve_interaction": ResolveInteraction,
    "abandon_interaction": AbandonInteraction,
    "end_interaction": EndInteraction,
    "sign_in_agent": SignInAgent,
    "sign_out_agent": SignOutAgent,
}
EVENTS: Final[dict[str, type[BaseModel]]] = {
    "interaction.started": InteractionStarted,
    "interaction.customer_identified": InteractionCustomerIdentified,
    "interaction.queued": InteractionQueued,
    "interaction.agent_assigned": InteractionAgentAssigned,
    "interaction.transferred": InteractionTransferred,
    "interaction.hold_started": InteractionHoldStarted,
    "interaction.hold_ended": InteractionHoldEnded,
    "interaction.resolved": InteractionResolved,
    "interaction.abandoned": InteractionAbandoned,
    "interaction.ended": InteractionEnded,
    "agent.signed_in": AgentSignedIn,
    "agent.signed_out": AgentSignedOut,
}
#: the event each command causes when accepted
EVENT_OF_COMMAND: Final[dict[str, str]] = {
    "start_interaction": "interaction.started",
    "identify_customer": "interaction.customer_identified",
    "queue_interaction": "interaction.queued",
    "assign_agent": "interaction.agent_assigned",
    "transfer_interaction": "interaction.transferred",
    "start_hold": "interaction.hold_started",
    "end_hold": "interaction.hold_ended",
    "resolve_interaction": "interaction.resolved",
    "abandon_interaction": "interaction.abandoned",
    "end_interaction": "interaction.ended",
    "sign_in_agent": "agent.signed_in",
    "sign_out_agent": "agent.signed_out",
}
#: commands whose stream (and key) is the agent_id
AGENT_COMMANDS: Final[frozenset[str]] = frozenset({"sign_in_agent", "sign_out_agent"})
