"""The feedback service over a real broker and PostgreSQL (contract section 4,
feedback): the three events of a submission, routing to every team, anonymous
keys, idea votes and their rejections, invalid commands and the DLQ.

The routing table row by row is services/feedback/tests/unit; one submission
end to end with an interaction is tests/e2e/test_one_contact_over_kafka.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .helpers import EVENTS, NEGATIVE, POSITIVE, Harness, command, submit, vote

pytestmark = pytest.mark.integration

SUBMIT_FIELDS = ("feedback_id", "customer_id", "source", "text", "rating", "interaction_id", "topic")
SUBMIT_EVENTS = ["feedback.received", "feedback.sentiment_scored", "feedback.routed"]


def _fields(cmd: dict[str, Any]) -> dict[str, Any]:
    """The command's fields as every event of the submission carries them (absent → null)."""
    return {f: cmd["data"].get(f) for f in SUBMIT_FIELDS}


async def _submitted(h: Harness, cmd: dict[str, Any]) -> list[dict[str, Any]]:
    """Submit ``cmd``; its three events once published, after checking the result."""
    (res,) = await h.run(cmd)
    assert res["status"] == "accepted" and res["error"] is None, res
    events = await h.published(cmd["data"]["feedback_id"], 3)
    assert res["event_ids"] == [e["event_id"] for e in events]
    return events


@pytest.mark.parametrize(("text", "label"), [(NEGATIVE, "negative"), (POSITIVE, "positive")],
                         ids=["negative", "positive"])
async def test_a_submission_is_received_then_scored_then_routed(
    feedback: Harness, text: str, label: str
) -> None:
    h, cid = feedback, str(uuid.uuid4())
    cmd = submit(customer_id=cid, source="survey", text=text, rating=7)
    fid = cmd["data"]["feedback_id"]
    events = await _submitted(h, cmd)

    assert [(e["event_type"], e["stream_version"]) for e in events] == list(
        zip(SUBMIT_EVENTS, [1, 2, 3], strict=True))
    fields = _fields(cmd)
    received, scored, routed = (e["data"] for e in events)
    assert received == fields
    assert {k: v for k, v in scored.items() if k in fields} == fields
    assert set(scored) == {*fields, "score", "label", "scorer"}
    assert scored["label"] == label and scored["scorer"].strip()
    assert (scored["score"] < -0.05) if label == "negative" else (scored["score"] > 0.05), scored
    assert -1 <= scored["score"] <= 1
    assert set(routed) == {*fields, "team", "reason"}
    assert routed["team"] in {"product", "marketing", "sales", "service"}
    for e in events:
        assert (e["stream_id"], e["customer_id"], e["producer"]) == (fid, cid, "feedback")
        assert (e["causation_id"], e["correlation_id"]) == (cmd["command_id"], cmd["correlation_id"])
        assert e["occurred_at"] == cmd["occurred_at"]

    # on the topic: keyed by customer, one partition, in that order
    records = sorted(h.event_records(fid), key=lambda r: r.offset)
    assert {(r.key, r.partition) for r in records} == {(cid.encode(), records[0].partition)}
    assert [dict(r.headers)["message_type"].decode() for r in records] == SUBMIT_EVENTS
    assert [json.loads(r.value)["event_id"] for r in records] == [e["event_id"] for e in events]


ROUTES: dict[str, tuple[dict[str, Any], str, str]] = {
    "idea → product": (
        {"source": "idea", "text": "Please add a dark mode to the mobile app."}, "product", "idea"),
    "complaint, even a polite one → service": (
        {"source": "complaint", "text": "Thanks for the quick reply, but my parcel arrived late again."},
        "service", "complaint"),
    "review about an offer → marketing": (
        {"source": "review", "text": "Awful promotion, the discount never applied at checkout."},
        "marketing", "offer_feedback"),
    "tweet about price or buying → sales": (
        {"source": "tweet", "text": "Way too expensive for what it is. How much to upgrade?"},
        "sales", "price_or_buying_signal"),
    "tweet whose topic is a price topic → sales": (
        {"source": "tweet", "text": "Nice.", "topic": "Pricing"}, "sales", "price_or_buying_signal"),
}


@pytest.mark.parametrize(("data", "team", "reason"), list(ROUTES.values()), ids=list(ROUTES))
async def test_feedback_is_routed_to_its_team(
    feedback: Harness, data: dict[str, Any], team: str, reason: str
) -> None:
    cmd = submit(customer_id=str(uuid.uuid4()), **data)
    routed = (await _submitted(feedback, cmd))[2]
    assert routed["event_type"] == "feedback.routed"
    assert (routed["data"]["team"], routed["data"]["reason"]) == (team, reason)
    assert routed["data"]["source"] == data["source"]


async def test_anonymous_feedback_and_its_votes_are_keyed_by_feedback_id(feedback: Harness) -> None:
    h = feedback
    idea = submit(source="idea", text="An anonymous wish: offline mode for the app.")
    assert "customer_id" not in idea["data"]
    fid = idea["data"]["feedback_id"]
    await _submitted(h, idea)
    voted = vote(fid, str(uuid.uuid4()), 1)
    (res,) = await h.run(voted)
    assert res["status"] == "accepted", res
    events = await h.published(fid, 4)
    assert [e["event_type"] for e in events] == [*SUBMIT_EVENTS, "feedback.idea_voted"]
    assert all(e["customer_id"] is None for e in events)
    assert all(e["data"].get("customer_id", "absent") is None for e in events[:3])
    records = h.event_records(fid)
    assert len(records) == 4 and {r.key for r in records} == {fid.encode()}


