"""``LeanCrmClient``: sends commands built from the contract's models, each with its key
and headers, and awaits their results by command_id (see :mod:`leancrm_client.results`
for how results are read)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from leancrm_client.commands import OutgoingCommand, build_command
from leancrm_client.results import FirstStart, ResultsConsumer, ResultTimeout, ResultWaiter
from leancrm_contracts.base import CommandData
from leancrm_contracts.envelope import CommandResult

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """``name`` names this client instance: its results consumer group is
    ``leancrm-client-<name>``. Give each running instance its own, stable name (two
    instances sharing a group would split the results between them)."""

    bootstrap_servers: str
    name: str
    #: how long ``Pending.result()`` waits by default
    result_timeout_s: float = 30.0
    #: where a group that has never committed starts: the end of the results topic
    #: (a long-running client), or its beginning (read every retained result once)
    first_start: FirstStart = "latest"
    #: how long start() may take to join the group
    start_timeout_s: float = 60.0
    #: passed to aiokafka's producer and consumer: security_protocol, ssl_context,
    #: sasl_mechanism, sasl_plain_username, ...
    kafka_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"name {self.name!r}: 1-100 letters, digits, '.', '_' or '-'")
        if self.result_timeout_s <= 0 or self.start_timeout_s <= 0:
            raise ValueError("timeouts must be positive")

    @property
    def group_id(self) -> str:
        return f"leancrm-client-{self.name}"


@dataclass(frozen=True, slots=True)
class Pending:
    """A command sent (or expected after a restart), its result to come."""

    command_id: str
    future: asyncio.Future[CommandResult]
    default_timeout_s: float
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    async def result(self, timeout_s: float | None = None) -> CommandResult:
        """The command's result; ``ResultTimeout`` when none came in time (the command
        may still be decided: send it again with the same command_id)."""
        wait = self.default_timeout_s if timeout_s is None else timeout_s
        try:
            return await asyncio.wait_for(asyncio.shield(self.future), wait)
        except TimeoutError:
            raise ResultTimeout(self.command_id, wait) from None


class LeanCrmClient:
    """One client instance: a producer and its own results consumer group.

    Use it as an async context manager, or call start() and stop()."""

    def __init__(self, bootstrap_servers: str, *, name: str, result_timeout_s: float = 30.0,
                 first_start: FirstStart = "latest", start_timeout_s: float = 60.0,
                 **kafka_options: Any) -> None:
        self.settings = ClientSettings(bootstrap_servers, name, result_timeout_s, first_start,
                                       start_timeout_s, kafka_options)
        self.waiter = ResultWaiter()
        self.results = ResultsConsumer(bootstrap_servers, self.settings.group_id, self.waiter,
                                       first_start=first_start, kafka_options=kafka_options)
        # acks=all and no idempotence: what runs on Apache Kafka and the embedded broker alike
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all",
                                         enable_idempotence=False, **kafka_options)
        self._started = False

    async def start(self) -> None:
        """Join the results group (positions fixed and committed), then start producing."""
        await self.results.start(self.settings.start_timeout_s)
        try:
            await self.producer.start()
        except BaseException:
            await self.results.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.producer.stop()
        await self.results.stop()

    async def __aenter__(self) -> LeanCrmClient:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def send(self, data: CommandData, *, occurred_at: datetime | None = None,
                   command_id: str | None = None, correlation_id: str | None = None) -> Pending:
        """Produce the command carrying ``data`` (key: its stream's id; headers of section 2)
        once the broker has it; its result is awaited with ``Pending.result()``."""
        return await self.send_command(build_command(data, occurred_at=occurred_at,
                                                     command_id=command_id,
                                                     correlation_id=correlation_id))

    async def send_command(self, command: OutgoingCommand) -> Pending:
        if not self._started:
            raise RuntimeError("the client is not started: use 'async with' or call start()")
        future = self.waiter.expect(command.command_id)  # before sending: no result can slip by
        try:
            metadata = await self.producer.send_and_wait(
                command.topic, command.value, key=command.key.encode(), headers=list(command.headers))
        except BaseException:
            self.waiter.forget(command.command_id)
            raise
        return Pending(command.command_id, future, self.settings.result_timeout_s,
                       metadata.topic, metadata.partition, metadata.offset)

    async def execute(self, data: CommandData, *, timeout_s: float | None = None,
                      occurred_at: datetime | None = None, command_id: str | None = None,
                      correlation_id: str | None = None) -> CommandResult:
        """Send the command and await its result."""
        pending = await self.send(data, occurred_at=occurred_at, command_id=command_id,
                                  correlation_id=correlation_id)
        return await pending.result(timeout_s)

    def expect(self, command_id: str) -> Pending:
        """Await the result of a command sent before (e.g. by this instance before a
        restart: its group resumes from its committed offsets)."""
        return Pending(command_id, self.waiter.expect(command_id), self.settings.result_timeout_s)
