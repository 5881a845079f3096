"""What one chaos run does: sizes of the traffic and of each fault, and its deadlines.

``RunConfig()`` is the long run (``scripts/chaos`` with no options); ``RunConfig.ci()``
the short one the test suite runs. Every random choice of a run comes from ``seed``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """An option is out of range; the message names it."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    seed: int = 1
    #: seconds of the fault window, while traffic flows and faults are injected
    duration_s: float = 600.0
    #: SIGKILLs of service processes (at least this many are carried out)
    kills: int = 50
    #: fast-shutdown restarts of PostgreSQL
    pg_restarts: int = 3
    #: seconds the broker is paused (SIGSTOP); 0 = no pause
    broker_pause_s: float = 60.0
    #: malformed records produced to the command and event topics
    malformed: int = 10_000
    #: simulated traffic: days and customers of the simulator's scenario
    days: int = 7
    customers: int = 400
    #: where each run's directory (logs, data, journals) is made
    workdir: Path = Path(".leancrm/chaos")
    #: the JSON report (None: none written)
    report: Path | None = Path("bench/results/chaos.json")
    #: a killed process is started again after 0..this many seconds
    max_restart_delay_s: float = 3.0
    #: a probe whose event is not in the read model this long after its fault ended is a stall
    probe_deadline_s: float = 120.0
    #: how long the system may take to settle after the fault window
    settle_timeout_s: float = 300.0
    #: how long the rebuild of the read model may take
    rebuild_timeout_s: float = 600.0
    #: how long start-up (stack, database set-up, every process ready) may take
    startup_timeout_s: float = 180.0
    session_timeout_ms: int = 6000
    partitions: int = 6
    #: show a live progress display (rich)
    progress: bool = True
    #: keep the run's PostgreSQL data directory even when every target is met (it is always
    #: kept when one is missed, for a look at what went wrong)
    keep_data: bool = False

    @classmethod
    def ci(cls, **changes: Any) -> RunConfig:
        """The short run of tests/faults: every kind of fault, small numbers, ~2 minutes."""
        base = cls(duration_s=45.0, kills=6, pg_restarts=1, broker_pause_s=10.0, malformed=300,
                   days=1, customers=60, probe_deadline_s=60.0, settle_timeout_s=75.0,
                   rebuild_timeout_s=90.0, startup_timeout_s=120.0, report=None, progress=False)
        return dataclasses.replace(base, **changes)

    def validate(self) -> RunConfig:
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise ConfigError(f"--{name.removesuffix('_s').replace('_', '-')} = "
                                  f"{getattr(self, name)!r}: must be {what}")

        need(self.seed >= 0, "seed", "0 or more")
        need(10.0 <= self.duration_s <= 86_400.0, "duration_s", "between 10 and 86,400 seconds")
        need(0 <= self.kills <= 10_000, "kills", "between 0 and 10,000")
        need(0 <= self.pg_restarts <= 1_000, "pg_restarts", "between 0 and 1,000")
        need(0.0 <= self.broker_pause_s <= self.duration_s, "broker_pause_s",
             "between 0 and the duration")
        need(0 <= self.malformed <= 1_000_000, "malformed", "between 0 and 1,000,000")
        need(1 <= self.days <= 60, "days", "between 1 and 60")
        need(1 <= self.customers <= 100_000, "customers", "between 1 and 100,000")
        need(0.0 <= self.max_restart_delay_s <= 60.0, "max_restart_delay_s", "between 0 and 60")
        need(self.probe_deadline_s > 0, "probe_deadline_s", "more than 0")
        need(self.settle_timeout_s > 0, "settle_timeout_s", "more than 0")
        need(self.session_timeout_ms >= 6000, "session_timeout_ms", "6000 or more (Kafka's minimum)")
        need(1 <= self.partitions <= 64, "partitions", "between 1 and 64")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v)
                for f in dataclasses.fields(self)}
