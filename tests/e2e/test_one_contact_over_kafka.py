"""One contact from start to end through every interactions command type, and one
piece of feedback, over Kafka against the real services (issue 3)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_devstack.testing import Infra, TopicReader
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def services(infra: Infra, bootstrap: str) -> AsyncIterator[None]:
    from leancrm_feedback.app import SPEC as FEEDBACK
    from leancrm_interactions.app import SPEC as INTERACTIONS

    tag = uuid.uuid4().hex[:8]
    running = [CommandService(spec, ServiceSettings(
        kafka_bootstrap=bootstrap, database_url=infra.dsn, db_schema=f"{spec.name[:5]}_{tag}",
        consumer_group=f"{spec.name}-{tag}", http_port=0, partitions=3, relay_poll_interval_s=0.2))
        for spec in (INTERACTIONS, FEEDBACK)]
    for s in running:
        await s.start()
    yield
    for s in running:
        await s.stop()


def cmd(command_type: str, minute: float, **data: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minute)
    return {"command_id": f"c-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": at.isoformat().replace("+00:00", "Z"), "correlation_id": "contact-1",
            "data": data}


async def test_a_whole_contact_and_its_feedback(services: None, bootstrap: str) -> None:
    iid, cid, fid = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    a1, a2 = f"a1-{iid[:6]}", f"a2-{iid[:6]}"
    agents = [cmd("sign_in_agent", 0, agent_id=a1, team="billing_team"),
              cmd("sign_in_agent", 0, agent_id=a2, team="digital")]
    contact = [
        cmd("start_interaction", 1, interaction_id=iid, customer_id=cid, channel="phone",
            reason="billing", direction="inbound"),
        cmd("identify_customer", 1.5, interaction_id=iid, step="ivr", method="account_number"),
        cmd("queue_interaction", 2, interaction_id=iid, queue="billing"),
        cmd("assign_agent", 4, interaction_id=iid, agent_id=a1, team="billing_team"),
        cmd("identify_customer", 4.5, interaction_id=iid, step="agent", method="date_of_birth"),
        cmd("start_hold", 5, interaction_id=iid),
        cmd("end_hold", 6, interaction_id=iid),
        cmd("transfer_interaction", 7, interaction_id=iid, to_queue="email_billing",
            to_channel="email", reason="needs_documents"),
        cmd("assign_agent", 30, interaction_id=iid, agent_id=a2, team="digital"),
        cmd("resolve_interaction", 40, interaction_id=iid, resolved_by="agent"),
        cmd("end_interaction", 41, interaction_id=iid),
    ]
    late = cmd("start_hold", 50, interaction_id=iid)  # ended is terminal
    earlier = cmd("sign_out_agent", -5, agent_id=a1)  # before a1's sign-in: out of order
    feedback = cmd("submit_feedback", 45, feedback_id=fid, customer_id=cid, source="survey",
                   text="Terrible: I was put on hold and transferred, then had to email documents.",
                   rating=2, interaction_id=iid, topic=None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    async with TopicReader(bootstrap, "crm.interactions.events.v1", "crm.feedback.events.v1",
                           "crm.command-results.v1") as reader:
        for c in [*agents, *contact, late, earlier]:
            key = cid if "interaction_id" in c["data"] else c["data"]["agent_id"]
            await producer.send_and_wait(
                "crm.interactions.commands.v1", json.dumps(c).encode(), key=key.encode(),
                headers=[("content-type", b"application/json"), ("message_type", c["command_type"].encode())])
        await producer.send_and_wait("crm.feedback.commands.v1", json.dumps(feedback).encode(),
                                     key=cid.encode(), headers=[("content-type", b"application/json"),
                                                                ("message_type", b"submit_feedback")])
        await producer.stop()
        for c in [*agents, *contact, late, earlier, feedback]:
            await reader.wait_json("crm.command-results.v1", command_id=c["command_id"], timeout_s=60)
        events = await reader.wait_json("crm.interactions.events.v1", count=len(contact), stream_id=iid)
        fb = await reader.wait_json("crm.feedback.events.v1", count=3, stream_id=fid)

    results = {r["command_id"]: r for r in reader.json_on("crm.command-results.v1")}
    assert all(results[c["command_id"]]["status"] == "accepted" for c in [*agents, *contact, feedback])
    assert results[late["command_id"]]["error"]["code"] == "conflict"
    assert results[earlier["command_id"]]["error"]["code"] == "out_of_order"
    events.sort(key=lambda e: e["stream_version"])
    assert [e["event_type"].split(".", 1)[1] for e in events] == [
        "started", "customer_identified", "queued", "agent_assigned", "customer_identified",
        "hold_started", "hold_ended", "transferred", "agent_assigned", "resolved", "ended"]
    assert [e["stream_version"] for e in events] == list(range(1, 12))
    assert all(e["customer_id"] == cid and e["producer"] == "interactions" for e in events)
    transferred = events[7]["data"]
    assert (transferred["from_agent_id"], transferred["from_channel"], transferred["to_channel"]) == (
        a1, "phone", "email")
    agent_events = [e for e in reader.json_on("crm.interactions.events.v1")
                    if e["event_type"].startswith("agent.") and e["stream_id"] in (a1, a2)]
    assert len(agent_events) == 2 and all(e["customer_id"] is None for e in agent_events)
    fb.sort(key=lambda e: e["stream_version"])
    assert [e["event_type"] for e in fb] == [
        "feedback.received", "feedback.sentiment_scored", "feedback.routed"]
    assert fb[1]["data"]["label"] == "negative"
    assert fb[2]["data"]["team"] == "service"  # negative feedback about an interaction → service
