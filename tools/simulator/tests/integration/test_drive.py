"""The driver against a real broker: what it sends is what the scenario says, and it counts
the results of its own commands (not older ones).

A stand-in for the command services answers every command with an ``accepted``
result, so the test needs only a broker (the ``bootstrap`` fixture). Old results
for the same command ids, left on the topic before the run, must not be counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from leancrm_devstack.testing import TopicReader, wait_until
from leancrm_servicekit.kafka import ensure_topics
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.model import COMMAND_RESULTS, COMMAND_TOPICS
from leancrm_simulator.run import SimulatorError, drive
from leancrm_simulator.scenario import generate

pytestmark = pytest.mark.integration


def _result(command_id: str, command_type: str, status: str) -> bytes:
    error = {"code": "conflict", "message": "old"} if status == "rejected" else None
    return json.dumps({"command_id": command_id, "command_type": command_type,
                       "status": status, "event_ids": [], "error": error,
                       "processed_at": datetime.now(UTC).isoformat()}).encode()


async def _answer_commands(bootstrap: str, prefix: str, producer: AIOKafkaProducer) -> None:
    """Stand-in command services: one ``accepted`` result per command of this run."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(t, p) for t in COMMAND_TOPICS
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    command = json.loads(record.value or b"{}")
                    if str(command.get("command_id", "")).startswith(prefix):
                        await producer.send(COMMAND_RESULTS, _result(
                            command["command_id"], command["command_type"], "accepted"),
                            key=command["command_id"].encode())
    finally:
        await consumer.stop()


async def test_a_small_scenario_arrives_as_generated_and_its_results_are_counted(
        bootstrap: str) -> None:
    knobs = Knobs(seed=uuid.uuid4().int % 10**9, customers=15, days=1)
    commands = generate(knobs)
    prefix = f"sim-{knobs.namespace()}-"
    await ensure_topics(bootstrap, [*COMMAND_TOPICS, COMMAND_RESULTS], partitions=3,
                        replication_factor=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for c in commands[:5]:  # results of an "earlier run": not ours to count
            await producer.send_and_wait(COMMAND_RESULTS, _result(c.command_id, c.command_type,
                                                                  "rejected"),
                                         key=c.command_id.encode())
        async with TopicReader(bootstrap, *COMMAND_TOPICS) as reader:
            answering = asyncio.create_task(_answer_commands(bootstrap, prefix, producer))
            try:
                summary = await drive({"LEANCRM_KAFKA_BOOTSTRAP": bootstrap}, speed=0,
                                      result_timeout_s=20, commands=commands,
                                      **knobs.as_dict())
            finally:
                answering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answering
            ours = {c.command_id for c in commands}
            await wait_until(lambda: ours <= {json.loads(r.value or b"{}").get("command_id")
                                              for r in reader.records},
                             timeout_s=30, what="every command read back")
            records = [r for r in reader.records
                       if json.loads(r.value or b"{}").get("command_id") in ours]
    finally:
        await producer.stop()

    assert summary.sent == len(commands)
    assert summary.waited_for_results and summary.missing_results == 0
    assert dict(summary.results_by_status) == {"accepted": len(commands)}

    by_id = {c.command_id: c for c in commands}
    per_key: dict[str, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        value = json.loads(r.value or b"{}")
        sent = by_id[value["command_id"]]
        assert r.topic == sent.topic
        assert (r.key or b"").decode() == sent.key
        assert value == sent.envelope
        assert dict(r.headers) == {"content-type": b"application/json",
                                   "message_type": sent.command_type.encode()}
        per_key[f"{r.topic}/{sent.key}"].append(sent.seq)
    # one key, one partition: each key's commands arrive in the order they were sent
    sent_order = {c.seq: i for i, c in enumerate(commands)}
    for seqs in per_key.values():
        assert [sent_order[s] for s in seqs] == sorted(sent_order[s] for s in seqs)


async def test_the_clock_is_accelerated_not_skipped(bootstrap: str) -> None:
    knobs = Knobs(seed=uuid.uuid4().int % 10**9, customers=5, days=1, contact_rate=1.0)
    commands = generate(knobs)
    span_s = (commands[-1].at_ms - commands[0].at_ms) / 1000
    summary = await drive({"LEANCRM_KAFKA_BOOTSTRAP": bootstrap}, speed=span_s / 2.0,
                          wait_for_results=False, commands=commands, **knobs.as_dict())
    assert summary.sent == len(commands)
    assert 1.8 <= summary.wall_s <= 10


async def test_an_unreachable_broker_is_named_with_what_to_set() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(SimulatorError) as err:
            await drive({"LEANCRM_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}, customers=5, days=1)
    assert f"127.0.0.1:{port}" in str(err.value)
    assert "LEANCRM_KAFKA_BOOTSTRAP" in str(err.value)
