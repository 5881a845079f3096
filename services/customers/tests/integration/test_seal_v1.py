"""``python -m leancrm_customers personal-data seal-v1`` (contract section 2.8, "Migrating"):
stored version 1 events re-sealed in place, keys made and published for the customers
kept, a forgotten customer's fields sealed with a key nobody keeps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from leancrm_customers.personal_data import CustomerSealer, publish_keys, seal_v1
from leancrm_devstack.testing import TEST_PERSONAL_DATA_KEK, Infra, TopicReader
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.crypto import CannotOpen, Kek, open_personal
from leancrm_servicekit.eventstore import StoredEvent

from .helpers import KEYS

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def v1(customer_id: uuid.UUID, version: int, event_type: str, **data: object) -> StoredEvent:
    return StoredEvent(uuid.uuid4(), str(customer_id), version, event_type, 1, NOW, NOW, customer_id,
                       None, None, str(customer_id), {"customer_id": str(customer_id), **data})


async def test_seal_v1_reseals_stored_events_in_place(
    customers: CommandService, infra: Infra, bootstrap: str
) -> None:
    assert customers.store is not None and customers.handler is not None
    kept, gone = uuid.uuid4(), uuid.uuid4()
    history = [
        v1(kept, 1, "customer.registered", name="Olga Oldversion", email="olga@v1.example",
           phone=None, segment="retail"),
        v1(kept, 2, "customer.details_changed", phone="+31 6 1234 5678"),
        v1(gone, 1, "customer.registered", name="Gustav Gone", email="gustav@v1.example",
           phone="+49 30 1234", segment="retail"),
        v1(gone, 2, "customer.forgotten"),
    ]
    await customers.store.commit(history, [], [])  # as an older version stored them
    sealer = customers.handler.sealer
    assert isinstance(sealer, CustomerSealer)
    async with TopicReader(bootstrap, KEYS) as reader:
        sealed, created = await seal_v1(sealer, customers.store.outbox.insert, batch=2)
        (key_record,) = await reader.wait_json(KEYS, customer_id=str(kept))
    assert (sealed, created) == (3, 1)
    rows = await customers.store.pool.fetch(
        "SELECT customer_id, event_type, schema_version, data FROM events "
        "WHERE customer_id = ANY($1::uuid[]) ORDER BY global_position", [kept, gone])
    assert [r["schema_version"] for r in rows] == [2, 2, 2, 1]
    text = " ".join(r["data"] for r in rows)
    for clear in ("Olga", "olga@v1", "1234 5678", "Gustav", "gustav@v1", "49 30"):
        assert clear not in text
    key = Kek.from_base64(TEST_PERSONAL_DATA_KEK).unwrap(kept, key_record["wrapped_key"])
    opened = [open_personal(key, kept, r["event_type"], json.loads(r["data"])["personal"])
              for r in rows[:2]]
    assert opened == [{"name": "Olga Oldversion", "email": "olga@v1.example", "phone": None},
                      {"phone": "+31 6 1234 5678"}]
    with pytest.raises(CannotOpen):  # nobody has the forgotten customer's key
        open_personal(key, gone, "customer.registered", json.loads(rows[2]["data"])["personal"])
    assert await customers.store.pool.fetchval(
        "SELECT count(*) FROM personal_data_keys WHERE customer_id = $1", gone) == 0
    assert await seal_v1(sealer, customers.store.outbox.insert) == (0, 0)  # once is enough


async def test_publish_keys_rewraps_with_the_current_kek_and_queues_every_key(
    customers: CommandService, infra: Infra, bootstrap: str
) -> None:
    """After a KEK rotation: keys wrapped with the earlier KEK are wrapped again with the
    current one and queued on the key topic; the others are queued as they are."""
    from leancrm_servicekit.crypto import Keyring, generate_kek, new_data_key

    assert customers.store is not None
    old = Kek.from_base64(TEST_PERSONAL_DATA_KEK)
    new = Kek.from_base64(generate_kek())
    a, b = uuid.uuid4(), uuid.uuid4()
    key_a, key_b = new_data_key(), new_data_key()
    await customers.store.pool.executemany(
        "INSERT INTO personal_data_keys (customer_id, kek_id, wrapped_key) VALUES ($1, $2, $3)",
        [(a, old.id, old.wrap(a, key_a)), (b, new.id, new.wrap(b, key_b))])
    rotated = CustomerSealer(Keyring.of(new, [old]), customers.store.pool)
    async with TopicReader(bootstrap, KEYS) as reader:
        queued, rewrapped = await publish_keys(rotated, customers.store.outbox.insert, batch=1)
        records = {cid: (await reader.wait_json(KEYS, customer_id=str(cid)))[-1] for cid in (a, b)}
    assert queued >= 2 and rewrapped == 1
    for cid, key in ((a, key_a), (b, key_b)):
        assert records[cid]["kek_id"] == new.id and new.unwrap(cid, records[cid]["wrapped_key"]) == key
    stored = await customers.store.pool.fetchval(
        "SELECT kek_id FROM personal_data_keys WHERE customer_id = $1", a)
    assert stored == new.id
