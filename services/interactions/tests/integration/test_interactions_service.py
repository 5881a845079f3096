"""The interactions service over a real broker and PostgreSQL, against contract
section 4 (interactions) and sections 2.3/2.4:

* every rejection of the rule table is a ``rejected`` result with the contract's error
  code and a message naming the rule, and writes no event;
* a hold ends with the interaction (or a transfer);
* a resent command_id is a no-op answered ``duplicate``;
* bad records: what has no usable command_id goes to crm.dlq.v1 with the section 2.4
  headers, what has one is ``rejected``/``invalid`` naming the field; the consumer goes on.

The happy path of every command type is tests/e2e/test_one_contact_over_kafka.py.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from .helpers import EVENTS, Harness, Ids, command

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Step:
    command_type: str
    minute: float
    data: dict[str, Any] = field(default_factory=dict)


def step(command_type: str, minute: float, **data: Any) -> Step:
    return Step(command_type, minute, data)


@dataclass(frozen=True)
class Case:
    setup: tuple[Step, ...]  # each accepted, one event each
    probe: Step  # rejected
    code: str
    rule: tuple[str, ...]  # what the error message must say


START = step("start_interaction", 0)
ASSIGN = step("assign_agent", 1)

#: one or more cases per rule of the table; the rules column is quoted in each id
CASES: dict[str, Case] = {
    "identify_customer: unknown interaction (not_found)": Case(
        (), step("identify_customer", 0), "not_found", ("does not exist",)),
    "end_interaction: unknown interaction (not_found)": Case(
        (), step("end_interaction", 0), "not_found", ("does not exist",)),
    "start_interaction: interaction_id new": Case(
        (START,), step("start_interaction", 1, channel="chat"), "conflict",
        ("already exists", "interaction_id must be new")),
    "queue_interaction: not already queued": Case(
        (START, step("queue_interaction", 1)), step("queue_interaction", 2, queue="general"),
        "conflict", ("already queued",)),
    "assign_agent: no agent currently assigned": Case(
        (START, ASSIGN), step("assign_agent", 2, agent_id="someone-else"), "conflict",
        ("already has agent",)),
    "transfer_interaction: an agent is assigned": Case(
        (START, step("queue_interaction", 1)), step("transfer_interaction", 2), "conflict",
        ("no agent assigned",)),
    "start_hold: agent assigned": Case(
        (START, step("queue_interaction", 1)), step("start_hold", 2), "conflict",
        ("no agent assigned",)),
    "end_hold: on hold": Case(
        (START, ASSIGN), step("end_hold", 2), "conflict", ("not on hold",)),
    "end_hold: on hold (hold already ended)": Case(
        (START, ASSIGN, step("start_hold", 2), step("end_hold", 3)), step("end_hold", 4), "conflict",
        ("not on hold",)),
    "resolve_interaction: not resolved": Case(
        (START, ASSIGN, step("resolve_interaction", 2)), step("resolve_interaction", 3), "conflict",
        ("already resolved",)),
    "resolve_interaction: not abandoned": Case(
        (START, step("queue_interaction", 1), step("abandon_interaction", 2)),
        step("resolve_interaction", 3), "conflict", ("abandoned",)),
    "resolve_interaction: resolved_by agent needs an agent assigned": Case(
        (START, step("queue_interaction", 1)), step("resolve_interaction", 2), "conflict",
        ("no agent assigned",)),
    "abandon_interaction: not resolved": Case(
        (START, step("resolve_interaction", 1, resolved_by="bot")),
        step("abandon_interaction", 2, stage="self_service"), "conflict", ("resolved",)),
    "end_interaction: open (ended twice)": Case(
        (START, step("end_interaction", 1)), step("end_interaction", 2), "conflict",
        ("has ended", "terminal")),
    "occurred_at earlier than the stream's last event (out_of_order)": Case(
        (step("start_interaction", 10), step("queue_interaction", 12)), step("assign_agent", 11),
        "out_of_order", ("earlier than the last event",)),
    "sign_in_agent: agent not signed in": Case(
        (step("sign_in_agent", 0),), step("sign_in_agent", 1, team="digital"), "conflict",
        ("already signed in",)),
    "sign_out_agent: agent signed in (signed out already)": Case(
        (step("sign_in_agent", 0), step("sign_out_agent", 1)), step("sign_out_agent", 2), "conflict",
        ("not signed in",)),
    "sign_out_agent: unknown agent (not_found)": Case(
        (), step("sign_out_agent", 0), "not_found", ("does not exist",)),
}

#: rejections the service adds to the table (stricter than section 4 states; see the report)
BEYOND_TABLE: dict[str, Case] = {
    "start_hold while on hold": Case(
        (START, ASSIGN, step("start_hold", 2)), step("start_hold", 3), "conflict",
        ("already on hold",)),
    "abandon_interaction twice": Case(
        (START, step("queue_interaction", 1), step("abandon_interaction", 2)),
        step("abandon_interaction", 3, stage="ivr"), "conflict", ("already abandoned",)),
}


def _build(s: Step, ids: Ids) -> dict[str, Any]:
    return command(s.command_type, s.minute, ids, **s.data)


def _stream(cmd: dict[str, Any]) -> str:
    data = cmd["data"]
    return str(data["interaction_id"] if "interaction_id" in data else data["agent_id"])


async def _check_rejection(h: Harness, case: Case) -> None:
    ids = Ids()
    setup = [_build(s, ids) for s in case.setup]
    probe = _build(case.probe, ids)
    *accepted, rejected = await h.run(ids, *setup, probe)

    assert [r["status"] for r in accepted] == ["accepted"] * len(setup), accepted
    assert rejected["status"] == "rejected", rejected
    assert rejected["command_type"] == probe["command_type"]
    assert rejected["event_ids"] == []
    assert rejected["error"]["code"] == case.code, rejected
    message = rejected["error"]["message"]
    assert probe["command_type"] in message, message
    for words in case.rule:
        assert words in message, message

    # nothing written: not in the store (committed with the result), not on the topic
    assert await h.stored_caused_by(probe["command_id"]) == 0
    stream = _stream(probe)
    stored = await h.stored(stream)
    assert [e["causation_id"] for e in stored] == [c["command_id"] for c in setup]
    assert [e["stream_version"] for e in stored] == list(range(1, len(setup) + 1))
    if setup:
        published = await h.published(stream, len(setup))
        assert [e["event_id"] for e in published] == [e["event_id"] for e in stored]
        assert len(h.reader.json_on(EVENTS, stream_id=stream)) == len(setup)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_a_broken_rule_is_rejected_with_its_code_and_writes_nothing(
    interactions: Harness, case: Case
) -> None:
    await _check_rejection(interactions, case)


@pytest.mark.parametrize("case", list(BEYOND_TABLE.values()), ids=list(BEYOND_TABLE))
async def test_rules_the_service_adds_to_the_table(interactions: Harness, case: Case) -> None:
    await _check_rejection(interactions, case)


async def test_an_ended_interaction_takes_no_command_of_any_type(interactions: Harness) -> None:
    h, ids = interactions, Ids()
    start, end = command("start_interaction", 0, ids), command("end_interaction", 1, ids)
    later = [command(ct, 2, ids) for ct in (
        "identify_customer", "queue_interaction", "assign_agent", "transfer_interaction",
        "start_hold", "end_hold", "resolve_interaction", "abandon_interaction", "end_interaction")]
    results = await h.run(ids, start, end, *later)
    assert [r["status"] for r in results[:2]] == ["accepted", "accepted"]
    for cmd, res in zip(later, results[2:], strict=True):
        assert (res["status"], res["error"]["code"]) == ("rejected", "conflict"), res
        assert cmd["command_type"] in res["error"]["message"]
        assert "has ended" in res["error"]["message"], res
    assert [e["event_type"] for e in await h.stored(ids.iid)] == [
        "interaction.started", "interaction.ended"]


async def test_equal_occurred_at_is_in_order_and_assign_needs_no_queue(interactions: Harness) -> None:
    """The table asks assign_agent for an open interaction with no agent, not a queued one
    (an outbound call is assigned directly); a command at the same instant as the last
    event is not earlier than it."""
    h, ids = interactions, Ids()
    cmds = [command("start_interaction", 5, ids, direction="outbound"),
            command("assign_agent", 5, ids), command("identify_customer", 5, ids, step="agent")]
    results = await h.run(ids, *cmds)
    assert [r["status"] for r in results] == ["accepted"] * 3, results
    events = await h.published(ids.iid, 3)
    assert [e["event_type"] for e in events] == [
        "interaction.started", "interaction.agent_assigned", "interaction.customer_identified"]


async def test_ending_during_a_hold_ends_the_hold_with_the_interaction(interactions: Harness) -> None:
    """Section 4: end_interaction "ends any hold" and its event is interaction.ended — the
    hold ends with it, no interaction.hold_ended of its own."""
    h, ids = interactions, Ids()
    cmds = [command("start_interaction", 0, ids), command("assign_agent", 1, ids),
            command("start_hold", 2, ids), command("end_interaction", 3, ids)]
    results = await h.run(ids, *cmds)
    assert [r["status"] for r in results] == ["accepted"] * 4, results
    events = await h.published(ids.iid, 4)
    assert [(e["event_type"], e["stream_version"]) for e in events] == [
        ("interaction.started", 1), ("interaction.agent_assigned", 2),
        ("interaction.hold_started", 3), ("interaction.ended", 4)]
    ended = events[3]
    assert results[3]["event_ids"] == [ended["event_id"]]
    assert ended["data"] == {"interaction_id": ids.iid}
    assert ended["occurred_at"] == cmds[3]["occurred_at"]
    assert ended["customer_id"] == ids.cid and ended["causation_id"] == cmds[3]["command_id"]
    assert [e["event_type"] for e in await h.stored(ids.iid)] == [e["event_type"] for e in events]
    # the hold is over: ending it now is refused because the interaction is terminal
    (late,) = await h.run(ids, command("end_hold", 4, ids))
    assert late["error"]["code"] == "conflict" and "has ended" in late["error"]["message"]


async def test_transferring_during_a_hold_ends_the_hold_and_requeues(interactions: Harness) -> None:
    """transfer_interaction "ends any hold; the agent is released and the interaction is
    queued again on to_queue by this event"."""
    h, ids = interactions, Ids()
    first = [command("start_interaction", 0, ids), command("assign_agent", 1, ids),
             command("start_hold", 2, ids), command("transfer_interaction", 3, ids)]
    assert [r["status"] for r in await h.run(ids, *first)] == ["accepted"] * 4
    requeue = command("queue_interaction", 4, ids, queue="general")
    hold = command("start_hold", 4, ids)
    (requeued, no_agent) = await h.run(ids, requeue, hold)
    assert requeued["error"]["code"] == "conflict" and "already queued on email_billing" in (
        requeued["error"]["message"])
    assert no_agent["error"]["code"] == "conflict" and "no agent assigned" in no_agent["error"]["message"]
    second = [command("assign_agent", 5, ids, agent_id=f"{ids.aid}-2", team="digital"),
              command("start_hold", 6, ids), command("end_hold", 7, ids),
              command("end_interaction", 8, ids)]
    assert [r["status"] for r in await h.run(ids, *second)] == ["accepted"] * 4
    events = await h.published(ids.iid, 8)
    assert [e["event_type"] for e in events] == [
        "interaction.started", "interaction.agent_assigned", "interaction.hold_started",
        "interaction.transferred", "interaction.agent_assigned", "interaction.hold_started",
        "interaction.hold_ended", "interaction.ended"]
    assert [e["stream_version"] for e in events] == list(range(1, 9))
    transferred = events[3]["data"]
    assert transferred == {**first[3]["data"], "from_agent_id": ids.aid, "from_channel": "phone"}


