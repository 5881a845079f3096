"""``patiently``: a process starting during an outage waits for its dependencies."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from leancrm_servicekit import faults
from leancrm_servicekit.faults import patiently
from leancrm_servicekit.metrics import ServiceMetrics


async def test_transient_failures_are_waited_out_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(faults.asyncio, "sleep", no_sleep)
    failures = [asyncpg.CannotConnectNowError("the database system is starting up"),
                KafkaConnectionError("Unable to bootstrap"), ConnectionRefusedError()]

    async def op() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    metrics = ServiceMetrics("t")
    assert await patiently("the thing", op, metrics=metrics) == "done"
    assert waits == [0.5, 1.0, 2.0]
    counted = {(s.labels["dependency"], s.labels["error"]): s.value
               for m in metrics.transient_errors.collect() for s in m.samples if s.name.endswith("_total")}
    assert counted == {("database", "CannotConnectNowError"): 1, ("broker", "KafkaConnectionError"): 1,
                       ("database", "ConnectionRefusedError"): 1}


async def test_anything_else_is_raised_at_once() -> None:
    async def op() -> None:
        raise asyncpg.InsufficientPrivilegeError("permission denied for schema customers")

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await patiently("the thing", op)
