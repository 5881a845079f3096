"""Handling a batch of consumed commands: decode → validate → decide → commit.

One batch is one transaction: the new events, the processed-command records, the
command results, any dead letters and the consumed partitions' next offsets are
committed together, so a crash anywhere either loses nothing or redoes the batch —
and a redone batch's records, already covered by the stored offsets, are recognised
and not answered twice. Commands of one stream are decided in the order they were
consumed; a concurrent writer on the same stream makes the commit fail on the unique
stream version, and the batch is decided again on the fresh state (never lost, never
doubled).

Every record gets its verdict on its own: decoding never raises (inbound.py), and a
record whose values PostgreSQL refuses when written makes the batch go again one
record at a time, where that record is answered ``invalid`` (or dead-lettered) and
the others commit. Transient failures (a database restarting, a lock timeout) are
retried with back-off; anything else stops the line (jidoka) until it goes through.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from pydantic import BaseModel

from leancrm_contracts.base import event_data_json
from leancrm_contracts.envelope import (
    CONTENT_TYPE_JSON,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    CommandError,
    CommandResult,
    EventEnvelope,
)
from leancrm_contracts.limits import MAX_REASON_CHARS
from leancrm_contracts.topics import COMMAND_RESULTS
from leancrm_servicekit.db import Conn
from leancrm_servicekit.decider import (
    Command,
    Decider,
    DomainError,
    NewEvent,
    RecordedEvent,
)
from leancrm_servicekit.eventstore import (
    ConcurrencyConflict,
    EventStore,
    PositionClaim,
    ProcessedCommand,
    StoredEvent,
)
from leancrm_servicekit.faults import is_record_database_error, is_transient_database_error
from leancrm_servicekit.inbound import (
    DeadLetter,
    Decoded,
    InboundRecord,
    InvalidCommand,
    clip,
    dead_letter_message,
    decode_command,
    storable,
)
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import OutboxMessage

log = get_logger(component="commands")

#: Optional hook that keeps a service's own read state in the commit's transaction.
ReadModelHook = Callable[[Conn, Sequence[StoredEvent]], Awaitable[None]]


class Sealing(Protocol):
    """One attempt's sealing of new events (contract section 2.8): made by an
    :class:`EventSealer` for the streams of a batch."""

    def seal(self, event: StoredEvent) -> StoredEvent:
        """The event as it is stored and published (e.g. its personal fields sealed, a new
        ``schema_version``); may note keys to create or erase."""
        ...

    async def save(self, conn: Conn) -> Sequence[OutboxMessage]:
        """In the commit's transaction: store the keys created, delete those erased; the
        messages that announce them (queued before the events)."""
        ...


class EventSealer(Protocol):
    """Seals what a service's events must not carry in clear (the customers service's
    personal data). The decider and the read-model hook see events as decided, in clear;
    the event store and the topics only what ``seal`` returns."""

    async def prepare(self, stream_ids: Sequence[str]) -> Sealing:
        """The keys of these streams, loaded for one attempt at a batch."""
        ...


@dataclass
class BatchOutcome:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    redelivered: int = 0  # records the stored offsets already covered: not handled again
    events: list[StoredEvent] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)

    def add(self, other: BatchOutcome) -> None:
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.dead_letters += other.dead_letters
        self.redelivered += other.redelivered
        self.events.extend(other.events)
        self.results.extend(other.results)
        self.letters.extend(other.letters)


class _RecordRefused(Exception):
    """PostgreSQL refused a value of one of the batch's records (faults.RECORD_DATABASE_ERRORS)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _refused_verdict(item: tuple[InboundRecord, Decoded], detail: str) -> Decoded:
    """The verdict on a record PostgreSQL refused to store: ``invalid`` when a result can
    be addressed, else a dead letter without the original headers (the only part of a
    dead letter that is not stored as raw bytes)."""
    record, decoded = item
    message = storable(clip(f"cannot be stored: {detail}", MAX_REASON_CHARS))
    if isinstance(decoded, Command | InvalidCommand):
        return InvalidCommand(decoded.command_id, decoded.command_type, message)
    return DeadLetter(InboundRecord(record.topic, record.partition, record.offset, record.key,
                                    record.value), decoded.error_code,
                      f"{decoded.reason} ({message})")


