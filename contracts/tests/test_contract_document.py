"""docs/contract.md, the contract integrators read, and this package, the contract as
code, say the same: topics, command and event types, DLQ headers, bounds, read model."""

from __future__ import annotations

import re
from pathlib import Path

from leancrm_contracts import limits
from leancrm_contracts.envelope import DLQ_HEADERS, DLQ_ORIGINAL_HEADERS
from leancrm_contracts.read_model import VIEWS
from leancrm_contracts.registry import ALL_COMMANDS, ALL_EVENTS
from leancrm_contracts.topics import ALL_TOPICS

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
TEXT = DOCUMENT.read_text()


def section(number: str) -> str:
    match = re.search(rf"^##+ {re.escape(number)}\s.*?(?=^##+ \d|\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, f"section {number} is missing from {DOCUMENT}"
    return match.group(0)


def test_the_topics_table_lists_every_topic_and_no_other() -> None:
    rows = re.findall(r"^\| `([a-z0-9.\-]+)` \|", section("1."), re.MULTILINE)
    assert sorted(rows) == sorted(ALL_TOPICS)


def test_section_4_names_every_command_and_event_type_and_no_other() -> None:
    text = section("4.")
    commands = set(re.findall(r"^\| `([a-z_]+)`(?: / `([a-z_]+)`)?", text, re.MULTILINE))
    named = {c for pair in commands for c in pair if c}
    assert named == set(ALL_COMMANDS)
    events = r"`((?:customer|interaction|agent|feedback|improvement)\.[a-z_]+)`"
    assert set(re.findall(events, text)) == set(ALL_EVENTS)


def test_the_dead_letter_headers_are_those_of_the_code() -> None:
    text = section("2.4")
    for header in (*DLQ_HEADERS, *DLQ_ORIGINAL_HEADERS):
        assert f"`{header}`" in text, header
    assert f"{limits.DLQ_MAX_VALUE_BYTES:,}" in text and f"{limits.DLQ_MAX_KEY_BYTES:,}" in text
    assert f"{limits.DLQ_MAX_ORIGINAL_HEADER_BYTES:,}" in text and f"{limits.MAX_REASON_CHARS:,}" in text


def test_the_bounds_are_those_of_the_code() -> None:
    text = section("2.5")
    assert f"{limits.MAX_MESSAGE_BYTES:,} bytes" in text
    assert f"nest at most {limits.MAX_NESTING} levels" in text
    assert f"`{limits.TIMESTAMP_MIN:%Y-%m-%dT%H:%M:%SZ}`" in text
    assert f"`{limits.TIMESTAMP_MAX:%Y-%m-%dT%H:%M:%SZ}`" in text


def test_the_read_model_section_lists_every_view_with_its_columns_in_order() -> None:
    text = re.sub(r"\s+", " ", section("6."))
    for view, columns in VIEWS.items():
        match = re.search(rf"`waste\.{view}`: (.*?)(?= - `waste\.|$)", text)
        assert match, f"view {view} is missing from section 6"
        named = re.findall(r"\b[a-z][a-z_0-9]*\b", match.group(1))  # p90_speed_of_answer_s too
        positions = [named.index(c) if c in named else -1 for c in columns]
        assert -1 not in positions, (view, [c for c, p in zip(columns, positions, strict=True) if p < 0])
        assert positions == sorted(positions), f"the columns of {view} are in another order"


def test_section_1_1_states_the_key_of_every_command() -> None:
    from leancrm_contracts.keys import STREAM_FIELD

    stated: dict[str, str] = {}
    for commands, field in re.findall(r"^\| (`[a-z_]+`.*?) \| ([a-z_]+) \|$", section("1.1"), re.MULTILINE):
        for command in re.findall(r"`([a-z_]+)`", commands):
            stated[command] = field
    assert stated == dict(STREAM_FIELD)


def test_the_alert_messages_are_those_of_the_code() -> None:
    from leancrm_contracts.alerts import ALERT_RULES, ALERT_TYPES, MAX_SUMMARY_CHARS, AlertMessage

    text = section("2.7")
    fields = re.findall(r"^\| `([a-z_]+)` \|", text, re.MULTILINE)
    assert fields == list(AlertMessage.model_fields)
    for name in (*ALERT_TYPES, *ALERT_RULES):
        assert f"`{name}`" in text, name
    assert f"at most {MAX_SUMMARY_CHARS} chars" in text
    table = section("5.").split("### Alert rules", 1)[1]
    rules = re.findall(r"^\| `([a-z_0-9]+)` \|", table, re.MULTILINE)
    assert rules == list(ALERT_RULES)


def test_section_2_8_says_how_personal_data_is_sealed_as_the_code_does() -> None:
    from uuid import UUID

    from leancrm_contracts import customers
    from leancrm_contracts.registry import SCHEMA_VERSION
    from leancrm_contracts.topics import CUSTOMERS_KEYS, KEY_TOPIC_CONFIG

    text = section("2.8")
    one_line = re.sub(r"\s+", " ", text)
    assert f"`{CUSTOMERS_KEYS}`" in text
    assert f"`message_type: {customers.KEY_MESSAGE_TYPE}`" in one_line
    assert f"`message_type: {customers.KEY_ERASED_MESSAGE_TYPE}`" in one_line
    assert f"`{customers.SEALED_ALG}`" in text and f'"alg": "{customers.CLEAR_ALG}"' in text
    some = UUID(int=7)
    for aad in (customers.personal_associated_data(some, "customer.registered"),
                customers.key_associated_data(some)):
        assert aad.decode().replace(str(some), "<customer_id>").replace(
            "customer.registered", "<event_type>") in text
    for event_type, version in SCHEMA_VERSION.items():
        if version > 1:
            assert f"| `{event_type}` |" in text, event_type
    assert "2 for `customer.registered` and `customer.details_changed`" in section("2.1")
    assert "compacted" in section("1.") and KEY_TOPIC_CONFIG["cleanup.policy"] in section("1.")
    assert set(re.findall(r"`(\w+)`", text.split("**The key topic**")[1].split(" with ")[0])) >= {
        *customers.CustomerKey.model_fields} - {"customer_id"}
