"""Improvements through the projector: their events into ``waste.improvements``, and each
judged by its target's daily rate (read/improvements.py, /api/v1/improvements/effects)
on a hand-worked series.

Reason ``billing`` on the phone, ten contacts a day from 2 to 9 November 2026 (eight
days) with 3, 4, 3, 4, 3, 4, 3, 4 abandoned: abandonment 0.3, 0.4, … → centre 0.35,
m̄R 0.1, limits 0.35 ± 0.266 = [0.084, 0.616]. "Call-back offer" starts on 10 November
(expected: decrease): 10–12 November none abandoned (0.0, below the lower limit: a
signal on 10 November), then 13–17 November back to 3, 4, 3, 4, 3 → adopted on
18 November, its latest five values back within the old limits: fading (on 12 November
it was still running). "Chat script"
is scoped to chat, where nothing happened: no baseline.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from leancrm_devstack.testing import Infra
from leancrm_servicekit.auth import WASTE_READ, Guard, TokenSource, new_token, token_sha256
from leancrm_simulator.model import IMPROVEMENTS_COMMANDS, INTERACTIONS_COMMANDS, SimCommand
from leancrm_simulator.offline import offline_events
from leancrm_waste.read.api import api_routes
from leancrm_waste.read.improvements import judged_improvements
from leancrm_waste.service import WasteService

from .conftest import produce, running, wait_applied, waste_settings

pytestmark = pytest.mark.integration

FIRST = date(2026, 11, 2)
STARTS_ON = date(2026, 11, 10)
ABANDONED = [3, 4, 3, 4, 3, 4, 3, 4, 0, 0, 0, 3, 4, 3, 4, 3]  # 2–17 November
WORKS, NO_BASELINE, DROPPED = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def at(d: date, hour: int, minute: int = 0) -> tuple[int, str]:
    t = datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)
    return int(t.timestamp() * 1000), t.isoformat().replace("+00:00", "Z")


def cmd(seq: int, topic: str, key: str, when: tuple[int, str], command_type: str,
        data: dict[str, Any]) -> SimCommand:
    return SimCommand(when[0], seq, topic, key, {"command_id": f"impr-{uuid.uuid4()}",
                                                 "command_type": command_type,
                                                 "occurred_at": when[1], "correlation_id": None,
                                                 "data": data})


def commands() -> list[SimCommand]:
    out: list[SimCommand] = []
    for k, abandoned in enumerate(ABANDONED):
        d = FIRST + timedelta(days=k)
        for n in range(10):
            iid, customer = str(uuid.uuid4()), str(uuid.uuid4())
            out.append(cmd(len(out), INTERACTIONS_COMMANDS, customer, at(d, 9, n), "start_interaction",
                           {"interaction_id": iid, "customer_id": customer, "channel": "phone",
                            "reason": "billing", "direction": "inbound"}))
            if n < abandoned:
                out.append(cmd(len(out), INTERACTIONS_COMMANDS, customer, at(d, 9, n + 1),
                               "abandon_interaction", {"interaction_id": iid, "stage": "queue"}))
            out.append(cmd(len(out), INTERACTIONS_COMMANDS, customer, at(d, 9, n + 2),
                           "end_interaction", {"interaction_id": iid}))
    start = {"target": "abandonment_rate", "starts_on": STARTS_ON.isoformat(), "owner_team": "billing",
             "expected": {"direction": "decrease", "size": 0.2}}
    out.append(cmd(len(out), IMPROVEMENTS_COMMANDS, WORKS, at(STARTS_ON, 8), "start_improvement",
                   {**start, "improvement_id": WORKS, "title": "Call-back offer",
                    "scope": {"channel": "phone", "reason": "billing"}}))
    out.append(cmd(len(out), IMPROVEMENTS_COMMANDS, NO_BASELINE, at(STARTS_ON, 8),
                   "start_improvement", {**start, "improvement_id": NO_BASELINE,
                                         "title": "Chat script", "scope": {"channel": "chat"}}))
    out.append(cmd(len(out), IMPROVEMENTS_COMMANDS, DROPPED, at(STARTS_ON, 8), "start_improvement",
                   {**start, "improvement_id": DROPPED, "title": "Shorter IVR menu"}))
    out.append(cmd(len(out), IMPROVEMENTS_COMMANDS, DROPPED, at(date(2026, 11, 15), 12),
                   "end_improvement", {"improvement_id": DROPPED, "outcome": "abandoned",
                                       "note": "Callers got lost."}))
    out.append(cmd(len(out), IMPROVEMENTS_COMMANDS, WORKS, at(date(2026, 11, 18), 17),
                   "end_improvement", {"improvement_id": WORKS, "outcome": "adopted",
                                       "note": "Abandonment fell beyond the old limits."}))
    return out


async def test_improvements_are_projected_and_judged_on_their_target(infra: Infra, bootstrap: str) -> None:
    events = list(offline_events(commands()))
    assert sum(e.event_type.startswith("improvement.") for e in events) == 5
    schema = f"w_impr_{uuid.uuid4().hex[:6]}"
    async with running(WasteService(waste_settings(infra, bootstrap, schema))):
        await produce(bootstrap, events)
        await wait_applied(infra.dsn, schema, len(events))
        conn = await asyncpg.connect(infra.dsn)
        try:
            rows = {str(r["improvement_id"]): dict(r) for r in await conn.fetch(
                "SELECT * FROM waste.improvements")}
            assert set(rows) == {WORKS, NO_BASELINE, DROPPED}
            assert (rows[DROPPED]["status"], rows[DROPPED]["ended_on"]) == ("abandoned", date(2026, 11, 15))
            works = rows[WORKS]
            assert (works["title"], works["target"], works["channel"], works["reason"], works["team"],
                    works["starts_on"], works["owner_team"], works["expected_direction"],
                    works["expected_size"], works["status"], works["ended_on"]) == (
                "Call-back offer", "abandonment_rate", "phone", "billing", None, STARTS_ON,
                "billing", "decrease", 0.2, "adopted", date(2026, 11, 18))
            assert works["outcome_note"] == "Abandonment fell beyond the old limits."
            assert rows[NO_BASELINE]["status"] == "running" and rows[NO_BASELINE]["ended_on"] is None

            judged = {str(j.row["improvement_id"]): j for j in
                      await judged_improvements(conn, date(2026, 11, 18))}
            e = judged[WORKS].evaluation
            assert e.limits is not None and e.baseline == (FIRST, STARTS_ON - timedelta(days=1))
            assert (e.limits.centre, e.limits.average_moving_range) == (pytest.approx(0.35),
                                                                        pytest.approx(0.1))
            assert (e.limits.lower, e.limits.upper) == (pytest.approx(0.084), pytest.approx(0.616))
            assert [p.value for p in e.after] == pytest.approx([a / 10 for a in ABANDONED[8:]])
            assert (e.effect, e.first_signal_on, e.gain) == ("signal", STARTS_ON, "fading")
            assert judged[NO_BASELINE].evaluation.effect == "no baseline"
            # judged on 12 November it was running, with its signal
            early = {str(j.row["improvement_id"]): j for j in
                     await judged_improvements(conn, date(2026, 11, 12))}
            assert early[WORKS].row["status"] == "running"
            assert (early[WORKS].evaluation.effect, early[WORKS].evaluation.gain) == ("signal", None)
            # ended before the day judged: listed only when asked from an earlier day; the
            # huddle leaves out what was abandoned
            assert DROPPED not in judged
            since = await judged_improvements(conn, date(2026, 11, 18), since=FIRST)
            assert {str(j.row["improvement_id"]) for j in since} == {WORKS, NO_BASELINE, DROPPED}
            kept = await judged_improvements(conn, date(2026, 11, 18), since=FIRST, abandoned=False)
            assert {str(j.row["improvement_id"]) for j in kept} == {WORKS, NO_BASELINE}
            # before its start an improvement is not listed
            assert await judged_improvements(conn, date(2026, 11, 9)) == []
        finally:
            await conn.close()

        token = new_token()
        guard = Guard(TokenSource(f'[{{"name": "t", "sha256": "{token_sha256(token)}", '
                                  f'"scopes": ["{WASTE_READ}"]}}]'), "leancrm-waste")

        class Service:
            def __init__(self, pool: asyncpg.Pool) -> None:
                self.api_pool, self.consumer = pool, None

        pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=2)
        try:
            app = Starlette(routes=api_routes(Service(pool), guard=guard))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://w",
                                         headers={"Authorization": f"Bearer {token}"}) as client:
                r = await client.get("/api/v1/improvements/effects", params={"day": "2026-11-18"})
                assert r.status_code == 200, r.text
                body = {i["improvement_id"]: i for i in r.json()["improvements"]}
                assert (body[WORKS]["effect"], body[WORKS]["gain"], body[WORKS]["first_signal_on"]) == (
                    "signal", "fading", "2026-11-10")
                assert body[WORKS]["limits"]["baseline_from"] == "2026-11-02"
                assert body[NO_BASELINE]["limits"] is None
                bad = await client.get("/api/v1/improvements/effects", params={"day": "17/11/2026"})
                assert bad.status_code == 400 and "day" in bad.json()["errors"]
                rows_r = await client.get("/api/v1/improvements", params={"status": "adopted"})
                assert [row["improvement_id"] for row in rows_r.json()["rows"]] == [WORKS]
        finally:
            await pool.close()