async def test_one_vote_per_voter_per_idea_the_second_replaces_the_first(feedback: Harness) -> None:
    h, author = feedback, str(uuid.uuid4())
    idea = submit(0, customer_id=author, source="idea", text="Let me pay by bank transfer.")
    fid = idea["data"]["feedback_id"]
    await _submitted(h, idea)
    ann, bob = str(uuid.uuid4()), str(uuid.uuid4())
    votes = [vote(fid, ann, 1, 1), vote(fid, bob, -1, 2), vote(fid, ann, -1, 3)]
    results = await h.run(*votes)
    assert [r["status"] for r in results] == ["accepted"] * 3, results

    events = await h.published(fid, 6)
    cast = events[3:]
    assert [(e["event_type"], e["stream_version"]) for e in cast] == [
        ("feedback.idea_voted", 4), ("feedback.idea_voted", 5), ("feedback.idea_voted", 6)]
    assert [e["data"] for e in cast] == [v["data"] for v in votes]
    assert [r["event_ids"] for r in results] == [[e["event_id"]] for e in cast]
    # the vote's event is in the idea's stream: the author's customer_id and key
    assert all(e["customer_id"] == author for e in cast)
    assert {r.key for r in h.event_records(fid)} == {author.encode()}
    current = {e["data"]["voter_customer_id"]: e["data"]["vote"] for e in cast}  # last one wins
    assert current == {ann: -1, bob: -1}


async def test_votes_and_resubmissions_that_break_a_rule_are_rejected(feedback: Harness) -> None:
    h = feedback
    complaint = submit(0, customer_id=str(uuid.uuid4()), source="complaint", text="Still no refund.")
    fid = complaint["data"]["feedback_id"]
    await _submitted(h, complaint)
    voter = str(uuid.uuid4())
    on_complaint = vote(fid, voter, 1)
    on_unknown = vote(str(uuid.uuid4()), voter, 1)
    resubmitted = command("submit_feedback", 1, {**complaint["data"], "source": "review"})
    (not_idea, unknown, again) = await h.run(on_complaint, on_unknown, resubmitted)

    for res, code, words in ((not_idea, "conflict", "not an idea"),
                             (unknown, "not_found", "does not exist"),
                             (again, "conflict", "already exists")):
        assert (res["status"], res["error"]["code"]) == ("rejected", code), res
        assert words in res["error"]["message"] and res["event_ids"] == [], res
    assert "vote_idea" in not_idea["error"]["message"]
    for cmd in (on_complaint, on_unknown, resubmitted):
        assert await h.stored_caused_by(cmd["command_id"]) == 0
    stored = await h.stored(fid)
    assert [e["causation_id"] for e in stored] == [complaint["command_id"]] * 3
    assert len(h.reader.json_on(EVENTS, stream_id=fid)) == 3


async def test_invalid_commands_are_rejected_naming_the_field_and_bad_records_are_dead_lettered(
    feedback: Harness,
) -> None:
    h = feedback
    key = f"bad-{uuid.uuid4()}"  # every bad record under one key: one DLQ partition, in order
    idea = submit(customer_id=str(uuid.uuid4()), source="idea", text="Dark mode, please.")
    invalid: list[tuple[dict[str, Any], str]] = [
        ({**submit(), "command_type": "submit_review"}, "command_type"),
        (submit(source="letter"), "data.source"),
        (submit(text=""), "data.text"),
        (submit(text="x" * 5001), "data.text"),
        (submit(rating=11), "data.rating"),
        (submit(customer_id="bob"), "data.customer_id"),
        (vote(idea["data"]["feedback_id"], str(uuid.uuid4()), 0), "data.vote"),
        (vote(idea["data"]["feedback_id"], "not-a-uuid", 1), "data.voter_customer_id"),
        # valid by the model, but PostgreSQL cannot store it: it used to stop the line
        (submit(text="The app crashes\x00"), "data.text"),
        (submit(text="Half an emoji \ud83d"), "data.text"),
    ]
    dead: list[tuple[bytes, str]] = [
        (b"\xc3\x28 feedback", "undecodable"),
        (b"", "undecodable"),
        (json.dumps("just a string").encode(), "invalid_envelope"),
        (json.dumps({k: v for k, v in submit().items() if k != "command_id"}).encode(),
         "invalid_envelope"),
        (json.dumps({**submit(), "command_id": "c-\x00"}).encode(), "invalid_envelope"),
    ]
    good = submit(customer_id=str(uuid.uuid4()), text=("Great service. " * 400)[:5000])

    await h.run(idea)
    for cmd, _ in invalid:
        await h.send(cmd, key)
    for value, _ in dead:
        await h.send(value, key, message_type="submit_feedback")
    await h.send(good, str(good["data"]["customer_id"]))

    (ok,) = await h.results(good)  # the consumer went on past all of them
    assert ok["status"] == "accepted", ok
    assert len(await h.published(good["data"]["feedback_id"], 3)) == 3

    for cmd, name in invalid:
        await h.check_invalid(cmd, name)
    await h.check_dead_letters(key, dead)
