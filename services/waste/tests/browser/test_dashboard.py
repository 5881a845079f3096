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
from typing import Any
from zoneinfo import ZoneInfo

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


async def project_simulated_days(dsn: str, store: str, days: int = DAYS, zone: str = "UTC") -> int:
    """The simulator's ``days`` from START through the real projector code."""
    start = START
    knobs = Knobs(customers=120, days=days, start=start, agents_per_team=2, feedback_rate=0.5,
                  email_backlog=0.3, seed=11, improvements=True)  # three start on day 2
    events = list(offline_events(generate(knobs)))
    records = [InboundRecord(e.topic, 0, i, e.key, e.value, e.headers) for i, e in enumerate(events)]
    applier = WasteApplier(WasteStore(store))
    conn = await asyncpg.connect(dsn)
    try:
        await stores.create_store(conn, store, 0.85, business_timezone=zone)
        for i in range(0, len(records), 2000):
            async with conn.transaction():
                dead = await applier(conn, records[i:i + 2000])
                assert not dead, dead[:1]
        await stores.install_views(conn, store)
    finally:
        await conn.close()
    return len(records)


@pytest.fixture(scope="module")
async def dashboard_url(infra: Infra) -> AsyncIterator[str]:
    """One projected store and API server for the module's tests: they only read it."""
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


def figure(dom: str, name: str) -> tuple[dict[str, str], str]:
    """The data- attributes and the inside of <figure data-chart=name>."""
    m = re.search(rf'<figure\b([^>]*data-chart="{name}"[^>]*)>(.*?)</figure>', dom, re.S)
    assert m, name
    return dict(re.findall(r'(data-[\w-]+)="([^"]*)"', m.group(1))), m.group(2)


def note_of(body: str) -> str:
    m = re.search(r'<p class="note">(.*?)</p>', body, re.S)
    return m.group(1) if m else ""


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
    # a count axis has whole-number ticks only (not 6.3, 12.5)
    backlog = figures(dom)["backlog"]
    axis = re.search(r'<g class="axis">(.*?)</g>', backlog)
    assert axis
    ticks = re.findall(r"<text[^>]*>([^<]*)</text>", axis.group(1))
    assert ticks and all(re.fullmatch(r"[0-9,]+", t) for t in ticks), ticks
    # the occupancy legend's target is above the scale, not printed over "100 %"
    occupancy = figures(dom)["occupancy"]
    target_y = re.search(r'<text[^>]*y="([0-9.]+)"[^>]*class="small target"', occupancy)
    hundred_y = re.search(r'<text[^>]*y="([0-9.]+)"[^>]*>100 %</text>', occupancy)
    assert target_y and hundred_y and float(target_y.group(1)) + 12 < float(hundred_y.group(1))
    # each improvement's start marked on the two trend charts (flow efficiency, FCR)
    # (the signal charts below mark them too: test_the_signal_charts_are_drawn_with_their_limits)
    charts = "".join(re.findall(r'<figure\b[^>]*data-chart="[^"]+"[^>]*>.*?</figure>', dom, re.S))
    assert len(re.findall(r'class="improvement-start"', charts)) == 2 * 3, "improvement starts not marked"

    # demand and lead times cover the whole period of the address (contract section 6.2),
    # not each reason's latest day: every reason with contacts ended in it has its three
    # percentiles drawn, and the period's histogram its five buckets
    period = {"data-from": f"{START.isoformat()}T00:00:00.000Z",
              "data-to": f"{(START + timedelta(days=DAYS)).isoformat()}T00:00:00.000Z"}
    last = (START + timedelta(days=DAYS - 1)).isoformat()
    for name, words in (("demand_by_type", f"Started {START.isoformat()} to {last}: "),
                        ("lead_times", f"Contacts ended {START.isoformat()} to {last}: ")):
        attrs, body = figure(dom, name)
        assert {k: attrs.get(k) for k in period} == period, (name, attrs)
        assert int(attrs["data-reasons"]) >= 2, (name, attrs)
        assert html.unescape(note_of(body)).startswith(words), (name, note_of(body))
    attrs, body = figure(dom, "lead_times")
    reasons = int(attrs["data-reasons"])
    assert int(attrs["data-points"]) == 3 * reasons
    assert len(re.findall(r'<circle[^>]*class="percentile ', body)) == 3 * (reasons + 1)  # and all reasons
    assert len(re.findall(r'<rect[^>]*class="bucket"', body)) == 5
    attrs, body = figure(dom, "demand_by_type")
    assert len(re.findall(r'<rect[^>]*class="failure-demand"', body)) == int(attrs["data-reasons"])

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


