"""The improvements service, declared for the service kit. It keeps no tables of its
own beyond the kit's (events, outbox, processed commands): the waste projector reads
its events into ``waste.improvements`` (contract section 6)."""

from __future__ import annotations

from leancrm_contracts import improvements, topics
from leancrm_improvements.domain.improvement import ImprovementsDecider
from leancrm_servicekit.command_service import CommandServiceSpec

SPEC = CommandServiceSpec(
    name="improvements",
    decider=ImprovementsDecider(),
    command_models=improvements.COMMANDS,
    command_topic=topics.IMPROVEMENTS_COMMANDS,
    event_topic=topics.IMPROVEMENTS_EVENTS,
    default_http_port=8105,
)
