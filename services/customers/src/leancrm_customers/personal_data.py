"""Crypto-shredding in the customers service (contract section 2.8): every customer has a
data key, kept wrapped with the KEK in this service's own schema (``personal_data_keys``)
and published, wrapped, on the compacted key topic; the personal fields of its events are
sealed with it before they are stored or published; ``forget_customer`` deletes the key
and publishes its tombstone. All the key store's SQL is here.

The decider and the read table see events as decided, in clear, within the commit's
transaction; the event store and ``crm.customers.events.v1`` only the sealed form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from leancrm_contracts import customers as c
from leancrm_contracts.envelope import CONTENT_TYPE_JSON, HEADER_CONTENT_TYPE, HEADER_MESSAGE_TYPE
from leancrm_servicekit.crypto import CannotOpen, Keyring, new_data_key, seal_personal
from leancrm_servicekit.db import Conn
from leancrm_servicekit.eventstore import StoredEvent
from leancrm_servicekit.outbox import OutboxMessage
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings

_LOAD = "SELECT customer_id, kek_id, wrapped_key FROM personal_data_keys WHERE customer_id = ANY($1::uuid[])"
_INSERT = """
INSERT INTO personal_data_keys (customer_id, kek_id, wrapped_key)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
"""
_ERASE = "DELETE FROM personal_data_keys WHERE customer_id = ANY($1::uuid[])"


def key_message(customer_id: UUID, kek_id: str, wrapped: str) -> OutboxMessage:
    """The key topic's record of a customer's key (wrapped)."""
    value = c.CustomerKey(customer_id=customer_id, kek_id=kek_id, wrapped_key=wrapped)
    return OutboxMessage(topic=c.KEY_TOPIC, key=str(customer_id).encode(),
                         value=value.model_dump_json().encode(),
                         headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON),
                                  (HEADER_MESSAGE_TYPE, c.KEY_MESSAGE_TYPE)))


def tombstone(customer_id: UUID) -> OutboxMessage:
    """The key topic's tombstone of a customer's key: a null value."""
    return OutboxMessage(topic=c.KEY_TOPIC, key=str(customer_id).encode(), value=None,
                         headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON),
                                  (HEADER_MESSAGE_TYPE, c.KEY_ERASED_MESSAGE_TYPE)))


def seal_data(event_type: str, customer_id: UUID | str, data: dict[str, Any], data_key: bytes
              ) -> dict[str, Any]:
    """Version 1 data of ``customer.registered`` / ``details_changed`` as version 2: its
    personal fields sealed into ``personal`` (none when none changed)."""
    personal = c.upcast(event_type, 1, data).pop("personal", None)
    sealed = {k: v for k, v in data.items() if k not in c.PERSONAL_FIELDS}
    if personal is not None:
        fields = {f: v for f, v in personal.items() if f != "alg"}
        sealed["personal"] = seal_personal(data_key, str(customer_id), event_type, fields)
    return sealed


def seal_event(event: StoredEvent, data_key: bytes) -> StoredEvent:
    """A version 1 ``customer.registered`` / ``details_changed`` as version 2."""
    assert event.customer_id is not None
    return dataclasses.replace(event, data=seal_data(event.event_type, event.customer_id, event.data,
                                                     data_key),
                               schema_version=c.SCHEMA_VERSION[event.event_type])


class CustomerSealing:
    """One attempt at a batch: the keys of its customers, those it creates and erases."""

    def __init__(self, keyring: Keyring, keys: dict[UUID, bytes]) -> None:
        self.keyring = keyring
        self.keys = keys
        self.created: dict[UUID, bytes] = {}
        self.erased: set[UUID] = set()

    def seal(self, event: StoredEvent) -> StoredEvent:
        customer_id = event.customer_id
        assert customer_id is not None  # every customers event names its customer
        if event.event_type == c.CustomerForgotten.event_type:
            self.keys.pop(customer_id, None)
            self.created.pop(customer_id, None)
            self.erased.add(customer_id)
            return event
        if event.event_type not in c.PERSONAL_EVENT_TYPES:
            return event
        key = self.keys.get(customer_id)
        if key is None:  # a registration, or a customer registered before version 2
            key = self.keys[customer_id] = self.created[customer_id] = new_data_key()
        return seal_event(event, key)

    async def save(self, conn: Conn) -> Sequence[OutboxMessage]:
        messages: list[OutboxMessage] = []
        if self.created:
            ids = sorted(self.created)
            wrapped = [self.keyring.wrap(i, self.created[i]) for i in ids]
            await conn.execute(_INSERT, ids, [w[0] for w in wrapped], [w[1] for w in wrapped])
            messages.extend(key_message(i, k, w) for i, (k, w) in zip(ids, wrapped, strict=True))
        if self.erased:
            ids = sorted(self.erased)
            await conn.execute(_ERASE, ids)
            messages.extend(tombstone(i) for i in ids)
        return messages


class CustomerSealer:
    """The service's sealer: loads the keys of a batch's customers from its key store."""

    def __init__(self, keyring: Keyring, pool: asyncpg.Pool) -> None:
        self.keyring = keyring
        self.pool = pool

    async def prepare(self, stream_ids: Sequence[str]) -> CustomerSealing:
        keys: dict[UUID, bytes] = {}
        if stream_ids:
            for r in await self.pool.fetch(_LOAD, [UUID(s) for s in stream_ids]):
                try:
                    keys[r["customer_id"]] = self.keyring.unwrap(r["customer_id"], r["kek_id"],
                                                                 r["wrapped_key"])
                except CannotOpen as exc:
                    raise RuntimeError(
                        f"the data key of customer {r['customer_id']} cannot be unwrapped: {exc}; "
                        "configure the key-encryption key it was wrapped with (LEANCRM_PERSONAL_"
                        "DATA_KEK, or LEANCRM_PERSONAL_DATA_PREVIOUS_KEKS after a rotation)") from exc
        return CustomerSealing(self.keyring, keys)


def sealer(settings: ServiceSettings, pool: asyncpg.Pool) -> CustomerSealer:
    """The customers service's sealer; refuses to start without a KEK."""
    return CustomerSealer(keyring_of(settings), pool)


