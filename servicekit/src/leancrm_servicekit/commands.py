"""Handling a batch of consumed commands: decode → validate → decide → commit.

One batch is one transaction: the new events, the processed-command records, the
command results and any dead letters are committed together, so a crash anywhere
either loses nothing or redoes the batch (whose commands are then duplicates).
Commands of one stream are decided in the order they were consumed; a concurrent
writer on the same stream makes the commit fail on the unique stream version,
and the batch is decided again on the fresh state (never lost, never doubled).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from pydantic import BaseModel

from leancrm_contracts.envelope import (
    CONTENT_TYPE_JSON,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    CommandError,
    CommandResult,
    EventEnvelope,
)
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
    OutboxMessage,
    ProcessedCommand,
    StoredEvent,
)
from leancrm_servicekit.inbound import (
    DeadLetter,
    InboundRecord,
    InvalidCommand,
    dead_letter_message,
    decode_command,
)
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics

log = get_logger(component="commands")

#: Optional hook that keeps a service's own read state in the commit's transaction.
ReadModelHook = Callable[[Conn, Sequence[StoredEvent]], Awaitable[None]]


def event_data_json(data: BaseModel) -> dict[str, Any]:
    """An event's data as JSON: every field, or only the set ones for models that
    declare ``__exclude_unset__`` (e.g. ``customer.details_changed``: changed fields)."""
    exclude_unset = bool(getattr(type(data), "__exclude_unset__", False))
    return data.model_dump(mode="json", exclude_unset=exclude_unset)


@dataclass
class BatchOutcome:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    events: list[StoredEvent] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)


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
        max_attempts: int = 20,
    ) -> None:
        self.service = service
        self.decider = decider
        self.command_models = command_models
        self.event_topic = event_topic
        self.store = store
        self.metrics = metrics
        self.read_model = read_model
        self.max_attempts = max_attempts
        self.last_error: str | None = None  # the current batch's failure, until it goes through

    async def handle_batch(self, records: Sequence[InboundRecord]) -> BatchOutcome:
        """Handle the batch until it is committed. Retries concurrency conflicts and
        database outages (with back-off) rather than skip a command. Any other failure
        (a bug, a decider raising something other than a DomainError) stops the line:
        it is logged with its traceback, counted, shown by /ready, and the same batch is
        tried again with back-off until it goes through, so no command is ever skipped
        and the consumer's lag shows the stop."""
        started = time.perf_counter()
        for topic, n in Counter(r.topic for r in records).items():
            self.metrics.messages_in.labels(topic=topic).inc(n)  # once per topic, not per record
        decoded = [decode_command(r, self.command_models) for r in records]
        attempt = 0
        while True:
            attempt += 1
            failure: Exception
            try:
                outcome = await self._attempt(decoded)
                break
            except ConcurrencyConflict as exc:
                if attempt < self.max_attempts:
                    log.info("commands_concurrency_conflict", attempt=attempt, detail=str(exc)[:200])
                    await asyncio.sleep(min(0.01 * attempt, 0.2))
                    continue
                failure = exc
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                    asyncpg.CannotConnectNowError) as exc:
                delay = min(0.5 * attempt, 5.0)
                log.warning("commands_database_unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            except Exception as exc:
                failure = exc
            delay = min(1.0 * attempt, 30.0)
            self.last_error = f"{type(failure).__name__}: {failure}"[:500]
            self.metrics.batch_failures.inc()
            log.error("command_batch_failed", attempt=attempt, retry_in_s=delay,
                      records=len(records), topic=records[0].topic if records else None,
                      partition=records[0].partition if records else None,
                      first_offset=records[0].offset if records else None,
                      exc_info=failure)
            await asyncio.sleep(delay)
        self.last_error = None
        self.metrics.handler_latency.observe(time.perf_counter() - started)
        for res in outcome.results:
            self.metrics.results.labels(status=res.status).inc()
        if outcome.dead_letters:
            for d in decoded:
                if isinstance(d, DeadLetter):
                    self.metrics.dlq.labels(error_code=d.error_code).inc()
        return outcome

    async def _attempt(self, decoded: Sequence[Command | InvalidCommand | DeadLetter]) -> BatchOutcome:
        now = datetime.now(UTC)
        outcome = BatchOutcome()
        outbox: list[OutboxMessage] = []
        processed: list[ProcessedCommand] = []
        commands = [d for d in decoded if isinstance(d, Command)]
        already = await self.store.processed(c.command_id for c in commands)
        streams = await self.store.load_streams(
            self.decider.stream_id(c) for c in commands if c.command_id not in already
        )
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
                log.warning("command_dead_lettered", error_code=item.error_code, reason=item.reason,
                            source_partition=item.record.partition, source_offset=item.record.offset)
                continue
            if isinstance(item, InvalidCommand):
                result = CommandResult(
                    command_id=item.command_id,
                    command_type=item.command_type,
                    status="rejected",
                    event_ids=[],
                    error=CommandError(code="invalid", message=item.message),
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

        await self.store.commit(outcome.events, processed, outbox, self.read_model)
        return outcome

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
