"""`scripts/run`: start the whole system on one machine and show it working.

Starts the embedded PostgreSQL and broker (or uses LEANCRM_KAFKA_BOOTSTRAP /
LEANCRM_DATABASE_URL), every installed service as its own process (logs in
.leancrm/logs/<service>.log), waits until each is ready, drives traffic, and
shows live figures until Ctrl-C, then stops every process it started. It makes an
operations token for the run (waste:read and personal:read), gives the waste service
only its SHA-256, and prints it beside the dashboard's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated

import asyncpg
import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from leancrm_devstack.embedded import EmbeddedPostgres, EmbeddedStack, die_with_parent
from leancrm_devstack.local_database import (
    DATABASE,
    OPS_ROLE,
    DatabaseSetupError,
    apply_init_sql,
    dsn_with,
    owner_role,
    psql_binary,
)
from leancrm_servicekit.auth import PERSONAL_READ, WASTE_READ, new_token, token_sha256
from leancrm_servicekit.crypto import generate_kek

console = Console()


#: the entry-point group a service's package declares itself in (pyproject.toml:
#: ``[project.entry-points."leancrm.services"]``), pointing at an object with the
#: service's ``name`` and ``default_http_port`` (and ``schema`` when not its name)
ENTRY_POINTS = "leancrm.services"


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    module: str
    port: int
    schema: str


def installed_services() -> list[ServiceInfo]:
    """Every installed service, found by its entry point, in port order: a new service's
    folder, once installed (scripts/bootstrap), is started by scripts/run with no change
    here."""
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINTS):
        described = ep.load()
        module = ep.value.split(":", 1)[0].split(".", 1)[0]
        if importlib.util.find_spec(f"{module}.__main__") is None:
            continue
        found.append(ServiceInfo(ep.name, module, int(described.default_http_port),
                                 str(getattr(described, "schema", None) or ep.name)))
    return sorted(found, key=lambda s: (s.port, s.name))


@dataclass
class Process:
    info: ServiceInfo
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes] = field(repr=False)


def ports_in_use(services: list[ServiceInfo]) -> list[int]:
    """The services' HTTP ports that something on this machine already listens on."""
    busy = []
    for s in services:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", s.port)) == 0:
                busy.append(s.port)
    return busy


#: the scopes of the token scripts/run makes for its own run
RUN_TOKEN_SCOPES = (WASTE_READ, PERSONAL_READ)
RUN_TOKEN_NAME = "scripts-run"


def run_token_environment(token: str, env: dict[str, str]) -> dict[str, str]:
    """What the waste service is given for the local run's token: its SHA-256 and scopes
    (never the token), after any tokens already configured in ``env``."""
    entry = {"name": RUN_TOKEN_NAME, "sha256": token_sha256(token), "scopes": list(RUN_TOKEN_SCOPES)}
    configured = env.get("LEANCRM_API_TOKENS", "").strip()
    try:
        tokens = json.loads(configured) if configured else []
    except json.JSONDecodeError:
        tokens = None
    if not isinstance(tokens, list):
        raise SystemExit("LEANCRM_API_TOKENS is set but is not a JSON list of tokens; fix it or unset "
                         "it (scripts/run adds a token of its own)")
    return {"LEANCRM_API_TOKENS": json.dumps([*tokens, entry])}


#: the services entitled to personal data: they get the key-encryption key (contract 2.8)
PERSONAL_DATA_SERVICES = ("customers", "waste")
KEK_VARIABLES = ("LEANCRM_PERSONAL_DATA_KEK", "LEANCRM_PERSONAL_DATA_KEK_FILE")


