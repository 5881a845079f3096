"""Health, readiness and Prometheus metrics over HTTP (Starlette under uvicorn)."""

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

from leancrm_servicekit.metrics import ServiceMetrics

ReadinessCheck = Callable[[], Awaitable[dict[str, str | None]]]
#: what /ready reports without failing: work that waits for people (parked messages)
WarningsCheck = Callable[[], Awaitable[dict[str, str]]]


def ops_routes(service: str, metrics: ServiceMetrics, readiness: ReadinessCheck,
               warnings: WarningsCheck | None = None) -> list[BaseRoute]:
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

    async def prometheus(_: Request) -> Response:
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
