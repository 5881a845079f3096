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
