"""The interactions service, declared for the service kit."""

from __future__ import annotations

from leancrm_contracts import interactions, topics
from leancrm_interactions.domain.decider import InteractionsDecider
from leancrm_servicekit.command_service import CommandServiceSpec

SPEC = CommandServiceSpec(
    name="interactions",
    decider=InteractionsDecider(),
    command_models=interactions.COMMANDS,
    command_topic=topics.INTERACTIONS_COMMANDS,
    event_topic=topics.INTERACTIONS_EVENTS,
    default_http_port=8102,
)
