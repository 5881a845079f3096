"""An improvement's effect on its target rate (contract section 6, ``waste.improvements``).

A countermeasure is judged by the XmR chart of its target's daily rate over its scope
(:mod:`leancrm_waste.domain.signals`), with limits from before it started:

- the **baseline** is the last :data:`BASELINE_DAYS` days with a value before
  ``starts_on``; with fewer than ``signals.MIN_BASELINE_POINTS`` there are no limits
  (``no baseline``);
- the **values after** are the days from ``starts_on`` up to the day judged;
- the **first signal** is the first day from ``starts_on`` whose point breaks one of
  Wheeler's rules *on the expected side* of the old centre line (below it for an expected
  decrease, above for an increase): a rate that moved the wrong way is no sign of success;
- the **effect**: ``signal`` once a first signal appeared, else ``no signal yet``;
- the **gain** of an adopted improvement whose effect is a signal: ``holding`` while its
  latest :data:`LATEST_POINTS` values still stand apart from the old process on the
  expected side — one of them beyond the old limit, or most of them beyond the half-way
  line (x̄ ∓ 1.33 · m̄R, rule 2's) — and ``fading`` when they are back within the old
  limits, most of them nearer the old centre line than the limit. (A run of rule 3 that
  began while the change worked and goes on into values that came back does not count:
  it would hold a fading gain up for days.) Running and abandoned improvements, and
  adopted ones that never showed a signal, have no gain (``None``).

Every target is at least 0 (a fraction at most 1): the limits are clipped to that.
Rates come from daily sums (:class:`DailyFigures`), so a scope over several channels or
reasons weighs each day by its contacts: :func:`rate_of` turns one day's sums into the
target's value (None when its denominator is 0: a gap in the chart).

Pure: no I/O, no Lean CRM imports beyond this package; unit-tested on hand-worked series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from leancrm_waste.domain.signals import MIN_BASELINE_POINTS, Chart, Limits, Point, xmr_chart

#: days with a value before the start that give the limits
BASELINE_DAYS = 20
#: the latest values after the start that tell a holding gain from a fading one
LATEST_POINTS = 5
#: how far before the start the read side looks for baseline days
LOOKBACK_DAYS = 90

#: the targets that are fractions (their limits are clipped to [0, 1])
FRACTIONS = frozenset({"fcr_rate", "failure_demand_rate", "transfer_rate", "abandonment_rate",
                       "flow_efficiency", "occupancy"})
#: waste per contact targets → the waste type whose ledger quantity is counted
WASTE_OF_TARGET = {
    "waiting_s_per_contact": "waiting",
    "over_processing_per_contact": "over_processing",
    "motion_per_contact": "motion",
    "transportation_per_contact": "transportation",
    "defects_per_contact": "defects",
    "inventory_per_contact": "inventory",
}

Effect = Literal["signal", "no signal yet", "no baseline"]
Gain = Literal["holding", "fading"]


@dataclass(frozen=True, slots=True)
class DailyFigures:
    """One day's sums (a day of the business time zone) over an improvement's scope."""

    day: date
    contacts: int = 0
    first_contact_resolutions: int = 0
    failure_demand: int = 0
    transferred: int = 0
    abandoned: int = 0
    value_added_s: float = 0.0
    lead_time_s: float = 0.0
    busy_s: float = 0.0
    staffed_s: float = 0.0
    #: the ledger quantity of the target's waste type (count, or seconds for waiting)
    waste: float = 0.0


def rate_of(target: str, f: DailyFigures) -> float | None:
    """The target's value on one day (section 3's targets); None when undefined."""
    per_contact = {
        "fcr_rate": f.first_contact_resolutions,
        "failure_demand_rate": f.failure_demand,
        "transfer_rate": f.transferred,
        "abandonment_rate": f.abandoned,
    }
    if target in per_contact:
        return per_contact[target] / f.contacts if f.contacts else None
    if target == "flow_efficiency":
        return f.value_added_s / f.lead_time_s if f.lead_time_s else None
    if target == "occupancy":
        return f.busy_s / f.staffed_s if f.staffed_s else None
    if target in WASTE_OF_TARGET:
        return f.waste / f.contacts if f.contacts else None
    raise ValueError(f"unknown target {target!r}")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the huddle and the API say of one improvement."""

    effect: Effect
    gain: Gain | None
    limits: Limits | None
    #: first and last day of the baseline (None without limits)
    baseline: tuple[date, date] | None
    #: the points from starts_on on (gaps included), judged against the old limits
    after: tuple[Point, ...]
    first_signal_on: date | None

    @property
    def latest(self) -> float | None:
        defined = [p.value for p in self.after if p.value is not None]
        return defined[-1] if defined else None


def _on_expected_side(point: Point, limits: Limits, direction: str) -> bool:
    if point.value is None:
        return False
    return point.value < limits.centre if direction == "decrease" else point.value > limits.centre


def _holds(latest: Sequence[float], limits: Limits, direction: str) -> bool:
    """Whether the latest values stand apart from the old process on the expected side."""
    if direction == "decrease":
        beyond_limit = any(v < limits.lower for v in latest)
        beyond_zone = sum(v < limits.lower_zone for v in latest)
    else:
        beyond_limit = any(v > limits.upper for v in latest)
        beyond_zone = sum(v > limits.upper_zone for v in latest)
    return beyond_limit or 2 * beyond_zone > len(latest)


def evaluate(
    series: Sequence[tuple[date, float | None]],
    *,
    starts_on: date,
    direction: str,
    status: str,
    as_of: date | None = None,
    fraction: bool = False,
) -> Evaluation:
    """Judge an improvement from its target's daily ``series`` (any order; None = no
    value that day), its start, expected ``direction`` (``decrease``/``increase``) and
    ``status`` (``running``/``adopted``/``abandoned``), as of ``as_of`` (days after it
    are left out; default: the whole series)."""
    ordered = sorted((d, v) for d, v in series if as_of is None or d <= as_of)
    before = [(d, v) for d, v in ordered if d < starts_on and v is not None][-BASELINE_DAYS:]
    after_series = [(d, v) for d, v in ordered if d >= starts_on]
    if len(before) < MIN_BASELINE_POINTS:
        points = tuple(Point(day=d, value=v, moving_range=None, in_baseline=False)
                       for d, v in after_series)
        return Evaluation("no baseline", None, None, None, points, None)
    baseline = (before[0][0], before[-1][0])
    chart: Chart = xmr_chart([*before, *after_series], baseline=baseline,
                             bounds=(0.0, 1.0) if fraction else (0.0, math.inf))
    limits = chart.limits
    assert limits is not None  # enough baseline values: the chart has limits
    after = tuple(p for p in chart.points if p.day >= starts_on)
    hits = [p for p in after if p.signal and _on_expected_side(p, limits, direction)]
    first = hits[0].day if hits else None
    gain: Gain | None = None
    if status == "adopted" and first is not None:
        latest = [p.value for p in after if p.value is not None][-LATEST_POINTS:]
        gain = "holding" if _holds(latest, limits, direction) else "fading"
    return Evaluation("signal" if first else "no signal yet", gain, limits, baseline, after, first)