def personal_data_kek_environment(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    """What the entitled services are given for the local run's key-encryption key: a
    file made once in ``workdir`` (owner-only) and kept across runs, so that a database
    kept with ``--no-fresh`` still opens — unless a KEK is configured already, which is
    used as it is."""
    if any(env.get(v, "").strip() for v in KEK_VARIABLES):
        return {}
    path = workdir / "secrets" / "personal-data-kek"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(generate_kek() + "\n")
    return {"LEANCRM_PERSONAL_DATA_KEK_FILE": str(path)}


def start_service(info: ServiceInfo, env: dict[str, str], logs: Path) -> Process:
    log_path = logs / f"{info.name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed in stop_all
    popen = subprocess.Popen(
        [sys.executable, "-m", info.module],
        env={**env, "LEANCRM_HTTP_PORT": str(info.port)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    return Process(info, popen, log_path, log)


async def wait_ready(procs: list[Process], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    pending = {p.info.name: p for p in procs}
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for name, p in list(pending.items()):
                if p.popen.poll() is not None:
                    raise SystemExit(
                        f"{name} exited with code {p.popen.returncode}; see {p.log_path}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    r = await client.get(f"http://127.0.0.1:{p.info.port}/ready")
                    if r.status_code == 200:
                        console.print(f"  [green]✓[/] {name} ready on http://127.0.0.1:{p.info.port}")
                        del pending[name]
            if time.monotonic() > deadline:
                raise SystemExit(f"not ready after {timeout_s:.0f}s: {', '.join(pending)}")
            await asyncio.sleep(0.3)


def stop_all(procs: list[Process]) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(20)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait(5)
        p.log.close()


@dataclass
class Status:
    events: dict[str, int] = field(default_factory=dict)  # stored per command service
    backlog: dict[str, int] = field(default_factory=dict)  # outbox rows not yet published
    applied: int | None = None  # events in the waste read model
    lag: int | None = None  # projector lag (messages behind the high watermark)
    wastes: list[tuple[str, float, str]] = field(default_factory=list)


async def read_status(dsn: str, services: list[ServiceInfo], token: str) -> Status:
    st = Status()
    conn = await asyncpg.connect(dsn)
    try:
        for s in services:
            if s.name == "waste":
                continue
            if await conn.fetchval("SELECT to_regclass($1)", f"{s.schema}.events") is None:
                continue
            st.events[s.name] = int(await conn.fetchval(f"SELECT count(*) FROM {s.schema}.events"))
            st.backlog[s.name] = int(await conn.fetchval(f"SELECT count(*) FROM {s.schema}.outbox"))
        if await conn.fetchval("SELECT to_regclass('waste_service.active_store')") is not None:
            store = await conn.fetchval("SELECT store FROM waste_service.active_store")
            st.applied = int(await conn.fetchval(f"SELECT count(*) FROM {store}.seen_events"))
            rows = await conn.fetch("SELECT waste_type, sum(quantity) AS q, min(unit) AS unit "
                                    "FROM waste.waste_ledger GROUP BY waste_type ORDER BY 1")
            st.wastes = [(r["waste_type"], float(r["q"] or 0), r["unit"]) for r in rows]
    finally:
        await conn.close()
    waste = next((s for s in services if s.name == "waste"), None)
    if waste is not None:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            async with httpx.AsyncClient(timeout=2.0) as client:
                r = await client.get(f"http://127.0.0.1:{waste.port}/api/v1/lag",
                                     headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 200:  # anything else: the lag is unknown, not zero
                st.lag = int(r.json()["total"])
    return st


def status_table(st: Status, elapsed: float) -> Table:
    table = Table(title=f"Lean CRM — live ({elapsed:.0f}s)")
    table.add_column("service")
    table.add_column("events", justify="right")
    table.add_column("outbox backlog / projector lag", justify="right")
    for name, events in st.events.items():
        table.add_row(name, f"{events:,} stored", f"{st.backlog.get(name, 0):,}")
    if st.applied is not None:
        table.add_row("waste", f"{st.applied:,} applied", "?" if st.lag is None else f"{st.lag:,}")
    for waste_type, quantity, unit in st.wastes:
        shown = f"{quantity / 3600:,.1f} h" if unit == "seconds" else f"{quantity:,.0f}"
        table.add_row(f"  {waste_type}", shown, "")
    return table


def print_access(token: str, port: int, days: int = 7) -> None:
    """The local run's token, the dashboard's address (showing the simulated period) and
    how to call the API."""
    base = f"http://127.0.0.1:{port}"
    page = f"{base}/{dashboard_query(days)}"
    console.print(f"  Operations token for this run ({', '.join(RUN_TOKEN_SCOPES)}; only its SHA-256 "
                  "was given to the waste service, and it dies with the run):\n"
                  f"    {token}\n"
                  f"  Dashboard:  {page}#token={token}\n"
                  f"              (or open {page} and paste the token when asked)\n"
                  f'  API:        curl -H "Authorization: Bearer {token}" {base}/api/v1/summary',
                  soft_wrap=True, highlight=False)


def dashboard_query(days: int) -> str:
    """The dashboard's query for a run of ``days`` days: the whole period when longer than
    the dashboard's default week (the improvements' start dates are marked on it)."""
    return f"?days={days}" if days > 7 else ""


def traffic_environment(days: int, env: dict[str, str]) -> dict[str, str]:
    """The simulator's settings for a run of ``days`` days ending today (``LEANCRM_SIM_*`` in
    ``env`` win): the three improvements (tools/simulator, improvements.py) when the
    period is long enough to judge them (two weeks: a baseline, then their effect), at a
    clock that keeps the traffic to about a minute per fortnight."""
    from leancrm_simulator.run import DEFAULT_SPEED

    start = (datetime.now(UTC) - timedelta(days=days)).date()
    return {"LEANCRM_SIM_START": start.isoformat(), "LEANCRM_SIM_DAYS": str(days),
            "LEANCRM_SIM_IMPROVEMENTS": "true" if days >= IMPROVEMENT_DAYS else "false",
            "LEANCRM_SIM_SPEED": f"{DEFAULT_SPEED * max(1.0, days / 14):g}", **env}


#: the shortest run that starts the three improvements of the simulator
IMPROVEMENT_DAYS = 14
#: scripts/run's default period: two weeks of baseline, two weeks of improvements
DEFAULT_DAYS = 28


async def demo_traffic(env: dict[str, str], days: int) -> str:
    """A simulated contact-centre period ending today, at an accelerated clock.
    Returns the last simulated day (for the huddle report)."""
    from leancrm_simulator.run import drive

    start = (datetime.now(UTC) - timedelta(days=days)).date()
    sim_env = traffic_environment(days, env)
    summary = await drive(sim_env, wait_for_results=False)
    console.print(f"[green]Simulated {summary.simulated_from} → {summary.simulated_to}:[/] "
                  f"{sum(summary.commands_by_topic.values()):,} commands in {summary.wall_s:.0f}s")
    return (start + timedelta(days=days - 1)).isoformat()


def huddle(env: dict[str, str], day: str) -> int:
    """Print the daily huddle report of the last simulated day (``env`` points at the
    database as operations would read it)."""
    console.rule(f"Daily huddle — {day}")
    return subprocess.run([sys.executable, "-m", "leancrm_waste", "huddle", "--day", day],
                          env=env, check=False).returncode


async def main_async(workdir: Path, fresh: bool, traffic: bool, days: int,
                     exit_when_done: bool = False) -> None:
    env = dict(os.environ)
    services = installed_services()
    busy = ports_in_use(services)
    if busy:
        raise SystemExit(f"port(s) {', '.join(map(str, busy))} already in use: is another "
                         "scripts/run still running? Stop it first.")
    stack: EmbeddedStack | None = None
    service_dsn: dict[str, str] = {}
    migration_dsn: dict[str, str] = {}
    ops_env = env
    if not (env.get("LEANCRM_KAFKA_BOOTSTRAP") and env.get("LEANCRM_DATABASE_URL")):
        stack_dir = workdir / "stack"
        if EmbeddedPostgres.stop_stale(stack_dir / "pgdata"):
            console.print("  stopped the PostgreSQL a killed run had left running")
        if fresh and stack_dir.exists():
            shutil.rmtree(stack_dir)  # the embedded broker forgets on restart: start clean
        console.print("[bold]Starting the embedded PostgreSQL and Kafka-protocol broker[/]")
        stack = EmbeddedStack.create(stack_dir).start()
        env.update(stack.environment())
        try:
            # production's database set-up: one role per service, leancrm_ops for operations
            roles = apply_init_sql(stack.postgres.dsn)
        except DatabaseSetupError as exc:
            stack.stop()
            raise SystemExit(f"cannot set up the database: {exc}") from None
        env["LEANCRM_DATABASE_URL"] = dsn_with(stack.postgres.dsn, database=DATABASE)
        service_dsn = {s.name: roles[s.name] for s in services if s.name in roles}
        # each migrates as its schema's owner, then runs as its own role (rows only)
        migration_dsn = {s.name: roles[owner_role(s.name)] for s in services if s.name in roles}
        for s in services:
            if s.name not in roles:
                console.print(f"  [yellow]![/] no role {s.name!r} in deploy/postgres/leancrm-init.sql: "
                              f"{s.name} runs as the database's owner until it has one")
        ops_env = {**env, "LEANCRM_DATABASE_URL": roles[OPS_ROLE]}
        ops_psql = "psql" if shutil.which("psql") else (psql_binary() or "psql")
        console.print(f"  PostgreSQL: {env['LEANCRM_DATABASE_URL']}\n"
                      f"              database {DATABASE}, each service as its own role, its "
                      "migrations as its schema's owner (deploy/postgres/leancrm-init.sql)\n"
                      f"  Operations: {ops_psql} '{roles[OPS_ROLE]}'  (the views of schema waste, "
                      "read only)\n"
                      f"  Broker:     {stack.broker.bootstrap}")
    else:
        console.print("[bold]Using the infrastructure from the environment[/]")
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[Process] = []
    try:
        console.print("[bold]Starting services[/] (logs in " + str(logs) + ")")
        token = new_token()  # for this run only: the waste service is given its hash
        waste_env = run_token_environment(token, env)
        kek_env = personal_data_kek_environment(workdir, env)
        procs = [start_service(s, {**env, **({"LEANCRM_DATABASE_URL": service_dsn[s.name],
                                              "LEANCRM_MIGRATION_DATABASE_URL": migration_dsn[s.name]}
                                             if s.name in service_dsn else {}),
                                   **(waste_env if s.name == "waste" else {}),
                                   **(kek_env if s.name in PERSONAL_DATA_SERVICES else {})}, logs)
                 for s in services]
        await wait_ready(procs)
        started = time.monotonic()
        traffic_task = asyncio.create_task(demo_traffic(env, days)) if traffic else None
        reported = traffic_task is None
        waste = next((s for s in services if s.name == "waste"), None)
        dashboard = (f"http://127.0.0.1:{waste.port}/{dashboard_query(days)}#token={token}"
                     if waste else None)
        if waste is not None:
            print_access(token, waste.port, days)
        with Live(console=console, refresh_per_second=2) as live:
            while True:
                st = await read_status(env["LEANCRM_DATABASE_URL"], services, token)
                live.update(status_table(st, time.monotonic() - started))
                for p in procs:
                    if p.popen.poll() is not None:
                        raise SystemExit(f"{p.info.name} stopped unexpectedly; see {p.log_path}")
                if traffic_task is not None and traffic_task.done() and not reported:
                    last_day = traffic_task.result()
                    settled = sum(st.backlog.values()) == 0 and (st.lag in (0, None))
                    if settled:
                        reported = True
                        live.stop()
                        huddle_rc = huddle(ops_env, last_day) if last_day and dashboard else 0
                        console.print("[green]Traffic done.[/] Dashboard: "
                                      f"[bold]{dashboard or 'n/a'}[/]  ·  logs: {logs}  ·  "
                                      "Ctrl-C stops everything.", soft_wrap=True)
                        if exit_when_done:
                            if huddle_rc != 0:
                                raise SystemExit(f"the huddle report failed (exit {huddle_rc})")
                            return
                        live.start()
                await asyncio.sleep(1.0)
    finally:
        console.print("[bold]Stopping services[/]")
        stop_all(procs)
        if stack is not None:
            stack.stop()
        console.print("Stopped.")


def main(
    workdir: Annotated[Path, typer.Option(help="Where logs and embedded data go")] = Path(".leancrm"),
    fresh: Annotated[bool, typer.Option(help="Start the embedded stack from empty")] = True,
    traffic: Annotated[bool, typer.Option(help="Drive simulated traffic")] = True,
    days: Annotated[int, typer.Option(
        min=1, max=60, help="Simulated days of traffic (14 or more: with the three improvements)")
    ] = DEFAULT_DAYS,
    exit_when_done: Annotated[bool, typer.Option(
        help="Stop everything once the traffic is done and the huddle printed (for CI)")] = False,
) -> None:
    """Start Lean CRM on this machine and show it working (Ctrl-C stops it)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    # SIGTERM and SIGHUP stop everything as cleanly as Ctrl-C does
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(workdir.resolve(), fresh, traffic, days, exit_when_done))


if __name__ == "__main__":
    typer.run(main)
