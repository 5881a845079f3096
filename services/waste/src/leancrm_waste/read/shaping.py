"""Values and figures as the API and the huddle give them out: JSON values (RFC 3339
timestamps, numbers as numbers), rates, the Pareto of the wastes by cost and the
body of the summary. No I/O."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.read.catalogue import AGE_BANDS, CHANNELS, ROUTING_TEAMS, SOURCES
from leancrm_waste.read.costs import MEASURED_IN_SECONDS, WASTE_WORDS


def rfc3339(value: datetime) -> str:
    """UTC with a Z, milliseconds (microseconds when there are any)."""
    v = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    frac = f"{v.microsecond // 1000:03d}" if v.microsecond % 1000 == 0 else f"{v.microsecond:06d}"
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def number(value: Any) -> Any:
    """numeric → int when whole, else float; everything else unchanged."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def jsonable(value: Any) -> Any:
    """A JSON value: RFC 3339 Z timestamps, dates as YYYY-MM-DD, numbers as numbers."""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def ratio(num: float | int | None, den: float | int | None) -> float | None:
    """``num / den``; None when either is missing or ``den`` is 0."""
    if num is None or not den:
        return None
    return float(num) / float(den)


def with_rates(r: dict[str, Any]) -> dict[str, Any]:
    """Row ``r`` of flow sums with the rates of ``waste.value_stream_daily`` added."""
    r["fcr_rate"] = ratio(r["fcr"], r["contacts"])
    r["failure_demand_rate"] = ratio(r["failure_demand"], r["contacts"])
    r["abandonment_rate"] = ratio(r["abandoned"], r["contacts"])
    r["transfer_rate"] = ratio(r["transferred"], r["contacts"])
    r["flow_efficiency"] = ratio(r["value_added_s"], r["lead_time_s"])
    return r


