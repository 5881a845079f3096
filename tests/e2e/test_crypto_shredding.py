"""Erasure that erases (contract section 2.8, issue 12), end to end over the real broker
and PostgreSQL: after ``forget_customer`` no byte of the customer's name, email or phone
can be found in the customers service's store, on the event, key, result or dead-letter
topics, in the waste projector's stores or in the logs — and nothing anyone entitled
still holds opens the sealed copies — while another customer's data still reads; a
projector without the key-encryption key sees the data as withheld. And a rebuild gives
the same read model from version 1 events as from version 2 ones."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.topics import COMMAND_RESULTS, CUSTOMERS_EVENTS, CUSTOMERS_KEYS, DLQ
from leancrm_customers.app import SPEC as CUSTOMERS
from leancrm_devstack.testing import TEST_PERSONAL_DATA_KEK, Infra, TopicReader, settings_for_test, wait_until
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.crypto import CannotOpen, Kek, open_personal
from leancrm_waste.projection.rebuild import rebuild
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
KEK = Kek.from_base64(TEST_PERSONAL_DATA_KEK)
TOPICS = (CUSTOMERS_EVENTS, CUSTOMERS_KEYS, COMMAND_RESULTS, DLQ)

#: the customer to forget: distinctive, with characters that JSON may escape
FORGET = {"name": "Zebulon Quixoté-Ÿlvaënn", "email": "zebulon.q.7731@shred.example",
          "phone": "+44 7700 900731"}
FORGET_CHANGED_EMAIL = "zq.new.5519@shred.example"
#: the customer who stays
KEEP = {"name": "Keeper Ångström", "email": "keeper.a.4242@keep.example", "phone": "+1 555 0199 44"}


def forms(value: str) -> list[bytes]:
    """The ways a value can sit in bytes: UTF-8, JSON-escaped (ASCII), JSON in UTF-8, and
    the longest plain-ASCII run of it (a fragment between escaped characters)."""
    runs = "".join(ch if ch.isascii() else "\0" for ch in value).split("\0")
    return sorted({value.encode(), json.dumps(value).encode(),
                   json.dumps(value, ensure_ascii=False).encode(), max(runs, key=len).encode()})


def secrets_of(fields: dict[str, str], *more: str) -> list[bytes]:
    return [f for v in (*fields.values(), *more) for f in forms(v)]


def command(command_type: str, **data: Any) -> dict[str, Any]:
    return {"command_id": f"c-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "correlation_id": None, "data": data}


@dataclass
class Stack:
    customers: CommandService
    entitled: WasteService
    unentitled: WasteService
    producer: AIOKafkaProducer
    reader: TopicReader
    db: asyncpg.Connection

    async def send(self, cmd: dict[str, Any]) -> dict[str, Any]:
        key = str(cmd["data"]["customer_id"])
        await self.producer.send_and_wait(
            CUSTOMERS.command_topic, json.dumps(cmd).encode(), key=key.encode(),
            headers=[("content-type", b"application/json"), ("message_type", cmd["command_type"].encode())])
        (result,) = await self.reader.wait_json(COMMAND_RESULTS, command_id=cmd["command_id"])
        assert result["status"] == "accepted", result
        return result

    async def waste_row(self, service: WasteService, customer_id: str) -> dict[str, Any] | None:
        store = await self.db.fetchval(f"SELECT store FROM {service.schema}.active_store")
        row = await self.db.fetchrow(f"SELECT segment, name, email, forgotten, personal_data "
                                     f"FROM {store}.customers WHERE customer_id = $1", uuid.UUID(customer_id))
        return dict(row) if row is not None else None

    async def wait_row(self, service: WasteService, customer_id: str, **expected: Any) -> None:
        async def there() -> bool:
            row = await self.waste_row(service, customer_id)
            return row is not None and all(row[k] == v for k, v in expected.items())
        await wait_until(there, 60, what=f"{service.schema}'s row of {customer_id} with {expected}")


@pytest.fixture
async def stack(infra: Infra, bootstrap: str) -> AsyncIterator[Stack]:
    tag = uuid.uuid4().hex[:8]
    customers = CommandService(CUSTOMERS, settings_for_test("customers", infra, bootstrap, f"cu_{tag}"))

    def waste(schema: str, **extra: Any) -> WasteService:
        return WasteService(WasteSettings(kafka_bootstrap=bootstrap, database_url=infra.dsn,
                                          db_schema=schema, http_port=0, consumer_group=f"waste-{schema}",
                                          partitions=3, relay_poll_interval_s=0.2, **extra))

    entitled, unentitled = waste(f"wk_{tag}"), waste(f"wn_{tag}", personal_data_kek=None)
    assert unentitled.settings.personal_data_keyring() is None  # no KEK: not entitled
    await customers.start()
    for w in (entitled, unentitled):
        await w.start(http=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    db = await asyncpg.connect(infra.dsn)
    try:
        async with TopicReader(bootstrap, *TOPICS) as reader:
            yield Stack(customers, entitled, unentitled, producer, reader, db)
    finally:
        await db.close()
        await producer.stop()
        for w in (entitled, unentitled):
            await w.stop()
        await customers.stop()


async def schema_bytes(db: asyncpg.Connection, *schemas: str) -> dict[str, bytes]:
    """Every row of every table of these schemas, raw: bytea as its bytes, text as UTF-8."""
    out: dict[str, bytes] = {}
    tables = await db.fetch("SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'",
                            list(schemas))
    for t in tables:
        name = f"{t['table_schema']}.{t['table_name']}"
        chunks = []
        for row in await db.fetch(f"SELECT * FROM {name}"):
            for v in row.values():
                chunks.append(v if isinstance(v, bytes) else str(v).encode())
        out[name] = b"\x1f".join(chunks)
    return out


def found_in(haystacks: dict[str, bytes], needles: list[bytes]) -> list[tuple[str, bytes]]:
    return [(where, n) for where, data in haystacks.items() for n in needles if n in data]


async def test_after_a_forget_no_byte_of_the_customer_is_left_and_the_other_still_reads(
    stack: Stack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    # INFO, the level services run at: at DEBUG the Kafka client logs each record it sends,
    # and commands carry personal fields in clear (README, "Security: erasure (crypto-shredding)")
    caplog.set_level(logging.INFO)
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    await stack.send(command("register_customer", customer_id=gone, segment="retail", **FORGET))
    await stack.send(command("change_customer_details", customer_id=gone, email=FORGET_CHANGED_EMAIL))
    await stack.send(command("register_customer", customer_id=kept, segment="smb", **KEEP))

    # entitled: opened; without the KEK: withheld, not garbage
    await stack.wait_row(stack.entitled, gone, name=FORGET["name"], email=FORGET_CHANGED_EMAIL,
                         personal_data="clear")
    await stack.wait_row(stack.entitled, kept, name=KEEP["name"], email=KEEP["email"], personal_data="clear")
    await stack.wait_row(stack.unentitled, kept, segment="smb", name=None, email=None,
                         personal_data="withheld")
    read_table = f"{stack.customers.schema}.customers"
    assert await stack.db.fetchval(f"SELECT name FROM {read_table} WHERE customer_id = $1",
                                   uuid.UUID(gone)) == FORGET["name"]

    await stack.send(command("forget_customer", customer_id=gone))
    for waste in (stack.entitled, stack.unentitled):
        await stack.wait_row(waste, gone, name=None, email=None, forgotten=True, personal_data="erased")
    await stack.reader.wait_json(CUSTOMERS_EVENTS, customer_id=gone, event_type="customer.forgotten")
    await wait_until(lambda: any(r.key == gone.encode() and r.value is None
                                 for r in stack.reader.on(CUSTOMERS_KEYS)), 30, what="the key's tombstone")
    # every outbox is empty: what was to be published is on the topics read below
    for schema in (stack.customers.schema, stack.entitled.schema, stack.unentitled.schema):
        await wait_until(_outbox_empty(stack.db, schema), 30, what=f"{schema}'s outbox empty")

    secrets = secrets_of(FORGET, FORGET_CHANGED_EMAIL)
    stores = [stack.customers.schema, stack.entitled.schema, stack.unentitled.schema]
    stores += [await stack.db.fetchval(f"SELECT store FROM {w.schema}.active_store")
               for w in (stack.entitled, stack.unentitled)]
    tables = await schema_bytes(stack.db, *stores)
    assert f"{stack.customers.schema}.events" in tables and f"{read_table}" in tables
    topics = {t: b"\x1f".join((r.key or b"") + b"\x1e" + (r.value or b"") + b"".join(
        k.encode() + v for k, v in r.headers) for r in stack.reader.on(t)) for t in TOPICS}
    captured = capfd.readouterr()
    logs = {"stdout": captured.out.encode(), "stderr": captured.err.encode(),
            "logging": "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records).encode()}
    assert found_in(tables, secrets) == []
    assert found_in(topics, secrets) == []
    leaks = [r for r in caplog.records
             if any(s in (r.getMessage() + repr(r.__dict__)).encode() for s in secrets)]
    assert [(r.name, r.levelname, r.getMessage()[:300]) for r in leaks] == []
    assert found_in(logs, secrets) == []
    # the search can find: the kept customer is there, opened, in the entitled store ...
    assert found_in(tables, forms(KEEP["name"])) and topics[CUSTOMERS_EVENTS]

    # ... and nothing any entitled party still holds opens the forgotten one's sealed copies
    keys = await still_held_keys(stack)
    assert uuid.UUID(gone) not in keys and uuid.UUID(kept) in keys
    sealed = [e for e in stack.reader.json_on(CUSTOMERS_EVENTS) if "personal" in e["data"]]
    assert {e["customer_id"] for e in sealed} >= {gone, kept}
    for e in sealed:
        cid = uuid.UUID(e["customer_id"])
        if cid == uuid.UUID(gone):
            for key in keys.values():
                with pytest.raises(CannotOpen):
                    open_personal(key, cid, e["event_type"], e["data"]["personal"])
        elif cid == uuid.UUID(kept):
            assert open_personal(keys[cid], cid, e["event_type"], e["data"]["personal"]) == KEEP
    # compaction keeps a key's last record: the forgotten customer's is its tombstone
    last = {r.key: r for r in stack.reader.on(CUSTOMERS_KEYS)}
    assert last[gone.encode()].value is None and last[kept.encode()].value is not None


async def still_held_keys(stack: Stack) -> dict[uuid.UUID, bytes]:
    """The data keys anyone holding the KEK can still get: the customers service's key store,
    the waste projectors' copies, and the key topic as compaction leaves it (last record
    per key)."""
    wrapped: list[tuple[uuid.UUID, str | None]] = []
    for r in await stack.db.fetch(f"SELECT customer_id, wrapped_key FROM "
                                  f"{stack.customers.schema}.personal_data_keys"):
        wrapped.append((r["customer_id"], r["wrapped_key"]))
    for w in (stack.entitled, stack.unentitled):
        store = await stack.db.fetchval(f"SELECT store FROM {w.schema}.active_store")
        for r in await stack.db.fetch(f"SELECT customer_id, wrapped_key FROM {store}.personal_keys"):
            wrapped.append((r["customer_id"], r["wrapped_key"]))
    last = {r.key: r.value for r in stack.reader.on(CUSTOMERS_KEYS)}
    for key, value in last.items():
        if value:
            wrapped.append((uuid.UUID(key.decode()), json.loads(value)["wrapped_key"]))
    return {cid: KEK.unwrap(cid, w) for cid, w in wrapped if w is not None}


def _outbox_empty(db: asyncpg.Connection, schema: str) -> Callable[[], Awaitable[bool]]:
    async def empty() -> bool:
        return not await db.fetchval(f"SELECT count(*) FROM {schema}.outbox")
    return empty


def v1_event(customer_id: str, version: int, event_type: str, data: dict[str, Any]) -> bytes:
    """A customer event as the customers service published it before version 2."""
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
                       "occurred_at": at, "recorded_at": at, "producer": "customers",
                       "stream_id": customer_id, "stream_version": version, "customer_id": customer_id,
                       "correlation_id": None, "causation_id": None,
                       "data": {"customer_id": customer_id, **data}}).encode()


async def test_rebuild_reads_version_1_and_version_2_events_alike(
    stack: Stack, infra: Infra, bootstrap: str
) -> None:
    """The same customer history, once as version 1 events (published before sealing) and
    once through the service (version 2, sealed), projects to the same row — live, and
    after a rebuild that replays both topics into a fresh store."""
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    details = {"name": "Ottilie Versionné", "email": "ottilie@v.example", "phone": None}
    history: list[tuple[str, dict[str, Any]]] = [
        ("customer.registered", {**details, "segment": "retail"}),
        ("customer.details_changed", {"email": "ottilie@v2.example"})]
    for version, (event_type, data) in enumerate(history, 1):
        await stack.producer.send_and_wait(
            CUSTOMERS_EVENTS, v1_event(old, version, event_type, data), key=old.encode(),
            headers=[("content-type", b"application/json"), ("message_type", event_type.encode())])
    await stack.send(command("register_customer", customer_id=new, segment="retail", **details))
    await stack.send(command("change_customer_details", customer_id=new, email="ottilie@v2.example"))
    expected = {"segment": "retail", "name": details["name"], "email": "ottilie@v2.example",
                "forgotten": False, "personal_data": "clear"}
    for cid in (old, new):
        await stack.wait_row(stack.entitled, cid, **expected)
    store, _, _, _ = await rebuild(stack.entitled.settings, show_progress=False, timeout_s=120)
    for cid in (old, new):
        row = await stack.db.fetchrow(f"SELECT segment, name, email, forgotten, personal_data "
                                      f"FROM {store}.customers WHERE customer_id = $1", uuid.UUID(cid))
        assert row is not None and dict(row) == expected, cid
    # the rebuilt store keeps only wrapped keys and no waiting ciphertext once opened
    assert await stack.db.fetchval(f"SELECT count(*) FROM {store}.personal_pending") == 0
    wrapped = await stack.db.fetchval(f"SELECT wrapped_key FROM {store}.personal_keys WHERE "
                                      "customer_id = $1", uuid.UUID(new))
    assert wrapped and len(base64.b64decode(wrapped)) == 60
