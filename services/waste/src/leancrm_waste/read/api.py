"""The waste read model served to operations: a JSON API over the views of schema
``waste``, the consumer lag, and the live dashboard page.

``GET /api/v1/<view>`` for each view of contract section 6, ``/api/v1/summary`` (every
figure of the dashboard in one snapshot), ``/api/v1/improvements/effects`` (each
improvement judged by its target's XmR chart), ``/api/v1/lag``, ``/api/v1/openapi.json``,
and the dashboard at ``/`` and ``/dashboard`` (assets under ``/dashboard/static``).
Routes only: a request's parameters are read by :mod:`leancrm_waste.read.params`
(after :mod:`leancrm_waste.read.querystring` checks them), the SQL lives in
:mod:`leancrm_waste.read.views`, the bodies are shaped by :mod:`leancrm_waste.read.shaping`
and wastes are priced by :mod:`leancrm_waste.read.costs`.

Access (README, "Security: operations access"): every data endpoint needs a bearer
token with the scope ``waste:read``; ``/api/v1/customers`` serves name and email only
to a token that also has ``personal:read`` (they are null, and listed under
``withheld``, otherwise). The index, the OpenAPI document and the dashboard's page and
static files are open: they hold no data. Reads use the service's API pool, apart from
the projector's, each statement bounded by ``ReadLimits.statement_timeout_s`` and each
wait for a connection by ``ReadLimits.acquire_timeout_s``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from importlib.resources import files
from typing import Any, Protocol

import asyncpg
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from leancrm_servicekit.auth import PERSONAL_READ, WASTE_READ, Guard, Principal
from leancrm_servicekit.db import Conn
from leancrm_servicekit.http import NO_STORE, authorize
from leancrm_servicekit.logging import get_logger
from leancrm_waste.read import improvements, shaping
from leancrm_waste.read.catalogue import VIEWS, View
from leancrm_waste.read.costs import cost_table
from leancrm_waste.read.distribution import demand_handler, lead_times_handler
from leancrm_waste.read.openapi import openapi_document
from leancrm_waste.read.params import (
    MAX_OFFSET,
    days_of,
    parse_breakdown,
    parse_scope,
    parse_view_query,
)
from leancrm_waste.read.querystring import (
    BadRequest,
    check_no_params,
    parse_query_string,
)
from leancrm_waste.read.signals import signals_handler, unfinished_in
from leancrm_waste.read.timezone import today_in, zone_name
from leancrm_waste.read.views import (
    KnownValues,
    check_known,
    fetch_view,
    set_statement_timeout,
    summary_figures,
    waste_breakdown,
)
from leancrm_waste.settings import BusinessTimeSettings, CostSettings

log = get_logger(component="api")


@dataclass(frozen=True)
class ReadLimits:
    """What bounds one request's reading: each statement (PostgreSQL's statement_timeout,
    set in the request's transaction whatever pool it runs on) and the wait for one of
    the API pool's connections (busy: 503, try again)."""

    statement_timeout_s: float = 20.0
    acquire_timeout_s: float = 5.0

    @classmethod
    def of(cls, settings: Any) -> ReadLimits:
        """From a ``WasteSettings``."""
        return cls(statement_timeout_s=settings.api_statement_timeout_s)


#: the dashboard page runs only its own script and style, talks only to its own origin,
#: and is never framed: what it keeps in sessionStorage (the token) stays on this origin
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'self'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class LagSource(Protocol):
    def lag(self) -> dict[str, int]: ...


class ServesReadModel(Protocol):
    """What the API needs of the service (``WasteService`` has it)."""

    @property
    def api_pool(self) -> asyncpg.Pool | None:
        """The API's own pool, apart from the projector's."""

    @property
    def consumer(self) -> LagSource | None: ...


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
          **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def bad_request(exc: BadRequest) -> JSONResponse:
    """400 naming each bad parameter (at most ``MAX_ERRORS``; ``more_errors``
    counts the rest): small whatever was sent."""
    extra: dict[str, Any] = {"more_errors": exc.more} if exc.more else {}
    return error(400, "bad_request", str(exc), errors=exc.errors, **extra)


def query_items(request: Request) -> list[tuple[str, str]]:
    """The query string's name=value pairs, read from the raw bytes as UTF-8: text that is
    not UTF-8 (``%ED%A0%80``, ``%FF``) stays visible to the checks as lone surrogates,
    where Starlette's ``query_params`` would have replaced it with U+FFFD."""
    return parse_query_string(request.scope.get("query_string", b""))


Handler = Callable[[Request], Awaitable[Response]]
Reader = Callable[[Conn], Awaitable[dict[str, Any]]]


Render = Callable[[dict[str, Any]], Response]


def json_body(body: dict[str, Any]) -> Response:
    """A JSON answer, rounded as contract section 6a says."""
    return JSONResponse(shaping.jsonable(shaping.rounded(body)), headers=NO_STORE)


def wants_csv(request: Request, fmt: str | None) -> bool:
    """``format=csv``, or no ``format`` and an Accept header that names text/csv."""
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "").lower()