def keyring_of(settings: ServiceSettings) -> Keyring:
    """The KEKs configured, or a :class:`ConfigurationError` saying what to set."""
    keyring = settings.personal_data_keyring()
    if keyring is None:
        raise ConfigurationError(
            "the customers service seals personal data and needs a key-encryption key: set "
            "LEANCRM_PERSONAL_DATA_KEK (32 random bytes as base64, e.g. from python -c 'import os, "
            "base64; print(base64.b64encode(os.urandom(32)).decode())') or "
            "LEANCRM_PERSONAL_DATA_KEK_FILE; give the same key to the waste projector")
    return keyring


# -- migrating version 1 events (contract section 2.8, "Migrating") ------------------------

_V1 = """
SELECT global_position, event_type, customer_id, data FROM events
WHERE schema_version = 1 AND event_type = ANY($1::text[]) AND global_position > $2
ORDER BY global_position LIMIT $3 FOR UPDATE
"""
_FORGOTTEN = """
SELECT DISTINCT customer_id FROM events WHERE event_type = $1 AND customer_id = ANY($2::uuid[])
"""
_RESEAL = """
UPDATE events e SET data = u.data, schema_version = u.version
FROM unnest($1::bigint[], $2::jsonb[], $3::int[]) AS u(position, data, version)
WHERE e.global_position = u.position
"""


async def seal_v1(sealer: CustomerSealer,
                  outbox_insert: Callable[[Conn, Sequence[OutboxMessage]], Awaitable[None]],
                  batch: int = 500) -> tuple[int, int]:
    """Re-seal every stored version 1 personal event in place (same event_id, position and
    envelope; ``schema_version`` 2), a batch per transaction: the customer's key (made and
    queued on the key topic when missing), or for a forgotten customer a key thrown away.
    Returns (events sealed, keys created). ``outbox_insert(conn, messages)`` queues."""
    sealed = created = 0
    position = 0
    while True:
        async with sealer.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_V1, sorted(c.PERSONAL_EVENT_TYPES), position, batch)
            if not rows:
                return sealed, created
            ids = sorted({r["customer_id"] for r in rows})
            forgotten = {r["customer_id"] for r in await conn.fetch(
                _FORGOTTEN, c.CustomerForgotten.event_type, ids)}
            sealing = await sealer.prepare([str(i) for i in ids])
            updates = []
            for r in rows:
                cid = r["customer_id"]
                if cid in forgotten:
                    key = new_data_key()  # sealed, and the key never kept: erased
                elif (existing := sealing.keys.get(cid)) is not None:
                    key = existing
                else:
                    key = sealing.keys[cid] = sealing.created[cid] = new_data_key()
                data = seal_data(r["event_type"], cid, json.loads(r["data"]), key)
                updates.append((r["global_position"], json.dumps(data),
                                c.SCHEMA_VERSION[r["event_type"]]))
            await conn.execute(_RESEAL, [u[0] for u in updates], [u[1] for u in updates],
                               [u[2] for u in updates])
            created += len(sealing.created)
            await outbox_insert(conn, await sealing.save(conn))
            sealed += len(rows)
            position = rows[-1]["global_position"]


