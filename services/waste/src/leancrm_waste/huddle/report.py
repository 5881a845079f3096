"""The daily huddle report as plain data: Lean's morning meeting, from the waste read model.

For one UTC day, against the average of the previous seven days:

- each of the seven wastes and the key rates (first contact resolution, failure demand,
  flow efficiency, abandonment, occupancy), with the direction of change (▲/▼) and
  whether that is better or worse: more waste, failure demand or abandonment is worse;
  more first contact resolution or flow efficiency is better; occupancy is better the
  closer it gets to the target;
- the top three wastes by cost in seconds (:data:`leancrm_waste.read.costs.DEFAULT_COST_SECONDS`);
- the worst reasons by failure demand (most repeat contacts, then highest rate);
- the improvements running, and the adopted gains holding or fading (huddle/improvements.py).

Definitions: a waste's figure for a day is the quantity of its ledger rows that occurred
that day (seconds for waiting and overproduction, occurrences for the others); the rates
are those of ``waste.value_stream_daily`` over every channel and reason of the
interactions started that day; occupancy is Σ busy / Σ staffed of the day's hours. The
seven-day average is the mean of the daily figures over the previous seven days that
have any data (contacts, waste or staffing; how many is printed), so a report in the
first week of operation does not count days before it as zero; a rate's average is
over the days where it is defined.

The figures are read by :func:`leancrm_waste.read.views.huddle_figures`; no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.huddle.improvements import improvements_block
from leancrm_waste.read.costs import COST_RATIONALE, MEASURED_IN_SECONDS, WASTE_WORDS
from leancrm_waste.read.shaping import ratio

BASELINE_DAYS = 7
Better = Literal["up", "down", "target"]


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    label: str
    better: Better
    words: str


RATES: tuple[Rate, ...] = (
    Rate("fcr_rate", "First contact resolution", "up", "resolved at once: no transfer, no repeat"),
    Rate("failure_demand_rate", "Failure demand", "down",
         "contacts that repeat one of the last 7 days"),
    Rate("flow_efficiency", "Flow efficiency", "up", "value-added time ÷ lead time"),
    Rate("abandonment_rate", "Abandonment", "down", "customers who gave up"),
    Rate("occupancy", "Occupancy", "target", "busy ÷ staffed time; best at the target"),
)

#: waste types ▲ = worse; listed in the order of the report
REPORT_WASTES: tuple[str, ...] = ("waiting", "overproduction", "over_processing", "motion",
                                  "transportation", "defects", "inventory")


def _mean(values: Sequence[float | None]) -> tuple[float | None, int]:
    got = [v for v in values if v is not None]
    return (sum(got) / len(got), len(got)) if got else (None, 0)


def same(a: float, b: float) -> bool:
    """``a`` and ``b`` equal but for rounding."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(value: float | None, baseline: float | None, better: Better,
            target: float | None = None) -> tuple[str | None, str | None]:
    """(direction up/down/same, assessment better/worse/same); None when not comparable."""
    if value is None or baseline is None:
        return None, None
    direction = "same" if same(value, baseline) else "up" if value > baseline else "down"
    if better == "target" and target is not None:
        now, before = abs(value - target), abs(baseline - target)
        return direction, "same" if same(now, before) else "better" if now < before else "worse"
    if direction == "same":
        return direction, "same"
    return direction, "better" if (direction == better) else "worse"


