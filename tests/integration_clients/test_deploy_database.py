"""The production database set-up (deploy/postgres/leancrm-init.sql) works with least
privilege: run with psql on a fresh database, migrations run as each schema's owner
role (`migrate` first, as the Kubernetes init containers do, or at start-up with
LEANCRM_MIGRATION_DATABASE_URL), the five services then run as their own roles on
their default schemas, commands flow through to the read model, a rebuild (the
Kubernetes Job) runs as the waste schema's owner, and leancrm_ops reads the views —
before and after the rebuild's switch — but no role reads another's tables.

And what least privilege means, tried: a service's role cannot create, alter, drop or
truncate anything, nor touch another service's schema or relay lease; leancrm_ops
writes nothing, locks nothing a service needs, takes no lease, has a statement timeout
and a connection limit; an advisory lock held by anyone stops no migration.

The script creates cluster-wide roles (customers, interactions, feedback, improvements, waste,
their owners, leancrm_ops), so the test runs on the disposable PostgreSQL of the test session
(embedded or testcontainers) and is skipped on infrastructure from the environment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from structlog.testing import capture_logs

from leancrm_customers.app import SPEC as CUSTOMERS
from leancrm_devstack.testing import Infra, TopicReader, wait_until
from leancrm_feedback.app import SPEC as FEEDBACK
from leancrm_improvements.app import SPEC as IMPROVEMENTS
from leancrm_interactions.app import SPEC as INTERACTIONS
from leancrm_servicekit.bootstrap import migrate_only, open_infrastructure, start_migrations
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.db import KIT_MIGRATIONS, may_change_schema
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings
from leancrm_waste.projection import stores
from leancrm_waste.projection.rebuild import rebuild
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .tools import Psql, as_role

pytestmark = pytest.mark.integration

INIT_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "leancrm-init.sql"
SERVICES = ("customers", "interactions", "feedback", "improvements", "waste")
ROLES = (*SERVICES, *(f"{s}_owner" for s in SERVICES), "leancrm_ops")
MIGRATIONS = {"customers": CUSTOMERS.migration_dirs, "interactions": INTERACTIONS.migration_dirs,
              "feedback": FEEDBACK.migration_dirs, "improvements": IMPROVEMENTS.migration_dirs,
              "waste": ()}


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def command(command_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": f"deploy-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": now(), "correlation_id": None, "data": data}


async def run_init_script(infra: Infra, psql: Psql, name: str, passwords: dict[str, str]) -> None:
    variables = ["-v", f"db={name}"]
    for role, pw in passwords.items():
        variables += ["-v", f"{'ops' if role == 'leancrm_ops' else role}_password={pw}"]
    proc = await asyncio.create_subprocess_exec(
        psql.binary, infra.dsn, "-X", "-q", *variables, "-f", str(INIT_SQL),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PGCONNECT_TIMEOUT": "5"})
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"{INIT_SQL.name} failed:\n{err.decode()}"


@pytest.fixture
async def database(infra: Infra, psql: Psql) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A fresh database set up by the deploy script; yields (database, role passwords)."""
    if infra.kind not in ("embedded", "testcontainers"):
        pytest.skip("leancrm-init.sql creates cluster-wide roles: run only on the test "
                    f"session's own PostgreSQL (embedded or testcontainers), not on {infra.kind!r}")
    name = f"leancrm_{uuid.uuid4().hex[:10]}"
    passwords = {role: uuid.uuid4().hex for role in ROLES}
    for _ in (1, 2):  # the script is idempotent: a second run changes nothing and succeeds
        await run_init_script(infra, psql, name, passwords)
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


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


