"""The dashboard in headless Chromium against real data: three fixed simulated
days, turned into events by the services' own deciders and projected by the waste
projector's own code, served by uvicorn on a free port. Every chart must report
``data-drawn="true"``.

Needs Debian's chromium (``apt-get update && apt-get install -y chromium``); the test
skips, saying so, when /usr/bin/chromium is absent. Set LEANCRM_DASHBOARD_SCREENSHOT
to a path to keep the screenshot it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
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
          "sentiment")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


@dataclass
class Service:
    pool: asyncpg.Pool | None
    consumer: None = None


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
    server = HttpServer(api_routes(Service(pool)), "127.0.0.1", 0)
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


async def test_every_chart_is_drawn_from_real_data(dashboard_url: str, tmp_path: Path) -> None:
    states: dict[str, tuple[str, int]] = {}

    async def all_drawn() -> bool:
        nonlocal states
        dom = await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000",
                             dashboard_url)
        states = chart_states(dom)
        return set(states) == set(CHARTS) and all(s == "true" for s, _ in states.values())

    await wait_until(all_drawn, timeout_s=180, interval_s=1, what="every chart drawn")
    assert all(points > 0 for _, points in states.values()), states
    assert states["pareto"][1] >= 3  # several wastes with a cost

    shot = tmp_path / "dashboard.png"
    with contextlib.suppress(FileNotFoundError):
        shot.unlink()
    await chromium(f"--screenshot={shot}", "--virtual-time-budget=10000", "--window-size=1400,2900",
                   dashboard_url)
    assert shot.exists() and shot.stat().st_size > 20_000
    keep = os.environ.get("LEANCRM_DASHBOARD_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
