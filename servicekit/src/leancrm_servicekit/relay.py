"""The outbox relay: publishes what the event store committed, in order, at least once.

One relay per service holds a PostgreSQL advisory lock (replicas wait on standby).
It wakes on LISTEN/NOTIFY with a polling fallback, publishes outbox rows in id
order (so in global order per key), and deletes them only after the broker
acknowledged every one (acks=all). When the broker is unreachable it keeps
retrying with back-off and loses nothing; consumers deduplicate the rare
republished message by its id. It never needs an idempotent or transactional
producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from leancrm_servicekit.db import connect
from leancrm_servicekit.eventstore import EventStore, OutboxRow
from leancrm_servicekit.kafka import encode_headers, make_producer, stop_quietly
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics

log = get_logger(component="relay")


def relay_lock_key(schema: str) -> int:
    return int.from_bytes(hashlib.sha256(f"relay:{schema}".encode()).digest()[:8], "big", signed=True)


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        store: EventStore,
        bootstrap: str,
        metrics: ServiceMetrics,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.store = store
        self.bootstrap = bootstrap
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self.published = 0
        self.is_leader = False
        self.last_error: str | None = None

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, surviving database and broker outages."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff = 0.5
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.last_error = f"database: {exc}"
                log.warning("relay_database_error", error=str(exc), retry_in_s=backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn, self.schema)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", relay_lock_key(self.schema)):
                self.is_leader = False
                if await _sleep_or_stop(stop, self.poll_interval_s * 2):
                    return
            self.is_leader = True
            await conn.add_listener(self.store.notify_channel, self.wake)
            log.info("relay_leading", schema=self.schema)
            await self._publish_loop(conn, stop)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _publish_loop(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        producer: AIOKafkaProducer | None = None
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                rows = await self.store.read_outbox(conn, self.batch_size)
                self.metrics.outbox_backlog.set(len(rows) if len(rows) < self.batch_size
                                                else await self.store.outbox_backlog())
                if not rows:
                    await _wait_any(stop, self._wake, self.poll_interval_s)
                    continue
                try:
                    if producer is None:
                        candidate = make_producer(self.bootstrap)
                        try:
                            await asyncio.wait_for(candidate.start(), 30)
                        except BaseException:
                            await stop_quietly(candidate)
                            raise
                        producer = candidate
                    await asyncio.wait_for(self._publish(producer, rows), 90)
                except Exception as exc:
                    failures += 1
                    self.last_error = f"broker: {exc!r}"
                    delay = min(0.5 * 2 ** min(failures, 5), 10.0)
                    log.warning("relay_publish_failed", error=repr(exc), pending=len(rows),
                                attempt=failures, retry_in_s=delay)
                    if failures % 3 == 0 and producer is not None:
                        # a fresh producer re-resolves metadata and connections
                        await stop_quietly(producer)
                        producer = None
                    await _sleep_or_stop(stop, delay)
                    continue
                if failures:
                    log.info("relay_recovered", after_attempts=failures)
                failures = 0
                self.last_error = None
                await self.store.delete_outbox_through(conn, rows[-1].id)
                self.published += len(rows)
        finally:
            if producer is not None:
                await stop_quietly(producer)

    async def _publish(self, producer: AIOKafkaProducer, rows: list[OutboxRow]) -> None:
        started = time.perf_counter()
        futures = []
        for row in rows:
            m = row.message
            futures.append(
                await producer.send(
                    m.topic,
                    value=m.value,
                    key=m.key,
                    headers=encode_headers(m.headers),
                )
            )
        await asyncio.wait_for(asyncio.gather(*futures), 60)
        for row in rows:
            self.metrics.messages_out.labels(topic=row.message.topic).inc()
        self.metrics.relay_latency.observe(time.perf_counter() - started)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, waking early when stopping; True if stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout_s: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
