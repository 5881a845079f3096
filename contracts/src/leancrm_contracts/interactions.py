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

from .base import CommandData, EventData, by_command_type, by_event_type
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

    command_type = "start_interaction"


class IdentifyCustomer(_Identify, CommandData):
    """``identify_customer``: step ivr/agent/bot/self_service, method 1–64 chars."""

    command_type = "identify_customer"


class QueueInteraction(_Queue, CommandData):
    """``queue_interaction``: queue 1–64 chars."""

    command_type = "queue_interaction"


class AssignAgent(_Assign, CommandData):
    """``assign_agent``: agent_id 1–64 chars, team a slug."""

    command_type = "assign_agent"


class TransferInteraction(_Transfer, CommandData):
    """``transfer_interaction``: to_queue 1–64 chars, to_channel optional (same channel when
    null), reason a slug like every contact reason."""

    command_type = "transfer_interaction"


class StartHold(_Interaction, CommandData):
    """``start_hold``."""

    command_type = "start_hold"


class EndHold(_Interaction, CommandData):
    """``end_hold``."""

    command_type = "end_hold"


class ResolveInteraction(_Resolve, CommandData):
    """``resolve_interaction``: resolved_by agent/self_service/community/bot."""

    command_type = "resolve_interaction"


class AbandonInteraction(_Abandon, CommandData):
    """``abandon_interaction``: stage ivr/queue/hold/self_service."""

    command_type = "abandon_interaction"


class EndInteraction(_Interaction, CommandData):
    """``end_interaction``: terminal."""

    command_type = "end_interaction"


class SignInAgent(_SignIn, CommandData):
    """``sign_in_agent``: stream = agent_id; team a slug."""

    command_type = "sign_in_agent"


class SignOutAgent(_Agent, CommandData):
    """``sign_out_agent``: stream = agent_id."""

    command_type = "sign_out_agent"


# -- events ---------------------------------------------------------------------------------


class InteractionStarted(_Start, EventData):
    """``interaction.started``."""

    event_type = "interaction.started"


class InteractionCustomerIdentified(_Identify, EventData):
    """``interaction.customer_identified``."""

    event_type = "interaction.customer_identified"


class InteractionQueued(_Queue, EventData):
    """``interaction.queued``."""

    event_type = "interaction.queued"


class InteractionAgentAssigned(_Assign, EventData):
    """``interaction.agent_assigned``."""

    event_type = "interaction.agent_assigned"


class InteractionTransferred(_Transfer, EventData):
    """``interaction.transferred``: the command's fields plus the agent and channel it
    left; ``to_channel`` is never null here."""

    event_type = "interaction.transferred"

    to_channel: Channel
    from_agent_id: AgentId
    from_channel: Channel


class InteractionHoldStarted(_Interaction, EventData):
    """``interaction.hold_started``."""

    event_type = "interaction.hold_started"


class InteractionHoldEnded(_Interaction, EventData):
    """``interaction.hold_ended``."""

    event_type = "interaction.hold_ended"


class InteractionResolved(_Resolve, EventData):
    """``interaction.resolved``."""

    event_type = "interaction.resolved"


class InteractionAbandoned(_Abandon, EventData):
    """``interaction.abandoned``."""

    event_type = "interaction.abandoned"


class InteractionEnded(_Interaction, EventData):
    """``interaction.ended``."""

    event_type = "interaction.ended"


class AgentSignedIn(_SignIn, EventData):
    """``agent.signed_in`` (envelope customer_id null, key agent_id)."""

    event_type = "agent.signed_in"


class AgentSignedOut(_Agent, EventData):
    """``agent.signed_out`` (envelope customer_id null, key agent_id)."""

    event_type = "agent.signed_out"


#: each command and the event it causes when accepted (section 4's table), in its order
CAUSES: Final[tuple[tuple[type[CommandData], type[EventData]], ...]] = (
    (StartInteraction, InteractionStarted),
    (IdentifyCustomer, InteractionCustomerIdentified),
    (QueueInteraction, InteractionQueued),
    (AssignAgent, InteractionAgentAssigned),
    (TransferInteraction, InteractionTransferred),
    (StartHold, InteractionHoldStarted),
    (EndHold, InteractionHoldEnded),
    (ResolveInteraction, InteractionResolved),
    (AbandonInteraction, InteractionAbandoned),
    (EndInteraction, InteractionEnded),
    (SignInAgent, AgentSignedIn),
    (SignOutAgent, AgentSignedOut),
)
COMMANDS: Final[dict[str, type[CommandData]]] = by_command_type(command for command, _ in CAUSES)
EVENTS: Final[dict[str, type[EventData]]] = by_event_type(event for _, event in CAUSES)
#: the event each command causes when accepted
EVENT_OF_COMMAND: Final[dict[str, str]] = {
    command.command_type: event.event_type for command, event in CAUSES
}
#: commands whose stream (and key) is the agent_id
AGENT_COMMANDS: Final[frozenset[str]] = frozenset(
    {SignInAgent.command_type, SignOutAgent.command_type}
)
