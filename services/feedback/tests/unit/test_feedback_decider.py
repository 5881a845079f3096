"""The feedback decider, pure: submit (score, route), idea votes, keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from leancrm_contracts import feedback as m
from leancrm_feedback.domain import Feedback, FeedbackDecider, FeedbackState, NoFeedback
from leancrm_servicekit.decider import Command, DomainError, NewEvent, RecordedEvent

D = FeedbackDecider()
FID = str(uuid.uuid4())
CID = str(uuid.uuid4())
VOTER = str(uuid.uuid4())
OTHER_VOTER = str(uuid.uuid4())
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def submit(at: datetime = T0, **data: Any) -> Command:
    payload = {"feedback_id": FID, "customer_id": CID, "source": "idea",
               "text": "Please add a dark mode to the app", **data}
    model = m.COMMANDS["submit_feedback"].model_validate(payload)
    return Command(command_id=str(uuid.uuid4()), command_type="submit_feedback", occurred_at=at,
                   data=model)


def vote(at: datetime = T0, voter: str = VOTER, value: int = 1) -> Command:
    model = m.COMMANDS["vote_idea"].model_validate(
        {"feedback_id": FID, "voter_customer_id": voter, "vote": value}
    )
    return Command(command_id=str(uuid.uuid4()), command_type="vote_idea", occurred_at=at,
                   data=model)


def run(state: FeedbackState, command: Command) -> tuple[FeedbackState, list[NewEvent]]:
    """Decide, then fold the new events back the way the kit does (stored JSON)."""
    events = list(D.decide(state, command))
    for version, e in enumerate(events, 1):
        state = D.evolve(state, RecordedEvent(e.event_type, version, command.occurred_at,
                                              e.customer_id, e.data.model_dump(mode="json")))
    return state, events


def given(*commands: Command) -> FeedbackState:
    state: FeedbackState = D.initial_state()
    for command in commands:
        state, _ = run(state, command)
    return state


def rejected(state: FeedbackState, command: Command) -> DomainError:
    with pytest.raises(DomainError) as err:
        D.decide(state, command)
    return err.value


def data_of(event: NewEvent) -> dict[str, Any]:
    return dict(event.data.model_dump(mode="json"))


# --- submit ---------------------------------------------------------------------------


def test_submit_emits_received_then_sentiment_scored_then_routed() -> None:
    command = submit(source="review", text="I love this product, it is fantastic!", rating=9)
    state, events = run(D.initial_state(), command)
    assert tuple(e.event_type for e in events) == m.EVENTS_OF_COMMAND["submit_feedback"] == (
        "feedback.received", "feedback.sentiment_scored", "feedback.routed",
    )
    assert all(isinstance(e.data, m.EVENTS[e.event_type]) for e in events)
    assert {e.key for e in events} == {CID}
    assert {str(e.customer_id) for e in events} == {CID}

    fields = command.data.model_dump(mode="json")
    received, scored, routed = (data_of(e) for e in events)
    assert received == fields
    assert scored == {**fields, "score": scored["score"], "label": "positive",
                      "scorer": "vader-3.3.2"}
    assert 0.05 <= scored["score"] <= 1
    assert routed == {**fields, "team": "marketing", "reason": "advocacy_and_listening"}
    assert isinstance(state, Feedback) and state.label == "positive" and state.team == "marketing"


def test_anonymous_feedback_is_keyed_by_feedback_id_without_customer() -> None:
    _, events = run(D.initial_state(), submit(customer_id=None, source="tweet",
                                              text="Terrible app, it crashes all the time"))
    assert len(events) == 3
    assert {e.key for e in events} == {FID}
    assert {e.customer_id for e in events} == {None}
    assert data_of(events[0])["customer_id"] is None
    assert data_of(events[2])["team"] == "service"


def test_submit_twice_is_a_conflict() -> None:
    err = rejected(given(submit()), submit(source="tweet"))
    assert err.code == "conflict" and "submit_feedback" in err.message
    assert "already exists (a idea)" in err.message


@pytest.mark.parametrize(
    ("data", "team", "reason"),
    [
        ({"source": "idea", "text": "This is awful, add an export button"}, "product", "idea"),
        ({"source": "complaint", "text": "I love you but the invoice was wrong",
          "topic": "billing"}, "service", "complaint"),
        ({"source": "survey", "text": "The agent was rude and useless",
          "interaction_id": str(uuid.uuid4())}, "service", "negative_about_interaction"),
        ({"source": "tweet", "text": "Any news?", "topic": "Pricing"}, "sales",
         "price_or_buying_signal"),
        ({"source": "review", "text": "Nice work", "topic": "promotion"}, "marketing",
         "offer_feedback"),
    ],
)
def test_submit_routes_by_the_table(data: dict[str, Any], team: str, reason: str) -> None:
    _, events = run(D.initial_state(), submit(**data))
    routed = data_of(events[2])
    assert (routed["team"], routed["reason"]) == (team, reason)


# --- votes ----------------------------------------------------------------------------


def test_vote_on_feedback_that_does_not_exist_is_not_found() -> None:
    err = rejected(D.initial_state(), vote())
    assert err.code == "not_found" and "vote_idea" in err.message
    assert "does not exist" in err.message


@pytest.mark.parametrize("source", ["tweet", "survey", "review", "community_post", "complaint"])
def test_vote_on_feedback_that_is_not_an_idea_is_a_conflict(source: str) -> None:
    err = rejected(given(submit(source=source)), vote())
    assert err.code == "conflict"
    assert f"is a {source}, not an idea" in err.message


def test_vote_emits_idea_voted_keyed_like_the_idea() -> None:
    command = vote(at=T0 + timedelta(minutes=1))
    state, events = run(given(submit()), command)
    assert [e.event_type for e in events] == ["feedback.idea_voted"]
    e = events[0]
    assert isinstance(e.data, m.EVENTS["feedback.idea_voted"])
    assert data_of(e) == command.data.model_dump(mode="json")
    assert e.key == CID and str(e.customer_id) == CID
    assert isinstance(state, Feedback) and state.net_votes == 1


def test_vote_on_an_anonymous_idea_is_keyed_by_feedback_id() -> None:
    _, events = run(given(submit(customer_id=None)), vote())
    assert events[0].key == FID and events[0].customer_id is None


def test_a_second_vote_by_the_same_voter_replaces_the_first() -> None:
    state = given(submit(), vote(at=T0 + timedelta(minutes=1), value=1))
    state, events = run(state, vote(at=T0 + timedelta(minutes=2), value=-1))
    assert len(events) == 1 and data_of(events[0])["vote"] == -1
    assert isinstance(state, Feedback)
    assert {k: v.vote for k, v in state.votes.items()} == {VOTER: -1} and state.net_votes == -1


def test_recasting_the_same_vote_is_accepted_and_changes_nothing() -> None:
    state = given(submit(), vote(at=T0 + timedelta(minutes=1), value=1))
    after, events = run(state, vote(at=T0 + timedelta(minutes=2), value=1))
    assert [e.event_type for e in events] == ["feedback.idea_voted"]
    assert isinstance(after, Feedback) and isinstance(state, Feedback)
    assert {k: v.vote for k, v in after.votes.items()} == {VOTER: 1} and after.net_votes == 1


def test_votes_of_different_voters_add_up_in_any_order() -> None:
    state = given(submit(), vote(at=T0 + timedelta(minutes=5), voter=VOTER, value=1))
    # another voter's vote from earlier in business time still counts
    state, events = run(state, vote(at=T0 + timedelta(minutes=1), voter=OTHER_VOTER, value=1))
    assert len(events) == 1
    assert isinstance(state, Feedback) and state.net_votes == 2 and len(state.votes) == 2


def test_a_vote_earlier_than_the_voters_last_vote_is_out_of_order() -> None:
    state = given(submit(), vote(at=T0 + timedelta(minutes=5), value=1))
    err = rejected(state, vote(at=T0 + timedelta(minutes=4), value=-1))
    assert err.code == "out_of_order" and "last vote" in err.message


def test_a_vote_earlier_than_the_ideas_submission_is_out_of_order() -> None:
    err = rejected(given(submit(at=T0)), vote(at=T0 - timedelta(seconds=1)))
    assert err.code == "out_of_order" and "earlier than the submission" in err.message


# --- shape ----------------------------------------------------------------------------


def test_stream_is_the_feedback_id() -> None:
    assert D.stream_id(submit()) == FID and D.stream_id(vote()) == FID
    assert D.producer == "feedback"
    assert isinstance(D.initial_state(), NoFeedback)


def test_a_foreign_command_is_invalid() -> None:
    class Foreign(BaseModel):
        feedback_id: str

    command = Command(command_id="x", command_type="foreign", occurred_at=T0,
                      data=Foreign(feedback_id=FID))
    assert rejected(D.initial_state(), command).code == "invalid"
