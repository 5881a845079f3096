"""Every command the simulator generates passes the contract's own models (leancrm_contracts).

The simulator builds its JSON by hand; this test makes sure it can never send
something the contract rejects as ``invalid``: the envelope, the data of each
command type, the topic each type belongs to, and the headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest

from leancrm_simulator import model
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import SimCommand
from leancrm_simulator.run import encode

contracts = pytest.importorskip("leancrm_contracts")
from leancrm_contracts import customers, envelope, feedback, improvements, interactions, topics  # noqa: E402

Make = Callable[[Knobs], tuple[SimCommand, ...]]
SERVICES = (customers, interactions, feedback, improvements)
MODELS = {t: (s.COMMAND_TOPIC, m) for s in SERVICES for t, m in s.COMMANDS.items()}


def test_the_simulator_knows_every_command_type_and_topic_of_the_contract() -> None:
    assert set(model.TOPIC_OF) == set(MODELS)
    assert {t: topic for t, (topic, _) in MODELS.items()} == model.TOPIC_OF
    assert model.COMMAND_TOPICS == topics.COMMAND_TOPICS
    assert model.COMMAND_RESULTS == topics.COMMAND_RESULTS
    assert set(model.AGENT_COMMANDS) == set(interactions.AGENT_COMMANDS)


@pytest.mark.parametrize("knobs", [
    Knobs(seed=21, customers=200, days=4, improvements=True),
    Knobs(seed=22, customers=120, days=3, start=date(2027, 3, 26), fcr=0.2, transfer=1.0,
          cross_channel=0.6, feedback_rate=1.0, email_backlog=0.8, self_service=0.7,
          improvements=True),
], ids=["defaults", "extremes"])
def test_every_generated_command_validates_against_the_contract(knobs: Knobs, make: Make
                                                               ) -> None:
    commands = make(knobs)
    seen: set[str] = set()
    for c in commands:
        wire = json.loads(encode(c))  # exactly what goes on the topic
        env = envelope.CommandEnvelope.model_validate(wire)
        topic, data_model = MODELS[env.command_type]
        assert c.topic == topic, c.envelope
        try:
            data_model.model_validate(wire["data"])
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{c.command_type} {wire['data']} is invalid: {exc}")
        headers = dict(c.headers())
        assert headers[envelope.HEADER_CONTENT_TYPE] == envelope.CONTENT_TYPE_JSON.encode()
        assert headers[envelope.HEADER_MESSAGE_TYPE] == c.command_type.encode()
        seen.add(c.command_type)
    assert seen == set(MODELS), "every command type is exercised"
