"""Reading command results back (contract section 2.3) the way a long-running client
should: one consumer group per client instance on ``crm.command-results.v1``, reading
from its committed offsets, handing each result to the future waiting for its
command_id. A restarted instance (same name, so same group) resumes where it stopped,
and nothing makes it read the topic from the beginning again.

The first start of a group begins at the end of the topic (``first_start="latest"``):
the consumer has its partitions and positions before the client sends anything, so no
result of its own commands can be missed. Results are committed after they were handed
over; delivery is at least once (a result may come twice, section 2.6: the second is
ignored)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from leancrm_contracts.envelope import CommandResult
from leancrm_contracts.topics import COMMAND_RESULTS

log = logging.getLogger("leancrm_client")
FirstStart = Literal["latest", "earliest"]


class ResultTimeout(TimeoutError):
    """No result for a command within the time given."""

    def __init__(self, command_id: str, timeout_s: float) -> None:
        super().__init__(
            f"no result for command {command_id} within {timeout_s:g} s; send it again with the "
            "same command_id: it is decided once, and answered 'duplicate' if it already was")
        self.command_id = command_id
        self.timeout_s = timeout_s


class ResultWaiter:
    """Futures of the results awaited, by command_id (pure bookkeeping, no I/O)."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[CommandResult]] = {}

    def expect(self, command_id: str) -> asyncio.Future[CommandResult]:
        """The future of ``command_id``'s result (the same one when already expected)."""
        future = self._pending.get(command_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[command_id] = future
        return future

    def forget(self, command_id: str) -> None:
        future = self._pending.pop(command_id, None)
        if future is not None and not future.done():
            future.cancel()

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def take(self, value: bytes | None) -> CommandResult | None:
        """Hand a consumed result to its future; the result when one was waiting for it.
        Anything else on the topic (other clients' results, bytes that are no result) is
        passed over."""
        try:
            command_id = json.loads(value or b"").get("command_id")
        except (ValueError, AttributeError):
            return None
        future = self._pending.get(command_id) if isinstance(command_id, str) else None
        if future is None:
            return None
        try:
            result = CommandResult.model_validate_json(value or b"")
        except ValidationError as exc:
            log.warning("unreadable result for %s: %s", command_id, exc)
            return None
        del self._pending[command_id]
        if not future.done():
            future.set_result(result)
        return result


class ResultsConsumer:
    """The client instance's consumer group on the results topic."""

    def __init__(self, bootstrap_servers: str, group_id: str, waiter: ResultWaiter, *,
                 first_start: FirstStart = "latest", kafka_options: Mapping[str, Any] | None = None) -> None:
        self.waiter = waiter
        self.group_id = group_id
        self.consumer = AIOKafkaConsumer(
            COMMAND_RESULTS,
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=first_start,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
            metadata_max_age_ms=5000,
            **dict(kafka_options or {}),
        )
        self._task: asyncio.Task[None] | None = None
        self.consumed = 0

    async def start(self, timeout_s: float) -> None:
        """Join the group and fix a position on every partition, committed, before
        returning: from here on, every result published is read."""
        await self.consumer.start()
        deadline = time.monotonic() + timeout_s
        while not self.consumer.assignment():
            if time.monotonic() > deadline:
                await self.consumer.stop()
                raise TimeoutError(f"the results consumer (group {self.group_id}) got no partition "
                                   f"of {COMMAND_RESULTS} within {timeout_s:g} s: is the topic there?")
            await self._poll(200)
        positions = {tp: await self.consumer.position(tp) for tp in self.consumer.assignment()}
        await self.consumer.commit({tp: OffsetAndMetadata(p, "") for tp, p in positions.items()})
        self._task = asyncio.create_task(self._run())

    async def _poll(self, timeout_ms: int) -> int:
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=2000)
        n = 0
        for records in batch.values():
            for record in records:
                self.waiter.take(record.value)
                n += 1
        self.consumed += n
        return n

    async def _run(self) -> None:
        while True:
            try:
                if await self._poll(500):
                    await self.consumer.commit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker away for a while: keep trying
                log.warning("reading results failed, trying again: %r", exc)
                await asyncio.sleep(1)

    async def positions(self) -> dict[TopicPartition, int]:
        return {tp: await self.consumer.position(tp) for tp in self.consumer.assignment()}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.consumer.commit()
        await self.consumer.stop()
