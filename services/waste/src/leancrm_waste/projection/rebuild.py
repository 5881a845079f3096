"""Rebuild: replay the event topics from the beginning into a fresh store, then
switch every view to it in one transaction (readers never see partial figures).

The running projector follows the switch by itself and continues from the new
store's offsets. The old store is kept (``--drop-old`` drops it) for comparison.
"""

from __future__ import annotations

import asyncio
import time

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from leancrm_contracts.topics import EVENT_TOPICS
from leancrm_servicekit.db import KIT_MIGRATIONS, Timeouts, create_pool, migrate
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox
from leancrm_servicekit.projection import CheckpointedConsumer
from leancrm_servicekit.settings import require
from leancrm_waste.projection import stores
from leancrm_waste.projection.apply import WasteApplier
from leancrm_waste.projection.writes import WasteStore
from leancrm_waste.settings import WasteSettings


async def rebuild(settings: WasteSettings, *, drop_old: bool = False, show_progress: bool = True,
                  timeout_s: float = 3600.0) -> tuple[str, str | None, int, float]:
    """Returns (new store, old store, events applied, seconds)."""
    dsn = require(settings.database_url, "LEANCRM_DATABASE_URL")
    bootstrap = require(settings.kafka_bootstrap, "LEANCRM_KAFKA_BOOTSTRAP")
    schema = settings.db_schema or "waste_service"
    await migrate(dsn, schema, [KIT_MIGRATIONS])
    pool = await create_pool(dsn, schema, 4, Timeouts.of(settings))
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            old = await stores.active_store(conn, schema)
            new = stores.new_store_name(schema)
            await stores.create_store(conn, new, settings.target_occupancy)
        consumer = CheckpointedConsumer(
            bootstrap=bootstrap, topics=list(EVENT_TOPICS), group_id=f"leancrm-waste-rebuild-{new}",
            pool=pool, offsets_table=f"{new}.consumer_offsets",
            apply=WasteApplier(WasteStore(new)),
            outbox=Outbox(pool, schema), consumer_name="waste",
            metrics=ServiceMetrics("waste-rebuild"),
            max_records=settings.projector_batch_max_records,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            concurrency=settings.projector_concurrency,
        )
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
        async with pool.acquire() as conn:
            await stores.switch_to(conn, schema, new)
            if drop_old and old is not None and old != new:
                await conn.execute(f"DROP SCHEMA {old} CASCADE")
        stop.set()
        await asyncio.wait_for(task, 30)
        return new, old, consumer.applied, time.perf_counter() - started
    finally:
        await pool.close()
