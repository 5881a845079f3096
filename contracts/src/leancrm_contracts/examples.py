"""One valid ``data`` example per command and event type, as JSON objects.

Used by the tests and the AsyncAPI document; handy for integrators and simulators.
Optional fields are given in full in the event examples (``null`` when not given).
"""

from typing import Any, Final

CUSTOMER_ID: Final = "5b0c3a52-6f43-4d6c-9d2b-7f0e6a1c2d31"
INTERACTION_ID: Final = "9e2f4b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
FEEDBACK_ID: Final = "2d6c8e0a-4b1f-4c3d-9e7a-5f6b7c8d9e0f"
VOTER_ID: Final = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
AGENT_ID: Final = "agent-0042"

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

COMMAND_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "register_customer": {
        "customer_id": CUSTOMER_ID,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "segment": "enterprise",
    },
    "change_customer_details": {"customer_id": CUSTOMER_ID, "email": "ada@example.org"},
    "change_consent": {"customer_id": CUSTOMER_ID, "channel": "sms", "granted": False},
    "forget_customer": {"customer_id": CUSTOMER_ID},
    "start_interaction": {
        **_I,
        "customer_id": CUSTOMER_ID,
        "channel": "phone",
        "reason": "billing",
        "direction": "inbound",
    },
    "identify_customer": {**_I, "step": "ivr", "method": "account_number"},
    "queue_interaction": {**_I, "queue": "billing"},
    "assign_agent": {**_I, "agent_id": AGENT_ID, "team": "billing"},
    "transfer_interaction": {**_I, "to_queue": "tech", "to_channel": "chat", "reason": "technical"},
    "start_hold": dict(_I),
    "end_hold": dict(_I),
    "resolve_interaction": {**_I, "resolved_by": "agent"},
    "abandon_interaction": {**_I, "stage": "queue"},
    "end_interaction": dict(_I),
    "sign_in_agent": {"agent_id": AGENT_ID, "team": "billing"},
    "sign_out_agent": {"agent_id": AGENT_ID},
    "submit_feedback": dict(_SUBMIT),
    "vote_idea": dict(_VOTE),
}

EVENT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "customer.registered": dict(COMMAND_EXAMPLES["register_customer"]),
    "customer.details_changed": dict(COMMAND_EXAMPLES["change_customer_details"]),
    "customer.consent_changed": dict(COMMAND_EXAMPLES["change_consent"]),
    "customer.forgotten": dict(COMMAND_EXAMPLES["forget_customer"]),
    "interaction.started": dict(COMMAND_EXAMPLES["start_interaction"]),
    "interaction.customer_identified": dict(COMMAND_EXAMPLES["identify_customer"]),
    "interaction.queued": dict(COMMAND_EXAMPLES["queue_interaction"]),
    "interaction.agent_assigned": dict(COMMAND_EXAMPLES["assign_agent"]),
    "interaction.transferred": {
        **COMMAND_EXAMPLES["transfer_interaction"],
        "from_agent_id": AGENT_ID,
        "from_channel": "phone",
    },
    "interaction.hold_started": dict(_I),
    "interaction.hold_ended": dict(_I),
    "interaction.resolved": dict(COMMAND_EXAMPLES["resolve_interaction"]),
    "interaction.abandoned": dict(COMMAND_EXAMPLES["abandon_interaction"]),
    "interaction.ended": dict(_I),
    "agent.signed_in": dict(COMMAND_EXAMPLES["sign_in_agent"]),
    "agent.signed_out": dict(COMMAND_EXAMPLES["sign_out_agent"]),
    "feedback.received": dict(_SUBMIT),
    "feedback.sentiment_scored": {
        **_SUBMIT,
        "score": -0.4767,
        "label": "negative",
        "scorer": "vader-3.3.2",
    },
    "feedback.routed": {**_SUBMIT, "team": "sales", "reason": "price_or_buying_signal"},
    "feedback.idea_voted": dict(_VOTE),
}
