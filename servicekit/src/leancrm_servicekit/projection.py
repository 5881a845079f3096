"""A consumer whose offsets live in PostgreSQL, committed in the same transaction as
the read-model changes they cover: effectively-once projections on any broker.

On assignment each partition is positioned at the offset stored in PostgreSQL (or
the beginning). Each batch is applied in one transaction that first locks the
partitions' offset rows and drops records already applied (another instance may
have applied them during a rebalance), then applies the rest, then stores the next
offsets, and queues dead letters in the outbox. Kafka's own committed offsets are
never relied on. Lag is taken from the fetch high watermark.

Nothing stops the line for good: a transient failure (the database restarting, a lock
timeout) is retried with back-off and counted; a batch whose apply raises anything else
is applied again one record at a time, each in a savepoint, so that the record that
raises is dead-lettered with the reason and the rest commit — the slow path, for that
batch only. A database error that is not a record's own (a missing table, a privilege)
stops the line instead, visibly, until it is mended: dead-lettering every record for
it would empty the stream into the DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from leancrm_contracts.limits import MAX_REASON_CHARS
from leancrm_servicekit.db import Conn, check_identifier
from leancrm_servicekit.faults import is_record_database_error, is_transient_database_error
from leancrm_servicekit.inbound import DeadLetter, InboundRecord, clip, dead_letter_message
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.offsets import ConsumerOffsets
from leancrm_servicekit.outbox import Outbox, OutboxMessage

log = get_logger(component="projection")

#: Applies fresh records inside the batch's transaction; returns dead letters.
ApplyBatch = Callable[[Conn, Sequence[InboundRecord]], Awaitable[list[OutboxMessage]]]


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: CheckpointedConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions_revoked", partitions=sorted(str(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.seek_to_stored(list(assigned))


def split_by_partition(records: list[InboundRecord], groups: int) -> list[list[InboundRecord]]:
    """A consumed batch in up to ``groups`` groups of whole partitions (records keep their
    order), for applying each in a transaction of its own at the same time as the others:
    while one waits on PostgreSQL, another computes. Partitions never share a stream
    (events are keyed by their stream's owner), so the groups write disjoint rows, exactly
    as two instances in one consumer group do, and each stores its own partitions' offsets."""
    if groups <= 1:
        return [records]
    parts = sorted({(r.topic, r.partition) for r in records})
    group_of = {tp: i % groups for i, tp in enumerate(parts)}
    out: list[list[InboundRecord]] = [[] for _ in range(min(groups, len(parts)))]
    for r in records:
        out[group_of[(r.topic, r.partition)]].append(r)
    return out


class CheckpointedConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        pool: asyncpg.Pool,
        offsets_table: str,
        apply: ApplyBatch,
        outbox: Outbox | None,
        metrics: ServiceMetrics,
        consumer_name: str = "projection",
        max_records: int = 2000,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 2000,
        fetch_max_wait_ms: int = 50,
        concurrency: int = 1,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``client_options``: the consumer's transport security (``kafka.client_options``)."""
        schema, _, table = offsets_table.partition(".")
        if table != "consumer_offsets":
            raise ValueError(f"offsets live in a schema's consumer_offsets table, not {offsets_table}")
        self.offsets = ConsumerOffsets(check_identifier(schema))
        self.consumer_name = consumer_name
        self.last_error: str | None = None
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.group_id = group_id
        self.pool = pool
        self.apply = apply
        self.outbox = outbox
        self.metrics = metrics
        self.max_records = max_records
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.concurrency = max(1, concurrency)
        self.client_options = dict(client_options or {})
        self.consumer: AIOKafkaConsumer | None = None
        self.applied = 0
        self.batches = 0
        self.last_batch_at: float | None = None
        self._next: dict[TopicPartition, int] = {}

    async def seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        assert self.consumer is not None
        attempt = 0
        while True:  # a database restarting during a rebalance is waited for
            attempt += 1
            try:
                async with self.pool.acquire() as conn:
                    stored = await self.offsets.read(conn)
                break
            except Exception as exc:
                if not is_transient_database_error(exc) or attempt >= 60:
                    raise
                self._transient(exc)
                await asyncio.sleep(min(0.2 * attempt, 2.0))
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
            self._next[tp] = offset or 0
        log.info("partitions_assigned", positions={str(tp): self._next[tp] for tp in partitions})

    async def run(self, stop: asyncio.Event) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            max_poll_records=self.max_records,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            metadata_max_age_ms=5000,
            **self.client_options,
        )
        self.consumer.subscribe(self.topics, listener=_Seeker(self))
        await self.consumer.start()
        try:
            while not stop.is_set():
                batch = await self.consumer.getmany(timeout_ms=200, max_records=self.max_records)
                records = [
                    InboundRecord(
                        topic=r.topic, partition=r.partition, offset=r.offset, key=r.key,
                        value=r.value if r.value is not None else b"",
                        headers=tuple(r.headers or ()),
                    )
                    for recs in batch.values() for r in recs
                ]
                if records:
                    await asyncio.gather(*(self._apply_until_done(group, stop)
                                           for group in split_by_partition(records, self.concurrency)))
                self._update_lag()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.consumer.stop(), 10)

    async def _apply_until_done(self, records: list[InboundRecord], stop: asyncio.Event) -> None:
        attempt = 0
        isolate = False
        while True:
            attempt += 1
            try:
                await (self._apply_isolated(records) if isolate else self._apply_once(records))
                self.last_error = None
                return
            except Exception as exc:
                if is_transient_database_error(exc):
                    delay = min(0.2 * attempt, 5.0)
                    self._transient(exc)
                    self.last_error = f"database unavailable: {type(exc).__name__}: {exc}"[:500]
                    log.warning("projection_batch_retry", error=repr(exc)[:300], retry_in_s=delay)
                    if stop.is_set() and attempt > 3:
                        raise
                    await asyncio.sleep(delay)
                    continue
                if not isolate and _records_fault(exc):
                    log.warning("projection_batch_isolating", records=len(records), error=repr(exc)[:300])
                    isolate = True
                    continue
                delay = min(1.0 * attempt, 30.0)
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self.metrics.batch_failures.inc()
                log.error("projection_batch_failed", attempt=attempt, retry_in_s=delay,
                          records=len(records), exc_info=exc)
                if stop.is_set():
                    raise
                await asyncio.sleep(delay)

    def _transient(self, exc: BaseException) -> None:
        self.metrics.transient_errors.labels(dependency="database", error=type(exc).__name__).inc()

    async def _apply_once(self, records: list[InboundRecord]) -> None:
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await self.offsets.lock(conn, {(r.topic, r.partition) for r in records})
            fresh = [r for r in records if r.offset >= stored[(r.topic, r.partition)]]
            dead = await self.apply(conn, fresh) if fresh else []
            nxt = _next_offsets(records, stored)
            await self.offsets.advance(conn, nxt)
            if dead and self.outbox is not None:
                await self.outbox.insert(conn, dead)
        self._applied(records, fresh, dead, nxt, started)

    async def _apply_isolated(self, records: list[InboundRecord]) -> None:
        """The batch again, each record in a savepoint of one transaction: a record whose
        apply raises (not a transient or infrastructure failure) is dead-lettered with the
        reason, and the others commit."""
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await self.offsets.lock(conn, {(r.topic, r.partition) for r in records})
            fresh = [r for r in records if r.offset >= stored[(r.topic, r.partition)]]
            dead: list[OutboxMessage] = []
            for record in fresh:
                try:
                    async with conn.transaction():
                        dead.extend(await self.apply(conn, [record]))
                except Exception as exc:
                    if not _records_fault(exc):
                        raise
                    log.error("projection_record_failed", topic=record.topic,
                              partition=record.partition, offset=record.offset, exc_info=exc)
                    dead.append(dead_letter_message(DeadLetter(
                        record, "invalid_data",
                        clip(f"could not be applied: {type(exc).__name__}: {exc}", MAX_REASON_CHARS)),
                        self.consumer_name))
            nxt = _next_offsets(records, stored)
            await self.offsets.advance(conn, nxt)
            if dead and self.outbox is not None:
                await self.outbox.insert(conn, dead)
        self._applied(records, fresh, dead, nxt, started)

    def _applied(self, records: list[InboundRecord], fresh: list[InboundRecord],
                 dead: list[OutboxMessage], nxt: dict[tuple[str, int], int], started: float) -> None:
        for (topic, partition), n in nxt.items():
            self._next[TopicPartition(topic, partition)] = n
        for topic, n in Counter(r.topic for r in records).items():
            self.metrics.messages_in.labels(topic=topic).inc(n)  # once per topic, not per record
        for d in dead:
            code = dict(d.headers).get("dlq_error_code", "unknown")
            self.metrics.dlq.labels(error_code=code).inc()
        self.applied += len(fresh)
        self.batches += 1
        self.last_batch_at = time.time()
        self.metrics.handler_latency.observe(time.perf_counter() - started)

    def _update_lag(self) -> None:
        if self.consumer is None:
            return
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(0, high - self._next.get(tp, 0))
            )

    def caught_up(self) -> bool:
        """Every assigned partition fetched at least once and nothing left behind."""
        if self.consumer is None:
            return False
        assigned = self.consumer.assignment()
        if not assigned:
            return False
        for tp in assigned:
            high = self.consumer.highwater(tp)
            if high is None or high > self._next.get(tp, 0):
                return False
        return True

    def lag(self) -> dict[str, int]:
        """Messages behind the fetch high watermark, per partition."""
        out: dict[str, int] = {}
        if self.consumer is None:
            return out
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is not None:
                out[f"{tp.topic}/{tp.partition}"] = max(0, high - self._next.get(tp, 0))
        return out


def _next_offsets(records: Sequence[InboundRecord], stored: dict[tuple[str, int], int]
                  ) -> dict[tuple[str, int], int]:
    nxt: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        nxt[key] = max(nxt.get(key, 0), r.offset + 1, stored[key])
    return nxt


def _records_fault(exc: BaseException) -> bool:
    """Whether ``exc`` may be one record's doing: anything Python raises, and the database
    errors of a value being written. Other database errors (a missing table, a privilege,
    a syntax error) are the system's and stop the line."""
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return is_record_database_error(exc)
    return not is_transient_database_error(exc)
