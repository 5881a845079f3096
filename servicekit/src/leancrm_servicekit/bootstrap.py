"""The composition root: the one place where a service's settings meet the kit's
infrastructure (Cosmic Python's ``bootstrap.py``). Every entry point — a command
service, its relay alone, republish, the projector, a rebuild — asks it for what it
needs and stays thin: the settings are checked (unknown ``LEANCRM_*`` variables named,
the Kafka transport's certificates loaded and the brokers' verified), the schema
migrated, the pool opened with its timeouts, and the outbox, event store and relay
made, here and nowhere else. Every Kafka client takes ``kafka_options`` from here.

Least privilege (deploy/postgres/leancrm-init.sql): migrations run as the schema's owner
— ``LEANCRM_MIGRATION_DATABASE_URL`` at start-up, or ``python -m leancrm_<service>
migrate`` before it (:func:`migrate_only`) — and the service as a role that may only
read and write its rows. Run as such a role without a migration DSN, a service applies
nothing and refuses to start while a migration is missing; run as a role that may change
its schema, it says so in a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from faststream.security import BaseSecurity

from leancrm_servicekit.db import (
    KIT_MIGRATIONS,
    Prepare,
    Timeouts,
    connect,
    create_pool,
    may_change_schema,
    migrate,
    pending_migrations,
)
from leancrm_servicekit.environment import check_environment
from leancrm_servicekit.eventstore import EventStore
from leancrm_servicekit.faults import patiently
from leancrm_servicekit.kafka import broker_security, client_options, transport_warnings, verify_broker_tls
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox
from leancrm_servicekit.relay import OutboxRelay
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings, require

log = get_logger(component="bootstrap")


@dataclass
class Infrastructure:
    """What a service process holds of the outside world, built from its settings."""

    name: str
    settings: ServiceSettings
    schema: str
    dsn: str
    kafka_bootstrap: str
    pool: asyncpg.Pool
    outbox: Outbox
    metrics: ServiceMetrics
    #: the transport security every Kafka client gets (``kafka.client_options``)
    kafka_options: dict[str, Any] = field(default_factory=dict)
    reader_pools: list[asyncpg.Pool] = field(default_factory=list)

    @property
    def kafka_security(self) -> BaseSecurity | None:
        """``kafka_options`` for faststream's ``KafkaBroker(security=...)``."""
        return broker_security(self.kafka_options)

    async def open_reader_pool(self, size: int, statement_timeout_s: float) -> asyncpg.Pool:
        """A pool of its own for readers (an HTTP API): its connections and statement
        timeout apart from the service's pool, so that slow or many readers wait for each
        other and never for, nor instead of, the service's own work. Closed with the rest."""
        timeouts = replace(Timeouts.of(self.settings), statement_s=statement_timeout_s)
        pool = await patiently("the readers' connection pool", lambda: create_pool(
            self.dsn, self.schema, size, timeouts), metrics=self.metrics)
        self.reader_pools.append(pool)
        return pool

    def event_store(self) -> EventStore:
        return EventStore(self.pool, self.outbox)

    def relay(self) -> OutboxRelay:
        s = self.settings
        return OutboxRelay(dsn=self.dsn, schema=self.schema, outbox=self.outbox,
                           bootstrap=self.kafka_bootstrap, metrics=self.metrics,
                           batch_size=s.relay_batch_size, poll_interval_s=s.relay_poll_interval_s,
                           lease_s=s.relay_lease_s, client_options=self.kafka_options,
                           timeouts=Timeouts.of(s))

    async def close(self) -> None:
        for pool in [*self.reader_pools, self.pool]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)


