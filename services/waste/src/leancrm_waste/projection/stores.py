"""Naming and creating a store, installing the public views on it, and switching stores.

The views of schema ``waste`` (contract section 6) are defined over one private
store schema at a time. A rebuild fills a new store and then ``switch_to`` replaces
every view in one transaction: readers see the old figures or the new, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.resources import files

import asyncpg

from leancrm_servicekit.db import Conn, check_identifier
from leancrm_servicekit.logging import get_logger
from leancrm_waste.domain.service_level import DEFAULT_THRESHOLDS

log = get_logger(component="readmodel")

#: the table (in the service's own schema) naming the store the views read
ACTIVE_TABLE = "active_store"


def initial_store_name(service_schema: str) -> str:
    """The store the service's first start creates (a rebuild names the next ones)."""
    return f"{service_schema}_store_0"


def new_store_name(service_schema: str) -> str:
    """A store per build, named after the service schema (several deployments may
    share one database) and the time of the build."""
    return f"{service_schema}_store_" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")


def _sql(name: str, store: str) -> str:
    return files("leancrm_waste.projection").joinpath("sql", name).read_text().replace(
        "{store}", check_identifier(store))


async def create_store(conn: Conn, store: str, target_occupancy: float,
                       thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> None:
    """Make ``store`` if missing (as the owner: DDL) and write the settings its views
    read (:func:`write_settings`)."""
    await conn.execute(_sql("store.sql", store))
    await write_settings(conn, store, target_occupancy, thresholds)


async def write_settings(conn: Conn, store: str, target_occupancy: float,
                         thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> None:
    """The settings ``store``'s views read — the target occupancy and the service-level
    thresholds, replacing what an earlier start wrote: rows the service's runtime role
    may write, at each start."""
    await conn.execute(
        f"INSERT INTO {check_identifier(store)}.settings (singleton, target_occupancy) VALUES (TRUE, $1) "
        "ON CONFLICT (singleton) DO UPDATE SET target_occupancy = excluded.target_occupancy",
        target_occupancy,
    )
    await write_service_level_targets(conn, store, thresholds)


async def write_service_level_targets(conn: Conn, store: str, thresholds: Mapping[str, float]) -> None:
    """Replace ``store``'s service-level thresholds (contract section 5) in one statement."""
    channels = sorted(thresholds)
    await conn.execute(
        f"WITH gone AS (DELETE FROM {check_identifier(store)}.service_level_targets "
        " WHERE NOT channel = ANY($1::text[])) "
        f"INSERT INTO {store}.service_level_targets (channel, threshold_s) "
        "SELECT * FROM unnest($1::text[], $2::float8[]) "
        "ON CONFLICT (channel) DO UPDATE SET threshold_s = excluded.threshold_s",
        channels, [thresholds[c] for c in channels])


async def install_views(conn: Conn, store: str) -> None:
    """(Re)define every public view over ``store`` and grant them to leancrm_ops."""
    await conn.execute(_sql("views.sql", store))
    if await conn.fetchval(_OPS_READY):
        return  # set up already, e.g. by deploy/postgres/leancrm-init.sql
    try:
        async with conn.transaction():
            await conn.execute(_sql("roles.sql", store))
    except asyncpg.InsufficientPrivilegeError as exc:
        log.warning("ops_role_not_managed", error=str(exc),
                    hint="create role leancrm_ops and grant it SELECT on schema waste "
                         "(deploy/postgres/leancrm-init.sql)")


# leancrm_ops exists, starts read-only and may read every view of schema waste
_OPS_READY = """
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leancrm_ops') THEN FALSE
       ELSE has_schema_privilege('leancrm_ops', 'waste', 'USAGE')
        AND EXISTS (SELECT FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
                    WHERE r.rolname = 'leancrm_ops'
                      AND 'default_transaction_read_only=on' = ANY (s.setconfig))
        AND NOT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'waste' AND c.relkind = 'v'
                          AND NOT has_table_privilege('leancrm_ops', c.oid, 'SELECT'))
       END
"""


async def ensure_active_table(conn: Conn, service_schema: str) -> None:
    """The table naming the active store (DDL: the owner's, at migration)."""
    s = check_identifier(service_schema)
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {s}.{ACTIVE_TABLE} ("
        " singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), store TEXT NOT NULL,"
        " switched_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )


async def active_store(conn: Conn, service_schema: str) -> str | None:
    """The store the views read, or None before the first migration made one."""
    s = check_identifier(service_schema)
    if await conn.fetchval("SELECT to_regclass($1)", f"{s}.{ACTIVE_TABLE}") is None:
        return None
    value = await conn.fetchval(f"SELECT store FROM {s}.{ACTIVE_TABLE}")
    return str(value) if value is not None else None


async def prepare(conn: Conn, service_schema: str, target_occupancy: float,
                  thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS) -> str:
    """What migrating the waste service adds to its schema's migrations (as the schema's
    owner, in their transaction): the active store — made with the views when there is
    none, brought up to date (its tables and the views) when there is. Returns it."""
    await ensure_active_table(conn, service_schema)
    store = await active_store(conn, service_schema)
    if store is None:
        store = initial_store_name(service_schema)
        await create_store(conn, store, target_occupancy, thresholds)
        await switch_to(conn, service_schema, store)
    else:
        await create_store(conn, store, target_occupancy, thresholds)
        await install_views(conn, store)
    return store


async def switch_to(conn: Conn, service_schema: str, store: str) -> None:
    """Point every view and the projector at ``store``, atomically."""
    s = check_identifier(service_schema)
    await ensure_active_table(conn, s)
    async with conn.transaction():
        await conn.execute("LOCK TABLE " + f"{s}.{ACTIVE_TABLE}" + " IN EXCLUSIVE MODE")
        await install_views(conn, store)
        await conn.execute(
            f"INSERT INTO {s}.{ACTIVE_TABLE} (singleton, store) VALUES (TRUE, $1) "
            "ON CONFLICT (singleton) DO UPDATE SET store = excluded.store, switched_at = now()",
            store,
        )
