"""Contract section 5: "Every figure is the same whether the events arrive once or
several times, in one batch or many". Random streams that follow section 4's rules —
many events sharing a timestamp — give identical figures, ledger rows and busy time
for every arrival order with duplicates (fixed seed: the same streams every run)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from leancrm_waste.domain.capacity import busy_by_hour
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import summarise_interaction, summarise_ordered
from leancrm_waste.domain.wastes import interaction_wastes

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def valid_stream(rng: random.Random, iid: str, ties: bool = True) -> list[Event]:
    """A random interaction obeying section 4, in the order it happened (with ``ties``,
    steps of 0 s are frequent, so many events share a timestamp)."""
    at = T0
    channel = rng.choice(["phone", "chat", "email", "bot"])
    out = [Event(f"{iid}-0", "interaction.started", at,
                 {"interaction_id": iid, "customer_id": "c", "channel": channel, "reason": "r",
                  "direction": "inbound"})]
    queued = hold = resolved = abandoned = False
    agent: str | None = None
    for _ in range(1, rng.randint(2, 16)):
        at += timedelta(seconds=rng.choice([0, 0, 0, 1, 45, 600] if ties else [1, 45, 600]))
        options = ["customer_identified", "ended"]
        options += [] if queued else ["queued"]
        options += ["agent_assigned"] * 2 if agent is None else ["transferred", "hold_ended" if hold else
                                                                  "hold_started"]
        options += [] if resolved or abandoned else ["resolved", "abandoned"]
        kind = rng.choice(options)
        data: dict[str, Any] = {"interaction_id": iid}
        if kind == "queued":
            queued = True
            data["queue"] = "q"
        elif kind == "agent_assigned":
            agent, queued = rng.choice(["a1", "a2", "a3"]), False
            data.update(agent_id=agent, team=f"team_{agent}")
        elif kind == "transferred":
            to = rng.choice([channel, "email"])
            data.update(to_queue="q", to_channel=to, reason="x", from_agent_id=agent, from_channel=channel)
            channel, agent, hold, queued = to, None, False, True
        elif kind == "hold_started":
            hold = True
        elif kind == "hold_ended":
            hold = False
        elif kind == "resolved":
            resolved = True
            data["resolved_by"] = "agent" if agent else rng.choice(["bot", "self_service", "community"])
        elif kind == "abandoned":
            abandoned = True
            data["stage"] = "queue"
        elif kind == "customer_identified":
            data.update(step="ivr", method="m")
        out.append(Event(f"{iid}-{rng.getrandbits(32):08x}", f"interaction.{kind}", at, data))
        if kind == "ended":
            break
    return out


def test_random_valid_streams_give_the_same_figures_in_any_arrival_order_with_duplicates() -> None:
    rng = random.Random(5)
    for i in range(300):
        events = valid_stream(rng, f"i{i}")
        expected = summarise_interaction(events)
        expected_rows = interaction_wastes(expected)
        expected_busy = busy_by_hour(expected.agent_segments)
        for _ in range(4):
            batch = events + rng.sample(events, rng.randrange(len(events) + 1))
            rng.shuffle(batch)
            got = summarise_interaction(batch)
            assert got == expected
            assert interaction_wastes(got) == expected_rows
            assert busy_by_hour(got.agent_segments) == expected_busy


def test_without_ties_the_figures_are_those_of_the_order_things_happened_in() -> None:
    rng = random.Random(11)
    for i in range(300):
        events = valid_stream(rng, f"i{i}", ties=False)
        shuffled = events + events[:3]
        rng.shuffle(shuffled)
        assert summarise_interaction(shuffled) == summarise_ordered(events)
