"""Health, readiness and Prometheus metrics over HTTP (Starlette under uvicorn), and the
answers of operations access: 401 and 403 saying what is missing (servicekit/auth.py).

``/health`` and ``/ready`` are always open (probes call them); ``/metrics`` is open unless
the service protects it (``LEANCRM_METRICS_REQUIRE_TOKEN=true``: scope ``metrics:read``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from leancrm_servicekit.auth import METRICS_READ, Guard, Principal, Refusal
from leancrm_servicekit.metrics import ServiceMetrics

ReadinessCheck = Callable[[], Awaitable[dict[str, str | None]]]
#: what /ready reports without failing: work that waits for people (parked messages)
WarningsCheck = Callable[[], Awaitable[dict[str, str]]]


#: answers that must never be kept by a browser or a proxy
NO_STORE = {"Cache-Control": "no-store"}


def refusal_response(refusal: Refusal, realm: str) -> JSONResponse:
    """The answer to a refused request: 401 (with ``WWW-Authenticate: Bearer``, RFC 6750)
    when there is no usable token, 403 naming the missing scope, 503 when the service's
    tokens cannot be used. The body says what is missing and never repeats the token."""
    body: dict[str, object] = {
        "error": {401: "unauthorized", 403: "forbidden"}.get(refusal.status, "unavailable"),
        "reason": refusal.reason, "message": refusal.message, "required_scope": refusal.scope}
    headers = dict(NO_STORE)
    challenge = f'Bearer realm="{realm}"'
    if refusal.reason in ("no_token_configured", "missing_token"):
        headers["WWW-Authenticate"] = f'{challenge}, scope="{refusal.scope}"'
    elif refusal.reason == "malformed_header":
        headers["WWW-Authenticate"] = (f'{challenge}, error="invalid_request", '
                                       'error_description="the header must be Bearer <token>"')
    elif refusal.reason == "unknown_token":
        headers["WWW-Authenticate"] = (f'{challenge}, error="invalid_token", '
                                       'error_description="unknown or revoked token"')
    elif refusal.reason == "insufficient_scope":
        headers["WWW-Authenticate"] = (f'{challenge}, error="insufficient_scope", '
                                       f'scope="{refusal.scope}"')
        assert refusal.principal is not None
        body.update(token=refusal.principal.name, token_scopes=sorted(refusal.principal.scopes))
    else:
        headers["Retry-After"] = "10"
    return JSONResponse(body, status_code=refusal.status, headers=headers)


def authorize(request: Request, guard: Guard, scope: str) -> Principal | Response:
    """Who sent ``request``, if their token has ``scope``; else the answer refusing it."""
    decision = guard.check(request.headers.get("authorization"), scope)
    if isinstance(decision, Refusal):
        return refusal_response(decision, guard.realm)
    return decision


def ops_routes(service: str, metrics: ServiceMetrics, readiness: ReadinessCheck,
               warnings: WarningsCheck | None = None, *,
               metrics_guard: Guard | None = None) -> list[BaseRoute]:
    """``/health``, ``/ready`` and ``/metrics``; with ``metrics_guard``, ``/metrics``
    answers only to a token with the scope ``metrics:read``."""
    async def health(_: Request) -> Response:
        return JSONResponse({"service": service, "status": "alive"})

    async def ready(_: Request) -> Response:
        problems = {k: v for k, v in (await readiness()).items() if v is not None}
        notes: dict[str, str] = {}
        if warnings is not None and "database" not in problems:
            try:
                notes = await asyncio.wait_for(warnings(), 2)
            except Exception as exc:
                notes = {"warnings": f"could not be read: {exc!r}"}
        status = 200 if not problems else 503
        return JSONResponse(
            {"service": service, "ready": not problems, "problems": problems, "warnings": notes},
            status_code=status,
        )

    async def prometheus(request: Request) -> Response:
        if metrics_guard is not None:
            who = authorize(request, metrics_guard, METRICS_READ)
            if isinstance(who, Response):
                return who
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/health", health),
        Route("/ready", ready),
        Route("/metrics", prometheus),
    ]


class HttpServer:
    """uvicorn in the service's event loop; stops with the service."""

    def __init__(self, routes: Sequence[BaseRoute], host: str, port: int) -> None:
        self.app = Starlette(routes=list(routes))
        self.config = uvicorn.Config(
            self.app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(self.config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises the bind error, e.g. port in use
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.config.port

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
