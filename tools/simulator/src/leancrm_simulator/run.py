"""The driver: send a scenario's commands to the command topics at an accelerated clock.

``await drive(env)`` is what ``scripts/run`` calls (env holds LEANCRM_KAFKA_BOOTSTRAP);
knobs and options come as keyword arguments, or as ``LEANCRM_SIM_<NAME>`` variables
in ``env`` (e.g. ``LEANCRM_SIM_SPEED=0``, ``LEANCRM_SIM_DAYS=3``); keywords win.

Commands go out in business-time order, ``speed`` simulated seconds per wall-clock
second (0: as fast as the broker takes them), keyed per contract §1, with the
headers ``content-type`` and ``message_type``, ``acks=all`` and no idempotence (the
services deduplicate by command_id). While sending, the driver reads
``crm.command-results.v1`` and counts the results of its own commands.

It connects as the services do: the transport security of ``env``'s
``LEANCRM_KAFKA_SECURITY_PROTOCOL``, ``LEANCRM_KAFKA_SASL_*`` and ``LEANCRM_KAFKA_SSL_*``
(the services' settings, turned into client options by the kit's
``kafka.client_options``), for its producer and its reader alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from leancrm_servicekit.kafka import client_options, verify_broker_tls
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings, load_settings

from .knobs import KnobError, Knobs
from .model import COMMAND_RESULTS, COMMAND_TOPICS, SimCommand, rfc3339
from .scenario import generate

#: Simulated seconds per wall-clock second: a simulated week in about a minute.
DEFAULT_SPEED = 7 * 24 * 3600 / 60
ENV_PREFIX = "LEANCRM_SIM_"
OPTIONS = ("speed", "wait_for_results", "result_timeout_s")


class SimulatorError(RuntimeError):
    """Something outside the simulator is wrong (the message says what to do)."""


@dataclass(slots=True)
class Progress:
    """Where a run is; handed to ``on_progress`` a few times a second."""

    totals: dict[str, int]
    sent: Counter[str]
    results: Counter[str]
    business_ms: int
    first_ms: int
    last_ms: int
    wall_s: float
    phase: str  # sending | waiting | done
    counting_results: bool = False


@dataclass(slots=True)
class Summary:
    """What a run did."""

    knobs: Knobs
    speed: float
    commands_by_type: Counter[str] = field(default_factory=Counter)
    commands_by_topic: Counter[str] = field(default_factory=Counter)
    results_by_status: Counter[str] = field(default_factory=Counter)
    errors_by_code: Counter[str] = field(default_factory=Counter)
    rejected_examples: list[str] = field(default_factory=list)
    repeated_results: int = 0
    waited_for_results: bool = False
    missing_results: int = 0
    simulated_from: str = ""
    simulated_to: str = ""
    wall_s: float = 0.0
    note: str = ""

    @property
    def sent(self) -> int:
        return sum(self.commands_by_topic.values())

    @property
    def ok(self) -> bool:
        """Everything accepted (or a duplicate of an earlier run), nothing missing."""
        return (self.results_by_status.get("rejected", 0) == 0 and self.missing_results == 0)


def options_from_env(env: dict[str, str]) -> dict[str, Any]:
    """Knobs and driver options given as LEANCRM_SIM_<NAME> variables, typed like the defaults."""
    defaults: dict[str, Any] = {**Knobs().as_dict(), "speed": DEFAULT_SPEED,
                                "wait_for_results": True, "result_timeout_s": 60.0}
    out: dict[str, Any] = {}
    for name, default in defaults.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None or raw == "":
            continue
        try:
            if isinstance(default, bool):
                out[name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(default, int | float):
                out[name] = type(default)(raw)
            else:
                out[name] = raw
        except ValueError as exc:
            raise KnobError(f"{ENV_PREFIX}{name.upper()}={raw!r}: not a {type(default).__name__}",
                            name) from exc
    return out


class ResultReader:
    """Reads crm.command-results.v1 and keeps the first result of each expected command.

    It reads the topic from the beginning and ignores everything that was there
    before it started (the embedded broker cannot be asked for end offsets): a
    re-sent scenario then counts its new ``duplicate`` results, not the old ones.
    """

    def __init__(self, bootstrap: str, expected: set[str],
                 client_options: dict[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        self.client_options = client_options or {}
        self.expected = expected
        self.results: dict[str, dict[str, Any]] = {}
        self.status: Counter[str] = Counter()
        self.repeated = 0
        self.last_new = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, catch_up_s: float = 30.0) -> bool:
        """Assign every partition and skip what is already there; False if no results topic."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    request_timeout_ms=15000, **self.client_options)
        await consumer.start()
        self._consumer = consumer
        if COMMAND_RESULTS not in await consumer.topics():
            return False
        partitions = consumer.partitions_for_topic(COMMAND_RESULTS) or set()
        tps = [TopicPartition(COMMAND_RESULTS, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + catch_up_s
        while time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=200, max_records=10_000)
            caught_up = True
            for tp in tps:
                high = consumer.highwater(tp)
                if high is None or await consumer.position(tp) < high:
                    caught_up = False
            if caught_up:
                break
        self._task = asyncio.create_task(self._read(consumer))
        return True

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batch.values():
                for record in records:
                    self._take(record.value)

    def _take(self, raw: bytes | None) -> None:
        try:
            result = json.loads(raw or b"")
            command_id = result["command_id"]
        except (ValueError, TypeError, KeyError):
            return
        if command_id not in self.expected:
            return
        if command_id in self.results:
            self.repeated += 1
            return
        self.results[command_id] = result
        self.status[str(result.get("status"))] += 1
        self.last_new = time.monotonic()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._consumer.stop(), 10)


