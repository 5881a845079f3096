"""Reading the topics as an outside observer: what the command results, the dead
letters, and the copies of commands and events on the topics say.

A ``TopicTap`` assigns every partition of its topics (no consumer group), reads from the
beginning and folds each record into a ``TopicState``. The run keeps one tap live (probe
results, high watermarks for the lag) and reads everything once more with a fresh tap
at the end, for the checks. High watermarks come from fetch responses: on the embedded
broker ``end_offsets`` is wrong for batched writes (shared/notes/embedded-broker.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from leancrm_contracts.topics import ALL_TOPICS, COMMAND_RESULTS, COMMAND_TOPICS, DLQ, EVENT_TOPICS

#: what the harness's hostile records and probes carry as key (and command_id where they
#: have one): ``mal-<seed>-<n>`` and ``probe-<seed>-<n>``
MARKER = re.compile(rb"^(mal-\d+-\d{6})")
MARKER_TEXT = re.compile(r"^(mal-\d+-\d{6})")


def marker_of_key(key: bytes | None) -> str | None:
    if not key:
        return None
    m = MARKER.match(key)
    return m.group(1).decode() if m else None


def marker_of_text(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    m = MARKER_TEXT.match(text)
    return m.group(1) if m else None


def sha256(value: bytes | None) -> str:
    return hashlib.sha256(value or b"").hexdigest()


@dataclass(frozen=True, slots=True)
class ResultSeen:
    status: str
    code: str | None
    message: str | None
    command_type: str
    event_ids: tuple[str, ...]
    processed_at: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetterSeen:
    key_prefix: str
    headers: dict[str, str]
    value_sha256: str
    value_len: int
    partition: int
    offset: int


@dataclass
class TopicState:
    """Everything the checks need to know about the topics, folded record by record."""

    records: Counter[str] = field(default_factory=Counter)
    #: command_id → each result for it, in topic order
    results: dict[str, list[ResultSeen]] = field(default_factory=dict)
    results_unreadable: int = 0
    #: hostile record's marker → each dead letter keyed by it
    dead_letters: dict[str, list[DeadLetterSeen]] = field(default_factory=dict)
    #: dead letters of records that are not the harness's hostile ones (should be none)
    other_dead_letters: list[DeadLetterSeen] = field(default_factory=list)
    #: command_id → copies on the command topics (records not keyed by a marker)
    command_copies: Counter[str] = field(default_factory=Counter)
    #: event_id → copies on the event topics (records not keyed by a marker)
    event_copies: Counter[str] = field(default_factory=Counter)
    #: event_id → causation_id of events published by the services
    event_causation: dict[str, str | None] = field(default_factory=dict)

    def take(self, r: ConsumerRecord[bytes, bytes]) -> None:
        topic = r.topic
        self.records[topic] += 1
        if topic == COMMAND_RESULTS:
            self._result(r)
        elif topic == DLQ:
            self._dead_letter(r)
        elif topic in COMMAND_TOPICS:
            if marker_of_key(r.key) is None:
                obj = _json(r.value)
                if isinstance(obj, dict) and isinstance(obj.get("command_id"), str):
                    self.command_copies[obj["command_id"]] += 1
        elif topic in EVENT_TOPICS and marker_of_key(r.key) is None:
            obj = _json(r.value)
            if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
                self.event_copies[obj["event_id"]] += 1
                cause = obj.get("causation_id")
                self.event_causation[obj["event_id"]] = cause if isinstance(cause, str) else None

    def _result(self, r: ConsumerRecord[bytes, bytes]) -> None:
        obj = _json(r.value)
        if not isinstance(obj, dict) or not isinstance(obj.get("command_id"), str):
            self.results_unreadable += 1
            return
        raw_error, raw_ids = obj.get("error"), obj.get("event_ids")
        error = raw_error if isinstance(raw_error, dict) else None
        ids = raw_ids if isinstance(raw_ids, list) else []
        self.results.setdefault(obj["command_id"], []).append(ResultSeen(
            status=str(obj.get("status")),
            code=str(error.get("code")) if error else None,
            message=str(error.get("message"))[:300] if error else None,
            command_type=str(obj.get("command_type")),
            event_ids=tuple(str(i) for i in ids), processed_at=str(obj.get("processed_at")),
            partition=r.partition, offset=r.offset))

    def _dead_letter(self, r: ConsumerRecord[bytes, bytes]) -> None:
        headers = {k: (v or b"").decode(errors="replace")[:2000] for k, v in (r.headers or ())}
        value = r.value or b""
        key = r.key or b""
        seen = DeadLetterSeen(key_prefix=key[:80].decode(errors="replace"), headers=headers,
                              value_sha256=sha256(value), value_len=len(value),
                              partition=r.partition, offset=r.offset)
        marker = marker_of_key(key)
        if marker is None:
            self.other_dead_letters.append(seen)
        else:
            self.dead_letters.setdefault(marker, []).append(seen)

    def first_result(self, command_id: str) -> ResultSeen | None:
        found = self.results.get(command_id)
        return found[0] if found else None


def _json(value: bytes | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception:  # hostile bytes: not JSON, too deep, huge numbers …
        return None


class TopicTap:
    def __init__(self, bootstrap: str, topics: tuple[str, ...] = ALL_TOPICS) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.state = TopicState()
        self.partitions: list[TopicPartition] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_record_at = time.monotonic()
        self.errors = 0
        self.last_error: str | None = None

    async def start(self, timeout_s: float = 60.0) -> TopicTap:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=16 << 20,
            fetch_max_bytes=64 << 20, request_timeout_ms=40_000, metadata_max_age_ms=5_000,
            fetch_max_wait_ms=200)
        await asyncio.wait_for(consumer.start(), timeout_s)
        self._consumer = consumer
        deadline = time.monotonic() + timeout_s
        while True:
            await asyncio.wait_for(consumer.topics(), timeout_s)
            parts = {t: consumer.partitions_for_topic(t) for t in self.topics}
            if all(parts.values()):
                break
            if time.monotonic() > deadline:
                missing = [t for t, p in parts.items() if not p]
                raise TimeoutError(f"topics {missing} not on the broker after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)
        self.partitions = [TopicPartition(t, p) for t in self.topics for p in sorted(parts[t] or ())]
        consumer.assign(self.partitions)
        await asyncio.wait_for(consumer.seek_to_beginning(*self.partitions), timeout_s)
        self._task = asyncio.create_task(self._run(consumer))
        return self

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=200, max_records=5_000)
            except KafkaError as exc:  # the broker paused or gone for a while: keep reading
                self.errors += 1
                self.last_error = repr(exc)
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for r in records:
                    self.state.take(r)
                self.last_record_at = time.monotonic()
            if not batch:
                await asyncio.sleep(0)

    def failed(self) -> BaseException | None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            return self._task.exception()
        return None

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._consumer.highwater(tp) if self._consumer is not None else None

    def highwaters(self, topics: tuple[str, ...]) -> dict[TopicPartition, int | None]:
        return {tp: self.highwater(tp) for tp in self.partitions if tp.topic in topics}

    async def behind(self) -> dict[str, int | None]:
        """Partitions not read up to their high watermark (None: not fetched yet)."""
        assert self._consumer is not None
        out: dict[str, int | None] = {}
        for tp in self.partitions:
            high = self._consumer.highwater(tp)
            if high is None:
                out[f"{tp.topic}/{tp.partition}"] = None
                continue
            position = await self._consumer.position(tp)
            if position < high:
                out[f"{tp.topic}/{tp.partition}"] = high - position
        return out

    async def read_to_end(self, timeout_s: float) -> None:
        """Wait until every partition is read up to its high watermark (twice in a row,
        half a second apart); raise TimeoutError naming the partitions behind."""
        deadline = time.monotonic() + timeout_s
        calm = 0
        while True:
            if (failure := self.failed()) is not None:
                raise RuntimeError(f"the topic reader failed: {failure!r}")
            behind = await self.behind()
            calm = calm + 1 if not behind else 0
            if calm >= 2:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not read to the end after {timeout_s:.0f}s: "
                                   f"{dict(list(behind.items())[:12])}")
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer.stop(), 10)
