"""The improvements service end to end over a real broker and PostgreSQL: commands sent
as another system would, results, events and the event store looked at (contract
section 4, improvements)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leancrm_contracts.examples import COMMAND_EXAMPLES
from leancrm_devstack.testing import ServiceHarness

pytestmark = pytest.mark.integration


def command(command_type: str, improvement_id: str, at: str = "2026-12-01T09:00:00.000Z",
            **data: Any) -> dict[str, Any]:
    return {"command_id": f"cmd-{uuid.uuid4()}", "command_type": command_type, "occurred_at": at,
            "correlation_id": "corr-1",
            "data": {**COMMAND_EXAMPLES[command_type], "improvement_id": improvement_id, **data}}


async def test_start_then_end_gives_two_events_on_the_improvements_stream(
    improvements: ServiceHarness,
) -> None:
    iid = str(uuid.uuid4())
    start = command("start_improvement", iid)
    end = command("end_improvement", iid, at="2026-12-14T17:00:00.000Z", outcome="abandoned",
                  note="no change beyond normal variation")
    await improvements.send(start, key=iid)
    await improvements.send(end, key=iid)
    assert (await improvements.result(start))["status"] == "accepted"
    assert (await improvements.result(end))["status"] == "accepted"
    events = await improvements.published(iid, 2)
    assert [e["event_type"] for e in events] == ["improvement.started", "improvement.ended"]
    assert all(e["producer"] == "improvements" and e["customer_id"] is None for e in events)
    assert events[0]["data"] == start["data"] and events[1]["data"] == end["data"]
    assert {r.key for r in improvements.event_records(iid)} == {iid.encode()}
    stored = await improvements.stored(iid)
    assert [e["event_type"] for e in stored] == ["improvement.started", "improvement.ended"]
    assert datetime.fromisoformat(events[1]["occurred_at"]) == datetime(2026, 12, 14, 17, tzinfo=UTC)


async def test_the_rules_answer_conflict_not_found_and_invalid(improvements: ServiceHarness) -> None:
    iid = str(uuid.uuid4())
    start = command("start_improvement", iid)
    again = command("start_improvement", iid, title="the same id again")
    too_early = command("end_improvement", iid, at="2026-11-29T23:59:59.000Z")
    unknown = command("end_improvement", str(uuid.uuid4()))
    adopted = command("end_improvement", iid)
    twice = command("end_improvement", iid, outcome="abandoned")
    for c in (start, again, too_early, unknown, adopted, twice):
        await improvements.send(c, key=c["data"]["improvement_id"])
    codes = {}
    for name, c in {"again": again, "too_early": too_early, "unknown": unknown, "twice": twice}.items():
        res = await improvements.result(c)
        assert res["status"] == "rejected" and res["event_ids"] == [], res
        codes[name] = res["error"]["code"]
    assert codes == {"again": "conflict", "too_early": "conflict", "unknown": "not_found",
                     "twice": "conflict"}
    assert (await improvements.result(adopted))["status"] == "accepted"
    assert [e["event_type"] for e in await improvements.stored(iid)] == [
        "improvement.started", "improvement.ended"]


async def test_bad_fields_are_invalid_naming_the_field(improvements: ServiceHarness) -> None:
    iid = str(uuid.uuid4())
    for cmd, field in (
        (command("start_improvement", iid, starts_on="30/11/2026"), "data.starts_on"),
        (command("start_improvement", iid, target="morale"), "data.target"),
        (command("start_improvement", iid, expected={"direction": "decrease", "size": -1}),
         "data.expected.size"),
        (command("end_improvement", iid, outcome="finished"), "data.outcome"),
    ):
        await improvements.send(cmd, key=iid)
        await improvements.check_invalid(cmd, field)


async def test_a_command_whose_headers_contradict_it_is_invalid(improvements: ServiceHarness) -> None:
    """The kit's header checks (contract section 2) hold for this service too: a
    message_type other than the command_type is ``rejected``/``invalid``, with no event."""
    iid = str(uuid.uuid4())
    start = command("start_improvement", iid)
    await improvements.send(start, key=iid, message_type="end_improvement")
    res = await improvements.result(start)
    assert (res["status"], res["error"]["code"]) == ("rejected", "invalid"), res
    assert "contradicts command_type 'start_improvement'" in res["error"]["message"]
    assert await improvements.stored(iid) == []
