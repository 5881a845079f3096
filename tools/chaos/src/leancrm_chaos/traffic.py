"""The valid traffic: the simulator's seeded scenario, sent to the command topics at a
pace that spreads it over the fault window, and every command sent kept on record.

The producer is patient (its request timeout outlasts the broker pause), so a command
is not sent twice because the broker was paused; if a send still fails it is sent
again — at least once, as the contract lets any system do — and the checks count the
copies that reached the topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import SimCommand
from leancrm_simulator.run import encode
from leancrm_simulator.scenario import generate

from .journal import Journal, open_append, wall_time


def scenario(seed: int, days: int, customers: int) -> list[SimCommand]:
    return generate(Knobs(seed=seed, days=days, customers=customers))


def patient_producer(bootstrap: str, patience_s: float, **overrides: Any) -> AIOKafkaProducer:
    """acks=all, no idempotence (contract), and a request timeout longer than any pause."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap, "acks": "all", "enable_idempotence": False,
        "linger_ms": 5, "request_timeout_ms": int(patience_s * 1000), "retry_backoff_ms": 250,
        "metadata_max_age_ms": 10_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


@dataclass(slots=True)
class SentRecord:
    command_id: str
    topic: str
    key: str
    partition: int | None = None
    offset: int | None = None
    sent_at: str = ""
    sent_mono: float = 0.0
    attempts: int = 0
    error: str | None = None


@dataclass
class TrafficSender:
    bootstrap: str
    commands: Sequence[SimCommand]
    window_s: float
    patience_s: float
    journal: Journal
    log_path: Path
    sent: dict[str, SentRecord] = field(default_factory=dict)
    failures: int = 0
    done: bool = False
    _log: IO[str] | None = None

    @property
    def total(self) -> int:
        return len(self.commands)

    async def run(self, stop: Callable[[], bool]) -> None:
        if not self.commands:
            self.done = True
            return
        producer = patient_producer(self.bootstrap, self.patience_s)
        await asyncio.wait_for(producer.start(), self.patience_s)
        self._log = open_append(self.log_path)
        try:
            await self._send_all(producer, stop)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 30)
            self._log.close()
            self.done = True

    async def _send_all(self, producer: AIOKafkaProducer, stop: Callable[[], bool]) -> None:
        first, last = self.commands[0].at_ms, self.commands[-1].at_ms
        span_s = max(1.0, (last - first) / 1000)
        speed = span_s / max(1.0, self.window_s * 0.85)  # simulated seconds per wall second
        started = time.monotonic()
        pending: list[tuple[SimCommand, SentRecord, asyncio.Future[Any]]] = []
        for command in self.commands:
            if stop():
                break
            due = started + (command.at_ms - first) / 1000 / speed
            delay = due - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            record = SentRecord(command.command_id, command.topic, command.key,
                                sent_at=wall_time(), sent_mono=time.monotonic())
            self.sent[command.command_id] = record
            pending.append((command, record, await self._send(producer, command, record)))
            if len(pending) >= 500:
                await self._settle(producer, pending)
        await self._settle(producer, pending)

    async def _send(self, producer: AIOKafkaProducer, command: SimCommand,
                    record: SentRecord) -> asyncio.Future[Any]:
        record.attempts += 1
        future: asyncio.Future[Any] = await producer.send(
            command.topic, encode(command), key=command.key.encode(), headers=command.headers())
        return future

    async def _settle(self, producer: AIOKafkaProducer,
                      pending: list[tuple[SimCommand, SentRecord, asyncio.Future[Any]]]) -> None:
        """Wait for the broker's acknowledgements; send again what failed."""
        while pending:
            retry: list[tuple[SimCommand, SentRecord, asyncio.Future[Any]]] = []
            for command, record, future in pending:
                try:
                    meta = await asyncio.wait_for(asyncio.shield(future), self.patience_s + 30)
                except (KafkaError, TimeoutError, OSError) as exc:
                    self.failures += 1
                    record.error = f"{type(exc).__name__}: {exc}"
                    self.journal.event("harness_resend", f"sending {record.command_id} failed "
                                       f"({record.error}); sending it again", style="yellow",
                                       command_id=record.command_id, topic=record.topic,
                                       attempt=record.attempts)
                    if record.attempts >= 5:
                        continue
                    retry.append((command, record, await self._send(producer, command, record)))
                    continue
                record.partition, record.offset = meta.partition, meta.offset
                assert self._log is not None
                self._log.write(json.dumps({
                    "command_id": record.command_id, "topic": record.topic, "key": record.key,
                    "partition": record.partition, "offset": record.offset,
                    "sent_at": record.sent_at, "attempts": record.attempts}) + "\n")
            pending[:] = retry
