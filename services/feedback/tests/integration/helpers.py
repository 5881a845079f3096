"""Sending feedback commands over Kafka and reading what the service answered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from leancrm_contracts.topics import COMMAND_RESULTS, FEEDBACK_COMMANDS, FEEDBACK_EVENTS
from leancrm_devstack.testing import ServiceHarness

COMMANDS = FEEDBACK_COMMANDS
EVENTS = FEEDBACK_EVENTS
RESULTS = COMMAND_RESULTS
#: business time of the scenarios: commands name minutes after it
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

NEGATIVE = "This is terrible. The app crashed twice and support was useless; I am furious."
POSITIVE = "I love the new dashboard, it is fantastic and the team was wonderfully helpful!"


def ts(minute: float) -> str:
    """RFC 3339 (``Z``) of ``minute`` minutes after T0."""
    return (T0 + timedelta(minutes=minute)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def command(command_type: str, minute: float, data: dict[str, Any],
            command_id: str | None = None) -> dict[str, Any]:
    """A command envelope (contract 2.2)."""
    return {
        "command_id": command_id or f"cmd-{uuid.uuid4()}",
        "command_type": command_type,
        "occurred_at": ts(minute),
        "correlation_id": "corr-feedback",
        "data": data,
    }


def submit(minute: float = 0, *, customer_id: str | None = None, **data: Any) -> dict[str, Any]:
    """``submit_feedback`` with a fresh feedback_id; fields not given are left out
    (``customer_id`` left out makes it anonymous)."""
    body: dict[str, Any] = {"feedback_id": str(uuid.uuid4()), "source": "survey", "text": POSITIVE}
    if customer_id is not None:
        body["customer_id"] = customer_id
    return command("submit_feedback", minute, {**body, **data})


def vote(feedback_id: str, voter: str, value: int, minute: float = 1) -> dict[str, Any]:
    return command("vote_idea", minute,
                   {"feedback_id": feedback_id, "voter_customer_id": voter, "vote": value})


def key_of(cmd: dict[str, Any]) -> str:
    """The contract's command key: customer_id, or feedback_id when anonymous."""
    data = cmd["data"]
    return str(data.get("customer_id") or data["feedback_id"])


class Harness(ServiceHarness):
    """The kit's harness, sending under the feedback contract's keys."""

    async def run(self, *cmds: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
        """Send ``cmds`` in order (under ``key``, else their contract keys); their results."""
        for c in cmds:
            await self.send(c, key if key is not None else key_of(c))
        return [await self.result(c) for c in cmds]
