"""The generated JSON Schemas and AsyncAPI document: complete and up to date."""

import json
from pathlib import Path
from typing import Any

from leancrm_contracts import customers, examples, registry, schemas, topics
from leancrm_contracts.alerts import ALERT_TYPES, AlertMessage
from leancrm_contracts.envelope import CommandEnvelope, CommandResult, EventEnvelope
from leancrm_contracts.keys import STREAM_FIELD

COMMITTED = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_are_up_to_date(tmp_path: Path) -> None:
    schemas.generate(tmp_path)
    fresh = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")}
    committed = {p.relative_to(COMMITTED).as_posix() for p in COMMITTED.rglob("*.json")}
    stale = sorted(
        rel
        for rel in fresh | committed
        if rel not in fresh
        or rel not in committed
        or (tmp_path / rel).read_bytes() != (COMMITTED / rel).read_bytes()
    )
    assert not stale, (
        f"contracts/schemas is out of date ({', '.join(stale)}); "
        f"regenerate from the repository root with: {schemas.REGENERATE_COMMAND}"
    )


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = schemas.render()
    assert first == schemas.render()
    for text in first.values():
        assert text.endswith("}\n")
        assert text == schemas.dumps(json.loads(text))
    schemas.generate(tmp_path)
    (tmp_path / "events" / "gone.json").write_text("{}\n")
    schemas.generate(tmp_path)
    assert not (tmp_path / "events" / "gone.json").exists()


def test_one_file_per_message() -> None:
    files = schemas.render()
    assert {"event-envelope.json", "command-envelope.json", "command-result.json"} <= set(files)
    for command_type in registry.ALL_COMMANDS:
        doc = json.loads(files[f"commands/{command_type}.json"])
        assert doc["x-command-type"] == command_type
        assert doc["additionalProperties"] is False
    for event_type in registry.ALL_EVENTS:
        doc = json.loads(files[f"events/{event_type}.json"])
        assert doc["x-event-type"] == event_type
    later = [(t, v) for t, versions in registry.EVENT_VERSIONS.items() for v in versions if v > 1]
    assert later == [("customer.registered", 2), ("customer.details_changed", 2)]
    for event_type, version in later:
        doc = json.loads(files[f"events/{event_type}.v{version}.json"])
        assert doc["x-event-type"] == event_type and doc["x-schema-version"] == version
        assert "personal" in doc["properties"] and "name" not in doc["properties"]
    assert len(files) == 4 + len(registry.ALL_COMMANDS) + len(registry.ALL_EVENTS) + len(later) + 1
    assert json.loads(files["alert-message.json"])["title"] == "AlertMessage"


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_lists_every_topic_and_message() -> None:
    doc = schemas.asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"]: c for c in doc["channels"].values()}
    assert set(addresses) == set(topics.ALL_TOPICS)
    for topic, messages in registry.COMMANDS_BY_TOPIC.items():
        assert set(addresses[topic]["messages"]) == set(messages)
    for topic, messages in registry.EVENTS_BY_TOPIC.items():
        assert set(addresses[topic]["messages"]) == set(messages)
    assert set(addresses[topics.COMMAND_RESULTS]["messages"]) == {"command_result"}
    assert set(addresses[topics.DLQ]["messages"]) == {"dead_letter"}
    assert set(addresses[topics.CUSTOMERS_KEYS]["messages"]) == {"customer.key", "customer.key_erased"}
    assert set(addresses[topics.ALERTS]["messages"]) == {"alert.raised", "alert.cleared"}


def test_asyncapi_references_resolve() -> None:
    doc = schemas.asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    found = refs(doc)
    assert found
    for ref in found:
        assert _resolve(doc, ref) is not None, ref
    for op in doc["operations"].values():
        assert op["action"] in {"send", "receive"}


