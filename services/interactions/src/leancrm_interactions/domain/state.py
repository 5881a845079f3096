"""The states of the two stream kinds the interactions service keeps, and their fold.

A stream is either an *interaction* (stream_id = interaction_id) or an *agent*
(stream_id = agent_id). Before its first event a stream is ``NoStream``; the first
event decides which kind it becomes (``interaction.started`` or ``agent.signed_in``).
Every state remembers the ``occurred_at`` of the stream's last event, for the
``out_of_order`` rule.

The fold reads event data as stored (JSON: UUIDs and enums as strings), so it
dispatches on the recorded ``event_type`` — compared with the type each contract
model names, never a copy of the string — and ignores event types it does not know,
so an older service can still read a newer stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from leancrm_contracts import interactions as m
from leancrm_servicekit.decider import RecordedEvent


@dataclass(frozen=True, slots=True)
class NoStream:
    """A stream with no events yet: neither an interaction nor an agent."""


@dataclass(frozen=True, slots=True)
class Interaction:
    """One contact, from ``interaction.started`` to ``interaction.ended``.

    ``queue`` is the queue it waits in (None when not waiting), ``agent_id`` the
    agent currently handling it (None when none is), ``channel`` the current
    channel (a transfer may move it to another one).
    """

    interaction_id: str
    customer_id: UUID
    channel: str
    reason: str
    last_at: datetime
    queue: str | None = None
    agent_id: str | None = None
    on_hold: bool = False
    resolved_by: str | None = None
    abandoned_stage: str | None = None
    ended: bool = False

    @property
    def resolved(self) -> bool:
        return self.resolved_by is not None

    @property
    def abandoned(self) -> bool:
        return self.abandoned_stage is not None


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's sign-in state; ``team`` is the team given at the current sign-in."""

    agent_id: str
    last_at: datetime
    signed_in: bool = False
    team: str | None = None
    signed_in_at: datetime | None = None


#: What the interactions decider folds: one of the three.
State = NoStream | Interaction | Agent


def evolve(state: State, event: RecordedEvent) -> State:
    """The state after one recorded event of either stream kind."""
    d = event.data
    at = event.occurred_at
    if event.event_type == m.InteractionStarted.event_type:
        return Interaction(
            interaction_id=str(d["interaction_id"]),
            customer_id=UUID(str(d["customer_id"])),
            channel=str(d["channel"]),
            reason=str(d["reason"]),
            last_at=at,
        )
    if event.event_type == m.AgentSignedIn.event_type:
        agent_id = state.agent_id if isinstance(state, Agent) else str(d["agent_id"])
        return Agent(agent_id=agent_id, last_at=at, signed_in=True, team=str(d["team"]),
                     signed_in_at=at)
    if isinstance(state, Agent):
        if event.event_type == m.AgentSignedOut.event_type:
            return replace(state, last_at=at, signed_in=False, team=None, signed_in_at=None)
        return replace(state, last_at=at)
    if isinstance(state, Interaction):
        return _evolve_interaction(state, event.event_type, d, at)
    return state


def _evolve_interaction(
    state: Interaction, event_type: str, data: Mapping[str, Any], at: datetime
) -> Interaction:
    match event_type:
        case m.InteractionQueued.event_type:
            return replace(state, last_at=at, queue=str(data["queue"]))
        case m.InteractionAgentAssigned.event_type:
            return replace(state, last_at=at, queue=None, agent_id=str(data["agent_id"]))
        case m.InteractionTransferred.event_type:
            # the agent is released, any hold ends, and the contact waits again on
            # to_queue, on the channel it was transferred to
            return replace(
                state,
                last_at=at,
                queue=str(data["to_queue"]),
                agent_id=None,
                on_hold=False,
                channel=str(data.get("to_channel") or state.channel),
            )
        case m.InteractionHoldStarted.event_type:
            return replace(state, last_at=at, on_hold=True)
        case m.InteractionHoldEnded.event_type:
            return replace(state, last_at=at, on_hold=False)
        case m.InteractionResolved.event_type:
            return replace(state, last_at=at, resolved_by=str(data["resolved_by"]))
        case m.InteractionAbandoned.event_type:
            return replace(state, last_at=at, abandoned_stage=str(data["stage"]))
        case m.InteractionEnded.event_type:
            # ending ends any hold; the interaction is terminal from here on
            return replace(state, last_at=at, on_hold=False, ended=True)
        case _:
            # interaction.customer_identified and types this version does not know
            return replace(state, last_at=at)
