"""Demand by type and the lead-time distribution over a period (issue 14; contract
section 6.2): ``GET /api/v1/demand`` and ``GET /api/v1/lead-times``.

The daily views (``waste.demand_daily``, ``waste.lead_time_daily``) answer per day; a
period's percentiles cannot be had from its days' (percentiles do not combine), so
both endpoints read ``waste.interactions`` itself:

- demand: the interactions that *started* in ``[from, to)``, counted per channel and
  reason in SQL and summed per reason, per channel and in all by
  :func:`leancrm_waste.domain.demand.demand_table`;
- lead times: the interactions that *ended* in ``[from, to)`` with a lead time, per
  reason and overall (``GROUPING SETS``): ``percentile_cont`` 0.5, 0.85 and 0.95 and a
  count per bucket of :data:`leancrm_waste.domain.demand.LEAD_TIME_BUCKETS`, and how many
  of the filter's interactions that started before ``to`` are still open.

The parameters are the summary's (:func:`leancrm_waste.read.params.parse_scope`: from,
to, default the last 7 days, at most 92; channel, reason, team); a reason or team the
read model does not know is a 400 naming the known ones. Seconds are rounded to 0.1 s,
shares to 4 decimals. The reference is :mod:`leancrm_waste.domain.demand`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from leancrm_servicekit.auth import WASTE_READ, Guard
from leancrm_servicekit.db import Conn
from leancrm_servicekit.http import NO_STORE, authorize
from leancrm_waste.domain.demand import (
    BUCKET_LABELS,
    LEAD_TIME_BUCKETS,
    UNKNOWN,
    Demand,
    demand_table,
)
from leancrm_waste.read.catalogue import CHANNELS
from leancrm_waste.read.daily import known_teams
from leancrm_waste.read.params import SUMMARY_MAX_DAYS, Scope, parse_scope
from leancrm_waste.read.querystring import BadRequest, check_query, parse_query_string

#: the parameters of both endpoints
PARAMS: Final = ("from", "to", "channel", "reason", "team")
DEFAULT_DAYS: Final = 7
SECONDS_DECIMALS: Final = 1
SHARE_DECIMALS: Final = 4


def parse_period(items: Iterable[tuple[str, str]], where: str) -> Scope:
    """The period and filters of ``items``, or a :class:`BadRequest` naming each bad
    parameter (an unknown one named as a parameter of ``where``)."""
    pairs = list(items)
    _, errors = check_query(pairs, PARAMS, where)
    try:
        scope = parse_scope([(k, v) for k, v in pairs if k in PARAMS and k not in errors],
                            default_days=DEFAULT_DAYS)
    except BadRequest as exc:
        errors.update(exc.errors)
    if errors:
        raise BadRequest(errors)
    return scope


class _Where:
    """The period's and filters' WHERE clause over waste.interactions."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any, cast: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def any_of(self, column: str, values: list[str]) -> None:
        if values:
            self.clauses.append(f"{column} = ANY({self.arg(values, '::text[]')})")

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "TRUE"


def _filters(scope: Scope) -> _Where:
    w = _Where()
    w.any_of("channel", scope.channels)
    w.any_of("reason", scope.reasons)
    w.any_of("team", scope.teams)
    return w


async def check_known(conn: Conn, scope: Scope) -> None:
    """A reason or team the read model does not know: a :class:`BadRequest` naming the
    known ones (a channel is checked against contract section 3 when parsed)."""
    errors: dict[str, str] = {}
    if scope.reasons:
        known = [r[0] for r in await conn.fetch(
            "SELECT DISTINCT reason FROM waste.interactions WHERE reason IS NOT NULL ORDER BY 1")]
        bad = [r for r in scope.reasons if r not in known]
        if bad:
            errors["reason"] = f"unknown reason {', '.join(bad)} (known: {', '.join(known) or 'none yet'})"
    if scope.teams:
        teams = await known_teams(conn)
        bad = [t for t in scope.teams if t not in teams]
        if bad:
            errors["team"] = f"unknown team {', '.join(bad)} (known: {', '.join(teams) or 'none yet'})"
    if errors:
        raise BadRequest(errors)


def _seconds(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), SECONDS_DECIMALS) + 0.0


def _share(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), SHARE_DECIMALS) + 0.0


def _period_json(scope: Scope) -> dict[str, Any]:
    return {**scope.time.as_json(), "filters": {"channel": scope.channels or None,
                                                "reason": scope.reasons or None,
                                                "team": scope.teams or None}}


# ---------------------------------------------------------------------------------------
# GET /api/v1/demand