def test_asyncapi_examples_validate_against_the_models() -> None:
    doc = schemas.asyncapi()
    for name, message in doc["components"]["messages"].items():
        for example in message.get("examples", []):
            payload = example["payload"]
            if "wrapped_key" in payload:
                customers.CustomerKey.model_validate(payload)
            elif name == "command_result":
                CommandResult.model_validate(payload)
            elif payload.get("event_type") in ALERT_TYPES:
                assert AlertMessage.model_validate(payload).event_type == name
            elif "event_type" in payload:
                envelope = EventEnvelope.model_validate(payload)
                assert envelope.schema_version == registry.SCHEMA_VERSION[envelope.event_type]
                registry.EVENT_VERSIONS[envelope.event_type][envelope.schema_version].model_validate(
                    envelope.data)
            else:
                envelope_c = CommandEnvelope.model_validate(payload)
                registry.ALL_COMMANDS[envelope_c.command_type].model_validate(envelope_c.data)
            assert example["headers"]["message_type"] == name


# -- from the integrator's side (contract 1.1) ---------------------------------------------


def test_the_integrator_sends_every_command_and_receives_its_result_as_the_reply() -> None:
    doc = schemas.asyncapi()
    sends = {op["messages"][0]["$ref"].rsplit("/", 1)[1]: op
             for op in doc["operations"].values() if op["action"] == "send"}
    assert set(sends) == set(registry.ALL_COMMANDS)
    for command_type, op in sends.items():
        assert _resolve(doc, op["channel"]["$ref"])["address"] in topics.COMMAND_TOPICS
        reply = op["reply"]
        assert _resolve(doc, reply["channel"]["$ref"])["address"] == topics.COMMAND_RESULTS
        message = doc["components"]["messages"][command_type]
        result = _resolve(doc, reply["messages"][0]["$ref"])
        result = _resolve(doc, result["$ref"]) if "$ref" in result else result
        # the command and its result are linked by command_id
        assert message["correlationId"] == result["correlationId"]
        assert _resolve(doc, message["correlationId"]["$ref"])["location"] == "$message.payload#/command_id"
    received = {_resolve(doc, op["channel"]["$ref"])["address"]
                for op in doc["operations"].values() if op["action"] == "receive"}
    assert received == {*topics.EVENT_TOPICS, topics.COMMAND_RESULTS, topics.DLQ, topics.ALERTS,
                        *topics.KEY_TOPICS}


def test_every_command_message_binds_its_key_to_its_streams_field() -> None:
    messages = schemas.asyncapi()["components"]["messages"]
    for command_type, field in STREAM_FIELD.items():
        key = messages[command_type]["bindings"]["kafka"]["key"]
        assert key["x-leancrm-key-field"] == f"data.{field}" and key["type"] == "string"
        example = messages[command_type]["examples"][0]
        assert example["summary"] == schemas.KEY_PREFIX + example["payload"]["data"][field]


def test_servers_local_and_production_with_security() -> None:
    doc = schemas.asyncapi()
    assert doc["servers"]["local"]["protocol"] == "kafka"
    production = doc["servers"]["production"]
    assert production["protocol"] == "kafka-secure" and production["security"]
    for ref in production["security"]:
        assert _resolve(doc, ref["$ref"])["type"]


def test_the_examples_form_consistent_streams() -> None:
    """Each stream's example events have distinct versions, in the order of their times,
    and each names the example command that caused it; a transfer is never a stream's
    first event."""
    events = [examples.example_event(t) for t in registry.ALL_EVENTS]
    streams: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        streams.setdefault(e["stream_id"], []).append(e)
    for stream in streams.values():
        stream.sort(key=lambda e: e["stream_version"])
        versions = [e["stream_version"] for e in stream]
        assert len(set(versions)) == len(versions)
        times = [e["occurred_at"] for e in stream]
        assert times == sorted(times)
    transferred = examples.example_event("interaction.transferred")
    assert transferred["stream_version"] > 1
    assert transferred["stream_id"] == transferred["data"]["interaction_id"]
    started = examples.example_event("interaction.started")
    assert started["stream_version"] == 1
    commands = {t: examples.example_command(t) for t in registry.ALL_COMMANDS}
    for e in events:
        command = commands[e["causation_id"].removeprefix("example-")]
        assert command["command_id"] == e["causation_id"]
        assert command["occurred_at"] <= e["occurred_at"]
        key_field = STREAM_FIELD[command["command_type"]]
        assert command["data"][key_field] == e["stream_id"]
