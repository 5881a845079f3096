"""Integration as another system would do it (issue 5): a client that is not Python
(Node.js with kafkajs) produces a command and consumes the resulting event and command
result; an operator reads the waste read model with psql as ``leancrm_ops``, and that
role can read nothing else and write nothing.

The customers and waste services run in this process on the test's PostgreSQL and
broker; the Node.js client and psql are separate processes that know nothing but the
contract (topics, keys, headers, JSON) and a DSN.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from leancrm_contracts.envelope import MESSAGE_TYPE_COMMAND_RESULT
from leancrm_customers.app import SPEC as CUSTOMERS
from leancrm_devstack.testing import Infra, wait_until
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings
from leancrm_waste.projection.stores import initial_store_name
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .tools import NODE_DIR, NodeClient, Psql, PsqlResult, as_role

pytestmark = pytest.mark.integration

COMMANDS = "crm.customers.commands.v1"
EVENTS = "crm.customers.events.v1"
RESULTS = "crm.command-results.v1"


@pytest.fixture
async def services(infra: Infra, bootstrap: str, schema_name: str) -> AsyncIterator[tuple[str, str]]:
    """The customers service and the waste projector, in this process, on their own
    schemas; yields (customers schema, waste service schema)."""
    waste_schema = f"{schema_name}_w"
    common: dict[str, Any] = {"kafka_bootstrap": bootstrap, "database_url": infra.dsn, "http_port": 0,
                              "partitions": 3, "relay_poll_interval_s": 0.2}
    customers = CommandService(CUSTOMERS, ServiceSettings(
        db_schema=schema_name, consumer_group=f"customers-{schema_name}", **common))
    waste = WasteService(WasteSettings(
        db_schema=waste_schema, consumer_group=f"waste-{waste_schema}", **common))
    await customers.start()
    try:
        await waste.start(http=False)
        try:
            yield schema_name, waste_schema
        finally:
            await waste.stop()
    finally:
        await customers.stop()


async def run_node_client(client: NodeClient, bootstrap: str, customer_id: str, command_id: str,
                          timeout_s: float = 90) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        client.node, str(NODE_DIR / "register_customer.js"),
        env=client.env(KAFKA_BOOTSTRAP=bootstrap, CUSTOMER_ID=customer_id, COMMAND_ID=command_id,
                       CUSTOMER_NAME="Grace Hopper", CUSTOMER_EMAIL="grace@example.com",
                       CUSTOMER_SEGMENT="business", TIMEOUT_MS=str(int(timeout_s * 1000))),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 30)
    assert proc.returncode == 0, (
        f"the kafkajs client exited with {proc.returncode}\nstdout: {out.decode()[-2000:]}\n"
        f"stderr: {err.decode()[-4000:]}")
    lines = out.decode().strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got {out.decode()!r}"
    printed: dict[str, Any] = json.loads(lines[0])
    return printed


async def expected_partition(bootstrap: str, topic: str, key: str) -> int:
    """Where Python producers (aiokafka: Java-compatible murmur2) put ``key``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
    finally:
        await producer.stop()
    return int(DefaultPartitioner()(key.encode(), partitions, partitions))


async def ops_login(infra: Infra) -> tuple[str, str | None]:
    """DSN (and password) of leancrm_ops on the test's PostgreSQL.

    Locally (the embedded PostgreSQL, or a server trusting local connections) the
    role logs in without a password; in a testcontainers PostgreSQL it is given a
    random one; ``LEANCRM_TEST_OPS_DSN`` overrides both."""
    if os.environ.get("LEANCRM_TEST_OPS_DSN"):
        return os.environ["LEANCRM_TEST_OPS_DSN"], None
    if infra.kind == "testcontainers":
        password = uuid.uuid4().hex
        conn = await asyncpg.connect(infra.dsn)
        try:
            await conn.execute(f"ALTER ROLE leancrm_ops PASSWORD '{password}'")
        finally:
            await conn.close()
        return as_role(infra.dsn, "leancrm_ops"), password
    return as_role(infra.dsn, "leancrm_ops"), None