async def dump(url: str) -> str:
    return await chromium("--dump-dom", "--virtual-time-budget=10000", "--window-size=1400,1000", url)


def figures(dom: str) -> dict[str, str]:
    """Each chart's whole <figure> as drawn (its SVG, its notes)."""
    return {m.group(1): m.group(0) for m in
            re.finditer(r'<figure\b[^>]*data-chart="([^"]+)"[^>]*>.*?</figure>', dom, re.S)}


def not_by(figure: str) -> set[str]:
    tag = re.match(r"<figure\b[^>]*>", figure)
    assert tag
    found = re.search(r'data-not-by="([^"]*)"', tag.group())
    return set(found.group(1).split()) if found else set()


def filter_chips(dom: str) -> dict[str, str]:
    return {k: html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in
            re.findall(r'<span class="chip" data-filter="([^"]+)">(.*?)</span>', dom, re.S)}


async def test_each_filter_changes_every_chart_or_the_chart_says_why_not(dashboard_url: str) -> None:
    base_dom = ""

    async def drawn() -> bool:
        nonlocal base_dom
        base_dom = await dump(f"{dashboard_url}#token={VIEWER}")
        return all(s == "true" for s, _ in chart_states(base_dom).values())

    await wait_until(drawn, timeout_s=180, interval_s=1, what="every chart drawn")
    base = figures(base_dom)
    assert set(base) == set(CHARTS)
    assert set(filter_chips(base_dom)) == {"period"}
    one_day = (START + timedelta(days=1)).isoformat()
    cases = {
        "channel": ("&channel=email", "channel", "email"),
        "reason": ("&reason=billing", "reason", "billing"),
        "team": ("&team=digital", "team", "digital"),
        "period": (f"&to={one_day}", "period", f"{START.isoformat()} to {one_day}"),
    }
    for name, (extra, chip, shown) in cases.items():
        url = (dashboard_url.replace(f"&to={(START + timedelta(days=DAYS)).isoformat()}", "")
               if name == "period" else dashboard_url)
        dom = await dump(f"{url}{extra}#token={VIEWER}")
        assert body_attributes(dom).get("data-loaded") == "true", status_text(dom)
        assert shown in filter_chips(dom).get(chip, ""), (name, filter_chips(dom))
        got = figures(dom)
        for chart in CHARTS:
            changed = got[chart] != base[chart]
            said = name in not_by(got[chart]) or any(k.endswith(":" + name) for k in not_by(got[chart]))
            assert changed or said, f"{chart} with {name}: neither changed nor says why not"
            if said and not changed:
                assert "not by " in html.unescape(got[chart]).lower(), chart
    # the signal charts (over every reason) say so when a reason is asked for
    billing = await dump(f"{dashboard_url}&reason=billing#token={VIEWER}")
    signals = re.search(r'<section id="signals"[^>]*data-not-by="([^"]*)"', billing)
    assert signals and signals.group(1) == "reason", billing[:2000]
    assert "Not by reason: the signals are the key rates over every reason." in html.unescape(billing)
    # the Pareto says overproduction cannot be cut by channel rather than showing 0 s
    email = figures(await dump(f"{dashboard_url}&channel=email#token={VIEWER}"))
    assert "overproduction:channel" in not_by(email["pareto"])
    assert "Not by channel: overproduction is counted per team-hour" in html.unescape(email["pareto"])
    assert "not-applicable" in email["pareto"]


