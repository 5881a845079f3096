"""The dashboard in headless Chromium against real data: three fixed simulated
days, turned into events by the services' own deciders and projected by the waste
projector's own code, served by uvicorn on a free port behind the operations tokens.
Given a token once (in the address: ``#token=...``), every chart must report
``data-drawn="true"``; without one the page asks for it and draws nothing; a token
without ``waste:read`` is shown as an error naming the scope.

Needs Debian's chromium (``apt-get update && apt-get install -y chromium``); the test
skips, saying so, when /usr/bin/chromium is absent. Set LEANCRM_DASHBOARD_SCREENSHOT
to a path to keep the screenshot it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest

from leancrm_devstack.testing import Infra, wait_until
from leancrm_servicekit.auth import METRICS_READ, WASTE_READ, Guard, TokenSource, new_token, token_sha256
from leancrm_servicekit.http import HttpServer
from leancrm_servicekit.inbound import InboundRecord
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.offline import offline_events
from leancrm_simulator.scenario import generate
from leancrm_waste.projection import stores
from leancrm_waste.projection.apply import WasteApplier
from leancrm_waste.projection.writes import WasteStore
from leancrm_waste.read.api import api_routes

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = Path(os.environ.get("LEANCRM_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = CHROMIUM.exists()
CHARTS = ("pareto", "flow_efficiency", "fcr_failure_demand", "occupancy", "overproduction", "backlog",
          "sentiment",
          # issue 14, static/service_level.js
          "service_level", "demand_by_type", "lead_times")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


@dataclass
class Service:
    api_pool: asyncpg.Pool | None
    consumer: None = None


VIEWER, SCRAPER = new_token(), new_token()
GUARD = Guard(TokenSource(json.dumps([
    {"name": "viewer", "sha256": token_sha256(VIEWER), "scopes": [WASTE_READ]},
    {"name": "scraper", "sha256": token_sha256(SCRAPER), "scopes": [METRICS_READ]}])), "leancrm-waste")


#: Fixed simulated days (Monday to Wednesday), shown by the dashboard through its
#: ``from``/``to`` parameters: what the test sees never depends on the date it runs on.
START = date(2026, 11, 23)
DAYS = 3


async def project_simulated_days(dsn: str, store: str, days: int = DAYS) -> int:
    """The simulator's ``days`` from START through the real projector code."""
    start = START
    knobs = Knobs(customers=120, days=days, start=start, agents_per_team=2, feedback_rate=0.5,
                  email_backlog=0.3, seed=11)
    events = list(offline_events(generate(knobs)))
    records = [InboundRecord(e.topic, 0, i, e.key, e.value, e.headers) for i, e in enumerate(events)]
    applier = WasteApplier(WasteStore(store))
    conn = await asyncpg.connect(dsn)
    try:
        await stores.create_store(conn, store, 0.85)
        for i in range(0, len(records), 2000):
            async with conn.transaction():
                dead = await applier(conn, records[i:i + 2000])
                assert not dead, dead[:1]
        await stores.install_views(conn, store)
    finally:
        await conn.close()
    return len(records)


@pytest.fixture
async def dashboard_url(infra: Infra) -> AsyncIterator[str]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium "
                    "(apt-get update && apt-get install -y chromium) to run the browser test")
    store = f"browser_{uuid.uuid4().hex[:10]}"
    applied = await project_simulated_days(infra.dsn, store)
    assert applied > 1000
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=4)
    server = HttpServer(api_routes(Service(pool), guard=GUARD), "127.0.0.1", 0)
    await server.start()
    try:
        end = START + timedelta(days=DAYS)
        yield f"http://127.0.0.1:{server.port}/dashboard?from={START.isoformat()}&to={end.isoformat()}"
    finally:
        await server.stop()
        await pool.close()


async def chromium(*args: str, timeout_s: float = 90) -> str:
    """Run headless Chromium with a fresh profile; its stdout. Runs beside the event loop
    so the server in this process keeps answering."""
    profile = tempfile.mkdtemp(prefix="leancrm-chromium-")
    try:
        proc = await asyncio.create_subprocess_exec(
            str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
        return out.decode(errors="replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def chart_states(dom: str) -> dict[str, tuple[str, int]]:
    out = {}
    for tag in re.findall(r"<figure\b[^>]*>", dom):
        name = re.search(r'data-chart="([^"]+)"', tag)
        drawn = re.search(r'data-drawn="([^"]+)"', tag)
        points = re.search(r'data-points="(\d+)"', tag)
        if name:
            out[name.group(1)] = (drawn.group(1) if drawn else "", int(points.group(1)) if points else 0)
    return out


def body_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<body\b[^>]*>", dom)
    assert tag, dom[:2000]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group()))


def status_text(dom: str) -> str:
    found = re.search(r'<p id="status"[^>]*>(.*?)</p>', dom, re.S)
    return html.unescape(found.group(1)) if found else ""


def token_form_shown(dom: str) -> bool:
    tag = re.search(r'<form id="token-form"[^>]*>', dom)
    assert tag, dom[:2000]
    return "hidden" not in tag.group()


