"""Sending interactions commands over Kafka and reading what the service answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leancrm_contracts.topics import COMMAND_RESULTS, INTERACTIONS_COMMANDS, INTERACTIONS_EVENTS
from leancrm_devstack.testing import ServiceHarness

COMMANDS = INTERACTIONS_COMMANDS
EVENTS = INTERACTIONS_EVENTS
RESULTS = COMMAND_RESULTS
#: business time of the scenarios: commands name minutes after it
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

AGENT_COMMANDS = frozenset({"sign_in_agent", "sign_out_agent"})


def ts(minute: float) -> str:
    """RFC 3339 (``Z``) of ``minute`` minutes after T0."""
    return (T0 + timedelta(minutes=minute)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Ids:
    """The ids one scenario uses: fresh for every scenario."""

    iid: str = field(default_factory=lambda: str(uuid.uuid4()))
    cid: str = field(default_factory=lambda: str(uuid.uuid4()))
    aid: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex[:10]}")


def _defaults(command_type: str, ids: Ids) -> dict[str, Any]:
    """A valid ``data`` for each command type (fields of contract section 4)."""
    return {
        "start_interaction": {"interaction_id": ids.iid, "customer_id": ids.cid, "channel": "phone",
                              "reason": "billing", "direction": "inbound"},
        "identify_customer": {"interaction_id": ids.iid, "step": "ivr", "method": "account_number"},
        "queue_interaction": {"interaction_id": ids.iid, "queue": "billing"},
        "assign_agent": {"interaction_id": ids.iid, "agent_id": ids.aid, "team": "billing_team"},
        "transfer_interaction": {"interaction_id": ids.iid, "to_queue": "email_billing",
                                 "to_channel": "email", "reason": "needs_documents"},
        "start_hold": {"interaction_id": ids.iid},
        "end_hold": {"interaction_id": ids.iid},
        "resolve_interaction": {"interaction_id": ids.iid, "resolved_by": "agent"},
        "abandon_interaction": {"interaction_id": ids.iid, "stage": "queue"},
        "end_interaction": {"interaction_id": ids.iid},
        "sign_in_agent": {"agent_id": ids.aid, "team": "billing_team"},
        "sign_out_agent": {"agent_id": ids.aid},
    }[command_type]


def command(command_type: str, minute: float, ids: Ids, command_id: str | None = None,
            **data: Any) -> dict[str, Any]:
    """A command envelope (contract 2.2) with valid data for ``ids``; ``data`` overrides."""
    return {
        "command_id": command_id or f"cmd-{uuid.uuid4()}",
        "command_type": command_type,
        "occurred_at": ts(minute),
        "correlation_id": f"corr-{ids.iid[:8]}",
        "data": {**_defaults(command_type, ids), **data},
    }


def key_of(cmd: dict[str, Any], ids: Ids) -> str:
    """The contract's command key: customer_id, or agent_id for agent commands."""
    return ids.aid if cmd["command_type"] in AGENT_COMMANDS else ids.cid


class Harness(ServiceHarness):
    """The kit's harness, sending under the interactions contract's keys."""

    async def run(self, ids: Ids, *cmds: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``cmds`` in order under their contract keys; their results, in the same order."""
        for c in cmds:
            await self.send(c, key_of(c, ids))
        return [await self.result(c) for c in cmds]