class CommandHandler:
    def __init__(
        self,
        *,
        service: str,
        decider: Decider[Any],
        command_models: Mapping[str, type[BaseModel]],
        event_topic: str,
        store: EventStore,
        metrics: ServiceMetrics,
        read_model: ReadModelHook | None = None,
        sealer: EventSealer | None = None,
        max_attempts: int = 20,
    ) -> None:
        self.service = service
        self.decider = decider
        self.command_models = command_models
        self.event_topic = event_topic
        self.store = store
        self.metrics = metrics
        self.read_model = read_model
        self.sealer = sealer
        self.max_attempts = max_attempts
        self.last_error: str | None = None  # the current batch's failure, until it goes through
        self._next: dict[tuple[str, int], int] = {}  # next offsets this handler committed

    async def handle_batch(self, records: Sequence[InboundRecord]) -> BatchOutcome:
        """Handle the batch until it is committed; never raises but to be cancelled.

        Each record is decoded on its own (any exception is that record's dead letter).
        Concurrency conflicts and transient database failures are retried with back-off.
        A record whose values PostgreSQL refuses makes the batch go again one record at a
        time, where it is answered ``invalid`` (or dead-lettered) and the rest commit. Any
        other failure (a bug, a decider raising something other than a DomainError) stops
        the line: logged with its traceback, counted, shown by /ready, and the same batch
        is tried again with back-off until it goes through, so no command is ever skipped
        and the consumer's lag shows the stop."""
        started = time.perf_counter()
        for topic, n in Counter(r.topic for r in records).items():
            self.metrics.messages_in.labels(topic=topic).inc(n)  # once per topic, not per record
        items = [(r, decode_command(r, self.command_models)) for r in records]
        try:
            outcome = await self._until_committed(items)
        except _RecordRefused as refused:
            log.warning("command_batch_isolating", records=len(items), error=refused.detail)
            outcome = BatchOutcome()
            for item in items:  # the slow path, for this batch only
                try:
                    one = await self._until_committed([item])
                except _RecordRefused as exc:
                    one = await self._until_committed([(item[0], _refused_verdict(item, exc.detail))])
                outcome.add(one)
        self.metrics.handler_latency.observe(time.perf_counter() - started)
        for res in outcome.results:
            self.metrics.results.labels(status=res.status).inc()
        for letter in outcome.letters:
            self.metrics.dlq.labels(error_code=letter.error_code).inc()
        return outcome

    async def _until_committed(self, items: Sequence[tuple[InboundRecord, Decoded]]) -> BatchOutcome:
        attempt = 0
        while True:
            attempt += 1
            failure: Exception
            try:
                outcome = await self._attempt(items)
                self.last_error = None
                return outcome
            except ConcurrencyConflict as exc:
                if attempt < self.max_attempts:
                    log.info("commands_concurrency_conflict", attempt=attempt, detail=str(exc)[:200])
                    await asyncio.sleep(min(0.01 * attempt, 0.2))
                    continue
                failure = exc
            except Exception as exc:
                if is_transient_database_error(exc):
                    delay = min(0.5 * attempt, 5.0)
                    self.metrics.transient_errors.labels(dependency="database",
                                                         error=type(exc).__name__).inc()
                    self.last_error = f"database unavailable: {type(exc).__name__}: {exc}"[:500]
                    log.warning("commands_database_unavailable", error=repr(exc)[:300],
                                retry_in_s=delay, attempt=attempt)
                    await asyncio.sleep(delay)
                    continue
                if is_record_database_error(exc):
                    raise _RecordRefused(f"{type(exc).__name__}: {exc}") from exc
                failure = exc
            delay = min(1.0 * attempt, 30.0)
            self.last_error = f"{type(failure).__name__}: {failure}"[:500]
            self.metrics.batch_failures.inc()
            first = items[0][0] if items else None
            log.error("command_batch_failed", attempt=attempt, retry_in_s=delay,
                      records=len(items), topic=first.topic if first else None,
                      partition=first.partition if first else None,
                      first_offset=first.offset if first else None,
                      exc_info=failure)
            await asyncio.sleep(delay)

    async def _attempt(self, items: Sequence[tuple[InboundRecord, Decoded]]) -> BatchOutcome:
        now = datetime.now(UTC)
        outcome = BatchOutcome()
        outbox: list[OutboxMessage] = []
        processed: list[ProcessedCommand] = []
        expected = await self._positions(items)
        nxt: dict[tuple[str, int], int] = {}
        for r, _ in items:
            tp = (r.topic, r.partition)
            nxt[tp] = max(nxt.get(tp, 0), r.offset + 1, expected.get(tp, 0))
        # records the stored offsets already cover were handled (and answered) before a
        # crash or a rebalance; the broker delivers them again, they are not handled again
        decoded = [d for r, d in items if r.offset >= expected.get((r.topic, r.partition), 0)]
        if len(decoded) < len(items):
            outcome.redelivered = len(items) - len(decoded)
            log.info("commands_redelivered_skipped", records=outcome.redelivered)
        if not decoded:
            return outcome
        commands = [d for d in decoded if isinstance(d, Command)]
        already = await self.store.processed(c.command_id for c in commands)
        streams = await self.store.load_streams(
            self.decider.stream_id(c) for c in commands if c.command_id not in already
        )
        sealing = await self.sealer.prepare(sorted(streams)) if self.sealer is not None else None
        clear: list[StoredEvent] = []  # the events as decided, for the service's read model
        states: dict[str, tuple[Any, int, datetime | None]] = {}
        for stream_id, events in streams.items():
            state = self.decider.initial_state()
            for e in events:
                state = self.decider.evolve(state, _recorded(e))
            states[stream_id] = (state, len(events), events[-1].occurred_at if events else None)
        seen_in_batch: dict[str, tuple[UUID_TUPLE, str]] = {}

        for item in decoded:
            if isinstance(item, DeadLetter):
                outbox.append(dead_letter_message(item, self.service, now))
                outcome.dead_letters += 1
                outcome.letters.append(item)
                log.warning("command_dead_lettered", error_code=item.error_code, reason=item.reason,
                            source_partition=item.record.partition, source_offset=item.record.offset)
                continue
            if isinstance(item, InvalidCommand):
                result = CommandResult(
                    command_id=item.command_id,
                    command_type=item.command_type,
                    status="rejected",
                    event_ids=[],
                    error=CommandError(code="invalid", message=clip(item.message, MAX_REASON_CHARS)),
                    processed_at=now,
                )
                outcome.rejected += 1
                log.info("command_invalid", command_id=item.command_id, error=item.message)
                outbox.append(self._result_message(result))
                outcome.results.append(result)
                continue
            cmd = item
            prior = already.get(cmd.command_id)
            if prior is not None or cmd.command_id in seen_in_batch:
                ids = prior.event_ids if prior is not None else seen_in_batch[cmd.command_id][0]
                result = CommandResult(
                    command_id=cmd.command_id,
                    command_type=cmd.command_type,
                    status="duplicate",
                    event_ids=list(ids),
                    error=None,
                    processed_at=now,
                )
                outcome.duplicates += 1
                outbox.append(self._result_message(result))
                outcome.results.append(result)
                continue
            stream_id = self.decider.stream_id(cmd)
            state, version, _last = states[stream_id]
            try:
                new_events = list(self.decider.decide(state, cmd))
            except DomainError as err:
                result = CommandResult(
                    command_id=cmd.command_id,
                    command_type=cmd.command_type,
                    status="rejected",
                    event_ids=[],
                    error=CommandError(code=err.code, message=err.message),
                    processed_at=now,
                )
                outcome.rejected += 1
                log.info("command_rejected", command_id=cmd.command_id, code=err.code, error=err.message)
            else:
                stored = []
                for new in new_events:
                    version += 1
                    ev = self._stored(cmd, stream_id, version, new, now)
                    clear.append(ev)
                    if sealing is not None:
                        ev = sealing.seal(ev)
                    stored.append(ev)
                    state = self.decider.evolve(state, _recorded(ev))
                    outbox.append(self._event_message(ev))
                states[stream_id] = (state, version, cmd.occurred_at)
                outcome.events.extend(stored)
                ids = tuple(e.event_id for e in stored)
                result = CommandResult(
                    command_id=cmd.command_id,
                    command_type=cmd.command_type,
                    status="accepted",
                    event_ids=list(ids),
                    error=None,
                    processed_at=now,
                )
                outcome.accepted += 1
                log.info("command_accepted", command_id=cmd.command_id, command_type=cmd.command_type,
                         event_ids=[str(i) for i in ids], stream_id=stream_id)
            seen_in_batch[cmd.command_id] = (tuple(result.event_ids), result.status)
            processed.append(
                ProcessedCommand(
                    command_id=cmd.command_id,
                    command_type=cmd.command_type,
                    status=result.status,
                    event_ids=tuple(result.event_ids),
                    error=result.error.model_dump(mode="json") if result.error else None,
                    processed_at=now,
                )
            )
            outbox.append(self._result_message(result))
            outcome.results.append(result)

        read_model = self.read_model
        if sealing is not None:
            read_model = self._sealed_read_model(sealing, clear)
        try:
            await self.store.commit(outcome.events, processed, outbox, read_model,
                                    positions=PositionClaim(expected=expected, next=nxt))
        except BaseException:
            self._next.clear()  # read them again from the database
            raise
        self._next.update(nxt)
        return outcome

    def _sealed_read_model(self, sealing: Sealing, clear: Sequence[StoredEvent]) -> ReadModelHook:
        """In the commit's transaction: the keys saved (their messages queued before the
        events'), then the service's read model updated from the events as decided."""
        own = self.read_model

        async def hook(conn: Conn, _stored: Sequence[StoredEvent]) -> None:
            await self.store.outbox.insert(conn, await sealing.save(conn))
            if own is not None:
                await own(conn, clear)

        return hook

    async def _positions(self, items: Sequence[tuple[InboundRecord, Decoded]]) -> dict[tuple[str, int], int]:
        """The stored next offsets of the batch's partitions. Those this handler committed
        last, when the batch starts right there (the usual case: one consumer reading on),
        come from memory; the commit checks them anyway, and a conflict reads them all
        again."""
        first: dict[tuple[str, int], int] = {}
        for r, _ in items:
            first.setdefault((r.topic, r.partition), r.offset)
        if all(self._next.get(tp) == offset for tp, offset in first.items()):
            return {tp: self._next[tp] for tp in first}
        return await self.store.positions(first)

    def _stored(
        self, cmd: Command, stream_id: str, version: int, new: NewEvent, now: datetime
    ) -> StoredEvent:
        return StoredEvent(
            event_id=uuid.uuid4(),
            stream_id=stream_id,
            stream_version=version,
            event_type=new.event_type,
            schema_version=1,
            occurred_at=cmd.occurred_at,
            recorded_at=now,
            customer_id=new.customer_id,
            correlation_id=cmd.correlation_id,
            causation_id=cmd.command_id,
            key=new.key,
            data=event_data_json(new.data),
        )

    def _event_message(self, ev: StoredEvent) -> OutboxMessage:
        return event_message(ev, self.event_topic, self.decider.producer)

    @staticmethod
    def _result_message(result: CommandResult) -> OutboxMessage:
        return OutboxMessage(
            topic=COMMAND_RESULTS,
            key=result.command_id.encode(),
            value=result.model_dump_json().encode(),
            headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON), (HEADER_MESSAGE_TYPE, "command_result")),
        )


