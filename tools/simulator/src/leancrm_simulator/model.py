"""The vocabulary of the simulated front office and the commands it sends (contract §1–4)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

CUSTOMERS_COMMANDS = "crm.customers.commands.v1"
INTERACTIONS_COMMANDS = "crm.interactions.commands.v1"
FEEDBACK_COMMANDS = "crm.feedback.commands.v1"
IMPROVEMENTS_COMMANDS = "crm.improvements.commands.v1"
COMMAND_RESULTS = "crm.command-results.v1"
COMMAND_TOPICS = (CUSTOMERS_COMMANDS, INTERACTIONS_COMMANDS, FEEDBACK_COMMANDS, IMPROVEMENTS_COMMANDS)

CUSTOMER_COMMANDS = ("register_customer", "change_customer_details", "change_consent",
                     "forget_customer")
INTERACTION_COMMANDS = ("start_interaction", "identify_customer", "queue_interaction",
                        "assign_agent", "transfer_interaction", "start_hold", "end_hold",
                        "resolve_interaction", "abandon_interaction", "end_interaction")
AGENT_COMMANDS = ("sign_in_agent", "sign_out_agent")
FEEDBACK_COMMAND_TYPES = ("submit_feedback", "vote_idea")
IMPROVEMENT_COMMANDS = ("start_improvement", "end_improvement")
TOPIC_OF: dict[str, str] = {
    **dict.fromkeys(CUSTOMER_COMMANDS, CUSTOMERS_COMMANDS),
    **dict.fromkeys(INTERACTION_COMMANDS + AGENT_COMMANDS, INTERACTIONS_COMMANDS),
    **dict.fromkeys(FEEDBACK_COMMAND_TYPES, FEEDBACK_COMMANDS),
    **dict.fromkeys(IMPROVEMENT_COMMANDS, IMPROVEMENTS_COMMANDS),
}

ASSISTED = ("phone", "chat", "email", "sms", "social")
SELF_SERVICE = ("web_self_service", "community", "bot")
CHANNELS = ASSISTED + SELF_SERVICE

#: Teams and the queues they work. Phone queues are by reason; chat, sms and social
#: go to ``digital``; email has its own (slow) queue, worked by the digital team.
TEAMS = ("billing_team", "tech_support", "retention", "customer_service", "digital")
QUEUE_TEAM: dict[str, str] = {
    "billing": "billing_team",
    "tech_support": "tech_support",
    "retention": "retention",
    "customer_service": "customer_service",
    "digital": "digital",
    "email": "digital",
}

#: reason → (share of new contacts, phone queue the IVR routes it to)
REASONS: dict[str, tuple[float, str]] = {
    "billing": (0.22, "billing"),
    "technical_issue": (0.18, "tech_support"),
    "order_status": (0.15, "customer_service"),
    "product_info": (0.11, "customer_service"),
    "complaint": (0.09, "customer_service"),
    "cancellation": (0.08, "retention"),
    "price_offer": (0.10, "retention"),
    "address_change": (0.07, "customer_service"),
}

#: Where a first agent sends what they cannot solve (same channel: motion).
SPECIALIST_QUEUE: dict[str, tuple[str, ...]] = {
    "billing": ("customer_service", "retention"),
    "tech_support": ("customer_service", "billing"),
    "retention": ("billing", "customer_service"),
    "customer_service": ("billing", "tech_support", "retention"),
    "digital": ("billing", "tech_support", "customer_service"),
    "email": ("billing", "tech_support", "customer_service"),
}

SEGMENTS = ("retail", "small_business", "premium")
FEEDBACK_SOURCES = ("tweet", "survey", "idea", "review", "community_post", "complaint")
IDENTIFY_STEPS = ("ivr", "agent", "bot", "self_service")
RESOLVED_BY = ("agent", "self_service", "community", "bot")
ABANDON_STAGES = ("ivr", "queue", "hold", "self_service")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def ms_of(moment: datetime) -> int:
    """Milliseconds since the epoch (business time is kept in whole milliseconds)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def rfc3339(ms: int) -> str:
    """``2026-11-23T09:15:02.120Z``: RFC 3339, UTC, millisecond precision."""
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def stable_uuid(*parts: object) -> str:
    """A version-4-shaped UUID that depends only on ``parts``."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True, slots=True)
class SimCommand:
    """One command to send: business time, topic, Kafka key and the JSON envelope (§2.2)."""

    at_ms: int
    seq: int
    topic: str
    key: str
    envelope: dict[str, Any]

    @property
    def command_type(self) -> str:
        return str(self.envelope["command_type"])

    @property
    def command_id(self) -> str:
        return str(self.envelope["command_id"])

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.envelope["data"]
        return data

    @property
    def stream_id(self) -> str:
        """The aggregate the command addresses (contract §4)."""
        name = ("agent_id" if self.command_type in AGENT_COMMANDS
                else "interaction_id" if self.command_type in INTERACTION_COMMANDS
                else "feedback_id" if self.command_type in FEEDBACK_COMMAND_TYPES
                else "improvement_id" if self.command_type in IMPROVEMENT_COMMANDS
                else "customer_id")
        return str(self.data[name])

    def headers(self) -> list[tuple[str, bytes]]:
        return [("content-type", b"application/json"),
                ("message_type", self.command_type.encode())]


class Emitter:
    """Builds envelopes with deterministic, unique command ids in generation order."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.commands: list[SimCommand] = []

    def emit(self, at_ms: int, key: str, command_type: str, data: dict[str, Any],
             correlation_id: str | None = None) -> SimCommand:
        seq = len(self.commands)
        envelope = {
            "command_id": f"sim-{self.namespace}-{seq:08d}",
            "command_type": command_type,
            "occurred_at": rfc3339(at_ms),
            "correlation_id": correlation_id,
            "data": data,
        }
        command = SimCommand(at_ms, seq, TOPIC_OF[command_type], key, envelope)
        self.commands.append(command)
        return command

    def in_time_order(self) -> list[SimCommand]:
        return sorted(self.commands, key=lambda c: (c.at_ms, c.seq))
