"""The runtime of a command service: migrate, create topics, consume commands in
batches, relay the outbox, serve health/readiness/metrics, stop cleanly.

A service is declared with a ``CommandServiceSpec`` (its decider, its command
models, its topics) and run with ``run_service(spec)`` from its ``__main__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from leancrm_contracts.topics import COMMAND_RESULTS, DLQ
from pydantic import BaseModel

from leancrm_servicekit.commands import CommandHandler, ReadModelHook
from leancrm_servicekit.db import KIT_MIGRATIONS, create_pool, migrate
from leancrm_servicekit.decider import Decider
from leancrm_servicekit.eventstore import EventStore
from leancrm_servicekit.http import HttpServer, ops_routes
from leancrm_servicekit.inbound import InboundRecord
from leancrm_servicekit.kafka import ensure_topics
from leancrm_servicekit.logging import configure_logging, get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.relay import OutboxRelay
from leancrm_servicekit.settings import ServiceSettings, require

log = get_logger(component="runtime")


@dataclass(frozen=True)
class CommandServiceSpec:
    name: str
    decider: Decider[Any]
    command_models: Mapping[str, type[BaseModel]]
    command_topic: str
    event_topic: str
    default_http_port: int
    migrations: Path | None = None
    read_model: ReadModelHook | None = None


class CommandService:
    """One running command service (also started in-process by tests)."""

    def __init__(self, spec: CommandServiceSpec, settings: ServiceSettings | None = None) -> None:
        self.spec = spec
        self.settings = settings or ServiceSettings()
        self.schema = self.settings.db_schema or spec.name
        self.metrics = ServiceMetrics(spec.name)
        self.stop_event = asyncio.Event()
        self.pool: asyncpg.Pool | None = None
        self.store: EventStore | None = None
        self.broker: KafkaBroker | None = None
        self.relay: OutboxRelay | None = None
        self.http: HttpServer | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self.handler: CommandHandler | None = None

    @property
    def bootstrap(self) -> str:
        return require(self.settings.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP")

    @property
    def dsn(self) -> str:
        return require(self.settings.database_url, "LEANCRM_DATABASE_URL")

    async def start(self) -> None:
        s, spec = self.settings, self.spec
        dirs = [KIT_MIGRATIONS] + ([spec.migrations] if spec.migrations else [])
        applied = await migrate(self.dsn, self.schema, dirs)
        log.info("migrated", schema=self.schema, applied=applied)
        self.pool = await create_pool(self.dsn, self.schema, s.db_pool_size)
        self.store = EventStore(self.pool, f"leancrm_outbox_{self.schema}")
        created = await ensure_topics(
            self.bootstrap,
            [spec.command_topic, spec.event_topic, COMMAND_RESULTS, DLQ],
            s.partitions,
            s.replication_factor,
        )
        log.info("topics_ready", created=created)
        self.handler = CommandHandler(
            service=spec.name,
            decider=spec.decider,
            command_models=spec.command_models,
            event_topic=spec.event_topic,
            store=self.store,
            metrics=self.metrics,
            read_model=spec.read_model,
        )
        if s.relay_enabled:
            self.relay = OutboxRelay(
                dsn=self.dsn,
                schema=self.schema,
                store=self.store,
                bootstrap=self.bootstrap,
                metrics=self.metrics,
                batch_size=s.relay_batch_size,
                poll_interval_s=s.relay_poll_interval_s,
            )
            self._relay_task = asyncio.create_task(self.relay.run(self.stop_event))
        self.broker = self._build_broker()
        await self.broker.start()
        port = spec.default_http_port if s.http_port is None else s.http_port
        self.http = HttpServer(ops_routes(spec.name, self.metrics, self._readiness), s.http_host, port)
        await self.http.start()
        log.info("service_started", http_port=self.http.port, command_topic=spec.command_topic)

    def _build_broker(self) -> KafkaBroker:
        s, spec = self.settings, self.spec
        broker = KafkaBroker(self.bootstrap, client_id=f"leancrm-{spec.name}", logger=None)
        handler = self.handler
        assert handler is not None

        @broker.subscriber(
            spec.command_topic,
            group_id=s.consumer_group or f"leancrm-{spec.name}",
            batch=True,
            max_records=s.batch_max_records,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
        )
        async def on_commands(msg: KafkaMessage) -> None:
            raw = msg.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            batch = [
                InboundRecord(
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value if r.value is not None else b"",
                    headers=tuple(r.headers or ()),
                )
                for r in records
            ]
            await handler.handle_batch(batch)
            await msg.ack()

        return broker

    async def _readiness(self) -> dict[str, str | None]:
        checks: dict[str, str | None] = {"database": None, "broker": None, "relay": None}
        try:
            assert self.pool is not None
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = repr(exc)
        try:
            assert self.broker is not None
            if not await self.broker.ping(timeout=2):
                checks["broker"] = "broker does not answer"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = repr(exc)
        if self.relay is not None and self.relay.last_error:
            checks["relay"] = self.relay.last_error
        return checks

    async def stop(self) -> None:
        self.stop_event.set()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.broker.stop(), 15)
        if self._relay_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._relay_task, 15)
        if self.http is not None:
            await self.http.stop()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 10)
        log.info("service_stopped")


async def _serve(spec: CommandServiceSpec) -> None:
    settings = ServiceSettings()
    configure_logging(spec.name, settings.log_level)
    service = CommandService(spec, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    await stop.wait()
    await service.stop()


def run_service(spec: CommandServiceSpec) -> None:
    """Entry point of ``python -m leancrm_<service>``."""
    asyncio.run(_serve(spec))
