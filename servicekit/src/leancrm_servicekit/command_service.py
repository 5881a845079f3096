"""The runtime of a command service: migrate, create topics, consume commands in
batches, relay the outbox, serve health/readiness/metrics, stop cleanly.

A service is declared with a ``CommandServiceSpec`` (its decider, its command
models, its topics) and run with ``run_service(spec)`` from its ``__main__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel

from leancrm_contracts.topics import COMMAND_RESULTS, DLQ
from leancrm_servicekit.auth import metrics_guard
from leancrm_servicekit.bootstrap import Infrastructure, migrate_only, open_infrastructure
from leancrm_servicekit.commands import CommandHandler, EventSealer, ReadModelHook
from leancrm_servicekit.decider import Decider
from leancrm_servicekit.eventstore import EventStore
from leancrm_servicekit.faults import patiently
from leancrm_servicekit.http import HttpServer, ops_routes
from leancrm_servicekit.inbound import InboundRecord
from leancrm_servicekit.kafka import ensure_topics
from leancrm_servicekit.logging import configure_logging, get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox
from leancrm_servicekit.relay import OutboxRelay, parked_warning, relay_problem
from leancrm_servicekit.runtime import run_configured, tune_gc
from leancrm_servicekit.settings import ServiceSettings, load_settings

log = get_logger(component="runtime")


async def _raw_decoder(msg: Any) -> None:
    """The handler decodes raw records itself (inbound.py): faststream's JSON decoder
    would raise on a non-JSON record marked application/json and skip its batch."""
    return None


async def _tolerant_parser(records: Any, original: Any) -> Any:
    """faststream decodes header values as UTF-8; a record with a binary header must
    still reach the handler (and the DLQ), so such values are replaced first."""
    batch = records if isinstance(records, tuple) else (records,)
    fixed = tuple(
        dataclasses.replace(
            r, headers=[(k, v.decode(errors="replace").encode()) for k, v in (r.headers or ())]
        )
        if any(_not_utf8(v) for _, v in (r.headers or ()))
        else r
        for r in batch
    )
    return await original(fixed if isinstance(records, tuple) else fixed[0])


def _not_utf8(value: bytes | None) -> bool:
    try:
        (value or b"").decode()
    except UnicodeDecodeError:
        return True
    return False


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
    #: seals what the events must not carry in clear, made from the settings and the pool
    #: at start-up (the customers service's personal data, contract section 2.8)
    sealer: Callable[[ServiceSettings, asyncpg.Pool], EventSealer] | None = None
    #: more topics the service publishes to, with the configuration they are created with
    #: (the customers service's compacted key topic)
    extra_topics: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: adds the service's own commands to its command line (given the typer app)
    cli: Callable[[Any], None] | None = None

    @property
    def migration_dirs(self) -> tuple[Path, ...]:
        """The service's own migrations (the kit's come first, from the bootstrap)."""
        return (self.migrations,) if self.migrations else ()


class CommandService:
    """One running command service (also started in-process by tests)."""

    def __init__(self, spec: CommandServiceSpec, settings: ServiceSettings | None = None) -> None:
        self.spec = spec
        self.settings = settings or ServiceSettings()
        self.schema = self.settings.db_schema or spec.name
        self.metrics = ServiceMetrics(spec.name)
        self.infra: Infrastructure | None = None
        self.stop_event = asyncio.Event()
        self.pool: asyncpg.Pool | None = None
        self.outbox: Outbox | None = None
        self.store: EventStore | None = None
        self.broker: KafkaBroker | None = None
        self.relay: OutboxRelay | None = None
        self.http: HttpServer | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self.handler: CommandHandler | None = None

    async def start(self) -> None:
        s, spec = self.settings, self.spec
        guard = metrics_guard(s, f"leancrm-{spec.name}")  # a bad token configuration stops here
        self.infra = infra = await open_infrastructure(spec.name, s, migrations=spec.migration_dirs,
                                                       metrics=self.metrics)
        self.pool, self.outbox, self.store = infra.pool, infra.outbox, infra.event_store()
        created = await patiently("the topics", lambda: ensure_topics(
            infra.kafka_bootstrap,
            [spec.command_topic, spec.event_topic, COMMAND_RESULTS, DLQ, *spec.extra_topics],
            s.partitions,
            s.replication_factor,
            client_options=infra.kafka_options,
            configs=spec.extra_topics,
        ), metrics=self.metrics)
        log.info("topics_ready", created=created)
        self.handler = CommandHandler(
            service=spec.name,
            decider=spec.decider,
            command_models=spec.command_models,
            event_topic=spec.event_topic,
            store=self.store,
            metrics=self.metrics,
            read_model=spec.read_model,
            sealer=spec.sealer(s, infra.pool) if spec.sealer is not None else None,
        )
        if s.relay_enabled:
            self.relay = infra.relay()
            self._relay_task = asyncio.create_task(self.relay.run(self.stop_event))
        self.broker = await patiently("the command consumer", self._start_broker, metrics=self.metrics)
        port = spec.default_http_port if s.http_port is None else s.http_port
        self.http = HttpServer(ops_routes(spec.name, self.metrics, self._readiness, self._warnings,
                                          metrics_guard=guard),
                               s.http_host, port)
        await self.http.start()
        log.info("service_started", http_port=self.http.port, command_topic=spec.command_topic)

    async def _start_broker(self) -> KafkaBroker:
        assert self.infra is not None
        broker = self._build_broker(self.infra)
        try:
            await broker.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(broker.stop(), 10)
            raise
        return broker

    def _build_broker(self, infra: Infrastructure) -> KafkaBroker:
        s, spec = self.settings, self.spec
        broker = KafkaBroker(infra.kafka_bootstrap, client_id=f"leancrm-{spec.name}",
                             security=infra.kafka_security, logger=logging.getLogger("faststream"))
        handler = self.handler
        assert handler is not None

        @broker.subscriber(
            spec.command_topic,
            group_id=s.consumer_group or f"leancrm-{spec.name}",
            batch=True,
            max_records=s.batch_max_records,
            batch_timeout_ms=s.batch_timeout_ms,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=s.heartbeat_interval_ms,
            decoder=_raw_decoder,
            parser=_tolerant_parser,
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
        checks: dict[str, str | None] = {"database": None, "broker": None, "relay": None,
                                         "commands": None}
        try:
            assert self.pool is not None
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)
        except Exception as exc:
            checks["database"] = repr(exc)
        try:
            assert self.broker is not None
            if not await self.broker.ping(timeout=2):
                checks["broker"] = "broker does not answer"
        except Exception as exc:
            checks["broker"] = repr(exc)
        checks["relay"] = relay_problem(self.relay, self._relay_task)
        if self.handler is not None and self.handler.last_error:
            checks["commands"] = f"a batch keeps failing, the line is stopped: {self.handler.last_error}"
        return checks

    async def _warnings(self) -> dict[str, str]:
        assert self.outbox is not None
        return await parked_warning(self.outbox, self.metrics, self.spec.name)

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
        if self.infra is not None:
            await self.infra.close()
        log.info("service_stopped")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(spec: CommandServiceSpec) -> None:
    settings = load_settings(ServiceSettings)
    configure_logging(spec.name, settings.log_level)
    service = CommandService(spec, settings)
    await service.start()
    tune_gc(settings.gc_gen0_threshold)
    await _until_signalled()
    await service.stop()


async def _relay_only(spec: CommandServiceSpec) -> None:
    """Only the outbox relay (when it runs apart from the command consumers)."""
    settings = load_settings(ServiceSettings)
    configure_logging(spec.name, settings.log_level)
    infra = await open_infrastructure(spec.name, settings, migrations=spec.migration_dirs, pool_size=2)
    stop = asyncio.Event()
    task = asyncio.create_task(infra.relay().run(stop))
    tune_gc(settings.gc_gen0_threshold)
    await _until_signalled()
    stop.set()
    await task
    await infra.close()


async def _republish(spec: CommandServiceSpec, from_position: int, batch: int) -> int:
    """Queue every stored event after ``from_position`` for publishing again, in
    global order: refills a broker that lost its topics. Consumers deduplicate by
    event_id, so republishing what they already have is harmless."""
    from rich.progress import Progress

    from leancrm_servicekit.commands import event_message

    settings = load_settings(ServiceSettings)
    configure_logging(spec.name, settings.log_level)
    infra = await open_infrastructure(spec.name, settings, migrations=spec.migration_dirs, pool_size=2)
    store = infra.event_store()
    total = await store.count_after(from_position)
    queued = 0
    with Progress() as progress:
        task = progress.add_task(f"republishing {spec.name} events", total=total)
        position = from_position
        while True:
            events = await store.read_all(position, batch)
            if not events:
                break
            await store.outbox.enqueue([event_message(e, spec.event_topic, spec.decider.producer)
                                        for e in events])
            position = events[-1].global_position
            queued += len(events)
            progress.update(task, advance=len(events))
    await infra.close()
    return queued


async def _migrate(spec: CommandServiceSpec) -> tuple[str, list[str]]:
    settings = load_settings(ServiceSettings)
    configure_logging(spec.name, settings.log_level)
    return await migrate_only(spec.name, settings, migrations=spec.migration_dirs)


def run_service(spec: CommandServiceSpec) -> None:
    """Entry point of ``python -m leancrm_<service> [serve|migrate|relay|republish|dlq|parked]``."""
    import typer

    app = typer.Typer(add_completion=False, help=f"The Lean CRM {spec.name} service.")

    @app.command()
    def serve() -> None:
        """Consume commands, relay the outbox, serve health/readiness/metrics (default)."""
        run_configured(_serve(spec))

    @app.command()
    def migrate() -> None:
        """Apply the schema's migrations as its owner (LEANCRM_MIGRATION_DATABASE_URL, else
        LEANCRM_DATABASE_URL) and exit: run it before the service, which then needs no
        right to change its schema."""
        schema, applied = run_configured(_migrate(spec))
        typer.echo(f"schema {schema}: {len(applied)} migration(s) applied"
                   + (f" ({', '.join(applied)})" if applied else ", it was up to date"))

    @app.command()
    def relay() -> None:
        """Run only the outbox relay (set LEANCRM_RELAY_ENABLED=false on the consumers)."""
        run_configured(_relay_only(spec))

    @app.command()
    def republish(
        from_position: int = typer.Option(0, help="Republish events after this global position"),
        batch: int = typer.Option(5000, min=1, help="Events queued per transaction"),
    ) -> None:
        """Refill a broker that lost its topics from the event store (the system of record).
        The running service's relay publishes what this queues."""
        queued = run_configured(_republish(spec, from_position, batch))
        typer.echo(f"queued {queued} {spec.name} events for publishing")

    from leancrm_servicekit.parking_lot import operations_app

    dlq, parked = operations_app(spec.name, [spec.command_topic], spec.name)
    app.add_typer(dlq, name="dlq")
    app.add_typer(parked, name="parked")
    if spec.cli is not None:
        spec.cli(app)

    import sys

    if len(sys.argv) == 1:
        sys.argv.append("serve")
    app()
