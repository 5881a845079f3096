"""The feedback service (section 4). Stream = feedback_id; key = customer_id, or
feedback_id when anonymous.

``submit_feedback`` causes three events, each carrying the command's fields (optional
ones as ``null``): ``feedback.received``; ``feedback.sentiment_scored`` plus score
(−1..1), label and scorer (1–64 chars); ``feedback.routed`` plus team (a routing team)
and reason (a slug naming the routing rule, e.g. ``price_or_buying_signal``).

Free strings: text 1–5,000 characters (contract); topic 1–100 characters, not blank.
"""

from typing import Final
from uuid import UUID

from pydantic import BaseModel

from .base import CommandData, EventData, by_command_type, by_event_type
from .enums import FeedbackSource, Producer, Reason, RoutingTeam, SentimentLabel
from .fields import FeedbackText, Rating, Score, Scorer, Topic, Vote
from .topics import FEEDBACK_COMMANDS, FEEDBACK_EVENTS

PRODUCER: Final = Producer.FEEDBACK
COMMAND_TOPIC: Final = FEEDBACK_COMMANDS
EVENT_TOPIC: Final = FEEDBACK_EVENTS


class _Submission(BaseModel):
    feedback_id: UUID
    customer_id: UUID | None = None
    source: FeedbackSource
    text: FeedbackText
    rating: Rating | None = None
    interaction_id: UUID | None = None
    topic: Topic | None = None


class _Vote(BaseModel):
    feedback_id: UUID
    voter_customer_id: UUID
    vote: Vote


# -- commands -------------------------------------------------------------------------------


class SubmitFeedback(_Submission, CommandData):
    """``submit_feedback``: customer_id null for anonymous feedback; rating an integer
    0–10; feedback_id new."""

    command_type = "submit_feedback"


class VoteIdea(_Vote, CommandData):
    """``vote_idea``: vote exactly +1 or −1; a voter's second vote replaces the first."""

    command_type = "vote_idea"


# -- events ---------------------------------------------------------------------------------


class FeedbackReceived(_Submission, EventData):
    """``feedback.received``."""

    event_type = "feedback.received"


class FeedbackSentimentScored(_Submission, EventData):
    """``feedback.sentiment_scored``."""

    event_type = "feedback.sentiment_scored"

    score: Score
    label: SentimentLabel
    scorer: Scorer


class FeedbackRouted(_Submission, EventData):
    """``feedback.routed``."""

    event_type = "feedback.routed"

    team: RoutingTeam
    reason: Reason


class FeedbackIdeaVoted(_Vote, EventData):
    """``feedback.idea_voted``."""

    event_type = "feedback.idea_voted"


#: each command and the events it causes when accepted, in order (section 4's table)
CAUSES: Final[tuple[tuple[type[CommandData], tuple[type[EventData], ...]], ...]] = (
    (SubmitFeedback, (FeedbackReceived, FeedbackSentimentScored, FeedbackRouted)),
    (VoteIdea, (FeedbackIdeaVoted,)),
)
COMMANDS: Final[dict[str, type[CommandData]]] = by_command_type(command for command, _ in CAUSES)
EVENTS: Final[dict[str, type[EventData]]] = by_event_type(event for _, events in CAUSES for event in events)
#: the events each command causes when accepted, in order
EVENTS_OF_COMMAND: Final[dict[str, tuple[str, ...]]] = {
    command.command_type: tuple(event.event_type for event in events) for command, events in CAUSES
}
