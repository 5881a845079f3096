"""The waste projector service: keeps the read model live, serves it, rebuilds it."""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg
from starlette.routing import BaseRoute

from leancrm_contracts.topics import ALERTS, CUSTOMERS_KEYS, DLQ, EVENT_TOPICS, KEY_TOPIC_CONFIG
from leancrm_servicekit.auth import guard_of
from leancrm_servicekit.bootstrap import Infrastructure, open_infrastructure
from leancrm_servicekit.faults import is_transient_database_error, patiently
from leancrm_servicekit.http import HttpServer, ops_routes
from leancrm_servicekit.kafka import ensure_topics
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox
from leancrm_servicekit.projection import CheckpointedConsumer
from leancrm_servicekit.relay import OutboxRelay, parked_warning, relay_problem
from leancrm_servicekit.settings import ConfigurationError
from leancrm_waste.alerting import queries as alert_queries
from leancrm_waste.alerting.evaluator import AlertEvaluator, describe
from leancrm_waste.domain.alerts import AlertConfig, parse_alert_thresholds
from leancrm_waste.projection import stores
from leancrm_waste.projection.data_quality import DataQualityGauge
from leancrm_waste.projection.projector import projector
from leancrm_waste.read.api import ReadLimits, api_routes
from leancrm_waste.settings import WasteSettings

log = get_logger(component="waste")
NAME = "waste"
DEFAULT_PORT = 8104
DEFAULT_SCHEMA = "waste_service"


async def prepare_schema(conn: asyncpg.Connection, schema: str, settings: WasteSettings) -> str:
    """What migrating the waste service adds to the kit's migrations, in their transaction
    (which replicas starting together take in turn), as the schema's owner: the active
    store with its views (``stores.prepare``) and the alerts' table. The active store."""
    store = await stores.prepare(conn, schema, settings.target_occupancy, settings.thresholds,
                                 business_timezone=settings.business_timezone)
    await alert_queries.ensure_active_table(conn, schema)
    return store


