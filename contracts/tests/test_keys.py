"""The key of every command (section 1.1) is a required field of its data: the id of
its stream."""

from __future__ import annotations

import uuid

import pytest

from leancrm_contracts import interactions as m
from leancrm_contracts.keys import STREAM_FIELD, command_key, command_key_of
from leancrm_contracts.registry import ALL_COMMANDS


def test_every_command_has_a_key_field_it_requires() -> None:
    assert set(STREAM_FIELD) == set(ALL_COMMANDS)
    for command_type, field in STREAM_FIELD.items():
        model = ALL_COMMANDS[command_type]
        assert model.model_fields[field].is_required(), (command_type, field)


def test_the_key_is_the_streams_id() -> None:
    iid = uuid.uuid4()
    assert command_key(m.EndInteraction(interaction_id=iid)) == str(iid)
    assert command_key(m.SignOutAgent(agent_id="a-17")) == "a-17"
    assert command_key_of("vote_idea", {"feedback_id": "f-1", "voter_customer_id": "c"}) == "f-1"
    with pytest.raises(KeyError):
        command_key_of("teleport", {})
