from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

COMMANDS = "crm.customers.commands.v1"
EVENTS = "crm.customers.events.v1"
RESULTS = "crm.command-results.v1"
DLQ = "crm.dlq.v1"
KEYS = "crm.customers.keys.v1"


def opened(event: dict[str, Any], key_record: dict[str, Any]) -> dict[str, Any]:
    """A version 2 event's data with its personal fields opened, as an entitled consumer
    (holding the test run's KEK) reads it from the key topic's record."""
    from leancrm_devstack.testing import TEST_PERSONAL_DATA_KEK
    from leancrm_servicekit.crypto import Kek, open_personal

    data = dict(event["data"])
    cid = event["customer_id"]
    key = Kek.from_base64(TEST_PERSONAL_DATA_KEK).unwrap(cid, key_record["wrapped_key"])
    return {**{k: v for k, v in data.items() if k != "personal"},
            **open_personal(key, cid, event["event_type"], data["personal"])}


def command(command_type: str, data: dict[str, Any], command_id: str | None = None) -> dict[str, Any]:
    return {
        "command_id": command_id or f"cmd-{uuid.uuid4()}",
        "command_type": command_type,
        "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "correlation_id": "corr-1",
        "data": data,
    }


async def send(producer: AIOKafkaProducer, cmd: dict[str, Any] | bytes, key: str = "k",
               extra_headers: list[tuple[str, bytes]] | None = None) -> None:
    value = cmd if isinstance(cmd, bytes) else json.dumps(cmd).encode()
    message_type = b"" if isinstance(cmd, bytes) else cmd["command_type"].encode()
    await producer.send_and_wait(
        COMMANDS, value, key=key.encode(),
        headers=[("content-type", b"application/json"), ("message_type", message_type),
                 *(extra_headers or [])],
    )


def register(customer_id: str, **over: Any) -> dict[str, Any]:
    data = {"customer_id": customer_id, "name": "Ada Lovelace", "email": "ada@example.com",
            "phone": None, "segment": "retail"}
    data.update(over)
    return command("register_customer", data)
