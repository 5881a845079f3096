"""The Node.js client of clients/node (kafkajs), run as another system would run it:
its table of topics and keys is the contract's, and its example tells one self-service
contact to the real services, each command answered ``accepted`` through the client's
own results consumer group."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from leancrm_client.commands import TOPIC_OF
from leancrm_contracts.keys import STREAM_FIELD
from leancrm_devstack.testing import Infra, running_services

from .tools import NodeClient

pytestmark = pytest.mark.integration
CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"


async def node(client: NodeClient, *args: str, timeout_s: float = 120,
               **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        client.node, *args, cwd=str(CLIENT_DIR), env=client.env(**env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_the_node_client_uses_the_same_kafkajs_as_the_tested_one() -> None:
    ours = json.loads((CLIENT_DIR / "package.json").read_text())["dependencies"]
    tested = json.loads((Path(__file__).parent / "node" / "package.json").read_text())["dependencies"]
    assert ours == tested  # so the installed kafkajs the tests use is the one it declares


async def test_the_node_clients_topics_and_keys_are_the_contracts(node_client: NodeClient) -> None:
    code, out, err = await node(node_client, "-e", "process.stdout.write(JSON.stringify("
                                "require('./leancrm_client.js').COMMANDS))")
    assert code == 0, err
    assert json.loads(out) == {t: [TOPIC_OF[t], field] for t, field in STREAM_FIELD.items()}


@pytest.fixture
async def services(infra: Infra, bootstrap: str) -> AsyncIterator[None]:
    from leancrm_customers.app import SPEC as CUSTOMERS
    from leancrm_interactions.app import SPEC as INTERACTIONS

    async with running_services((CUSTOMERS, INTERACTIONS), infra, bootstrap):
        yield


async def test_the_node_example_tells_a_contact_and_awaits_each_result(
    node_client: NodeClient, services: None, bootstrap: str
) -> None:
    code, out, err = await node(node_client, "example.js", KAFKA_BOOTSTRAP=bootstrap,
                                CLIENT_NAME=f"node-{uuid.uuid4().hex[:8]}", TIMEOUT_MS="60000")
    assert code == 0, f"exit {code}\nstdout: {out[-2000:]}\nstderr: {err[-4000:]}"
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["command_type"] for r in results] == [
        "register_customer", "start_interaction", "identify_customer", "resolve_interaction",
        "end_interaction"]
    assert all(r["status"] == "accepted" and len(r["event_ids"]) == 1 for r in results)


def readme_snippet() -> str:
    """The kafkajs snippet of the README's 'Integrating from another system'."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Integrating from another system"):]
    start = section.index("```js\n") + len("```js\n")
    return section[start:section.index("```", start)]


async def test_the_readmes_kafkajs_snippet_runs_as_written(
    node_client: NodeClient, services: None, bootstrap: str, tmp_path: Path
) -> None:
    code = readme_snippet().replace("['localhost:9092']", "process.env.KAFKA_BOOTSTRAP.split(',')")
    code = code.replace("leancrm-client-billing-system-1", f"leancrm-client-readme-{uuid.uuid4().hex[:8]}")
    script = tmp_path / "snippet.js"
    script.write_text(f"(async () => {{\n{code}\nawait producer.disconnect();\n"
                      "await consumer.disconnect();\n})()"
                      ".catch((e) => { console.error(e); process.exit(1); });\n")
    status, out, err = await node(node_client, str(script), KAFKA_BOOTSTRAP=bootstrap)
    assert status == 0, f"stdout: {out[-2000:]}\nstderr: {err[-4000:]}"
    assert "status: 'rejected'" in out and "code: 'not_found'" in out
