"""Service level, speed of answer, demand by type and lead-time percentiles (contract
section 5, "Service level, demand and lead times"), on contacts worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leancrm_contracts.enums import Channel
from leancrm_waste.domain.demand import Demand, LeadTimes, demand_daily, lead_time_daily
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import InteractionFigures, summarise_interaction
from leancrm_waste.domain.repeats import link_interactions
from leancrm_waste.domain.service_level import (
    CHANNELS,
    DEFAULT_THRESHOLDS,
    ServiceLevel,
    parse_thresholds,
    percentile_cont,
    service_level,
    service_level_hourly,
)

D = datetime(2026, 11, 23, 9, tzinfo=UTC)


def t(seconds: float, day: int = 0) -> datetime:
    return D + timedelta(days=day, seconds=seconds)


Step = tuple[str, datetime, dict[str, Any]]


def s(kind: str, at: datetime, **data: Any) -> Step:
    return (kind, at, data)


def contact(iid: str, *steps: Step, channel: str = "phone", reason: str = "billing",
            customer: str | None = None) -> InteractionFigures:
    evs = [Event(f"{iid}{n}", f"interaction.{kind}", at, {"interaction_id": iid, **data})
           for n, (kind, at, data) in enumerate(steps)]
    first = evs[0]
    evs[0] = Event(first.event_id, first.event_type, first.occurred_at,
                   {**first.data, "customer_id": customer or f"c-{iid}", "channel": channel,
                    "reason": reason})
    return summarise_interaction(evs)


def answered(iid: str, start: float, wait: float, **kw: Any) -> InteractionFigures:
    return contact(iid, s("started", t(start)), s("queued", t(start)),
                   s("agent_assigned", t(start + wait), agent_id="a", team="care"),
                   s("resolved", t(start + wait + 60), resolved_by="agent"),
                   s("ended", t(start + wait + 60)), **kw)


# Phone, hour 09:00, threshold 20 s:
PHONE = [
    answered("A", 0, 10),                                                      # within
    answered("B", 60, 20),                                                     # within: 20 ≤ 20
    answered("C", 120, 50),                                                    # answered late
    contact("D", s("started", t(180)), s("queued", t(180)),
            s("abandoned", t(195), stage="queue"), s("ended", t(195))),       # short abandon: left out
    contact("E", s("started", t(240)), s("queued", t(240)),
            s("abandoned", t(280), stage="queue"), s("ended", t(280))),       # abandoned after 40 s: against
    contact("F", s("started", t(300)), s("queued", t(300))),                  # still queued: left out
    contact("G", s("started", t(360)), s("queued", t(360)), s("ended", t(460))),  # never answered, 100 s
    contact("H", s("started", t(420)), s("abandoned", t(425), stage="ivr")),  # gave up in the IVR: left out
]


def test_service_level_of_an_hour_worked_by_hand() -> None:
    assert service_level(link_interactions(PHONE), 20.0) == ServiceLevel(
        threshold_s=20.0, contacts=8,
        offered=5,                      # A B C answered + E G abandoned after the threshold
        answered=3, answered_within_threshold=2, abandoned_after_threshold=2,
        service_level=0.4,
        avg_speed_of_answer_s=80 / 3,   # (10 + 20 + 50) / 3
        p90_speed_of_answer_s=44.0)     # h = 0.9 · 2 = 1.8: 20 + 0.8 · (50 − 20)


def test_a_transfer_counts_the_whole_queue_wait_and_a_hold_abandon_is_answered() -> None:
    re_queued = contact("T", s("started", t(0)), s("queued", t(0)),
                        s("agent_assigned", t(15), agent_id="a", team="care"),
                        s("transferred", t(100), to_queue="q2", reason="x", from_agent_id="a",
                          from_channel="phone", to_channel="phone"),
                        s("agent_assigned", t(110), agent_id="b", team="care"),  # 15 + 10 = 25 s
                        s("ended", t(200)))
    on_hold = contact("U", s("started", t(0)), s("queued", t(0)),
                      s("agent_assigned", t(5), agent_id="a", team="care"), s("hold_started", t(30)),
                      s("abandoned", t(90), stage="hold"), s("ended", t(90)))
    got = service_level(link_interactions([re_queued, on_hold]), 20.0)
    assert (got.answered, got.answered_within_threshold, got.offered, got.service_level) == (2, 1, 2, 0.5)
    assert got.avg_speed_of_answer_s == 15.0


def test_nothing_offered_and_no_threshold() -> None:
    assert service_level([], 20.0) == ServiceLevel(20.0, 0, 0, 0, 0, 0, None, None, None)
    bot = contact("X", s("started", t(0)), s("resolved", t(30), resolved_by="bot"), s("ended", t(30)),
                  channel="bot")
    assert service_level(link_interactions([bot]), None) == ServiceLevel(
        None, 1, 0, 0, None, None, None, None, None)
    # without a threshold the speed of answer is still reported
    got = service_level(link_interactions(PHONE[:3]), None)
    assert (got.offered, got.answered, got.service_level, got.p90_speed_of_answer_s) == (3, 3, None, 44.0)


def test_service_level_hourly_groups_by_hour_of_start_and_channel() -> None:
    late_chat = answered("K", 3599, 30, channel="chat")        # started 09:59:59, answered at 10:00:29
    next_hour = answered("L", 3600, 90)                        # phone, 10:00
    bot = contact("M", s("started", t(10)), s("resolved", t(40), resolved_by="bot"), channel="bot")
    hours = service_level_hourly(link_interactions([*PHONE, late_chat, next_hour, bot]), DEFAULT_THRESHOLDS)
    nine, ten = D, D + timedelta(hours=1)
    assert sorted(hours, key=repr) == sorted([(nine, "phone"), (nine, "chat"), (nine, "bot"), (ten, "phone")],
                                             key=repr)
    assert hours[(nine, "phone")].service_level == 0.4
    assert hours[(nine, "chat")] == ServiceLevel(60.0, 1, 1, 1, 1, 0, 1.0, 30.0, 30.0)
    assert hours[(ten, "phone")] == ServiceLevel(20.0, 1, 1, 1, 0, 0, 0.0, 90.0, 90.0)
    assert hours[(nine, "bot")].threshold_s is None


@pytest.mark.parametrize(("values", "p", "want"), [
    ([], 0.5, None), ([7.0], 0.9, 7.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5), ([4.0, 1.0, 3.0, 2.0], 0.0, 1.0),
    ([4.0, 1.0, 3.0, 2.0], 1.0, 4.0), ([10.0, 20.0, 50.0], 0.9, 44.0),
    ([60.0, 120.0, 180.0, 600.0], 0.85, 411.0),  # h = 2.55: 180 + 0.55 · 420
])
def test_percentile_cont_interpolates_like_postgresql(values: list[float], p: float,
                                                      want: float | None) -> None:
    got = percentile_cont(values, p)
    assert got == (None if want is None else pytest.approx(want, rel=1e-12))


def test_thresholds_default_parse_and_refuse_clearly() -> None:
    assert set(CHANNELS) == {c.value for c in Channel}
    assert parse_thresholds("") == dict(DEFAULT_THRESHOLDS)
    assert parse_thresholds(" phone=30 , bot=5,email=off") == {
        "phone": 30.0, "chat": 60.0, "sms": 3600.0, "social": 3600.0, "bot": 5.0}
    for bad, says in (("fax=10", "channel of"), ("phone", "expected"), ("phone=soon", "not a number"),
                      ("phone=-1", "must lie"), ("phone=nan", "must lie")):
        with pytest.raises(ValueError, match=says):
            parse_thresholds(bad)


def test_demand_by_type_per_day_channel_and_reason() -> None:
    first = answered("P1", 0, 10, customer="cx")
    repeat = answered("P2", 600, 10, customer="cx")            # same customer and reason: failure demand
    other_reason = answered("P3", 900, 10, customer="cx", reason="order_status")
    next_day = contact("P4", s("started", t(0, day=1)), customer="cx")  # repeat of P2, the next day
    got = demand_daily(link_interactions([first, repeat, other_reason, next_day]))
    assert got == {
        (date(2026, 11, 23), "phone", "billing"): Demand(2, 1, 1, 0.5),
        (date(2026, 11, 23), "phone", "order_status"): Demand(1, 1, 0, 0.0),
        (date(2026, 11, 24), "phone", "billing"): Demand(1, 0, 1, 1.0),
    }


def test_lead_time_percentiles_per_day_of_end_and_reason() -> None:
    def lead(iid: str, start: float, seconds: float, reason: str = "billing", channel: str = "phone"
             ) -> InteractionFigures:
        return contact(iid, s("started", t(start)), s("ended", t(start + seconds)), reason=reason,
                       channel=channel)

    got = lead_time_daily(link_interactions([
        lead("Q1", 0, 60), lead("Q2", 100, 120, channel="chat"), lead("Q3", 200, 180),
        lead("Q4", 300, 600, channel="email"),                       # billing over every channel
        lead("R1", 0, 30, reason="order_status"),
        contact("Q5", s("started", t(-86400)), s("ended", t(-86400 + 50))),  # ended the day before
        contact("Q6", s("started", t(0))),                            # open: no lead time
    ]))
    assert got == {
        (date(2026, 11, 23), "billing"): LeadTimes(4, 150.0, pytest.approx(411.0), pytest.approx(537.0)),
        (date(2026, 11, 23), "order_status"): LeadTimes(1, 30.0, 30.0, 30.0),
        (date(2026, 11, 22), "billing"): LeadTimes(1, 50.0, 50.0, 50.0),
    }
    # an interaction counts on the day it ended, whatever the day it started
    crossing = contact("Q7", s("started", t(-10 * 3600)), s("ended", t(15 * 3600)))  # 22 Nov 23:00 → 24 Nov
    assert lead_time_daily(link_interactions([crossing])) == {
        (date(2026, 11, 24), "billing"): LeadTimes(1, 90000.0, 90000.0, 90000.0)}


def test_demand_and_lead_times_by_day_of_the_business_time_zone() -> None:
    # started 22 Nov 23:30 UTC = 23 Nov 00:30 in Berlin; ended 23 Nov 23:10 UTC = 24 Nov 00:10 there
    late = contact("Z1", s("started", t(-9.5 * 3600)), s("ended", t(14 * 3600 + 600)))
    berlin = ZoneInfo("Europe/Berlin")
    assert list(demand_daily(link_interactions([late]))) == [(date(2026, 11, 22), "phone", "billing")]
    assert list(demand_daily(link_interactions([late]), berlin)) == [(date(2026, 11, 23), "phone", "billing")]
    assert list(lead_time_daily(link_interactions([late]))) == [(date(2026, 11, 23), "billing")]
    assert list(lead_time_daily(link_interactions([late]), berlin)) == [(date(2026, 11, 24), "billing")]