async def test_kafkajs_puts_a_key_on_the_partition_python_producers_pick(node_client: NodeClient) -> None:
    """kafkajs's default partitioner (murmur2, as in Java) agrees with aiokafka's for
    every key: a customer's commands stay in one partition whichever system sends them.
    (librdkafka clients such as kcat need `partitioner=murmur2_random` for this.)"""
    keys = [str(uuid.uuid4()) for _ in range(200)]
    for count in (3, 6, 12):
        proc = await asyncio.create_subprocess_exec(
            node_client.node, str(NODE_DIR / "partitions.js"), str(count), *keys,
            env=node_client.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        partitions = list(range(count))
        expected = [DefaultPartitioner()(k.encode(), partitions, partitions) for k in keys]
        assert json.loads(out) == expected
        assert len(set(expected)) == count  # 200 keys reach every partition


def rows(result: PsqlResult) -> list[dict[str, str]]:
    assert result.returncode == 0, f"psql failed ({result.returncode}): {result.stderr}"
    return list(csv.DictReader(io.StringIO(result.stdout)))


def refused(result: PsqlResult, *reasons: str) -> str:
    assert result.returncode != 0, f"psql should have been refused, but printed {result.stdout!r}"
    assert any(r in result.stderr for r in reasons), result.stderr
    return result.stderr


async def test_a_node_client_registers_a_customer_and_ops_reads_it_with_psql(
    node_client: NodeClient, psql: Psql, infra: Infra, bootstrap: str, services: tuple[str, str]
) -> None:
    customers_schema, waste_schema = services
    customer_id = str(uuid.uuid4())
    command_id = f"kafkajs-{uuid.uuid4()}"

    # -- (b) kafkajs: command in; event and command result out ---------------------------
    started = time.monotonic()
    printed = await run_node_client(node_client, bootstrap, customer_id, command_id)
    node_s = time.monotonic() - started
    command, event, result = printed["command"], printed["event"], printed["result"]
    assert command["command_id"] == command_id and command["data"]["customer_id"] == customer_id
    assert event is not None and result is not None, printed

    assert event["topic"] == EVENTS and event["key"] == customer_id
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["message_type"] == "customer.registered"
    ev = event["value"]
    assert ev["event_type"] == "customer.registered" and ev["producer"] == "customers"
    assert ev["schema_version"] == 2  # personal fields sealed (contract section 2.8)
    assert ev["stream_id"] == customer_id and ev["stream_version"] == 1
    assert ev["customer_id"] == customer_id
    assert ev["causation_id"] == command_id
    assert ev["correlation_id"] == command["correlation_id"]
    assert command["data"] == {
        "customer_id": customer_id, "name": "Grace Hopper", "email": "grace@example.com",
        "phone": None, "segment": "business"}
    assert set(ev["data"]) == {"customer_id", "segment", "personal"}
    assert ev["data"]["personal"]["alg"] == "A256GCM" and "Grace" not in json.dumps(ev)
    uuid.UUID(ev["event_id"])

    assert result["topic"] == RESULTS and result["key"] == command_id
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["message_type"] == MESSAGE_TYPE_COMMAND_RESULT
    res = result["value"]
    assert res["command_id"] == command_id and res["command_type"] == "register_customer"
    assert res["status"] == "accepted" and res["error"] is None
    assert res["event_ids"] == [ev["event_id"]] and res["processed_at"]

    # kafkajs (with its Java-compatible partitioner) keys the command onto the partition
    # a Python producer would pick: one customer's commands stay in one partition,
    # whichever system sends them.
    assert printed["produced"]["partition"] == await expected_partition(bootstrap, COMMANDS, customer_id)

    # -- (c) psql as leancrm_ops: the read model, and nothing more ------------------------
    dsn, password = await ops_login(infra)
    query = ("SELECT customer_id, segment, name, email, forgotten FROM waste.customers "
             f"WHERE customer_id = '{customer_id}'")

    async def projected() -> list[dict[str, str]]:
        return rows(await psql.run(dsn, query, password=password))

    started = time.monotonic()
    (row,) = await wait_until(projected, timeout_s=60, interval_s=0.3,
                              what=f"customer {customer_id} in waste.customers (psql as leancrm_ops)")
    psql_s = time.monotonic() - started
    assert row == {"customer_id": customer_id, "segment": "business", "name": "Grace Hopper",
                   "email": "grace@example.com", "forgotten": "f"}
    # every public view is readable
    for view in ("interactions", "waste_ledger", "hourly_metrics", "capacity_hourly",
                 "value_stream_daily", "waste_daily", "backlog", "feedback_daily", "customers"):
        rows(await psql.run(dsn, f"SELECT * FROM waste.{view} LIMIT 1", password=password))
    (me,) = rows(await psql.run(dsn, "SELECT current_user AS who, "
                                     "current_setting('default_transaction_read_only') AS ro",
                                password=password))
    assert me == {"who": "leancrm_ops", "ro": "on"}

    # no private table: the customers service's own table, the projector's store
    store = initial_store_name(waste_schema)
    for private in (f"{customers_schema}.customers", f"{customers_schema}.events",
                    f"{store}.customers", f"{waste_schema}.active_store"):
        refused(await psql.run(dsn, f"SELECT count(*) FROM {private}", password=password),
                "permission denied")

    # no write: no privilege to write anything, in the read-only session it starts
    # with or in one that switched that default off...
    insert = ("INSERT INTO waste.customers (customer_id, segment, name, email, forgotten) "
              f"VALUES ('{uuid.uuid4()}', 'retail', 'Mallory', 'm@example.com', false)")
    read_write = "SET default_transaction_read_only = off"
    for statement in (insert,
                      f"UPDATE waste.customers SET name = 'Mallory' WHERE customer_id = '{customer_id}'",
                      f"DELETE FROM waste.customers WHERE customer_id = '{customer_id}'",
                      "CREATE TABLE waste.intruder (id int)",
                      f"UPDATE {store}.customers SET name = 'Mallory'"):
        refused(await psql.run(dsn, statement, password=password),
                "permission denied", "read-only transaction")
        refused(await psql.run(dsn, read_write, statement, password=password), "permission denied")
    # ...and even what PUBLIC may do (a temporary table) is refused by the read-only default
    refused(await psql.run(dsn, "CREATE TEMP TABLE scratch (id int)", password=password),
            "read-only transaction")
    # the projected row is unchanged
    (again,) = await projected()
    assert again == row
    print(f"\nkafkajs round trip {node_s:.1f}s (npm-cached), projected row visible to psql after "
          f"{psql_s:.1f}s more")
