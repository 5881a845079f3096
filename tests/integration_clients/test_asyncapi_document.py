"""contracts/schemas/asyncapi.json read by the AsyncAPI Initiative's own parser
(@asyncapi/parser, Node.js), as an integrator's tooling reads it: it parses without an
error or a warning, and what it finds is the integrator's side of the contract — a send
operation per command, each with the results topic as its reply, receive operations for
the rest, and the servers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from leancrm_contracts.registry import ALL_COMMANDS
from leancrm_contracts.topics import COMMAND_RESULTS, COMMAND_TOPICS

from .tools import NodeClient, install_node_client

DIRECTORY = Path(__file__).parent / "asyncapi"
DOCUMENT = Path(__file__).resolve().parents[2] / "contracts" / "schemas" / "asyncapi.json"
#: diagnostics at or below this severity fail (0 error, 1 warning, 2 information, 3 hint)
WARNING = 1


@pytest.fixture(scope="module")
def parser() -> NodeClient:
    return install_node_client(DIRECTORY)


def test_the_asyncapi_parser_reads_the_document_as_the_integrators_side(parser: NodeClient) -> None:
    proc = subprocess.run([parser.node, str(DIRECTORY / "parse.js"), str(DOCUMENT)],
                          env=parser.env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    verdict = json.loads(proc.stdout)
    problems = [d for d in verdict["diagnostics"] if d["severity"] <= WARNING]
    assert verdict["parsed"] and problems == []
    sends = {op["id"]: op for op in verdict["operations"] if op["action"] == "send"}
    assert set(sends) == {f"send_{t}" for t in ALL_COMMANDS}
    for op in sends.values():
        assert op["channel"][0] in COMMAND_TOPICS and op["reply"] == COMMAND_RESULTS
    assert {op["action"] for op in verdict["operations"]} == {"send", "receive"}
    assert {s["id"]: s["protocol"] for s in verdict["servers"]} == {
        "local": "kafka", "production": "kafka-secure"}
