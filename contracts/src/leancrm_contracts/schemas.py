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
from .enums import DlqErrorCode
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
from .keys import STREAM_FIELD
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

#: (module, service) in section 1's order
_SERVICES: Final = (
    (customers, "customers"), (interactions, "interactions"), (feedback, "feedback"),
    (improvements, "improvements"),
)

#: the key of each service's events (section 1): keyed by customer, an improvement's by its id
_EVENT_KEYS: Final = {
    "customers": "customer_id",
    "interactions": "customer_id of the interaction (agent_id for agent.* events)",
    "feedback": "customer_id, or feedback_id when anonymous",
    "improvements": "improvement_id",
}

#: how an example's summary gives the record's Kafka key (AsyncAPI examples have no key field)
KEY_PREFIX: Final = "Kafka key: "

#: what the document is, and for whom
_DESCRIPTION: Final = (
    "Lean CRM's public contract (docs/contract.md, version 1.1) as seen by a system that "
    "integrates with it: the integrator SENDS commands to the four command topics, keyed "
    "by the id of the command's stream (section 1.1) with the headers content-type and "
    "message_type (section 2), and RECEIVES one command result per command on "
    "crm.command-results.v1 (the reply of every send operation, matched by command_id), "
    "the domain events of the event topics, the alerts of crm.alerts.v1, dead letters and, "
    "when entitled to the key-encryption key, the customers' data keys (section 2.8). "
    "Read results with a consumer group of your own, from its committed offsets, not from "
    "the beginning of the topic "
    "(README, 'Integrating from another system'; leancrm_client in clients/python does it).")


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


def _kafka_key(description: str, field: str | None = None) -> dict[str, Any]:
    """The kafka message binding with the key's schema; ``field``: the data field whose
    value is the key (a command's stream, section 1.1)."""
    key: dict[str, Any] = {"type": "string", "description": f"UTF-8 key: {description}"}
    if field is not None:
        key["x-leancrm-key-field"] = f"data.{field}"
        if field != "agent_id":
            key["format"] = "uuid"
    return {"kafka": {"bindingVersion": "0.5.0", "key": key}}


def _command_key(command_type: str) -> tuple[str, str]:
    field = STREAM_FIELD[command_type]
    return (f"data.{field}, the id of the command's stream (contract section 1.1); one "
            "stream's commands under one key are decided in the order sent", field)


def _example_key(kind: str, name: str, payload: dict[str, Any]) -> str:
    if kind == "command":
        return str(payload["data"][STREAM_FIELD[name]])
    return str(payload["customer_id"] or payload["stream_id"])


def _typed_message(kind: str, name: str, envelope: str, data: str, doc: str | None) -> dict[str, Any]:
    """A command or event message: its envelope with the type fixed and ``data`` typed."""
    type_field = "event_type" if kind == "event" else "command_type"
    if kind == "command":
        key, field = _command_key(name)
        bindings = _kafka_key(key, field)
        correlation = "command_id"
        example = examples.example_command(name)
    else:
        service = PRODUCER_OF_EVENT[name].value
        bindings = _kafka_key(_EVENT_KEYS[service])
        correlation = "causation_id"
        example = examples.example_event(name)
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "contentType": CONTENT_TYPE_JSON,
        "headers": _headers(name),
        "correlationId": {"$ref": f"#/components/correlationIds/{correlation}"},
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
        "bindings": bindings,
        "examples": [{"name": f"{name} in the example history",
                      "headers": _example_headers(name), "payload": example,
                      "summary": f"{KEY_PREFIX}{_example_key(kind, name, example)}"}],
    }
    if doc:
        message["summary"] = " ".join(doc.strip().split("\n\n")[0].split())
    return message


def _example_headers(name: str) -> dict[str, str]:
    return {HEADER_CONTENT_TYPE: CONTENT_TYPE_JSON, HEADER_MESSAGE_TYPE: name}


_EXAMPLE_AT: Final = "2026-11-23T09:15:02.120Z"


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


