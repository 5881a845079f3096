"""Signals, not noise (issue 14): an XmR process-behaviour chart of each daily key rate,
for the huddle, ``GET /api/v1/signals`` and the dashboard.

The key rates, per UTC day of the interactions' start (:mod:`leancrm_waste.read.daily`):
first contact resolution, failure demand, flow efficiency, abandonment (fractions of
the day's contacts or lead time), occupancy (busy ÷ staffed) and waiting per contact
(seconds), service level (answered within the channel's threshold ÷ offered, of the
channels with a threshold, ``waste.service_level_hourly``).

Each chart (:func:`leancrm_waste.domain.signals.xmr_chart`, whose docstring defines the
limits and rules): the baseline is the first :data:`DEFAULT_BASELINE_POINTS` days with a
value, or the days the caller states; the centre line is the baseline's mean, the
natural process limits are centre ± 2.66 × the mean moving range (fractions clipped to
[0, 1], seconds to ≥ 0); a point is a signal when it lies outside the limits, when it is
one of three of four successive points beyond half-way to a limit on one side, or one
of eight successive points on one side of the centre. A day with fewer than
``min_contacts`` contacts has no value (a gap): its rate is too noisy to judge.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from leancrm_servicekit.auth import WASTE_READ, Guard
from leancrm_servicekit.db import Conn
from leancrm_servicekit.http import NO_STORE, authorize
from leancrm_waste.domain.signals import DEFAULT_BASELINE_POINTS, SCALE, Chart, Rule, xmr_chart
from leancrm_waste.read.catalogue import CHANNELS
from leancrm_waste.read.daily import (
    MAX_DAYS,
    DailyScope,
    DayFigures,
    daily_figures,
    known_teams,
    unfinished,
)
from leancrm_waste.read.params import parse_day, parse_int
from leancrm_waste.read.querystring import BadRequest, check_query, parse_query_string
from leancrm_waste.read.shaping import ratio

Better = Literal["up", "down", "target"]


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    label: str
    better: Better
    words: str
    #: "fraction" (0..1, shown as a percentage) or "seconds"
    unit: str = "fraction"


RATES: tuple[Rate, ...] = (
    Rate("fcr_rate", "First contact resolution", "up", "resolved at once: no transfer, no repeat"),
    Rate("failure_demand_rate", "Failure demand", "down",
         "contacts that repeat one of the last 7 days"),
    Rate("flow_efficiency", "Flow efficiency", "up", "value-added time ÷ lead time"),
    Rate("abandonment_rate", "Abandonment", "down", "customers who gave up"),
    Rate("occupancy", "Occupancy", "target", "busy ÷ staffed time; best at the target"),
    Rate("waiting_per_contact_s", "Waiting per contact", "down",
         "queue and hold seconds per contact", unit="seconds"),
    Rate("service_level", "Service level", "up",
         "answered within the channel's threshold ÷ offered (channels with a threshold)"),
)
RATE_KEYS: Final = tuple(r.key for r in RATES)
RULE_WORDS: Final[Mapping[Rule, str]] = {
    "outside_limits": "a point outside the limits",
    "three_of_four": "3 of 4 points beyond half-way to a limit",
    "eight_on_one_side": "8 points in a row on one side of the centre",
}
#: the minimum of contacts of a day with a value, when the caller names none
MIN_CONTACTS: Final = 30
#: the days a chart covers when the caller does not say (the API)
DEFAULT_DAYS: Final = 90


def rate_parts(f: DayFigures, key: str) -> tuple[float, float]:
    """(numerator, denominator) of a key rate on day ``f``."""
    return {
        "fcr_rate": (f.fcr, f.contacts),
        "failure_demand_rate": (f.failure_demand, f.contacts),
        "flow_efficiency": (f.value_added_s, f.lead_time_s),
        "abandonment_rate": (f.abandoned, f.contacts),
        "occupancy": (f.busy_s, f.staffed_s),
        "waiting_per_contact_s": (f.wastes.get("waiting", 0.0), f.contacts),
        "service_level": (f.answered_within_threshold, f.offered),
    }[key]


NOT_APPLICABLE_WORDS: Final[Mapping[str, str]] = {
    "not by channel": "occupancy has no channel (staffing is per team)",
    "not by team": "service level has no team (it is per channel)",
}


def not_applicable(key: str, scope: DailyScope) -> str | None:
    """Why a rate cannot be narrowed to ``scope``, or None: staffing has no channel, the
    service-level view no team."""
    if key == "occupancy" and scope.channels:
        return "not by channel"
    if key == "service_level" and scope.teams:
        return "not by team"
    return None


def rate_of(f: DayFigures | None, key: str, min_contacts: int = 1) -> float | None:
    """The rate on day ``f``; None without data or with fewer than ``min_contacts``."""
    if f is None or f.contacts < min_contacts:
        return None
    num, den = rate_parts(f, key)
    return ratio(num, den)


def chart_of(days: Mapping[date, DayFigures], rate: Rate, first: date, last: date, *,
             min_contacts: int = MIN_CONTACTS, baseline: tuple[date, date] | None = None) -> Chart:
    """The XmR chart of ``rate`` over every day first..last (inclusive)."""
    series = [(first + timedelta(days=k), rate_of(days.get(first + timedelta(days=k)), rate.key,
                                                  min_contacts))
              for k in range((last - first).days + 1)]
    bounds = (0.0, 1.0) if rate.unit == "fraction" else (0.0, math.inf)
    return xmr_chart(series, baseline=baseline, bounds=bounds)


def signal_direction(rate: Rate, value: float, centre: float, target: float | None) -> str:
    """Whether a point away from the centre is the better or the worse side."""
    if rate.better == "target" and target is not None:
        return "better" if abs(value - target) < abs(centre - target) else "worse"
    up = value > centre
    return "better" if up == (rate.better == "up") else "worse"


def verdict_of(chart: Chart, rate: Rate, day: date, target: float | None = None) -> dict[str, Any]:
    """What the huddle says of ``day``: signal (which rules, which side) or within normal
    variation, or why neither (no data, no limits)."""
    v = chart.verdict(day)
    point = next((p for p in chart.points if p.day == day), None)
    out: dict[str, Any] = {"verdict": v, "rules": [], "rules_words": [], "side": None}
    if v == "signal" and point is not None and point.value is not None and chart.limits is not None:
        out["rules"] = list(point.rules)
        out["rules_words"] = [RULE_WORDS[r] for r in point.rules]
        out["side"] = signal_direction(rate, point.value, chart.limits.centre, target)
    out["limits"] = limits_json(chart)
    return out


def limits_json(chart: Chart) -> dict[str, Any] | None:
    lim = chart.limits
    if lim is None:
        return None
    return {"centre": lim.centre, "lower": lim.lower, "upper": lim.upper,
            "lower_zone": max(lim.lower, lim.lower_zone), "upper_zone": min(lim.upper, lim.upper_zone),
            "average_moving_range": lim.average_moving_range, "baseline_points": lim.baseline_points}


def baseline_span(chart: Chart) -> tuple[date, date] | None:
    days = [p.day for p in chart.points if p.in_baseline]
    return (days[0], days[-1]) if days else None


def chart_json(chart: Chart, rate: Rate, days: Mapping[date, DayFigures],
               target: float | None = None) -> dict[str, Any]:
    span = baseline_span(chart)
    points = []
    for p in chart.points:
        f = days.get(p.day)
        points.append({"day": p.day, "value": p.value, "moving_range": p.moving_range,
                       "contacts": f.contacts if f else 0, "open": f.open if f else 0,
                       "in_baseline": p.in_baseline, "rules": list(p.rules), "signal": p.signal})
    return {"rate": rate.key, "label": rate.label, "unit": rate.unit, "words": rate.words,
            "better": rate.better, "target": target if rate.better == "target" else None,
            "limits": limits_json(chart),
            "baseline": {"from": span[0], "to": span[1]} if span else None,
            "points": points, "signals": list(chart.signals)}


def definitions(baseline: tuple[date, date] | None, min_contacts: int) -> dict[str, Any]:
    return {
        "baseline": ({"kind": "stated", "from": baseline[0], "to": baseline[1]} if baseline else
                     {"kind": "first days with a value", "points": DEFAULT_BASELINE_POINTS}),
        "limits": f"centre ± {SCALE} × average moving range of the baseline (fractions within 0..1)",
        "rules": dict(RULE_WORDS),
        "min_contacts": min_contacts,
        "gaps": f"a day with fewer than {min_contacts} contacts has no value",
    }


# ---------------------------------------------------------------------------------------
# GET /api/v1/signals

PARAMS: Final = ("rate", "from", "to", "baseline_from", "baseline_to", "channel", "team",
                 "min_contacts")


@dataclass(frozen=True, slots=True)
class SignalsQuery:
    rates: tuple[Rate, ...]
    first: date
    last: date
    baseline: tuple[date, date] | None
    scope: DailyScope
    min_contacts: int


def parse_signals_query(items: Sequence[tuple[str, str]], today: date | None = None) -> SignalsQuery:
    """The parameters of ``/api/v1/signals``; a :class:`BadRequest` naming each bad one."""
    params, errors = check_query(items, PARAMS, "the signals")
    by_key = {r.key: r for r in RATES}
    rates = tuple(dict.fromkeys(params.get("rate", [])))
    unknown = [r for r in rates if r not in by_key]
    if unknown:
        errors["rate"] = f"unknown rate {', '.join(unknown)} (known: {', '.join(RATE_KEYS)})"
    days: dict[str, date | None] = {}
    for name in ("from", "to", "baseline_from", "baseline_to"):
        vals = params.get(name, [])
        if len(vals) > 1:
            errors[name] = "given more than once"
        elif vals:
            try:
                days[name] = parse_day(vals[0])
            except ValueError as exc:
                errors[name] = str(exc)
    last = days.get("to") or today or datetime.now(UTC).date()
    first = days.get("from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if "to" not in errors and "from" not in errors:
        if last < first:
            errors["to"] = f"must not be before from ({first})"
        elif (last - first).days + 1 > MAX_DAYS:
            errors["to"] = f"the range may cover at most {MAX_DAYS} days"
    b_from, b_to = days.get("baseline_from"), days.get("baseline_to")
    baseline = None
    if (b_from is None) != (b_to is None) and not {"baseline_from", "baseline_to"} & set(errors):
        errors["baseline_to" if b_to is None else "baseline_from"] = (
            "baseline_from and baseline_to go together (or neither: the first days with a value)")
    elif b_from is not None and b_to is not None:
        if b_to < b_from:
            errors["baseline_to"] = f"must not be before baseline_from ({b_from})"
        else:
            baseline = (b_from, b_to)
    channels = tuple(dict.fromkeys(params.get("channel", [])))
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        errors["channel"] = f"unknown channel {', '.join(bad)} (known: {', '.join(CHANNELS)})"
    min_contacts = MIN_CONTACTS
    vals = params.get("min_contacts", [])
    if len(vals) > 1:
        errors["min_contacts"] = "given more than once"
    elif vals:
        try:
            min_contacts = parse_int(vals[0], 1, 1_000_000)
        except ValueError:
            errors["min_contacts"] = "must be an integer from 1 to 1,000,000"
    if errors:
        raise BadRequest(errors)
    if baseline is not None:  # the charts reach over the baseline too
        first, last = min(first, baseline[0]), max(last, baseline[1])
        if (last - first).days + 1 > MAX_DAYS:
            raise BadRequest({"baseline_from":
                              f"the range and the baseline may cover at most {MAX_DAYS} days"})
    return SignalsQuery(tuple(by_key[r] for r in rates) or RATES, first, last, baseline,
                        DailyScope(channels, tuple(dict.fromkeys(params.get("team", [])))), min_contacts)


async def signals_body(conn: Conn, q: SignalsQuery, target: float | None = None) -> dict[str, Any]:
    """The charts of ``q``, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if q.scope.teams:
            known = await known_teams(conn)
            unknown = [t for t in q.scope.teams if t not in known]
            if unknown:
                raise BadRequest({"team": f"unknown team {', '.join(unknown)} "
                                          f"(known: {', '.join(known) or 'none yet'})"})
        days = await daily_figures(conn, q.first, q.last, q.scope)
    charts: list[dict[str, Any]] = []
    for rate in q.rates:
        why = not_applicable(rate.key, q.scope)
        if why:
            charts.append({"rate": rate.key, "label": rate.label, "unit": rate.unit, "limits": None,
                           "points": [], "signals": [], "baseline": None,
                           "not_applicable": NOT_APPLICABLE_WORDS[why]})
            continue
        chart = chart_of(days, rate, q.first, q.last, min_contacts=q.min_contacts, baseline=q.baseline)
        charts.append(chart_json(chart, rate, days, target))
    return {"from": q.first, "to": q.last,
            "filters": {"channel": list(q.scope.channels) or None, "team": list(q.scope.teams) or None},
            "definitions": definitions(q.baseline, q.min_contacts), "charts": charts}


