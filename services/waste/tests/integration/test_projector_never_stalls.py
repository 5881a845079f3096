"""The projector under hostile input and a database that drops its connections (issue
10): every record ends applied or dead-lettered, the consumer never dies, and the rest
of a batch commits when one record cannot be applied."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_waste.projection import figures
from leancrm_waste.service import WasteService

from .conftest import applied_count, produce, running, scenario_events, snapshot, wait_applied, waste_settings

pytestmark = pytest.mark.integration
DLQ = "crm.dlq.v1"
INTERACTIONS = "crm.interactions.events.v1"


def started(**over: Any) -> dict[str, Any]:
    iid, cid = str(uuid.uuid4()), str(uuid.uuid4())
    env: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_type": "interaction.started", "schema_version": 1,
        "occurred_at": "2026-11-23T09:00:00.000Z", "recorded_at": "2026-11-23T09:00:00.100Z",
        "producer": "interactions", "stream_id": iid, "stream_version": 1, "customer_id": cid,
        "correlation_id": None, "causation_id": "c-1",
        "data": {"interaction_id": iid, "customer_id": cid, "channel": "phone", "reason": "billing"}}
    env.update(over)
    return env


def hostile() -> list[bytes]:
    return [
        json.dumps(started(occurred_at="9999-12-31T23:59:59-01:00")).encode(),  # OverflowError, for ever
        json.dumps(started(occurred_at="0001-01-01T00:00:00+01:00")).encode(),
        json.dumps(started()).encode("utf-16"),
        b'{"event_id":' * 1000 + b"1" + b"}" * 1000,
        b'{"event_id": ' + b"7" * 5000 + b"}",
        b"\x00" * 300_000,
        b"",
    ]


async def test_hostile_events_in_every_partition_are_dead_lettered_and_the_rest_applied(
        infra: Infra, bootstrap: str) -> None:
    good = [e for e in scenario_events(customers=30, days=1) if e.topic == INTERACTIONS]
    bad = hostile()
    service = WasteService(waste_settings(infra, bootstrap, "w_hostile"))
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4_000_000)
    await p.start()
    try:
        async with running(service), TopicReader(bootstrap, DLQ) as reader:
            task = service._consumer_task
            for partition in range(3):  # every partition gets every kind, among good events
                for value in bad:
                    await p.send_and_wait(INTERACTIONS, value, key=b"hostile", partition=partition)
            await produce(bootstrap, good)
            await wait_until(lambda: len(reader.on(DLQ)) >= 3 * len(bad), 60, what="every dead letter")
            await wait_applied(infra.dsn, "w_hostile", len(good))
            assert service._consumer_task is task and not task.done()  # never died, never restarted
            codes = sorted(dict(r.headers)["dlq_error_code"].decode() for r in reader.on(DLQ))
            assert codes.count("invalid_envelope") == 6 and codes.count("undecodable") == 15, codes
            assert all(len(r.value) <= 262_144 for r in reader.on(DLQ))
    finally:
        await p.stop()


async def test_a_record_that_cannot_be_applied_is_dead_lettered_and_the_batch_commits(
        infra: Infra, bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    good = [e for e in scenario_events(customers=30, days=1) if e.topic == INTERACTIONS]
    poison = started()
    real = figures.interaction

    def interaction(interaction_id: uuid.UUID, events: Any) -> Any:
        if str(interaction_id) == poison["stream_id"]:
            raise ValueError("a bug this event trips")
        return real(interaction_id, events)

    monkeypatch.setattr(figures, "interaction", interaction)
    await produce(bootstrap, good[: len(good) // 2])
    p = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await p.start()
    await p.send_and_wait(INTERACTIONS, json.dumps(poison).encode(), key=poison["customer_id"].encode())
    await p.stop()
    await produce(bootstrap, good[len(good) // 2:])
    service = WasteService(waste_settings(infra, bootstrap, "w_poison"))
    async with running(service), TopicReader(bootstrap, DLQ) as reader:
        await wait_applied(infra.dsn, "w_poison", len(good))
        (letter,) = await wait_until(lambda: reader.on(DLQ), 30, what="the dead letter")
        headers = dict(letter.headers)
        assert headers["dlq_error_code"] == b"invalid_data" and headers["dlq_consumer"] == b"waste"
        assert headers["dlq_reason"].startswith(b"could not be applied: ValueError: a bug this event trips")
        assert json.loads(letter.value)["event_id"] == poison["event_id"]
    assert await applied_count(infra.dsn, "w_poison") == len(good)  # the poison is not counted


async def test_connections_dropped_mid_batch_lose_and_double_nothing(infra: Infra, bootstrap: str) -> None:
    """pg_terminate_backend is what a PostgreSQL restart does to every session
    (AdminShutdownError): the projector retried only some connection errors and died."""
    events = scenario_events(customers=40, days=2, seed=5)
    await produce(bootstrap, events)
    service = WasteService(waste_settings(infra, bootstrap, "w_cut", projector_batch_max_records=300))
    admin = await asyncpg.connect(infra.dsn)
    stop = asyncio.Event()

    async def cut() -> int:
        cuts = 0
        while not stop.is_set():
            cuts += await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                "AND application_name = '' AND query ILIKE '%w_cut%'")
            await asyncio.sleep(0.05)
        return int(cuts)

    try:
        async with running(service):
            task = service._consumer_task
            cutter = asyncio.create_task(cut())


            def retried() -> float:
                return sum(s.value for m in service.metrics.transient_errors.collect() for s in m.samples
                           if s.name.endswith("_total"))

            # cut until a good share is applied under fire or the projector has been cut
            # (and has retried) many times over — whichever comes first, 20 s at most
            with contextlib.suppress(AssertionError):
                await wait_until(lambda: (service.consumer is not None and service.consumer.applied > 2000)
                                 or retried() >= 25, 20)
            stop.set()
            cuts = await cutter
            await wait_applied(infra.dsn, "w_cut", len(events))
            assert service._consumer_task is task and not task.done()
            assert cuts > 0 and retried() > 0, (cuts, retried())
            cut_figures = await snapshot(infra.dsn)
    finally:
        await admin.close()
    async with running(WasteService(waste_settings(infra, bootstrap, "w_clean"))):
        await wait_applied(infra.dsn, "w_clean", len(events))
        assert await snapshot(infra.dsn) == cut_figures
