"""What the benchmarks share: infrastructure, service processes, percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leancrm_devstack.embedded import EmbeddedStack

RESULTS = Path(__file__).with_name("results")


@dataclass
class Infra:
    bootstrap: str
    dsn: str
    kind: str


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    if os.environ.get("LEANCRM_KAFKA_BOOTSTRAP") and os.environ.get("LEANCRM_DATABASE_URL"):
        yield Infra(os.environ["LEANCRM_KAFKA_BOOTSTRAP"], os.environ["LEANCRM_DATABASE_URL"],
                    "environment")
        return
    stack = EmbeddedStack.create(ephemeral=True).start()
    try:
        yield Infra(stack.broker.bootstrap, stack.postgres.dsn, "embedded")
    finally:
        stack.stop()


@contextlib.contextmanager
def service_process(module: str, infra: Infra, schema: str, log: Path, *args: str,
                    **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m module [args]`` against ``infra`` (``args``: e.g. ``relay``)."""
    f = open(log, "wb")  # noqa: SIM115
    p = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env={**os.environ, "LEANCRM_KAFKA_BOOTSTRAP": infra.bootstrap,
             "LEANCRM_DATABASE_URL": infra.dsn, "LEANCRM_DB_SCHEMA": schema,
             "LEANCRM_HTTP_PORT": "0", "LEANCRM_LOG_LEVEL": "WARNING",
             "LEANCRM_CONSUMER_GROUP": f"bench-{schema}", **env},
        stdout=f, stderr=subprocess.STDOUT,
    )
    try:
        yield p
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        f.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "at": datetime.now(UTC).isoformat()}


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return path


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
