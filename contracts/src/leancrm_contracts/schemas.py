"""JSON Schema and AsyncAPI 3.0 documents of the contract, generated from the models.

``python -m leancrm_contracts.schemas [OUT_DIR]`` (default: ``contracts/schemas``) writes

* ``event-envelope.json``, ``command-envelope.json``, ``command-result.json``;
* ``commands/<command_type>.json`` and ``events/<event_type>.json`` (the ``data`` models;
  ``events/<event_type>.v<N>.json`` for a later schema_version N, section 2.8);
* ``asyncapi.json``: every topic of section 1 with its messages.

Output is deterministic (sorted keys, two-space indent, trailing newline); JSON files in
OUT_DIR that are no longer generated are removed. Schemas describe what validation
accepts (pydantic's ``validation`` mode).
"""

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from . import customers, examples, feedback, improvements, interactions
from .alerts import ALERT_PRODUCER, ALERT_RAISED, ALERT_TYPES, AlertMessage
from .enums import DlqErrorCode, Producer
from .envelope import (
    CONTENT_TYPE_JSON,
    DLQ_HEADERS,
    HEADER_CONTENT_TYPE,
    HEADER_MESSAGE_TYPE,
    MESSAGE_TYPE_COMMAND_RESULT,
    CommandEnvelope,
    CommandResult,
    EventEnvelope,
)
from .examples import COMMAND_EXAMPLES, EVENT_EXAMPLES, EVENT_EXAMPLES_BY_VERSION, KEY_EXAMPLE
from .registry import ALL_COMMANDS, ALL_EVENTS, EVENT_VERSIONS, PRODUCER_OF_EVENT, SCHEMA_VERSION
from .topics import ALERTS, COMMAND_RESULTS, CUSTOMERS_KEYS, DLQ

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_OUT_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE_COMMAND: Final = ".venv/bin/python -m leancrm_contracts.schemas"

ENVELOPES: Final[dict[str, type[BaseModel]]] = {
    "event-envelope.json": EventEnvelope,
    "command-envelope.json": CommandEnvelope,
    "command-result.json": CommandResult,
    "alert-message.json": AlertMessage,
}

#: (channel id, topic, key, description) in section 1's order, per service
_SERVICES: Final = (
    (customers, "customers", "customer_id"),
    (interactions, "interactions", "customer_id (agent_id for agent commands and agent.* events)"),
    (feedback, "feedback", "customer_id, or feedback_id when anonymous"),
    (improvements, "improvements", "improvement_id"),
)


