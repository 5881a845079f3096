"""Process-behaviour charts (XmR, "individuals and moving range") over a daily rate.

Lean and Vanguard practice judge a rate by whether it moved beyond its normal
variation, not by comparing one day with an average. For a series of daily values:

- the **baseline** is a stated run of days (by default the first
  :data:`DEFAULT_BASELINE_POINTS` defined values of the series, or the days the caller
  names); at least :data:`MIN_BASELINE_POINTS` values are needed, else no limits;
- the **centre line** is the baseline's mean x̄; the **average moving range** m̄R is the
  mean of |xᵢ − xᵢ₋₁| over successive baseline values;
- the **natural process limits** are x̄ ± 2.66 · m̄R (2.66 = 3 / d₂, d₂ = 1.128 for
  ranges of two); a rate is a fraction, so the limits are clipped to [0, 1] when the
  caller says the series is bounded that way;
- the **detection rules** (Wheeler's), applied to every point after the baseline and to
  the baseline itself:
    1. a point outside the limits (``outside_limits``);
    2. three of four successive points nearer a limit than the centre line, on the same
       side — beyond x̄ ± 1.33 · m̄R, half way to the limit (``three_of_four``);
    3. eight successive points on the same side of the centre line (``eight_on_one_side``);
       a point exactly on the centre line breaks the run.
  A point is a signal when any rule marks it; rules 2 and 3 mark every point of the run
  that completes them (from the run's fourth / eighth point on, the whole run).

Days on which a rate is undefined (no contacts) are gaps: they are kept in the output
with no value and no signal, and successive defined values either side of a gap still
form a moving range (the process did not stop; it was not measured).

Pure: no I/O. Used by the huddle, the API, the dashboard and the improvements' read
model, and unit-tested on hand-worked series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from math import fsum
from typing import Literal

#: 3 / d₂ for moving ranges of two points
SCALE = 2.66
#: half of :data:`SCALE`: the zone boundary of rule 2
ZONE = SCALE / 2
DEFAULT_BASELINE_POINTS = 20
MIN_BASELINE_POINTS = 6
RUN_LENGTH = 8

Rule = Literal["outside_limits", "three_of_four", "eight_on_one_side"]
RULES: tuple[Rule, ...] = ("outside_limits", "three_of_four", "eight_on_one_side")


@dataclass(frozen=True, slots=True)
class Limits:
    """Centre line and natural process limits of a baseline."""

    centre: float
    average_moving_range: float
    lower: float
    upper: float
    baseline_points: int

    @property
    def lower_zone(self) -> float:
        return self.centre - ZONE * self.average_moving_range

    @property
    def upper_zone(self) -> float:
        return self.centre + ZONE * self.average_moving_range


@dataclass(frozen=True, slots=True)
class Point:
    day: date
    value: float | None
    moving_range: float | None
    in_baseline: bool
    rules: tuple[Rule, ...] = ()

    @property
    def signal(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True, slots=True)
class Chart:
    """One rate's XmR chart: its limits (None when the baseline is too short) and points."""

    limits: Limits | None
    points: tuple[Point, ...]
    signals: tuple[date, ...] = field(default=())

    @property
    def latest(self) -> Point | None:
        defined = [p for p in self.points if p.value is not None]
        return defined[-1] if defined else None

    def verdict(self, day: date) -> Literal["signal", "within normal variation", "no data", "no limits"]:
        """What the huddle says of ``day``: a signal, normal variation, or why neither."""
        point = next((p for p in self.points if p.day == day), None)
        if point is None or point.value is None:
            return "no data"
        if self.limits is None:
            return "no limits"
        return "signal" if point.signal else "within normal variation"


def limits_of(values: Sequence[float], *, bounds: tuple[float, float] | None = None) -> Limits | None:
    """Limits from baseline ``values`` (in order, gaps removed); None when too few."""
    if len(values) < MIN_BASELINE_POINTS:
        return None
    centre = fsum(values) / len(values)
    ranges = [abs(b - a) for a, b in pairwise(values)]
    mr = fsum(ranges) / len(ranges)
    lower, upper = centre - SCALE * mr, centre + SCALE * mr
    if bounds is not None:
        lower, upper = max(lower, bounds[0]), min(upper, bounds[1])
    return Limits(centre=centre, average_moving_range=mr, lower=lower, upper=upper,
                  baseline_points=len(values))


def _side(value: float, centre: float) -> int:
    return (value > centre) - (value < centre)


def detect(values: Sequence[float], limits: Limits) -> list[set[Rule]]:
    """The rules each of ``values`` (gaps removed, in order) breaks against ``limits``."""
    marks: list[set[Rule]] = [set() for _ in values]
    for i, v in enumerate(values):
        if v > limits.upper or v < limits.lower:
            marks[i].add("outside_limits")
    # rule 2: three of four successive points beyond the zone boundary, same side
    for end in range(3, len(values)):
        window = range(end - 3, end + 1)
        for side in (1, -1):
            beyond = [
                i for i in window
                if (values[i] > limits.upper_zone if side > 0 else values[i] < limits.lower_zone)
            ]
            if len(beyond) >= 3:
                for i in beyond:
                    marks[i].add("three_of_four")
    # rule 3: eight successive points on one side of the centre line
    run_start, run_side = 0, 0
    for i, v in enumerate(values):
        side = _side(v, limits.centre)
        if side == 0 or side != run_side:
            run_start, run_side = i, side
        if side != 0 and i - run_start + 1 >= RUN_LENGTH:
            for j in range(run_start, i + 1):
                marks[j].add("eight_on_one_side")
    return marks


def xmr_chart(
    series: Sequence[tuple[date, float | None]],
    *,
    baseline: tuple[date, date] | None = None,
    baseline_points: int = DEFAULT_BASELINE_POINTS,
    bounds: tuple[float, float] | None = None,
) -> Chart:
    """The XmR chart of a daily ``series`` (days in order; None = undefined that day).

    ``baseline`` names the first and last day (inclusive) whose values give the limits;
    without it, the first ``baseline_points`` defined values do. ``bounds`` clips the
    limits (``(0.0, 1.0)`` for a rate)."""
    ordered = sorted(series, key=lambda dv: dv[0])
    defined = [(d, v) for d, v in ordered if v is not None]
    if baseline is not None:
        base_days = {d for d, _ in defined if baseline[0] <= d <= baseline[1]}
    else:
        base_days = {d for d, _ in defined[:baseline_points]}
    limits = limits_of([v for d, v in defined if d in base_days], bounds=bounds)
    marks = detect([v for _, v in defined], limits) if limits is not None else [set() for _ in defined]
    rules_by_day = {d: tuple(r for r in RULES if r in m) for (d, _), m in zip(defined, marks, strict=True)}
    points: list[Point] = []
    previous: float | None = None
    for d, v in ordered:
        mr = None if v is None or previous is None else abs(v - previous)
        points.append(Point(day=d, value=v, moving_range=mr, in_baseline=d in base_days,
                            rules=rules_by_day.get(d, ())))
        if v is not None:
            previous = v
    signals = tuple(p.day for p in points if p.signal)
    return Chart(limits=limits, points=tuple(points), signals=signals)