async def test_a_resent_command_id_is_a_no_op_answered_duplicate(interactions: Harness) -> None:
    h, ids = interactions, Ids()
    start = command("start_interaction", 0, ids)
    await h.send(start, ids.cid)
    await h.send(start, ids.cid)  # resent at once (likely the same batch)
    await h.results(start, 2)
    await h.send(start, ids.cid)  # resent after it was handled
    results = await h.results(start, 3)
    assert [r["status"] for r in results] == ["accepted", "duplicate", "duplicate"], results
    assert all(r["error"] is None and r["command_type"] == "start_interaction" for r in results)
    assert len(results[0]["event_ids"]) == 1
    assert results[1]["event_ids"] == results[2]["event_ids"] == results[0]["event_ids"]

    # a rejected command resent is a duplicate too (the contract's results: a duplicate
    # carries the original's event ids, here none, and no error), and writes nothing
    queue, queue_again = command("queue_interaction", 1, ids), command("queue_interaction", 2, ids)
    assert [r["status"] for r in await h.run(ids, queue, queue_again)] == ["accepted", "rejected"]
    await h.send(queue_again, ids.cid)
    resent = (await h.results(queue_again, 2))[1]
    assert resent["status"] == "duplicate" and resent["event_ids"] == [] and resent["error"] is None

    # exactly one set of events: the stream is gapless, so a later command's event
    # (same key, same partition) is version 3 only if the resends added nothing
    assign = command("assign_agent", 3, ids)
    await h.run(ids, assign)
    events = await h.published(ids.iid, 3)
    assert [(e["causation_id"], e["stream_version"]) for e in events] == [
        (start["command_id"], 1), (queue["command_id"], 2), (assign["command_id"], 3)]
    assert events[0]["event_id"] == results[0]["event_ids"][0]
    assert len(h.reader.json_on(EVENTS, stream_id=ids.iid)) == 3
    assert await h.stored_caused_by(start["command_id"]) == 1
    assert await h.stored_caused_by(queue_again["command_id"]) == 0


