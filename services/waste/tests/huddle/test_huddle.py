"""The daily huddle report on the hand-made two weeks of ../api/dataset.py (figures
worked by hand there): rates per contact against the same weekday, directions, top
costs and worst reasons, as text, Markdown and JSON, in process and through
``python -m leancrm_waste huddle``. Its days have a handful of contacts, so most tests
lower the minimum of contacts to judge to 1 (test_fair_days.py covers the defaults)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from rich.console import Console

from leancrm_devstack.testing import Infra
from leancrm_waste.huddle import cli
from leancrm_waste.huddle.render import render_json, render_markdown, render_text
from leancrm_waste.huddle.report import build_report, compare
from leancrm_waste.read import costs

from ..api.dataset import D, install, point_views_at

pytestmark = pytest.mark.integration
COSTS = dict(costs.DEFAULT_COST_SECONDS)


@pytest.fixture(scope="module")
async def store(infra: Infra) -> AsyncIterator[str]:
    name = f"huddle_{uuid.uuid4().hex[:10]}"
    await install(infra.dsn, name)
    yield name


@pytest.fixture(autouse=True)
async def views_on_this_store(infra: Infra, store: str) -> None:
    await point_views_at(infra.dsn, store)


async def report_of(dsn: str, day: date, **kw: Any) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        figures = await cli.read_figures(conn, day)
    finally:
        await conn.close()
    kw.setdefault("min_contacts", 1)
    kw.setdefault("min_reason_contacts", 1)
    return build_report(figures, kw.pop("costs", COSTS), kw.pop("target", 0.85), **kw)


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


async def test_each_waste_per_contact_against_the_same_weekday(infra: Infra) -> None:
    """D (6 contacts) against the Mondays before it with data: 8 June (4 contacts). Raw
    counts said over_processing "same" and defects "+33 % worse"; per contact both are
    better."""
    r = await report_of(infra.dsn, D)
    assert r["day"] == D and r["has_data"] is True and r["state"] == "ok"
    assert r["comparison"]["days"] == [date(2026, 6, 8)] and r["comparison"]["contacts"] == 4
    w = by(r["wastes"], "waste_type")
    assert list(w) == ["waiting", "overproduction", "over_processing", "motion", "transportation",
                       "defects", "inventory"]
    expected = {  # quantity, day, baseline, direction, verdict
        "waiting": (1500, 250, 25, "up", "worse"),                 # seconds per contact
        "overproduction": (2520, 2520 / 10800, 1260 / 7200, "up", "worse"),  # share of staffed
        "over_processing": (1, 100 / 6, 25, "down", "better"),     # per 100 contacts
        "motion": (0, 0, 25, "down", "better"),
        "transportation": (2, 200 / 6, 0, "up", "worse"),
        "defects": (4, 400 / 6, 75, "down", "better"),             # 3 of 4 on 8 June
        "inventory": (1, 100 / 6, 0, "up", "worse"),               # the complaint that ended after 8 days
    }
    for name, (quantity, value, base, direction, verdict) in expected.items():
        row = w[name]
        assert (row["quantity"], row["value"], row["baseline"]) == (
            quantity, pytest.approx(value), pytest.approx(base)), name
        assert (row["direction"], row["verdict"]) == (direction, verdict), name
    assert w["waiting"]["change"] == 225 and w["waiting"]["change_ratio"] == 9
    assert w["transportation"]["change_ratio"] is None  # no ratio against a zero baseline
    # with the default minimum of 30 contacts, neither D nor its Mondays are judged
    strict = await report_of(infra.dsn, D, min_contacts=30)
    assert strict["state"] == "too few" and strict["comparison"]["days"] == []
    assert {x["verdict"] for x in strict["wastes"]} == {"too few contacts to judge"}


async def test_key_rates_with_what_better_means_for_each(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    rates = by(r["rates"], "rate")
    expected = {
        "fcr_rate": (2 / 6, 0.25, "up", "better"),
        "failure_demand_rate": (2 / 6, 0.25, "up", "worse"),
        "flow_efficiency": (1300 / 3900, 0.375, "down", "worse"),
        "abandonment_rate": (0.0, 0.25, "down", "better"),
        "occupancy": (7200 / 10800, 0.7, "down", "worse"),  # further from 0.85
        "waiting_per_contact_s": (250, 25, "up", "worse"),
    }
    for name, (value, base, direction, assessment) in expected.items():
        row = rates[name]
        assert (row["value"], row["baseline"]) == (pytest.approx(value), pytest.approx(base)), name
        assert (row["direction"], row["verdict"]) == (direction, assessment), name
    # occupancy is judged against the target: with a target of 0.6, 0.667 is closer than 0.7
    low = by((await report_of(infra.dsn, D, target=0.6))["rates"], "rate")
    assert (low["occupancy"]["direction"], low["occupancy"]["verdict"]) == ("down", "better")


async def test_top_three_wastes_by_cost_and_worst_reasons(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    assert r["total_cost_s"] == pytest.approx(6210)
    assert [(t["rank"], t["waste_type"], t["cost_s"]) for t in r["top_wastes_by_cost"]] == [
        (1, "overproduction", pytest.approx(2520)), (2, "waiting", 1500.0), (3, "defects", 1200.0)]
    assert r["top_wastes_by_cost"][0]["share"] == pytest.approx(2520 / 6210)
    # tied on one failure-demand contact each: the higher rate first; baseline 8 June
    assert [(x["reason"], x["failure_demand"], x["contacts"], x["failure_demand_rate"], x["baseline_rate"])
            for x in r["worst_reasons"]] == [("order_status", 1, 2, 0.5, 0.5), ("billing", 1, 4, 0.25, 0.0)]
    assert [x["reason"] for x in (await report_of(infra.dsn, D, top_reasons=1))["worst_reasons"]] == [
        "order_status"]
    # a minimum of 3 contacts keeps order_status (2) out
    three = await report_of(infra.dsn, D, min_reason_contacts=3)
    assert [x["reason"] for x in three["worst_reasons"]] == ["billing"] and three["reasons_left_out"] == 1
    # another cost table reorders the top three
    dear = await report_of(infra.dsn, D, costs={**COSTS, "transportation": 1000.0})
    assert [t["waste_type"] for t in dear["top_wastes_by_cost"]] == [
        "overproduction", "transportation", "waiting"]


async def test_a_stated_baseline(infra: Infra) -> None:
    """8–14 June stated: 28 contacts, waiting 2800 s → 100 s per contact."""
    r = await report_of(infra.dsn, D, baseline=(date(2026, 6, 8), date(2026, 6, 14)))
    assert r["comparison"]["kind"] == "stated" and r["comparison"]["contacts"] == 28
    assert by(r["wastes"], "waste_type")["waiting"]["baseline"] == 100
    empty = await report_of(infra.dsn, date(2020, 1, 1))
    assert empty["has_data"] is False and empty["state"] == "no data"
    assert all(x["direction"] is None and x["verdict"] == "no data" for x in empty["wastes"] + empty["rates"])
    assert empty["top_wastes_by_cost"] == [] and empty["worst_reasons"] == []
    assert "No contacts, waste or staffing recorded on this day." in render_markdown(empty)


def test_compare() -> None:
    assert compare(2, 1, "down") == ("up", "worse")
    assert compare(2, 1, "up") == ("up", "better")
    assert compare(1, 1 + 1e-12, "up") == ("same", "same")
    assert compare(None, 1, "up") == (None, None) and compare(1, None, "down") == (None, None)
    assert compare(0.9, 0.7, "target", 0.85) == ("up", "better")
    assert compare(0.99, 0.8, "target", 0.85) == ("up", "worse")


async def test_markdown_and_text_read_as_the_figures(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    md = render_markdown(r)
    assert md.startswith("# Huddle — Monday 15 June 2026 (UTC)\n")
    for line in (
        "| waiting | customers held in a queue or on hold | 25.0 min | 4.2 min per contact | "
        "25 s per contact | +3.8 min (+900 %) | ▲ worse |",
        "| over_processing | customers asked to identify again | 1 | 16.7 per 100 | 25.0 per 100 | "
        "−8.3 (−33 %) | ▼ better |",
        "| motion | contacts handed on to another agent | 0 | 0.0 per 100 | 25.0 per 100 | −25.0 (−100 %) "
        "| ▼ better |",
        "| transportation | contacts moved to another channel | 2 | 33.3 per 100 | 0.0 per 100 | +33.3 "
        "| ▲ worse |",
        # signals: XmR over 7–15 June (9 days, all in the baseline): FCR 0.5, 0.25 × 7, 1/3 →
        # limits 0.287 ± 0.111; abandonment 0.5, 0.25 × 7, 0 → 0.25 ± 0.166, so D's 0 is outside
        "| First contact resolution | 33.3 % | 2 of 6 contacts | 25.0 % | +8.3 pp | within normal variation "
        "| higher |",
        "| Abandonment | 0.0 % | 0 of 6 contacts | 25.0 % | −25.0 pp | signal, better (a point outside the "
        "limits) | lower |",
        # occupancy 0, 0.7 × 7, 2/3: centre 0.619, and 8–15 June are 8 points above it
        "| Occupancy | 66.7 % | 2.0 h of 3.0 h staffed | 70.0 % | −3.3 pp | signal, better (8 points in a "
        "row on one side of the centre) | closer to the target 85 % |",
        "1. **overproduction** — 42.0 min (40.6 % of the day's 1.7 h): 2,520 s measured",
        "2. **waiting** — 25.0 min (24.2 % of the day's 1.7 h): 1,500 s measured",
        "3. **defects** — 20.0 min (19.3 % of the day's 1.7 h): 4 × 300 s",
        "| order_status | 1 | 2 | 50.0 % | 50.0 % |",
        "| billing | 1 | 4 | 25.0 % | 0.0 % |",
    ):
        assert line in md.splitlines(), line
    out = io.StringIO()
    render_text(r, Console(file=out, width=220, color_system=None))
    text = out.getvalue()
    lines = text.splitlines()

    def line_of(*words: str) -> str:
        found = [ln for ln in lines if all(w in ln for w in words)]
        assert len(found) == 1, (words, text)
        return found[0]

    assert "Huddle — Monday 15 June 2026 (UTC)" in text and "Contacts: 6." in text
    line_of("waiting", "25.0 min", "4.2 min per contact", "+3.8 min (+900 %)", "▲ worse")
    line_of("motion", "−25.0 (−100 %)", "▼ better")
    line_of("First contact resolution", "33.3 %", "25.0 %", "within normal variation")
    line_of("Occupancy", "66.7 %", "70.0 %", "signal, better", "closer to the target 85 %")
    line_of("1", "overproduction", "42.0 min", "40.6 %")
    line_of("order_status", "50.0 %")
    assert json.loads(render_json(r))["wastes"][0]["quantity"] == 1500.0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leancrm_waste", "huddle", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_the_command_prints_json_markdown_and_text(infra: Infra) -> None:
    env = {"LEANCRM_DATABASE_URL": infra.dsn, "COLUMNS": "200"}
    out = run_cli("--day", "2026-06-15", "--format", "json", "--min-contacts", "1", env=env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["day"] == "2026-06-15" and body["comparison"]["days"] == ["2026-06-08"]
    assert [(w["waste_type"], w["verdict"]) for w in body["wastes"]] == [
        ("waiting", "worse"), ("overproduction", "worse"), ("over_processing", "better"),
        ("motion", "better"), ("transportation", "worse"), ("defects", "better"), ("inventory", "worse")]
    assert [t["waste_type"] for t in body["top_wastes_by_cost"]] == ["overproduction", "waiting", "defects"]
    assert {c["waste_type"]: c["seconds_per_unit"] for c in body["cost_table"]}["over_processing"] == 30

    md = run_cli("--day", "2026-06-15", "--format", "markdown", env=env)
    assert md.returncode == 0
    assert "| motion | contacts handed on to another agent | 0 | 0.0 per 100 |" in md.stdout
    assert "Too few contacts to judge: 6 (fewer than 30)" in md.stdout

    text = run_cli("--day", "2026-06-15", env=env)
    assert text.returncode == 0 and "Top three wastes by cost" in text.stdout
    assert any("defects" in ln and "4 × 300 s" in ln for ln in text.stdout.splitlines())

    costly = run_cli("--day", "2026-06-15", "-f", "json", "--cost", "transportation=1000",
                     env={**env, "LEANCRM_WASTE_COST_SECONDS": "over_processing=45"})
    body = json.loads(costly.stdout)
    assert body["cost_seconds"]["transportation"] == 1000 and body["cost_seconds"]["over_processing"] == 45
    assert [t["waste_type"] for t in body["top_wastes_by_cost"]][:2] == ["overproduction", "transportation"]


def test_the_day_defaults_to_yesterday_utc(infra: Infra) -> None:
    out = run_cli("--format", "json", env={"LEANCRM_DATABASE_URL": infra.dsn})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["day"] == cli.yesterday(datetime.now(UTC)).isoformat()


def test_bad_options_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEANCRM_DATABASE_URL", raising=False)
    bad_day = run_cli("--day", "2026-13-01", env={"LEANCRM_DATABASE_URL": "postgresql://unused"})
    assert bad_day.returncode == 2 and "not a date YYYY-MM-DD: no such day" in bad_day.stderr
    bad_cost = run_cli("--day", "2026-06-15", "--cost", "waiting=2")
    assert bad_cost.returncode == 2 and "waiting is measured in seconds already" in bad_cost.stderr
    no_db = run_cli("--day", "2026-06-15")
    assert no_db.returncode == 2 and "LEANCRM_DATABASE_URL is not set" in no_db.stderr
    assert cli.main(["--day", "15/06/2026"]) == 2
    assert cli.main(["--format", "pdf"]) == 2
    # a baseline so far from the day that the report would read centuries: refused, no traceback
    far = run_cli("--day", "2199-12-31", "--baseline", "1970-01-01:1970-01-05",
                  env={"LEANCRM_DATABASE_URL": "postgresql://unused"})
    assert far.returncode == 2 and "keep the baseline within" in far.stderr, far.stderr
