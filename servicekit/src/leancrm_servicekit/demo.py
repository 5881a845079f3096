"""Minimal traffic for the run command before the simulator exists."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer


async def register_customers(bootstrap: str, count: int = 100) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(count):
            cid = str(uuid.uuid4())
            cmd = {
                "command_id": f"demo-{cid}",
                "command_type": "register_customer",
                "occurred_at": datetime.now(UTC).isoformat(),
                "correlation_id": None,
                "data": {"customer_id": cid, "name": f"Customer {i}", "email": None,
                         "phone": None, "segment": "retail"},
            }
            await producer.send(
                "crm.customers.commands.v1", json.dumps(cmd).encode(), key=cid.encode(),
                headers=[("content-type", b"application/json"),
                         ("message_type", b"register_customer")],
            )
        await producer.flush()
    finally:
        await producer.stop()