def dumps(document: Any) -> str:
    """The canonical text of a generated file."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _model_schema(model: type[BaseModel], **extra: Any) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, **extra}


def render() -> dict[str, str]:
    """Every generated file: path relative to the output directory → its text."""
    files: dict[str, str] = {}
    for name, model in ENVELOPES.items():
        files[name] = dumps(_model_schema(model))
    for command_type, model in ALL_COMMANDS.items():
        files[f"commands/{command_type}.json"] = dumps(
            _model_schema(model, **{"x-command-type": command_type})
        )
    for event_type, model in ALL_EVENTS.items():
        files[f"events/{event_type}.json"] = dumps(
            _model_schema(model, **{"x-event-type": event_type})
        )
        for version, later in EVENT_VERSIONS[event_type].items():
            if version > 1:
                files[f"events/{event_type}.v{version}.json"] = dumps(_model_schema(
                    later, **{"x-event-type": event_type, "x-schema-version": version}))
    files["asyncapi.json"] = dumps(asyncapi())
    return dict(sorted(files.items()))


def _headers(message_type: str | None) -> dict[str, Any]:
    mt: dict[str, Any] = {"type": "string", "description": "the event_type or command_type"}
    if message_type is not None:
        mt = {"type": "string", "const": message_type}
    return {
        "type": "object",
        "required": [HEADER_CONTENT_TYPE, HEADER_MESSAGE_TYPE],
        "properties": {
            HEADER_CONTENT_TYPE: {"type": "string", "const": CONTENT_TYPE_JSON},
            HEADER_MESSAGE_TYPE: mt,
        },
    }


def _kafka_key(description: str) -> dict[str, Any]:
    return {
        "kafka": {
            "bindingVersion": "0.5.0",
            "key": {"type": "string", "description": f"UTF-8 key: {description}"},
        }
    }


_EXAMPLE_AT: Final = "2026-11-23T09:15:02.120Z"


def _example_headers(name: str) -> dict[str, str]:
    return {HEADER_CONTENT_TYPE: CONTENT_TYPE_JSON, HEADER_MESSAGE_TYPE: name}


def _example_envelope(kind: str, name: str) -> dict[str, Any]:
    if kind == "command":
        return {
            "command_id": "example-command-1",
            "command_type": name,
            "occurred_at": _EXAMPLE_AT,
            "correlation_id": None,
            "data": COMMAND_EXAMPLES[name],
        }
    producer = PRODUCER_OF_EVENT[name]
    agent = name.startswith("agent.")
    version = SCHEMA_VERSION[name]
    data = EVENT_EXAMPLES_BY_VERSION[name][version] if version > 1 else EVENT_EXAMPLES[name]
    stream = str(data.get("agent_id") or data.get("interaction_id") or data.get("feedback_id")
                 or data.get("improvement_id"))
    if producer is Producer.CUSTOMERS:
        stream = examples.CUSTOMER_ID
    return {
        "event_id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "event_type": name,
        "schema_version": version,
        "occurred_at": _EXAMPLE_AT,
        "recorded_at": "2026-11-23T09:15:02.245Z",
        "producer": producer.value,
        "stream_id": stream,
        "stream_version": 1,
        "customer_id": None if agent or producer is Producer.IMPROVEMENTS else examples.CUSTOMER_ID,
        "correlation_id": None,
        "causation_id": "example-command-1",
        "data": data,
    }


def _example_alert(alert_type: str) -> dict[str, Any]:
    raised = alert_type == ALERT_RAISED
    return {
        "event_id": "7d6c5b4a-3928-4176-9574-6b5a49382716",
        "event_type": alert_type,
        "schema_version": 1,
        "producer": ALERT_PRODUCER,
        "rule": "queue_wait_p90",
        "subject": "phone",
        "value": 95.0 if raised else 12.0,
        "threshold": 20.0,
        "at": _EXAMPLE_AT if raised else "2026-11-23T09:40:07.500Z",
        "raised_at": _EXAMPLE_AT,
        "summary": "phone: queue wait p90 over the last 15 min is 95 s (threshold 20 s)" if raised
        else "phone: queue wait p90 over the last 15 min is back to 12 s (threshold 20 s)",
    }


def _typed_message(
    kind: str, name: str, envelope: str, data: str, key: str, doc: str | None
) -> dict[str, Any]:
    """A command or event message: its envelope with the type fixed and ``data`` typed."""
    type_field = "event_type" if kind == "event" else "command_type"
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "contentType": CONTENT_TYPE_JSON,
        "headers": _headers(name),
        "payload": {
            "allOf": [
                {"$ref": f"#/components/schemas/{envelope}"},
                {
                    "type": "object",
                    "properties": {
                        type_field: {"const": name},
                        "data": {"$ref": f"#/components/schemas/{data}"},
                    },
                },
            ]
        },
        "bindings": _kafka_key(key),
    }
    example = _example_envelope(kind, name)
    message["examples"] = [{"headers": _example_headers(name), "payload": example}]
    if doc:
        message["summary"] = " ".join(doc.strip().split("\n\n")[0].split())
    return message


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the whole system: it receives commands, sends events,
    command results and dead letters."""
    models: list[type[BaseModel]] = [
        EventEnvelope,
        CommandEnvelope,
        CommandResult,
        AlertMessage,
        *ALL_COMMANDS.values(),
        *ALL_EVENTS.values(),
        *(m for versions in EVENT_VERSIONS.values() for v, m in versions.items() if v > 1),
        customers.CustomerKey,
    ]
    inputs: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in models]
    _, top = models_json_schema(inputs, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def add_channel(cid: str, topic: str, description: str, names: list[str], action: str) -> None:
        channels[cid] = {
            "address": topic,
            "description": description,
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        verb = "receive" if action == "receive" else "send"
        operations[f"{verb}_{cid}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names],
        }

    for module, service, key in _SERVICES:
        for ct, model in module.COMMANDS.items():
            messages[ct] = _typed_message(
                "command", ct, "CommandEnvelope", model.__name__, key, model.__doc__
            )
        for et in module.EVENTS:
            model = EVENT_VERSIONS[et][SCHEMA_VERSION[et]]  # the version published now
            messages[et] = _typed_message(
                "event", et, "EventEnvelope", model.__name__, key, model.__doc__
            )
        add_channel(
            f"{service}_commands",
            module.COMMAND_TOPIC,
            f"commands for the {service} service (from other systems)",
            list(module.COMMANDS),
            "receive",
        )
        add_channel(
            f"{service}_events",
            module.EVENT_TOPIC,
            f"domain events of the {service} service",
            list(module.EVENTS),
            "send",
        )

    messages[MESSAGE_TYPE_COMMAND_RESULT] = {
        "name": MESSAGE_TYPE_COMMAND_RESULT,
        "title": "command result",
        "summary": "one result per command received",
        "contentType": CONTENT_TYPE_JSON,
        "headers": _headers(MESSAGE_TYPE_COMMAND_RESULT),
        "payload": {"$ref": "#/components/schemas/CommandResult"},
        "bindings": _kafka_key("command_id"),
    }
    add_channel(
        "command_results",
        COMMAND_RESULTS,
        "one result per command received, from each command service",
        [MESSAGE_TYPE_COMMAND_RESULT],
        "send",
    )

    dlq_headers: dict[str, Any] = {name: {"type": "string"} for name in DLQ_HEADERS}
    dlq_headers["dlq_error_code"] = {"type": "string", "enum": [c.value for c in DlqErrorCode]}
    dlq_headers["dlq_reason"]["description"] = "human-readable"
    dlq_headers["dlq_consumer"]["description"] = "the service name"
    dlq_headers["dlq_at"]["description"] = "when it was dead-lettered (RFC 3339)"
    messages["dead_letter"] = {
        "name": "dead_letter",
        "title": "dead letter",
        "summary": "a message that could not be decoded or validated",
        "description": "Value: the original bytes, unchanged; the original headers are kept.",
        "headers": {"type": "object", "required": list(DLQ_HEADERS), "properties": dlq_headers},
        "payload": {"description": "the original message value, unchanged (any bytes)"},
        "bindings": _kafka_key("the original key"),
    }
    add_channel(
        "dlq",
        DLQ,
        "messages that could not be decoded or validated, from any consumer",
        ["dead_letter"],
        "send",
    )

    for alert_type in ALERT_TYPES:
        messages[alert_type] = {
            "name": alert_type,
            "title": alert_type,
            "summary": "an alert rule's condition became true for a subject" if alert_type == ALERT_RAISED
            else "an alert rule's condition became false again for a subject",
            "contentType": CONTENT_TYPE_JSON,
            "headers": _headers(alert_type),
            "payload": {"allOf": [{"$ref": "#/components/schemas/AlertMessage"},
                                  {"type": "object", "properties": {"event_type": {"const": alert_type}}}]},
            "bindings": _kafka_key("<rule>:<subject>"),
            "examples": [{"headers": _example_headers(alert_type), "payload": _example_alert(alert_type)}],
        }
    add_channel(
        "alerts",
        ALERTS,
        "alerts raised and cleared by the waste service's alert rules (contract section 5)",
        list(ALERT_TYPES),
        "send",
    )

    for message_type, summary, payload in (
        (customers.KEY_MESSAGE_TYPE, "a customer's data key, wrapped with the key-encryption key",
         {"$ref": "#/components/schemas/CustomerKey"}),
        (customers.KEY_ERASED_MESSAGE_TYPE, "the customer's key is erased (forgotten): a tombstone",
         {"type": "null", "description": "a null value (tombstone)"}),
    ):
        messages[message_type] = {
            "name": message_type,
            "title": message_type,
            "summary": summary,
            "contentType": CONTENT_TYPE_JSON,
            "headers": _headers(message_type),
            "payload": payload,
            "bindings": _kafka_key("customer_id"),
        }
    messages[customers.KEY_MESSAGE_TYPE]["examples"] = [
        {"headers": _example_headers(customers.KEY_MESSAGE_TYPE), "payload": KEY_EXAMPLE}]
    add_channel(
        "customers_keys",
        CUSTOMERS_KEYS,
        "each customer's data key, wrapped; compacted; for entitled consumers (contract 2.8)",
        [customers.KEY_MESSAGE_TYPE, customers.KEY_ERASED_MESSAGE_TYPE],
        "send",
    )

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lean CRM",
            "version": "1.0.0",
            "description": "Public contract v1: Kafka topics and message formats.",
        },
        "defaultContentType": CONTENT_TYPE_JSON,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def generate(out_dir: Path | str = DEFAULT_OUT_DIR) -> list[Path]:
    """Write every file of :func:`render` under ``out_dir`` (removing JSON files no
    longer generated); return the paths written."""
    root = Path(out_dir)
    files = render()
    for stale in sorted(root.rglob("*.json")) if root.exists() else []:
        if stale.relative_to(root).as_posix() not in files:
            stale.unlink()
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else DEFAULT_OUT_DIR
    paths = generate(out_dir)
    print(f"wrote {len(paths)} files to {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
