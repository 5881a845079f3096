"""The feedback decider: contract section 4, feedback (pure: no I/O).

Stream = feedback_id.

| command | events | rules (code when broken) |
| --- | --- | --- |
| submit_feedback | feedback.received, feedback.sentiment_scored, feedback.routed | \
  feedback_id new (conflict) |
| vote_idea | feedback.idea_voted | feedback exists (not_found); it is an idea (conflict); \
  not earlier than the idea's submission or this voter's last vote (out_of_order) |

Votes: one per voter per idea. A later vote by the same voter replaces the earlier
one (the state keeps the current vote per voter). Casting the same vote again is
accepted and emits ``feedback.idea_voted`` again: every accepted command has its
contract event, and the effect is idempotent (the voter's current vote is
unchanged), so consumers counting "current vote per voter" see no difference.

Ordering: votes of different voters come from different systems and partitions, so
a vote is only ``out_of_order`` against what it can be ordered with: the idea's
submission, and the same voter's previous vote (else an older vote arriving late
would replace a newer one). Different voters' votes may arrive in any order.

Events are keyed by customer_id, or by feedback_id when the feedback is anonymous
(customer_id null). A vote's event belongs to the idea's stream, so it carries the
idea author's customer_id and key; the voter is in its data (voter_customer_id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from leancrm_contracts import feedback as m
from leancrm_feedback.domain import routing, sentiment
from leancrm_servicekit.decider import (
    Command,
    DomainError,
    NewEvent,
    RecordedEvent,
    event_from_command,
)

PRODUCER = "feedback"


@dataclass(frozen=True, slots=True)
class NoFeedback:
    """A feedback stream with no events yet."""


@dataclass(frozen=True, slots=True)
class Vote:
    vote: int  # +1 / -1
    at: datetime


@dataclass(frozen=True, slots=True)
class Feedback:
    """One piece of feedback; ``votes`` holds each voter's current vote (ideas only)."""

    feedback_id: str
    customer_id: UUID | None
    source: str
    received_at: datetime
    label: str | None = None
    team: str | None = None
    votes: Mapping[str, Vote] = field(default_factory=dict)

    @property
    def is_idea(self) -> bool:
        return self.source == "idea"

    @property
    def net_votes(self) -> int:
        """The idea's net votes."""
        return sum(v.vote for v in self.votes.values())


FeedbackState = NoFeedback | Feedback


class FeedbackDecider:
    """The decider of feedback streams."""

    producer = PRODUCER

    def stream_id(self, command: Command) -> str:
        return str(command.data.feedback_id)  # type: ignore[attr-defined]  # both commands name it

    def initial_state(self) -> FeedbackState:
        return NoFeedback()

    def evolve(self, state: FeedbackState, event: RecordedEvent) -> FeedbackState:
        d = event.data
        at = event.occurred_at
        if event.event_type == m.FeedbackReceived.event_type:
            customer_id = d.get("customer_id")
            return Feedback(
                feedback_id=str(d["feedback_id"]),
                customer_id=UUID(str(customer_id)) if customer_id else None,
                source=str(d["source"]),
                received_at=at,
            )
        if not isinstance(state, Feedback):
            return state
        match event.event_type:
            case m.FeedbackSentimentScored.event_type:
                return replace(state, label=str(d["label"]))
            case m.FeedbackRouted.event_type:
                return replace(state, team=str(d["team"]))
            case m.FeedbackIdeaVoted.event_type:
                voter = str(d["voter_customer_id"])
                votes = {**state.votes, voter: Vote(vote=int(d["vote"]), at=at)}
                return replace(state, votes=votes)
            case _:
                return state

    def decide(self, state: FeedbackState, command: Command) -> Sequence[NewEvent]:
        data = command.data
        ct = command.command_type
        match data:
            case m.SubmitFeedback():
                return _submit(state, ct, data)
            case m.VoteIdea():
                return _vote(state, command, data)
        raise DomainError("invalid", f"command_type: {ct} is not a feedback command")


def _submit(state: FeedbackState, ct: str, data: m.SubmitFeedback) -> list[NewEvent]:
    fid = str(data.feedback_id)
    if isinstance(state, Feedback):
        raise DomainError(
            "conflict",
            f"{ct}: feedback {fid} already exists (a {state.source}); feedback_id must be new",
        )
    customer_id: UUID | None = data.customer_id
    key = str(customer_id) if customer_id is not None else fid
    scored = sentiment.score(data.text)
    rule = routing.route(
        routing.RoutingInput(
            source=_value(data.source),
            label=scored.label,
            has_interaction=data.interaction_id is not None,
            topic=data.topic,
            text=data.text,
        )
    )

    received = event_from_command(m.FeedbackReceived, data)
    sentiment_scored = event_from_command(
        m.FeedbackSentimentScored, data, score=scored.score, label=scored.label, scorer=scored.scorer
    )
    routed = event_from_command(m.FeedbackRouted, data, team=rule.team, reason=rule.reason)
    return [
        NewEvent(event, customer_id=customer_id, key=key)
        for event in (received, sentiment_scored, routed)
    ]


def _vote(state: FeedbackState, command: Command, data: m.VoteIdea) -> list[NewEvent]:
    ct = command.command_type
    fid = str(data.feedback_id)
    if not isinstance(state, Feedback):
        raise DomainError("not_found", f"{ct}: feedback {fid} does not exist")
    if not state.is_idea:
        raise DomainError(
            "conflict",
            f"{ct}: feedback {fid} is a {state.source}, not an idea; only ideas take votes",
        )
    voter = str(data.voter_customer_id)
    at = command.occurred_at
    if at < state.received_at:
        raise DomainError(
            "out_of_order",
            f"{ct}: occurred_at {at.isoformat()} is earlier than the submission of idea {fid} "
            f"({state.received_at.isoformat()})",
        )
    previous = state.votes.get(voter)
    if previous is not None and at < previous.at:
        raise DomainError(
            "out_of_order",
            f"{ct}: occurred_at {at.isoformat()} is earlier than voter {voter}'s last vote on "
            f"idea {fid} ({previous.at.isoformat()}); a vote replaces only an earlier one",
        )
    key = str(state.customer_id) if state.customer_id is not None else fid
    return [
        NewEvent(
            event_from_command(m.FeedbackIdeaVoted, data), customer_id=state.customer_id, key=key
        )
    ]


def _value(v: object) -> str:
    """An enum member's value, or the string itself."""
    return str(getattr(v, "value", v))
