"""The production database set-up (deploy/postgres/leancrm-init.sql) works with least
privilege: run with psql on a fresh database, the four services start as their own
roles on their default schemas, commands flow through to the read model, a rebuild
(the Kubernetes Job) runs as the waste role, and leancrm_ops reads the views — before
and after the rebuild's switch — but no role reads another's tables.

The script creates cluster-wide roles (customers, interactions, feedback, improvements, waste,
leancrm_ops), so the test runs on the disposable PostgreSQL of the test session
(embedded or testcontainers) and is skipped on infrastructure from the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_customers.app import SPEC as CUSTOMERS
from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_feedback.app import SPEC as FEEDBACK
from leancrm_improvements.app import SPEC as IMPROVEMENTS
from leancrm_interactions.app import SPEC as INTERACTIONS
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings
from leancrm_waste.projection.rebuild import rebuild
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .tools import Psql, as_role

pytestmark = pytest.mark.integration

INIT_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "leancrm-init.sql"
ROLES = ("customers", "interactions", "feedback", "improvements", "waste", "leancrm_ops")


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def command(command_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": f"deploy-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": now(), "correlation_id": None, "data": data}


@pytest.fixture
async def database(infra: Infra, psql: Psql) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A fresh database set up by the deploy script; yields (database, role passwords)."""
    if infra.kind not in ("embedded", "testcontainers"):
        pytest.skip("leancrm-init.sql creates cluster-wide roles: run only on the test "
                    f"session's own PostgreSQL (embedded or testcontainers), not on {infra.kind!r}")
    name = f"leancrm_{uuid.uuid4().hex[:10]}"
    passwords = {role: uuid.uuid4().hex for role in ROLES}
    variables = ["-v", f"db={name}"]
    for role, pw in passwords.items():
        variables += ["-v", f"{'ops' if role == 'leancrm_ops' else role}_password={pw}"]
    for attempt in (1, 2):  # the script is idempotent: a second run changes nothing and succeeds
        proc = await asyncio.create_subprocess_exec(
            psql.binary, infra.dsn, "-X", "-q", *variables, "-f", str(INIT_SQL),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, f"run {attempt} of {INIT_SQL.name} failed:\n{err.decode()}"
    try:
        yield name, passwords
    finally:
        conn = await asyncpg.connect(infra.dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def connect_as(infra: Infra, database: str, role: str, password: str) -> asyncpg.Connection:
    return await asyncpg.connect(as_role(with_database(infra.dsn, database), role, password))


async def test_services_run_as_their_own_roles_on_the_deploy_database(
    infra: Infra, bootstrap: str, database: tuple[str, dict[str, str]]
) -> None:
    name, passwords = database

    def dsn(role: str) -> str:
        return as_role(with_database(infra.dsn, name), role, passwords[role])

    tag = uuid.uuid4().hex[:8]
    # default schemas (LEANCRM_DB_SCHEMA unset), as in deploy/compose.yaml and kubernetes/
    common: dict[str, Any] = {"kafka_bootstrap": bootstrap, "http_port": 0, "partitions": 3,
                              "relay_poll_interval_s": 0.2}
    command_services = [
        CommandService(spec, ServiceSettings(database_url=dsn(spec.name),
                                             consumer_group=f"{spec.name}-{tag}", **common))
        for spec in (CUSTOMERS, INTERACTIONS, FEEDBACK, IMPROVEMENTS)]
    waste_settings = WasteSettings(database_url=dsn("waste"), consumer_group=f"waste-{tag}", **common)
    waste = WasteService(waste_settings)
    started: list[CommandService | WasteService] = []
    try:
        for s in command_services:
            await s.start()
            started.append(s)
        await waste.start(http=False)
        started.append(waste)
        assert [s.schema for s in started] == ["customers", "interactions", "feedback", "improvements",
                                                "waste_service"]

        customer_id, interaction_id, feedback_id, improvement_id = (str(uuid.uuid4()) for _ in range(4))
        sends = [
            ("crm.customers.commands.v1", customer_id, command("register_customer", {
                "customer_id": customer_id, "name": "Ada", "email": None, "phone": None,
                "segment": "retail"})),
            ("crm.interactions.commands.v1", customer_id, command("start_interaction", {
                "interaction_id": interaction_id, "customer_id": customer_id, "channel": "phone",
                "reason": "billing", "direction": "inbound"})),
            ("crm.feedback.commands.v1", customer_id, command("submit_feedback", {
                "feedback_id": feedback_id, "customer_id": customer_id, "source": "idea",
                "text": "Let me change my address online", "rating": None,
                "interaction_id": None, "topic": None})),
            ("crm.improvements.commands.v1", improvement_id, command("start_improvement", {
                "improvement_id": improvement_id, "title": "Call-back offer", "target": "fcr_rate",
                "starts_on": now()[:10], "owner_team": "billing",
                "expected": {"direction": "increase", "size": 0.05}})),
        ]
        async with TopicReader(bootstrap, "crm.command-results.v1") as results:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            try:
                for topic, key, cmd in sends:
                    await producer.send_and_wait(
                        topic, json.dumps(cmd).encode(), key=key.encode(),
                        headers=[("content-type", b"application/json"),
                                 ("message_type", cmd["command_type"].encode())])
            finally:
                await producer.stop()
            for _, _, cmd in sends:
                (res,) = await results.wait_json("crm.command-results.v1", command_id=cmd["command_id"])
                assert res["status"] == "accepted", res

        ops = await connect_as(infra, name, "leancrm_ops", passwords["leancrm_ops"])
        try:
            async def visible() -> bool:
                customer = await ops.fetchval(
                    "SELECT count(*) FROM waste.customers WHERE customer_id = $1", uuid.UUID(customer_id))
                interaction = await ops.fetchval(
                    "SELECT count(*) FROM waste.interactions WHERE interaction_id = $1",
                    uuid.UUID(interaction_id))
                ideas = await ops.fetchval("SELECT coalesce(sum(ideas), 0) FROM waste.feedback_daily")
                improvement = await ops.fetchval(
                    "SELECT count(*) FROM waste.improvements WHERE improvement_id = $1",
                    uuid.UUID(improvement_id))
                return bool(customer == 1 and interaction == 1 and ideas == 1 and improvement == 1)

            await wait_until(visible, timeout_s=60, interval_s=0.2,
                             what="the customer, the interaction, the idea and the improvement in the "
                                  "waste views")
            assert await ops.fetchval("SHOW default_transaction_read_only") == "on"
            for private in ("customers.customers", "interactions.events", "feedback.outbox",
                            "waste_service.active_store", "waste_service_store_0.customers"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await ops.fetchval(f"SELECT count(*) FROM {private}")

            # a rebuild (kubernetes/waste-rebuild-job.yaml) as the waste role: a new store,
            # views switched; leancrm_ops keeps reading them
            new, old, applied, _ = await rebuild(waste_settings, show_progress=False, timeout_s=90)
            assert old == "waste_service_store_0" and new != old and applied >= 4
            assert await ops.fetchval(
                "SELECT count(*) FROM waste.customers WHERE customer_id = $1", uuid.UUID(customer_id)) == 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await ops.fetchval(f"SELECT count(*) FROM {new}.customers")
        finally:
            await ops.close()

        # no service role reads another's schema
        for role, foreign in (("customers", "interactions.events"), ("interactions", "customers.customers"),
                              ("feedback", "waste_service.active_store"), ("waste", "customers.events"),
                              ("improvements", "feedback.events")):
            conn = await connect_as(infra, name, role, passwords[role])
            try:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetchval(f"SELECT count(*) FROM {foreign}")
                # and nobody writes to schema public
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("CREATE TABLE public.intruder (id int)")
            finally:
                await conn.close()
    finally:
        for service in reversed(started):
            await service.stop()