async def unfinished_in(conn: Conn, scope: Any) -> dict[str, Any]:
    """The summary's ``unfinished`` block: what of its period (a
    :class:`leancrm_waste.read.params.Scope`) is still open now, per channel, with the
    waiting accrued so far (:func:`leancrm_waste.read.daily.unfinished`)."""
    async with conn.transaction(readonly=True):
        return await unfinished(conn, scope.time.start, scope.time.end,
                                DailyScope(tuple(scope.channels), tuple(scope.teams)), tuple(scope.reasons))


def signals_openapi(secured: Mapping[str, Any], errors: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI path item of ``/api/v1/signals``."""
    def param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema}

    day = {"type": "string", "format": "date"}
    return {"get": {
        "summary": "An XmR process-behaviour chart of each daily key rate (contract section 6.1)",
        **secured,
        "parameters": [
            param("rate", "rates (repeatable; default all)",
                  {"type": "array", "items": {"type": "string", "enum": list(RATE_KEYS)}}),
            param("from", f"first day (default: {DEFAULT_DAYS - 1} days before to)", day),
            param("to", "last day, inclusive (default: today, UTC)", day),
            param("baseline_from", "first day of a stated baseline (with baseline_to; default: "
                                   f"the first {DEFAULT_BASELINE_POINTS} days with a value)", day),
            param("baseline_to", "last day of a stated baseline, inclusive", day),
            param("channel", "channels (repeatable)",
                  {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}}),
            param("team", "agent teams (repeatable)", {"type": "array", "items": {"type": "string"}}),
            param("min_contacts", f"a day with fewer contacts has no value (default {MIN_CONTACTS})",
                  {"type": "integer", "minimum": 1}),
        ],
        "responses": {"200": {"description": "{from, to, filters, definitions, charts: [{rate, label, "
                                             "unit, better, target, limits, baseline, points: [{day, "
                                             "value, moving_range, contacts, open, in_baseline, rules, "
                                             "signal}], signals}]}"}, **errors}}}


Runner = Callable[[Callable[[Conn], Awaitable[dict[str, Any]]]], Awaitable[Response]]


def signals_handler(run: Runner, guard: Guard, target: float | None = None
                    ) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/v1/signals`` (scope waste:read): ``run`` reads on the API's pool (the
    API's ``_read``), answering 503s as every endpoint does."""

    async def handle(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            q = parse_signals_query(parse_query_string(request.scope.get("query_string", b"")))
        except BadRequest as exc:
            return _bad(exc)
        unknown_team: list[BadRequest] = []

        async def read(conn: Conn) -> dict[str, Any]:
            try:
                return await signals_body(conn, q, target)
            except BadRequest as exc:
                unknown_team.append(exc)
                return {}

        response = await run(read)
        return _bad(unknown_team[0]) if unknown_team else response

    return handle


def _bad(exc: BadRequest) -> JSONResponse:
    extra: dict[str, Any] = {"more_errors": exc.more} if exc.more else {}
    return JSONResponse({"error": "bad_request", "message": str(exc), "errors": exc.errors, **extra},
                        status_code=400, headers=NO_STORE)
