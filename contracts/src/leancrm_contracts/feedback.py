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

from .base import CommandData, EventData
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


class VoteIdea(_Vote, CommandData):
    """``vote_idea``: vote exactly +1 or −1; a voter's second vote replaces the first."""


# -- events ---------------------------------------------------------------------------------


class FeedbackReceived(_Submission, EventData):
    """``feedback.received``."""


class FeedbackSentimentScored(_Submission, EventData):
    """``feedback.sentiment_scored``."""

    score: Score
    label: SentimentLabel
    scorer: Scorer


class FeedbackRouted(_Submission, EventData):
    """``feedback.routed``."""

    team: RoutingTeam
    reason: Reason


class FeedbackIdeaVoted(_Vote, EventData):
    """``feedback.idea_voted``."""


COMMANDS: Final[dict[str, type[BaseModel]]] = {
    "submit_feedback": SubmitFeedback,
    "vote_idea": VoteIdea,
}
EVENTS: Final[dict[str, type[BaseModel]]] = {
    "feedback.received": FeedbackReceived,
    "feedback.sentiment_scored": FeedbackSentimentScored,
    "feedback.routed": FeedbackRouted,
    "feedback.idea_voted": FeedbackIdeaVoted,
}
#: the events each command causes when accepted, in order
EVENTS_OF_COMMAND: Final[dict[str, tuple[str, ...]]] = {
    "submit_feedback": ("feedback.received", "feedback.sentiment_scored", "feedback.routed"),
    "vote_idea": ("feedback.idea_voted",),
}
