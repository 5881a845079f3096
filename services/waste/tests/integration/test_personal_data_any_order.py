"""The projector and personal data (contract section 2.8) whatever the order of the key
topic and the event topic: sealed fields wait (withheld) until their key comes, open
when it does, and once the key's tombstone or customer.forgotten arrived nothing of the
customer is opened again — also what arrives later."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.registry import SCHEMA_VERSION
from leancrm_contracts.topics import CUSTOMERS_EVENTS, CUSTOMERS_KEYS
from leancrm_devstack.testing import TEST_PERSONAL_DATA_KEK, Infra, wait_until
from leancrm_servicekit.crypto import Kek, new_data_key, seal_personal
from leancrm_waste.service import WasteService

from .conftest import running, waste_settings

pytestmark = pytest.mark.integration
KEK = Kek.from_base64(TEST_PERSONAL_DATA_KEK)


def event(cid: str, version: int, event_type: str, data: dict[str, Any]) -> bytes:
    at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"event_id": str(uuid.uuid4()), "event_type": event_type,
                       "schema_version": SCHEMA_VERSION[event_type],
                       "occurred_at": at, "recorded_at": at, "producer": "customers", "stream_id": cid,
                       "stream_version": version, "customer_id": cid, "correlation_id": None,
                       "causation_id": None, "data": {"customer_id": cid, **data}}).encode()


async def test_sealed_fields_wait_for_their_key_and_an_erasure_is_for_ever(
    infra: Infra, bootstrap: str, schema_name: str, db: asyncpg.Connection
) -> None:
    cid = str(uuid.uuid4())
    key = new_data_key()
    sealed = seal_personal(key, cid, "customer.registered",
                           {"name": "Wanda Waiting", "email": "wanda@w.example", "phone": None})
    later = seal_personal(key, cid, "customer.details_changed", {"name": "Wanda Later"})
    service = WasteService(waste_settings(infra, bootstrap, schema_name))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()

    async def row() -> dict[str, Any] | None:
        store = await db.fetchval(f"SELECT store FROM {schema_name}.active_store")
        r = await db.fetchrow(f"SELECT name, email, personal_data FROM {store}.customers "
                              "WHERE customer_id = $1", uuid.UUID(cid))
        return dict(r) if r else None

    async def becomes(**expected: Any) -> None:
        async def there() -> bool:
            r = await row()
            return r is not None and r == expected
        await wait_until(there, 60, what=f"the customer's row {expected}")

    async def send(topic: str, value: bytes | None) -> tuple[str, int, int]:
        meta = await producer.send_and_wait(topic, value, key=cid.encode())
        return meta.topic, meta.partition, meta.offset

    async def applied(topic: str, partition: int, offset: int) -> bool:
        store = await db.fetchval(f"SELECT store FROM {schema_name}.active_store")
        after = await db.fetchval(f"SELECT next_offset FROM {store}.consumer_offsets "
                                  "WHERE topic = $1 AND partition = $2", topic, partition)
        return after is not None and after > offset

    try:
        async with running(service):
            await send(CUSTOMERS_EVENTS, event(cid, 1, "customer.registered",
                                               {"segment": "smb", "personal": sealed}))
            await becomes(name=None, email=None, personal_data="withheld")
            kek_id, wrapped = KEK.id, KEK.wrap(cid, key)
            await send(CUSTOMERS_KEYS, json.dumps({"customer_id": cid, "kek_id": kek_id,
                                                   "wrapped_key": wrapped}).encode())
            await becomes(name="Wanda Waiting", email="wanda@w.example", personal_data="clear")
            store = await db.fetchval(f"SELECT store FROM {schema_name}.active_store")
            assert await db.fetchval(f"SELECT count(*) FROM {store}.personal_pending") == 0
            await send(CUSTOMERS_KEYS, None)  # the key's tombstone, before customer.forgotten
            await becomes(name=None, email=None, personal_data="erased")
            # a change that arrives after the erasure, and the key again (a replay): not opened
            await send(CUSTOMERS_EVENTS, event(cid, 2, "customer.details_changed", {"personal": later}))
            replayed = await send(CUSTOMERS_KEYS, json.dumps({"customer_id": cid, "kek_id": kek_id,
                                                              "wrapped_key": wrapped}).encode())
            await wait_until(lambda: applied(*replayed), 60, what="the replayed key applied")
            await wait_until(lambda: _change_seen(db, schema_name), 60, what="the late change applied")
            assert await row() == {"name": None, "email": None, "personal_data": "erased"}
            keys = await db.fetchrow(f"SELECT wrapped_key, erased FROM {store}.personal_keys "
                                     "WHERE customer_id = $1", uuid.UUID(cid))
            assert keys is not None and dict(keys) == {"wrapped_key": None, "erased": True}
            assert await db.fetchval(f"SELECT count(*) FROM {store}.personal_pending") == 0
    finally:
        await producer.stop()


async def _change_seen(db: asyncpg.Connection, schema: str) -> bool:
    store = await db.fetchval(f"SELECT store FROM {schema}.active_store")
    return bool(await db.fetchval(f"SELECT count(*) FROM {store}.seen_events WHERE event_type = "
                                  "'customer.details_changed'"))
