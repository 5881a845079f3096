"""The faults: a seeded plan (what, when, which process, how long) and its injection.

* ``kill``: SIGKILL a service process — a command consumer, a relay or a projector
  instance — and start it again after 0–3 s (the first kills take each kind of process
  in turn, so a short run covers them all);
* ``pg_restart``: ``pg_ctl restart -m fast``: every connection is cut;
* ``broker_pause``: SIGSTOP the broker for ``broker_pause_s``, then SIGCONT;
* ``malformed``: hostile records (``malformed.py``) spread over the window, both to the
  command topics and to the event topics.

Each fault is journalled as it happens, and recovery probes go out the moment it ends
(the process started again, PostgreSQL back, the broker resumed).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from leancrm_devstack.embedded import EmbeddedBroker

from .journal import Journal, open_append
from .malformed import MalformedSpec, build
from .probes import Prober
from .processes import COMMAND_SERVICES, KINDS, Supervisor
from .stack import PostgresControlError, RestartablePostgres
from .topics import sha256

KILL, PG_RESTART, BROKER_PAUSE, MALFORMED = "kill", "pg_restart", "broker_pause", "malformed"
FAULT_KINDS = (KILL, PG_RESTART, BROKER_PAUSE, MALFORMED)


@dataclass(frozen=True, slots=True)
class PlannedFault:
    at_s: float
    kind: str
    target: str | None = None  # the process of a kill
    hold_s: float = 0.0  # restart delay of a kill, length of a pause


def plan_faults(seed: int, duration_s: float, kills: int, pg_restarts: int, broker_pause_s: float,
                processes_by_kind: dict[str, list[str]], max_restart_delay_s: float
                ) -> list[PlannedFault]:
    rng = random.Random(f"{seed}:faults")
    plan: list[PlannedFault] = []
    pause: tuple[float, float] | None = None
    if broker_pause_s > 0:
        earliest, latest = 0.1 * duration_s, 0.9 * duration_s - broker_pause_s
        start = rng.uniform(earliest, latest) if latest > earliest else 0.05 * duration_s
        pause = (start, start + broker_pause_s)
        plan.append(PlannedFault(round(start, 3), BROKER_PAUSE, None, broker_pause_s))
    lo, hi = 0.05 * duration_s, 0.85 * duration_s
    for i in range(pg_restarts):
        seg = (hi - lo) / pg_restarts
        at = rng.uniform(lo + i * seg, lo + (i + 1) * seg)
        if pause is not None and pause[0] - 5 <= at <= pause[1] + 5:
            at = pause[1] + 5 + rng.uniform(0, 5) if pause[1] + 10 < hi else max(lo, pause[0] - 10)
        plan.append(PlannedFault(round(at, 3), PG_RESTART))
    kinds = [k for k in KINDS if processes_by_kind.get(k)]
    order: list[str] = []
    while len(order) < kills:
        turn = list(kinds)
        rng.shuffle(turn)
        order.extend(turn)
    times = sorted(rng.uniform(0.03 * duration_s, 0.88 * duration_s) for _ in range(kills))
    for at, kind in zip(times, order[:kills], strict=True):
        target = rng.choice(processes_by_kind[kind])
        plan.append(PlannedFault(round(at, 3), KILL, target,
                                 round(rng.uniform(0.0, max_restart_delay_s), 3)))
    return sorted(plan, key=lambda f: f.at_s)


def probe_services(kind: str, target: str | None, service_of: dict[str, str]) -> tuple[str, ...]:
    """Which services to probe after a fault: the one a killed process belongs to (a
    projector: customers, the cheapest path to the read model); every one after an
    outage of PostgreSQL or the broker."""
    if kind == KILL and target is not None:
        service = service_of[target]
        return ("customers",) if service == "waste" else (service,)
    return COMMAND_SERVICES


@dataclass
class MalformedSent:
    spec: MalformedSpec
    partition: int | None = None
    offset: int | None = None
    sha256: str = ""
    size: int = 0
    key_len: int = 0
    null_value: bool = False
    command_ids: tuple[str, ...] = ()
    event_id: str | None = None
    sent_at: str = ""
    error: str | None = None


@dataclass
class Injector:
    seed: int
    plan: list[PlannedFault]
    malformed: list[MalformedSpec]
    window_s: float
    supervisor: Supervisor
    postgres: RestartablePostgres
    broker: EmbeddedBroker
    prober: Prober
    journal: Journal
    patience_s: float
    malformed_log: Path
    done: Counter[str] = field(default_factory=Counter)
    kills_by_process: Counter[str] = field(default_factory=Counter)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    malformed_sent: list[MalformedSent] = field(default_factory=list)
    paused: bool = False
    #: (kind, started at, ended at) in seconds since the journal's start, for the report
    windows: list[dict[str, Any]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _pg_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def service_of(self) -> dict[str, str]:
        return {n: p.spec.service for n, p in self.supervisor.procs.items()}

    async def run(self, bootstrap: str) -> None:
        """Carry out the plan over the window; returns once every fault has ended."""
        t0 = time.monotonic()
        malformed = asyncio.create_task(self._malformed(bootstrap, t0))
        try:
            for fault in self.plan:
                await _sleep_until(t0 + fault.at_s)
                if fault.kind == KILL:
                    self._tasks.append(asyncio.create_task(self._kill(fault)))
                elif fault.kind == PG_RESTART:
                    self._tasks.append(asyncio.create_task(self._pg_restart()))
                elif fault.kind == BROKER_PAUSE:
                    self._tasks.append(asyncio.create_task(self._pause(fault.hold_s)))
            await _sleep_until(t0 + self.window_s)
            await asyncio.gather(*self._tasks)
            await malformed
        finally:
            for task in (*self._tasks, malformed):
                task.cancel()
            if self.paused:
                self.broker.resume()
                self.paused = False

    async def _kill(self, fault: PlannedFault) -> None:
        assert fault.target is not None
        target = fault.target
        if not self.supervisor.running(target):
            same_kind = [n for n in self.supervisor.names(self.supervisor.procs[target].spec.kind)
                         if self.supervisor.running(n)]
            alive = same_kind or [n for n in self.supervisor.names() if self.supervisor.running(n)]
            if not alive:
                self.skipped.append({"fault": KILL, "target": target, "why": "nothing running"})
                return
            target = random.Random(f"{self.seed}:{fault.at_s}").choice(sorted(alive))
        started = self.journal.elapsed()
        pid = await self.supervisor.kill(target)
        if pid is None:
            self.skipped.append({"fault": KILL, "target": target, "why": "not running"})
            return
        self.done[KILL] += 1
        self.kills_by_process[target] += 1
        self.journal.event("kill", f"SIGKILL {target} (pid {pid}); start again in {fault.hold_s:.1f}s",
                           style="red", process=target, pid=pid, restart_delay_s=fault.hold_s,
                           kind=self.supervisor.procs[target].spec.kind)
        await asyncio.sleep(fault.hold_s)
        new_pid = self.supervisor.start(target, "restart after SIGKILL")
        self.journal.event("restart", f"started {target} again (pid {new_pid})", style="green",
                           process=target, pid=new_pid, cause="kill")
        self.windows.append({"kind": KILL, "target": target, "from_s": round(started, 3),
                             "to_s": round(self.journal.elapsed(), 3)})
        self.prober.launch(probe_services(KILL, target, self.service_of), f"kill {target}", KILL)

    async def _pg_restart(self) -> None:
        async with self._pg_lock:
            started = self.journal.elapsed()
            self.journal.event("pg_restart_begin", "PostgreSQL: restart -m fast", style="magenta")
            t = time.monotonic()
            try:
                await asyncio.to_thread(self.postgres.restart)
            except PostgresControlError as exc:
                self.journal.event("pg_restart_failed", f"PostgreSQL restart failed: {exc}",
                                   style="bold red", error=str(exc))
                self.skipped.append({"fault": PG_RESTART, "why": str(exc)})
                return
            self.done[PG_RESTART] += 1
            self.journal.event("pg_restart_end", f"PostgreSQL back after {time.monotonic() - t:.1f}s",
                               style="magenta", took_s=round(time.monotonic() - t, 3))
            self.windows.append({"kind": PG_RESTART, "from_s": round(started, 3),
                                 "to_s": round(self.journal.elapsed(), 3)})
            self.prober.launch(probe_services(PG_RESTART, None, self.service_of), "pg_restart",
                               PG_RESTART)

    async def _pause(self, seconds: float) -> None:
        started = self.journal.elapsed()
        self.broker.pause()
        self.paused = True
        self.journal.event("broker_pause", f"broker paused (SIGSTOP) for {seconds:.0f}s",
                           style="bold yellow", seconds=seconds)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.broker.resume()
            self.paused = False
        self.done[BROKER_PAUSE] += 1
        self.journal.event("broker_resume", "broker resumed (SIGCONT)", style="bold yellow")
        self.windows.append({"kind": BROKER_PAUSE, "from_s": round(started, 3),
                             "to_s": round(self.journal.elapsed(), 3)})
        self.prober.launch(probe_services(BROKER_PAUSE, None, self.service_of), "broker_pause",
                           BROKER_PAUSE)

    async def _malformed(self, bootstrap: str, t0: float) -> None:
        if not self.malformed:
            return
        from .traffic import patient_producer

        rng = random.Random(f"{self.seed}:malformed-times")
        times = sorted(rng.uniform(0.02, 0.85) * self.window_s for _ in self.malformed)
        normal = patient_producer(bootstrap, self.patience_s)
        raised = patient_producer(bootstrap, self.patience_s, max_request_size=4 << 20)
        await asyncio.wait_for(normal.start(), self.patience_s)
        await asyncio.wait_for(raised.start(), self.patience_s)
        log: IO[str] = open_append(self.malformed_log)
        by_kind: Counter[str] = Counter()
        last_report = time.monotonic()
        try:
            pending: list[tuple[MalformedSent, asyncio.Future[Any]]] = []
            for at, spec in zip(times, self.malformed, strict=True):
                await _sleep_until(t0 + at)
                record = build(spec)
                sent = MalformedSent(spec, sha256=sha256(record.value), size=record.size,
                                     key_len=len(record.key or b""), null_value=record.value is None,
                                     command_ids=record.command_ids, event_id=record.event_id,
                                     sent_at=self.journal.event(
                                         MALFORMED, None, keep=False, marker=spec.marker,
                                         kind=spec.kind, variant=spec.variant, topic=spec.topic,
                                         expect=spec.expect, size=record.size)["at"])
                producer = raised if record.needs_raised_producer else normal
                try:
                    future = await producer.send(spec.topic, record.value, key=record.key,
                                                 headers=record.headers)
                except Exception as exc:  # the producer refused it: journalled
                    sent.error = f"{type(exc).__name__}: {exc}"
                    self.journal.event("malformed_not_sent", f"could not send {spec.marker} "
                                       f"({spec.kind}): {sent.error}", style="yellow",
                                       marker=spec.marker, error=sent.error)
                    self.malformed_sent.append(sent)
                    continue
                self.malformed_sent.append(sent)
                pending.append((sent, future))
                by_kind[spec.kind] += 1
                if len(pending) >= 200:
                    await _acknowledged(pending, log, self.patience_s)
                if time.monotonic() - last_report > 5:
                    last_report = time.monotonic()
                    self.journal.event("malformed_progress",
                                       f"malformed: {len(self.malformed_sent):,}/{len(self.malformed):,}"
                                       f" sent ({len(by_kind)} kinds so far)", style="cyan",
                                       sent=len(self.malformed_sent))
            await _acknowledged(pending, log, self.patience_s)
            self.done[MALFORMED] = sum(1 for s in self.malformed_sent if s.offset is not None)
            self.journal.event("malformed_done", f"malformed: {self.done[MALFORMED]:,} records "
                               "acknowledged by the broker", style="cyan",
                               acknowledged=self.done[MALFORMED], by_kind=dict(by_kind))
        finally:
            log.close()
            for producer in (normal, raised):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 30)


async def _acknowledged(pending: list[tuple[MalformedSent, asyncio.Future[Any]]], log: IO[str],
                        patience_s: float) -> None:
    import json

    for sent, future in pending:
        try:
            meta = await asyncio.wait_for(asyncio.shield(future), patience_s + 30)
            sent.partition, sent.offset = meta.partition, meta.offset
        except Exception as exc:  # journalled with the record
            sent.error = f"{type(exc).__name__}: {exc}"
        log.write(json.dumps({"marker": sent.spec.marker, "kind": sent.spec.kind,
                              "variant": sent.spec.variant, "topic": sent.spec.topic,
                              "expect": sent.spec.expect, "partition": sent.partition,
                              "offset": sent.offset, "size": sent.size, "sha256": sent.sha256,
                              "sent_at": sent.sent_at, "error": sent.error}) + "\n")
    log.flush()
    pending.clear()


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def count_by(items: Sequence[Any], key: Callable[[Any], str]) -> dict[str, int]:
    return dict(Counter(key(i) for i in items))
