"""waste.value_stream_daily rates, hourly sums and backlog bands (contract section 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from leancrm_waste.domain.capacity import CapacityHour, overproduction_rows
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import InteractionFigures, summarise_interaction
from leancrm_waste.domain.rates import (
    HourlyMetrics,
    ValueStreamRates,
    WasteColumns,
    backlog,
    backlog_age_band,
    hourly_metrics,
    value_stream_daily,
    value_stream_rates,
    waste_columns_daily,
)
from leancrm_waste.domain.repeats import InteractionStart, link_interactions, repeat_contact_rows
from leancrm_waste.domain.wastes import interaction_wastes

D = datetime(2026, 11, 23, tzinfo=UTC)


def t(hh: int, mm: int, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hh, minutes=mm)


def contact(iid: str, customer: str, *steps: tuple[str, datetime, dict[str, Any]]) -> InteractionFigures:
    evs = [Event(f"{iid}{n}", f"interaction.{kind}", at, {"interaction_id": iid, **data})
           for n, (kind, at, data) in enumerate(steps)]
    first = evs[0]
    evs[0] = Event(first.event_id, first.event_type, first.occurred_at,
                   {**first.data, "customer_id": customer, "channel": "chat", "reason": "billing"})
    return summarise_interaction(evs)


def s(kind: str, at: datetime, **data: Any) -> tuple[str, datetime, dict[str, Any]]:
    return (kind, at, data)


def transfer(at: datetime) -> tuple[str, datetime, dict[str, Any]]:
    return s("transferred", at, to_queue="q", to_channel="chat", reason="x", from_agent_id="a",
             from_channel="chat")


# A day of five billing chats, worked by hand:
A = contact("A", "c1", s("started", t(9, 0)), s("queued", t(9, 0)),
            s("agent_assigned", t(9, 2), agent_id="a", team="ta"),       # queue 120
            s("resolved", t(9, 6), resolved_by="agent"), s("ended", t(9, 8)))  # handle 360 = VA; lead 480
B = contact("B", "c1", s("started", t(10, 0)), s("queued", t(10, 0)),    # repeat of A
            s("agent_assigned", t(10, 1), agent_id="a", team="ta"),      # queue 60
            transfer(t(10, 3)),                                          # handle 120; handoff
            s("agent_assigned", t(10, 7), agent_id="b", team="tb"),      # queue 240
            s("resolved", t(10, 9), resolved_by="agent"),
            s("ended", t(10, 10)))                                       # handle 180 = VA; lead 600
C = contact("C", "c2", s("started", t(11, 0)), s("queued", t(11, 0)),
            s("abandoned", t(11, 5), stage="queue"), s("ended", t(11, 5)))  # queue 300; lead 300
E = contact("E", "c3", s("started", t(12, 0)), s("resolved", t(12, 3), resolved_by="bot"),
            s("ended", t(12, 4)))                                        # VA 180; lead 240
F = contact("F", "c4", s("started", t(13, 0)), s("queued", t(13, 0)),
            s("agent_assigned", t(13, 10), agent_id="c", team="tc"))     # queue 600; still open
DAY_ONE = [A, B, C, E, F]


def test_value_stream_rates_of_a_day_worked_by_hand() -> None:
    records = link_interactions(DAY_ONE)
    assert [(r.figures.interaction_id, r.repeat_of, r.first_contact_resolution) for r in records] == [
        ("A", None, False), ("B", "A", False), ("C", None, False), ("E", None, True), ("F", None, False)]
    assert value_stream_rates(records) == ValueStreamRates(
        contacts=5,
        fcr_rate=0.2,                  # E only (A has a repeat, B a transfer)
        failure_demand_rate=0.2,       # B
        transfer_rate=0.2,             # B
        abandonment_rate=0.2,          # C
        avg_speed_of_answer_s=340.0,   # A 120, B 300, F 600 reached an agent: 1020 / 3
        avg_handle_s=220.0,            # (360 + 300 + 0) / 3
        flow_efficiency=4 / 9,         # ended A, B, C, E: (360 + 180 + 0 + 180) / (480 + 600 + 300 + 240)
    )


def test_rates_without_a_denominator_are_none() -> None:
    assert value_stream_rates([]) == ValueStreamRates(0, None, None, None, None, None, None, None)
    only_open = link_interactions([contact("G", "c9", s("started", t(9, 0)))])
    assert value_stream_rates(only_open) == ValueStreamRates(
        1, 0.0, 0.0, 0.0, 0.0, None, None, None)


def test_value_stream_daily_groups_by_the_utc_day_of_start() -> None:
    late = contact("L", "c5", s("started", t(23, 59)), s("resolved", t(0, 1, day=1), resolved_by="bot"),
                   s("ended", t(0, 2, day=1)))
    next_day = contact("N", "c6", s("started", t(0, 0, day=1)), s("ended", t(0, 10, day=1)))
    daily = value_stream_daily(link_interactions([*DAY_ONE, late, next_day]))
    assert sorted(daily) == [(date(2026, 11, 23), "chat", "billing"), (date(2026, 11, 24), "chat", "billing")]
    assert daily[(date(2026, 11, 23), "chat", "billing")].contacts == 6
    assert daily[(date(2026, 11, 24), "chat", "billing")] == ValueStreamRates(
        1, 0.0, 0.0, 0.0, 0.0, None, None, 0.0)


def test_waste_columns_sum_the_ledger_rows_of_the_day() -> None:
    ledger = [row for f in DAY_ONE for row in interaction_wastes(f)]
    starts = [x for x in (InteractionStart.from_figures(f) for f in (A, B)) if x is not None]
    ledger += repeat_contact_rows(starts)
    ledger += overproduction_rows([CapacityHour(t(9, 0), "ta", 3600.0, 0.0, 3600.0, 0.0, 3060.0)])
    assert waste_columns_daily(ledger + ledger[:3]) == {
        (date(2026, 11, 23), "chat", "billing"): WasteColumns(
            waiting_s=1320.0,     # queues A 120, B 60 + 240, C 300, F 600 (closed at 13:10)
            over_processing=0, motion=1, transportation=0,
            defects=3,            # B not_first_agent, C unresolved, A repeat_contact (at B's start)
            inventory=0)}


def test_hourly_metrics_attribute_to_the_hour_of_start() -> None:
    hours = hourly_metrics(link_interactions(DAY_ONE))
    assert hours[(t(10, 0), "chat", "billing")] == HourlyMetrics(
        contacts=1, resolved=1, first_contact_resolutions=0, failure_demand=1, transfers=1, abandoned=0,
        queue_wait_s=300.0, hold_s=0.0, handle_s=300.0, value_added_s=180.0, lead_time_s=600.0)
    assert hours[(t(13, 0), "chat", "billing")] == HourlyMetrics(
        contacts=1, resolved=0, first_contact_resolutions=0, failure_demand=0, transfers=0, abandoned=0,
        queue_wait_s=600.0, hold_s=0.0, handle_s=0.0, value_added_s=0.0, lead_time_s=None)
    assert len(hours) == 5


@pytest.mark.parametrize(("age_s", "band"), [
    (-5.0, "<1h"), (0.0, "<1h"), (3599.999999, "<1h"), (3600.0, "1-24h"), (86400.0, "1-24h"),
    (86400.000001, ">24h"), (10 * 86400.0, ">24h"),
])
def test_backlog_age_bands(age_s: float, band: str) -> None:
    assert backlog_age_band(age_s) == band


def test_backlog_counts_what_has_not_ended_by_channel_and_age() -> None:
    resolved_not_ended = contact("H", "c7", s("started", t(9, 30)),
                                 s("resolved", t(9, 31), resolved_by="bot"))
    old = contact("O", "c8", s("started", t(13, 29, day=-1)))
    now = t(13, 30)
    # F 30 min (<1h); H 4 h (1-24h); O 24 h 1 min (>24h); A, B, C, E have ended
    assert backlog([*DAY_ONE, resolved_not_ended, old], now) == {
        ("chat", "<1h"): 1, ("chat", "1-24h"): 1, ("chat", ">24h"): 1}