async def test_an_unknown_filter_value_is_shown_as_an_error_and_not_retried(dashboard_url: str) -> None:
    for extra, message in (("&channel=fax", "channel: unknown channel 'fax' (one of phone, chat"),
                           ("&team=nonexistent_team", "team: unknown team 'nonexistent_team' (known: "
                                                      "billing_team, customer_service, digital")):
        dom = await dump(f"{dashboard_url}{extra}#token={VIEWER}")
        body = body_attributes(dom)
        assert body.get("data-error") == "bad_request" and body.get("data-auth") != "ok", status_text(dom)
        assert status_text(dom).startswith("The figures cannot be shown: " + message), status_text(dom)
        assert "Retrying" not in status_text(dom)
        assert all(s == "false" for s, _ in chart_states(dom).values())


async def test_a_waste_picked_on_the_pareto_is_broken_down_by_channel_reason_and_team(
        dashboard_url: str) -> None:
    dom = ""

    async def loaded() -> bool:
        nonlocal dom
        dom = await dump(f"{dashboard_url}&breakdown=waiting#token={VIEWER}")
        tag = re.search(r'<section id="breakdown"[^>]*>', dom)
        return tag is not None and 'data-loaded="true"' in tag.group()

    await wait_until(loaded, timeout_s=120, interval_s=1, what="the breakdown drawn")
    panel = re.search(r'<section id="breakdown".*?</section>', dom, re.S)
    assert panel and 'data-waste="waiting"' in panel.group() and " hidden" not in panel.group()[:120]
    cols = dict(re.findall(r'<div data-by="(\w+)"[^>]*data-rows="(\d+)"', panel.group()))
    assert set(cols) == {"channel", "reason", "team"} and all(int(n) > 0 for n in cols.values()), cols
    assert "Where to act: waiting by channel, reason and team" in panel.group()
    # every bar of the Pareto is the button that opens it
    pareto = figures(dom)["pareto"]
    assert len(re.findall(r'<rect\b[^>]*role="button"[^>]*data-waste="', pareto)) >= 3
    assert re.search(r'class="pick picked"[^>]*data-waste="waiting"', pareto)
    # overproduction cannot be cut by channel or reason: its panel says so
    over = await dump(f"{dashboard_url}&breakdown=overproduction#token={VIEWER}")
    panel = re.search(r'<section id="breakdown".*?</section>', over, re.S)
    assert panel and "Not by channel: overproduction is counted per team-hour." in panel.group()


async def test_yesterday_is_a_period_of_the_page(dashboard_url: str) -> None:
    from datetime import UTC, datetime

    today = datetime.now(UTC).date()
    plain = dashboard_url.split("?")[0]
    dom = await dump(f"{plain}?days=yesterday#token={VIEWER}")
    assert body_attributes(dom).get("data-loaded") == "true", status_text(dom)
    assert filter_chips(dom)["period"].startswith(
        f"period: {(today - timedelta(days=1)).isoformat()} to {today.isoformat()}")


@pytest.fixture
async def berlin_dashboard_url(infra: Infra) -> AsyncIterator[str]:
    """The same days, with the business time zone Europe/Berlin."""
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium")
    store = f"browser_{uuid.uuid4().hex[:10]}"
    await project_simulated_days(infra.dsn, store, zone="Europe/Berlin")
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=4)
    server = HttpServer(api_routes(Service(pool), guard=GUARD, business_zone=ZoneInfo("Europe/Berlin")),
                        "127.0.0.1", 0)
    await server.start()
    try:
        end = START + timedelta(days=DAYS)
        yield f"http://127.0.0.1:{server.port}/dashboard?from={START.isoformat()}&to={end.isoformat()}"
    finally:
        await server.stop()
        await pool.close()


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
        attrs["improvement_starts"] = str(len(re.findall(r'<line[^>]*class="improvement-start"', body)))
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


async def test_days_and_hours_are_shown_in_the_business_time_zone(berlin_dashboard_url: str) -> None:
    dom = await dump(f"{berlin_dashboard_url}#token={VIEWER}")
    assert body_attributes(dom).get("data-loaded") == "true", status_text(dom)
    # from = 2026-11-22T23:00Z is Berlin's midnight of the 23rd
    assert filter_chips(dom)["period"] == "period: 2026-11-23 to 2026-11-26 (Europe/Berlin, end excluded)"
    assert "Europe/Berlin" in status_text(dom)
    occupancy = html.unescape(figures(dom)["occupancy"])
    assert re.search(r"<title>[^<]* · 2026-11-23 \d\d:00 Europe/Berlin", occupancy)
    assert re.search(r'<text[^>]*text-anchor="start"[^>]*>11-23</text>', occupancy)