def _servers() -> dict[str, Any]:
    return {
        "local": {
            "host": "127.0.0.1:{port}",
            "protocol": "kafka",
            "title": "the embedded development broker",
            "description": "The in-memory Kafka-protocol broker scripts/run starts (it prints "
                           "'Broker: 127.0.0.1:PORT'); no TLS, no authentication.",
            "variables": {"port": {"description": "the port scripts/run prints"}},
        },
        "production": {
            "host": "kafka.example.com:9093",
            "protocol": "kafka-secure",
            "title": "production (placeholder)",
            "description": "Your Apache Kafka cluster: replace the host. Lean CRM's services "
                           "support TLS (SSL, with an optional client certificate) and SASL "
                           "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) over TLS; use what the "
                           "cluster's administrators give you.",
            "security": [{"$ref": "#/components/securitySchemes/saslScram"},
                         {"$ref": "#/components/securitySchemes/clientCertificate"}],
        },
    }


_SECURITY_SCHEMES: Final = {
    "saslScram": {"type": "scramSha512",
                  "description": "SASL_SSL with SCRAM-SHA-512 (SCRAM-SHA-256 and PLAIN work the "
                                 "same way): a user and password from the cluster's administrators."},
    "clientCertificate": {"type": "X509",
                          "description": "SSL with a client certificate signed by the cluster's CA."},
}

