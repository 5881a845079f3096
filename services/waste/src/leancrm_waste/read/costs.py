"""The seven wastes as operations rank them: what each one means at the front office,
and what one unit of it costs in seconds.

Counted wastes are priced in seconds of customers' and agents' time, so that the
wastes can be ranked against each other (the summary's Pareto, the huddle's top
three). The seven wastes themselves, and their order, are the domain's
(:data:`leancrm_waste.domain.wastes.WASTE_TYPES`). The service's settings read the
overrides (``LEANCRM_WASTE_COST_SECONDS``, :class:`leancrm_waste.settings.CostSettings`);
this module only parses them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from leancrm_waste.domain.assignments import assignments
from leancrm_waste.domain.wastes import WASTE_TYPES

#: What each waste means at the front office, in the words of the post.
WASTE_WORDS: Final[Mapping[str, str]] = {
    "waiting": "customers held in a queue or on hold",
    "overproduction": "too many agents for the demand: idle time beyond the target occupancy",
    "over_processing": "customers asked to identify again",
    "motion": "contacts handed on to another agent",
    "transportation": "contacts moved to another channel",
    "defects": "the first agent can't answer: unresolved, resolved only after a transfer, "
               "or the customer has to come back",
    "inventory": "work that waited more than 24 hours before it was done",
}

#: Cost in seconds of one unit of each waste: the time a unit takes from customers and
#: agents. ``waiting`` and ``overproduction`` are measured in seconds already (1 s = 1 s);
#: the others are counts, costed at these time equivalents. Override any count with
#: ``LEANCRM_WASTE_COST_SECONDS="over_processing=45,defects=420"`` (or the huddle's
#: ``--cost``).
DEFAULT_COST_SECONDS: Final[Mapping[str, float]] = {
    "waiting": 1.0,          # seconds of queue and hold time, as measured
    "overproduction": 1.0,   # idle agent seconds beyond the target occupancy, as measured
    "over_processing": 30.0,  # an identification asked again: account number, security questions
    "motion": 60.0,          # a same-channel hand-off: the next agent reads up, the customer re-explains
    "transportation": 180.0,  # a channel switch: the customer starts over in another channel
    "defects": 300.0,        # a contact not done right first time: about one more contact's handling
    "inventory": 600.0,      # an item that aged past 24 h: chasing, re-reading and apologising
}
COST_RATIONALE: Final[Mapping[str, str]] = {
    "waiting": "seconds as measured (queue and hold)",
    "overproduction": "seconds as measured (idle beyond target)",
    "over_processing": "one identification asked again",
    "motion": "one hand-off to another agent: reading up, the customer re-explains",
    "transportation": "one channel switch: the customer starts over elsewhere",
    "defects": "one contact not done right first time: about one more contact's handling",
    "inventory": "one item aged past 24 h: chasing and re-reading",
}
MEASURED_IN_SECONDS: Final = frozenset({"waiting", "overproduction"})


def parse_costs(text: str) -> dict[str, float]:
    """``"over_processing=45, defects=420"`` → ``{"over_processing": 45.0, ...}``."""
    out: dict[str, float] = {}
    for part, name, value in assignments(text):
        if value is None or name not in WASTE_TYPES:
            raise ValueError(f"{part!r}: expected <waste_type>=<seconds> with a waste type of "
                             f"{', '.join(sorted(set(WASTE_TYPES) - MEASURED_IN_SECONDS))}")
        if name in MEASURED_IN_SECONDS:
            raise ValueError(f"{name} is measured in seconds already; its cost is 1 s per second")
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value!r} is not a number of seconds") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{part!r}: seconds must be 0 or more")
        out[name] = seconds
    return out


def cost_table(configured: str = "", overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The defaults, then ``configured`` (the text of ``LEANCRM_WASTE_COST_SECONDS`` as
    the settings read it: ``CostSettings.waste_cost_seconds``), then ``overrides``."""
    table = dict(DEFAULT_COST_SECONDS)
    table.update(parse_costs(configured))
    if overrides:
        table.update(overrides)
    return table
