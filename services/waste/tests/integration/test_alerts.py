"""Alerts end to end (contract sections 2.7 and 5): events that cross a threshold raise an
alert on crm.alerts.v1 (read back from the broker), the gauge shows it, a restart neither
raises it again nor forgets it, and events that bring the figure back under clear it —
each transition published once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.alerts import AlertMessage
from leancrm_contracts.envelope import format_timestamp
from leancrm_contracts.topics import ALERTS, INTERACTIONS_EVENTS
from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_waste.service import WasteService

from .conftest import running, waste_settings

pytestmark = pytest.mark.integration


class Contact:
    """One interaction's events, as the interactions service would publish them."""

    def __init__(self, channel: str) -> None:
        self.id, self.customer = str(uuid.uuid4()), str(uuid.uuid4())
        self.channel = channel
        self.version = 0

    def event(self, event_type: str, at: datetime, **data: Any) -> tuple[bytes, bytes]:
        self.version += 1
        env = {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
               "occurred_at": format_timestamp(at), "recorded_at": format_timestamp(at),
               "producer": "interactions", "stream_id": self.id, "stream_version": self.version,
               "customer_id": self.customer, "correlation_id": None, "causation_id": None,
               "data": {"interaction_id": self.id, **data}}
        return self.customer.encode(), json.dumps(env).encode()

    def waited(self, queued_at: datetime, wait_s: float) -> list[tuple[bytes, bytes]]:
        return [self.event("interaction.started", queued_at, customer_id=self.customer, channel=self.channel,
                           reason="billing", direction="inbound"),
                self.event("interaction.queued", queued_at, queue="q"),
                self.event("interaction.agent_assigned", queued_at + timedelta(seconds=wait_s),
                           agent_id="a-1", team="care")]


async def send(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await p.start()
    try:
        for key, value in records:
            await p.send_and_wait(INTERACTIONS_EVENTS, value, key=key)
    finally:
        await p.stop()


def gauge(service: WasteService, rule: str, subject: str) -> float | None:
    return service.metrics.registry.get_sample_value("leancrm_alert_active",
                                                     {"rule": rule, "subject": subject})


async def rounds_pass(service: WasteService, n: int) -> None:
    start = service.alerts.rounds if service.alerts else 0
    await wait_until(lambda: service.alerts is not None and service.alerts.rounds >= start + n, 30,
                     what=f"{n} alert rounds")


async def test_raise_restart_and_clear_each_once(infra: Infra, bootstrap: str) -> None:
    now = datetime.now(UTC)
    schema = f"w_alerts_{uuid.uuid4().hex[:8]}"
    settings = waste_settings(infra, bootstrap, schema, alert_interval_s=0.2,
                              alert_thresholds="rate_signal=off")
    old_email, slow_phone = Contact("email"), Contact("phone")
    first = [old_email.event("interaction.started", now - timedelta(hours=25), customer_id=old_email.customer,
                             channel="email", reason="billing", direction="inbound"),
             old_email.event("interaction.queued", now - timedelta(hours=25), queue="q"),
             *slow_phone.waited(now - timedelta(minutes=10), 100.0)]

    async with TopicReader(bootstrap, ALERTS) as reader:
        service = WasteService(settings)
        async with running(service):
            await send(bootstrap, first)
            raised = await reader.wait_json(ALERTS, 2, timeout_s=60, event_type="alert.raised")
            by_rule = {m["rule"]: AlertMessage.model_validate(m) for m in raised}
            assert set(by_rule) == {"backlog_aged", "queue_wait_p90"}
            backlog, wait = by_rule["backlog_aged"], by_rule["queue_wait_p90"]
            assert (backlog.subject, backlog.value, backlog.threshold) == ("email", 1.0, 0.0)
            assert (wait.subject, wait.value, wait.threshold) == ("phone", pytest.approx(100.0), 20.0)
            assert wait.summary == "phone: queue wait p90 over the last 15 min is 100 s (threshold 20 s)"
            assert backlog.at == backlog.raised_at and abs(backlog.at - now) < timedelta(minutes=5)
            record = next(r for r in reader.on(ALERTS) if r.key == b"backlog_aged:email")
            assert dict(record.headers)["message_type"] == b"alert.raised"
            assert gauge(service, "backlog_aged", "email") == 1.0
            await rounds_pass(service, 3)

        # a restart: the alerts are remembered (the gauge too) and not raised again
        again = WasteService(settings)
        async with running(again):
            await rounds_pass(again, 5)
            assert gauge(again, "queue_wait_p90", "phone") == 1.0
            assert len(reader.on(ALERTS)) == 2

            # back under: the old email ends; ten quick answers bring the p90 to 1 s
            five_ago = now - timedelta(minutes=5)
            quick = [rec for _ in range(10) for rec in Contact("phone").waited(five_ago, 1.0)]
            await send(bootstrap, [old_email.event("interaction.ended", datetime.now(UTC)), *quick])
            cleared = await reader.wait_json(ALERTS, 2, timeout_s=60, event_type="alert.cleared")
            by_rule_c = {m["rule"]: AlertMessage.model_validate(m) for m in cleared}
            assert by_rule_c["backlog_aged"].raised_at == backlog.at
            assert by_rule_c["backlog_aged"].summary == ("email: open contacts older than 24 h — no figure "
                                                         "any more (nothing to measure, or the rule is off)")
            assert (by_rule_c["queue_wait_p90"].value, by_rule_c["queue_wait_p90"].threshold) == (
                pytest.approx(1.0), 20.0)
            assert gauge(again, "backlog_aged", "email") == 0.0
            await rounds_pass(again, 5)
        assert sorted((json.loads(r.value or b"")["event_type"], (r.key or b"").decode())
                      for r in reader.on(ALERTS)) == [
            ("alert.cleared", "backlog_aged:email"), ("alert.cleared", "queue_wait_p90:phone"),
            ("alert.raised", "backlog_aged:email"), ("alert.raised", "queue_wait_p90:phone")]