_ALL_KEYS = """
SELECT customer_id, kek_id, wrapped_key FROM personal_data_keys WHERE customer_id > $1
ORDER BY customer_id LIMIT $2 FOR UPDATE
"""
_REWRAP = """
UPDATE personal_data_keys k SET kek_id = u.kek_id, wrapped_key = u.wrapped_key
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(customer_id, kek_id, wrapped_key)
WHERE k.customer_id = u.customer_id
"""


async def publish_keys(sealer: CustomerSealer,
                       outbox_insert: Callable[[Conn, Sequence[OutboxMessage]], Awaitable[None]],
                       batch: int = 1000) -> tuple[int, int]:
    """Every stored key wrapped again with the current KEK (those wrapped with an earlier
    one, after a rotation) and queued on the key topic (which also refills a topic the
    broker lost). Returns (keys queued, keys re-wrapped)."""
    queued = rewrapped = 0
    after = UUID(int=0)
    current = sealer.keyring.current.id
    while True:
        async with sealer.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_ALL_KEYS, after, batch)
            if not rows:
                return queued, rewrapped
            updated: list[tuple[UUID, str, str]] = []
            messages = []
            for r in rows:
                kek_id, wrapped = r["kek_id"], r["wrapped_key"]
                if kek_id != current:
                    kek_id, wrapped = sealer.keyring.wrap(
                        r["customer_id"], sealer.keyring.unwrap(r["customer_id"], kek_id, wrapped))
                    updated.append((r["customer_id"], kek_id, wrapped))
                messages.append(key_message(r["customer_id"], kek_id, wrapped))
            if updated:
                await conn.execute(_REWRAP, [u[0] for u in updated], [u[1] for u in updated],
                                   [u[2] for u in updated])
            await outbox_insert(conn, messages)
            queued += len(rows)
            rewrapped += len(updated)
            after = rows[-1]["customer_id"]


def cli(app: Any) -> None:
    """``python -m leancrm_customers personal-data seal-v1``."""
    import typer

    from leancrm_servicekit.bootstrap import open_infrastructure
    from leancrm_servicekit.logging import configure_logging
    from leancrm_servicekit.runtime import run_configured
    from leancrm_servicekit.settings import load_settings

    group = typer.Typer(help="Personal data: sealed per customer (contract section 2.8).")

    async def run(job: Callable[..., Awaitable[tuple[int, int]]], batch: int) -> tuple[int, int]:
        from leancrm_customers.app import SPEC

        settings = load_settings(ServiceSettings)
        configure_logging("customers", settings.log_level)
        keyring = keyring_of(settings)  # a missing KEK stops here, before anything connects
        infra = await open_infrastructure("customers", settings, migrations=SPEC.migration_dirs,
                                          pool_size=2)
        try:
            return await job(CustomerSealer(keyring, infra.pool), infra.outbox.insert, batch)
        finally:
            await infra.close()

    @group.command("seal-v1")
    def seal_v1_command(batch: int = typer.Option(500, min=1, help="Events per transaction")) -> None:
        """Re-seal the stored version 1 customer events in place (run once after upgrading;
        then republish the event topic, see the README)."""
        sealed, created = run_configured(run(seal_v1, batch))
        typer.echo(f"sealed {sealed} version 1 events; {created} customer keys created and queued")

    @group.command("publish-keys")
    def publish_keys_command(batch: int = typer.Option(1000, min=1, help="Keys per transaction")) -> None:
        """Wrap every stored key with the current KEK (after a rotation) and queue it on the key
        topic (also refills a key topic the broker lost; the running service publishes it)."""
        queued, rewrapped = run_configured(run(publish_keys, batch))
        typer.echo(f"queued {queued} customer keys on the key topic; {rewrapped} re-wrapped with the "
                   "current key-encryption key")

    app.add_typer(group, name="personal-data")
