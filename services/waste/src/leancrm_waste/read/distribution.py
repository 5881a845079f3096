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

The parameters are the summary's (:func:`leancrm_waste.read.params.scope_of`: from, to
or period, a date being its 00:00 in the business time zone, default the last 7 days,
at most 92; channel, reason, team) and ``format`` (json or csv); a reason or team the
read model does not know is a 400 naming the known ones. The API's ``json_body`` rounds
seconds to 0.1 s and shares to 4 decimals (contract section 6a). The reference is
:mod:`leancrm_waste.domain.demand`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
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
from leancrm_waste.read.catalogue import SUMMARY_PARAMS
from leancrm_waste.read.daily import Where
from leancrm_waste.read.params import Scope, parse_format, scope_of
from leancrm_waste.read.querystring import BadRequest, check_query, parse_query_string
from leancrm_waste.read.shaping import csv_text
from leancrm_waste.read.timezone import zone_name
from leancrm_waste.read.views import KnownValues, check_known

#: the parameters of both endpoints: the summary's, and format
PARAMS: Final = (*SUMMARY_PARAMS, "format")
DEFAULT_DAYS: Final = 7


def parse_period(items: Iterable[tuple[str, str]], where: str, zone: tzinfo = UTC,
                 now: datetime | None = None) -> tuple[Scope, str | None]:
    """The period and filters of ``items`` and the format asked for (None: the Accept
    header decides), or a :class:`BadRequest` naming each bad parameter (an unknown one
    named as a parameter of ``where``)."""
    params, errors = check_query(items, PARAMS, where)
    fmt = parse_format(params, errors)
    return scope_of(params, errors, now, DEFAULT_DAYS, zone), fmt


def _filters(scope: Scope) -> Where:
    w = Where()
    w.any_of("channel", scope.channels)
    w.any_of("reason", scope.reasons)
    w.any_of("team", scope.teams)
    return w


async def _check_known(conn: Conn, scope: Scope, known: KnownValues | None) -> None:
    """A reason or team the read model does not know: a :class:`BadRequest` naming the
    known ones (a channel is checked against contract section 3 when parsed)."""
    await check_known(conn, {"reason": ("reason", scope.reasons), "team": ("team", scope.teams)}, known)


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _period_json(scope: Scope) -> dict[str, Any]:
    return {**scope.time.as_json(), "time_zone": zone_name(scope.zone),
            "filters": {"channel": scope.channels or None, "reason": scope.reasons or None,
                        "team": scope.teams or None}}


# ---------------------------------------------------------------------------------------
# GET /api/v1/demand


def demand_json(d: Demand) -> dict[str, Any]:
    return {"contacts": d.contacts, "value_demand": d.value_demand, "failure_demand": d.failure_demand,
            "failure_demand_share": _finite(d.failure_demand_share)}


def _most_first(items: Iterable[tuple[Any, Demand]]) -> list[tuple[Any, Demand]]:
    return sorted(items, key=lambda kv: (-kv[1].contacts, kv[0]))


async def demand_body(conn: Conn, scope: Scope, known: KnownValues | None = None) -> dict[str, Any]:
    """The body of ``/api/v1/demand`` (contract section 6.2), read in one snapshot."""
    assert scope.time.start is not None and scope.time.end is not None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await _check_known(conn, scope, known)
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
            "p50_lead_time_s": _finite(r["p50"]), "p85_lead_time_s": _finite(r["p85"]),
            "p95_lead_time_s": _finite(r["p95"]),
            "histogram": {label: int(r[f"b{k}"]) for k, label in enumerate(BUCKET_LABELS)}}


async def lead_times_body(conn: Conn, scope: Scope, known: KnownValues | None = None
                          ) -> dict[str, Any]:
    """The body of ``/api/v1/lead-times`` (contract section 6.2), read in one snapshot."""
    assert scope.time.start is not None and scope.time.end is not None
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await _check_known(conn, scope, known)
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
    by_reason.sort(key=lambda x: (-(x["p85_lead_time_s"] or 0.0), x["reason"]))
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

Reader = Callable[[Conn], Awaitable[dict[str, Any]]]
Render = Callable[[dict[str, Any]], Response]
#: the API's ``_read``: runs a reader on the API's pool and renders its body (JSON, rounded
#: as contract section 6a says, when no render is given), answering 503s as every endpoint
Runner = Callable[[Reader, Render | None], Awaitable[Response]]
Body = Callable[[Conn, Scope, KnownValues | None], Awaitable[dict[str, Any]]]
Csv = Callable[[dict[str, Any]], tuple[Sequence[str], list[dict[str, Any]]]]


def demand_csv(body: dict[str, Any]) -> tuple[Sequence[str], list[dict[str, Any]]]:
    """The demand's CSV: its rows per channel and reason."""
    return DEMAND_COLUMNS, body["rows"]


DEMAND_COLUMNS: Final = ("channel", "reason", "contacts", "value_demand", "failure_demand",
                         "failure_demand_share")
LEAD_COLUMNS: Final = ("reason", "ended_interactions", "p50_lead_time_s", "p85_lead_time_s",
                       "p95_lead_time_s", *BUCKET_LABELS)


def lead_times_csv(body: dict[str, Any]) -> tuple[Sequence[str], list[dict[str, Any]]]:
    """The lead times' CSV: all reasons first (an empty reason), then one row per reason,
    a column per bucket."""
    rows = [{"reason": None, **body["overall"]}, *body["by_reason"]]
    return LEAD_COLUMNS, [{**{k: v for k, v in r.items() if k != "histogram"}, **r["histogram"]}
                          for r in rows]


def wants_csv(request: Request, fmt: str | None) -> bool:
    """``format=csv``, or no ``format`` and an Accept header that names text/csv (as the
    API's other endpoints)."""
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "").lower()


def _handler(run: Runner, guard: Guard, body: Body, where: str, name: str, csv: Csv,
             zone: tzinfo, known: KnownValues | None) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            scope, fmt = parse_period(parse_query_string(request.scope.get("query_string", b"")), where,
                                      zone)
        except BadRequest as exc:
            return _bad(exc)

        async def read(conn: Conn) -> dict[str, Any]:
            return await body(conn, scope, known)

        def as_csv(b: dict[str, Any]) -> Response:
            columns, rows = csv(b)
            return Response(csv_text(columns, rows), media_type="text/csv; charset=utf-8",
                            headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}.csv"'})

        return await run(read, as_csv if wants_csv(request, fmt) else None)

    return handle


def demand_handler(run: Runner, guard: Guard, zone: tzinfo = UTC, known: KnownValues | None = None
                   ) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/v1/demand`` (scope waste:read); ``run`` reads on the API's pool."""
    return _handler(run, guard, demand_body, "the demand", "demand", demand_csv, zone, known)


def lead_times_handler(run: Runner, guard: Guard, zone: tzinfo = UTC, known: KnownValues | None = None
                       ) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/v1/lead-times`` (scope waste:read); ``run`` reads on the API's pool."""
    return _handler(run, guard, lead_times_body, "the lead times", "lead_times", lead_times_csv, zone,
                    known)


def _bad(exc: BadRequest) -> JSONResponse:
    extra: dict[str, Any] = {"more_errors": exc.more} if exc.more else {}
    return JSONResponse({"error": "bad_request", "message": str(exc), "errors": exc.errors, **extra},
                        status_code=400, headers=NO_STORE)


__all__ = ["DEMAND_COLUMNS", "LEAD_COLUMNS", "demand_body", "demand_handler", "lead_times_body",
           "lead_times_handler", "parse_period"]
