"""One valid ``data`` example per command and event type, as JSON objects.

Used by the tests and the AsyncAPI document; handy for integrators and simulators.
Optional fields are given in full in the event examples (``null`` when not given).
Written per model; the two lookups are keyed by the models' own type names.
"""

from typing import Any, Final

from . import customers as c
from . import feedback as f
from . import improvements as im
from . import interactions as i
from .base import CommandData, EventData

CUSTOMER_ID: Final = "5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31"
INTERACTION_ID: Final = "9e2f4b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
FEEDBACK_ID: Final = "2d6c8e0a-4b1f-4c3d-9e7a-5f6b7c8d9e0f"
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
    "feedback_id": FEEDBACK_ID,
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
    i.AbandonInteraction: {**_I, "stage": "queue"},
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
