"""The daily huddle report as plain data: Lean's morning meeting, from the waste read model.

Fair comparisons (issue 13) and honest days (issue 14). For one day of the business time
zone (the scope's ``zone``, :mod:`leancrm_waste.read.timezone`; default UTC), of the
channels and agent teams chosen (default: all):

- **volume beside every count**: the day's contacts (interactions started that day) and
  how many of them are still open, per channel;
- **the seven wastes as rates**, not raw counts, so a busy Monday and a quiet Sunday can
  be compared: waiting in seconds per contact, overproduction as a percentage of staffed
  time, every counted waste per 100 contacts — each beside its quantity;
- **the key rates** (first contact resolution, failure demand, flow efficiency,
  abandonment, occupancy against its target, waiting per contact), each with its
  numerator and denominator;
- **the comparison baseline** is the same weekday over recent weeks: the last
  :data:`COMPARE_WEEKS` same weekdays (within :data:`LOOKBACK_WEEKS` weeks) with at
  least ``min_contacts`` contacts, pooled (Σ quantity ÷ Σ contacts, so each day weighs
  by its volume); or a stated baseline (``--baseline FROM:TO``: its days with at least
  ``min_contacts`` contacts). The report says which;
- a day is judged only when it can be: **no data** (nothing recorded), **too few
  contacts to judge** (fewer than ``min_contacts``, default :data:`MIN_CONTACTS`), **day
  not finished** (contacts started that day still open, or the day not over yet in the
  business time zone: an
  open queue episode counts no waiting until it ends, so an unfinished day looks
  better than it is), **no baseline**; otherwise better, worse or the same;
- the key rates are also judged by **process-behaviour (XmR) charts**
  (:mod:`leancrm_waste.domain.signals`): "signal" (with the rule) or "within normal
  variation" — see :mod:`leancrm_waste.huddle.signals`;
- the top three wastes by cost in seconds (:data:`leancrm_waste.read.costs.DEFAULT_COST_SECONDS`);
- the worst reasons by failure demand, only reasons with at least
  ``min_reason_contacts`` contacts that day (default :data:`MIN_REASON_CONTACTS`);
- what is open now: open contacts per channel and age band, and the waiting accrued
  so far by those still queued or on hold (live, ``waste.open_interactions``);
- the improvements running, and the adopted gains holding or fading
  (:mod:`leancrm_waste.huddle.improvements`).

The figures are read by :func:`leancrm_waste.huddle.cli.load` (``leancrm_waste.read.daily``);
no I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from leancrm_waste.domain.signals import DEFAULT_BASELINE_POINTS, SCALE
from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.huddle.improvements import improvements_block
from leancrm_waste.read.costs import COST_RATIONALE, MEASURED_IN_SECONDS, WASTE_WORDS
from leancrm_waste.read.daily import DailyScope, DayFigures, OpenNow
from leancrm_waste.read.shaping import ratio
from leancrm_waste.read.signals import (
    RATES,
    RULE_WORDS,
    Better,
    baseline_span,
    chart_of,
    not_applicable,
    rate_parts,
    verdict_of,
)
from leancrm_waste.read.timezone import midnight_in, zone_name

#: a day (or baseline day) with fewer contacts is not judged
MIN_CONTACTS = 30
#: a reason with fewer contacts that day is left out of the worst reasons
MIN_REASON_CONTACTS = 10
#: same weekdays in the comparison baseline
COMPARE_WEEKS = 4
#: how far back the same weekdays are looked for
LOOKBACK_WEEKS = 12
Measure = Literal["per_contact_s", "per_100_contacts", "share_of_staffed", "rate"]


#: waste types in the order of the report
REPORT_WASTES: tuple[str, ...] = ("waiting", "overproduction", "over_processing", "motion",
                                  "transportation", "defects", "inventory")

Verdict = Literal["better", "worse", "same", "no data", "too few contacts to judge",
                  "day not finished", "no baseline", "not by channel"]


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


# ---------------------------------------------------------------------------------------
# one day's measures


def waste_measure(waste: str) -> Measure:
    if waste == "waiting":
        return "per_contact_s"
    if waste == "overproduction":
        return "share_of_staffed"
    return "per_100_contacts"


def _per(f: DayFigures, waste: str) -> tuple[float, float]:
    """(quantity, denominator) of ``waste`` on day ``f``."""
    q = float(f.wastes.get(waste, 0.0))
    m = waste_measure(waste)
    return q, f.staffed_s if m == "share_of_staffed" else float(f.contacts)


def waste_value(q: float, den: float, waste: str) -> float | None:
    v = ratio(q, den)
    if v is None:
        return None
    return 100 * v if waste_measure(waste) == "per_100_contacts" else v


# ---------------------------------------------------------------------------------------
# the baseline and the judgement


def comparison_days(days: Mapping[date, DayFigures], day: date, min_contacts: int,
                    weeks: int = COMPARE_WEEKS,
                    stated: tuple[date, date] | None = None) -> list[date]:
    """The days the day is compared with: the last ``weeks`` same weekdays before it
    (within :data:`LOOKBACK_WEEKS`) with at least ``min_contacts`` contacts, or the days
    of ``stated`` (inclusive) with that many, other than the day itself."""
    if stated is not None:
        return [d for d, f in sorted(days.items())
                if stated[0] <= d <= stated[1] and d != day and f.contacts >= min_contacts]
    found: list[date] = []
    for k in range(1, LOOKBACK_WEEKS + 1):
        d = day - timedelta(weeks=k)
        f = days.get(d)
        if f is not None and f.contacts >= min_contacts:
            found.append(d)
            if len(found) == weeks:
                break
    return sorted(found)


def day_state(f: DayFigures, min_contacts: int, day_over: bool) -> tuple[str, str]:
    """(state, words) of the day: ok, no data, too few contacts, not finished."""
    if not f.has_data:
        return "no data", "No contacts, waste or staffing recorded on this day."
    if not day_over or f.open:
        parts = ", ".join(f"{c} {n}" for c, n in sorted(f.open_by_channel.items()))
        words = (f"day not finished: {f.open} contact{'s' if f.open != 1 else ''} open ({parts})"
                 if f.open else "day not finished: the day is not over yet")
        if f.open and not day_over:
            words += "; the day is not over yet"
        return "not finished", words
    if f.contacts < min_contacts:
        return "too few", (f"too few contacts to judge: {f.contacts} (fewer than {min_contacts})")
    return "ok", "complete"


def judge(value: float | None, baseline: float | None, better: Better, state: str,
          target: float | None = None) -> tuple[str | None, str | None, Verdict]:
    """(direction, assessment, verdict): better/worse/same only on a complete day with
    enough contacts against a baseline; else why not."""
    if state == "no data" or value is None:
        return None, None, "no data"
    direction, assessment = compare(value, baseline, better, target)
    if state == "not finished":
        return direction, None, "day not finished"
    if state == "too few":
        return direction, None, "too few contacts to judge"
    if baseline is None:
        return None, None, "no baseline"
    return direction, assessment, assessment  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# the report


def build_report(figures: Mapping[str, Any], costs: Mapping[str, float], target: float,
                 top_reasons: int = 5, *, min_contacts: int = MIN_CONTACTS,
                 min_reason_contacts: int = MIN_REASON_CONTACTS, weeks: int = COMPARE_WEEKS,
                 baseline: tuple[date, date] | None = None) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints). ``figures``: ``day``,
    ``days`` (date → :class:`DayFigures`), ``reasons`` (rows of
    :func:`leancrm_waste.read.daily.reasons_by_day`), ``open_now``
    (:class:`OpenNow` or None), ``scope`` (:class:`DailyScope`)."""
    day: date = figures["day"]
    days: Mapping[date, DayFigures] = figures["days"]
    scope: DailyScope = figures.get("scope") or DailyScope()
    open_now: OpenNow | None = figures.get("open_now")
    f = days.get(day) or DayFigures(day)
    # the day is over once its midnight has passed in the business time zone
    day_over = open_now is None or open_now.at >= midnight_in(day + timedelta(days=1), scope.zone)
    state, state_words = day_state(f, min_contacts, day_over)
    base_days = comparison_days(days, day, min_contacts, weeks, baseline)
    base = [days[d] for d in base_days]
    by_channel = bool(scope.channels)

    def pooled(parts: Sequence[tuple[float, float]]) -> float | None:
        return ratio(sum(n for n, _ in parts), sum(d for _, d in parts))

    waste_rows: list[dict[str, Any]] = []
    for w in REPORT_WASTES:
        q, den = _per(f, w)
        value = waste_value(q, den, w)
        b = pooled([_per(x, w) for x in base]) if base else None
        b_value = None if b is None else (100 * b if waste_measure(w) == "per_100_contacts" else b)
        if w == "overproduction" and by_channel:
            direction, assessment, verdict = None, None, "not by channel"
            value = b_value = None
        else:
            direction, assessment, verdict = judge(value, b_value, "down", state)
        change = value - b_value if value is not None and b_value is not None else None
        waste_rows.append({
            "waste_type": w, "words": WASTE_WORDS[w],
            "unit": "seconds" if w in MEASURED_IN_SECONDS else "count",
            "measure": waste_measure(w), "quantity": q,
            "per": "staffed_s" if waste_measure(w) == "share_of_staffed" else "contacts",
            "denominator": den, "value": value, "baseline": b_value, "change": change,
            "change_ratio": change / b_value if change is not None and b_value else None,
            "direction": direction, "assessment": assessment, "verdict": verdict,
            "cost_s": q * costs[w],
        })

    chart_first = min(days) if days else day
    spans: list[tuple[date, date]] = []
    rate_rows: list[dict[str, Any]] = []
    for r in RATES:
        num, den = rate_parts(f, r.key)
        value = ratio(num, den)
        b = pooled([rate_parts(x, r.key) for x in base]) if base else None
        why = not_applicable(r.key, scope)
        if why:
            value = b = None
            direction, assessment, verdict = None, None, why
        else:
            direction, assessment, verdict = judge(value, b, r.better, state, target)
        rate_rows.append({
            "rate": r.key, "label": r.label, "words": r.words, "numerator": num,
            "denominator": den, "value": value, "baseline": b,
            "change": value - b if value is not None and b is not None else None,
            "direction": direction, "assessment": assessment, "verdict": verdict,
            "better": {"up": "higher", "down": "lower",
                       "target": f"closer to the target {100 * target:g} %"}[r.better],
            "signal": _signal(days, r, chart_first, day, state, state_words, min_contacts, baseline,
                              target, not_applicable(r.key, scope), spans),
        })

    total_cost = sum(w["cost_s"] for w in waste_rows)
    ranked = sorted((w for w in waste_rows if w["cost_s"] > 0),
                    key=lambda w: (-w["cost_s"], WASTE_TYPES.index(w["waste_type"])))
    top = [{"rank": i + 1, "waste_type": w["waste_type"], "cost_s": w["cost_s"],
            "share": ratio(w["cost_s"], total_cost), "quantity": w["quantity"],
            "unit": w["unit"], "cost_per_unit_s": costs[w["waste_type"]]}
           for i, w in enumerate(ranked[:3])]

    todays = [x for x in figures.get("reasons", ()) if x["day"] == day and x["failure_demand"] > 0]
    big = [x for x in todays if x["contacts"] >= min_reason_contacts]
    big.sort(key=lambda x: (-x["failure_demand"], -x["failure_demand"] / x["contacts"], x["reason"]))
    reasons = []
    for x in big[:top_reasons]:
        past = [y for y in figures.get("reasons", ()) if y["reason"] == x["reason"] and y["day"] in base_days]
        reasons.append({"reason": x["reason"], "failure_demand": x["failure_demand"],
                        "contacts": x["contacts"], "failure_demand_rate": x["failure_demand"] / x["contacts"],
                        "baseline_rate": ratio(sum(y["failure_demand"] for y in past),
                                               sum(y["contacts"] for y in past)),
                        "baseline_contacts": sum(y["contacts"] for y in past)})

    if baseline is not None:
        kind, words = "stated", (f"the stated baseline {baseline[0]} to {baseline[1]}: its "
                                 f"{len(base_days)} day(s) with at least {min_contacts} contacts")
    else:
        kind, words = "same weekday", (
            f"the last {weeks} {day:%A}s with at least {min_contacts} contacts "
            f"(found {len(base_days)} in the {LOOKBACK_WEEKS} weeks before)")
    return {
        "day": day,
        "time_zone": zone_name(scope.zone),
        "scope": {"channel": list(scope.channels) or None, "team": list(scope.teams) or None,
                  "notes": _scope_notes(scope)},
        "has_data": f.has_data,
        "volume": {"contacts": f.contacts, "open": f.open, "open_by_channel": dict(f.open_by_channel),
                   "day_over": day_over, "staffed_s": f.staffed_s},
        "state": state, "state_words": state_words,
        "comparison": {"kind": kind, "words": words, "days": base_days,
                       "contacts": sum(x.contacts for x in base), "min_contacts": min_contacts,
                       "weeks": weeks, "pooled": "Σ quantity ÷ Σ contacts (or staffed time) over the days"},
        "target_occupancy": target,
        "wastes": waste_rows,
        "rates": rate_rows,
        "signals": _signals_block(spans, baseline, min_contacts),
        "total_cost_s": total_cost,
        "top_wastes_by_cost": top,
        "worst_reasons": reasons,
        "min_reason_contacts": min_reason_contacts,
        "reasons_left_out": len(todays) - len(big),
        "open_now": _open_block(open_now),
        "improvements": improvements_block(figures.get("improvements", ()), day),
        "cost_seconds": dict(costs),
        "cost_table": [{"waste_type": w, "seconds_per_unit": costs[w], "why": COST_RATIONALE[w]}
                       for w in REPORT_WASTES],
    }