# --- bad records ---------------------------------------------------------------------


def _without(d: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != name}


async def test_invalid_commands_are_rejected_naming_the_field_and_bad_records_are_dead_lettered(
    interactions: Harness,
) -> None:
    h = interactions
    key = f"bad-{uuid.uuid4()}"  # every bad record under one key: one DLQ partition, in order
    ids = Ids()
    start = command("start_interaction", 0, ids)
    # (command, what the error must name): usable command_id, so rejected/invalid, no DLQ
    invalid: list[tuple[dict[str, Any], str]] = [
        ({**command("start_interaction", 0, Ids()), "command_type": "close_ticket"}, "command_type"),
        (command("start_interaction", 0, Ids(), channel="fax"), "data.channel"),
        (command("start_interaction", 0, Ids(), interaction_id="not-a-uuid"), "data.interaction_id"),
        (command("start_interaction", 0, Ids(), direction="sideways"), "data.direction"),
        ({**command("start_interaction", 0, Ids()), "data": _without(start["data"], "reason")},
         "data.reason"),
        ({**command("queue_interaction", 0, ids), "occurred_at": "2026-11-23T09:00:00"},
         "occurred_at"),
        (command("assign_agent", 0, ids, agent_id="a" * 65), "data.agent_id"),
    ]
    # (value, dlq_error_code): nothing to address a result to
    dead: list[tuple[bytes, str]] = [
        (b"\xff\xfe\x00 not even UTF-8", "undecodable"),
        (b"start_interaction please", "undecodable"),
        (json.dumps(start).encode()[:-7], "undecodable"),  # truncated JSON
        (json.dumps([start]).encode(), "invalid_envelope"),
        (json.dumps(_without(start, "command_id")).encode(), "invalid_envelope"),
        (json.dumps({**start, "command_id": "x" * 129}).encode(), "invalid_envelope"),
        (json.dumps({**start, "command_id": 42}).encode(), "invalid_envelope"),
    ]
    good = command("start_interaction", 0, ids)

    for cmd, _ in invalid:
        await h.send(cmd, key)
    for value, _ in dead:
        await h.send(value, key, message_type="start_interaction")
    await h.send(good, ids.cid)

    (ok,) = await h.results(good)  # the consumer went on past all of them
    assert ok["status"] == "accepted", ok
    assert [e["causation_id"] for e in await h.published(ids.iid, 1)] == [good["command_id"]]

    for cmd, name in invalid:
        await h.check_invalid(cmd, name)
    # exactly the undecodable/unaddressable ones, in order: the invalid ones were sent
    # earlier under the same key, so had any been dead-lettered it would come first
    await h.check_dead_letters(key, dead)
