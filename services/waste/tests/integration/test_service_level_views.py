"""The views of issue 14 — waste.service_level_targets, service_level_hourly, demand_daily
and lead_time_daily — equal the pure reference functions (leancrm_waste.domain
.service_level and .demand) on a hand-worked set of interactions written to a store, and
the hand-worked figures themselves; thresholds come from the settings the store was
made with, and a new start replaces them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from leancrm_devstack.testing import Infra
from leancrm_waste.domain.demand import (
    Demand,
    LeadDistribution,
    demand_daily,
    demand_over,
    lead_time_daily,
    lead_times_over,
)
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import InteractionFigures, summarise_interaction
from leancrm_waste.domain.repeats import InteractionRecord, link_interactions
from leancrm_waste.domain.service_level import parse_thresholds, service_level_hourly
from leancrm_waste.projection import stores
from leancrm_waste.read.distribution import demand_body, lead_times_body
from leancrm_waste.read.params import Scope, TimeRange

pytestmark = pytest.mark.integration

D = datetime(2026, 6, 15, 9, tzinfo=UTC)
NS = uuid.UUID("5e41ce1e-0000-4000-8000-000000000000")


def uid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def t(seconds: float, day: int = 0) -> datetime:
    return D + timedelta(days=day, seconds=seconds)


def contact(name: str, *steps: tuple[str, float, dict[str, Any]], channel: str = "phone",
            reason: str = "billing", customer: str | None = None, day: int = 0) -> InteractionFigures:
    iid = uid(name)
    evs = [Event(uid(f"{name}/{n}"), f"interaction.{kind}", t(at, day), {"interaction_id": iid, **data})
           for n, (kind, at, data) in enumerate(steps)]
    evs[0] = Event(evs[0].event_id, evs[0].event_type, evs[0].occurred_at,
                   {**evs[0].data, "customer_id": uid("customer-" + (customer or name)),
                    "channel": channel, "reason": reason})
    return summarise_interaction(evs)


def answered(name: str, start: float, wait: float, **kw: Any) -> InteractionFigures:
    return contact(name, ("started", start, {}), ("queued", start, {}),
                   ("agent_assigned", start + wait, {"agent_id": "a", "team": "care"}),
                   ("resolved", start + wait + 60, {"resolved_by": "agent"}),
                   ("ended", start + wait + 60, {}), **kw)


def gave_up(name: str, start: float, wait: float, **kw: Any) -> InteractionFigures:
    return contact(name, ("started", start, {}), ("queued", start, {}),
                   ("abandoned", start + wait, {"stage": "queue"}), ("ended", start + wait, {}), **kw)


FIGURES = [
    # phone, 15 June 09:00 (threshold 20 s): answered 10, 20, 50 s; gave up at 15 s (left
    # out) and 40 s (against); one still queued (left out) → offered 4, SL 2/4, p90 44
    answered("A", 0, 10), answered("B", 60, 20, customer="A"), answered("C", 120, 50),
    gave_up("D", 180, 15), gave_up("E", 240, 40),
    contact("F", ("started", 300, {}), ("queued", 300, {})),
    # phone, 10:00: one answered late
    answered("G", 3600, 90, reason="order_status"),
    # chat (threshold switched off): answered 30 and 200 s; one gave up after 500 s
    answered("H", 600, 30, channel="chat", reason="account"),
    answered("I", 700, 200, channel="chat", reason="account", customer="H"),
    gave_up("J", 800, 500, channel="chat", reason="account"),
    # email (86,400 s): answered after 2 h; ended unanswered after 2 days (against), started the day before
    answered("K", 900, 7200, channel="email", reason="complaint"),
    contact("L", ("started", 0, {}), ("queued", 0, {}), ("ended", 2 * 86400, {}), channel="email",
            reason="complaint", day=-1),
    # bot, self-service: no threshold, nothing offered
    contact("M", ("started", 1000, {}), ("resolved", 1030, {"resolved_by": "bot"}), ("ended", 1030, {}),
            channel="bot", reason="order_status"),
    # the next day: a billing repeat of A's customer, ended an hour later
    contact("N", ("started", 0, {}), ("ended", 3600, {}), customer="A", day=1),
]


def store_row(f: InteractionFigures) -> tuple[Any, ...]:
    return (f.interaction_id, f.customer_id, f.channel, f.reason, f.started_at, f.started_event_id,
            f.ended_at, f.status, f.resolved_by, f.transfers, f.cross_channel_transfers,
            f.identifications, f.queue_wait_s, f.hold_s, f.handle_s, f.value_added_s, f.lead_time_s,
            f.reached_agent, f.last_team)


async def made_store(conn: asyncpg.Connection, thresholds: dict[str, float]) -> str:
    store = f"sl_{uuid.uuid4().hex[:10]}"
    await stores.create_store(conn, store, 0.85, thresholds)
    await conn.executemany(
        f"INSERT INTO {store}.interactions (interaction_id, customer_id, channel, reason, started_at, "
        "started_event_id, ended_at, status, resolved_by, transfers, cross_channel_transfers, "
        "identifications, queue_wait_s, hold_s, handle_s, value_added_s, lead_time_s, reached_agent, "
        "team) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, "
        "$19)", [store_row(f) for f in FIGURES])
    await stores.install_views(conn, store)
    return store


def approx(row: dict[str, Any]) -> dict[str, Any]:
    return {k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for k, v in row.items()}


async def test_the_views_equal_the_reference_and_the_hand_worked_figures(infra: Infra) -> None:
    thresholds = parse_thresholds("chat=off")
    records: list[InteractionRecord] = link_interactions(FIGURES)
    conn = await asyncpg.connect(infra.dsn)
    try:
        store = await made_store(conn, thresholds)
        targets = {r["channel"]: r["threshold_s"] for r in await conn.fetch(
            "SELECT * FROM waste.service_level_targets")}
        hourly = {(r["bucket_start"], r["channel"]): dict(r) for r in await conn.fetch(
            "SELECT * FROM waste.service_level_hourly")}
        demand = {(r["day"], r["channel"], r["reason"]): dict(r) for r in await conn.fetch(
            "SELECT * FROM waste.demand_daily")}
        leads = {(r["day"], r["reason"]): dict(r) for r in await conn.fetch(
            "SELECT * FROM waste.lead_time_daily")}
        # leancrm_ops reads them (the role is made by install_views where it may)
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE leancrm_ops")
            for view in ("service_level_targets", "service_level_hourly", "demand_daily",
                         "lead_time_daily"):
                await conn.fetch(f"SELECT * FROM waste.{view}")
    finally:
        await conn.close()

    assert targets == {"phone": 20.0, "email": 86400.0, "sms": 3600.0, "social": 3600.0}

    reference = service_level_hourly(records, thresholds)
    assert set(hourly) == set(reference)
    for key, want in reference.items():
        got = {k: v for k, v in hourly[key].items() if k not in ("bucket_start", "channel")}
        assert got == approx(vars(want)), key
    nine = D
    assert hourly[(nine, "phone")] == approx(dict(
        bucket_start=nine, channel="phone", threshold_s=20.0, contacts=6, offered=4, answered=3,
        answered_within_threshold=2, abandoned_after_threshold=1, service_level=0.5,
        avg_speed_of_answer_s=80 / 3, p90_speed_of_answer_s=44.0))
    assert hourly[(nine, "chat")] == approx(dict(
        bucket_start=nine, channel="chat", threshold_s=None, contacts=3, offered=2, answered=2,
        answered_within_threshold=None, abandoned_after_threshold=None, service_level=None,
        avg_speed_of_answer_s=115.0, p90_speed_of_answer_s=183.0))  # 30 + 0.9 · 170
    assert hourly[(nine - timedelta(days=1), "email")]["abandoned_after_threshold"] == 1  # L
    assert hourly[(nine - timedelta(days=1), "email")]["service_level"] == 0.0
    assert hourly[(nine, "email")]["service_level"] == 1.0
    assert hourly[(nine, "bot")]["offered"] == 0 and hourly[(nine, "bot")]["service_level"] is None

    reference_demand = demand_daily(records)
    assert set(demand) == set(reference_demand)
    for key, want_d in reference_demand.items():
        assert {k: demand[key][k] for k in vars(want_d)} == approx(vars(want_d)), key
    assert demand[(date(2026, 6, 15), "phone", "billing")] == approx(dict(
        day=date(2026, 6, 15), channel="phone", reason="billing", contacts=6, value_demand=5,
        failure_demand=1, failure_demand_share=1 / 6))  # B repeats A
    assert demand[(date(2026, 6, 16), "phone", "billing")]["failure_demand"] == 1  # N repeats B

    reference_leads = lead_time_daily(records)
    assert set(leads) == set(reference_leads)
    for key, want_l in reference_leads.items():
        assert {k: leads[key][k] for k in vars(want_l)} == approx(vars(want_l)), key
    # 15 June, billing: A 70, B 80, C 110, D 15, E 40 s → p50 70, p85 h = 3.4: 80 + 0.4 · 30
    assert leads[(date(2026, 6, 15), "billing")] == approx(dict(
        day=date(2026, 6, 15), reason="billing", ended_interactions=5, p50_lead_time_s=70.0,
        p85_lead_time_s=92.0, p95_lead_time_s=104.0))
    assert leads[(date(2026, 6, 16), "complaint")]["ended_interactions"] == 1  # L ended two days on
    assert store


def demand_is(got: dict[str, Any], want: Demand) -> None:
    assert (got["contacts"], got["value_demand"], got["failure_demand"]) == (
        want.contacts, want.value_demand, want.failure_demand)
    assert got["failure_demand_share"] == pytest.approx(want.failure_demand_share, abs=5e-5)


def leads_are(got: dict[str, Any], want: LeadDistribution) -> None:
    assert (got["ended_interactions"], got["histogram"]) == (want.ended_interactions, want.histogram)
    for k in ("p50_lead_time_s", "p85_lead_time_s", "p95_lead_time_s"):
        assert got[k] == pytest.approx(getattr(want, k), abs=0.05), k  # rounded to 0.1 s


async def test_the_period_endpoints_equal_the_reference(infra: Infra) -> None:
    """/api/v1/demand and /api/v1/lead-times (contract section 6.2), read as leancrm_ops,
    equal demand_over and lead_times_over on the same interactions, over a day, two days
    and with a channel filter."""
    records = link_interactions(FIGURES)
    day = datetime(2026, 6, 15, tzinfo=UTC)
    conn = await asyncpg.connect(infra.dsn)
    try:
        await made_store(conn, parse_thresholds(""))
        await conn.execute("SET ROLE leancrm_ops")
        for start, end, channels in ((day, day + timedelta(days=1), []),
                                     (day - timedelta(days=1), day + timedelta(days=2), []),
                                     (day, day + timedelta(days=2), ["phone", "email"])):
            scope = Scope(TimeRange(start, end), channels)
            mine = [r for r in records if not channels or r.figures.channel in channels]
            demand = await demand_body(conn, scope)
            want_d = demand_over(mine, start, end)
            demand_is(demand["total"], want_d.total)
            assert {r["reason"] for r in demand["by_reason"]} == set(want_d.by_reason)
            for r in demand["by_reason"]:
                demand_is(r, want_d.by_reason[r["reason"]])
            for r in demand["rows"]:
                demand_is(r, want_d.rows[(r["channel"], r["reason"])])
            assert len(demand["rows"]) == len(want_d.rows)
            leads = await lead_times_body(conn, scope)
            want_l = lead_times_over(mine, start, end)
            leads_are(leads["overall"], want_l.overall)
            assert {r["reason"] for r in leads["by_reason"]} == set(want_l.by_reason)
            for r in leads["by_reason"]:
                leads_are(r, want_l.by_reason[r["reason"]])
        await conn.execute("RESET ROLE")
    finally:
        await conn.close()


async def test_a_new_start_replaces_the_thresholds(infra: Infra) -> None:
    conn = await asyncpg.connect(infra.dsn)
    try:
        store = await made_store(conn, parse_thresholds(""))
        await stores.create_store(conn, store, 0.85, parse_thresholds("phone=60,email=off"))
        targets = dict(await conn.fetch("SELECT channel, threshold_s FROM waste.service_level_targets"))
        phone = await conn.fetchrow(
            "SELECT * FROM waste.service_level_hourly WHERE bucket_start = $1 AND channel = 'phone'", D)
        email = await conn.fetch("SELECT * FROM waste.service_level_hourly WHERE channel = 'email'")
    finally:
        await conn.close()
    assert targets == {"phone": 60.0, "chat": 60.0, "sms": 3600.0, "social": 3600.0}
    # at 60 s every answered phone contact is within, and the 40 s abandon is left out
    assert (phone["offered"], phone["answered_within_threshold"], phone["service_level"]) == (3, 3, 1.0)
    assert all(r["service_level"] is None for r in email)
