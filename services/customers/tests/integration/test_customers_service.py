"""The customers service end to end over a real broker and PostgreSQL (issue 2)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_servicekit.command_service import CommandService

from .helpers import COMMANDS, DLQ, EVENTS, KEYS, RESULTS, command, opened, register, send

pytestmark = pytest.mark.integration


async def test_register_yields_one_event_and_one_accepted_result(
    customers: CommandService, producer: AIOKafkaProducer, bootstrap: str
) -> None:
    cid = str(uuid.uuid4())
    cmd = register(cid)
    # markers to count exactly: each partition is read in order, results are keyed by
    # command_id and events by customer_id, so once the resend's `duplicate` and the
    # later change's event are in, anything extra the command caused would be too
    marker = command("change_customer_details", {"customer_id": cid, "segment": "vip"})
    async with TopicReader(bootstrap, EVENTS, RESULTS, KEYS) as reader:
        await send(producer, cmd, key=cid)
        await reader.wait_json(RESULTS, command_id=cmd["command_id"])
        await send(producer, cmd, key=cid)
        await send(producer, marker, key=cid)
        results = await reader.wait_json(RESULTS, count=2, command_id=cmd["command_id"])
        await reader.wait_json(EVENTS, causation_id=marker["command_id"])
        events = reader.json_on(EVENTS, causation_id=cmd["command_id"])
        (key_record,) = await reader.wait_json(KEYS, customer_id=cid)
    assert [r["status"] for r in results] == ["accepted", "duplicate"]
    assert len(events) == 1
    ev, res = events[0], results[0]
    assert set(ev) == {"event_id", "event_type", "schema_version", "occurred_at", "recorded_at",
                       "producer", "stream_id", "stream_version", "customer_id", "correlation_id",
                       "causation_id", "data"}
    assert ev["event_type"] == "customer.registered"
    assert ev["schema_version"] == 2 and ev["producer"] == "customers"  # contract 2.8
    assert ev["stream_id"] == cid and ev["stream_version"] == 1 and ev["customer_id"] == cid
    assert ev["correlation_id"] == "corr-1" and ev["causation_id"] == cmd["command_id"]
    # the personal fields travel sealed, and open with the key of the key topic
    assert set(ev["data"]) == {"customer_id", "segment", "personal"}
    assert b"Ada" not in json.dumps(ev).encode() and b"ada@example" not in json.dumps(ev).encode()
    assert opened(ev, key_record) == cmd["data"]
    uuid.UUID(ev["event_id"])
    for ts in ("occurred_at", "recorded_at"):
        assert ev[ts].endswith("Z") and datetime.fromisoformat(ev[ts]).utcoffset() is not None
    assert datetime.fromisoformat(ev["occurred_at"]) == datetime.fromisoformat(cmd["occurred_at"])
    assert res["status"] == "accepted" and res["command_type"] == "register_customer"
    assert res["event_ids"] == [ev["event_id"]] and res["error"] is None and res["processed_at"]
    rec = next(r for r in reader.on(EVENTS) if json.loads(r.value)["customer_id"] == cid)
    assert rec.key == cid.encode()
    headers = dict(rec.headers)
    assert headers["content-type"] == b"application/json"
    assert headers["message_type"] == b"customer.registered"
    res_rec = next(r for r in reader.on(RESULTS) if json.loads(r.value)["command_id"] == cmd["command_id"])
    assert res_rec.key == cmd["command_id"].encode()


async def test_duplicate_conflict_and_invalid(
    customers: CommandService, producer: AIOKafkaProducer, bootstrap: str
) -> None:
    cid = str(uuid.uuid4())
    first = register(cid)
    again = dict(first)  # same command_id resent
    conflict = register(cid)  # a new command registering the same customer
    invalid = register(str(uuid.uuid4()), email="not-an-email", segment="x" * 500)
    # a later change of the same customer (same key: same partition, after the others)
    # marks the end: once its event is in, every event the others caused is in too
    marker = command("change_customer_details", {"customer_id": cid, "segment": "vip"})
    async with TopicReader(bootstrap, EVENTS, RESULTS) as reader:
        for c in (first, again, conflict, invalid, marker):
            await send(producer, c, key=cid)
        await reader.wait_json(RESULTS, command_id=invalid["command_id"])
        dup = await reader.wait_json(RESULTS, count=2, command_id=first["command_id"])
        await reader.wait_json(EVENTS, causation_id=marker["command_id"])
        events = reader.json_on(EVENTS, customer_id=cid)
    assert [r["status"] for r in dup] == ["accepted", "duplicate"]
    assert dup[1]["event_ids"] == dup[0]["event_ids"] and dup[1]["error"] is None
    # the duplicate and the conflict produced nothing
    assert [e["event_type"] for e in events] == ["customer.registered", "customer.details_changed"]
    assert [e["stream_version"] for e in events] == [1, 2]
    (rej,) = reader.json_on(RESULTS, command_id=conflict["command_id"])
    assert rej["status"] == "rejected" and rej["error"]["code"] == "conflict"
    assert "already registered" in rej["error"]["message"] and rej["event_ids"] == []
    (inv,) = reader.json_on(RESULTS, command_id=invalid["command_id"])
    assert inv["status"] == "rejected" and inv["error"]["code"] == "invalid"
    assert "data.email" in inv["error"]["message"] and "data.segment" in inv["error"]["message"]


async def test_bad_messages_go_to_the_dlq_and_the_consumer_goes_on(
    customers: CommandService, producer: AIOKafkaProducer, bootstrap: str
) -> None:
    junk = os.urandom(64)
    wrong_shape = json.dumps({"hello": ["not", "a", "command"]}).encode()
    good = register(str(uuid.uuid4()))
    async with TopicReader(bootstrap, DLQ, RESULTS, COMMANDS) as reader:
        await send(producer, junk, key="bad-1", extra_headers=[("trace", b"\xff\xfe")])
        await send(producer, wrong_shape, key="bad-2")
        await send(producer, good)
        await reader.wait_json(RESULTS, command_id=good["command_id"], status="accepted")
        await wait_until(lambda: len(reader.on(DLQ)) >= 2, 20, what="two dead letters")
        dlq = reader.on(DLQ)
        sources = {r.value: r for r in reader.on(COMMANDS)}
    assert {r.value for r in dlq} == {junk, wrong_shape}
    by_value = {r.value: r for r in dlq}
    for value, code, key in ((junk, b"undecodable", b"bad-1"), (wrong_shape, b"invalid_envelope", b"bad-2")):
        h = dict(by_value[value].headers)
        assert by_value[value].key == key
        assert h["dlq_error_code"] == code and h["dlq_reason"]
        assert h["dlq_source_topic"] == COMMANDS.encode()
        assert int(h["dlq_source_partition"]) == sources[value].partition
        assert int(h["dlq_source_offset"]) == sources[value].offset
        assert h["dlq_consumer"] == b"customers"
        datetime.fromisoformat(h["dlq_at"].decode())


async def test_concurrent_commands_on_one_customer_never_share_a_version(
    customers: CommandService, infra: Infra, schema_name: str
) -> None:
    """Two handlers (as two replicas would, reading other partitions: a producer keyed the
    commands otherwise) decide on the same stream at once: the unique (stream_id,
    version) key makes the loser retry; nothing is lost."""
    from leancrm_customers.app import SPEC
    from leancrm_servicekit.commands import CommandHandler
    from leancrm_servicekit.inbound import InboundRecord

    assert customers.store is not None
    cid = str(uuid.uuid4())

    def rec(cmd: dict[str, object], partition: int = 0, offset: int = 0) -> InboundRecord:
        return InboundRecord(COMMANDS, partition, offset, cid.encode(), json.dumps(cmd).encode(),
                             (("content-type", b"application/json"),
                              ("message_type", str(cmd["command_type"]).encode())))

    handlers = [
        CommandHandler(service="customers", decider=SPEC.decider, command_models=SPEC.command_models,
                       event_topic=EVENTS, store=customers.store, metrics=customers.metrics)
        for _ in range(2)
    ]
    await handlers[0].handle_batch([rec(register(cid))])
    changes = [command("change_customer_details", {"customer_id": cid, "name": f"Name {i}"})
               for i in range(20)]
    outcomes = await asyncio.gather(
        *(handlers[i % 2].handle_batch([rec(c, 1 + i, 0)]) for i, c in enumerate(changes))
    )
    assert sum(o.accepted for o in outcomes) == 20
    conn = await asyncpg.connect(infra.dsn)
    try:
        versions = await conn.fetch(
            f"SELECT stream_version FROM {schema_name}.events WHERE stream_id = $1 ORDER BY 1", cid)
    finally:
        await conn.close()
    assert [r["stream_version"] for r in versions] == list(range(1, 22))


async def test_forget_erases_pii_from_the_read_state(
    customers: CommandService, producer: AIOKafkaProducer, bootstrap: str, infra: Infra, schema_name: str
) -> None:
    cid = str(uuid.uuid4())
    forget = command("forget_customer", {"customer_id": cid})
    change = command("change_customer_details", {"customer_id": cid, "phone": "+44 20 7946 0000"})
    async with TopicReader(bootstrap, RESULTS, EVENTS) as reader:
        await send(producer, register(cid, phone="+31 20 555 0100"), key=cid)
        await send(producer, forget, key=cid)
        await send(producer, change, key=cid)
        await reader.wait_json(RESULTS, command_id=change["command_id"])
        (forgotten,) = await reader.wait_json(EVENTS, customer_id=cid, event_type="customer.forgotten")
    assert forgotten["data"] == {"customer_id": cid}
    (res,) = reader.json_on(RESULTS, command_id=change["command_id"])
    assert res["status"] == "rejected" and res["error"]["code"] == "conflict"
    conn = await asyncpg.connect(infra.dsn)
    try:
        row = await conn.fetchrow(
            f"SELECT name, email, phone, segment, forgotten FROM {schema_name}.customers "
            "WHERE customer_id = $1", uuid.UUID(cid))
    finally:
        await conn.close()
    assert dict(row) == {"name": None, "email": None, "phone": None, "segment": "retail",
                         "forgotten": True}
