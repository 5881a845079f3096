"""Rebuild: replay the event topics from the beginning into a fresh store, then
switch every view to it in one transaction (readers never see partial figures).

The running projector follows the switch by itself and continues from the new
store's offsets. The old store is kept (``--drop-old`` drops it) for comparison.

A rebuild makes a schema and replaces views: it runs as the schema's owner
(``LEANCRM_MIGRATION_DATABASE_URL`` when set, else ``LEANCRM_DATABASE_URL``), whose
default privileges give the service's runtime role the new store's tables.
"""

from __future__ import annotations

import asyncio
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from leancrm_servicekit.bootstrap import open_infrastructure
from leancrm_servicekit.faults import patiently
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_waste.projection import stores
from leancrm_waste.projection.projector import projector
from leancrm_waste.settings import WasteSettings


async def rebuild(settings: WasteSettings, *, drop_old: bool = False, show_progress: bool = True,
                  timeout_s: float = 3600.0) -> tuple[str, str | None, int, float]:
    """Returns (new store, old store, events applied, seconds)."""
    if settings.migration_database_url:
        settings = settings.model_copy(update={"database_url": settings.migration_database_url})
    infra = await open_infrastructure("waste", settings, default_schema="waste_service", pool_size=4,
                                      metrics=ServiceMetrics("waste-rebuild"))
    schema, pool = infra.schema, infra.pool
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            await stores.ensure_active_table(conn, schema)
            old = await stores.active_store(conn, schema)
            new = stores.new_store_name(schema)
            await stores.create_store(conn, new, settings.target_occupancy, settings.thresholds)
        consumer = projector(infra, settings, new, f"leancrm-waste-rebuild-{new}")
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        deadline = time.monotonic() + timeout_s
        with Progress(TextColumn("rebuilding {task.description}"), BarColumn(),
                      TextColumn("{task.completed:,} events · {task.fields[rate]:,.0f}/s"),
                      TimeElapsedColumn(), disable=not show_progress) as progress:
            bar = progress.add_task(new, total=None, rate=0.0)
            while not consumer.caught_up():
                if task.done():
                    task.result()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rebuild did not catch up within {timeout_s:.0f}s")
                await asyncio.sleep(0.2)
                behind = sum(consumer.lag().values())
                elapsed = time.perf_counter() - started
                progress.update(bar, completed=consumer.applied, total=consumer.applied + behind,
                                rate=consumer.applied / elapsed if elapsed else 0.0)
        async def switch() -> None:
            async with pool.acquire() as conn:
                await stores.switch_to(conn, schema, new)

        # a reader holding a view past the lock timeout delays the switch; it is tried again
        await patiently("the switch to the new store", switch, metrics=infra.metrics)
        if drop_old and old is not None and old != new:
            async with pool.acquire() as conn:
                await conn.execute(f"DROP SCHEMA {old} CASCADE")
        stop.set()
        await asyncio.wait_for(task, 30)
        return new, old, consumer.applied, time.perf_counter() - started
    finally:
        await infra.close()