def csv_answer(name: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]],
               headers: Mapping[str, str] | None = None) -> Response:
    return Response(shaping.csv_text(columns, rows), media_type="text/csv; charset=utf-8",
                    headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}.csv"',
                             **(headers or {})})


async def _read(service: ServesReadModel, reader: Reader, limits: ReadLimits,
                render: Render = json_body) -> Response:
    pool = service.api_pool
    if pool is None:
        return error(503, "unavailable", "the read model is not connected yet")
    try:
        conn = await pool.acquire(timeout=limits.acquire_timeout_s)
    except TimeoutError:
        return error(503, "busy", f"no connection of the API came free within "
                     f"{limits.acquire_timeout_s:g} s (all in use by other readers, or the "
                     "database is slow to answer); try again shortly", headers={"Retry-After": "2"})
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("read_model_connect_failed", error=repr(exc))
        return error(503, "unavailable", f"the read model cannot be read now: {type(exc).__name__}")
    try:
        body = await reader(conn)
    except BadRequest as exc:  # a filter value the read model does not know
        return bad_request(exc)
    except asyncpg.UndefinedTableError as exc:
        return error(503, "unavailable", f"the read model is not installed: {exc}")
    except asyncpg.QueryCanceledError:
        return error(503, "timeout", f"the query took longer than {limits.statement_timeout_s:g} s "
                     "and was cancelled; narrow the filters (from, to, channel, ...)")
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("read_model_query_failed", error=repr(exc))
        return error(503, "unavailable", f"the read model cannot be read now: {type(exc).__name__}")
    finally:
        await pool.release(conn)
    return render(body)


def withheld_columns(view: View, who: Principal) -> tuple[str, ...]:
    """The columns of ``view`` that ``who`` may not see."""
    return () if PERSONAL_READ in who.scopes else view.personal


