"""Recovery probes: after each fault ends, a fresh valid command through the service the
fault touched, timed until its result is on ``crm.command-results.v1`` and its events are
in the read model (the active store's ``seen_events``). A probe not through within the
deadline is a stall.

Probes are ordinary valid commands (``SimCommand``), so they count like any other in
the checks and in the simulator's figures: ``register_customer`` (customers),
``start_interaction`` of a new contact (interactions), an anonymous
``submit_feedback`` (feedback) and a ``start_improvement`` (improvements), each keyed per
contract section 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from leancrm_simulator.model import (
    CUSTOMERS_COMMANDS,
    FEEDBACK_COMMANDS,
    IMPROVEMENTS_COMMANDS,
    INTERACTIONS_COMMANDS,
    SimCommand,
    stable_uuid,
)
from leancrm_simulator.run import encode

from .journal import Journal, wall_time
from .topics import TopicState

#: sequence numbers of probes, far beyond the scenario's
PROBE_SEQ = 100_000_000


@dataclass
class Probe:
    n: int
    service: str
    fault: str  # what it follows: "kill customers-relay", "pg_restart", "broker_pause", "baseline"
    fault_kind: str
    command: SimCommand
    fault_ended_mono: float
    #: when the fault ended, in seconds since the run started (as the journal counts)
    fault_end_s: float = 0.0
    sent_mono: float | None = None
    result_mono: float | None = None
    applied_mono: float | None = None
    status: str | None = None
    event_ids: tuple[str, ...] = ()
    problem: str | None = None
    stalled: bool = False

    @property
    def command_id(self) -> str:
        return self.command.command_id

    @property
    def recovered(self) -> bool:
        return self.applied_mono is not None

    @property
    def recovery_s(self) -> float | None:
        return None if self.applied_mono is None else self.applied_mono - self.fault_ended_mono

    def as_dict(self) -> dict[str, Any]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.fault_ended_mono, 3)
        return {"n": self.n, "service": self.service, "fault": self.fault,
                "fault_kind": self.fault_kind, "fault_end_s": self.fault_end_s,
                "command_id": self.command_id,
                "sent_after_s": rel(self.sent_mono), "result_after_s": rel(self.result_mono),
                "applied_after_s": rel(self.applied_mono), "status": self.status,
                "recovered": self.recovered, "stalled": self.stalled, "problem": self.problem}


def probe_command(seed: int, n: int, service: str) -> SimCommand:
    at_ms = int(time.time() * 1000)
    command_id = f"probe-{seed}-{n:05d}"

    def ident(purpose: str) -> str:
        return stable_uuid("chaos-probe", seed, n, purpose)

    occurred = wall_time(at_ms / 1000)
    if service == "customers":
        customer = ident("customer")
        envelope = {"command_id": command_id, "command_type": "register_customer",
                    "occurred_at": occurred, "correlation_id": None,
                    "data": {"customer_id": customer, "name": f"Probe {n}", "email": None,
                             "phone": None, "segment": "retail"}}
        return SimCommand(at_ms, PROBE_SEQ + n, CUSTOMERS_COMMANDS, customer, envelope)
    if service == "interactions":
        customer, interaction = ident("customer"), ident("interaction")
        envelope = {"command_id": command_id, "command_type": "start_interaction",
                    "occurred_at": occurred, "correlation_id": interaction,
                    "data": {"interaction_id": interaction, "customer_id": customer,
                             "channel": "web_self_service", "reason": "chaos_probe",
                             "direction": "inbound"}}
        return SimCommand(at_ms, PROBE_SEQ + n, INTERACTIONS_COMMANDS, customer, envelope)
    if service == "improvements":
        improvement = ident("improvement")
        data: dict[str, Any] = {"improvement_id": improvement, "title": f"Probe {n} after a fault",
                                "target": "fcr_rate", "starts_on": occurred[:10],
                                "owner_team": "chaos",
                                "expected": {"direction": "increase", "size": 0.01}}
        return SimCommand(at_ms, PROBE_SEQ + n, IMPROVEMENTS_COMMANDS, improvement, {
            "command_id": command_id, "command_type": "start_improvement",
            "occurred_at": occurred, "correlation_id": improvement, "data": data})
    feedback = ident("feedback")
    envelope = {"command_id": command_id, "command_type": "submit_feedback",
                "occurred_at": occurred, "correlation_id": feedback,
                "data": {"feedback_id": feedback, "customer_id": None, "source": "survey",
                         "text": f"probe {n} after a fault", "rating": None,
                         "interaction_id": None, "topic": None}}
    return SimCommand(at_ms, PROBE_SEQ + n, FEEDBACK_COMMANDS, feedback, envelope)


@dataclass
class Prober:
    seed: int
    producer: AIOKafkaProducer
    state: TopicState
    admin_dsn: str
    journal: Journal
    deadline_s: float
    probes: list[Probe] = field(default_factory=list)
    db_errors: int = 0
    _conn: asyncpg.Connection | None = None
    _sending: set[asyncio.Task[None]] = field(default_factory=set)

    def launch(self, services: tuple[str, ...], fault: str, fault_kind: str) -> list[Probe]:
        """Send one probe per service now (in the background); they are watched by ``watch``."""
        now = time.monotonic()
        made = []
        for service in services:
            n = len(self.probes) + 1
            probe = Probe(n, service, fault, fault_kind, probe_command(self.seed, n, service), now,
                          round(self.journal.elapsed(), 3))
            self.probes.append(probe)
            made.append(probe)
            task = asyncio.get_running_loop().create_task(self._send(probe))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return made

    async def _send(self, probe: Probe) -> None:
        c = probe.command
        try:
            await asyncio.wait_for(self.producer.send_and_wait(
                c.topic, encode(c), key=c.key.encode(), headers=c.headers()), self.deadline_s)
            probe.sent_mono = time.monotonic()
        except Exception as exc:  # a probe that cannot be sent is the finding
            probe.problem = f"not sent: {type(exc).__name__}: {exc}"

    def pending(self) -> list[Probe]:
        return [p for p in self.probes if not p.recovered and not p.stalled]

    async def watch(self, stop: asyncio.Event, poll_s: float = 0.25) -> None:
        while not stop.is_set():
            await self.check_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_s)

    async def check_once(self) -> None:
        now = time.monotonic()
        waiting_apply: list[Probe] = []
        for p in self.pending():
            if p.result_mono is None:
                result = self.state.first_result(p.command_id)
                if result is not None:
                    p.result_mono = now
                    p.status, p.event_ids = result.status, result.event_ids
                    if result.status != "accepted" or not result.event_ids:
                        p.problem = f"result {result.status} {result.code or ''}: {result.message}"
            if p.result_mono is not None and p.event_ids and p.problem is None:
                waiting_apply.append(p)
            if now - p.fault_ended_mono > self.deadline_s:
                p.stalled = True
                self.journal.event("probe_stalled", f"STALL: probe {p.command_id} via {p.service} "
                                   f"after {p.fault} not through in {self.deadline_s:.0f}s "
                                   f"(result: {p.status or 'none'})", style="bold red",
                                   **p.as_dict())
        if waiting_apply:
            applied = await self._applied({e for p in waiting_apply for e in p.event_ids})
            if applied is not None:
                now = time.monotonic()
                for p in waiting_apply:
                    if set(p.event_ids) <= applied:
                        p.applied_mono = now
                        self.journal.event("probe_recovered", None, **p.as_dict())

    async def _applied(self, event_ids: set[str]) -> set[str] | None:
        """The ones among ``event_ids`` in the active store's seen_events (None: cannot tell)."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncio.wait_for(
                    asyncpg.connect(self.admin_dsn, command_timeout=5), 5)
            store = await asyncio.wait_for(
                self._conn.fetchval("SELECT store FROM waste_service.active_store"), 5)
            if store is None:
                return None
            rows = await asyncio.wait_for(self._conn.fetch(
                f"SELECT event_id::text AS id FROM {store}.seen_events "
                "WHERE event_id = ANY($1::uuid[])", list(event_ids)), 5)
            return {r["id"] for r in rows}
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            self.db_errors += 1
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.terminate()
                self._conn = None
            return None

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)
            self._conn = None
