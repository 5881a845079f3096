"""The outbox relay: publishes what the services committed, in order, at least once.

One relay per service leads, holding a lease in the service's own schema (only the
service's role can take it; a standby takes over when the lease expires or the
leader's database session is gone). It wakes on LISTEN/NOTIFY with a polling
fallback, publishes outbox rows in id order (so in global order per key) with
``acks=all``, and deletes exactly the rows the broker acknowledged, remembering where
on each partition they ended. A leader killed between the broker's acknowledgement
and its delete leaves published rows behind: the next leader first reads each
partition after the remembered offsets and drops the rows it finds there already, so
a crash does not publish a message twice. A row the broker or the producer refuses
for good (too large, invalid) is parked with its reason
(:mod:`leancrm_servicekit.outbox`) and the rows after it go on; a broker or database
that does not answer is retried with back-off for as long as it takes, losing
nothing. No idempotent or transactional producer is needed (consumers still
deduplicate by id: two leaders at once, after a lease expired under a stalled leader,
can publish a message twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)

from leancrm_servicekit.db import DEFAULT_TIMEOUTS, Timeouts, connect
from leancrm_servicekit.faults import is_transient_database_error
from leancrm_servicekit.kafka import encode_headers, make_producer, stop_quietly
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import READ_MAX_BYTES, Outbox, OutboxRow, Refusal

log = get_logger(component="relay")

#: what the broker or the producer raises for one message that no retry will ever take
_REFUSED_FOR_GOOD: dict[type[BaseException], str] = {
    MessageSizeTooLargeError: "message_too_large",
    RecordTooLargeError: "message_too_large",
    RecordListTooLargeError: "message_too_large",
    InvalidTopicError: "invalid_topic",
    CorruptRecordException: "corrupt_record",
    UnsupportedForMessageFormatError: "unsupported_format",
    TypeError: "invalid_message",
    ValueError: "invalid_message",
}

_TAKE_LEASE = """
UPDATE relay_lease SET holder = $1, backend_pid = pg_backend_pid(),
       expires_at = now() + make_interval(secs => $2)
WHERE holder = $1 OR expires_at < now()
   OR NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = relay_lease.backend_pid)
