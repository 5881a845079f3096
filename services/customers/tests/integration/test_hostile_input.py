"""Issue 10's first report, as an outside system would send it: malformed records mixed
into valid commands. Every valid command must get exactly one result, every malformed
record a verdict of its own (a dead letter, or an ``invalid`` result when it has a
usable command_id), and commands sent later must still be handled."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.topics import COMMAND_RESULTS, DLQ
from leancrm_customers.app import SPEC
from leancrm_devstack.testing import Infra, running_service, wait_until

from .helpers import register

pytestmark = pytest.mark.integration


def malformed() -> dict[bytes, str]:
    """value → expected verdict: a dlq_error_code, or ``invalid`` (a rejected result)."""
    name_with_nul = register(str(uuid.uuid4()), name="Ada\u0000")
    many_fields = register(str(uuid.uuid4()))
    many_fields["data"].update({f"f{i}": i for i in range(10_000)})
    return {
        b"[" * 1000 + b"]" * 1000: "undecodable",  # RecursionError escaped and lost its batch
        b'{"command_id": "x", "n": ' + b"9" * 5000 + b"}": "invalid",  # ValueError, likewise
        json.dumps(name_with_nul).encode("utf-16"): "undecodable",  # passed, then failed every commit
        json.dumps(register(str(uuid.uuid4()))
                   | {"occurred_at": "9999-12-31T23:59:59-01:00"}).encode(): "invalid",
        json.dumps(many_fields).encode(): "invalid",
        b"\xff" * 1_048_000: "undecodable",  # about 1 MiB: its dead letter must still fit
    }


async def test_malformed_records_among_valid_commands_each_get_a_verdict_and_nothing_stalls(
        infra: Infra, bootstrap: str) -> None:
    bad = malformed()
    valid = [register(str(uuid.uuid4())) for _ in range(240)]
    async with running_service(SPEC, infra, bootstrap) as h:
        big = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=4_000_000)
        await big.start()
        try:
            bad_values = list(bad)
            for i, cmd in enumerate(valid):
                await h.send(cmd, key=cmd["data"]["customer_id"])
                if i % 40 == 20:
                    await big.send_and_wait(h.commands_topic, bad_values[i // 40], key=b"bad",
                                            headers=[("content-type", b"application/json")])
        finally:
            await big.stop()
        ids = {c["command_id"] for c in valid}

        def answered() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for res in h.reader.json_on(COMMAND_RESULTS):
                if res["command_id"] in ids:
                    out.setdefault(res["command_id"], []).append(res["status"])
            return out

        await wait_until(lambda: len(answered()) == len(ids), 60, what="a result for every valid command")
        assert all(statuses == ["accepted"] for statuses in answered().values())
        invalid = [r for r in h.reader.json_on(COMMAND_RESULTS)
                   if r["command_id"] not in ids and r["status"] == "rejected"]
        letters = await h.dead_letters("bad", sum(1 for v in bad.values() if v != "invalid"))
        assert sorted(dict(r.headers)["dlq_error_code"].decode() for r in letters) == sorted(
            v for v in bad.values() if v != "invalid")
        assert len(invalid) == 3 and all(r["error"]["code"] == "invalid" for r in invalid)
        assert all(len(r.value or b"") <= 262_144 for r in h.reader.on(DLQ))
        # the line still moves: commands sent afterwards are handled
        later = [register(str(uuid.uuid4())) for _ in range(10)]
        for cmd in later:
            await h.send(cmd, key=cmd["data"]["customer_id"])
        for cmd in later:
            assert (await h.result(cmd))["status"] == "accepted"
        outbox = h.service.outbox
        assert outbox is not None

        async def outbox_empty() -> bool:
            return await outbox.backlog() == 0

        await wait_until(outbox_empty, 30, what="an empty outbox")


async def test_a_command_postgresql_refuses_is_answered_invalid_and_the_batch_commits(
        infra: Infra, bootstrap: str) -> None:
    """A value PostgreSQL refuses when the batch is written (here the service's read-model
    hook casts a name to a number, as a faulty migration or an unforeseen value could)
    failed the whole batch for ever; now the batch goes again one command at a time and
    only that command is refused."""
    import dataclasses
    from collections.abc import Sequence

    from leancrm_servicekit.db import Conn
    from leancrm_servicekit.eventstore import StoredEvent

    poison = str(uuid.uuid4())

    async def hook(conn: Conn, events: Sequence[StoredEvent]) -> None:
        assert SPEC.read_model is not None
        await SPEC.read_model(conn, events)
        for e in events:  # PostgreSQL itself refuses the poison's value (22P02)
            await conn.execute("SELECT $1::text::int", "x" if e.stream_id == poison else "1")

    spec = dataclasses.replace(SPEC, read_model=hook)
    cmds = [register(str(uuid.uuid4())) for _ in range(5)]
    cmds.insert(2, register(poison))
    async with running_service(spec, infra, bootstrap) as h:
        for cmd in cmds:
            await h.send(cmd, key="one-partition")  # one key: one batch, in order
        results = {c["command_id"]: await h.result(c) for c in cmds}
        refused = results[cmds[2]["command_id"]]
        assert refused["status"] == "rejected" and refused["error"]["code"] == "invalid"
        assert refused["error"]["message"].startswith("cannot be stored: InvalidTextRepresentationError")
        assert [results[c["command_id"]]["status"] for c in cmds if c is not cmds[2]] == ["accepted"] * 5
        assert await h.stored_caused_by(cmds[2]["command_id"]) == 0