def encode(command: SimCommand) -> bytes:
    return json.dumps(command.envelope, separators=(",", ":"), ensure_ascii=False).encode()


def kafka_options(env: dict[str, str]) -> dict[str, Any]:
    """The transport security ``env`` gives the services, as client options."""
    try:
        return client_options(load_settings(ServiceSettings, env))
    except ConfigurationError as exc:
        raise SimulatorError(str(exc)) from None


async def _connect(bootstrap: str, options: dict[str, Any]) -> AIOKafkaProducer:
    try:
        await verify_broker_tls(bootstrap, options)
    except ConfigurationError as exc:
        raise SimulatorError(str(exc)) from None
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                                linger_ms=5, request_timeout_ms=15000, retry_backoff_ms=200, **options)
    try:
        await asyncio.wait_for(producer.start(), 30)
    except (KafkaError, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await producer.stop()
        raise SimulatorError(
            f"cannot reach a Kafka broker at {bootstrap!r} ({exc}). "
            "Start one (scripts/run starts an embedded broker) or point the simulator at "
            "yours with LEANCRM_KAFKA_BOOTSTRAP=host:port (CLI: --bootstrap)."
        ) from exc
    return producer


async def drive(env: dict[str, str], *, speed: float | None = None,
                wait_for_results: bool | None = None, result_timeout_s: float | None = None,
                on_progress: Callable[[Progress], None] | None = None,
                commands: Sequence[SimCommand] | None = None, **knobs: Any) -> Summary:
    """Generate the scenario for ``knobs`` and send it to LEANCRM_KAFKA_BOOTSTRAP.

    ``speed``: simulated seconds per wall second (0 = as fast as possible; default
    a simulated week per minute). ``wait_for_results``: count the services' results
    (default yes), giving up ``result_timeout_s`` after the last new one arrived.
    ``on_progress`` is called a few times a second; ``commands`` sends these instead
    of generating them again (the CLI and tests pass what they generated).
    """
    bootstrap = env.get("LEANCRM_KAFKA_BOOTSTRAP", "").strip()
    if not bootstrap:
        raise SimulatorError("no Kafka broker given: set LEANCRM_KAFKA_BOOTSTRAP=host:port "
                             "(CLI: --bootstrap), or use --dry-run to only generate")
    security = kafka_options(env)
    from_env = options_from_env(env)
    speed = speed if speed is not None else float(from_env.pop("speed", DEFAULT_SPEED))
    wait = (wait_for_results if wait_for_results is not None
            else bool(from_env.pop("wait_for_results", True)))
    timeout = (result_timeout_s if result_timeout_s is not None
               else float(from_env.pop("result_timeout_s", 60.0)))
    for name in OPTIONS:
        from_env.pop(name, None)
    if speed < 0:
        raise KnobError(f"speed = {speed!r}: must be 0 (as fast as possible) or more", "speed")
    knob_values = Knobs.from_options(**{**from_env, **knobs})
    commands = list(commands) if commands is not None else generate(knob_values)
    summary = Summary(knob_values, speed)
    if not commands:
        summary.note = "the scenario has no commands"
        return summary
    summary.simulated_from = rfc3339(commands[0].at_ms)
    summary.simulated_to = rfc3339(commands[-1].at_ms)
    totals = Counter(c.topic for c in commands)
    progress = Progress({t: totals.get(t, 0) for t in COMMAND_TOPICS}, Counter(), Counter(),
                        commands[0].at_ms, commands[0].at_ms, commands[-1].at_ms, 0.0, "sending")
    started = time.monotonic()

    def report(phase: str, business_ms: int, results: Counter[str]) -> None:
        if on_progress is not None:
            progress.phase, progress.business_ms = phase, business_ms
            progress.results, progress.wall_s = results, time.monotonic() - started
            on_progress(progress)

    producer = await _connect(bootstrap, security)
    reader: ResultReader | None = None
    try:
        if wait:
            reader = ResultReader(bootstrap, {c.command_id for c in commands}, security)
            if not await reader.start():
                summary.note = (f"{COMMAND_RESULTS} does not exist on {bootstrap} (are the "
                                "services running?): results were not counted")
                await reader.stop()
                reader = None
        progress.counting_results = reader is not None
        await _send_all(producer, commands, speed, progress, summary,
                        lambda ms: report("sending", ms, reader.status if reader else Counter()))
        if reader is not None:
            summary.waited_for_results = True
            reader.last_new = max(reader.last_new, time.monotonic())
            while (len(reader.results) < len(commands)
                   and time.monotonic() - reader.last_new < timeout):
                report("waiting", commands[-1].at_ms, reader.status)
                await asyncio.sleep(0.2)
            _fill_results(summary, reader, len(commands))
    finally:
        if reader is not None:
            await reader.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)
    summary.wall_s = time.monotonic() - started
    report("done", commands[-1].at_ms, summary.results_by_status)
    return summary