def demand_json(d: Demand) -> dict[str, Any]:
    return {"contacts": d.contacts, "value_demand": d.value_demand, "failure_demand": d.failure_demand,
            "failure_demand_share": _share(d.failure_demand_share)}


def _most_first(items: Iterable[tuple[Any, Demand]]) -> list[tuple[Any, Demand]]:
    return sorted(items, key=lambda kv: (-kv[1].contacts, kv[0]))


async def demand_body(conn: Conn, scope: Scope) -> dict[str, Any]:
    """The body of ``/api/v1/demand`` (contract section 6.2), read in one snapshot."""
    assert scope.time.start is not None and scope.time.end is not None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await check_known(conn, scope)
        w = _filters(scope)
        period = (f"started_at >= {w.arg(scope.time.start, '::timestamptz')} "
                  f"AND started_at < {w.arg(scope.time.end, '::timestamptz')}")
        rows = await conn.fetch(
            f"SELECT coalesce(channel, '{UNKNOWN}') AS channel, coalesce(reason, '{UNKNOWN}') AS reason, "
            "count(*) AS contacts, count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand "
            f"FROM waste.interactions WHERE {period} AND {w.sql} GROUP BY 1, 2", *w.args)
    table = demand_table({(r["channel"], r["reason"]): (int(r["contacts"]), int(r["failure_demand"]))
                          for r in rows})
    return {
        **_period_json(scope),
        "definitions": {
            "counted": "the interactions that started in [from, to)",
            "failure_demand": "a repeat: the customer's contact for the same reason within 7 days "
                              "(repeat_of set)",
            "value_demand": "contacts - failure_demand",
            "failure_demand_share": "failure_demand / contacts (null without contacts)",
        },
        "total": demand_json(table.total),
        "by_reason": [{"reason": k, **demand_json(d)} for k, d in _most_first(table.by_reason.items())],
        "by_channel": [{"channel": k, **demand_json(d)} for k, d in _most_first(table.by_channel.items())],
        "rows": [{"channel": c, "reason": r, **demand_json(d)}
                 for (c, r), d in _most_first(table.rows.items())],
    }


# ---------------------------------------------------------------------------------------
# GET /api/v1/lead-times


def _bucket_sql() -> str:
    parts = []
    for k, (_, lower, upper) in enumerate(LEAD_TIME_BUCKETS):
        cond = [f"lead_time_s >= {lower!r}"] if k else []
        if math.isfinite(upper):
            cond.append(f"lead_time_s < {upper!r}")
        parts.append(f"count(*) FILTER (WHERE {' AND '.join(cond) or 'TRUE'}) AS b{k}")
    return ", ".join(parts)


def lead_json(r: Any) -> dict[str, Any]:
    """A row of the lead-time query (a Record or a dict of its columns) as JSON."""
    return {"ended_interactions": int(r["ended"]),
            "p50_lead_time_s": _seconds(r["p50"]), "p85_lead_time_s": _seconds(r["p85"]),
            "p95_lead_time_s": _seconds(r["p95"]),
            "histogram": {label: int(r[f"b{k}"]) for k, label in enumerate(BUCKET_LABELS)}}


async def lead_times_body(conn: Conn, scope: Scope) -> dict[str, Any]:
    """The body of ``/api/v1/lead-times`` (contract section 6.2), read in one snapshot."""
    assert scope.time.start is not None and scope.time.end is not None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await check_known(conn, scope)
        w = _filters(scope)
        end = w.arg(scope.time.end, "::timestamptz")
        period = f"ended_at >= {w.arg(scope.time.start, '::timestamptz')} AND ended_at < {end}"
        rows = await conn.fetch(
            f"SELECT GROUPING(reason) = 1 AS overall, coalesce(reason, '{UNKNOWN}') AS reason, "
            "count(*) AS ended, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_s) AS p50, "
            "percentile_cont(0.85) WITHIN GROUP (ORDER BY lead_time_s) AS p85, "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY lead_time_s) AS p95, "
            f"{_bucket_sql()} "
            f"FROM waste.interactions WHERE {period} AND lead_time_s IS NOT NULL AND {w.sql} "
            "GROUP BY GROUPING SETS ((reason), ())", *w.args)
        o = _filters(scope)
        still_open = await conn.fetchval(
            "SELECT count(*) FROM waste.interactions WHERE ended_at IS NULL "
            f"AND started_at < {o.arg(scope.time.end, '::timestamptz')} AND {o.sql}", *o.args)
    overall = next((r for r in rows if r["overall"]), None)
    by_reason = [{"reason": r["reason"], **lead_json(r)} for r in rows if not r["overall"]]
    by_reason.sort(key=lambda x: (-(x["p85_lead_time_s"] or 0), x["reason"]))
    empty = {"ended": 0, "p50": None, "p85": None, "p95": None,
             **{f"b{k}": 0 for k in range(len(BUCKET_LABELS))}}
    return {
        **_period_json(scope),
        "definitions": {
            "counted": "the interactions that ended in [from, to) with a lead time, whenever they started",
            "percentiles": "continuous (percentile_cont): position p·(n − 1) of the sorted lead "
                           "times, interpolated linearly",
            "buckets": {label: [lower, upper if math.isfinite(upper) else None]
                        for label, lower, upper in LEAD_TIME_BUCKETS},
            "open": "interactions of the filters that started before to and have not ended: "
                    "no lead time yet",
        },
        "buckets": list(BUCKET_LABELS),
        "overall": lead_json(overall or empty),
        "by_reason": by_reason,
        "open": int(still_open or 0),
    }


