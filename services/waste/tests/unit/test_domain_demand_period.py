"""Demand by type and the lead-time distribution over a period (contract section 6.2),
on contacts and percentiles worked by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from leancrm_waste.domain.demand import (
    BUCKET_LABELS,
    Demand,
    LeadDistribution,
    bucket_of,
    demand_of,
    demand_over,
    demand_table,
    lead_distribution,
    lead_times_over,
)
from leancrm_waste.domain.interaction import InteractionFigures
from leancrm_waste.domain.repeats import link_interactions

from .test_domain_service_level import answered, contact, s, t

START = datetime(2026, 11, 23, tzinfo=UTC)   # t(0) is 23 Nov 09:00
END = START + timedelta(days=1)


def lead(iid: str, ended: float, seconds: float, reason: str = "billing", channel: str = "phone"
         ) -> InteractionFigures:
    return contact(iid, s("started", t(ended - seconds)), s("ended", t(ended)), reason=reason,
                   channel=channel)


def test_buckets_are_closed_below_and_open_above() -> None:
    assert BUCKET_LABELS == ("<1h", "1-4h", "4-24h", "1-3d", ">3d")
    assert [bucket_of(v) for v in (0, 3599.9, 3600, 14399, 14400, 86399, 86400, 259199, 259200, 1e9)] == [
        "<1h", "<1h", "1-4h", "1-4h", "4-24h", "4-24h", "1-3d", "1-3d", ">3d", ">3d"]


def test_distribution_of_five_lead_times_worked_by_hand() -> None:
    # sorted 600, 3600, 7200, 86400, 300000 (n = 5, positions 0..4)
    got = lead_distribution([86400, 600, 300000, 3600, 7200])
    assert got.ended_interactions == 5
    assert got.p50_lead_time_s == 7200                                # h = 2
    assert got.p85_lead_time_s == pytest.approx(171840)               # h = 3.4: 86400 + 0.4 · 213600
    assert got.p95_lead_time_s == pytest.approx(257280)               # h = 3.8: 86400 + 0.8 · 213600
    assert got.histogram == {"<1h": 1, "1-4h": 2, "4-24h": 0, "1-3d": 1, ">3d": 1}
    assert lead_distribution([]) == LeadDistribution(0, None, None, None, dict.fromkeys(BUCKET_LABELS, 0))


def test_lead_times_over_a_period_count_what_ended_in_it_per_reason_and_overall() -> None:
    got = lead_times_over(link_interactions([
        lead("B1", 0, 600), lead("B2", 100, 3600, channel="chat"), lead("B3", 200, 7200, channel="email"),
        lead("B4", 300, 86400), lead("B5", 400, 300000),                 # started 3.5 days before
        lead("O1", 500, 30, reason="order_status"),
        lead("X1", -86400, 50),                                          # ended the day before
        contact("X2", s("started", t(0)), s("ended", t(86400))),         # ends the next day
        contact("X3", s("started", t(0))),                               # open: no lead time
    ]), START, END)
    assert set(got.by_reason) == {"billing", "order_status"}
    billing = got.by_reason["billing"]
    assert (billing.ended_interactions, billing.p50_lead_time_s) == (5, 7200)
    assert billing.p85_lead_time_s == pytest.approx(171840)
    assert billing.p95_lead_time_s == pytest.approx(257280)
    assert got.by_reason["order_status"] == LeadDistribution(
        1, 30.0, 30.0, 30.0, {"<1h": 1, "1-4h": 0, "4-24h": 0, "1-3d": 0, ">3d": 0})
    # overall: 30, 600, 3600, 7200, 86400, 300000 (n = 6)
    o = got.overall
    assert o.ended_interactions == 6
    assert o.p50_lead_time_s == pytest.approx(5400)                   # h = 2.5: 3600 + 0.5 · 3600
    assert o.p85_lead_time_s == pytest.approx(139800)                 # h = 4.25: 86400 + 0.25 · 213600
    assert o.p95_lead_time_s == pytest.approx(246600)                 # h = 4.75: 86400 + 0.75 · 213600
    assert o.histogram == {"<1h": 2, "1-4h": 2, "4-24h": 0, "1-3d": 1, ">3d": 1}
    # the same percentiles cannot be had from the days': a day's percentiles do not combine
    assert lead_times_over([], START, END).overall.ended_interactions == 0


def test_demand_over_a_period_per_channel_and_reason_per_reason_per_channel_and_total() -> None:
    got = demand_over(link_interactions([
        answered("P1", 0, 10, customer="cx"),
        answered("P2", 600, 10, customer="cx"),                          # repeat of P1: failure demand
        answered("P3", 900, 10, customer="cx", reason="order_status"),
        answered("P4", 1200, 10, channel="chat"),
        contact("P5", s("started", t(0, day=1)), customer="cx"),         # next day: outside the period
    ]), START, END)
    assert got.rows == {("chat", "billing"): Demand(1, 1, 0, 0.0), ("phone", "billing"): Demand(2, 1, 1, 0.5),
                        ("phone", "order_status"): Demand(1, 1, 0, 0.0)}
    assert got.by_reason == {"billing": Demand(3, 2, 1, pytest.approx(1 / 3)),
                             "order_status": Demand(1, 1, 0, 0.0)}
    assert got.by_channel == {"chat": Demand(1, 1, 0, 0.0), "phone": Demand(3, 2, 1, pytest.approx(1 / 3))}
    assert got.total == Demand(4, 3, 1, 0.25)


def test_demand_table_sums_counts_and_has_no_share_without_contacts() -> None:
    got = demand_table({("phone", "billing"): (10, 4), ("chat", "billing"): (6, 0),
                        ("phone", "unknown"): (4, 1)})
    assert got.by_reason == {"billing": Demand(16, 12, 4, 0.25), "unknown": Demand(4, 3, 1, 0.25)}
    assert got.by_channel == {"chat": Demand(6, 6, 0, 0.0), "phone": Demand(14, 9, 5, pytest.approx(5 / 14))}
    assert got.total == Demand(20, 15, 5, 0.25)
    assert math.isnan(demand_of(0, 0).failure_demand_share)