def view_handler(service: ServesReadModel, view: View, guard: Guard, limits: ReadLimits,
                 zone: tzinfo = UTC, known: KnownValues | None = None) -> Handler:
    async def handle(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            q = parse_view_query(view, query_items(request), zone)
        except BadRequest as exc:
            return bad_request(exc)
        withheld = withheld_columns(view, who)

        async def read(conn: Conn) -> dict[str, Any]:
            async with conn.transaction(readonly=True):
                await set_statement_timeout(conn, limits.statement_timeout_s)
                await check_known(conn, {f.param: (f.known, q.values.get(f.param, []))
                                         for f in view.filters if f.known}, known)
                rows, more = await fetch_view(conn, q, withheld, zone)
            # paging stops at MAX_OFFSET: past it there is no next page to ask for
            following = q.offset + len(rows)
            body = {"view": view.name, "filters": q.filters_json(), "rows": rows,
                    "count": len(rows), "more": more,
                    "next_offset": following if more and following <= MAX_OFFSET else None}
            if withheld:
                body["withheld"] = list(withheld)
                body["withheld_because"] = (f"the token {who.name!r} lacks the scope {PERSONAL_READ}; "
                                            f"{', '.join(withheld)} are null")
            return body

        def as_csv(body: dict[str, Any]) -> Response:
            more = {"X-More": "true" if body["more"] else "false"}
            if body["next_offset"] is not None:
                more["X-Next-Offset"] = str(body["next_offset"])
            if withheld:
                more["X-Withheld"] = ",".join(withheld)
            return csv_answer(view.name, view.columns, body["rows"], more)

        return await _read(service, read, limits, as_csv if wants_csv(request, q.fmt) else json_body)

    return handle


def api_routes(service: ServesReadModel, *, guard: Guard, limits: ReadLimits | None = None,
               target_occupancy: float | None = None,
               costs: Mapping[str, float] | None = None,
               business_zone: tzinfo | None = None) -> list[BaseRoute]:
    """The API and dashboard routes over ``service.api_pool`` (the views of schema waste),
    each data endpoint behind ``guard`` (there is no default: nothing is served open by
    forgetting one).

    The cost of each waste: the defaults, then the service's settings
    (``LEANCRM_WASTE_COST_SECONDS``, read alone for a service without settings), then
    ``costs``; an invalid setting is a ValueError here, at start-up. Days are cut in
    ``business_zone``, else the settings' ``LEANCRM_BUSINESS_TIMEZONE`` (default UTC)."""
    settings = getattr(service, "settings", None)
    target = target_occupancy if target_occupancy is not None else getattr(
        settings, "target_occupancy", 0.85)
    configured = settings if isinstance(settings, CostSettings) else CostSettings()
    cost = cost_table(configured.waste_cost_seconds, costs)
    limits = limits or ReadLimits()
    known = KnownValues()  # the reasons and teams, read at most once a minute
    zone: tzinfo = business_zone or (settings.business_zone if isinstance(settings, BusinessTimeSettings)
                                     else UTC)

    async def summary(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            scope = parse_scope(query_items(request), zone=zone)
        except BadRequest as exc:
            return bad_request(exc)

        async def read(conn: Conn) -> dict[str, Any]:
            f = await summary_figures(conn, scope, limits.statement_timeout_s, known)
            body = shaping.summary(
                generated_at=f.generated_at, filters=scope.as_json(), days=days_of(scope.time, zone),
                totals=f.totals, flow=f.flow, capacity=f.capacity, backlog=f.backlog,
                sentiment=f.sentiment, costs=cost, target_occupancy=target, known=f.known,
                time_zone=zone_name(zone))
            body["unfinished"] = await unfinished_in(conn, scope)  # honest periods (issue 14)
            return body

        return await _read(service, read, limits)

    async def breakdown(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            q = parse_breakdown(query_items(request), zone=zone)
        except BadRequest as exc:
            return bad_request(exc)

        async def read(conn: Conn) -> dict[str, Any]:
            rows = await waste_breakdown(conn, q, limits.statement_timeout_s, known)
            return {**shaping.breakdown(by=q.by, filters=q.as_json(), rows=rows, wastes=q.wastes,
                                        costs=cost), "time_zone": zone_name(zone)}

        def as_csv(body: dict[str, Any]) -> Response:
            return csv_answer(f"breakdown_by_{q.by}", shaping.breakdown_columns(q.by), body["rows"])

        return await _read(service, read, limits, as_csv if wants_csv(request, q.fmt) else json_body)

    async def improvement_effects(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            day = improvements.parse_effects_query(query_items(request), today_in(zone))
        except BadRequest as exc:
            return bad_request(exc)

        async def read(conn: Conn) -> dict[str, Any]:
            async with conn.transaction(readonly=True):
                await set_statement_timeout(conn, limits.statement_timeout_s)
                judged = await improvements.judged_improvements(conn, day, zone=zone)
            return {"day": day, "improvements": [improvements.as_json(j) for j in judged]}

        return await _read(service, read, limits)

    async def lag(request: Request) -> Response:
        who = authorize(request, guard, WASTE_READ)
        if isinstance(who, Response):
            return who
        try:
            check_no_params(query_items(request), "the lag")
        except BadRequest as exc:
            return bad_request(exc)
        consumer = service.consumer
        partitions = dict(sorted(consumer.lag().items())) if consumer is not None else {}
        return JSONResponse({"partitions": partitions, "total": sum(partitions.values()),
                             "consumer": consumer is not None}, headers=NO_STORE)

    async def openapi(request: Request) -> Response:
        try:
            check_no_params(query_items(request), "the OpenAPI document")
        except BadRequest as exc:
            return bad_request(exc)
        return JSONResponse(openapi_document())

    async def index(request: Request) -> Response:
        try:
            check_no_params(query_items(request), "the index")
        except BadRequest as exc:
            return bad_request(exc)
        root = request.scope.get("root_path", "").rstrip("/")
        endpoints = {**{name: f"{root}/api/v1/{name}" for name in VIEWS},
                     "summary": f"{root}/api/v1/summary", "breakdown": f"{root}/api/v1/breakdown",
                     "signals": f"{root}/api/v1/signals",
                     "demand": f"{root}/api/v1/demand", "lead_times": f"{root}/api/v1/lead-times",
                     "improvement_effects": f"{root}/api/v1/improvements/effects",
                     "lag": f"{root}/api/v1/lag", "openapi": f"{root}/api/v1/openapi.json",
                     "dashboard": f"{root}/dashboard"}
        return JSONResponse({"views": list(VIEWS), "endpoints": endpoints,
                             "summary": endpoints["summary"], "lag": endpoints["lag"],
                             "openapi": endpoints["openapi"], "dashboard": endpoints["dashboard"]})

    page = files("leancrm_waste.read").joinpath("dashboard", "index.html").read_text(encoding="utf-8")

    async def dashboard(request: Request) -> Response:
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        html = page.replace("__BASE_HREF__", base)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    routes: list[BaseRoute] = [
        Route(f"/api/v1/{name}", view_handler(service, view, guard, limits, zone, known), methods=["GET"])
        for name, view in VIEWS.items()
    ]
    routes += [
        Route("/api/v1/summary", summary, methods=["GET"]),
        Route("/api/v1/breakdown", breakdown, methods=["GET"]),
        Route("/api/v1/signals", signals_handler(lambda r: _read(service, r, limits), guard, target,
                                                          zone)),
        Route("/api/v1/improvements/effects", improvement_effects, methods=["GET"]),
        Route("/api/v1/demand", demand_handler(lambda r, out: _read(service, r, limits, out or json_body),
                                               guard, zone, known)),
        Route("/api/v1/lead-times", lead_times_handler(
            lambda r, out: _read(service, r, limits, out or json_body), guard, zone, known)),
        Route("/api/v1/lag", lag, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1", index, methods=["GET"]),
        Route("/", dashboard, methods=["GET"]),
        Route("/dashboard", dashboard, methods=["GET"]),
        Mount("/dashboard/static", app=StaticFiles(packages=[("leancrm_waste.read", "dashboard/static")]),
              name="dashboard-static"),
    ]
    return routes


__all__ = ["ReadLimits", "ServesReadModel", "api_routes", "openapi_document"]
