"""The business time zone (LEANCRM_BUSINESS_TIMEZONE): days cut at Berlin's midnight, in
the views, the API, the huddle (its figures, its report, its command) and the alert
rules' daily rates, on hand-worked data across a midnight.

Europe/Berlin is UTC+1 in November. The store says Europe/Berlin:
  A phone/billing 2026-11-16 22:30–22:40Z = Monday 16th 23:30 Berlin; waiting 600 s
  B phone/billing 2026-11-16 23:30–23:40Z = Tuesday 17th 00:30 Berlin; waiting 300 s
  C chat/billing  2026-11-17 10:00–10:10Z = Tuesday 17th 11:00 Berlin
  capacity care 22:00Z (16th 23:00 Berlin) 3600/3600 → no overproduction;
               23:00Z (17th 00:00 Berlin) 3600/1800 → overproduction 1800 − 540 = 1260 s
  feedback survey 2026-11-16 23:15Z = 17th in Berlin
→ in Berlin: 16th: 1 contact, waiting 600; 17th: 2 contacts, waiting 300, overproduction
  1260, 1 feedback. (In UTC all but C would fall on the 16th.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette

from leancrm_devstack.testing import Infra
from leancrm_servicekit.environment import known_variables
from leancrm_waste.alerting import queries
from leancrm_waste.huddle import cli
from leancrm_waste.huddle.render import render_markdown
from leancrm_waste.huddle.report import build_report
from leancrm_waste.projection import stores
from leancrm_waste.read import costs
from leancrm_waste.read.api import api_routes
from leancrm_waste.read.daily import DailyScope, OpenNow, daily_figures, reasons_by_day
from leancrm_waste.read.params import days_of, parse_scope
from leancrm_waste.read.timezone import day_bounds, first_day_from, midnight_in, zone_named
from leancrm_waste.settings import WasteSettings

from .access import ANALYST, bearer, guard
from .dataset import DataSet, uid

BERLIN = ZoneInfo("Europe/Berlin")


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_huddle(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "LEANCRM_BUSINESS_TIMEZONE"}
    return subprocess.run([sys.executable, "-m", "leancrm_waste", "huddle", *args], capture_output=True,
                          text=True, timeout=120, env={**clean, "COLUMNS": "200", **env}, check=False)


def across_midnight() -> DataSet:
    ds = DataSet()
    ds.interaction("A", start=z("2026-11-16T22:30Z"), end=z("2026-11-16T22:40Z"), channel="phone",
                   reason="billing", queue=600.0)
    ds.waste("A", "waiting", "queue", z("2026-11-16T22:30Z"), 600.0)
    ds.interaction("B", start=z("2026-11-16T23:30Z"), end=z("2026-11-16T23:40Z"), channel="phone",
                   reason="billing", queue=300.0)
    ds.waste("B", "waiting", "queue", z("2026-11-16T23:30Z"), 300.0)
    ds.interaction("C", start=z("2026-11-17T10:00Z"), end=z("2026-11-17T10:10Z"), channel="chat",
                   reason="billing")
    ds.capacity(z("2026-11-16T22:00Z"), "care", 3600.0, 3600.0)
    ds.capacity(z("2026-11-16T23:00Z"), "care", 3600.0, 1800.0)
    ds.feedback.append(dict(feedback_id=uid("tz-f1"), customer_id=None, source="survey",
                            received_at=z("2026-11-16T23:15Z"), interaction_id=None, topic=None,
                            rating=None, sentiment_score=0.5, sentiment_label="positive",
                            routed_team="service"))
    return ds


@dataclass
class FakeService:
    api_pool: asyncpg.Pool | None
    consumer: None = None


@dataclass
class Berlin:
    client: httpx.AsyncClient
    dsn: str
    store: str

    async def get(self, path: str, **params: Any) -> Any:
        r = await self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="module")
async def berlin(infra: Infra) -> AsyncIterator[Berlin]:
    store = f"tz_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(infra.dsn)
    try:
        await stores.create_store(conn, store, 0.85, business_timezone="Europe/Berlin")
        await across_midnight().write(conn, store)
        await stores.install_views(conn, store)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=2)
    app = Starlette(routes=api_routes(FakeService(pool), guard=guard(), business_zone=BERLIN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://waste",
                                 headers=bearer(ANALYST)) as c:
        yield Berlin(c, infra.dsn, store)
    await pool.close()


@pytest.fixture(autouse=True)
async def views_on_this_store(berlin: Berlin) -> None:
    conn = await asyncpg.connect(berlin.dsn)
    try:
        await stores.install_views(conn, berlin.store)
    finally:
        await conn.close()


pytestmark = pytest.mark.integration


async def test_the_views_cut_days_at_the_business_zones_midnight(berlin: Berlin) -> None:
    conn = await asyncpg.connect(berlin.dsn)
    try:
        daily = await conn.fetch("SELECT day, waste_type, occurrences, quantity FROM waste.waste_daily "
                                 "ORDER BY day, waste_type")
        assert [(r["day"], r["waste_type"], r["occurrences"], r["quantity"]) for r in daily] == [
            (date(2026, 11, 16), "waiting", 1, 600.0),
            (date(2026, 11, 17), "overproduction", 1, pytest.approx(1260.0)),
            (date(2026, 11, 17), "waiting", 1, 300.0)]
        vsd = await conn.fetch("SELECT day, channel, contacts, waiting_s FROM waste.value_stream_daily "
                               "ORDER BY day, channel")
        assert [tuple(r) for r in vsd] == [(date(2026, 11, 16), "phone", 1, 600.0),
                                           (date(2026, 11, 17), "chat", 1, 0.0),
                                           (date(2026, 11, 17), "phone", 1, 300.0)]
        assert await conn.fetchval("SELECT day FROM waste.feedback_daily") == date(2026, 11, 17)
        assert await conn.fetchval("SELECT time_zone FROM waste.business_time_zone") == "Europe/Berlin"
    finally:
        await conn.close()


async def test_the_api_reads_dates_and_periods_in_the_business_zone(berlin: Berlin) -> None:
    tuesday = {"from": "2026-11-17", "to": "2026-11-18"}
    s = await berlin.get("/api/v1/summary", **tuesday)
    assert s["time_zone"] == "Europe/Berlin"
    assert (s["filters"]["from"], s["filters"]["to"]) == (
        "2026-11-16T23:00:00.000Z", "2026-11-17T23:00:00.000Z")
    assert [(d["day"], d["contacts"]) for d in s["daily"]] == [("2026-11-17", 2)]
    costs = {r["waste_type"]: r["quantity"] for r in s["pareto"]["rows"] if r["quantity"]}
    assert costs == {"waiting": 300.0, "overproduction": 1260.0}
    assert [r["feedback_count"] for r in s["sentiment"]["rows"]] == [1]
    monday = await berlin.get("/api/v1/summary", **{"from": "2026-11-16", "to": "2026-11-17"})
    assert [(d["day"], d["contacts"]) for d in monday["daily"]] == [("2026-11-16", 1)]
    assert monday["headline"]["overproduction_s"] == 0
    # a day column is filtered by the days that start in the range
    wd = await berlin.get("/api/v1/waste_daily", **tuesday)
    assert {r["day"] for r in wd["rows"]} == {"2026-11-17"}
    ledger = await berlin.get("/api/v1/waste_ledger", waste_type="waiting", **tuesday)
    assert [r["quantity"] for r in ledger["rows"]] == [300.0]
    by_day = await berlin.get("/api/v1/breakdown", by="channel", waste="waiting", **tuesday)
    assert [(r["channel"], r["quantity"]) for r in by_day["rows"]] == [("phone", 300.0)]


async def test_the_huddles_and_signals_days_are_the_business_zones(berlin: Berlin) -> None:
    conn = await asyncpg.connect(berlin.dsn)
    try:
        days = await daily_figures(conn, date(2026, 11, 16), date(2026, 11, 17), DailyScope(zone=BERLIN))
        reasons = await reasons_by_day(conn, [date(2026, 11, 17)], DailyScope(zone=BERLIN))
    finally:
        await conn.close()
    assert {d: f.contacts for d, f in days.items()} == {date(2026, 11, 16): 1, date(2026, 11, 17): 2}
    assert days[date(2026, 11, 16)].wastes == {"waiting": 600.0}
    assert days[date(2026, 11, 17)].overproduction_s == pytest.approx(1260.0)
    assert [(r["reason"], r["contacts"]) for r in reasons] == [("billing", 2)]
    s = await berlin.get("/api/v1/signals", rate="fcr_rate", min_contacts="1",
                         **{"from": "2026-11-16", "to": "2026-11-17"})
    assert [(p["day"], p["contacts"]) for p in s["charts"][0]["points"]] == [
        ("2026-11-16", 1), ("2026-11-17", 2)]


def test_yesterday_and_days_in_the_business_zone() -> None:
    # 23:30 UTC on the 17th is already the 18th in Berlin: yesterday is the 17th there
    s = parse_scope([("period", "yesterday")], now=z("2026-11-17T23:30Z"), zone=BERLIN)
    assert (s.time.start, s.time.end) == (z("2026-11-16T23:00Z"), z("2026-11-17T23:00Z"))
    assert days_of(s.time, BERLIN) == [date(2026, 11, 17)]
    utc = parse_scope([("period", "yesterday")], now=z("2026-11-17T23:30Z"))
    assert (utc.time.start, utc.time.end) == (z("2026-11-16T00:00Z"), z("2026-11-17T00:00Z"))
    # the day the clocks go forward has 23 hours, back 25
    start, end = day_bounds(date(2026, 3, 29), BERLIN)
    assert start == z("2026-03-28T23:00Z") and (end - start).total_seconds() == 23 * 3600
    start, end = day_bounds(date(2026, 10, 25), BERLIN)
    assert (end - start).total_seconds() == 25 * 3600
    assert first_day_from(z("2026-11-16T23:00Z"), BERLIN) == date(2026, 11, 17)
    assert first_day_from(z("2026-11-16T23:01Z"), BERLIN) == date(2026, 11, 18)
    assert midnight_in(date(2026, 11, 17)) == datetime(2026, 11, 17, tzinfo=UTC)


def test_the_setting_is_an_iana_zone_and_a_known_variable() -> None:
    assert WasteSettings(business_timezone="America/New_York").business_zone == ZoneInfo("America/New_York")
    assert WasteSettings().business_timezone == "UTC"
    for bad in ("Mars/Olympus", "+01:00", "", "../etc/passwd"):
        with pytest.raises(ValidationError, match="business_timezone"):
            WasteSettings(business_timezone=bad)
    with pytest.raises(ValueError, match="did you mean Europe/Berlin"):
        zone_named("europe/berlin")
    assert "LEANCRM_BUSINESS_TIMEZONE" in known_variables([WasteSettings])


async def test_a_zone_postgresql_does_not_know_stops_the_store_before_anything_is_written(
        infra: Infra) -> None:
    conn = await asyncpg.connect(infra.dsn)
    try:
        with pytest.raises(ValueError, match="PostgreSQL does not know the time zone 'Not/AZone'"):
            await stores.create_store(conn, f"tz_bad_{uuid.uuid4().hex[:8]}", 0.85,
                                      business_timezone="Not/AZone")
    finally:
        await conn.close()


# --- the huddle and the alert rules cut their days in the business time zone too ---------


async def huddle_of(dsn: str, day: date, zone: Any, *, at: datetime | None = None) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        figures = await cli.read_figures(conn, day, DailyScope(zone=zone))
    finally:
        await conn.close()
    if at is not None:  # what is open now, as read at ``at``
        figures["open_now"] = OpenNow(at=at, backlog=[], waiting={})
    return build_report(figures, dict(costs.DEFAULT_COST_SECONDS), 0.85, min_contacts=1,
                        min_reason_contacts=1)


async def test_the_huddle_reviews_a_day_of_the_business_zone(berlin: Berlin) -> None:
    # Tuesday the 17th in Berlin: B (waiting 300 s) and C, 1260 s overproduction of 3600 s staffed
    r = await huddle_of(berlin.dsn, date(2026, 11, 17), BERLIN, at=z("2026-12-01T08:00Z"))
    assert r["time_zone"] == "Europe/Berlin" and r["volume"]["contacts"] == 2
    wastes = {w["waste_type"]: w for w in r["wastes"]}
    assert wastes["waiting"]["quantity"] == 300.0 and wastes["waiting"]["value"] == 150.0
    assert wastes["overproduction"]["quantity"] == pytest.approx(1260.0)
    assert r["volume"]["staffed_s"] == 3600.0
    assert r["worst_reasons"] == [] and r["state"] == "ok"
    assert "Huddle — Tuesday 17 November 2026 (Europe/Berlin)" in render_markdown(r)
    # Monday the 16th in Berlin: A only; in UTC it would have had A and B
    monday = await huddle_of(berlin.dsn, date(2026, 11, 16), BERLIN, at=z("2026-12-01T08:00Z"))
    assert monday["volume"]["contacts"] == 1
    assert {w["waste_type"]: w["quantity"] for w in monday["wastes"]}["waiting"] == 600.0
    utc = await huddle_of(berlin.dsn, date(2026, 11, 16), UTC, at=z("2026-12-01T08:00Z"))
    assert utc["volume"]["contacts"] == 2 and utc["time_zone"] == "UTC"


async def test_the_huddles_day_is_over_at_the_business_zones_midnight(berlin: Berlin) -> None:
    # 23:30 UTC on the 17th is 00:30 on the 18th in Berlin: the 17th is over there, not in UTC
    over = await huddle_of(berlin.dsn, date(2026, 11, 17), BERLIN, at=z("2026-11-17T23:30Z"))
    assert over["volume"]["day_over"] is True and over["state"] == "ok"
    before = await huddle_of(berlin.dsn, date(2026, 11, 17), BERLIN, at=z("2026-11-17T22:30Z"))
    assert before["volume"]["day_over"] is False and before["state"] == "not finished"
    assert before["state_words"] == "day not finished: the day is not over yet"
    in_utc = await huddle_of(berlin.dsn, date(2026, 11, 17), UTC, at=z("2026-11-17T23:30Z"))
    assert in_utc["volume"]["day_over"] is False
    # "open now" is shown in the zone's clock
    assert "Open now (2026-11-18 00:30 Europe/Berlin)" in render_markdown(over)


def test_the_huddle_command_cuts_days_in_the_read_models_zone(berlin: Berlin) -> None:
    env = {"LEANCRM_DATABASE_URL": berlin.dsn}
    out = run_huddle("--day", "2026-11-17", "--format", "json", "--min-contacts", "1", env=env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["day"], body["time_zone"], body["volume"]["contacts"]) == ("2026-11-17", "Europe/Berlin", 2)
    assert out.stderr == ""
    # a LEANCRM_BUSINESS_TIMEZONE that is not the read model's: the read model's days, and a note
    other = run_huddle("--day", "2026-11-17", "--format", "json", "--min-contacts", "1",
                       env={**env, "LEANCRM_BUSINESS_TIMEZONE": "UTC"})
    assert json.loads(other.stdout)["time_zone"] == "Europe/Berlin"
    assert "LEANCRM_BUSINESS_TIMEZONE=UTC is not the read model's time zone Europe/Berlin" in other.stderr
    # --time-zone chooses another: in UTC the 16th has A and B
    text = run_huddle("--day", "2026-11-16", "--format", "markdown", "--time-zone", "UTC", env=env)
    assert text.returncode == 0, text.stderr
    assert "2026 (UTC)" in text.stdout and "Contacts: 2." in text.stdout
    bad = run_huddle("--day", "2026-11-17", "--time-zone", "europe/berlin", env=env)
    assert bad.returncode == 2 and "did you mean Europe/Berlin" in bad.stderr, bad.stderr
    bad_env = run_huddle("--day", "2026-11-17", env={**env, "LEANCRM_BUSINESS_TIMEZONE": "Mars/Olympus"})
    assert bad_env.returncode == 2 and "LEANCRM_BUSINESS_TIMEZONE" in bad_env.stderr, bad_env.stderr
    assert "'Mars/Olympus' is not an IANA time zone name" in bad_env.stderr
    helped = run_huddle("--help", env={})
    assert "Day to review in the business time zone" in helped.stdout


def test_the_huddles_default_day_is_yesterday_in_the_zone() -> None:
    # 23:30 UTC on the 17th: the 18th in Berlin, so yesterday there is the 17th
    assert cli.yesterday(z("2026-11-17T23:30Z"), BERLIN) == date(2026, 11, 17)
    assert cli.yesterday(z("2026-11-17T23:30Z")) == date(2026, 11, 16)
    # 03:00 UTC on the 18th: still the 17th in New York
    assert cli.yesterday(z("2026-11-18T03:00Z"), ZoneInfo("America/New_York")) == date(2026, 11, 16)


async def test_the_alert_rules_daily_rates_are_days_of_the_business_zone(infra: Infra) -> None:
    # A 16th 22:30Z resolved (Monday in Berlin); B 16th 23:30Z abandoned (Tuesday in Berlin):
    # abandonment per Berlin day 0 and 1 (in UTC both would be one day at 0.5)
    ds = DataSet()
    ds.interaction("A", start=z("2026-11-16T22:30Z"), end=z("2026-11-16T22:40Z"), channel="phone",
                   reason="billing")
    ds.interaction("B", start=z("2026-11-16T23:30Z"), end=z("2026-11-16T23:40Z"), channel="phone",
                   reason="billing", status="abandoned")
    ds.waste("B", "waiting", "queue", z("2026-11-16T23:30Z"), 60.0)
    store = f"tz_alerts_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(infra.dsn)
    try:
        await stores.create_store(conn, store, 0.85, business_timezone="Europe/Berlin")
        await ds.write(conn, store)
        await stores.install_views(conn, store)
        rates = await queries.read_daily_rates(conn, store)
        inputs, now = await queries.read_inputs(conn, store, rates)
    finally:
        await conn.close()
    assert rates["abandonment_rate"] == [(date(2026, 11, 16), 0.0), (date(2026, 11, 17), 1.0)]
    assert inputs.latest_day == now.astimezone(BERLIN).date() - timedelta(days=1)
