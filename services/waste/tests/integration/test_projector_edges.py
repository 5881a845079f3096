"""Bad input, unknown types, PII, arrival order and rebuild (issue 4)."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_simulator.offline import EventMessage
from leancrm_waste.projection.rebuild import rebuild
from leancrm_waste.service import WasteService

from .conftest import VIEWS, produce, running, scenario_events, snapshot, wait_applied, waste_settings

pytestmark = pytest.mark.integration
DLQ = "crm.dlq.v1"
CUSTOMERS = "crm.customers.events.v1"


def envelope(event_type: str, data: dict[str, object], **over: object) -> dict[str, object]:
    cid = str(uuid.uuid4())
    env: dict[str, object] = {
        "event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
        "occurred_at": "2026-11-23T09:00:00.000Z", "recorded_at": "2026-11-23T09:00:00.100Z",
        "producer": "customers", "stream_id": cid, "stream_version": 1, "customer_id": cid,
        "correlation_id": None, "causation_id": "c-1", "data": data}
    env.update(over)
    return env


async def test_bad_input_goes_to_the_dlq_unknown_types_are_skipped_and_nothing_stalls(
    infra: Infra, bootstrap: str
) -> None:
    cid = str(uuid.uuid4())
    ada: dict[str, object] = {"customer_id": cid, "name": "Ada", "email": None, "phone": None,
                              "segment": "retail"}
    good = envelope("customer.registered", ada, customer_id=cid, stream_id=cid)
    bad = {
        b"\xff\x00not json": "undecodable",
        json.dumps({"event_id": "nope"}).encode(): "invalid_envelope",
        json.dumps(envelope("customer.registered", {"customer_id": "x"})).encode(): "invalid_data",
        json.dumps(envelope("customer.registered", {}, schema_version=3)).encode(): "unsupported_version",
        # valid by the models, but would stop the projector for good if written:
        json.dumps(envelope("customer.registered", {**ada, "name": "Ada\x00"},
                            customer_id=cid, stream_id=cid)).encode(): "invalid_data",
        json.dumps(envelope("customer.registered", ada, customer_id=cid)).encode():
            "invalid_envelope",  # stream_id is not the customer's id
    }
    unknown = json.dumps(envelope("customer.loyalty_tier_changed", {"tier": "gold"})).encode()
    p = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await p.start()
    async with running(WasteService(waste_settings(infra, bootstrap, "w_edges"))), \
            TopicReader(bootstrap, DLQ, CUSTOMERS) as reader:
        for value in [*bad, unknown, json.dumps(good).encode()]:
            await p.send_and_wait(CUSTOMERS, value, key=b"k")
        await p.stop()
        await wait_until(lambda: len(reader.on(DLQ)) >= len(bad), 30, what="every dead letter")
        await wait_applied(infra.dsn, "w_edges", 1)
        sources = {r.value: r for r in reader.on(CUSTOMERS)}
        for rec in reader.on(DLQ):
            h = dict(rec.headers)
            assert h["dlq_error_code"].decode() == bad[rec.value]
            assert h["dlq_consumer"] == b"waste" and h["dlq_source_topic"] == CUSTOMERS.encode()
            assert int(h["dlq_source_offset"]) == sources[rec.value].offset
            assert rec.key == b"k"
        assert unknown not in {r.value for r in reader.on(DLQ)}  # skipped, not dead-lettered
    conn = await asyncpg.connect(infra.dsn)
    try:
        row = await conn.fetchrow("SELECT name, segment FROM waste.customers WHERE customer_id = $1",
                                  uuid.UUID(cid))
    finally:
        await conn.close()
    assert dict(row) == {"name": "Ada", "segment": "retail"}  # the good event after them applied


async def test_forget_removes_pii_from_waste_customers(infra: Infra, bootstrap: str) -> None:
    events = [e for e in scenario_events() if e.topic == CUSTOMERS]
    forgotten = [json.loads(e.value)["customer_id"] for e in events
                 if e.event_type == "customer.forgotten"]
    assert forgotten, "the scenario forgets some customers"
    await produce(bootstrap, events)
    async with running(WasteService(waste_settings(infra, bootstrap, "w_forget"))):
        await wait_applied(infra.dsn, "w_forget", len(events))
        conn = await asyncpg.connect(infra.dsn)
        try:
            rows = await conn.fetch("SELECT name, email, forgotten FROM waste.customers "
                                    "WHERE customer_id = ANY($1::uuid[])", forgotten)
            named = await conn.fetchval("SELECT count(*) FROM waste.customers WHERE name IS NOT NULL")
        finally:
            await conn.close()
    assert len(rows) == len(set(forgotten))
    assert all(r["name"] is None and r["email"] is None and r["forgotten"] for r in rows)
    assert named > 0


async def test_arrival_order_does_not_change_the_figures(infra: Infra, bootstrap: str) -> None:
    """Repeats before the contacts they repeat, ends before starts: all reversed."""
    events = scenario_events(seed=11)
    await produce(bootstrap, events)
    async with running(WasteService(waste_settings(infra, bootstrap, "w_fwd"))):
        await wait_applied(infra.dsn, "w_fwd", len(events))
        forward = await snapshot(infra.dsn)
    # a second broker topic set is not needed: a fresh store replays the same topics,
    # so instead build the reversed case on the reversed stream in a separate group
    # reading a copy produced in reverse order after a marker
    reversed_events = list(reversed(events))
    from leancrm_devstack.embedded import EmbeddedBroker

    other = EmbeddedBroker().start()
    try:
        await produce(other.bootstrap, reversed_events)
        async with running(WasteService(waste_settings(infra, other.bootstrap, "w_rev"))):
            await wait_applied(infra.dsn, "w_rev", len(events))
            backwards = await snapshot(infra.dsn)
    finally:
        other.stop()
    for view in VIEWS:
        assert backwards[view] == forward[view], f"waste.{view} depends on arrival order"


async def test_rebuild_replays_into_a_fresh_store_and_switches_atomically(
    infra: Infra, bootstrap: str
) -> None:
    events: list[EventMessage] = scenario_events(seed=5)
    await produce(bootstrap, events)
    settings = waste_settings(infra, bootstrap, "w_rebuild")
    service = WasteService(settings)
    async with running(service):
        await wait_applied(infra.dsn, "w_rebuild", len(events))
        before = await snapshot(infra.dsn)
        old_store = service.store_name
        new, old, applied, _ = await rebuild(settings, show_progress=False, timeout_s=120)
        assert old == old_store and new != old and applied == len(events)
        await wait_until(lambda: service.store_name == new, 20, what="the projector to follow")
        after = await snapshot(infra.dsn)
        # the live projector goes on in the new store
        more = scenario_events(seed=6)
        await produce(bootstrap, more)
        await wait_applied(infra.dsn, "w_rebuild", len(events) + len(more))
    assert after == before


async def test_metrics_count_the_records_consumed_and_lag_falls_to_zero_per_partition(
    infra: Infra, bootstrap: str
) -> None:
    events = scenario_events(seed=3)
    await produce(bootstrap, events)
    per_topic = Counter(e.topic for e in events)
    service = WasteService(waste_settings(infra, bootstrap, "w_metrics"))
    await service.start()
    try:
        assert service.http is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http.port}") as http:

            async def samples(name: str) -> dict[tuple[str, ...], float]:
                """label values → value, of every sample called ``name``"""
                text = (await http.get("/metrics")).text
                return {tuple(s.labels.values()): s.value
                        for f in text_string_to_metric_families(text) for s in f.samples
                        if s.name == name}

            async def caught_up() -> bool:
                c = service.consumer
                if c is None or c.consumer is None or c.applied < len(events):
                    return False
                lag = await samples("leancrm_consumer_lag")  # (partition, topic) → messages
                partitions = {(str(tp.partition), tp.topic) for tp in c.consumer.assignment()}
                return set(lag) == partitions and not any(lag.values())

            await wait_until(caught_up, 60, what="every event applied and no lag left")
            consumed = {topic: n for (topic,), n in (await samples("leancrm_messages_in_total")).items()}
            # every record counted; one re-read after a start-up rebalance counts again
            assert set(consumed) == set(per_topic)
            assert all(consumed[t] >= n for t, n in per_topic.items()), (consumed, per_topic)
    finally:
        await service.stop()
