"""The checker catches what the services would reject (so an empty report means something)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from leancrm_simulator.checker import check
from leancrm_simulator.model import DAY, HOUR, MINUTE, Emitter, SimCommand

CUSTOMER = "0b4f5a9e-3c1d-4e2f-8a7b-1c2d3e4f5a6b"
IID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
T0 = 1_795_000_000_000 - 1_795_000_000_000 % DAY + 9 * HOUR  # 09:00 UTC on some day


class Script:
    """A hand-written command stream, in the order given."""

    def __init__(self) -> None:
        self.out = Emitter("test")
        self.t = T0

    def customer(self) -> Script:
        return self.at(0, CUSTOMER, "register_customer", customer_id=CUSTOMER, name="Ann",
                       email=None, phone=None, segment="retail")

    def at(self, minutes: float, key: str, command_type: str, **data: Any) -> Script:
        self.t += int(minutes * MINUTE)
        self.out.emit(self.t, key, command_type, data, None)
        return self

    def i(self, command_type: str, minutes: float = 1, **data: Any) -> Script:
        return self.at(minutes, CUSTOMER, command_type, interaction_id=IID, **data)

    def agent(self, command_type: str, minutes: float = 1, agent: str = "a1", **data: Any
              ) -> Script:
        return self.at(minutes, agent, command_type, agent_id=agent, **data)

    def started(self) -> Script:
        return self.customer().agent("sign_in_agent", team="billing_team").i(
            "start_interaction", customer_id=CUSTOMER, channel="phone", reason="billing",
            direction="inbound")

    @property
    def commands(self) -> list[SimCommand]:
        return list(self.out.commands)


def test_a_clean_call_passes() -> None:
    s = (Script().started().i("identify_customer", step="ivr", method="account_number")
         .i("queue_interaction", queue="billing")
         .i("assign_agent", agent_id="a1", team="billing_team")
         .i("start_hold").i("end_hold")
         .i("transfer_interaction", to_queue="retention", to_channel="phone", reason="x")
         .i("assign_agent", agent_id="a1", team="billing_team")
         .i("resolve_interaction", resolved_by="agent").i("end_interaction")
         .agent("sign_out_agent"))
    assert check(s.commands) == []


@pytest.mark.parametrize(("script", "complaint"), [
    (lambda s: s.i("end_interaction").i("identify_customer", step="agent", method="x"),
     "ended interaction"),
    (lambda s: s.i("start_hold"), "hold without an agent"),
    (lambda s: s.i("queue_interaction", queue="billing").i("queue_interaction", queue="billing"),
     "already queued"),
    (lambda s: s.i("assign_agent", agent_id="a1", team="billing_team")
                .i("assign_agent", agent_id="a1", team="billing_team"),
     "already assigned"),
    (lambda s: s.i("assign_agent", agent_id="ghost", team="billing_team"), "not signed in"),
    (lambda s: s.i("transfer_interaction", to_queue="x", to_channel="phone", reason="x"),
     "transfer without an agent"),
    (lambda s: s.i("end_hold"), "not on hold"),
    (lambda s: s.i("resolve_interaction", resolved_by="bot").i("abandon_interaction",
                                                             stage="ivr"),
     "already resolved"),
    (lambda s: s.i("abandon_interaction", stage="queue"), "while not there"),
    (lambda s: s.i("identify_customer", -5, step="ivr", method="x"), "out_of_order"),
    (lambda s: s.agent("sign_in_agent", team="billing_team"), "already signed in"),
    (lambda s: s.agent("sign_out_agent", agent="a2"), "not signed in"),
    (lambda s: s.agent("sign_out_agent", 24 * 60), "not closed on the day"),
    (lambda s: s.i("identify_customer", step="teller", method="x"), "step"),
    (lambda s: s.at(1, CUSTOMER, "change_customer_details", customer_id=CUSTOMER, name=None,
                    email=None, phone=None, segment=None), "no field"),
    (lambda s: s.at(1, CUSTOMER, "forget_customer", customer_id=CUSTOMER)
                .at(1, CUSTOMER, "change_customer_details", customer_id=CUSTOMER, name="B",
                    email=None, phone=None, segment=None), "after forget"),
    (lambda s: s.at(1, "other-key", "identify_customer", interaction_id=IID, step="ivr",
                    method="x"), "key differs"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_breaking_a_rule_is_reported(script: Any, complaint: str) -> None:
    violations = check(script(Script().started()).commands)
    assert any(complaint in v for v in violations), violations


def test_an_agent_left_signed_in_is_reported() -> None:
    assert any("still signed in" in v for v in check(Script().started().commands))


def test_votes_must_follow_their_idea_on_its_key() -> None:
    fid = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
    s = Script().customer().at(1, fid, "submit_feedback", feedback_id=fid, customer_id=None,
                               source="idea", text="Idea", rating=None, interaction_id=None,
                               topic="app")
    s.at(1, CUSTOMER, "vote_idea", feedback_id=fid, voter_customer_id=CUSTOMER, vote=1)
    assert any("keyed like its idea" in v for v in check(s.commands))


def test_duplicate_ids_and_time_going_back_are_reported() -> None:
    commands = Script().started().commands
    copy = dataclasses.replace(commands[-1], at_ms=commands[0].at_ms - 1, seq=99)
    violations = check([*commands, copy])
    assert any("not unique" in v for v in violations)
    assert any("goes back in business time" in v for v in violations)
