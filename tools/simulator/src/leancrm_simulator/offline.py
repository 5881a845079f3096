"""Events without running the services: the scenario's commands decided by the real
(pure) deciders of the command services and wrapped in the contract's event
envelopes, exactly as the services would publish them (keys and headers included).

For the projector's tests and benchmark, which need many realistic events fast.
Rejected commands produce no events (a valid scenario has none).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .model import SimCommand


@dataclass(frozen=True, slots=True)
class EventMessage:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    event_type: str


def offline_events(commands: Iterable[SimCommand]) -> Iterator[EventMessage]:
    from leancrm_contracts import topics
    from leancrm_contracts.base import event_data_json
    from leancrm_customers.app import SPEC as CUSTOMERS
    from leancrm_feedback.app import SPEC as FEEDBACK
    from leancrm_improvements.app import SPEC as IMPROVEMENTS
    from leancrm_interactions.app import SPEC as INTERACTIONS
    from leancrm_servicekit.commands import _recorded, event_message
    from leancrm_servicekit.decider import Command, DomainError
    from leancrm_servicekit.eventstore import StoredEvent
    from leancrm_servicekit.inbound import InboundRecord, decode_command

    specs = {topics.CUSTOMERS_COMMANDS: CUSTOMERS, topics.INTERACTIONS_COMMANDS: INTERACTIONS,
             topics.FEEDBACK_COMMANDS: FEEDBACK, topics.IMPROVEMENTS_COMMANDS: IMPROVEMENTS}
    namespace = uuid.UUID("6c65616e-6372-6d00-0000-6f66666c696e")  # event ids: command id + n
    states: dict[tuple[str, str], tuple[Any, int]] = {}
    import json

    for sim in commands:
        spec = specs[sim.topic]
        decoded = decode_command(
            InboundRecord(sim.topic, 0, 0, sim.key.encode(), json.dumps(sim.envelope).encode(),
                          tuple(sim.headers())),
            spec.command_models,
        )
        if not isinstance(decoded, Command):
            continue
        stream = spec.decider.stream_id(decoded)
        state, version = states.get((spec.name, stream), (spec.decider.initial_state(), 0))
        try:
            new_events = spec.decider.decide(state, decoded)
        except DomainError:
            continue
        for n, new in enumerate(new_events):
            version += 1
            ev = StoredEvent(
                event_id=uuid.uuid5(namespace, f"{decoded.command_id}/{n}"),
                stream_id=stream,
                stream_version=version,
                event_type=new.event_type,
                schema_version=1,
                occurred_at=decoded.occurred_at,
                recorded_at=datetime.fromtimestamp(sim.at_ms / 1000, UTC),
                customer_id=new.customer_id,
                correlation_id=decoded.correlation_id,
                causation_id=decoded.command_id,
                key=new.key,
                data=event_data_json(new.data),
            )
            state = spec.decider.evolve(state, _recorded(ev))
            msg = event_message(ev, spec.event_topic, spec.decider.producer)
            yield EventMessage(msg.topic, msg.key or b"", msg.value or b"",
                               tuple((k, v.encode()) for k, v in msg.headers), ev.event_type)
        states[(spec.name, stream)] = (state, version)


async def produce_events(bootstrap: str, events: Iterable[EventMessage],
                         **producer_options: Any) -> int:
    """Produce ``events`` to their topics, as the services' relays would (acks=all
    unless overridden); how many were produced."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **{"acks": "all", **producer_options})
    await producer.start()
    count = 0
    try:
        for e in events:
            await producer.send(e.topic, e.value, key=e.key, headers=list(e.headers))
            count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count