_CORRELATION_IDS: Final = {
    "command_id": {"description": "A command's result carries its command_id: match results to "
                                  "the commands you sent by it (section 2.3).",
                   "location": "$message.payload#/command_id"},
    "causation_id": {"description": "An event's causation_id is the command_id of the command "
                                    "that caused it (section 2.1).",
                     "location": "$message.payload#/causation_id"},
}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the contract from the integrator's side: it sends
    commands (each with its result as reply), receives events, results and dead letters."""
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
    results_reply = {
        "channel": {"$ref": "#/channels/command_results"},
        "messages": [{"$ref": f"#/channels/command_results/messages/{MESSAGE_TYPE_COMMAND_RESULT}"}],
    }

    def add_channel(cid: str, topic: str, description: str, names: list[str]) -> None:
        channels[cid] = {
            "address": topic,
            "description": description,
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
            "bindings": {"kafka": {"bindingVersion": "0.5.0", "topic": topic}},
        }

    def receive(cid: str, names: list[str], summary: str) -> None:
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "summary": summary,
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names],
        }

    for module, service in _SERVICES:
        commands_channel, events_channel = f"{service}_commands", f"{service}_events"
        for ct, model in module.COMMANDS.items():
            messages[ct] = _typed_message("command", ct, "CommandEnvelope", model.__name__,
                                          model.__doc__)
            operations[f"send_{ct}"] = {
                "action": "send",
                "summary": f"send {ct}; its result comes back on {COMMAND_RESULTS}",
                "description": f"Key: data.{STREAM_FIELD[ct]} (section 1.1). Headers: "
                               f"content-type: {CONTENT_TYPE_JSON}, message_type: {ct} (a "
                               "missing or contradicting header is answered invalid). Reply: "
                               "one command_result with the same command_id: accepted, "
                               "rejected (error.code invalid, not_found, conflict, "
                               "out_of_order) or duplicate.",
                "channel": {"$ref": f"#/channels/{commands_channel}"},
                "messages": [{"$ref": f"#/channels/{commands_channel}/messages/{ct}"}],
                "reply": results_reply,
            }
        for et in module.EVENTS:
            model = EVENT_VERSIONS[et][SCHEMA_VERSION[et]]  # the version published now
            messages[et] = _typed_message("event", et, "EventEnvelope", model.__name__,
                                          model.__doc__)
        add_channel(commands_channel, module.COMMAND_TOPIC,
                    f"commands for the {service} service: the integrator sends them",
                    list(module.COMMANDS))
        add_channel(events_channel, module.EVENT_TOPIC,
                    f"domain events of the {service} service: the integrator receives them",
                    list(module.EVENTS))
        receive(events_channel, list(module.EVENTS),
                f"the {service} service's events, keyed by {_EVENT_KEYS[service]}; deduplicate "
                "by event_id")

    messages[MESSAGE_TYPE_COMMAND_RESULT] = {
        "name": MESSAGE_TYPE_COMMAND_RESULT,
        "title": "command result",
        "summary": "one result per command received",
        "contentType": CONTENT_TYPE_JSON,
        "headers": _headers(MESSAGE_TYPE_COMMAND_RESULT),
        "correlationId": {"$ref": "#/components/correlationIds/command_id"},
        "payload": {"$ref": "#/components/schemas/CommandResult"},
        "bindings": _kafka_key("command_id"),
        "examples": [{
            "name": "the result of the example abandon_interaction",
            "headers": _example_headers(MESSAGE_TYPE_COMMAND_RESULT),
            "payload": {
                "command_id": examples.example_command_id("abandon_interaction"),
                "command_type": "abandon_interaction", "status": "accepted",
                "event_ids": [examples.example_event("interaction.abandoned")["event_id"]],
                "error": None,
                "processed_at": examples.example_event("interaction.abandoned")["recorded_at"]},
            "summary": f"{KEY_PREFIX}{examples.example_command_id('abandon_interaction')}"}],
    }
    add_channel("command_results", COMMAND_RESULTS,
                "one result per command received, from each command service: the reply of "
                "every send operation", [MESSAGE_TYPE_COMMAND_RESULT])
    receive("command_results", [MESSAGE_TYPE_COMMAND_RESULT],
            "the results of your commands, matched by command_id (a consumer group of your own, "
            "from its committed offsets; results of other systems' commands are passed over)")

    dlq_headers: dict[str, Any] = {name: {"type": "string"} for name in DLQ_HEADERS}
    dlq_headers["dlq_error_code"] = {"type": "string", "enum": [c.value for c in DlqErrorCode]}
    dlq_headers["dlq_reason"]["description"] = "human-readable"
    dlq_headers["dlq_consumer"]["description"] = "the service name"
    dlq_headers["dlq_at"]["description"] = "when it was dead-lettered (RFC 3339)"
    messages["dead_letter"] = {
        "name": "dead_letter",
        "title": "dead letter",
        "summary": "a message that could not be decoded or validated",
        "description": "Value: the original bytes, unchanged; the original headers are kept. "
                       "A command of yours lands here only when no result can be addressed "
                       "(not JSON, or no usable command_id: section 2.4).",
        "headers": {"type": "object", "required": list(DLQ_HEADERS), "properties": dlq_headers},
        "payload": {"description": "the original message value, unchanged (any bytes)"},
        "bindings": _kafka_key("the original key"),
    }
    add_channel("dlq", DLQ, "messages that could not be decoded or validated, from any consumer",
                ["dead_letter"])
    receive("dlq", ["dead_letter"], "dead letters (monitoring: a command of yours with no result)")

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
    add_channel("alerts", ALERTS,
                "alerts raised and cleared by the waste service's alert rules (contract section 5)",
                list(ALERT_TYPES))
    receive("alerts", list(ALERT_TYPES), "alerts raised and cleared (contract section 2.7)")

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
        {"headers": _example_headers(customers.KEY_MESSAGE_TYPE), "payload": examples.KEY_EXAMPLE,
         "summary": f"{KEY_PREFIX}{examples.KEY_EXAMPLE['customer_id']}"}]
    key_types = [customers.KEY_MESSAGE_TYPE, customers.KEY_ERASED_MESSAGE_TYPE]
    add_channel("customers_keys", CUSTOMERS_KEYS,
                "each customer's data key, wrapped; compacted; for entitled consumers (contract 2.8)",
                key_types)
    receive("customers_keys", key_types,
            "customers' data keys, only for a consumer entitled to the key-encryption key (its "
            "secret store gives it): they open the sealed personal fields of customer events "
            "(section 2.8); on a tombstone (customer.key_erased) delete the key and what it opened")

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Lean CRM",
            "version": "1.1.0",
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE_JSON,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages,
                       "securitySchemes": _SECURITY_SCHEMES,
                       "correlationIds": _CORRELATION_IDS},
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