async def test_every_chart_is_drawn_from_real_data(dashboard_url: str, tmp_path: Path) -> None:
    states: dict[str, tuple[str, int]] = {}
    dom = ""
    with_token = f"{dashboard_url}#token={VIEWER}"  # given once; the page keeps it in the tab

    async def all_drawn() -> bool:
        nonlocal states, dom
        dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                             with_token)
        assert body_attributes(dom).get("data-auth") != "refused", status_text(dom)
        states = chart_states(dom)
        return set(states) == set(CHARTS) and all(s == "true" for s, _ in states.values())

    await wait_until(all_drawn, timeout_s=180, interval_s=1, what="every chart drawn")
    assert body_attributes(dom)["data-auth"] == "ok" and not token_form_shown(dom)
    assert all(points > 0 for _, points in states.values()), states
    assert states["pareto"][1] >= 3  # several wastes with a cost

    shot = tmp_path / "dashboard.png"
    with contextlib.suppress(FileNotFoundError):
        shot.unlink()
    await chromium(f"--screenshot={shot}", "--virtual-time-budget=10000", "--window-size=1400,2900",
                   with_token)
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("LEANCRM_DASHBOARD_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


async def test_without_a_token_the_page_asks_for_one_and_draws_nothing(dashboard_url: str) -> None:
    dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                         dashboard_url)
    assert body_attributes(dom).get("data-auth") == "needed", status_text(dom)
    assert token_form_shown(dom)
    assert status_text(dom) == "Enter an operations token (scope waste:read) to see the figures."
    states = chart_states(dom)
    assert set(states) == set(CHARTS) and all(s == "false" and p == 0 for s, p in states.values()), states


async def test_a_refused_token_is_asked_for_again_and_a_missing_scope_is_named(dashboard_url: str) -> None:
    dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                         f"{dashboard_url}#token={SCRAPER}")
    assert body_attributes(dom).get("data-auth") == "forbidden", status_text(dom)
    assert status_text(dom).startswith("Not allowed: the token 'scraper' lacks the scope waste:read")
    assert token_form_shown(dom)
    assert all(s == "false" for s, _ in chart_states(dom).values())

    dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                         f"{dashboard_url}#token={new_token()}")
    assert body_attributes(dom).get("data-auth") == "refused", status_text(dom)
    assert status_text(dom).startswith("The token was refused: the bearer token is not one this "
                                       "service knows (unknown or revoked)")
    assert token_form_shown(dom)
    assert all(s == "false" for s, _ in chart_states(dom).values())


SIGNAL_RATES = ("fcr_rate", "failure_demand_rate", "flow_efficiency", "abandonment_rate", "occupancy",
                "waiting_per_contact_s", "service_level")
#: days the signals' test projects: enough for limits (6 baseline days at least)
SIGNAL_DAYS = 8


def signal_states(dom: str) -> dict[str, dict[str, str]]:
    """Per <figure data-signal=rate>: its data- attributes, and how many limit and centre
    lines and signal points its SVG holds."""
    out = {}
    for m in re.finditer(r'<figure\b([^>]*data-signal="([^"]+)"[^>]*)>(.*?)</figure>', dom, re.S):
        attrs = dict(re.findall(r'(data-[\w-]+)="([^"]*)"', m.group(1)))
        body = m.group(3)
        attrs["limit_lines"] = str(len(re.findall(r'<line[^>]*class="limit ', body)))
        attrs["centre_lines"] = str(len(re.findall(r'<line[^>]*class="centre"', body)))
        attrs["signal_points"] = str(len(re.findall(r'<circle[^>]*class="point signal', body)))
        attrs["unfinished_points"] = str(len(re.findall(r'<circle[^>]*class="point[^"]* unfinished"', body)))
        out[m.group(2)] = attrs
    return out


@pytest.fixture
async def signals_url(infra: Infra) -> AsyncIterator[str]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium "
                    "(apt-get update && apt-get install -y chromium) to run the browser test")
    store = f"browser_signals_{uuid.uuid4().hex[:10]}"
    await project_simulated_days(infra.dsn, store, SIGNAL_DAYS)
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=4)
    server = HttpServer(api_routes(Service(pool), guard=GUARD), "127.0.0.1", 0)
    await server.start()
    try:
        end = START + timedelta(days=SIGNAL_DAYS)
        # a small simulated population: a day with 5 contacts has a value on the charts
        yield (f"http://127.0.0.1:{server.port}/dashboard?from={START.isoformat()}&to={end.isoformat()}"
               "&min_contacts=5")
    finally:
        await server.stop()
        await pool.close()


async def test_the_signal_charts_are_drawn_with_their_limits(signals_url: str) -> None:
    states: dict[str, dict[str, str]] = {}
    dom = ""

    async def drawn() -> bool:
        nonlocal states, dom
        dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                             f"{signals_url}#token={VIEWER}")
        states = signal_states(dom)
        return set(states) == set(SIGNAL_RATES) and all(
            s.get("data-drawn") == "true" for r, s in states.items())

    await wait_until(drawn, timeout_s=180, interval_s=1, what="every signal chart drawn")
    for rate, s in states.items():
        assert int(s["data-points"]) >= 6, (rate, s)
        assert s["data-limits"] == "true", (rate, s)
        assert (s["limit_lines"], s["centre_lines"]) == ("2", "1"), (rate, s)
        assert s["signal_points"] == s["data-signals"], (rate, s)
    assert "Signals, not noise" in dom
    # the last simulated day's emails are still queued: its points are marked not finished
    assert all(s["unfinished_points"] != "0" for s in states.values()), states
    assert "day not finished" in dom
    banner = re.search(r'<p id="unfinished"[^>]*data-open="(\d+)"[^>]*>(.*?)</p>', dom, re.S)
    assert banner and int(banner.group(1)) > 0, dom[:3000]
    assert html.unescape(banner.group(2)).startswith(f"Not finished: {banner.group(1)} contact")
    keep = os.environ.get("LEANCRM_SIGNALS_SCREENSHOT")
    if keep:
        await chromium(f"--screenshot={keep}", "--virtual-time-budget=10000", "--window-size=1400,3600",
                       f"{signals_url}#token={VIEWER}")