async def run_module(module: str, *args: str, **env: str) -> Done:
    """``python -m module args`` with only ``env``'s LEANCRM_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEANCRM_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, env={**clean, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def migrate_as_owner(service: str, dsn: str) -> list[str]:
    """`python -m leancrm_<service> migrate` with the owner's DSN (as the Kubernetes init
    containers and the compose migration services run it)."""
    settings = WasteSettings(migration_database_url=dsn) if service == "waste" else ServiceSettings(
        migration_database_url=dsn)
    prepare = ((lambda conn: stores.prepare(conn, "waste_service", 0.85)) if service == "waste" else None)
    _, applied = await migrate_only(service, settings, default_schema=(
        "waste_service" if service == "waste" else None), migrations=MIGRATIONS[service], prepare=prepare)
    return applied


async def test_services_run_as_their_own_roles_on_the_deploy_database(
    infra: Infra, bootstrap: str, database: tuple[str, dict[str, str]]
) -> None:
    name, passwords = database

    def dsn(role: str) -> str:
        return as_role(with_database(infra.dsn, name), role, passwords[role])

    tag = uuid.uuid4().hex[:8]
    # customers and waste: migrated first by `migrate` as the owner, then run with their own
    # role alone (kubernetes/: an init container, then the service); interactions and
    # feedback: given the owner's DSN, they migrate as it at start-up (scripts/run)
    for service in ("customers", "waste"):
        assert await migrate_as_owner(service, dsn(f"{service}_owner"))
    # default schemas (LEANCRM_DB_SCHEMA unset), as in deploy/compose.yaml and kubernetes/
    common: dict[str, Any] = {"kafka_bootstrap": bootstrap, "http_port": 0, "partitions": 3,
                              "relay_poll_interval_s": 0.2}
    command_services = [
        CommandService(spec, ServiceSettings(
            database_url=dsn(spec.name), consumer_group=f"{spec.name}-{tag}", **common,
            **({} if spec is CUSTOMERS else {"migration_database_url": dsn(f"{spec.name}_owner")})))
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
        admin = await asyncpg.connect(with_database(infra.dsn, name))
        try:  # every table of every service's schemas is its owner's, none the service's role's
            owners = {r["owner"] for r in await admin.fetch(
                "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1::text[])",
                ["customers", "interactions", "feedback", "improvements", "waste_service",
                 "waste_service_store_0", "waste"])}
        finally:
            await admin.close()
        assert owners == {f"{s}_owner" for s in SERVICES}

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

            # a rebuild (kubernetes/waste-rebuild-job.yaml) as the waste schema's owner: a new
            # store, views switched; the running service (its own role) follows it, and
            # leancrm_ops keeps reading them
            owner_settings = waste_settings.model_copy(
                update={"migration_database_url": dsn("waste_owner"), "consumer_group": f"rebuild-{tag}"})
            new, old, applied, _ = await rebuild(owner_settings, show_progress=False, timeout_s=90)
            assert old == "waste_service_store_0" and new != old and applied >= 4
            assert await ops.fetchval(
                "SELECT count(*) FROM waste.customers WHERE customer_id = $1", uuid.UUID(customer_id)) == 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await ops.fetchval(f"SELECT count(*) FROM {new}.customers")
            await wait_until(lambda: waste.store_name == new, timeout_s=30, interval_s=0.2,
                             what="the running projector following the switch to the new store")
            customer_id2 = str(uuid.uuid4())
            async with TopicReader(bootstrap, "crm.command-results.v1") as results:
                cmd = command("register_customer", {"customer_id": customer_id2, "name": "Grace",
                                                    "email": None, "phone": None, "segment": "retail"})
                producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
                await producer.start()
                try:
                    await producer.send_and_wait(
                        "crm.customers.commands.v1", json.dumps(cmd).encode(), key=customer_id2.encode(),
                        headers=[("content-type", b"application/json"),
                                 ("message_type", b"register_customer")])
                finally:
                    await producer.stop()
                (res,) = await results.wait_json("crm.command-results.v1", command_id=cmd["command_id"])
                assert res["status"] == "accepted", res

            async def projected_in_new_store() -> bool:
                return bool(await ops.fetchval("SELECT count(*) FROM waste.customers WHERE customer_id = $1",
                                               uuid.UUID(customer_id2)) == 1)

            await wait_until(projected_in_new_store, timeout_s=60, interval_s=0.2,
                             what="the waste role writing the store the owner's rebuild made")
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


async def test_a_service_role_changes_no_schema_and_touches_no_other_service(
    infra: Infra, database: tuple[str, dict[str, str]]
) -> None:
    name, passwords = database

    def dsn(role: str) -> str:
        return as_role(with_database(infra.dsn, name), role, passwords[role])

    # `migrate`, the command the init containers run: as the service's own role it says
    # whose DSN it needs; as the owner it migrates
    done = await run_module("leancrm_customers", "migrate", LEANCRM_DATABASE_URL=dsn("customers"))
    assert done.returncode == 1 and "LEANCRM_MIGRATION_DATABASE_URL" in done.stderr, done
    assert "Traceback" not in done.stderr, done.stderr
    done = await run_module("leancrm_waste", "migrate", LEANCRM_DATABASE_URL=dsn("waste"),
                            LEANCRM_MIGRATION_DATABASE_URL=dsn("waste_owner"))
    assert done.returncode == 0 and "schema waste_service: 4 migration(s) applied" in done.stdout, done
    # as its own role, a service on a schema not yet migrated refuses to start, saying how
    with pytest.raises(ConfigurationError, match=r"python -m leancrm_customers migrate"):
        await start_migrations("customers", ServiceSettings(database_url=dsn("customers")), "customers",
                               [KIT_MIGRATIONS, *MIGRATIONS["customers"]])
    for service in SERVICES:  # (waste's were applied by the command above)
        assert await migrate_as_owner(service, dsn(f"{service}_owner")) or service == "waste"
    # once migrated, it starts without applying anything (and without the right to)
    assert await start_migrations("customers", ServiceSettings(database_url=dsn("customers")), "customers",
                                  [KIT_MIGRATIONS, *MIGRATIONS["customers"]]) == []
    # started as a role that may change its schema, a service says so; as its own, it does not
    for role, warned in (("customers_owner", True), ("customers", False)):
        with capture_logs() as logs:
            infra_ = await open_infrastructure("customers", ServiceSettings(
                database_url=dsn(role), kafka_bootstrap="127.0.0.1:9"), migrations=MIGRATIONS["customers"])
            await infra_.close()
        events = [e["event"] for e in logs]
        assert ("runtime_role_may_change_schema" in events) is warned, (role, events)

    own = {"customers": "customers", "interactions": "interactions", "feedback": "feedback",
           "improvements": "improvements", "waste": "waste_service"}
    for service, schema in own.items():
        owner = await connect_as(infra, name, f"{service}_owner", passwords[f"{service}_owner"])
        conn = await connect_as(infra, name, service, passwords[service])
        try:
            assert await may_change_schema(owner, schema)
            assert not await may_change_schema(conn, schema)
            # its rows: yes (the relay's lease too), in a transaction rolled back
            tx = conn.transaction()
            await tx.start()
            assert await conn.fetchval(f"SELECT count(*) FROM {schema}.relay_lease") == 1
            await conn.execute(f"UPDATE {schema}.relay_lease SET holder = holder")
            await conn.execute(f"DELETE FROM {schema}.outbox")
            await tx.rollback()
            # its schema: no
            for ddl in (f"CREATE TABLE {schema}.intruder (id int)",
                        f"CREATE VIEW {schema}.intruder AS SELECT 1",
                        f"ALTER TABLE {schema}.outbox ADD COLUMN intruder int",
                        f"DROP TABLE {schema}.outbox",
                        f"TRUNCATE {schema}.outbox",
                        f"CREATE INDEX intruder ON {schema}.outbox (topic)",
                        f"CREATE SCHEMA {service}_intruder",
                        "CREATE TEMPORARY TABLE intruder (id int)"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(ddl)
            # another service's schema, its relay's lease included: no
            for other, other_schema in own.items():
                if other == service:
                    continue
                for sql in (f"SELECT count(*) FROM {other_schema}.relay_lease",
                            f"UPDATE {other_schema}.relay_lease SET holder = 'intruder'",
                            f"LOCK TABLE {other_schema}.relay_lease IN ACCESS SHARE MODE"):
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        async with conn.transaction():
                            await conn.execute(sql)
        finally:
            await conn.close()
            await owner.close()

    # waste: the views and the stores are the owner's to (re)define
    conn = await connect_as(infra, name, "waste", passwords["waste"])
    try:
        assert await conn.fetchval("SELECT count(*) FROM waste.waste_daily") == 0  # reads its views
        for ddl in ("CREATE OR REPLACE VIEW waste.waste_daily AS SELECT 1 AS day",
                    "DROP VIEW waste.customers", "DROP SCHEMA waste_service_store_0 CASCADE"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(ddl)
    finally:
        await conn.close()


async def test_leancrm_ops_reads_and_is_bounded_but_blocks_no_service(
    infra: Infra, database: tuple[str, dict[str, str]]
) -> None:
    name, passwords = database

    def dsn(role: str) -> str:
        return as_role(with_database(infra.dsn, name), role, passwords[role])

    for service in SERVICES:
        await migrate_as_owner(service, dsn(f"{service}_owner"))
    ops = await connect_as(infra, name, "leancrm_ops", passwords["leancrm_ops"])
    try:
        # its session's bounds
        assert await ops.fetchval("SHOW statement_timeout") == "30s"
        assert await ops.fetchval("SHOW lock_timeout") == "5s"
        assert await ops.fetchval("SHOW idle_in_transaction_session_timeout") == "1min"
        assert await ops.fetchval("SHOW default_transaction_read_only") == "on"
        assert await ops.fetchval("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user") == 5
        assert await ops.fetchval("SELECT count(*) FROM waste.waste_daily") == 0
        # even in a read-write transaction, it writes nothing, locks nothing beyond reading,
        # and cannot reach the services' schemas — their relay leases, their migrations
        forbidden = ["UPDATE waste.customers SET name = 'ops'",  # a simple view: updatable, by rights
                     "DELETE FROM waste.customers",
                     "LOCK TABLE waste.waste_daily IN ACCESS EXCLUSIVE MODE",
                     "LOCK TABLE waste.customers IN SHARE MODE",
                     "CREATE TABLE waste.intruder (id int)",
                     "CREATE SCHEMA intruder"]
        for schema in ("customers", "interactions", "feedback", "improvements", "waste_service",
                       "waste_service_store_0"):
            table = "customers" if schema == "waste_service_store_0" else "relay_lease"
            forbidden += [f"SELECT count(*) FROM {schema}.{table}",
                          f"UPDATE {schema}.relay_lease SET holder = 'ops'",
                          f"LOCK TABLE {schema}.schema_migrations IN ACCESS SHARE MODE"]
        for sql in forbidden:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with ops.transaction():
                    await ops.execute("SET TRANSACTION READ WRITE")
                    await ops.execute(sql)
        # a session advisory lock on the key migrations once took stops no migration now
        key = int.from_bytes(hashlib.sha256(b"migrate:customers").digest()[:8], "big", signed=True)
        await ops.execute("SELECT pg_advisory_lock($1)", key)
        admin = await asyncpg.connect(with_database(infra.dsn, name))
        try:
            await admin.execute("DELETE FROM customers.schema_migrations "
                                "WHERE name = 'kit_0003_relay_positions.sql'")
        finally:
            await admin.close()
        assert await asyncio.wait_for(migrate_as_owner("customers", dsn("customers_owner")), 30) == [
            "kit_0003_relay_positions.sql"]
        # at most five sessions at once
        more = [await connect_as(infra, name, "leancrm_ops", passwords["leancrm_ops"]) for _ in range(4)]
        try:
            with pytest.raises(asyncpg.TooManyConnectionsError):
                await connect_as(infra, name, "leancrm_ops", passwords["leancrm_ops"])
        finally:
            for conn in more:
                await conn.close()
    finally:
        await ops.close()


async def test_running_the_script_again_upgrades_a_database_whose_services_owned_their_schemas(
    infra: Infra, psql: Psql, database: tuple[str, dict[str, str]]
) -> None:
    """An earlier version of the script made each service's role own its schema and run
    its migrations (with CREATE on the database): running this one again hands their
    objects to the owners and leaves each service its rows, and nothing more."""
    name, passwords = database

    def dsn(role: str) -> str:
        return as_role(with_database(infra.dsn, name), role, passwords[role])

    for service in SERVICES:
        await migrate_as_owner(service, dsn(f"{service}_owner"))
    admin = await asyncpg.connect(with_database(infra.dsn, name))
    try:  # the earlier set-up: the service's role owns everything and may create
        for service in SERVICES:
            await admin.execute(f"REASSIGN OWNED BY {service}_owner TO {service}")
            await admin.execute(f'GRANT CREATE, TEMPORARY ON DATABASE "{name}" TO {service}')
        conn = await connect_as(infra, name, "customers", passwords["customers"])
        try:
            assert await may_change_schema(conn, "customers")
        finally:
            await conn.close()

        await run_init_script(infra, psql, name, passwords)

        owners = {r["owner"] for r in await admin.fetch(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE ANY ($1::text[])",
            ["customers", "interactions", "feedback", "improvements", "waste_service%", "waste"])}
        assert owners == {f"{s}_owner" for s in SERVICES}
    finally:
        await admin.close()
    for service, schema in (("customers", "customers"), ("waste", "waste_service_store_0")):
        conn = await connect_as(infra, name, service, passwords[service])
        try:
            assert not await may_change_schema(conn, schema)
            assert not await conn.fetchval("SELECT has_database_privilege(current_database(), 'CREATE')")
            write = (f"UPDATE {schema}.customers SET segment = segment" if service == "customers"
                     else f"UPDATE {schema}.settings SET target_occupancy = target_occupancy")
            tx = conn.transaction()
            await tx.start()
            await conn.execute(write)  # its rows, still
            await tx.rollback()
        finally:
            await conn.close()
    # and the services start as their own roles on the upgraded schemas
    assert await start_migrations("customers", ServiceSettings(database_url=dsn("customers")), "customers",
                                  [KIT_MIGRATIONS, *MIGRATIONS["customers"]]) == []