def _signal(days: Mapping[date, DayFigures], rate: Any, first: date, day: date, state: str,
            state_words: str, min_contacts: int, baseline: tuple[date, date] | None,
            target: float, why_not: str | None, spans: list[tuple[date, date]]) -> dict[str, Any]:
    """The XmR verdict of ``rate`` on ``day``, or why there is none."""
    if why_not:
        return {"verdict": why_not, "rules": [], "rules_words": [], "side": None, "limits": None}
    chart = chart_of(days, rate, first, max(day, baseline[1]) if baseline else day,
                     min_contacts=min_contacts, baseline=baseline)
    span = baseline_span(chart)
    if span:
        spans.append(span)
    out = verdict_of(chart, rate, day, target)
    if state in ("no data", "not finished", "too few"):
        out.update(verdict={"no data": "no data", "not finished": "day not finished",
                            "too few": "too few contacts to judge"}[state],
                   rules=[], rules_words=[], side=None)
    elif out["verdict"] == "no limits":
        n = sum(1 for p in chart.points if p.in_baseline)
        out["verdict"] = f"no limits yet ({n} baseline days with a value; 6 needed)"
    return out


def _signals_block(spans: Sequence[tuple[date, date]], baseline: tuple[date, date] | None,
                   min_contacts: int) -> dict[str, Any]:
    kind = (f"stated, {baseline[0]} to {baseline[1]}" if baseline else
            f"the first {DEFAULT_BASELINE_POINTS} days with a value")
    seen = (f" ({min(a for a, _ in spans)} to {max(b for _, b in spans)})" if spans else " (none yet)")
    words = (f"Signal or normal variation: an XmR chart of each rate, limits = centre ± {SCALE} × "
             f"average moving range over a baseline of {kind}{seen}; a signal is "
             + "; ".join(RULE_WORDS.values())
             + f". Days with fewer than {min_contacts} contacts are gaps.")
    return {"baseline": {"kind": "stated" if baseline else "first days with a value",
                         "from": min((a for a, _ in spans), default=None),
                         "to": max((b for _, b in spans), default=None)},
            "rules": dict(RULE_WORDS), "words": words}


