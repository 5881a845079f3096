"""PostgreSQL connections and versioned SQL migrations.

Each service keeps its tables in its own schema; the pool's ``search_path`` points
there, so SQL names tables without a schema. Migrations are ``.sql`` files applied
in name order, each once, recorded in ``schema_migrations``, in one transaction that
locks that table, so that several replicas starting together apply them once — a lock
only the schema's own roles can take (an advisory lock on a known key could be held by
any role, and stop the service from starting). They run as the schema's owner
(``LEANCRM_MIGRATION_DATABASE_URL``, or ``python -m leancrm_<service> migrate``); a role
without the right to change the schema only checks that nothing is left to apply.

Encryption and the server's identity are the DSN's: ``?sslmode=verify-full&sslrootcert=
/path/ca.pem`` (asyncpg reads libpq's parameters) reaches every connection opened here
unchanged. Opening one fails with a :class:`ConfigurationError` saying what to fix when
TLS cannot work — a certificate that does not verify, a CA file that is missing, a
server that refuses TLS — rather than an ``OSError`` the callers would retry for ever.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg
import asyncpg.pool

from leancrm_servicekit.settings import ConfigurationError

KIT_MIGRATIONS = Path(__file__).with_name("migrations")

#: A connection, whether opened directly or acquired from a pool.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a plain lowercase SQL identifier: {name!r}")
    return name


@dataclass(frozen=True)
class Timeouts:
    """What bounds every connection a service opens, so that a lost peer frees its locks
    within about a minute and a lost server does not hang a consumer: server-side
    statement, lock and idle-in-transaction timeouts and TCP keepalives, and client-side
    connect and command timeouts (asyncpg). Zero turns a server-side timeout off."""

    connect_s: float = 10.0
    statement_s: float = 60.0
    lock_s: float = 30.0
    idle_in_transaction_s: float = 60.0
    keepalive_s: int = 15
    command_s: float = 120.0

    @classmethod
    def of(cls, settings: Any) -> Timeouts:
        """From a ``ServiceSettings`` (its ``db_*`` fields)."""
        return cls(connect_s=settings.db_connect_timeout_s, statement_s=settings.db_statement_timeout_s,
                   lock_s=settings.db_lock_timeout_s,
                   idle_in_transaction_s=settings.db_idle_in_transaction_timeout_s,
                   keepalive_s=settings.db_tcp_keepalive_s, command_s=settings.db_command_timeout_s)

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": _ms(self.statement_s),
            "lock_timeout": _ms(self.lock_s),
            "idle_in_transaction_session_timeout": _ms(self.idle_in_transaction_s),
            "tcp_keepalives_idle": str(self.keepalive_s),
            "tcp_keepalives_interval": str(self.keepalive_s),
            "tcp_keepalives_count": "4",
        }

    def options(self, schema: str) -> dict[str, Any]:
        return {"timeout": self.connect_s, "command_timeout": self.command_s,
                "server_settings": {"search_path": check_identifier(schema), **self.server_settings()}}


def _ms(seconds: float) -> str:
    return str(int(seconds * 1000))


DEFAULT_TIMEOUTS = Timeouts()


T = TypeVar("T")
#: libpq's files a DSN may name for TLS
_TLS_FILES = ("sslrootcert", "sslcert", "sslkey", "sslcrl")


def _tls_of(dsn: str) -> tuple[str, dict[str, str]]:
    """Where the DSN points (host:port, never its password) and its TLS parameters."""
    parts = urlsplit(dsn)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = parts.hostname or query.get("host", "localhost")
    port = query.get("port") or (str(parts.port) if parts.port else "5432")
    return f"{host}:{port}", {k: v for k, v in query.items() if k.startswith("ssl")}


def check_tls_files(dsn: str) -> None:
    """The files the DSN names for TLS exist (asyncpg reports a missing one as an
    ``OSError``, which would read as a server that is not there yet)."""
    where, tls = _tls_of(dsn)
    for name in _TLS_FILES:
        path = tls.get(name)
        if path and not os.path.isfile(os.path.expanduser(path)):
            raise ConfigurationError(f"the database URL (LEANCRM_DATABASE_URL) for {where} names "
                                     f"{name}={path}: no such file")


async def opened(dsn: str, opening: Awaitable[T]) -> T:
    """``await opening`` (a connection or pool to ``dsn``), a TLS failure that waiting
    does not mend raised as a :class:`ConfigurationError` saying what to fix."""
    try:
        return await opening
    except ssl.SSLCertVerificationError as exc:
        raise ConfigurationError(_verification_failed(dsn, exc)) from None
    except asyncpg.ClientConfigurationError as exc:
        where, _ = _tls_of(dsn)
        raise ConfigurationError(f"PostgreSQL at {where} (LEANCRM_DATABASE_URL): {exc}") from None
    except ConnectionError as exc:
        if "rejected SSL upgrade" not in str(exc):
            raise
        where, tls = _tls_of(dsn)
        raise ConfigurationError(
            f"PostgreSQL at {where} does not offer TLS, and the database URL (LEANCRM_DATABASE_URL) "
            f"requires it (sslmode={tls.get('sslmode')}): turn ssl on in the server, or connect to one "
            "that has it") from None


def _verification_failed(dsn: str, exc: ssl.SSLCertVerificationError) -> str:
    where, tls = _tls_of(dsn)
    said = f"PostgreSQL at {where}: its certificate does not verify ({exc.verify_message or exc.reason})"
    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        return (f"{said}: sslmode=verify-full checks that the host of the database URL "
                f"(LEANCRM_DATABASE_URL) is named in the server's certificate; connect by a name it holds")
    root = tls.get("sslrootcert", "~/.postgresql/root.crt")
    return (f"{said}: it is not signed by a CA in sslrootcert={root}, or it expired; point sslrootcert "
            "in the database URL (LEANCRM_DATABASE_URL) at the CA that signed the server's certificate")


async def connect(dsn: str, schema: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> asyncpg.Connection:
    check_tls_files(dsn)
    return await opened(dsn, asyncpg.connect(dsn, **timeouts.options(schema)))


async def create_pool(dsn: str, schema: str, size: int = 5,
                      timeouts: Timeouts = DEFAULT_TIMEOUTS) -> asyncpg.Pool:
    check_tls_files(dsn)
    pool = await opened(dsn, asyncpg.create_pool(dsn, min_size=1, max_size=size,
                                                 **timeouts.options(schema)))
    assert pool is not None
    return pool


def migration_files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        files.extend(sorted(d.glob("*.sql")))
    return files


#: what the migration's connection may take: no statement timeout (a migration may be
#: long), but a lock timeout, so that a migration waiting for a table's lock does not
#: queue the service's own work behind it for long (it is retried instead)
def migration_timeouts(timeouts: Timeouts) -> Timeouts:
    return replace(timeouts, statement_s=0, command_s=max(timeouts.command_s, 3600.0))


_MAY_CHANGE = """
SELECT CASE WHEN EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)
            THEN has_schema_privilege($1, 'CREATE')
            ELSE has_database_privilege(current_database(), 'CREATE') END
