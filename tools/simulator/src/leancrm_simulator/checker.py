"""A checker of command streams against the contract's rules (section 2.2, 3 and 4).

It replays commands in the order they would be sent and reports every command the
services would reject (``not_found``, ``conflict``, ``out_of_order``, ``invalid``),
plus what the simulator promises beyond that: every stream keeps one Kafka key
(so its commands stay in one partition, in order), agents work only while signed
in and on one contact at a time, no agent stays signed in past midnight, and a hold
or queue abandonment only happens on hold or in a queue. A valid scenario gives an
empty list.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .model import (
    ABANDON_STAGES,
    AGENT_COMMANDS,
    CHANNELS,
    CUSTOMER_COMMANDS,
    DAY,
    FEEDBACK_SOURCES,
    IDENTIFY_STEPS,
    IMPROVEMENT_COMMANDS,
    RESOLVED_BY,
    TOPIC_OF,
    SimCommand,
    rfc3339,
)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SLUG = re.compile(r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$")


@dataclass(slots=True)
class _Interaction:
    key: str
    channel: str
    last_ms: int
    queue: str | None = None
    agent_id: str | None = None
    on_hold: bool = False
    resolved: bool = False
    abandoned: bool = False
    ended: bool = False


@dataclass(slots=True)
class _Agent:
    signed_in_ms: int | None = None
    last_ms: int = 0
    handling: str | None = None


@dataclass(slots=True)
class _Customer:
    forgotten: bool = False
    last_ms: int = 0


@dataclass(slots=True)
class _Feedback:
    key: str
    source: str
    at_ms: int
    votes: dict[str, int] = field(default_factory=dict)


class Checker:
    """Feed commands in send order with ``check``; read ``violations``."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self.command_ids: set[str] = set()
        self.last_ms: int | None = None
        self.interactions: dict[str, _Interaction] = {}
        self.agents: dict[str, _Agent] = {}
        self.customers: dict[str, _Customer] = {}
        self.feedback: dict[str, _Feedback] = {}
        #: improvement_id → its starts_on (YYYY-MM-DD) and whether it has ended
        self.improvements: dict[str, tuple[str, bool]] = {}

    def _bad(self, command: SimCommand, message: str) -> None:
        self.violations.append(f"{command.command_id} {command.command_type}: {message}")

    def check_all(self, commands: Iterable[SimCommand]) -> list[str]:
        for command in commands:
            self.check(command)
        self.finish()
        return self.violations

    def finish(self) -> None:
        for agent_id, agent in self.agents.items():
            if agent.signed_in_ms is not None:
                self.violations.append(f"agent {agent_id} is still signed in at the end")

    def check(self, c: SimCommand) -> None:
        self._envelope(c)
        ct = c.command_type
        if ct in AGENT_COMMANDS:
            self._agent(c)
        elif ct in CUSTOMER_COMMANDS:
            self._customer(c)
        elif ct in ("submit_feedback", "vote_idea"):
            self._feedback(c)
        elif ct in IMPROVEMENT_COMMANDS:
            self._improvement(c)
        else:
            self._interaction(c)

    # -- envelope --------------------------------------------------------------------

    def _envelope(self, c: SimCommand) -> None:
        env = c.envelope
        if set(env) != {"command_id", "command_type", "occurred_at", "correlation_id", "data"}:
            self._bad(c, f"envelope fields {sorted(env)}")
        cid = env.get("command_id")
        if not isinstance(cid, str) or not 1 <= len(cid) <= 128:
            self._bad(c, "command_id must be a string of 1-128 characters")
        elif cid in self.command_ids:
            self._bad(c, "command_id is not unique")
        else:
            self.command_ids.add(cid)
        if TOPIC_OF.get(c.command_type) != c.topic:
            self._bad(c, f"sent to {c.topic}, belongs on {TOPIC_OF.get(c.command_type)}")
        occurred = env.get("occurred_at")
        if not isinstance(occurred, str) or not RFC3339.match(occurred) or occurred != rfc3339(
                c.at_ms):
            self._bad(c, f"occurred_at {occurred!r} is not the RFC 3339 form of its business time")
        if env.get("correlation_id") is not None and not isinstance(env["correlation_id"], str):
            self._bad(c, "correlation_id must be a string or null")
        if not isinstance(env.get("data"), dict):
            self._bad(c, "data must be an object")
        if self.last_ms is not None and c.at_ms < self.last_ms:
            self._bad(c, "the stream of commands goes back in business time")
        self.last_ms = c.at_ms

    def _uuid(self, c: SimCommand, name: str, value: Any, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        try:
            uuid.UUID(str(value))
        except ValueError:
            self._bad(c, f"{name} {value!r} is not a UUID")

    def _one_of(self, c: SimCommand, name: str, value: Any, allowed: Iterable[Any]) -> None:
        if value not in tuple(allowed):
            self._bad(c, f"{name} {value!r} is not one of {tuple(allowed)}")

    def _slug(self, c: SimCommand, name: str, value: Any) -> None:
        if not isinstance(value, str) or not 1 <= len(value) <= 64 or not SLUG.match(value):
            self._bad(c, f"{name} {value!r} is not a lowercase slug of 1-64 characters")

    # -- customers -------------------------------------------------------------------

    def _customer(self, c: SimCommand) -> None:
        d, ct = c.data, c.command_type
        cid = str(d.get("customer_id"))
        self._uuid(c, "customer_id", cid)
        if c.key != cid:
            self._bad(c, "key must be the customer_id")
        state = self.customers.get(cid)
        if ct == "register_customer":
            if state is not None:
                self._bad(c, "customer already registered")
            if not isinstance(d.get("name"), str) or not d["name"]:
                self._bad(c, "name is required")
            self._slug(c, "segment", d.get("segment"))
            self.customers[cid] = _Customer(last_ms=c.at_ms)
            return
        if state is None:
            self._bad(c, "customer not registered (not_found)")
            return
        if c.at_ms < state.last_ms:
            self._bad(c, "out_of_order on the customer stream")
        state.last_ms = c.at_ms
        if ct == "change_customer_details":
            if state.forgotten:
                self._bad(c, "details change after forget_customer")
            if all(d.get(f) is None for f in ("name", "email", "phone", "segment")):
                self._bad(c, "no field to change")
        elif ct == "change_consent":
            self._one_of(c, "channel", d.get("channel"), CHANNELS)
            if not isinstance(d.get("granted"), bool):
                self._bad(c, "granted must be a boolean")
        elif ct == "forget_customer":
            if state.forgotten:
                self._bad(c, "customer already forgotten")
            state.forgotten = True

    # -- agents ----------------------------------------------------------------------

    def _agent(self, c: SimCommand) -> None:
        d = c.data
        aid = d.get("agent_id")
        if not isinstance(aid, str) or not 1 <= len(aid) <= 64:
            self._bad(c, "agent_id must be 1-64 characters")
            return
        if c.key != aid:
            self._bad(c, "key must be the agent_id")
        agent = self.agents.setdefault(aid, _Agent(last_ms=c.at_ms))
        if c.at_ms < agent.last_ms:
            self._bad(c, "out_of_order on the agent stream")
        agent.last_ms = c.at_ms
        if c.command_type == "sign_in_agent":
            self._slug(c, "team", d.get("team"))
            if agent.signed_in_ms is not None:
                self._bad(c, "agent already signed in")
            agent.signed_in_ms = c.at_ms
            return
        if agent.signed_in_ms is None:
            self._bad(c, "agent not signed in")
            return
        if agent.signed_in_ms // DAY != c.at_ms // DAY:
            self._bad(c, "sign-in period not closed on the day it started")
        if agent.handling is not None:
            self._bad(c, f"agent signs out while handling {agent.handling}")
        agent.signed_in_ms = None

    # -- interactions ----------------------------------------------------------------

    def _interaction(self, c: SimCommand) -> None:
        d, ct = c.data, c.command_type
        iid = str(d.get("interaction_id"))
        self._uuid(c, "interaction_id", iid)
        if ct == "start_interaction":
            if iid in self.interactions:
                self._bad(c, "interaction_id is not new")
                return
            self._uuid(c, "customer_id", d.get("customer_id"))
            self._one_of(c, "channel", d.get("channel"), CHANNELS)
            self._slug(c, "reason", d.get("reason"))
            self._one_of(c, "direction", d.get("direction"), ("inbound", "outbound"))
            if c.key != d.get("customer_id"):
                self._bad(c, "key must be the customer_id")
            self.interactions[iid] = _Interaction(c.key, str(d.get("channel")), c.at_ms)
            return
        it = self.interactions.get(iid)
        if it is None:
            self._bad(c, "interaction not started (not_found)")
            return
        if c.key != it.key:
            self._bad(c, "key differs from the interaction's customer_id")
        if c.at_ms < it.last_ms:
            self._bad(c, "out_of_order on the interaction stream")
        it.last_ms = c.at_ms
        if it.ended:
            self._bad(c, "command on an ended interaction")
            return
        match ct:
            case "identify_customer":
                self._one_of(c, "step", d.get("step"), IDENTIFY_STEPS)
                self._slug(c, "method", d.get("method"))
            case "queue_interaction":
                self._slug(c, "queue", d.get("queue"))
                if it.queue is not None or it.agent_id is not None:
                    self._bad(c, "already queued or with an agent")
                it.queue = str(d.get("queue"))
            case "assign_agent":
                self._slug(c, "team", d.get("team"))
                if it.agent_id is not None:
                    self._bad(c, "an agent is already assigned")
                aid = str(d.get("agent_id"))
                agent = self.agents.get(aid)
                if agent is None or agent.signed_in_ms is None:
                    self._bad(c, f"agent {aid} is not signed in")
                elif agent.handling is not None:
                    self._bad(c, f"agent {aid} is busy with {agent.handling}")
                else:
                    agent.handling = iid
                it.agent_id, it.queue = aid, None
            case "transfer_interaction":
                self._slug(c, "to_queue", d.get("to_queue"))
                self._slug(c, "reason", d.get("reason"))
                if d.get("to_channel") is not None:
                    self._one_of(c, "to_channel", d.get("to_channel"), CHANNELS)
                if it.agent_id is None:
                    self._bad(c, "transfer without an agent")
                self._release(it, iid)
                it.queue, it.on_hold = str(d.get("to_queue")), False
                it.channel = str(d.get("to_channel") or it.channel)
            case "start_hold":
                if it.agent_id is None or it.on_hold:
                    self._bad(c, "hold without an agent, or already on hold")
                it.on_hold = True
            case "end_hold":
                if not it.on_hold:
                    self._bad(c, "not on hold")
                it.on_hold = False
            case "resolve_interaction":
                self._one_of(c, "resolved_by", d.get("resolved_by"), RESOLVED_BY)
                if it.resolved or it.abandoned:
                    self._bad(c, "already resolved or abandoned")
                if d.get("resolved_by") == "agent" and it.agent_id is None:
                    self._bad(c, "resolved by an agent, but none is assigned")
                it.resolved = True
            case "abandon_interaction":
                stage = d.get("stage")
                self._one_of(c, "stage", stage, ABANDON_STAGES)
                if it.resolved or it.abandoned:
                    self._bad(c, "already resolved or abandoned")
                if (stage == "hold") != it.on_hold or (stage == "queue") != (it.queue is not None):
                    self._bad(c, f"abandoned at stage {stage} while not there")
                it.abandoned = True
            case "end_interaction":
                self._release(it, iid)
                it.ended, it.on_hold = True, False
            case _:
                self._bad(c, "unknown command type")

    def _release(self, it: _Interaction, iid: str) -> None:
        if it.agent_id is not None:
            agent = self.agents.get(it.agent_id)
            if agent is not None and agent.handling == iid:
                agent.handling = None
        it.agent_id = None

    # -- feedback --------------------------------------------------------------------

    def _feedback(self, c: SimCommand) -> None:
        d = c.data
        fid = str(d.get("feedback_id"))
        self._uuid(c, "feedback_id", fid)
        if c.command_type == "submit_feedback":
            if fid in self.feedback:
                self._bad(c, "feedback_id is not new")
                return
            self._uuid(c, "customer_id", d.get("customer_id"), nullable=True)
            self._uuid(c, "interaction_id", d.get("interaction_id"), nullable=True)
            self._one_of(c, "source", d.get("source"), FEEDBACK_SOURCES)
            text = d.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 5000:
                self._bad(c, "text must be 1-5000 characters")
            rating = d.get("rating")
            if rating is not None and (not isinstance(rating, int) or not 0 <= rating <= 10):
                self._bad(c, f"rating {rating!r} is not 0-10")
            if d.get("topic") is not None:
                self._slug(c, "topic", d.get("topic"))
            expected_key = d.get("customer_id") or fid
            if c.key != expected_key:
                self._bad(c, "key must be the customer_id, or the feedback_id when anonymous")
            self.feedback[fid] = _Feedback(c.key, str(d.get("source")), c.at_ms)
            return
        idea = self.feedback.get(fid)
        if idea is None:
            self._bad(c, "vote on feedback that does not exist (not_found)")
            return
        if idea.source != "idea":
            self._bad(c, "vote on feedback that is not an idea")
        if c.key != idea.key:
            self._bad(c, "vote not keyed like its idea (could overtake it)")
        voter = str(d.get("voter_customer_id"))
        self._uuid(c, "voter_customer_id", voter)
        self._one_of(c, "vote", d.get("vote"), (1, -1))
        if c.at_ms < max(idea.at_ms, idea.votes.get(voter, idea.at_ms)):
            self._bad(c, "vote earlier than the idea or this voter's last vote (out_of_order)")
        idea.votes[voter] = c.at_ms


    # -- improvements ----------------------------------------------------------------

    def _improvement(self, c: SimCommand) -> None:
        d = c.data
        iid = str(d.get("improvement_id"))
        self._uuid(c, "improvement_id", iid)
        if c.key != iid:
            self._bad(c, "key must be the improvement_id")
        if c.command_type == "start_improvement":
            if iid in self.improvements:
                self._bad(c, "improvement_id is not new (conflict)")
                return
            title = d.get("title")
            if not isinstance(title, str) or not 1 <= len(title) <= 200:
                self._bad(c, "title must be 1-200 characters")
            self._slug(c, "owner_team", d.get("owner_team"))
            expected = d.get("expected") or {}
            self._one_of(c, "expected.direction", expected.get("direction"), ("decrease", "increase"))
            self.improvements[iid] = (str(d.get("starts_on")), False)
            return
        started = self.improvements.get(iid)
        if started is None:
            self._bad(c, "end of an improvement that was not started (not_found)")
            return
        if started[1]:
            self._bad(c, "end of an improvement that has ended (conflict)")
        if rfc3339(c.at_ms)[:10] < started[0]:
            self._bad(c, "ends before its start date (conflict)")
        self._one_of(c, "outcome", d.get("outcome"), ("adopted", "abandoned"))
        self.improvements[iid] = (started[0], True)


def check(commands: Iterable[SimCommand]) -> list[str]:
    """Every rule a stream of commands breaks, in order (empty: all would be accepted)."""
    return Checker().check_all(commands)
