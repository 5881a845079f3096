"""XmR limits and Wheeler's detection rules on hand-worked series (domain/signals.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from leancrm_waste.domain.signals import Chart, limits_of, xmr_chart

START = date(2026, 11, 1)
#: baseline: mean 72 / 6 = 12; moving ranges 2, 1, 2, 1, 2 → m̄R = 8 / 5 = 1.6;
#: limits 12 ± 2.66 × 1.6 = 12 ± 4.256 → [7.744, 16.256]; zones 12 ± 2.128 → [9.872, 14.128]
BASELINE = [10.0, 12.0, 11.0, 13.0, 12.0, 14.0]


def series(values: list[float | None]) -> list[tuple[date, float | None]]:
    return [(START + timedelta(days=i), v) for i, v in enumerate(values)]


def chart(after: list[float | None]) -> Chart:
    return xmr_chart(series([*BASELINE, *after]), baseline_points=len(BASELINE))


def rules(c: Chart) -> list[tuple[str, ...]]:
    return [p.rules for p in c.points]


def test_limits_worked_by_hand() -> None:
    lim = limits_of(BASELINE)
    assert lim is not None
    assert lim.centre == pytest.approx(12.0)
    assert lim.average_moving_range == pytest.approx(1.6)
    assert (lim.lower, lim.upper) == (pytest.approx(7.744), pytest.approx(16.256))
    assert (lim.lower_zone, lim.upper_zone) == (pytest.approx(9.872), pytest.approx(14.128))
    assert lim.baseline_points == 6


def test_a_baseline_too_short_gives_no_limits_and_says_so() -> None:
    assert limits_of(BASELINE[:5]) is None
    c = xmr_chart(series(BASELINE[:5]))
    assert c.limits is None and c.signals == ()
    assert c.verdict(START) == "no limits"


def test_rule_one_a_point_outside_either_limit() -> None:
    c = chart([16.2, 16.3, 7.75, 7.7])
    assert rules(c)[6:] == [(), ("outside_limits",), (), ("outside_limits",)]
    assert c.verdict(START + timedelta(days=7)) == "signal"
    assert c.verdict(START + timedelta(days=6)) == "within normal variation"


def test_rule_two_three_of_four_beyond_the_half_way_line_same_side() -> None:
    c = chart([14.5, 15.0, 12.0, 14.2])
    assert rules(c)[6:] == [("three_of_four",), ("three_of_four",), (), ("three_of_four",)]
    # two of four is not enough, nor three split between the two sides
    assert chart([14.5, 12.0, 12.0, 14.2]).signals == ()
    assert chart([14.5, 9.5, 14.2, 9.6]).signals == ()


def test_rule_three_eight_on_one_side_and_seven_is_not_enough() -> None:
    c = chart([12.5] * 8)
    assert all(r == ("eight_on_one_side",) for r in rules(c)[6:])
    assert chart([11.5] * 8).signals == tuple(START + timedelta(days=6 + i) for i in range(8))
    # the baseline's last point (14) is above the centre too: it starts the run
    assert len(chart([12.5] * 7).signals) == 8
    assert chart([11.0] + [12.5] * 7).signals == ()
    # a point on the centre line breaks the run
    assert chart([11.0] + [12.5] * 4 + [12.0] + [12.5] * 4).signals == ()


def test_gaps_are_kept_without_value_and_moving_ranges_span_them() -> None:
    c = chart([None, 13.0])
    gap, after = c.points[6], c.points[7]
    assert gap.value is None and gap.moving_range is None and not gap.signal
    assert after.moving_range == pytest.approx(1.0)  # |13 − 14|, across the gap
    assert c.verdict(gap.day) == "no data"
    assert c.verdict(START + timedelta(days=30)) == "no data"


def test_a_stated_baseline_by_dates() -> None:
    values: list[float | None] = [50.0, 50.0, *BASELINE, 30.0]
    s = [(START - timedelta(days=2) + timedelta(days=i), v) for i, v in enumerate(values)]
    c = xmr_chart(s, baseline=(START, START + timedelta(days=5)))
    assert c.limits is not None and c.limits.centre == pytest.approx(12.0)
    assert [p.in_baseline for p in c.points] == [False, False, *[True] * 6, False]
    assert c.signals == (s[0][0], s[1][0], s[-1][0])


def test_rate_limits_are_clipped_to_their_bounds() -> None:
    lim = limits_of([0.1, 0.0, 0.1, 0.0, 0.1, 0.0], bounds=(0.0, 1.0))
    assert lim is not None
    assert lim.centre == pytest.approx(0.05)
    assert lim.lower == 0.0 and lim.upper == pytest.approx(0.05 + 0.266)
