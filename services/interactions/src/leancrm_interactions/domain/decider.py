"""The interactions decider: contract section 4, interactions (pure: no I/O).

Two stream kinds share one decider: an interaction (stream = interaction_id) and
an agent (stream = agent_id); ``stream_id`` picks by command type.

| command | event | rules (code when broken) |
| --- | --- | --- |
| start_interaction | interaction.started | interaction_id new (conflict) |
| identify_customer | interaction.customer_identified | open |
| queue_interaction | interaction.queued | open; not already queued |
| assign_agent | interaction.agent_assigned | open; no agent currently assigned; clears "queued" |
| transfer_interaction | interaction.transferred | open; an agent is assigned (ends any hold, \
  releases the agent, queues again on to_queue, channel becomes to_channel) |
| start_hold | interaction.hold_started | open; an agent is assigned; not already on hold |
| end_hold | interaction.hold_ended | open; on hold |
| resolve_interaction | interaction.resolved | open; not resolved; not abandoned; \
  resolved_by agent: an agent is assigned |
| abandon_interaction | interaction.abandoned | open; not resolved; not already abandoned |
| end_interaction | interaction.ended | open; ends any hold; terminal afterwards |
| sign_in_agent | agent.signed_in | agent not signed in |
| sign_out_agent | agent.signed_out | agent signed in |

Checks run in this order, the first broken one decides the error:

1. identity: a command other than start_interaction / sign_in_agent on a stream
   with no events is ``not_found``; start_interaction on an existing stream is
   ``conflict``; a command of one stream kind on a stream of the other kind (an
   agent_id equal to an interaction_id) is ``conflict``;
2. ``out_of_order``: the command's occurred_at is earlier than the stream's last
   event (equal is fine). It precedes the business rules because those are judged
   on the stream's state as of its last event, which the command did not see;
3. terminal: every command on an ended interaction is ``conflict``;
4. the command's own rules (``conflict``).

"Open" means not ended. Ending or transferring during a hold emits only
``interaction.ended`` / ``interaction.transferred``: the hold ends with it (no
``interaction.hold_ended`` is emitted; the waste projector ends a hold episode at
either event).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from leancrm_contracts import interactions as m
from leancrm_contracts.base import EventData
from leancrm_contracts.enums import ResolvedBy
from leancrm_interactions.domain.state import Agent, Interaction, NoStream, State, evolve
from leancrm_servicekit.decider import (
    Command,
    DomainError,
    NewEvent,
    RecordedEvent,
    event_from_command,
)

PRODUCER = "interactions"


class InteractionsDecider:
    """The decider of interaction and agent streams."""

    producer = PRODUCER

    def stream_id(self, command: Command) -> str:
        data = command.data
        if isinstance(data, m.SignInAgent | m.SignOutAgent):
            return str(data.agent_id)
        return str(data.interaction_id)  # type: ignore[attr-defined]  # every other command names it

    def initial_state(self) -> State:
        return NoStream()

    def evolve(self, state: State, event: RecordedEvent) -> State:
        return evolve(state, event)

    def decide(self, state: State, command: Command) -> Sequence[NewEvent]:
        data = command.data
        if isinstance(data, m.SignInAgent | m.SignOutAgent):
            return _decide_agent(state, command, data)
        if isinstance(data, _INTERACTION_COMMANDS):
            return _decide_interaction(state, command, data)
        raise DomainError(
            "invalid", f"command_type: {command.command_type} is not an interactions command"
        )


_INTERACTION_COMMANDS = (
    m.StartInteraction,
    m.IdentifyCustomer,
    m.QueueInteraction,
    m.AssignAgent,
    m.TransferInteraction,
    m.StartHold,
    m.EndHold,
    m.ResolveInteraction,
    m.AbandonInteraction,
    m.EndInteraction,
)


# --- interactions -------------------------------------------------------------------


def _decide_interaction(state: State, command: Command, data: BaseModel) -> list[NewEvent]:
    ct = command.command_type
    iid = str(data.interaction_id)  # type: ignore[attr-defined]

    if isinstance(data, m.StartInteraction):
        if isinstance(state, Interaction):
            raise DomainError(
                "conflict",
                f"{ct}: interaction {iid} already exists (started on {state.channel}); "
                "interaction_id must be new",
            )
        if isinstance(state, Agent):
            raise _kind_conflict(ct, iid, "an agent")
        return [_event(event_from_command(m.InteractionStarted, data), data.customer_id)]

    if isinstance(state, NoStream):
        raise DomainError("not_found", f"{ct}: interaction {iid} does not exist (never started)")
    if isinstance(state, Agent):
        raise _kind_conflict(ct, iid, "an agent")
    _check_order(ct, f"interaction {iid}", state.last_at, command.occurred_at)
    if state.ended:
        raise DomainError(
            "conflict",
            f"{ct}: interaction {iid} has ended; an ended interaction is terminal "
            "and takes no further commands",
        )

    match data:
        case m.IdentifyCustomer():
            event: NewEvent = _on(state, event_from_command(m.InteractionCustomerIdentified, data))
        case m.QueueInteraction():
            if state.queue is not None:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} is already queued on {state.queue}; "
                    "assign an agent or end it first",
                )
            event = _on(state, event_from_command(m.InteractionQueued, data))
        case m.AssignAgent():
            if state.agent_id is not None:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} already has agent {state.agent_id} assigned; "
                    "transfer or end it first",
                )
            event = _on(state, event_from_command(m.InteractionAgentAssigned, data))
        case m.TransferInteraction():
            if state.agent_id is None:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} has no agent assigned; "
                    "only an assigned interaction can be transferred",
                )
            to_channel = data.to_channel if data.to_channel is not None else state.channel
            transferred = event_from_command(
                m.InteractionTransferred,
                data,
                from_agent_id=state.agent_id,
                from_channel=state.channel,
                to_channel=to_channel,
            )
            event = _on(state, transferred)
        case m.StartHold():
            if state.agent_id is None:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} has no agent assigned; "
                    "only an assigned interaction can be put on hold",
                )
            if state.on_hold:
                raise DomainError("conflict", f"{ct}: interaction {iid} is already on hold")
            event = _on(state, event_from_command(m.InteractionHoldStarted, data))
        case m.EndHold():
            if not state.on_hold:
                raise DomainError("conflict", f"{ct}: interaction {iid} is not on hold")
            event = _on(state, event_from_command(m.InteractionHoldEnded, data))
        case m.ResolveInteraction():
            if state.resolved:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} is already resolved (by {state.resolved_by})",
                )
            if state.abandoned:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} was abandoned (at {state.abandoned_stage}); "
                    "an abandoned interaction cannot be resolved",
                )
            if data.resolved_by == ResolvedBy.AGENT and state.agent_id is None:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} has no agent assigned; resolved_by agent "
                    "needs one (assign_agent first, or resolve by self_service, "
                    "community or bot)",
                )
            event = _on(state, event_from_command(m.InteractionResolved, data))
        case m.AbandonInteraction():
            if state.resolved:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} is resolved (by {state.resolved_by}); "
                    "a resolved interaction cannot be abandoned",
                )
            if state.abandoned:
                raise DomainError(
                    "conflict",
                    f"{ct}: interaction {iid} is already abandoned (at {state.abandoned_stage})",
                )
            event = _on(state, event_from_command(m.InteractionAbandoned, data))
        case m.EndInteraction():
            event = _on(state, event_from_command(m.InteractionEnded, data))
        case _:  # pragma: no cover - _INTERACTION_COMMANDS is exhaustive
            raise DomainError("invalid", f"command_type: {ct} is not an interactions command")
    return [event]


def _on(state: Interaction, data: EventData) -> NewEvent:
    """An event of an open interaction: keyed by the customer it was started for."""
    return _event(data, state.customer_id)


def _event(data: EventData, customer_id: UUID) -> NewEvent:
    return NewEvent(data, customer_id=customer_id, key=str(customer_id))


# --- agents ---------------------------------------------------------------------------


def _decide_agent(
    state: State, command: Command, data: m.SignInAgent | m.SignOutAgent
) -> list[NewEvent]:
    ct = command.command_type
    aid = str(data.agent_id)
    if isinstance(state, Interaction):
        raise _kind_conflict(ct, aid, "an interaction")

    if isinstance(data, m.SignInAgent):
        if isinstance(state, Agent):
            _check_order(ct, f"agent {aid}", state.last_at, command.occurred_at)
            if state.signed_in:
                raise DomainError(
                    "conflict",
                    f"{ct}: agent {aid} is already signed in (team {state.team}); sign out first",
                )
        return [_agent_event(event_from_command(m.AgentSignedIn, data), aid)]

    if isinstance(state, NoStream):
        raise DomainError("not_found", f"{ct}: agent {aid} does not exist (never signed in)")
    _check_order(ct, f"agent {aid}", state.last_at, command.occurred_at)
    if not state.signed_in:
        raise DomainError("conflict", f"{ct}: agent {aid} is not signed in")
    return [_agent_event(event_from_command(m.AgentSignedOut, data), aid)]


def _agent_event(data: EventData, agent_id: str) -> NewEvent:
    """An agent's event: no customer (envelope customer_id null), keyed by agent_id."""
    return NewEvent(data, customer_id=None, key=agent_id)


# --- shared ---------------------------------------------------------------------------


def _check_order(ct: str, what: str, last_at: datetime, occurred_at: datetime) -> None:
    if occurred_at < last_at:
        raise DomainError(
            "out_of_order",
            f"{ct}: occurred_at {occurred_at.isoformat()} is earlier than the last event of "
            f"{what} ({last_at.isoformat()}); a stream's time never goes backwards",
        )


def _kind_conflict(ct: str, stream: str, kind: str) -> DomainError:
    return DomainError(
        "conflict", f"{ct}: stream {stream} already holds {kind}; ids of the two kinds must differ"
    )
