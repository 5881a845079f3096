"""A command built by the client is what the services accept (pure)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from leancrm_client.commands import TOPIC_OF, build_command
from leancrm_client.results import ResultTimeout, ResultWaiter
from leancrm_contracts import customers, feedback, improvements
from leancrm_contracts import interactions as m
from leancrm_contracts.registry import ALL_COMMANDS, COMMANDS_BY_TOPIC
from leancrm_servicekit.decider import Command
from leancrm_servicekit.inbound import InboundRecord, decode_command

AT = datetime(2026, 11, 23, 9, 15, 2, 120000, tzinfo=UTC)


def test_a_follow_up_interaction_command_is_keyed_by_its_interaction() -> None:
    iid = uuid.uuid4()
    out = build_command(m.AssignAgent(interaction_id=iid, agent_id="a-17", team="billing"),
                        occurred_at=AT, command_id="c-1", correlation_id="x-1")
    assert (out.topic, out.key) == ("crm.interactions.commands.v1", str(iid))
    assert dict(out.headers) == {"content-type": b"application/json", "message_type": b"assign_agent"}
    assert json.loads(out.value) == {
        "command_id": "c-1", "command_type": "assign_agent", "occurred_at": "2026-11-23T09:15:02.120Z",
        "correlation_id": "x-1", "data": {"interaction_id": str(iid), "agent_id": "a-17", "team": "billing"}}


def test_agent_and_anonymous_feedback_commands_have_their_own_keys() -> None:
    assert build_command(m.SignInAgent(agent_id="a-17", team="billing")).key == "a-17"
    fid = uuid.uuid4()
    anonymous = feedback.SubmitFeedback(feedback_id=fid, source="idea", text="Dark mode")
    assert build_command(anonymous).key == str(fid)
    vote = feedback.VoteIdea(feedback_id=fid, voter_customer_id=uuid.uuid4(), vote=1)
    assert build_command(vote).key == str(fid)


def test_improvement_commands_go_to_their_topic_keyed_by_the_improvement() -> None:
    data = improvements.EndImprovement(improvement_id=uuid.uuid4(), outcome="adopted",
                                       note="Repeat calls fell beyond the old limits.")
    out = build_command(data)
    assert (out.topic, out.key) == ("crm.improvements.commands.v1", str(data.improvement_id))


def test_every_command_type_has_its_topic() -> None:
    assert set(TOPIC_OF) == set(ALL_COMMANDS)


def test_what_the_client_builds_the_services_decode_as_a_command() -> None:
    out = build_command(customers.RegisterCustomer(customer_id=uuid.uuid4(), name="Ada",
                                                   segment="retail"))
    record = InboundRecord(out.topic, 0, 0, out.key.encode(), out.value, out.headers)
    decoded = decode_command(record, COMMANDS_BY_TOPIC[out.topic])
    assert isinstance(decoded, Command) and decoded.command_id == out.command_id
    assert out.command_id.startswith("cmd-") and out.envelope.occurred_at.tzinfo is not None


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        build_command(m.EndInteraction(interaction_id=uuid.uuid4()), occurred_at=datetime(2026, 1, 1))


async def test_the_waiter_hands_each_result_to_its_future_and_passes_over_the_rest() -> None:
    waiter = ResultWaiter()
    mine = waiter.expect("c-1")
    assert waiter.expect("c-1") is mine
    result = {"command_id": "c-1", "command_type": "forget_customer", "status": "rejected",
              "event_ids": [], "error": {"code": "not_found", "message": "no such customer"},
              "processed_at": "2026-11-23T09:15:03Z"}
    assert waiter.take(json.dumps({**result, "command_id": "someone-elses"}).encode()) is None
    assert waiter.take(b"\xff not json") is None and waiter.take(None) is None
    assert waiter.take(json.dumps(result).encode()) is not None
    got = await mine
    assert got.status == "rejected" and got.error is not None and got.error.code == "not_found"
    assert waiter.waiting == 0
    assert waiter.take(json.dumps(result).encode()) is None  # delivered twice: once is enough


async def test_a_result_that_does_not_come_is_a_timeout_naming_what_to_do() -> None:
    from leancrm_client.client import Pending

    pending = Pending("c-9", asyncio.get_running_loop().create_future(), 0.01)
    with pytest.raises(ResultTimeout, match="send it again with the same command_id"):
        await pending.result()
