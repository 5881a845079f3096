"""One valid ``data`` example per command and event type, as JSON objects, and their
envelopes as one consistent history (the AsyncAPI document's examples).

Used by the tests and the AsyncAPI document; handy for integrators and simulators.
Optional fields are given in full in the event examples (``null`` when not given).
Written per model; the two lookups are keyed by the models' own type names.

The history: agent ``agent-0042`` signs in; customer Ada is registered; her phone call
(``INTERACTION_ID``) is identified, queued, assigned, held, transferred to chat, taken
by a second agent (an ``interaction.agent_assigned`` the examples do not repeat, stream
version 8), resolved and ended; a second call (``INTERACTION_ID_2``) is abandoned in
the queue; she reviews the plan (``FEEDBACK_ID``: received, scored, routed) and votes
for an idea (``IDEA_ID``); she changes her details and consent, the agent signs out, and
at last she asks to be forgotten. The billing team starts an improvement
(``IMPROVEMENT_ID``, a stream of its own with no customer) and adopts it four weeks
later. Every event names its stream, its version in that
stream and the example command that caused it (``causation_id``).
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from . import customers as c
from . import feedback as f
from . import improvements as im
from . import interactions as i
from .base import CommandData, EventData
from .registry import PRODUCER_OF_EVENT, SCHEMA_VERSION

CUSTOMER_ID: Final = "5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31"
INTERACTION_ID: Final = "9e2f4b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
INTERACTION_ID_2: Final = "3b4c5d6e-7f80-4a1b-9c2d-3e4f5a6b7c8d"
FEEDBACK_ID: Final = "2d6c8e0a-4b1f-4c3d-9e7a-5f6b7c8d9e0f"
IDEA_ID: Final = "6e7f8091-a2b3-4c4d-8e5f-60718293a4b5"
VOTER_ID: Final = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
AGENT_ID: Final = "agent-0042"
IMPROVEMENT_ID: Final = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"

_I = {"interaction_id": INTERACTION_ID}
_SUBMIT: Final[dict[str, Any]] = {
    "feedback_id": FEEDBACK_ID,
    "customer_id": CUSTOMER_ID,
    "source": "review",
    "text": "The new plan is far too expensive for what it offers.",
    "rating": 3,
    "interaction_id": None,
    "topic": "price",
}
_VOTE: Final[dict[str, Any]] = {
    "feedback_id": IDEA_ID,
    "voter_customer_id": VOTER_ID,
    "vote": 1,
}

_START: Final[dict[str, Any]] = {
    "improvement_id": IMPROVEMENT_ID,
    "title": "Billing agents explain the first bill's pro-rata lines on the call",
    "target": "failure_demand_rate",
    "scope": {"channel": None, "reason": "billing", "team": None},
    "starts_on": "2026-11-30",
    "owner_team": "billing",
    "expected": {"direction": "decrease", "size": 0.1},
    "note": "Half of the repeat billing calls ask about the first bill.",
}
_END: Final[dict[str, Any]] = {
    "improvement_id": IMPROVEMENT_ID,
    "outcome": "adopted",
    "note": "Repeat billing calls fell beyond the old limits; now in the standard script.",
}

_COMMANDS: Final[dict[type[CommandData], dict[str, Any]]] = {
    c.RegisterCustomer: {
        "customer_id": CUSTOMER_ID,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "segment": "enterprise",
    },
    c.ChangeCustomerDetails: {"customer_id": CUSTOMER_ID, "email": "ada@example.org"},
    c.ChangeConsent: {"customer_id": CUSTOMER_ID, "channel": "sms", "granted": False},
    c.ForgetCustomer: {"customer_id": CUSTOMER_ID},
    i.StartInteraction: {
        **_I,
        "customer_id": CUSTOMER_ID,
        "channel": "phone",
        "reason": "billing",
        "direction": "inbound",
    },
    i.IdentifyCustomer: {**_I, "step": "ivr", "method": "account_number"},
    i.QueueInteraction: {**_I, "queue": "billing"},
    i.AssignAgent: {**_I, "agent_id": AGENT_ID, "team": "billing"},
    i.TransferInteraction: {**_I, "to_queue": "tech", "to_channel": "chat", "reason": "technical"},
    i.StartHold: dict(_I),
    i.EndHold: dict(_I),
    i.ResolveInteraction: {**_I, "resolved_by": "agent"},
    i.AbandonInteraction: {"interaction_id": INTERACTION_ID_2, "stage": "queue"},
    i.EndInteraction: dict(_I),
    i.SignInAgent: {"agent_id": AGENT_ID, "team": "billing"},
    i.SignOutAgent: {"agent_id": AGENT_ID},
    f.SubmitFeedback: dict(_SUBMIT),
    f.VoteIdea: dict(_VOTE),
    im.StartImprovement: dict(_START),
    im.EndImprovement: dict(_END),
}

_EVENTS: Final[dict[type[EventData], dict[str, Any]]] = {
    c.CustomerRegistered: dict(_COMMANDS[c.RegisterCustomer]),
    c.CustomerDetailsChanged: dict(_COMMANDS[c.ChangeCustomerDetails]),
    c.CustomerConsentChanged: dict(_COMMANDS[c.ChangeConsent]),
    c.CustomerForgotten: dict(_COMMANDS[c.ForgetCustomer]),
    i.InteractionStarted: dict(_COMMANDS[i.StartInteraction]),
    i.InteractionCustomerIdentified: dict(_COMMANDS[i.IdentifyCustomer]),
    i.InteractionQueued: dict(_COMMANDS[i.QueueInteraction]),
    i.InteractionAgentAssigned: dict(_COMMANDS[i.AssignAgent]),
    i.InteractionTransferred: {
        **_COMMANDS[i.TransferInteraction],
        "from_agent_id": AGENT_ID,
        "from_channel": "phone",
    },
    i.InteractionHoldStarted: dict(_I),
    i.InteractionHoldEnded: dict(_I),
    i.InteractionResolved: dict(_COMMANDS[i.ResolveInteraction]),
    i.InteractionAbandoned: dict(_COMMANDS[i.AbandonInteraction]),
    i.InteractionEnded: dict(_I),
    i.AgentSignedIn: dict(_COMMANDS[i.SignInAgent]),
    i.AgentSignedOut: dict(_COMMANDS[i.SignOutAgent]),
    f.FeedbackReceived: dict(_SUBMIT),
    f.FeedbackSentimentScored: {
        **_SUBMIT,
        "score": -0.4767,
        "label": "negative",
        "scorer": "vader-3.3.2",
    },
    f.FeedbackRouted: {**_SUBMIT, "team": "sales", "reason": "price_or_buying_signal"},
    f.FeedbackIdeaVoted: dict(_VOTE),
    im.ImprovementStarted: dict(_START),
    im.ImprovementEnded: dict(_END),
}

#: command_type → a valid ``data``
COMMAND_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    model.command_type: data for model, data in _COMMANDS.items()
}
#: event_type → a valid ``data``
EVENT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    model.event_type: data for model, data in _EVENTS.items()
}

#: what a sealed ``personal`` looks like (section 2.8); made up, it opens with no key
_SEALED: Final[dict[str, Any]] = {
    "alg": "A256GCM",
    "nonce": "q83vEjRWeJCrze8S",
    "ciphertext": "3q2+7wAAAAAAAAAAAAAAAFHFI2e0H0Y5O8cJbVtDm4kqLw8w2XwzF1Y4sZl+uEfNBnX0pOQ=",
}
#: event_type → a valid ``data`` of a later schema_version (section 2.8), by version
EVENT_EXAMPLES_BY_VERSION: Final[dict[str, dict[int, dict[str, Any]]]] = {
    c.CustomerRegisteredV2.event_type: {2: {
        "customer_id": CUSTOMER_ID, "segment": "enterprise", "personal": dict(_SEALED)}},
    c.CustomerDetailsChangedV2.event_type: {2: {"customer_id": CUSTOMER_ID, "personal": dict(_SEALED)}},
}
#: the key topic's value (section 2.8); made up
KEY_EXAMPLE: Final[dict[str, Any]] = {
    "customer_id": CUSTOMER_ID,
    "kek_id": "3f9a1c0b7d2e4a51",
    "wrapped_key": "AAECAwQFBgcICQoLd2h5IGtlZXAgYSBzZWNyZXQgd2hlbiB5b3UgY2FuIHMAAAAAAAAAAAAAAAAAAAAA",
}


# -- envelopes: one consistent history --------------------------------------------------

#: when the example history begins
START: Final = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_RECORDING_DELAY: Final = timedelta(milliseconds=125)

#: event_type → (stream_id, stream_version, seconds after START), in the history's order
EVENT_POSITIONS: Final[dict[str, tuple[str, int, int]]] = {
    i.AgentSignedIn.event_type: (AGENT_ID, 1, 0),
    c.CustomerRegistered.event_type: (CUSTOMER_ID, 1, 30),
    i.InteractionStarted.event_type: (INTERACTION_ID, 1, 60),
    i.InteractionCustomerIdentified.event_type: (INTERACTION_ID, 2, 70),
    i.InteractionQueued.event_type: (INTERACTION_ID, 3, 80),
    i.InteractionAgentAssigned.event_type: (INTERACTION_ID, 4, 140),
    i.InteractionHoldStarted.event_type: (INTERACTION_ID, 5, 200),
    i.InteractionHoldEnded.event_type: (INTERACTION_ID, 6, 230),
    i.InteractionTransferred.event_type: (INTERACTION_ID, 7, 300),
    # version 8: the second agent's interaction.agent_assigned (not repeated here)
    i.InteractionResolved.event_type: (INTERACTION_ID, 9, 600),
    i.InteractionEnded.event_type: (INTERACTION_ID, 10, 620),
    i.InteractionAbandoned.event_type: (INTERACTION_ID_2, 3, 1300),  # after started, queued
    f.FeedbackReceived.event_type: (FEEDBACK_ID, 1, 1800),
    f.FeedbackSentimentScored.event_type: (FEEDBACK_ID, 2, 1800),
    f.FeedbackRouted.event_type: (FEEDBACK_ID, 3, 1800),
    f.FeedbackIdeaVoted.event_type: (IDEA_ID, 4, 2400),  # after the idea's three
    c.CustomerDetailsChanged.event_type: (CUSTOMER_ID, 2, 3000),
    c.CustomerConsentChanged.event_type: (CUSTOMER_ID, 3, 3600),
    i.AgentSignedOut.event_type: (AGENT_ID, 2, 28800),
    c.CustomerForgotten.event_type: (CUSTOMER_ID, 4, 86400),
    im.ImprovementStarted.event_type: (IMPROVEMENT_ID, 1, 90000),
    # ended four weeks after its start date (starts_on 2026-11-30), once its effect showed
    im.ImprovementEnded.event_type: (IMPROVEMENT_ID, 2, 2_419_200),
}

#: event_type → the command_type that causes it
_COMMAND_OF_EVENT: Final[dict[str, str]] = {
    **{e: cmd for cmd, e in c.EVENT_OF_COMMAND.items()},
    **{e: cmd for cmd, e in i.EVENT_OF_COMMAND.items()},
    **{e: cmd for cmd, events in f.EVENTS_OF_COMMAND.items() for e in events},
    **{e: cmd for cmd, e in im.EVENT_OF_COMMAND.items()},
}


def example_timestamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def example_command_id(command_type: str) -> str:
    return f"example-{command_type}"


def _command_at(command_type: str) -> datetime:
    seconds = min(at for event, (_, _, at) in EVENT_POSITIONS.items()
                  if _COMMAND_OF_EVENT[event] == command_type)
    return START + timedelta(seconds=seconds)


def example_command(command_type: str) -> dict[str, Any]:
    """The command envelope of ``command_type`` in the example history."""
    return {
        "command_id": example_command_id(command_type),
        "command_type": command_type,
        "occurred_at": example_timestamp(_command_at(command_type)),
        "correlation_id": None,
        "data": COMMAND_EXAMPLES[command_type],
    }


def example_event(event_type: str) -> dict[str, Any]:
    """The event envelope of ``event_type`` in the example history."""
    stream, version, seconds = EVENT_POSITIONS[event_type]
    at = START + timedelta(seconds=seconds)
    producer = PRODUCER_OF_EVENT[event_type].value
    version_of_schema = SCHEMA_VERSION[event_type]  # the version published now (section 2.8)
    data = (EVENT_EXAMPLES_BY_VERSION[event_type][version_of_schema] if version_of_schema > 1
            else EVENT_EXAMPLES[event_type])
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leancrm-example:{event_type}")),
        "event_type": event_type,
        "schema_version": version_of_schema,
        "occurred_at": example_timestamp(at),
        "recorded_at": example_timestamp(at + _RECORDING_DELAY),
        "producer": producer,
        "stream_id": stream,
        "stream_version": version,
        # agent and improvement streams belong to no customer
        "customer_id": None if producer == "improvements" or event_type.startswith("agent.")
        else CUSTOMER_ID,
        "correlation_id": None,
        "causation_id": example_command_id(_COMMAND_OF_EVENT[event_type]),
        "data": data,
    }
