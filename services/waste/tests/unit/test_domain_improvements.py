"""An improvement's effect on hand-worked series (domain/improvements.py).

The baseline is test_domain_signals' own: 10, 12, 11, 13, 12, 14 → centre 12, m̄R 1.6,
limits [7.744, 16.256], zone lines 9.872 and 14.128."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from leancrm_waste.domain.improvements import (
    BASELINE_DAYS,
    DailyFigures,
    evaluate,
    rate_of,
)

BASELINE = [10.0, 12.0, 11.0, 13.0, 12.0, 14.0]
FIRST = date(2026, 11, 1)
STARTS_ON = FIRST + timedelta(days=len(BASELINE))  # the day after the baseline


def series(after: list[float | None], before: list[float | None] | None = None
           ) -> list[tuple[date, float | None]]:
    values = [*(BASELINE if before is None else before), *after]
    first = STARTS_ON - timedelta(days=len(values) - len(after))
    return [(first + timedelta(days=i), v) for i, v in enumerate(values)]


def day(i: int) -> date:
    """The i-th day from the start (0 = starts_on)."""
    return STARTS_ON + timedelta(days=i)


def test_a_change_that_works_signals_on_the_expected_side() -> None:
    e = evaluate(series([7.0, 7.5, 7.2]), starts_on=STARTS_ON, direction="decrease", status="running")
    assert e.effect == "signal" and e.first_signal_on == day(0) and e.gain is None
    assert e.limits is not None and e.limits.centre == pytest.approx(12.0)
    assert e.baseline == (FIRST, day(-1))
    assert [p.value for p in e.after] == [7.0, 7.5, 7.2] and e.latest == 7.2


def test_the_first_signal_may_come_later_from_the_zone_rule() -> None:
    # 11.5 is normal; 9.5, 9.0, 9.8 are three of four beyond the lower zone line (9.872)
    e = evaluate(series([11.5, 9.5, 9.0, 11.0, 9.8]), starts_on=STARTS_ON, direction="decrease",
                 status="running")
    assert e.first_signal_on == day(1)


def test_an_adopted_gain_that_holds() -> None:
    e = evaluate(series([7.0, 7.5, 7.2, 7.1, 7.3, 7.0]), starts_on=STARTS_ON,
                 direction="decrease", status="adopted")
    assert (e.effect, e.gain) == ("signal", "holding")


def test_an_adopted_gain_that_fades_back_within_the_old_limits() -> None:
    # worked for three days, then the latest five values are the old process again
    e = evaluate(series([7.0, 7.5, 7.2, 12.5, 11.5, 12.2, 11.8, 12.1]), starts_on=STARTS_ON,
                 direction="decrease", status="adopted")
    assert (e.effect, e.gain, e.first_signal_on) == ("signal", "fading", day(0))
    # judged on the fourth day after the start, it still held
    early = evaluate(series([7.0, 7.5, 7.2, 12.5, 11.5, 12.2, 11.8, 12.1]), starts_on=STARTS_ON,
                     direction="decrease", status="adopted", as_of=day(3))
    assert early.gain == "holding" and len(early.after) == 4


def test_a_change_that_does_nothing_has_no_signal_and_no_gain() -> None:
    for status in ("running", "adopted", "abandoned"):
        e = evaluate(series([12.5, 11.5, 12.2, 11.8]), starts_on=STARTS_ON, direction="decrease",
                     status=status)
        assert (e.effect, e.gain, e.first_signal_on) == ("no signal yet", None, None)


def test_a_signal_the_wrong_way_is_not_a_success() -> None:
    e = evaluate(series([17.0, 16.8]), starts_on=STARTS_ON, direction="decrease", status="adopted")
    assert e.effect == "no signal yet" and e.after[0].signal
    up = evaluate(series([17.0, 16.8]), starts_on=STARTS_ON, direction="increase", status="adopted")
    assert (up.effect, up.gain) == ("signal", "holding")


def test_fewer_than_six_values_before_the_start_is_no_baseline() -> None:
    e = evaluate(series([7.0], before=[None, 10.0, 12.0, 11.0, None, 13.0, 12.0]),
                 starts_on=STARTS_ON, direction="decrease", status="adopted")
    assert (e.effect, e.gain, e.limits, e.baseline) == ("no baseline", None, None, None)
    assert [p.value for p in e.after] == [7.0]


def test_the_baseline_is_the_last_twenty_days_with_a_value_and_skips_gaps() -> None:
    before: list[float | None] = [100.0] * 5 + [None] + [*BASELINE] * 3 + [12.0, 12.0]
    e = evaluate(series([7.0], before=before), starts_on=STARTS_ON, direction="decrease",
                 status="running")
    assert e.limits is not None and e.limits.baseline_points == BASELINE_DAYS
    assert e.baseline == (day(-20), day(-1))  # the 100s and the gap are left out
    assert e.limits.centre == pytest.approx((3 * 72 + 24) / 20)


def test_days_after_as_of_are_left_out() -> None:
    e = evaluate(series([12.0, 12.5, 7.0]), starts_on=STARTS_ON, direction="decrease",
                 status="running", as_of=day(1))
    assert e.effect == "no signal yet" and e.latest == 12.5


def test_rates_of_a_day() -> None:
    f = DailyFigures(day=FIRST, contacts=40, first_contact_resolutions=24, failure_demand=10,
                     transferred=4, abandoned=2, value_added_s=300.0, lead_time_s=1200.0,
                     busy_s=1800.0, staffed_s=3600.0, waste=6.0)
    assert rate_of("fcr_rate", f) == 0.6
    assert rate_of("failure_demand_rate", f) == 0.25
    assert rate_of("transfer_rate", f) == 0.1
    assert rate_of("abandonment_rate", f) == 0.05
    assert rate_of("flow_efficiency", f) == 0.25
    assert rate_of("occupancy", f) == 0.5
    assert rate_of("defects_per_contact", f) == 0.15
    assert rate_of("waiting_s_per_contact", f) == 0.15
    empty = DailyFigures(day=FIRST)
    assert all(rate_of(t, empty) is None for t in ("fcr_rate", "flow_efficiency", "occupancy",
                                                    "motion_per_contact"))
    with pytest.raises(ValueError, match="unknown target"):
        rate_of("happiness", f)


def test_fraction_targets_clip_their_limits() -> None:
    rates = [0.1, 0.0, 0.1, 0.0, 0.1, 0.0]
    e = evaluate(series([0.0], before=rates), starts_on=STARTS_ON, direction="decrease",
                 status="running", fraction=True)
    assert e.limits is not None and e.limits.lower == 0.0


def test_a_gain_holds_while_most_of_the_latest_values_stay_beyond_half_way() -> None:
    # within the old limits (7.744) but beyond the half-way line (9.872): 3 of the latest 5
    e = evaluate(series([7.0, 9.5, 9.6, 11.0, 9.7, 11.5]), starts_on=STARTS_ON,
                 direction="decrease", status="adopted")
    assert (e.effect, e.gain) == ("signal", "holding")
    e = evaluate(series([7.0, 9.5, 11.6, 11.0, 9.7, 11.5]), starts_on=STARTS_ON,
                 direction="decrease", status="adopted")
    assert e.gain == "fading"  # only 2 of 5


def test_a_run_that_began_while_it_worked_does_not_hold_up_a_fading_gain() -> None:
    # five days beyond the limit, then back just under the old centre: rule 3 marks the
    # returned values too (eight on one side), yet they are the old process again
    e = evaluate(series([7.0, 7.5, 7.2, 7.1, 7.3, 11.8, 11.5, 11.9, 11.7, 11.6]),
                 starts_on=STARTS_ON, direction="decrease", status="adopted")
    assert e.after[-1].rules == ("eight_on_one_side",)
    assert (e.effect, e.gain) == ("signal", "fading")


def test_no_target_has_limits_below_zero() -> None:
    counts = [0.1, 0.9, 0.1, 0.9, 0.1, 0.9]  # centre 0.5, m̄R 0.8: 0.5 − 2.128 < 0
    e = evaluate(series([0.0], before=counts), starts_on=STARTS_ON, direction="decrease",
                 status="running")
    assert e.limits is not None and e.limits.lower == 0.0
    assert e.limits.upper == pytest.approx(0.5 + 2.66 * 0.8)
