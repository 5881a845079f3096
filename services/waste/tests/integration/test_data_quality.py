"""waste.data_quality and its gauge (contract sections 4 and 6): what spans streams is
accepted by the services, and counted here once both streams have arrived — a late
sign-in that covers an assignment takes its anomaly away again."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_devstack.testing import Infra, wait_until
from leancrm_waste.projection import stores
from leancrm_waste.service import WasteService

from .conftest import running, wait_applied, waste_settings

pytestmark = pytest.mark.integration
INTERACTIONS = "crm.interactions.events.v1"
CUSTOMERS = "crm.customers.events.v1"
DAY = "2026-11-23"


class Streams:
    """Events of well-formed streams, each with its own gapless stream_version."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.sent = 0

    def event(self, event_type: str, stream_id: str, at: str, data: dict[str, Any],
              customer_id: str | None, producer: str = "interactions") -> bytes:
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        return json.dumps({
            "event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "occurred_at": f"{DAY}T{at}Z", "recorded_at": f"{DAY}T{at}Z", "producer": producer,
            "stream_id": stream_id, "stream_version": self.versions[stream_id],
            "customer_id": customer_id, "correlation_id": None, "causation_id": None,
            "data": data}).encode()

    def contact(self, customer_id: str, at: str, agent_id: str, team: str) -> list[bytes]:
        iid = str(uuid.uuid4())
        return [self.event("interaction.started", iid, at, {
                    "interaction_id": iid, "customer_id": customer_id, "channel": "phone",
                    "reason": "billing", "direction": "inbound"}, customer_id),
                self.event("interaction.agent_assigned", iid, at, {
                    "interaction_id": iid, "agent_id": agent_id, "team": team}, customer_id)]

    def agent(self, event_type: str, agent_id: str, at: str, **data: str) -> bytes:
        return self.event(event_type, agent_id, at, {"agent_id": agent_id, **data}, None)


async def figures(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT day, anomaly, occurrences FROM waste.data_quality")
    finally:
        await conn.close()
    assert {r["day"] for r in rows} <= {date.fromisoformat(DAY)}
    return {r["anomaly"]: r["occurrences"] for r in rows}


async def test_anomalies_spanning_streams_are_counted_and_a_late_stream_takes_them_away(
    infra: Infra, bootstrap: str
) -> None:
    known, unknown = str(uuid.uuid4()), str(uuid.uuid4())
    s = Streams()
    registered = s.event("customer.registered", known, "08:00:00", {
        "customer_id": known, "name": "Ada", "email": None, "phone": None, "segment": "retail"},
        known, producer="customers")
    first = [
        s.agent("agent.signed_in", "a-1", "09:00:00", team="billing"),
        s.agent("agent.signed_out", "a-1", "12:00:00"),
        *s.contact(known, "10:00:00", "a-1", "billing"),   # fine
        *s.contact(known, "10:30:00", "a-1", "tech"),      # another team than the sign-in's
        *s.contact(known, "12:00:00", "a-1", "billing"),   # signed out at that instant
        *s.contact(unknown, "11:00:00", "a-2", "billing"), # nobody registered, a-2 never signed in
    ]
    late = s.agent("agent.signed_in", "a-2", "10:59:00", team="billing")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(CUSTOMERS, registered, key=known.encode())
        for value in first:
            await producer.send_and_wait(INTERACTIONS, value, key=b"k")
        service = WasteService(waste_settings(infra, bootstrap, "w_quality",
                                              data_quality_interval_s=0.1))
        gauge = service.metrics.registry
        async with running(service):
            await wait_applied(infra.dsn, "w_quality", 1 + len(first))
            assert await figures(infra.dsn) == {
                "assignment_team_differs": 1, "assignment_outside_sign_in": 2,
                "interaction_of_unknown_customer": 1}

            def metric(anomaly: str) -> float | None:
                return gauge.get_sample_value("leancrm_data_quality_anomalies",
                                              {"anomaly": anomaly})

            await wait_until(lambda: metric("assignment_outside_sign_in") == 2, 30,
                             what="the gauge read from the view")
            assert metric("assignment_team_differs") == 1
            assert metric("interaction_of_unknown_customer") == 1

            # the sign-in arrives late (another partition, another stream): a-2's
            # assignment is covered after all
            await producer.send_and_wait(INTERACTIONS, late, key=b"a-2")
            await wait_applied(infra.dsn, "w_quality", 2 + len(first))
            assert (await figures(infra.dsn))["assignment_outside_sign_in"] == 1
            await wait_until(lambda: metric("assignment_outside_sign_in") == 1, 30,
                             what="the gauge after the late sign-in")

            # days are cut in the business time zone (the store's settings row), like the
            # other daily views: at UTC+14 every anomaly (10:30Z to 12:00Z) is on the next day
            conn = await asyncpg.connect(infra.dsn)
            try:
                store = await stores.active_store(conn, "w_quality")
                await conn.execute(
                    f"UPDATE {store}.settings SET business_timezone = 'Pacific/Kiritimati'")
                days = {r["day"] for r in await conn.fetch("SELECT day FROM waste.data_quality")}
            finally:
                await conn.close()
            assert days == {date.fromisoformat(DAY) + timedelta(days=1)}
    finally:
        await producer.stop()
