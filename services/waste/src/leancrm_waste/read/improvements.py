"""Improvements and their effect, read from the public views (contract section 6,
``waste.improvements``): the rows of the view, each improvement's target as a daily
series over its scope, and the pure judgement of :mod:`leancrm_waste.domain.improvements`.

The daily sums come from the views ``leancrm_ops`` reads: contacts and their outcomes
from ``waste.interactions`` (by day of start in the business time zone, default UTC,
narrowed by channel and reason),
occupancy from ``waste.capacity_hourly`` (narrowed by team) and a waste per contact from
``waste.waste_ledger`` (narrowed by channel, reason and team) over the same contacts.
Used by the API (``/api/v1/improvements/effects``), the huddle and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta, tzinfo
from typing import Any

from leancrm_servicekit.db import Conn
from leancrm_waste.domain.improvements import (
    FRACTIONS,
    LOOKBACK_DAYS,
    WASTE_OF_TARGET,
    DailyFigures,
    Evaluation,
    evaluate,
    rate_of,
)
from leancrm_waste.read.params import parse_day
from leancrm_waste.read.querystring import BadRequest, check_query
from leancrm_waste.read.timezone import midnight_in, zone_name

_IMPROVEMENTS = """
SELECT improvement_id, title, target, channel, reason, team, starts_on, owner_team,
       expected_direction, expected_size, status, ended_on, outcome_note
FROM waste.improvements
WHERE starts_on <= $1 AND (ended_on IS NULL OR ended_on >= $2)
ORDER BY starts_on, improvement_id
"""

# $1, $2: the instants the first and the day after the last day start in the business
# time zone; $3: its name (the days are cut there, as the views' day columns)
_CONTACTS = """
SELECT (started_at AT TIME ZONE $3::text)::date AS day,
       count(*) AS contacts,
       count(*) FILTER (WHERE first_contact_resolution) AS first_contact_resolutions,
       count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
       count(*) FILTER (WHERE transfers >= 1) AS transferred,
       count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
       coalesce(sum(value_added_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8
           AS value_added_s,
       coalesce(sum(lead_time_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8
           AS lead_time_s
FROM waste.interactions
WHERE started_at >= $1::timestamptz AND started_at < $2::timestamptz
  AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR reason = $5)
GROUP BY 1
"""

_CAPACITY = """
SELECT (bucket_start AT TIME ZONE $3::text)::date AS day,
       sum(busy_s::numeric)::float8 AS busy_s, sum(staffed_s::numeric)::float8 AS staffed_s
FROM waste.capacity_hourly
WHERE bucket_start >= $1::timestamptz AND bucket_start < $2::timestamptz
  AND ($4::text IS NULL OR team = $4)
GROUP BY 1
"""

_WASTE = """
SELECT (occurred_at AT TIME ZONE $3::text)::date AS day, sum(quantity::numeric)::float8 AS waste
FROM waste.waste_ledger
WHERE waste_type = $6
  AND occurred_at >= $1::timestamptz AND occurred_at < $2::timestamptz
  AND ($4::text IS NULL OR channel = $4) AND ($5::text IS NULL OR reason = $5)
  AND ($7::text IS NULL OR team = $7)
GROUP BY 1
"""


@dataclass(frozen=True, slots=True)
class Judged:
    """An improvement (a row of ``waste.improvements``) and its evaluation."""

    row: dict[str, Any]
    evaluation: Evaluation
    series: tuple[tuple[date, float | None], ...]


async def daily_series(conn: Conn, row: dict[str, Any], last: date, zone: tzinfo = UTC
                       ) -> list[tuple[date, float | None]]:
    """The improvement's target per day of ``zone`` (the business time zone; default UTC)
    over its scope, from LOOKBACK_DAYS before its start to ``last`` (inclusive); a day
    without a value is left out."""
    target = str(row["target"])
    first, end = row["starts_on"] - timedelta(days=LOOKBACK_DAYS), last + timedelta(days=1)
    window = (midnight_in(first, zone), midnight_in(end, zone), zone_name(zone))
    by_day: dict[date, dict[str, Any]] = {}
    if target == "occupancy":
        rows = await conn.fetch(_CAPACITY, *window, row["team"])
    else:
        rows = await conn.fetch(_CONTACTS, *window, row["channel"], row["reason"])
    for r in rows:
        by_day[r["day"]] = dict(r)
    if target in WASTE_OF_TARGET:
        for r in await conn.fetch(_WASTE, *window, row["channel"], row["reason"],
                                  WASTE_OF_TARGET[target], row["team"]):
            by_day.setdefault(r["day"], {"day": r["day"]})["waste"] = r["waste"]
    fields = set(DailyFigures.__slots__)
    series = [(d, rate_of(target, DailyFigures(**{k: v for k, v in f.items() if k in fields})))
              for d, f in sorted(by_day.items())]
    return [(d, v) for d, v in series if v is not None]


async def judged_improvements(conn: Conn, as_of: date, *, since: date | None = None,
                              abandoned: bool = True, zone: tzinfo = UTC) -> list[Judged]:
    """Every improvement started by ``as_of`` and not ended before ``since`` (default:
    ``as_of``), judged as of ``as_of``: one that ends after ``as_of`` is still running then.
    ``abandoned=False`` leaves out those abandoned by ``as_of`` (nothing to watch). Days
    are days of ``zone``, the business time zone (default UTC)."""
    rows = await conn.fetch(_IMPROVEMENTS, as_of, since or as_of)
    judged = []
    for r in rows:
        row = dict(r)
        if row["ended_on"] is not None and row["ended_on"] > as_of:
            row.update(status="running", ended_on=None, outcome_note=None)
        if not abandoned and row["status"] == "abandoned":
            continue
        series = await daily_series(conn, row, as_of, zone)
        evaluation = evaluate(series, starts_on=row["starts_on"],
                              direction=str(row["expected_direction"]), status=str(row["status"]),
                              as_of=as_of, fraction=row["target"] in FRACTIONS)
        judged.append(Judged(row, evaluation, tuple(series)))
    return judged


def as_json(j: Judged) -> dict[str, Any]:
    """One judged improvement as the API serves it."""
    e = j.evaluation
    limits = None if e.limits is None else {
        "centre": e.limits.centre, "lower": e.limits.lower, "upper": e.limits.upper,
        "average_moving_range": e.limits.average_moving_range,
        "baseline_points": e.limits.baseline_points,
        "baseline_from": e.baseline[0] if e.baseline else None,
        "baseline_to": e.baseline[1] if e.baseline else None}
    return {**j.row, "effect": e.effect, "gain": e.gain, "first_signal_on": e.first_signal_on,
            "limits": limits, "latest": e.latest,
            "after": [{"day": p.day, "value": p.value, "signal": p.signal, "rules": list(p.rules)}
                      for p in e.after]}


def parse_effects_query(items: list[tuple[str, str]], today: date) -> date:
    """``/api/v1/improvements/effects``'s one parameter, ``day`` (default: ``today``, the
    caller's today in the business time zone):
    the day the improvements are judged as of."""
    params, errors = check_query(items, ("day",), "the improvements' effects")
    day = today
    if "day" in params and not errors:
        try:
            if len(params["day"]) > 1:
                raise ValueError("given more than once")
            day = parse_day(params["day"][0])
        except ValueError as exc:
            errors["day"] = str(exc)
    if errors:
        raise BadRequest(errors)
    return day