class WasteService:
    #: what scripts/run needs to know of the service (its entry point in pyproject.toml)
    name = NAME
    default_http_port = DEFAULT_PORT

    def __init__(self, settings: WasteSettings | None = None) -> None:
        self.settings = settings or WasteSettings()
        self.schema = self.settings.db_schema or DEFAULT_SCHEMA
        self.metrics = ServiceMetrics(NAME)
        self.data_quality = DataQualityGauge(self.metrics.registry)
        self.infra: Infrastructure | None = None
        self.stop_event = asyncio.Event()
        # a token configuration that cannot be used stops the service here, before it connects
        self.guard = guard_of(self.settings, "leancrm-waste")
        self.pool: asyncpg.Pool | None = None
        #: the API's and dashboard's own connections, apart from the projector's
        self.api_pool: asyncpg.Pool | None = None
        self.outbox: Outbox | None = None
        self.relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self.store_name: str | None = None
        self.consumer: CheckpointedConsumer | None = None
        self.http: HttpServer | None = None
        self.alerts: AlertEvaluator | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer_stop = asyncio.Event()
        self._consumer_task: asyncio.Task[None] | None = None
        self.started_at = time.time()

    @property
    def group_id(self) -> str:
        return self.settings.consumer_group or "leancrm-waste"

    async def prepare(self) -> str:
        """Migrate (as the schema's owner: the kit's tables, then :func:`prepare_schema`),
        open the pool; the active store."""
        self.infra = await open_infrastructure(
            NAME, self.settings, default_schema=self.schema, metrics=self.metrics,
            prepare=lambda conn: prepare_schema(conn, self.schema, self.settings))
        self.pool, self.outbox = self.infra.pool, self.infra.outbox
        return await patiently("the read model's store", self._active_store, metrics=self.metrics)

    async def _active_store(self) -> str:
        """The store the migrations made; its settings from this service's."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            store = await stores.active_store(conn, self.schema)
            if store is None:
                raise ConfigurationError(
                    f"schema {self.schema} has no read-model store yet, and the role of "
                    "LEANCRM_DATABASE_URL may not make one: run `python -m leancrm_waste migrate` "
                    "with LEANCRM_MIGRATION_DATABASE_URL set to the schema owner's DSN first")
            await stores.write_settings(conn, store, self.settings.target_occupancy,
                                        self.settings.thresholds,
                                        business_timezone=self.settings.business_timezone)
        return store

    async def start(self, *, http: bool = True) -> None:
        store = await self.prepare()
        assert self.infra is not None
        infra = self.infra
        await patiently("the topics", lambda: ensure_topics(
            infra.kafka_bootstrap, [*EVENT_TOPICS, DLQ, ALERTS, CUSTOMERS_KEYS], self.settings.partitions,
            self.settings.replication_factor, client_options=infra.kafka_options,
            configs={CUSTOMERS_KEYS: KEY_TOPIC_CONFIG}), metrics=self.metrics)
        if self.settings.personal_data_keyring() is None:
            log.warning("personal_data_withheld",
                        hint="no LEANCRM_PERSONAL_DATA_KEK: customers' names and emails sealed since "
                             "schema_version 2 show as withheld (contract section 2.8)")
        self.relay = self.infra.relay()
        self._relay_task = asyncio.create_task(self.relay.run(self.stop_event))
        self._tasks.append(self._relay_task)
        self._start_consumer(store)
        self._tasks.append(asyncio.create_task(self._watch_store()))
        self._tasks.append(asyncio.create_task(self._run_alerts()))
        self._tasks.append(asyncio.create_task(self._watch_data_quality()))
        if http:
            self.api_pool = await infra.open_reader_pool(self.settings.api_pool_size,
                                                         self.settings.api_statement_timeout_s)
            port = DEFAULT_PORT if self.settings.http_port is None else self.settings.http_port
            self.http = HttpServer(self.routes(), self.settings.http_host, port)
            await self.http.start()
        log.info("waste_started", store=store)

    async def _run_alerts(self) -> None:
        """The alert rules every few seconds over the active store (contract section 5), their
        transitions through the outbox on crm.alerts.v1 (section 2.8)."""
        assert self.infra is not None and self.pool is not None and self.outbox is not None
        config = AlertConfig(parse_alert_thresholds(self.settings.alert_thresholds), self.settings.thresholds)
        self.alerts = AlertEvaluator(
            pool=self.pool, outbox=self.outbox, schema=self.schema, store=lambda: self.store_name,
            config=config, metrics=self.metrics, interval_s=self.settings.alert_interval_s,
            rates_every_s=self.settings.alert_rates_every_s)
        try:
            await patiently("the active alerts", self.alerts.prepare, metrics=self.metrics)
        except Exception as exc:  # the projector goes on; the rounds metric stays at 0 and says so
            log.error("alerts_not_started", error=repr(exc)[:300])
            return
        log.info("alerts_started", **describe(config))
        await self.alerts.run(self.stop_event)

    def routes(self) -> list[BaseRoute]:
        """Health, readiness and metrics (protected when the settings say so), then the read
        API and the dashboard behind the service's tokens."""
        metrics_guard = self.guard if self.settings.metrics_require_token else None
        return (ops_routes(NAME, self.metrics, self.readiness, self.warnings, metrics_guard=metrics_guard)
                + api_routes(self, guard=self.guard, limits=ReadLimits.of(self.settings)))

    def _start_consumer(self, store: str) -> None:
        assert self.infra is not None
        self.store_name = store
        self.consumer = projector(self.infra, self.settings, store, self.group_id)
        self._consumer_stop = asyncio.Event()
        self._consumer_task = asyncio.create_task(self.consumer.run(self._consumer_stop))

    async def _stop_consumer(self) -> None:
        self._consumer_stop.set()
        if self._consumer_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer_task, 30)

    async def _watch_store(self) -> None:
        """Follow a rebuild's switch: move the projector to the new store's offsets."""
        assert self.pool is not None
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.settings.store_check_interval_s)
            if self.stop_event.is_set():
                return
            try:
                async with self.pool.acquire() as conn:
                    active = await stores.active_store(conn, self.schema)
            except Exception as exc:
                if is_transient_database_error(exc):
                    self.metrics.transient_errors.labels(dependency="database",
                                                         error=type(exc).__name__).inc()
                log.warning("store_check_failed", error=repr(exc)[:300])
                continue
            if active and active != self.store_name:
                log.info("store_switched", old=self.store_name, new=active)
                await self._stop_consumer()
                self._start_consumer(active)
            elif self._consumer_task is not None and self._consumer_task.done():
                died = self._consumer_task.exception()
                log.error("projector_consumer_died", error=repr(died))
                self._start_consumer(self.store_name or stores.initial_store_name(self.schema))

    async def _watch_data_quality(self) -> None:
        """Keep the gauge leancrm_data_quality_anomalies at waste.data_quality's totals
        (contract section 6); a failed read leaves the last figures and is tried again."""
        assert self.pool is not None
        while not self.stop_event.is_set():
            try:
                async with self.pool.acquire() as conn:
                    await self.data_quality.refresh(conn)
            except Exception as exc:
                if is_transient_database_error(exc):
                    self.metrics.transient_errors.labels(dependency="database",
                                                         error=type(exc).__name__).inc()
                log.warning("data_quality_read_failed", error=repr(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.settings.data_quality_interval_s)

    async def readiness(self) -> dict[str, str | None]:
        checks: dict[str, str | None] = {"database": None, "projector": None, "relay": None}
        try:
            assert self.pool is not None
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2)
        except Exception as exc:
            checks["database"] = repr(exc)
        if self._consumer_task is None or self._consumer_task.done():
            checks["projector"] = "projector consumer is not running"
        elif self.consumer is not None and self.consumer.last_error:
            checks["projector"] = f"a batch keeps failing: {self.consumer.last_error}"
        checks["relay"] = relay_problem(self.relay, self._relay_task)
        return checks

    async def warnings(self) -> dict[str, str]:
        assert self.outbox is not None
        return await parked_warning(self.outbox, self.metrics, NAME)

    async def stop(self) -> None:
        self.stop_event.set()
        await self._stop_consumer()
        for t in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 20)
        if self.http is not None:
            await self.http.stop()
        if self.infra is not None:
            await self.infra.close()