def _scope_notes(scope: DailyScope) -> list[str]:
    notes = []
    if scope.channels:
        notes.append("by channel: occupancy and overproduction are left out (staffing has no "
                     "channel)")
    if scope.teams:
        notes.append("by team: contacts count under the team of the last agent assigned; "
                     "contacts no agent has taken yet count under no team; service level is left "
                     "out (it is per channel)")
    return notes


def _open_block(o: OpenNow | None) -> dict[str, Any] | None:
    if o is None:
        return None
    channels = sorted({c for c, _, _ in o.backlog} | set(o.waiting))
    bands: dict[str, dict[str, int]] = {}
    for c, band, n in o.backlog:
        bands.setdefault(c, {})[band] = n
    rows = [{"channel": c, "<1h": bands.get(c, {}).get("<1h", 0),
             "1-24h": bands.get(c, {}).get("1-24h", 0), ">24h": bands.get(c, {}).get(">24h", 0),
             "open": sum(bands.get(c, {}).values()), "waiting_now": o.waiting.get(c, (0, 0.0))[0],
             "waiting_so_far_s": o.waiting.get(c, (0, 0.0))[1]} for c in channels]
    at: datetime = o.at
    return {"at": at, "rows": rows, "open": sum(r["open"] for r in rows),
            "waiting_now": sum(r["waiting_now"] for r in rows),
            "waiting_so_far_s": sum(r["waiting_so_far_s"] for r in rows)}
