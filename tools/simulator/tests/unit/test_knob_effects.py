"""Each knob moves the figures it is documented to move, measured on the generated commands.

Low and high settings of one knob, everything else (seed included) the same; the
figures are the contract's section 5 definitions computed from the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from leancrm_simulator.figures import Figures, measure
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import SimCommand

Make = Callable[[Knobs], tuple[SimCommand, ...]]


def _pair(make: Make, base: Knobs, **changes: tuple[Any, Any]
          ) -> tuple[tuple[SimCommand, ...], tuple[SimCommand, ...]]:
    low = base.replace(**{k: v[0] for k, v in changes.items()})
    high = base.replace(**{k: v[1] for k, v in changes.items()})
    return make(low), make(high)


def _figures(make: Make, base: Knobs, **changes: tuple[Any, Any]) -> tuple[Figures, Figures]:
    low, high = _pair(make, base, **changes)
    return measure(low), measure(high)


def _count(commands: tuple[SimCommand, ...], command_type: str, **match: Any) -> int:
    return sum(1 for c in commands if c.command_type == command_type
               and all(c.data.get(k) == v for k, v in match.items()))


def test_more_staff_means_more_staffed_time_per_contact_lower_occupancy_more_overproduction(
        make: Make, base: Knobs) -> None:
    low, high = _figures(make, base.replace(agents_per_team=8), staffing=(1.0, 2.5))
    assert high.staffed_s_per_contact > 1.3 * low.staffed_s_per_contact  # type: ignore[operator]
    assert high.occupancy < low.occupancy  # type: ignore[operator]
    assert high.overproduction_s > 1.3 * low.overproduction_s


def test_a_bigger_pool_lets_planners_roster_more(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base.replace(staffing=3.0), agents_per_team=(2, 8))
    assert high.staffed_s > 1.3 * low.staffed_s
    assert high.overproduction_s > low.overproduction_s


def test_understaffing_makes_customers_wait_and_give_up(make: Make, base: Knobs) -> None:
    tight, ample = _figures(make, base.replace(contact_rate=6.0), agents_per_team=(1, 6))
    assert tight.queue_wait_s_by_channel["phone"] > 2 * ample.queue_wait_s_by_channel["phone"]
    assert tight.abandoned > ample.abandoned


def test_fewer_reidentifications_mean_less_over_processing(make: Make, base: Knobs) -> None:
    low, high = _pair(make, base, reidentify=(0.1, 0.9))
    assert _count(low, "identify_customer", step="agent") < 0.6 * _count(
        high, "identify_customer", step="agent")
    assert measure(low).over_processing < 0.5 * measure(high).over_processing


def test_more_transfers_mean_more_motion_and_transportation(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, transfer=(0.1, 0.9))
    assert high.motion > 2 * low.motion
    assert high.transportation > 2 * low.transportation
    assert high.unresolved < low.unresolved


def test_cross_channel_share_turns_motion_into_transportation(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, cross_channel=(0.0, 0.9))
    assert low.transportation == 0 < high.transportation
    assert high.motion < low.motion


def test_first_contact_resolution_skill_cuts_defects_and_failure_demand(
        make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, fcr=(0.4, 0.95))
    assert high.fcr_rate > low.fcr_rate + 0.1  # type: ignore[operator]
    assert high.failure_demand_rate < low.failure_demand_rate  # type: ignore[operator]
    assert high.defects < low.defects


def test_more_self_service_means_more_pulled_value(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, self_service=(0.1, 0.6))
    pulled = ("self_service", "community", "bot")
    assert sum(high.resolved_by[r] for r in pulled) > 3 * sum(low.resolved_by[r] for r in pulled)
    assert high.resolved_by["agent"] < low.resolved_by["agent"]


def test_feedback_rate_scales_feedback_and_votes(make: Make, base: Knobs) -> None:
    low, high = _pair(make, base, feedback_rate=(0.1, 0.6))
    assert _count(high, "submit_feedback") > 3 * _count(low, "submit_feedback")
    assert _count(high, "vote_idea") > 3 * _count(low, "vote_idea")


def test_email_backlog_share_builds_inventory(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, email_backlog=(0.0, 0.6))
    assert high.inventory > 2 * max(1, low.inventory)
    assert high.still_open > low.still_open


def test_contact_rate_and_customers_scale_demand(make: Make, base: Knobs) -> None:
    low, high = _figures(make, base, contact_rate=(1.0, 4.0))
    assert high.contacts > 3 * low.contacts
    few, many = _figures(make, base, customers=(100, 400))
    assert many.customers_registered == 400 and few.customers_registered == 100
    assert many.contacts > 3 * few.contacts


@pytest.mark.parametrize("days", [1, 3, 10])
def test_days_set_the_simulated_span(make: Make, base: Knobs, days: int) -> None:
    commands = make(base.replace(days=days, customers=60))
    span_ms = commands[-1].at_ms - commands[0].at_ms
    assert (days - 1) * 86_400_000 < span_ms < days * 86_400_000