"""


async def may_change_schema(conn: Conn, schema: str) -> bool:
    """Whether the connected role may create objects in ``schema`` (or create it): what
    an owner — or a superuser — may, and a service's runtime role may not."""
    return bool(await conn.fetchval(_MAY_CHANGE, check_identifier(schema)))


async def pending_migrations(conn: Conn, schema: str, dirs: Iterable[Path]) -> list[str]:
    """The migrations of ``dirs`` not yet applied to ``schema`` (read only: no DDL)."""
    files = migration_files(dirs)
    if await conn.fetchval("SELECT to_regclass($1)", f"{check_identifier(schema)}.schema_migrations") is None:
        return [p.name for p in files]
    done = {r["name"] for r in await conn.fetch(f"SELECT name FROM {schema}.schema_migrations")}
    return [p.name for p in files if p.name not in done]


#: raced by a replica creating the same schema or table at the same moment
_RACED = (asyncpg.UniqueViolationError, asyncpg.DuplicateSchemaError, asyncpg.DuplicateTableError)


async def _create_ledger(conn: asyncpg.Connection, schema: str) -> None:
    """The schema (unless it exists: PostgreSQL checks the right to create schemas even
    with IF NOT EXISTS) and its ``schema_migrations``."""
    for attempt in range(3):
        try:
            if not await conn.fetchval("SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)",
                                       schema):
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.schema_migrations") is None:
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                    " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            return
        except _RACED:
            if attempt == 2:
                raise


#: more set-up of the schema, in the migrations' transaction (the waste projector's store)
Prepare = Callable[[asyncpg.Connection], Awaitable[object]]


async def migrate(dsn: str, schema: str, dirs: Iterable[Path], timeouts: Timeouts = DEFAULT_TIMEOUTS,
                  prepare: Prepare | None = None) -> list[str]:
    """Create ``schema`` if needed and apply the migrations not yet applied, then
    ``prepare``, all in one transaction holding ``schema_migrations``' lock."""
    check_identifier(schema)
    check_tls_files(dsn)
    conn = await opened(dsn, asyncpg.connect(dsn, **migration_timeouts(timeouts).options(schema)))
    applied: list[str] = []
    try:
        await _create_ledger(conn, schema)
        async with conn.transaction():
            # conflicts with itself (replicas migrating together take turns), not with reads
            await conn.execute("LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE")
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for path in migration_files(dirs):
                if path.name in done:
                    continue
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
                applied.append(path.name)
            if prepare is not None:
                await prepare(conn)
    finally:
        await conn.close()
    return applied
