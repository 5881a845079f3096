"""PostgreSQL connections and versioned SQL migrations.

Each service keeps its tables in its own schema; the pool's ``search_path`` points
there, so SQL names tables without a schema. Migrations are ``.sql`` files applied
in name order, each once, recorded in ``schema_migrations``, under an advisory lock
so that several replicas starting together apply them once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import asyncpg.pool

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


async def connect(dsn: str, schema: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, **timeouts.options(schema))


async def create_pool(dsn: str, schema: str, size: int = 5,
                      timeouts: Timeouts = DEFAULT_TIMEOUTS) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, **timeouts.options(schema))
    assert pool is not None
    return pool


def _lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)


def migration_files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        files.extend(sorted(d.glob("*.sql")))
    return files


async def migrate(dsn: str, schema: str, dirs: Iterable[Path]) -> list[str]:
    """Create ``schema`` if needed and apply the migrations not yet applied."""
    check_identifier(schema)
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(f"SET search_path TO {schema}")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for path in migration_files(dirs):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
                applied.append(path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    finally:
        await conn.close()
    return applied