UUID_TUPLE = tuple[uuid.UUID, ...]


def event_message(ev: StoredEvent, topic: str, producer: str) -> OutboxMessage:
    """The Kafka message of a stored event: keyed, with the contract's headers."""
    return OutboxMessage(
        topic=topic,
        key=ev.key.encode(),
        value=envelope_json(ev, producer),
        headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON), (HEADER_MESSAGE_TYPE, ev.event_type)),
    )


def envelope_json(ev: StoredEvent, producer: str) -> bytes:
    """The event envelope of contract section 2.1, as published."""
    return EventEnvelope(
        event_id=ev.event_id,
        event_type=ev.event_type,
        schema_version=ev.schema_version,
        occurred_at=ev.occurred_at,
        recorded_at=ev.recorded_at,
        producer=producer,
        stream_id=ev.stream_id,
        stream_version=ev.stream_version,
        customer_id=ev.customer_id,
        correlation_id=ev.correlation_id,
        causation_id=ev.causation_id,
        data=ev.data,
    ).model_dump_json().encode()


def _recorded(ev: StoredEvent) -> RecordedEvent:
    return RecordedEvent(
        event_type=ev.event_type,
        stream_version=ev.stream_version,
        occurred_at=ev.occurred_at,
        customer_id=ev.customer_id,
        data=ev.data,
    )


def bind_command_context(command_id: str | None) -> None:
    structlog.contextvars.bind_contextvars(command_id=command_id)
