"""The daily huddle report on the hand-made two weeks of ../api/dataset.py (figures
worked by hand there): numbers, directions, top costs and worst reasons, as text,
Markdown and JSON, in process and through ``python -m leancrm_waste huddle``."""

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
from leancrm_waste.read import costs, views

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
        figures = await views.huddle_figures(conn, day)
    finally:
        await conn.close()
    return build_report(figures, kw.pop("costs", COSTS), kw.pop("target", 0.85), **kw)


def by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in rows}


async def test_each_waste_against_the_previous_seven_days(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    assert r["day"] == D and r["has_data"] is True
    assert r["baseline"]["from"] == date(2026, 6, 8) and r["baseline"]["to"] == date(2026, 6, 14)
    assert r["baseline"]["days_with_data"] == 7
    w = by(r["wastes"], "waste_type")
    assert list(w) == ["waiting", "overproduction", "over_processing", "motion", "transportation",
                       "defects", "inventory"]
    expected = {  # day, 7-day average, direction, assessment
        "waiting": (1500, 400, "up", "worse"),           # 100..700 s → 400 average; 7 June's 100,000 s is out
        "overproduction": (2520, 1260, "up", "worse"),
        "over_processing": (1, 1, "same", "same"),
        "motion": (0, 1, "down", "better"),
        "transportation": (2, 0, "up", "worse"),
        "defects": (4, 3, "up", "worse"),                # two repeat_contact rows on the day
        "inventory": (1, 0, "up", "worse"),              # the complaint that ended after 8 days
    }
    for name, (value, base, direction, assessment) in expected.items():
        row = w[name]
        assert (row["value"], row["baseline"]) == (pytest.approx(value), pytest.approx(base)), name
        assert (row["direction"], row["assessment"], row["baseline_days"]) == (direction, assessment, 7), name
    assert w["waiting"]["change"] == 1100 and w["waiting"]["change_ratio"] == 2.75
    assert w["transportation"]["change_ratio"] is None  # no ratio against a zero average


async def test_key_rates_with_what_better_means_for_each(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    rates = by(r["rates"], "rate")
    expected = {
        "fcr_rate": (2 / 6, 0.25, "up", "better"),
        "failure_demand_rate": (2 / 6, 0.25, "up", "worse"),
        "flow_efficiency": (1300 / 3900, 0.375, "down", "worse"),
        "abandonment_rate": (0.0, 0.25, "down", "better"),
        "occupancy": (7200 / 10800, 0.7, "down", "worse"),  # further from 0.85
    }
    for name, (value, base, direction, assessment) in expected.items():
        row = rates[name]
        assert (row["value"], row["baseline"]) == (pytest.approx(value), pytest.approx(base)), name
        assert (row["direction"], row["assessment"]) == (direction, assessment), name
    # occupancy is judged against the target: with a target of 0.6, 0.667 is closer than 0.7
    low = by((await report_of(infra.dsn, D, target=0.6))["rates"], "rate")
    assert (low["occupancy"]["direction"], low["occupancy"]["assessment"]) == ("down", "better")


async def test_top_three_wastes_by_cost_and_worst_reasons(infra: Infra) -> None:
    r = await report_of(infra.dsn, D)
    assert r["total_cost_s"] == pytest.approx(6210)
    assert [(t["rank"], t["waste_type"], t["cost_s"]) for t in r["top_wastes_by_cost"]] == [
        (1, "overproduction", pytest.approx(2520)), (2, "waiting", 1500.0), (3, "defects", 1200.0)]
    assert r["top_wastes_by_cost"][0]["share"] == pytest.approx(2520 / 6210)
    # tied on one failure-demand contact each: the higher rate first
    assert [(x["reason"], x["failure_demand"], x["contacts"], x["failure_demand_rate"], x["baseline_rate"])
            for x in r["worst_reasons"]] == [("order_status", 1, 2, 0.5, 0.5), ("billing", 1, 4, 0.25, 0.0)]
    assert [x["reason"] for x in (await report_of(infra.dsn, D, top_reasons=1))["worst_reasons"]] == [
        "order_status"]
    # another cost table reorders the top three
    dear = await report_of(infra.dsn, D, costs={**COSTS, "transportation": 1000.0})
    assert [t["waste_type"] for t in dear["top_wastes_by_cost"]] == [
        "overproduction", "transportation", "waiting"]


async def test_the_average_is_over_the_days_with_data(infra: Infra) -> None:
    """8 June: of 1–7 June only the 7th has data (100,000 s of waiting, 3060 s overproduction)."""
    r = await report_of(infra.dsn, date(2026, 6, 8))
    assert r["baseline"]["days_with_data"] == 1 and r["baseline"]["days"] == [date(2026, 6, 7)]
    w = by(r["wastes"], "waste_type")
    waiting = w["waiting"]
    assert (waiting["value"], waiting["baseline"], waiting["assessment"]) == (100, 100000, "better")
    assert w["overproduction"]["baseline"] == pytest.approx(3600 - 0.15 * 3600)
    rates = by(r["rates"], "rate")
    assert rates["abandonment_rate"]["baseline"] == 0.5 and rates["fcr_rate"]["baseline"] == 0.5
    empty = await report_of(infra.dsn, date(2020, 1, 1))
    assert empty["has_data"] is False and empty["baseline"]["days_with_data"] == 0
    assert all(x["direction"] is None and x["assessment"] is None for x in empty["wastes"] + empty["rates"])
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
        "| waiting | customers held in a queue or on hold | 25.0 min | 6.7 min | +18.3 min (+275 %) "
        "| ▲ worse |",
        "| over_processing | customers asked to identify again | 1 | 1 | ±0 (±0 %) | = same |",
        "| motion | contacts handed on to another agent | 0 | 1 | −1 (−100 %) | ▼ better |",
        "| transportation | contacts moved to another channel | 2 | 0 | +2 | ▲ worse |",
        "| First contact resolution | 33.3 % | 25.0 % | +8.3 pp | ▲ better | higher |",
        "| Failure demand | 33.3 % | 25.0 % | +8.3 pp | ▲ worse | lower |",
        "| Flow efficiency | 33.3 % | 37.5 % | −4.2 pp | ▼ worse | higher |",
        "| Abandonment | 0.0 % | 25.0 % | −25.0 pp | ▼ better | lower |",
        "| Occupancy | 66.7 % | 70.0 % | −3.3 pp | ▼ worse | closer to 0.85 |",
        "1. **overproduction** — 42.0 min (40.6 % of the day's 1.7 h): 2,520 s measured",
        "2. **waiting** — 25.0 min (24.2 % of the day's 1.7 h): 1,500 s measured",
        "3. **defects** — 20.0 min (19.3 % of the day's 1.7 h): 4 × 300 s",
        "| order_status | 1 | 2 | 50.0 % | 50.0 % |",
        "| billing | 1 | 4 | 25.0 % | 0.0 % |",
    ):
        assert line in md.splitlines(), line
    out = io.StringIO()
    render_text(r, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    lines = text.splitlines()

    def line_of(*words: str) -> str:
        found = [ln for ln in lines if all(w in ln for w in words)]
        assert len(found) == 1, (words, text)
        return found[0]

    assert "Huddle — Monday 15 June 2026 (UTC)" in text
    line_of("waiting", "25.0 min", "6.7 min", "+18.3 min (+275 %)", "▲ worse")
    line_of("motion", "−1 (−100 %)", "▼ better")
    line_of("First contact resolution", "33.3 %", "25.0 %", "▲ better")
    line_of("Occupancy", "66.7 %", "70.0 %", "▼ worse", "closer to 0.85")
    line_of("1", "overproduction", "42.0 min", "40.6 %")
    line_of("order_status", "50.0 %")
    assert json.loads(render_json(r))["wastes"][0]["value"] == 1500.0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "leancrm_waste", "huddle", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})}, check=False)


def test_the_command_prints_json_markdown_and_text(infra: Infra) -> None:
    env = {"LEANCRM_DATABASE_URL": infra.dsn, "COLUMNS": "200"}
    out = run_cli("--day", "2026-06-15", "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["day"] == "2026-06-15" and body["baseline"]["days_with_data"] == 7
    assert [(w["waste_type"], w["direction"], w["assessment"]) for w in body["wastes"]] == [
        ("waiting", "up", "worse"), ("overproduction", "up", "worse"), ("over_processing", "same", "same"),
        ("motion", "down", "better"), ("transportation", "up", "worse"), ("defects", "up", "worse"),
        ("inventory", "up", "worse")]
    assert [t["waste_type"] for t in body["top_wastes_by_cost"]] == ["overproduction", "waiting", "defects"]
    assert {c["waste_type"]: c["seconds_per_unit"] for c in body["cost_table"]}["over_processing"] == 30

    md = run_cli("--day", "2026-06-15", "--format", "markdown", env=env)
    assert md.returncode == 0 and "| motion | contacts handed on to another agent | 0 | 1 |" in md.stdout

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