def _rates_of(flow: Mapping[str, Any] | None, cap: Mapping[str, float] | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {r.key: None for r in RATES}
    if flow:
        for r in RATES[:4]:
            out[r.key] = flow.get(r.key)
    if cap:
        out["occupancy"] = ratio(cap.get("busy_s"), cap.get("staffed_s"))
    return out


def build_report(figures: Mapping[str, Any], costs: Mapping[str, float], target: float,
                 top_reasons: int = 5) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    day: date = figures["day"]
    before = [day - timedelta(days=k) for k in range(BASELINE_DAYS, 0, -1)]
    wastes: Mapping[date, Mapping[str, float]] = figures["wastes"]
    flow: Mapping[date, Mapping[str, Any]] = figures["flow"]
    cap: Mapping[date, Mapping[str, float]] = figures["capacity"]

    def has_data(d: date) -> bool:
        return bool(flow.get(d, {}).get("contacts")) or bool(wastes.get(d)) or bool(
            cap.get(d, {}).get("staffed_s"))

    active = [d for d in before if has_data(d)]

    def waste_of(d: date) -> dict[str, float]:
        w = wastes.get(d, {})
        return {t: float(w.get(t, 0.0)) for t in WASTE_TYPES}

    today_w = waste_of(day)
    waste_rows: list[dict[str, Any]] = []
    for w in REPORT_WASTES:
        base, n = _mean([waste_of(d)[w] for d in active])
        direction, assessment = compare(today_w[w], base, "down")
        change = today_w[w] - base if base is not None else None
        waste_rows.append({
            "waste_type": w, "words": WASTE_WORDS[w],
            "unit": "seconds" if w in MEASURED_IN_SECONDS else "count",
            "value": today_w[w], "baseline": base, "baseline_days": n, "change": change,
            "change_ratio": change / base if change is not None and base else None,
            "direction": direction, "assessment": assessment,
            "cost_s": today_w[w] * costs[w],
        })

    today_r = _rates_of(flow.get(day), cap.get(day))
    rate_rows: list[dict[str, Any]] = []
    for r in RATES:
        base, n = _mean([_rates_of(flow.get(d), cap.get(d))[r.key] for d in active])
        value = today_r[r.key]
        direction, assessment = compare(value, base, r.better, target)
        rate_rows.append({
            "rate": r.key, "label": r.label, "words": r.words, "value": value, "baseline": base,
            "baseline_days": n, "change": value - base if value is not None and base is not None else None,
            "direction": direction, "assessment": assessment,
            "better": {"up": "higher", "down": "lower", "target": f"closer to {target:g}"}[r.better],
        })

    total_cost = sum(w["cost_s"] for w in waste_rows)
    ranked = sorted((w for w in waste_rows if w["cost_s"] > 0),
                    key=lambda w: (-w["cost_s"], WASTE_TYPES.index(w["waste_type"])))
    top = [{"rank": i + 1, "waste_type": w["waste_type"], "cost_s": w["cost_s"],
            "share": ratio(w["cost_s"], total_cost), "quantity": w["value"],
            "unit": w["unit"], "cost_per_unit_s": costs[w["waste_type"]]}
           for i, w in enumerate(ranked[:3])]

    reason_rows = [r for r in figures["reasons"] if r["day"] == day and r["failure_demand"] > 0]
    reason_rows.sort(key=lambda r: (-r["failure_demand"], -(r["failure_demand_rate"] or 0), r["reason"]))
    reasons = []
    for r in reason_rows[:top_reasons]:
        base, n = _mean([x["failure_demand_rate"] for x in figures["reasons"]
                         if x["reason"] == r["reason"] and x["day"] in active])
        reasons.append({"reason": r["reason"], "failure_demand": r["failure_demand"],
                        "contacts": r["contacts"], "failure_demand_rate": r["failure_demand_rate"],
                        "baseline_rate": base, "baseline_days": n})

    return {
        "day": day,
        "baseline": {"from": before[0], "to": before[-1], "days_with_data": len(active),
                     "days": active},
        "has_data": has_data(day),
        "target_occupancy": target,
        "wastes": waste_rows,
        "rates": rate_rows,
        "total_cost_s": total_cost,
        "top_wastes_by_cost": top,
        "worst_reasons": reasons,
        "improvements": improvements_block(figures.get("improvements", ()), day),
        "cost_seconds": dict(costs),
        "cost_table": [{"waste_type": w, "seconds_per_unit": costs[w], "why": COST_RATIONALE[w]}
                       for w in REPORT_WASTES],
    }
