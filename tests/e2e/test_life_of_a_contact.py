"""Contract section 7, run: every sequence of commands the document gives for a kind of
contact is sent over Kafka to the services, and the read model must show the figures
the document states. The sequences and figures are read from docs/contract.md itself,
so the guide and this test cannot drift apart."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.envelope import CONTENT_TYPE_JSON, HEADER_CONTENT_TYPE, HEADER_MESSAGE_TYPE
from leancrm_contracts.keys import command_key_of
from leancrm_contracts.registry import ALL_COMMANDS
from leancrm_contracts.topics import COMMAND_RESULTS, CUSTOMERS_COMMANDS, INTERACTIONS_COMMANDS
from leancrm_devstack.testing import Infra, TopicReader, wait_until

from .test_knobs_end_to_end import system

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AGENTS = {"a-1": "billing", "a-2": "digital", "a-3": "tech"}
NULL = "–"


@dataclass
class Life:
    """One sequence of section 7: its commands and the figures they produce."""

    title: str
    commands: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    #: interaction placeholder → waste.interactions column → value as written
    figures: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (waste_type, subtype, quantity) rows of waste.waste_ledger, as written
    wastes: list[tuple[str, str, float]] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def lives(text: str | None = None) -> list[Life]:
    """The sequences of section 7 of the contract document, parsed from its tables."""
    text = DOCUMENT.read_text() if text is None else text
    section = text[text.index("\n## 7. "):]
    found: list[Life] = []
    for part in re.split(r"^### ", section, flags=re.MULTILINE)[1:]:
        title, _, body = part.partition("\n")
        life = Life(title.strip())
        header: list[str] = []
        for line in body.splitlines():
            if not line.startswith("|"):
                header = []
                continue
            cells = _cells(line)
            if not header:
                header = cells
                continue
            if set("".join(cells)) <= set("- "):
                continue  # the separator row
            row = dict(zip(header, cells, strict=True))
            if header[0] == "at":
                at = re.fullmatch(r"\+(\d+) s", row["at"])
                assert at, f"{title}: an 'at' of +N s, not {row['at']!r}"
                life.commands.append((int(at.group(1)), row["command"].strip("`"),
                                      json.loads(row["data"].strip("`"))))
            elif header[0] == "interaction":
                life.figures[row["interaction"]] = {k: v for k, v in row.items() if k != "interaction"}
            elif header[0] == "waste_type":
                life.wastes.append((row["waste_type"], row["subtype"], float(row["quantity"])))
        if life.commands:
            found.append(life)
    return found


def test_section_7_gives_each_kind_of_contact_with_its_figures() -> None:
    found = lives()
    titles = " / ".join(life.title.lower() for life in found)
    for kind in ("phone", "chat", "email", "self-service", "transfer", "abandoned", "callback"):
        assert kind in titles, kind
    for life in found:
        assert life.figures, life.title
        ids = {d.get("interaction_id") for _, _, d in life.commands} - {None}
        assert set(life.figures) == ids, life.title
        assert [at for at, _, _ in life.commands] == sorted(at for at, _, _ in life.commands)
        names = {"C": str(uuid.uuid4()), **{i: str(uuid.uuid4()) for i in ids}}
        for _, command_type, data in life.commands:  # each a valid command of section 4
            ALL_COMMANDS[command_type].model_validate(_substitute(data, names))


def test_the_parser_reads_what_it_is_given() -> None:
    text = ("\n## 7. The life\n\n### 7.1 A call\n\n| at | command | data |\n| --- | --- | --- |\n"
            '| +5 s | `end_interaction` | `{"interaction_id": "I"}` |\n\n'
            "| interaction | status |\n| --- | --- |\n| I | resolved |\n\n"
            "| waste_type | subtype | quantity |\n| --- | --- | --- |\n| waiting | queue | 7 |\n")
    (life,) = lives(text)
    assert life.commands == [(5, "end_interaction", {"interaction_id": "I"})]
    assert life.figures == {"I": {"status": "resolved"}} and life.wastes == [("waiting", "queue", 7.0)]


# --- run against the services -----------------------------------------------------------


def _substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, names) for k, v in value.items()}
    return names.get(value, value) if isinstance(value, str) else value


def _at(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _command(command_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": f"life-{uuid.uuid4()}", "command_type": command_type,
            "occurred_at": _at(at), "correlation_id": None, "data": data}


def _expected(value: str, names: dict[str, str]) -> Any:
    if value == NULL:
        return None
    if value in ("true", "false"):
        return value == "true"
    if value in names:
        return names[value]
    try:
        return float(value)
    except ValueError:
        return value


def _actual(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


async def test_every_sequence_produces_the_figures_the_contract_states(
    infra: Infra, bootstrap: str
) -> None:
    found = lives()
    tag = uuid.uuid4().hex[:6]
    agents = {a: f"{a}-{tag}" for a in AGENTS}
    plans = []  # (life, placeholder → id, the commands to send)
    for n, life in enumerate(found):
        start = T0 + timedelta(hours=n)
        names = {**agents, "C": str(uuid.uuid4())}
        names.update({i: str(uuid.uuid4()) for i in life.figures})
        commands = [_command(ct, start + timedelta(seconds=at), _substitute(data, names))
                    for at, ct, data in life.commands]
        plans.append((life, names, commands))
    setup = [
        *(_command("sign_in_agent", T0 - timedelta(hours=1), {"agent_id": agents[a], "team": team})
          for a, team in AGENTS.items()),
        *(_command("register_customer", T0 - timedelta(hours=1), {
            "customer_id": names["C"], "name": "Ada Lovelace", "email": None, "phone": None,
            "segment": "retail"}) for _, names, _ in plans),
    ]
    every = [*setup, *(c for _, _, commands in plans for c in commands)]

    async with system(infra, bootstrap) as waste_schema, \
            TopicReader(bootstrap, COMMAND_RESULTS) as reader:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for c in every:
                topic = CUSTOMERS_COMMANDS if c["command_type"] == "register_customer" \
                    else INTERACTIONS_COMMANDS
                await producer.send_and_wait(
                    topic, json.dumps(c).encode(),
                    key=command_key_of(c["command_type"], c["data"]).encode(),
                    headers=[(HEADER_CONTENT_TYPE, CONTENT_TYPE_JSON.encode()),
                             (HEADER_MESSAGE_TYPE, c["command_type"].encode())])
        finally:
            await producer.stop()
        ids = {c["command_id"] for c in every}
        await wait_until(lambda: ids <= {r["command_id"] for r in reader.json_on(COMMAND_RESULTS)},
                         90, what="a result for every command of section 7")
        results = {r["command_id"]: r for r in reader.json_on(COMMAND_RESULTS) if r["command_id"] in ids}
        refused = [(c["command_type"], results[c["command_id"]]["error"]) for c in every
                   if results[c["command_id"]]["status"] != "accepted"]
        assert refused == []

        interaction_ids = [names[i] for life, names, _ in plans for i in life.figures]
        conn = await asyncpg.connect(infra.dsn)
        try:
            async def all_ended() -> bool:
                n = await conn.fetchval(
                    "SELECT count(*) FROM waste.interactions WHERE ended_at IS NOT NULL "
                    "AND interaction_id = ANY($1::uuid[])", interaction_ids)
                return bool(n == len(interaction_ids))
            await wait_until(all_ended, 90, what="every contact of section 7 ended in the read model")
            rows = {str(r["interaction_id"]): dict(r) for r in await conn.fetch(
                "SELECT * FROM waste.interactions WHERE interaction_id = ANY($1::uuid[])",
                interaction_ids)}
            ledger = await conn.fetch(
                "SELECT interaction_id, waste_type, subtype, quantity FROM waste.waste_ledger "
                "WHERE interaction_id = ANY($1::uuid[])", interaction_ids)
            # the customers' and agents' events travel on other topics and partitions: once
            # they are in too, nothing spans streams out of place (agents signed in, under
            # their teams; customers registered) — until then the view may count them
            async def consistent() -> bool:
                return not await conn.fetch("SELECT * FROM waste.data_quality")
            await wait_until(consistent, 60, what="no data-quality anomaly once every stream is in")
        finally:
            await conn.close()
    assert waste_schema

    problems = []
    for life, names, _ in plans:
        for placeholder, expected in life.figures.items():
            row = rows[names[placeholder]]
            for column, written in expected.items():
                want, got = _expected(written, names), _actual(row[column])
                if got != (pytest.approx(want) if isinstance(want, float) else want):
                    problems.append(f"{life.title}: {placeholder}.{column} is {got!r}, "
                                    f"the contract says {written}")
        mine = {names[i] for i in life.figures}
        produced = sorted((r["waste_type"], r["subtype"], float(r["quantity"])) for r in ledger
                          if str(r["interaction_id"]) in mine)
        if produced != sorted(life.wastes):
            problems.append(f"{life.title}: wastes {produced}, the contract says {sorted(life.wastes)}")
    assert problems == []