RETURNING holder
"""
_RENEW_LEASE = """
UPDATE relay_lease SET expires_at = now() + make_interval(secs => $2) WHERE holder = $1
RETURNING holder
"""
_RELEASE_LEASE = "UPDATE relay_lease SET expires_at = '-infinity' WHERE holder = $1"


#: rounds of messages read back from a partition the relay never remembered a position of
_UNKNOWN_MARGIN = 10


def _identity(topic: str, key: bytes | None, value: bytes | None,
              headers: Iterable[tuple[str, bytes]]) -> str:
    """One published message exactly: topic, key, value (None: a tombstone) and headers."""
    h = hashlib.sha256()
    for part in (topic.encode(), b"\x00" if key is None else b"\x01" + key,
                 b"\x00" if value is None else b"\x01" + value,
                 *(k.encode() + b"\x00" + v for k, v in headers)):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def refusal_reason(exc: BaseException) -> str | None:
    """The parking reason when ``exc`` refuses a message for good, else None."""
    for kind, reason in _REFUSED_FOR_GOOD.items():
        if isinstance(exc, kind):
            return reason
    return None


class _LeaseLost(Exception):
    pass


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        outbox: Outbox,
        bootstrap: str,
        metrics: ServiceMetrics,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
        lease_s: float = 30.0,
        producer_options: dict[str, Any] | None = None,
        consumer_options: dict[str, Any] | None = None,
        client_options: dict[str, Any] | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        """``client_options``: the transport security (``kafka.client_options``) of both
        the producer and the consumer that reads back what was published."""
        self.dsn = dsn
        self.schema = schema
        self.timeouts = timeouts
        self.outbox = outbox
        self.bootstrap = bootstrap
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        self.producer_options = {**(client_options or {}), **(producer_options or {})}
        self.consumer_options = {**(client_options or {}), **(consumer_options or {})}
        self.holder = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self.published = 0
        self.parked = 0
        self.is_leader = False
        self.last_error: str | None = None

    def wake(self, *_: Any) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, surviving database and broker outages — and bugs,
        which are logged with their traceback and shown by /ready while it retries."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff = 0.5
            except Exception as exc:
                if is_transient_database_error(exc):
                    self.metrics.transient_errors.labels(dependency="database",
                                                         error=type(exc).__name__).inc()
                    self.last_error = f"database: {type(exc).__name__}: {exc}"[:500]
                    log.warning("relay_database_error", error=repr(exc)[:300], retry_in_s=backoff)
                else:
                    self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    log.error("relay_failed", retry_in_s=backoff, exc_info=exc)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.outbox.pool.execute(_RELEASE_LEASE, self.holder), 5)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn, self.schema, self.timeouts)
        try:
            while await conn.fetchval(_TAKE_LEASE, self.holder, self.lease_s) is None:
                self.is_leader = False
                self.last_error = None  # a standby is fine
                if await _sleep_or_stop(stop, min(2.0, self.lease_s / 3)):
                    return
            self.is_leader = True
            self.last_error = None
            await conn.add_listener(self.outbox.notify_channel, self.wake)
            log.info("relay_leading", schema=self.schema, holder=self.holder)
            await self._publish_loop(conn, stop)
        except _LeaseLost:
            log.warning("relay_lease_lost", holder=self.holder)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    async def _renew(self, conn: asyncpg.Connection) -> float:
        if await conn.fetchval(_RENEW_LEASE, self.holder, self.lease_s) is None:
            raise _LeaseLost
        return time.monotonic()

    async def _publish_loop(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        producer: AIOKafkaProducer | None = None
        failures = 0
        renewed = time.monotonic()
        # the outbox may hold rows already published: by a leader killed before deleting
        # them, or by a round of this one that failed after the broker had taken some
        unchecked = True
        try:
            while not stop.is_set():
                if time.monotonic() - renewed > self.lease_s / 5:
                    renewed = await self._renew(conn)
                self._wake.clear()
                rows = await self.outbox.read(conn, self.batch_size)
                read_all = len(rows) < self.batch_size and sum(
                    len(r.message.value or b"") for r in rows) < READ_MAX_BYTES // 2
                self.metrics.outbox_backlog.set(len(rows) if read_all else await self.outbox.backlog())
                if not rows:
                    await _wait_any(stop, self._wake, min(self.poll_interval_s, self.lease_s / 5))
                    continue
                try:
                    if unchecked:
                        await self._drop_published(conn)
                        unchecked = False
                        if failures:  # the broker answers again
                            log.info("relay_recovered", after_attempts=failures)
                        failures = 0
                        self.last_error = None
                        continue  # the rows left are read again
                    if producer is None:
                        producer = await self._start_producer()
                    published, refused, positions, failure = await asyncio.wait_for(
                        self._publish(producer, rows), self.lease_s / 2)
                except Exception as exc:
                    published, refused, positions, failure = [], [], {}, exc
                if published or refused:
                    await self.outbox.settle(conn, published, refused, positions)
                    self.published += len(published)
                    for r in refused:
                        self._parked(r)
                if failure is None:
                    if failures:
                        log.info("relay_recovered", after_attempts=failures)
                    failures = 0
                    self.last_error = None
                    continue
                failures += 1
                self.metrics.transient_errors.labels(dependency="broker",
                                                     error=type(failure).__name__).inc()
                self.last_error = f"broker: {failure!r}"[:500]
                delay = min(0.5 * 2 ** min(failures, 5), 10.0)
                log.warning("relay_publish_failed", error=repr(failure)[:300],
                            pending=len(rows) - len(published) - len(refused),
                            attempt=failures, retry_in_s=delay)
                if producer is not None:
                    # closed before the rows are sent again: what it still had in flight is
                    # delivered or failed by then, and a fresh producer re-resolves metadata
                    await stop_quietly(producer, timeout_s=60)
                    producer = None
                await _sleep_or_stop(stop, delay)
                renewed = await self._renew(conn)
                # a round that failed (a timeout, a broker that went away) may still have
                # delivered some rows: they are looked for before anything is sent again
                unchecked = True
        finally:
            if producer is not None:
                await stop_quietly(producer)

    def _parked(self, refusal: Refusal) -> None:
        self.parked += 1
        self.metrics.parked.labels(reason=refusal.reason).inc()
        m = refusal.row.message
        log.error("outbox_message_parked", reason=refusal.reason, error=refusal.error,
                  outbox_id=refusal.row.id, topic=m.topic, value_bytes=len(m.value or b""))

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = make_producer(self.bootstrap, **self.producer_options)
        try:
            await asyncio.wait_for(producer.start(), 30)
        except BaseException:
            await stop_quietly(producer)
            raise
        return producer

    async def _publish(self, producer: AIOKafkaProducer, rows: list[OutboxRow]
                       ) -> tuple[list[int], list[Refusal], dict[tuple[str, int], int], Exception | None]:
        """Send ``rows`` and wait for the broker. Returns the ids published, the rows
        refused for good, the next offset after them per topic partition, and the first
        other failure. Only the published rows *before* that failure count as published:
        the rows after it are sent again (a duplicate, which consumers drop by id, rather
        than a message overtaking an earlier one of its key)."""
        started = time.perf_counter()
        refused: list[Refusal] = []
        sent: list[tuple[OutboxRow, asyncio.Future[Any]]] = []
        for row in rows:
            m = row.message
            try:
                fut = await producer.send(m.topic, value=m.value, key=m.key,
                                          headers=encode_headers(m.headers))
            except Exception as exc:
                reason = refusal_reason(exc)
                if reason is None:
                    raise
                refused.append(Refusal(row, reason, repr(exc)[:1000]))
                continue
            sent.append((row, fut))
        outcomes = await asyncio.gather(*(f for _, f in sent), return_exceptions=True)
        published: list[int] = []
        positions: dict[tuple[str, int], int] = {}
        failure: Exception | None = None
        for (row, _), outcome in zip(sent, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                reason = refusal_reason(outcome)
                if reason is not None:
                    refused.append(Refusal(row, reason, repr(outcome)[:1000]))
                elif failure is None:
                    failure = outcome if isinstance(outcome, Exception) else RuntimeError(repr(outcome))
            else:
                tp = (outcome.topic, outcome.partition)
                positions[tp] = max(positions.get(tp, 0), outcome.offset + 1)
                if failure is None:
                    published.append(row.id)
                    self.metrics.messages_out.labels(topic=row.message.topic).inc()
        self.metrics.relay_latency.observe(time.perf_counter() - started)
        return published, refused, positions, failure

    async def _drop_published(self, conn: asyncpg.Connection) -> None:
        """Drop the outbox rows that were published but not deleted (a leader killed in
        between, or a failed round the broker took part of): each partition of their
        topics is read from where the acknowledged messages ended (or, where nothing is
        remembered, from a margin before its end) to its high watermark, and a row whose
        exact message is found there is deleted — as many rows as copies found. Raises
        when the broker does not answer: nothing is sent until this look succeeded."""
        rows = await self.outbox.read(conn, self.batch_size)
        if not rows:
            return
        found = await asyncio.wait_for(self._published_after(
            conn, sorted({r.message.topic for r in rows})), self.lease_s / 2)
        dropped = []
        for row in rows:
            identity = _identity(row.message.topic, row.message.key, row.message.value,
                                 encode_headers(row.message.headers))
            if found[identity] > 0:
                found[identity] -= 1
                dropped.append(row.id)
        if dropped:
            await self.outbox.settle(conn, dropped, [])
            log.info("relay_dropped_published", rows=len(dropped), first_id=dropped[0])

    async def _published_after(self, conn: asyncpg.Connection, topics: list[str]) -> Counter[str]:
        known = await self.outbox.published_positions(conn, topics)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, **self.consumer_options)
        await consumer.start()
        seen: Counter[str] = Counter()
        try:
            existing = await consumer.topics()
            parts = [TopicPartition(t, p) for t in topics if t in existing
                     for p in sorted(consumer.partitions_for_topic(t) or ())]
            if not parts:
                return seen
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            for tp in parts:
                start = known.get((tp.topic, tp.partition))
                # never remembered: the last rounds before its end (the embedded broker's
                # end offsets can be early, which only widens the window)
                consumer.seek(tp, start if start is not None
                              else max(0, ends[tp] - _UNKNOWN_MARGIN * self.batch_size))
            pending = set(parts)
            while pending:
                batch = await consumer.getmany(timeout_ms=1000, max_records=2000)
                for records in batch.values():
                    for r in records:
                        seen[_identity(r.topic, r.key, r.value, list(r.headers or ()))] += 1
                for tp in list(pending):
                    high = consumer.highwater(tp)
                    if high is not None and await consumer.position(tp) >= high:
                        pending.discard(tp)
            return seen
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)

    async def parked_backlog(self) -> int:
        n = await self.outbox.parked_count()
        self.metrics.parked_backlog.set(n)
        return n


def relay_problem(relay: OutboxRelay | None, task: asyncio.Task[None] | None) -> str | None:
    """What /ready reports of a relay running in this process: its task ended (it must
    not, while the service runs), or it keeps failing."""
    if relay is None:
        return None
    if task is not None and task.done():
        error = None if task.cancelled() else task.exception()
        return f"the outbox relay stopped: {error!r}"
    return relay.last_error


async def parked_warning(outbox: Outbox, metrics: ServiceMetrics, service: str) -> dict[str, str]:
    """/ready's warning while messages wait in the parking lot (a warning, not a stop:
    everything else is published)."""
    summary = await outbox.parked_summary()
    total = sum(int(r["messages"]) for r in summary)
    metrics.parked_backlog.set(total)
    if not total:
        return {}
    reasons = ", ".join(f"{r['reason']} on {r['topic']}: {r['messages']}" for r in summary[:5])
    return {"parked": f"{total} message(s) the broker refused are parked ({reasons}); see "
                      f"`python -m leancrm_{service} parked list`"}


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
