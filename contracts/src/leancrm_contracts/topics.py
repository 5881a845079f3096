"""Kafka topic names (contract section 1). Keys are UTF-8 strings."""

from typing import Final

CUSTOMERS_COMMANDS: Final = "crm.customers.commands.v1"
INTERACTIONS_COMMANDS: Final = "crm.interactions.commands.v1"
FEEDBACK_COMMANDS: Final = "crm.feedback.commands.v1"
IMPROVEMENTS_COMMANDS: Final = "crm.improvements.commands.v1"

CUSTOMERS_EVENTS: Final = "crm.customers.events.v1"
INTERACTIONS_EVENTS: Final = "crm.interactions.events.v1"
FEEDBACK_EVENTS: Final = "crm.feedback.events.v1"
IMPROVEMENTS_EVENTS: Final = "crm.improvements.events.v1"

#: each customer's data key, wrapped with the key-encryption key; compacted (section 2.8)
CUSTOMERS_KEYS: Final = "crm.customers.keys.v1"

COMMAND_RESULTS: Final = "crm.command-results.v1"
DLQ: Final = "crm.dlq.v1"
#: alerts raised and cleared by the waste service (sections 2.7 and 5)
ALERTS: Final = "crm.alerts.v1"

COMMAND_TOPICS: Final[tuple[str, ...]] = (
    CUSTOMERS_COMMANDS,
    INTERACTIONS_COMMANDS,
    FEEDBACK_COMMANDS,
    IMPROVEMENTS_COMMANDS,
)
EVENT_TOPICS: Final[tuple[str, ...]] = (
    CUSTOMERS_EVENTS,
    INTERACTIONS_EVENTS,
    FEEDBACK_EVENTS,
    IMPROVEMENTS_EVENTS,
)
#: topics of keys: compacted, one record per key (section 2.8)
KEY_TOPICS: Final[tuple[str, ...]] = (CUSTOMERS_KEYS,)
#: every topic of section 1, in the table's order
ALL_TOPICS: Final[tuple[str, ...]] = (*COMMAND_TOPICS, *EVENT_TOPICS, COMMAND_RESULTS, DLQ, ALERTS,
                                      *KEY_TOPICS)
#: the configuration a key topic is created with: compacted, so a tombstone removes the
#: key's earlier records within a day, and the tombstone itself is kept a day for
#: consumers to see it (section 2.8)
KEY_TOPIC_CONFIG: Final[dict[str, str]] = {
    "cleanup.policy": "compact",
    "max.compaction.lag.ms": str(24 * 3600 * 1000),
    "delete.retention.ms": str(24 * 3600 * 1000),
}