class Page:
    """One headless Chromium page driven over the DevTools protocol on a pipe
    (``--remote-debugging-pipe``: commands on fd 3, answers on fd 4, NUL-separated JSON):
    enough to evaluate script and click with the mouse, without a driver library."""

    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer_fd: int,
                 profile: str) -> None:
        self.proc, self.reader, self.writer_fd, self.profile = proc, reader, writer_fd, profile
        self.next_id = 0
        self.session: str | None = None

    @classmethod
    async def open(cls, url: str) -> Page:
        profile = tempfile.mkdtemp(prefix="leancrm-chromium-")
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()

        def fds() -> None:  # the child's fd 3 reads commands, fd 4 writes answers
            os.dup2(to_child, 3)
            os.dup2(to_parent, 4)

        proc = await asyncio.create_subprocess_exec(
            str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
            "--window-size=1400,1000", url, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, preexec_fn=fds, close_fds=False)
        os.close(to_child)
        os.close(to_parent)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(from_child, "rb"))
        page = cls(proc, reader, from_parent, profile)
        targets = await page.send("Target.getTargets", session=False)
        target = next(t for t in targets["targetInfos"] if t["type"] == "page")
        attached = await page.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                   session=False)
        page.session = str(attached["sessionId"])
        return page

    async def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True
                   ) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.writer_fd, json.dumps(msg).encode() + b"\0")
        while True:
            raw = await asyncio.wait_for(self.reader.readuntil(b"\0"), 30)
            answer = json.loads(raw[:-1])
            if answer.get("id") == self.next_id:
                assert "error" not in answer, answer
                return dict(answer.get("result", {}))

    async def eval(self, script: str) -> Any:
        got = await self.send("Runtime.evaluate", {"expression": script, "returnByValue": True})
        return got["result"].get("value")

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                         "clickCount": 1})

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send("Browser.close", session=False)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        os.close(self.writer_fd)
        shutil.rmtree(self.profile, ignore_errors=True)


async def test_one_click_on_a_pareto_bar_opens_that_wastes_breakdown(dashboard_url: str) -> None:
    page = await Page.open(f"{dashboard_url}&paused=1#token={VIEWER}")
    try:
        async def loaded() -> bool:
            return await page.eval("document.body.dataset.loaded === 'true'") is True

        await wait_until(loaded, timeout_s=60, interval_s=0.5, what="the page loaded")
        assert await page.eval("document.getElementById('breakdown').hidden") is True
        box = await page.eval("""(() => {
            const bar = document.querySelector('rect.pick[data-waste="defects"]');
            bar.scrollIntoView({block: 'center'});
            const r = bar.getBoundingClientRect();
            return [r.left + r.width / 2, r.bottom - 2];
        })()""")
        assert isinstance(box, list)
        await page.click(float(box[0]), float(box[1]))

        async def shown() -> bool:
            return await page.eval("document.getElementById('breakdown').dataset.loaded === 'true' && "
                                   "document.getElementById('breakdown').dataset.waste === 'defects'") is True

        await wait_until(shown, timeout_s=30, interval_s=0.5, what="the breakdown of defects shown")
        rows = await page.eval("[...document.querySelectorAll('#breakdown [data-by]')]"
                               ".map((d) => [d.dataset.by, Number(d.dataset.rows)])")
        assert isinstance(rows, list) and dict(rows).keys() == {"channel", "reason", "team"}
        assert all(n > 0 for _, n in rows), rows
        assert "breakdown=defects" in str(await page.eval("location.search"))
        assert await page.eval("document.getElementById('breakdown').hidden") is False
        # close hides it and takes it off the address
        await page.eval("document.getElementById('breakdown-close').click()")
        assert await page.eval("document.getElementById('breakdown').hidden") is True
        assert "breakdown" not in str(await page.eval("location.search"))
    finally:
        await page.close()


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
        # the three improvements started on day 2, marked as on the trend charts
        assert s["improvement_starts"] == "3", (rate, s)
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
