"""The service processes of a run, as ``scripts/run`` starts them, and their supervisor.

Each command service runs as a consumer (``serve`` with ``LEANCRM_RELAY_ENABLED=false``)
and a relay (``relay``); the waste projector as two ``serve`` instances in one consumer
group. Each process runs under its service's own database role with its own HTTP port,
logs to ``logs/<name>.log`` (every incarnation appended, after a line of the harness's
own), and dies with the harness (``die_with_parent``).

The supervisor kills and restarts processes for the fault injector, and restarts a
process that exits by itself (as Kubernetes would, with a crash-loop back-off): such an
exit is journalled with its exit code and the tail of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leancrm_devstack.embedded import die_with_parent, free_port
from leancrm_devstack.local_database import owner_role
from leancrm_servicekit.auth import WASTE_READ, new_token, token_sha256
from leancrm_servicekit.crypto import generate_kek

from .journal import Journal, wall_time

CONSUMER, RELAY, PROJECTOR = "consumer", "relay", "projector"
KINDS = (CONSUMER, RELAY, PROJECTOR)
COMMAND_SERVICES = ("customers", "interactions", "feedback", "improvements")
#: the harness's operations token: the projectors are given its SHA-256, settling reads
#: their /api/v1/lag with it
OPERATIONS_TOKEN = new_token()


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    kind: str
    service: str
    argv: tuple[str, ...]
    env: dict[str, str]
    http_port: int | None


@functools.cache
def personal_data_kek() -> dict[str, str]:
    """The harness's key-encryption key, for the services entitled to personal data (the
    customers service, the projectors) and the rebuild (contract 2.8): one for the process."""
    return {"LEANCRM_PERSONAL_DATA_KEK": generate_kek()}


def service_specs(bootstrap: str, roles: dict[str, str], *, session_timeout_ms: int,
                  partitions: int) -> list[ProcessSpec]:
    """The eight processes: consumer and relay of each command service, two projectors."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEANCRM_")}
    base.update({
        "LEANCRM_KAFKA_BOOTSTRAP": bootstrap,
        "LEANCRM_REPLICATION_FACTOR": "1",
        "LEANCRM_PARTITIONS": str(partitions),
        "LEANCRM_SESSION_TIMEOUT_MS": str(session_timeout_ms),
        "LEANCRM_HEARTBEAT_INTERVAL_MS": str(max(1000, session_timeout_ms // 3)),
        "LEANCRM_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    specs: list[ProcessSpec] = []
    kek = personal_data_kek()
    for service in COMMAND_SERVICES:
        # migrations as the schema's owner, the service as its own role (rows only)
        env = {**base, "LEANCRM_DATABASE_URL": roles[service],
               "LEANCRM_MIGRATION_DATABASE_URL": roles[owner_role(service)],
               **(kek if service == "customers" else {})}
        port = free_port()
        specs.append(ProcessSpec(
            f"{service}-consumer", CONSUMER, service,
            (sys.executable, "-m", f"leancrm_{service}", "serve"),
            {**env, "LEANCRM_RELAY_ENABLED": "false", "LEANCRM_HTTP_PORT": str(port)}, port))
        specs.append(ProcessSpec(
            f"{service}-relay", RELAY, service, (sys.executable, "-m", f"leancrm_{service}", "relay"),
            env, None))
    for n in (1, 2):
        port = free_port()
        specs.append(ProcessSpec(
            f"waste-{n}", PROJECTOR, "waste", (sys.executable, "-m", "leancrm_waste", "serve"),
            {**base, **kek, "LEANCRM_DATABASE_URL": roles["waste"],
             "LEANCRM_MIGRATION_DATABASE_URL": roles[owner_role("waste")], "LEANCRM_HTTP_PORT": str(port),
             "LEANCRM_API_TOKENS": json.dumps([{"name": "chaos-harness", "scopes": [WASTE_READ],
                                                "sha256": token_sha256(OPERATIONS_TOKEN)}])}, port))
    return specs


@dataclass
class Incarnation:
    pid: int
    started_mono: float
    started_at: str
    ended_at: str | None = None
    exit_code: int | None = None
    how: str = ""  # killed | exited | stopped


@dataclass
class ManagedProcess:
    spec: ProcessSpec
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    incarnations: list[Incarnation] = field(default_factory=list)
    #: down on purpose (killed, waiting for its planned restart, or stopped)
    held_down: bool = False
    #: crash-loop back-off: when it may be started again after exiting by itself
    restart_at: float | None = None
    crash_streak: int = 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], logs_dir: Path, journal: Journal) -> None:
        self.logs_dir = logs_dir
        self.journal = journal
        self.procs: dict[str, ManagedProcess] = {
            s.name: ManagedProcess(s, logs_dir / f"{s.name}.log") for s in specs}
        #: exits nobody asked for: name, exit code, time, log tail
        self.unexpected_exits: list[dict[str, Any]] = []
        self.kills = 0

    def names(self, kind: str | None = None) -> list[str]:
        return [n for n, p in self.procs.items() if kind is None or p.spec.kind == kind]

    def running(self, name: str) -> bool:
        return self.procs[name].running

    def start(self, name: str, reason: str = "start") -> int:
        """Start ``name`` (from the main thread: the child dies with it)."""
        proc = self.procs[name]
        if proc.running:
            assert proc.pid is not None
            return proc.pid
        n = len(proc.incarnations) + 1
        with open(proc.log_path, "ab") as log:
            log.write(f"--- chaos: {reason} #{n} of {name} at {wall_time()} ---\n".encode())
            log.flush()
            proc.popen = subprocess.Popen(
                list(proc.spec.argv), env=proc.spec.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
        proc.incarnations.append(Incarnation(proc.popen.pid, time.monotonic(), wall_time()))
        proc.held_down = False
        proc.restart_at = None
        return proc.popen.pid

    async def kill(self, name: str) -> int | None:
        """SIGKILL ``name`` and wait for it to be gone; its pid, or None if it was not running.
        It stays down until ``start`` is called again."""
        proc = self.procs[name]
        if not proc.running or proc.popen is None:
            return None
        proc.held_down = True
        pid = proc.popen.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await self._reap(proc, "killed", 10.0)
        self.kills += 1
        return pid

    async def _reap(self, proc: ManagedProcess, how: str, timeout_s: float) -> None:
        assert proc.popen is not None
        for _ in range(int(timeout_s / 0.02)):
            if proc.popen.poll() is not None:
                break
            await asyncio.sleep(0.02)
        self._ended(proc, how)

    def _ended(self, proc: ManagedProcess, how: str) -> None:
        if proc.incarnations and proc.incarnations[-1].ended_at is None and proc.popen is not None:
            inc = proc.incarnations[-1]
            inc.ended_at, inc.exit_code, inc.how = wall_time(), proc.popen.poll(), how

    async def watch(self, stop: asyncio.Event, poll_s: float = 0.25) -> None:
        """Restart processes that exit by themselves (1, 2, 4 … 10 s back-off)."""
        while not stop.is_set():
            now = time.monotonic()
            for name, proc in self.procs.items():
                if proc.held_down or proc.popen is None:
                    continue
                if proc.popen.poll() is not None and proc.restart_at is None:
                    self._ended(proc, "exited")
                    inc = proc.incarnations[-1]
                    lived = now - inc.started_mono
                    proc.crash_streak = 1 if lived > 30 else proc.crash_streak + 1
                    delay = min(10.0, 2.0 ** (proc.crash_streak - 1))
                    proc.restart_at = now + delay
                    tail = log_tail(proc.log_path, 15)
                    entry: dict[str, Any] = {"process": name, "exit_code": inc.exit_code, "pid": inc.pid,
                             "at": inc.ended_at, "lived_s": round(lived, 1), "log_tail": tail}
                    self.unexpected_exits.append(entry)
                    self.journal.event("unexpected_exit",
                                       f"{name} (pid {inc.pid}) exited by itself with code "
                                       f"{inc.exit_code} after {lived:.1f}s; restarting in {delay:.0f}s",
                                       style="bold red", **entry)
                elif proc.restart_at is not None and now >= proc.restart_at and not proc.running:
                    pid = self.start(name, "restart after it exited")
                    self.journal.event("restart", f"restarted {name} (pid {pid}) after it exited",
                                       process=name, pid=pid, cause="unexpected_exit")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_s)

    def stop_all(self, timeout_s: float = 15.0) -> None:
        """SIGTERM every process (SIGKILL after ``timeout_s``); synchronous, for clean-up."""
        for proc in self.procs.values():
            proc.held_down = True
            if proc.running and proc.popen is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGCONT)
                    proc.popen.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(5)
            self._ended(proc, "stopped")

    async def readiness(self, client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
        """Each process: running, and for those with HTTP the /ready status and problems."""
        out: dict[str, dict[str, Any]] = {}

        async def one(name: str, proc: ManagedProcess) -> None:
            state: dict[str, Any] = {"running": proc.running, "ready": False}
            if proc.spec.http_port is None:
                state["ready"] = proc.running
            elif proc.running:
                try:
                    r = await client.get(f"http://127.0.0.1:{proc.spec.http_port}/ready", timeout=3.0)
                    state["status"] = r.status_code
                    state["ready"] = r.status_code == 200
                    with contextlib.suppress(ValueError):
                        state["problems"] = r.json().get("problems")
                except httpx.HTTPError as exc:
                    state["error"] = f"{type(exc).__name__}: {exc}"
            out[name] = state

        await asyncio.gather(*(one(n, p) for n, p in self.procs.items()))
        return out


def log_tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of ``path`` (each cut to 600 characters)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64_000))
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line[:600] for line in text.splitlines()[-lines:]]
