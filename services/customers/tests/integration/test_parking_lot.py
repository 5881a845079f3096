"""The parking lot people work (issue 10): dead letters replayed to their topic, and a
message the broker refuses parked — the line goes on — listed, shown as a warning by
/ready, and replayed from the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest

from leancrm_contracts.topics import DLQ
from leancrm_customers.app import SPEC
from leancrm_devstack.testing import Infra, running_service, wait_until
from leancrm_servicekit.outbox import OutboxMessage
from leancrm_servicekit.parking_lot import REPLAY_OF, Selection, replay_dead_letters

from .helpers import register

pytestmark = pytest.mark.integration


async def test_dead_letters_are_replayed_to_their_topic_once_each(infra: Infra, bootstrap: str) -> None:
    async with running_service(SPEC, infra, bootstrap) as h:
        await h.send(b"{oops", key="k-replay", message_type="register_customer")
        await h.dead_letters("k-replay", 1)
        settings = h.service.settings
        report = await replay_dead_letters(settings, h.schema, Selection("customers"), [h.commands_topic])
        assert (report.sent, report.skipped_replayed) == (1, 0)
        # the original bytes, key and headers are back on the command topic, marked
        await wait_until(lambda: len([r for r in h.reader.on(h.commands_topic) if r.key == b"k-replay"]) == 2,
                         30, what="the replayed command")
        replayed = [r for r in h.reader.on(h.commands_topic) if r.key == b"k-replay"][1]
        headers = dict(replayed.headers)
        assert replayed.value == b"{oops" and headers["message_type"] == b"register_customer"
        assert headers[REPLAY_OF].startswith(f"{DLQ}:".encode())
        assert not any(k.startswith("dlq_") for k in headers)
        # still not JSON: the service dead-letters it again; a second replay sends only that one
        await h.dead_letters("k-replay", 2)
        again = await replay_dead_letters(settings, h.schema, Selection("customers"), [h.commands_topic])
        assert (again.sent, again.skipped_replayed) == (1, 1)
        rows = await h.db.fetch(f"SELECT kind, messages FROM {h.schema}.replays ORDER BY id")
        assert [(r["kind"], r["messages"]) for r in rows] == [("dead_letters", 1), ("dead_letters", 1)]


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "leancrm_customers", *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def test_a_refused_message_is_parked_shown_by_ready_and_replayed(infra: Infra, bootstrap: str) -> None:
    async with running_service(SPEC, infra, bootstrap) as h:
        assert h.service.outbox is not None and h.service.http is not None
        huge = OutboxMessage(h.events_topic, b"k-huge", b"x" * 1_100_000, (("message_type", "test"),))
        await h.service.outbox.enqueue([huge])
        await wait_until(lambda: h.service.relay is not None and h.service.relay.parked == 1, 30,
                         what="the huge message parked")
        # the line goes on: a command after it is answered
        cid = "00000000-0000-4000-8000-00000000000a"
        cmd = register(cid)
        await h.send(cmd, key=cid)
        assert (await h.result(cmd))["status"] == "accepted"
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{h.service.http.port}/ready")
        body = ready.json()
        assert ready.status_code == 200 and "message_too_large" in body["warnings"]["parked"]
        env = {**os.environ, "LEANCRM_DATABASE_URL": infra.dsn, "LEANCRM_DB_SCHEMA": h.schema,
               "LEANCRM_KAFKA_BOOTSTRAP": bootstrap, "COLUMNS": "200"}
        listed = await asyncio.to_thread(cli, env, "parked", "list")
        assert "message_too_large" in listed and h.events_topic in listed
        replayed = await asyncio.to_thread(cli, env, "parked", "replay", "--reason", "message_too_large")
        assert "moved 1 parked message" in replayed
        # still too large for the producer: parked again, and the replay is on record
        await wait_until(lambda: h.service.relay is not None and h.service.relay.parked == 2, 30,
                         what="the huge message parked again")
        row = await h.db.fetchrow(f"SELECT kind, messages, finished_at FROM {h.schema}.replays")
        assert row is not None and (row["kind"], row["messages"]) == ("parked", 1) and row["finished_at"]
        assert json.loads(await h.db.fetchval(
            f"SELECT headers FROM {h.schema}.parked_messages")) == [["message_type", "test"]]