def pareto(totals: Mapping[str, Mapping[str, Any]], costs: Mapping[str, float],
           not_applicable: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The seven wastes ranked by cost in seconds (descending; ties in the post's order),
    with each one's share and the cumulative share. A waste of ``not_applicable``
    (waste -> why: a filter it cannot be cut by) has no figures (null), comes last and
    is left out of the total, with ``not_applicable`` saying why."""
    skip = not_applicable or {}
    rows = [{"waste_type": w, "label": w.replace("_", "-"), "words": WASTE_WORDS[w],
             "occurrences": None if w in skip else t["occurrences"],
             "quantity": None if w in skip else t["quantity"], "unit": t["unit"],
             "cost_per_unit_s": costs[w], "cost_s": None if w in skip else t["quantity"] * costs[w],
             "not_applicable": skip.get(w)}
            for w, t in totals.items()]
    rows.sort(key=lambda r: (r["cost_s"] is None, -(r["cost_s"] or 0), WASTE_TYPES.index(r["waste_type"])))
    total = sum(r["cost_s"] or 0 for r in rows)
    running = 0.0
    for r in rows:
        if r["cost_s"] is None:
            r["share"] = r["cumulative_share"] = None
            continue
        running += r["cost_s"]
        r["share"] = ratio(r["cost_s"], total)
        r["cumulative_share"] = ratio(running, total)
    return {"rank_by": "cost_s", "total_cost_s": total, "rows": rows}


#: Which filters each part of the summary is cut by (the others say why not, in
#: ``not_applied``): the flow and the Pareto by all; capacity (occupancy and
#: overproduction) per team-hour; the backlog is what is open now; feedback per source
#: and routed team.
APPLIES: Final[Mapping[str, tuple[str, ...]]] = {
    "pareto": ("from", "to", "channel", "reason", "team"),
    "daily": ("from", "to", "channel", "reason", "team"),
    "capacity": ("from", "to", "team"),
    "backlog": ("channel", "reason", "team"),
    "sentiment": ("from", "to"),
}
#: why a filter does not cut a part of the summary (part -> filter -> why)
WHY_NOT: Final[Mapping[str, Mapping[str, str]]] = {
    "capacity": {
        "channel": "not by channel: staffing, occupancy and overproduction are counted per team-hour",
        "reason": "not by reason: staffing, occupancy and overproduction are counted per team-hour",
    },
    "backlog": {
        "from": "not by period: the backlog is what is open now",
    },
    "sentiment": {
        "channel": "not by channel: feedback is counted per source and routed team",
        "reason": "not by reason: feedback is counted per source and routed team",
        "team": "not by agent team: feedback is routed to product, marketing, sales or service",
    },
}
#: why the Pareto's overproduction is not cut by a filter
OVERPRODUCTION_WHY_NOT: Final[Mapping[str, str]] = {
    "channel": "not by channel: overproduction is counted per team-hour",
    "reason": "not by reason: overproduction is counted per team-hour",
}


def not_applied(filters: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Per part of the summary, each active filter that does not cut it, and why (the
    period, from and to, counts as one filter: ``from``)."""
    active = {k for k, v in filters.items() if v} | ({"from"} if filters.get("to") else set())
    out: dict[str, dict[str, str]] = {}
    for part, applies in APPLIES.items():
        why = {k: WHY_NOT.get(part, {}).get(k, f"not by {k}") for k in sorted(active)
               if k not in applies and k != "to"}
        if why:
            out[part] = why
    over = {k: v for k, v in OVERPRODUCTION_WHY_NOT.items() if k in active}
    if over:
        out["pareto"] = {**out.get("pareto", {}), **{f"overproduction.{k}": v for k, v in over.items()}}
    return out

def summary(*, generated_at: datetime, filters: Mapping[str, Any], days: Sequence[date],
            totals: Mapping[str, Mapping[str, Any]], flow: Sequence[dict[str, Any]],
            capacity: Sequence[dict[str, Any]], backlog: Sequence[dict[str, Any]],
            sentiment: Sequence[dict[str, Any]], costs: Mapping[str, float],
            target_occupancy: float | None,
            known: Mapping[str, Sequence[str]] | None = None,
            time_zone: str = "UTC") -> dict[str, Any]:
    """The body of ``/api/v1/summary`` from the figures
    :func:`leancrm_waste.read.views.summary_figures` read in one snapshot; ``days`` are
    the days of its time range (each one gets a row of ``daily``, with zeros when no
    contact started that day)."""
    by_day = {r["day"]: r for r in flow}
    keys = ("contacts", "fcr", "failure_demand", "abandoned", "transferred", "value_added_s",
            "lead_time_s")
    daily = [by_day.get(d) or with_rates({"day": d, **dict.fromkeys(keys, 0)}) for d in days]
    pooled = with_rates({k: sum(r[k] for r in flow) for k in keys})
    staffed = sum(float(r["staffed_s"] or 0) for r in capacity)
    busy = sum(float(r["busy_s"] or 0) for r in capacity)
    teams = sorted({r["team"] for r in capacity})
    bands = {b: sum(r["open_interactions"] for r in backlog if r["age_band"] == b) for b in AGE_BANDS}
    skipped = not_applied(filters)
    over_why = "; ".join(v for k, v in skipped.get("pareto", {}).items() if k.startswith("overproduction."))
    return {
        "generated_at": generated_at,
        "time_zone": time_zone,
        "filters": dict(filters),
        "applies": {part: list(names) for part, names in APPLIES.items()},
        "not_applied": skipped,
        "known": {"channel": list(CHANNELS), **{k: list(v) for k, v in (known or {}).items()}},
        "target_occupancy": target_occupancy,
        "cost_seconds": dict(costs),
        "headline": {
            "contacts": pooled["contacts"], "fcr_rate": pooled["fcr_rate"],
            "failure_demand_rate": pooled["failure_demand_rate"],
            "abandonment_rate": pooled["abandonment_rate"],
            "flow_efficiency": pooled["flow_efficiency"],
            "occupancy": ratio(busy, staffed),
            "overproduction_s": sum(float(r["overproduction_s"] or 0) for r in capacity),
            "open_interactions": sum(bands.values()),
        },
        "pareto": pareto(totals, costs, {"overproduction": over_why} if over_why else None),
        "daily": daily,
        "capacity": {"teams": teams, "rows": list(capacity)},
        "backlog": {"bands": list(AGE_BANDS), "by_band": bands, "rows": list(backlog)},
        "sentiment": {"sources": list(SOURCES), "teams": list(ROUTING_TEAMS), "rows": list(sentiment)},
    }


def breakdown(*, by: str, filters: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
              wastes: Sequence[str], costs: Mapping[str, float]) -> dict[str, Any]:
    """The body of ``/api/v1/breakdown``: per waste of ``wastes`` (all seven when empty),
    its total over the scope and its rows per value of ``by``, each with its cost in
    seconds and its share of that waste's cost, largest first (ties by value; null last).
    A waste the breakdown or a filter cannot cut (overproduction by channel or reason) has
    ``not_applicable`` saying why and no rows."""
    chosen = [w for w in WASTE_TYPES if w in wastes] if wastes else list(WASTE_TYPES)
    why = {k: v for k, v in OVERPRODUCTION_WHY_NOT.items() if k == by or filters.get(k)}
    out_rows: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    for w in chosen:
        unit = "seconds" if w in MEASURED_IN_SECONDS else "count"
        na = "; ".join(why.values()) if w == "overproduction" and why else None
        mine = [r for r in rows if r["waste_type"] == w] if na is None else []
        cost = sum(float(r["quantity"]) * costs[w] for r in mine)
        totals.append({"waste_type": w, "unit": unit, "cost_per_unit_s": costs[w],
                       "occurrences": None if na else sum(int(r["occurrences"]) for r in mine),
                       "quantity": None if na else sum(float(r["quantity"]) for r in mine),
                       "cost_s": None if na else cost, "not_applicable": na})
        ranked = sorted(mine, key=lambda r: (-float(r["quantity"]), r["value"] is None, r["value"] or ""))
        out_rows += [{"waste_type": w, by: r["value"], "occurrences": int(r["occurrences"]),
                      "quantity": float(r["quantity"]), "unit": unit,
                      "cost_s": float(r["quantity"]) * costs[w],
                      "share": ratio(float(r["quantity"]) * costs[w], cost)} for r in ranked]
    return {"by": by, "filters": dict(filters), "cost_seconds": dict(costs), "wastes": totals,
            "rows": out_rows}


def breakdown_columns(by: str) -> tuple[str, ...]:
    """The columns of a breakdown's rows (its CSV header)."""
    return ("waste_type", by, "occurrences", "quantity", "unit", "cost_s", "share")


#: fields that are fractions from 0 to 1 (or sentiment, −1 to +1): rounded to 4 decimals
FRACTION_FIELDS: Final = frozenset({
    "fcr_rate", "failure_demand_rate", "transfer_rate", "abandonment_rate", "flow_efficiency",
    "occupancy", "share", "cumulative_share", "negative_share", "avg_sentiment", "target_occupancy"})
#: fields in seconds besides those ending ``_s``: rounded to 0.1 s
SECONDS_FIELDS: Final = frozenset({"quantity"})
SECONDS_DECIMALS: Final = 1
FRACTION_DECIMALS: Final = 4


def is_fraction(name: str) -> bool:
    return name in FRACTION_FIELDS or name.endswith(("_rate", "_share"))


def is_seconds(name: str) -> bool:
    return name in SECONDS_FIELDS or name.endswith("_s")


def rounded(value: Any, name: str = "") -> Any:
    """``value`` (a body of the API, nested) with every float of a field in seconds
    rounded to 0.1 s and of a fraction to 4 decimals (contract section 6a): no float noise
    such as 1297705.5299500003 leaves the API. Other values are unchanged."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        if is_fraction(name):
            return round(value, FRACTION_DECIMALS) + 0.0
        if is_seconds(name):
            return round(value, SECONDS_DECIMALS) + 0.0
        return value
    if isinstance(value, Decimal):
        return rounded(float(value), name) if value != value.to_integral_value() else int(value)
    if isinstance(value, Mapping):
        return {k: rounded(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, name) for v in value]
    return value


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV: a header row of ``columns``, then one line per row, each value as
    the JSON answer has it (rounded; timestamps RFC 3339; true/false; empty for null)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_cell(jsonable(rounded(r.get(c), c))) for c in columns])
    return out.getvalue()


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