async def open_infrastructure(
    name: str,
    settings: ServiceSettings,
    *,
    default_schema: str | None = None,
    migrations: Sequence[Path] = (),
    prepare: Prepare | None = None,
    pool_size: int | None = None,
    metrics: ServiceMetrics | None = None,
) -> Infrastructure:
    """Check the settings, migrate the service's schema (the kit's tables, then the
    service's own ``migrations``, then ``prepare``) as :func:`start_migrations` says, open
    its pool and make its outbox. Settings that cannot work — a certificate that does
    not load or does not verify, on either side, a schema the service may not migrate
    that is not migrated — raise :class:`~leancrm_servicekit.settings.ConfigurationError`
    naming the variable."""
    dsn = require(settings.database_url, "LEANCRM_DATABASE_URL")
    kafka_bootstrap = require(settings.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP")
    check_environment(settings)
    kafka_options = client_options(settings)
    for warning in transport_warnings(settings):
        log.warning("kafka_transport_weak", message=warning)
    await verify_broker_tls(kafka_bootstrap, kafka_options, variable_of=settings.variable)
    log.info("kafka_transport", security_protocol=settings.kafka_security_protocol,
             sasl_mechanism=settings.kafka_sasl_mechanism,
             client_certificate=settings.kafka_ssl_certfile is not None)
    schema = settings.db_schema or default_schema or name
    metrics = metrics or ServiceMetrics(name)
    applied = await start_migrations(name, settings, schema, [KIT_MIGRATIONS, *migrations],
                                     prepare=prepare, metrics=metrics)
    log.info("migrated", schema=schema, applied=applied)
    pool = await patiently("the connection pool", lambda: create_pool(
        dsn, schema, pool_size or settings.db_pool_size, Timeouts.of(settings)), metrics=metrics)
    if await patiently("the role's rights", lambda: _may_change(pool, schema), metrics=metrics):
        log.warning("runtime_role_may_change_schema", schema=schema,
                    hint="run the service as a role that may only read and write the rows of its "
                         "schema, and migrations as the schema's owner (LEANCRM_MIGRATION_DATABASE_URL "
                         "or `migrate`; deploy/postgres/leancrm-init.sql)")
    return Infrastructure(name=name, settings=settings, schema=schema, dsn=dsn,
                          kafka_bootstrap=kafka_bootstrap, pool=pool, outbox=Outbox(pool, schema),
                          metrics=metrics, kafka_options=kafka_options)


async def _migrated(dsn: str, variable: str, schema: str, dirs: Sequence[Path], timeouts: Timeouts,
                    prepare: Prepare | None) -> list[str]:
    """``migrate``, a role that may not change the schema named in a clear error."""
    try:
        return await migrate(dsn, schema, dirs, timeouts, prepare)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise ConfigurationError(
            f"the role of {variable} may not change schema {schema} ({exc}): migrations run as the "
            "schema's owner — give its DSN in LEANCRM_MIGRATION_DATABASE_URL (deploy/README.md, "
            "'PostgreSQL: roles and grants')") from None


async def _may_change(pool: asyncpg.Pool, schema: str) -> bool:
    async with pool.acquire() as conn:
        return await may_change_schema(conn, schema)


async def start_migrations(name: str, settings: ServiceSettings, schema: str, dirs: Sequence[Path], *,
                           prepare: Prepare | None = None,
                           metrics: ServiceMetrics | None = None) -> list[str]:
    """The migrations a service applies as it starts: all of them (and ``prepare``) as
    ``LEANCRM_MIGRATION_DATABASE_URL``'s role when that is set, else as the service's
    own role when it may change its schema (as a development database allows); a role
    that may not only checks that none is missing, and refuses to start if one is."""
    dsn = require(settings.database_url, "LEANCRM_DATABASE_URL")
    timeouts = Timeouts.of(settings)
    owner_dsn = settings.migration_database_url
    if owner_dsn:
        return await patiently("migrations", lambda: _migrated(
            owner_dsn, "LEANCRM_MIGRATION_DATABASE_URL", schema, dirs, timeouts, prepare), metrics=metrics)

    async def missing() -> list[str] | None:
        conn = await connect(dsn, schema, timeouts)
        try:
            if await may_change_schema(conn, schema):
                return None
            return await pending_migrations(conn, schema, dirs)
        finally:
            await conn.close()

    pending = await patiently("the schema's migrations", missing, metrics=metrics)
    if pending is None:
        return await patiently("migrations", lambda: _migrated(
            dsn, "LEANCRM_DATABASE_URL", schema, dirs, timeouts, prepare), metrics=metrics)
    if pending:
        raise ConfigurationError(
            f"schema {schema} lacks the migration(s) {', '.join(pending)}, and the role of "
            f"LEANCRM_DATABASE_URL may not apply them: run `python -m leancrm_{name} migrate` with "
            "LEANCRM_MIGRATION_DATABASE_URL set to the schema owner's DSN first, or give the service "
            "LEANCRM_MIGRATION_DATABASE_URL (deploy/README.md, 'PostgreSQL: roles and grants')")
    return []


async def migrate_only(name: str, settings: ServiceSettings, *, default_schema: str | None = None,
                       migrations: Sequence[Path] = (),
                       prepare: Prepare | None = None) -> tuple[str, list[str]]:
    """``python -m leancrm_<service> migrate``: the schema (and what it was) migrated as
    ``LEANCRM_MIGRATION_DATABASE_URL``'s role, or ``LEANCRM_DATABASE_URL``'s when that is
    unset — no broker needed. Returns the schema and the migrations applied."""
    variable = "LEANCRM_MIGRATION_DATABASE_URL" if settings.migration_database_url else "LEANCRM_DATABASE_URL"
    dsn = settings.migration_database_url or require(settings.database_url, "LEANCRM_DATABASE_URL")
    check_environment(settings)
    schema = settings.db_schema or default_schema or name
    applied = await patiently("migrations", lambda: _migrated(
        dsn, variable, schema, [KIT_MIGRATIONS, *migrations], Timeouts.of(settings), prepare))
    log.info("migrated", schema=schema, applied=applied)
    return schema, applied
