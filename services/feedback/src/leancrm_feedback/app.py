"""The feedback service, declared for the service kit."""

from __future__ import annotations

from leancrm_contracts import feedback, topics
from leancrm_feedback.domain.decider import FeedbackDecider
from leancrm_servicekit.command_service import CommandServiceSpec

SPEC = CommandServiceSpec(
    name="feedback",
    decider=FeedbackDecider(),
    command_models=feedback.COMMANDS,
    command_topic=topics.FEEDBACK_COMMANDS,
    event_topic=topics.FEEDBACK_EVENTS,
    default_http_port=8103,
)
