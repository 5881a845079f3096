"""The alert evaluator: every ``interval_s`` it reads the rules' figures from the active
store, compares what holds with the active alerts, and — in one transaction — records
the raised and cleared alerts in the service's table and queues their messages
(``alert.raised`` / ``alert.cleared``, contract section 2.7) in the service's outbox, which
the relay publishes on ``crm.alerts.v1``. So a transition is published once: a restart
finds the alert recorded and neither raises it again nor forgets to clear it.

It runs beside the projector, on the service's pool, and never slows it: the figures'
queries are bounded, the daily rates are read at most every ``rates_every_s``, and a
failing round is logged, counted and tried again next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from leancrm_contracts.alerts import ALERT_CLEARED, ALERT_PRODUCER, ALERT_RAISED, AlertMessage
from leancrm_contracts.envelope import CONTENT_TYPE_JSON, HEADER_CONTENT_TYPE, HEADER_MESSAGE_TYPE
from leancrm_contracts.topics import ALERTS
from leancrm_servicekit.faults import is_transient_database_error
from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.outbox import Outbox, OutboxMessage
from leancrm_waste.alerting import queries
from leancrm_waste.domain.alerts import (
    ActiveAlert,
    AlertConfig,
    Reading,
    evaluate,
    summary_cleared,
    summary_raised,
    transitions,
)

log = get_logger(component="alerts")


class AlertMetrics:
    """The alerts on /metrics: which are active, the transitions, a round's time."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        r = metrics.registry
        self.active = Gauge("leancrm_alert_active", "1 while an alert is raised, 0 once cleared",
                            ["rule", "subject"], registry=r)
        self.value = Gauge("leancrm_alert_value", "The figure of an active alert when it was raised",
                           ["rule", "subject"], registry=r)
        self.transitions = Counter("leancrm_alert_transitions_total",
                                   "Alerts raised and cleared by this process", ["rule", "transition"],
                                   registry=r)
        self.rounds = Counter("leancrm_alert_rounds_total", "Evaluation rounds, by outcome", ["outcome"],
                              registry=r)
        self.seconds = Histogram("leancrm_alert_round_seconds", "Time of one evaluation round",
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self._shown: set[tuple[str, str]] = set()

    def show(self, active: list[ActiveAlert]) -> None:
        """The gauges as the table has them: raised ones 1, the others shown before 0."""
        now = {(a.rule, a.subject) for a in active}
        for a in active:
            self.active.labels(rule=a.rule, subject=a.subject).set(1)
            self.value.labels(rule=a.rule, subject=a.subject).set(a.value)
        for rule, subject in self._shown - now:
            self.active.labels(rule=rule, subject=subject).set(0)
            with contextlib.suppress(KeyError):
                self.value.remove(rule, subject)
        self._shown |= now


def alert_message(kind: str, rule: str, subject: str, value: float, threshold: float, at: datetime,
                  raised_at: datetime, summary: str) -> tuple[str, OutboxMessage]:
    """The message of one transition (validated against the contract's model) and its id."""
    message = AlertMessage(event_id=uuid.uuid4(), event_type=kind,
                           schema_version=1, producer=ALERT_PRODUCER, rule=rule, subject=subject[:64],
                           value=value, threshold=threshold, at=at, raised_at=raised_at, summary=summary)
    value_json = json.dumps(message.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
    return str(message.event_id), OutboxMessage(
        topic=ALERTS, key=message.key.encode(), value=value_json.encode(),
        headers=((HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON), (HEADER_MESSAGE_TYPE, kind)))


class AlertEvaluator:
    def __init__(self, *, pool: asyncpg.Pool, outbox: Outbox, schema: str, store: Callable[[], str | None],
                 config: AlertConfig, metrics: ServiceMetrics, interval_s: float = 5.0,
                 rates_every_s: float = 300.0) -> None:
        self.pool = pool
        self.outbox = outbox
        self.schema = schema
        self.store = store
        self.config = config
        self.service_metrics = metrics
        self.metrics = AlertMetrics(metrics)
        self.interval_s = interval_s
        self.rates_every_s = rates_every_s
        self.rounds = 0
        self._rates: dict[str, list[tuple[date, float | None]]] | None = None
        self._rates_at: tuple[str, float] | None = None  # (store, monotonic time read)

    async def prepare(self) -> None:
        """The gauges from the active alerts (the table is made with the store, at start)."""
        async with self.pool.acquire() as conn:
            # made with the store by the migration step, as the schema's owner: the service's
            # own role may not run even CREATE TABLE IF NOT EXISTS
            if await conn.fetchval("SELECT to_regclass($1)", f"{self.schema}.{queries.ACTIVE_TABLE}") is None:
                await queries.ensure_active_table(conn, self.schema)
            self.metrics.show(await queries.active(conn, self.schema))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.evaluate_once()
                self.metrics.rounds.labels(outcome="ok").inc()
            except Exception as exc:
                self.metrics.rounds.labels(outcome="failed").inc()
                if is_transient_database_error(exc):
                    self.service_metrics.transient_errors.labels(dependency="database",
                                                                 error=type(exc).__name__).inc()
                log.warning("alert_round_failed", error=repr(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)

    async def evaluate_once(self) -> tuple[list[Reading], list[ActiveAlert]]:
        """One round: the alerts raised and the alerts cleared (each published once)."""
        store = self.store()
        if store is None:
            return [], []
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            if self._rates_at is None or self._rates_at[0] != store \
                    or time.monotonic() - self._rates_at[1] >= self.rates_every_s:
                if self.config.thresholds.get("rate_signal") is not None:
                    self._rates = await queries.read_daily_rates(conn, store)
                self._rates_at = (store, time.monotonic())
            async with conn.transaction():
                current = await queries.lock_active(conn, self.schema)
                inputs, now = await queries.read_inputs(conn, store, self._rates)
                readings = evaluate(inputs, self.config)
                change = transitions(current, readings)
                messages: list[OutboxMessage] = []
                raised: list[tuple[ActiveAlert, str]] = []
                for r in change.raised:
                    event_id, msg = alert_message(ALERT_RAISED, r.rule, r.subject, r.value, r.threshold,
                                                  now, now, summary_raised(r))
                    raised.append((ActiveAlert(r.rule, r.subject, r.value, r.threshold, now), event_id))
                    messages.append(msg)
                for a, reading in change.cleared:
                    _, msg = alert_message(ALERT_CLEARED, a.rule, a.subject,
                                           reading.value if reading else 0.0,
                                           reading.threshold if reading else a.threshold,
                                           now, a.raised_at, summary_cleared(a, reading))
                    messages.append(msg)
                await queries.record(conn, self.schema, raised, [a.key for a, _ in change.cleared])
                await self.outbox.insert(conn, messages)
            self.metrics.show(await queries.active(conn, self.schema))
        self.rounds += 1
        self.metrics.seconds.observe(time.perf_counter() - started)
        for r in change.raised:
            self.metrics.transitions.labels(rule=r.rule, transition="raised").inc()
            log.warning("alert_raised", rule=r.rule, subject=r.subject, value=r.value, threshold=r.threshold)
        for a, _ in change.cleared:
            self.metrics.transitions.labels(rule=a.rule, transition="cleared").inc()
            log.info("alert_cleared", rule=a.rule, subject=a.subject)
        return list(change.raised), [a for a, _ in change.cleared]


def describe(config: AlertConfig) -> dict[str, Any]:
    """The configuration as logged at start."""
    return {"thresholds": dict(config.thresholds), "service_level": dict(config.service_level)}
