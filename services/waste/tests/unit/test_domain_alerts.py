"""Alert rules (contract section 5, "Alert rules"): readings, thresholds, raise and clear."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from leancrm_contracts.alerts import ALERT_RULES, MAX_SUMMARY_CHARS
from leancrm_waste.domain.alerts import (
    DEFAULT_THRESHOLDS,
    MAX_SUMMARY,
    RULES,
    ActiveAlert,
    AlertConfig,
    AlertInputs,
    Reading,
    Transitions,
    evaluate,
    parse_alert_thresholds,
    summary_cleared,
    summary_raised,
    transitions,
)

SL = {"phone": 20.0, "chat": 60.0}
CONFIG = AlertConfig(parse_alert_thresholds(""), SL)
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_the_rules_are_the_contracts() -> None:
    assert RULES == ALERT_RULES and MAX_SUMMARY == MAX_SUMMARY_CHARS
    assert parse_alert_thresholds("") == {**DEFAULT_THRESHOLDS, "rate_signal": 0.0}


def test_thresholds_parse_and_refuse_clearly() -> None:
    assert parse_alert_thresholds("backlog_aged=10, occupancy_high=0.9,rate_signal=off") == {
        "backlog_aged": 10.0, "queue_wait_p90": 1.0, "occupancy_high": 0.9, "rate_signal": None}
    for bad, says in (("paging=1", "rule of"), ("backlog_aged", "expected"),
                      ("occupancy_high=high", "not a number"),
                      ("backlog_aged=-1", "≥ 0"), ("backlog_aged=inf", "≥ 0"), ("queue_wait_p90=nan", "≥ 0"),
                      ("rate_signal=2", "only 'off'")):
        with pytest.raises(ValueError, match=says):
            parse_alert_thresholds(bad)


def test_backlog_queue_wait_and_occupancy_readings() -> None:
    inputs = AlertInputs(aged_backlog={"email": 3, "chat": 0}, queue_wait_p90={"phone": 20.0, "chat": 61.0,
                                                                                "bot": 999.0},
                         occupancy={"care": 0.95, "sales": 0.951})
    got = evaluate(inputs, CONFIG)
    assert got == {
        ("backlog_aged", "email"): Reading("backlog_aged", "email", 3.0, 0.0, True),
        ("backlog_aged", "chat"): Reading("backlog_aged", "chat", 0.0, 0.0, False),
        ("queue_wait_p90", "phone"): Reading("queue_wait_p90", "phone", 20.0, 20.0, False),  # not over
        ("queue_wait_p90", "chat"): Reading("queue_wait_p90", "chat", 61.0, 60.0, True),
        # bot has no service-level threshold: not evaluated
        ("occupancy_high", "care"): Reading("occupancy_high", "care", 0.95, 0.95, False),
        ("occupancy_high", "sales"): Reading("occupancy_high", "sales", 0.951, 0.95, True),
    }
    doubled = AlertConfig(parse_alert_thresholds("queue_wait_p90=0.5,backlog_aged=off"), SL)
    got2 = evaluate(inputs, doubled)
    assert got2[("queue_wait_p90", "phone")] == Reading("queue_wait_p90", "phone", 20.0, 10.0, True)
    assert not any(rule == "backlog_aged" for rule, _ in got2)


def days(values: list[float | None]) -> list[tuple[date, float | None]]:
    start = date(2026, 10, 1)
    return [(start + timedelta(days=i), v) for i, v in enumerate(values)]


def test_a_rate_signal_on_the_latest_day() -> None:
    # baseline 0.10, 0.12 alternating (20 days): centre 0.11, mR 0.02, limits 0.0568 .. 0.1632
    base = [0.10, 0.12] * 10
    series = days([*base, 0.11, 0.30])
    latest = series[-1][0]
    got = evaluate(AlertInputs(daily_rates={"failure_demand_rate": series}, latest_day=latest), CONFIG)
    reading = got[("rate_signal", "failure_demand_rate")]
    assert reading.holds and reading.value == 0.30
    assert reading.threshold == pytest.approx(0.11 + 2.66 * 0.02)  # the upper limit: value above the centre
    # the day before is within normal variation; a day with no contacts has no figure
    before = evaluate(AlertInputs(daily_rates={"failure_demand_rate": series}, latest_day=series[-2][0]),
                      CONFIG)
    assert not before[("rate_signal", "failure_demand_rate")].holds
    gap = days([*base, None])
    assert evaluate(AlertInputs(daily_rates={"fcr_rate": gap}, latest_day=gap[-1][0]), CONFIG) == {}
    # too short a baseline: no limits, no figure; switched off: nothing read
    short = days([0.1, 0.9, 0.1])
    assert evaluate(AlertInputs(daily_rates={"fcr_rate": short}, latest_day=short[-1][0]), CONFIG) == {}
    off = AlertConfig(parse_alert_thresholds("rate_signal=off"), SL)
    assert evaluate(AlertInputs(daily_rates={"failure_demand_rate": series}, latest_day=latest), off) == {}


def test_low_signal_reports_the_lower_limit() -> None:
    series = days([*[0.50, 0.54] * 10, 0.10])
    r = evaluate(AlertInputs(daily_rates={"fcr_rate": series}, latest_day=series[-1][0]), CONFIG)[
        ("rate_signal", "fcr_rate")]
    assert r.holds and r.threshold == pytest.approx(0.52 - 2.66 * 0.04)


def test_raise_once_clear_once() -> None:
    hot = Reading("backlog_aged", "email", 3.0, 0.0, True)
    cool = Reading("backlog_aged", "email", 0.0, 0.0, False)
    active = ActiveAlert("backlog_aged", "email", 3.0, 0.0, T0)
    assert transitions({}, {hot.key: hot}) == Transitions(raised=(hot,))
    assert transitions({active.key: active}, {hot.key: hot}) == Transitions()  # still active: nothing
    assert transitions({active.key: active}, {cool.key: cool}) == Transitions(cleared=((active, cool),))
    assert transitions({active.key: active}, {}) == Transitions(cleared=((active, None),))
    assert transitions({}, {cool.key: cool}) == Transitions()


def test_summaries_say_what_and_stay_short() -> None:
    assert summary_raised(Reading("queue_wait_p90", "phone", 95.4, 20.0, True)) == (
        "phone: queue wait p90 over the last 15 min is 95 s (threshold 20 s)")
    assert summary_raised(Reading("occupancy_high", "care", 0.97, 0.95, True)) == (
        "care: occupancy of the last complete hour is 97.0 % (threshold 95.0 %)")
    assert summary_raised(Reading("backlog_aged", "email", 3, 0, True)) == (
        "email: open contacts older than 24 h is 3 (threshold 0)")
    assert "signal" in summary_raised(Reading("rate_signal", "fcr_rate", 0.3, 0.16, True))
    active = ActiveAlert("backlog_aged", "email", 3.0, 0.0, T0)
    assert summary_cleared(active, Reading("backlog_aged", "email", 0, 0, False)) == (
        "email: open contacts older than 24 h is back to 0 (threshold 0)")
    assert "no figure" in summary_cleared(active, None)
    long = Reading("backlog_aged", "x" * 400, 1, 0, True)
    assert len(summary_raised(long)) == MAX_SUMMARY
