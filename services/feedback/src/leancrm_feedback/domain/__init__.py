"""The feedback domain (pure: no I/O): intake, sentiment, routing, idea votes."""

from leancrm_feedback.domain.decider import (
    Feedback,
    FeedbackDecider,
    FeedbackState,
    NoFeedback,
    Vote,
)
from leancrm_feedback.domain.routing import RULES, RoutingInput, Rule, route, routing_table_markdown
from leancrm_feedback.domain.sentiment import Sentiment, score

__all__ = [
    "RULES",
    "Feedback",
    "FeedbackDecider",
    "FeedbackState",
    "NoFeedback",
    "RoutingInput",
    "Rule",
    "Sentiment",
    "Vote",
    "route",
    "routing_table_markdown",
    "score",
]
