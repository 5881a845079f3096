from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from leancrm_devstack.testing import Infra, wait_until
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.offline import EventMessage, offline_events, produce_events
from leancrm_simulator.scenario import generate
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

VIEWS = ("interactions", "waste_ledger", "hourly_metrics", "capacity_hourly", "value_stream_daily",
         "waste_daily", "backlog", "feedback_daily", "customers",
         # issue 14: service level, demand by type, lead times
         "service_level_targets", "service_level_hourly", "demand_daily", "lead_time_daily")


def scenario_events(**knobs: Any) -> list[EventMessage]:
    base = {"customers": 80, "days": 3, "agents_per_team": 2, "feedback_rate": 0.5}
    base.update(knobs)
    return list(offline_events(generate(Knobs(**base))))


async def produce(bootstrap: str, events: Sequence[EventMessage]) -> None:
    await produce_events(bootstrap, events, linger_ms=5)


def waste_settings(infra: Infra, bootstrap: str, schema: str, **extra: Any) -> WasteSettings:
    return WasteSettings(kafka_bootstrap=bootstrap, database_url=infra.dsn, db_schema=schema,
                         http_port=0, consumer_group=f"waste-{schema}", partitions=3,
                         relay_poll_interval_s=0.2, **extra)


@contextlib.asynccontextmanager
async def running(*services: WasteService) -> AsyncIterator[tuple[WasteService, ...]]:
    for s in services:
        await s.start(http=False)
    try:
        yield services
    finally:
        for s in services:
            await s.stop()


async def applied_count(dsn: str, schema: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        store = await conn.fetchval(f"SELECT store FROM {schema}.active_store")
        return int(await conn.fetchval(f"SELECT count(*) FROM {store}.seen_events"))
    finally:
        await conn.close()


async def wait_applied(dsn: str, schema: str, n: int, timeout_s: float = 120) -> None:
    async def done() -> bool:
        try:
            return await applied_count(dsn, schema) >= n
        except asyncpg.PostgresError:
            return False
    await wait_until(done, timeout_s, what=f"{n} distinct events applied in {schema}")


async def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every public view, every row, in a stable order (the views read the active store)."""
    conn = await asyncpg.connect(dsn)
    try:
        out = {}
        for view in VIEWS:
            rows = await conn.fetch(f"SELECT * FROM waste.{view}")
            out[view] = sorted((tuple(_norm(v) for v in r.values()) for r in rows), key=repr)
        return out
    finally:
        await conn.close()


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, uuid.UUID):
        return str(v)
    return v