# ---------------------------------------------------------------------------------------
# routes and the OpenAPI document

Runner = Callable[[Callable[[Conn], Awaitable[dict[str, Any]]]], Awaitable[Response]]
Body = Callable[[Conn, Scope], Awaitable[dict[str, Any]]]


def _handler(run: Runner, guard: Guard, body: Body, where: str) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            scope = parse_period(parse_query_string(request.scope.get("query_string", b"")), where)
        except BadRequest as exc:
            return _bad(exc)
        refused: list[BadRequest] = []

        async def read(conn: Conn) -> dict[str, Any]:
            try:
                return await body(conn, scope)
            except BadRequest as exc:
                refused.append(exc)
                return {}

        response = await run(read)
        return _bad(refused[0]) if refused else response

    return handle


def demand_handler(run: Runner, guard: Guard) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/v1/demand`` (scope waste:read); ``run`` reads on the API's pool."""
    return _handler(run, guard, demand_body, "the demand")


def lead_times_handler(run: Runner, guard: Guard) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/v1/lead-times`` (scope waste:read); ``run`` reads on the API's pool."""
    return _handler(run, guard, lead_times_body, "the lead times")


def _bad(exc: BadRequest) -> JSONResponse:
    extra: dict[str, Any] = {"more_errors": exc.more} if exc.more else {}
    return JSONResponse({"error": "bad_request", "message": str(exc), "errors": exc.errors, **extra},
                        status_code=400, headers=NO_STORE)


def distribution_openapi(secured: Mapping[str, Any], errors: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI path items of ``/api/v1/demand`` and ``/api/v1/lead-times``."""
    def param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema}

    strings = {"type": "array", "items": {"type": "string"}}
    params = [
        param("from", "start of the period: RFC 3339 timestamp or date (00:00 UTC); default "
                      f"{DEFAULT_DAYS - 1} days before today", {"type": "string"}),
        param("to", f"end of the period, exclusive (default: tomorrow 00:00); at most "
                    f"{SUMMARY_MAX_DAYS} days after from", {"type": "string"}),
        param("channel", "channels (comma-separated or repeated)",
              {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}}),
        param("reason", "contact reasons (comma-separated or repeated)", strings),
        param("team", "agent teams of waste.interactions.team", strings),
    ]
    demand = "{contacts, value_demand, failure_demand, failure_demand_share}"
    lead = ("{ended_interactions, p50_lead_time_s, p85_lead_time_s, p95_lead_time_s, histogram: "
            "{" + ", ".join(BUCKET_LABELS) + "}}")
    return {
        "/api/v1/demand": {"get": {
            "summary": "Value and failure demand of the interactions started in the period, per "
                       "channel and reason, per reason, per channel and in all (contract section 6.2)",
            **secured, "parameters": params,
            "responses": {"200": {"description": f"{{from, to, filters, definitions, total: {demand}, "
                                                 f"by_reason: [{{reason, ...}}], by_channel: "
                                                 f"[{{channel, ...}}], rows: [{{channel, reason, ...}}]}}"},
                          **errors}}},
        "/api/v1/lead-times": {"get": {
            "summary": "The lead-time distribution of the interactions ended in the period, per "
                       "reason and overall: p50, p85, p95 (percentile_cont) and a histogram "
                       "(contract section 6.2)",
            **secured, "parameters": params,
            "responses": {"200": {"description": f"{{from, to, filters, definitions, buckets, overall: "
                                                 f"{lead}, by_reason: [{{reason, ...}}], open}}"},
                          **errors}}},
    }


__all__ = ["demand_body", "demand_handler", "distribution_openapi", "lead_times_body",
           "lead_times_handler", "parse_period"]