async def _send_all(producer: AIOKafkaProducer, commands: Sequence[SimCommand], speed: float,
                    progress: Progress, summary: Summary,
                    report: Callable[[int], None]) -> None:
    loop = asyncio.get_running_loop()
    wall0, first_ms = loop.time(), commands[0].at_ms
    pending: list[asyncio.Future[Any]] = []
    last_report = 0.0
    for command in commands:
        if speed > 0:
            delay = wall0 + (command.at_ms - first_ms) / 1000 / speed - loop.time()
            if delay > 0.002:
                report(command.at_ms)
                last_report = loop.time()
                await asyncio.sleep(delay)
        try:
            pending.append(await producer.send(command.topic, encode(command),
                                               key=command.key.encode(),
                                               headers=command.headers()))
        except KafkaError as exc:
            raise SimulatorError(f"sending {command.command_type} to {command.topic} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
        progress.sent[command.topic] += 1
        summary.commands_by_topic[command.topic] += 1
        summary.commands_by_type[command.command_type] += 1
        if len(pending) >= 1000:
            await _delivered(pending)
        if loop.time() - last_report > 0.1:
            report(command.at_ms)
            last_report = loop.time()
    await _delivered(pending)
    report(commands[-1].at_ms)


async def _delivered(pending: list[asyncio.Future[Any]]) -> None:
    try:
        await asyncio.gather(*pending)
    except KafkaError as exc:
        raise SimulatorError(f"the broker did not take a command: {type(exc).__name__}: {exc}"
                             ) from exc
    finally:
        pending.clear()


def _fill_results(summary: Summary, reader: ResultReader, sent: int) -> None:
    summary.results_by_status = Counter(reader.status)
    summary.repeated_results = reader.repeated
    summary.missing_results = sent - len(reader.results)
    for command_id, result in reader.results.items():
        if result.get("status") != "rejected":
            continue
        error = result.get("error") or {}
        summary.errors_by_code[str(error.get("code"))] += 1
        if len(summary.rejected_examples) < 10:
            summary.rejected_examples.append(
                f"{command_id} {result.get('command_type')}: {error.get('code')} — "
                f"{error.get('message')}")
