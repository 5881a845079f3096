"""``python -m leancrm_chaos`` (``scripts/chaos``): one seeded chaos run, a table and a
JSON report; exit 0 when every target is met, 1 when one is missed, 2 when the run
itself could not be carried out, 130 when interrupted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .config import ConfigError, RunConfig
from .run import run_chaos

app = typer.Typer(add_completion=False)
DEFAULTS = RunConfig()


@app.command()
def main_command(
    seed: Annotated[int, typer.Option(
        help="Every random choice of the run comes from it")] = DEFAULTS.seed,
    duration: Annotated[float, typer.Option(help="Seconds of the fault window")] = DEFAULTS.duration_s,
    kills: Annotated[int, typer.Option(help="SIGKILLs of service processes (at least)")] = DEFAULTS.kills,
    pg_restarts: Annotated[int, typer.Option(
        help="Fast-shutdown restarts of PostgreSQL")] = DEFAULTS.pg_restarts,
    broker_pause_s: Annotated[float, typer.Option(
        help="Seconds the broker is paused (SIGSTOP); 0: no pause")] = DEFAULTS.broker_pause_s,
    malformed: Annotated[int, typer.Option(help="Malformed records to send")] = DEFAULTS.malformed,
    days: Annotated[int, typer.Option(help="Simulated days of traffic")] = DEFAULTS.days,
    customers: Annotated[int, typer.Option(help="Simulated customers")] = DEFAULTS.customers,
    workdir: Annotated[Path, typer.Option(help="Where each run's directory goes")] = DEFAULTS.workdir,
    report: Annotated[Path, typer.Option(help="The JSON report")] = Path("bench/results/chaos.json"),
    probe_deadline_s: Annotated[float, typer.Option(
        help="A probe not through this long after its fault ended is a stall")] = DEFAULTS.probe_deadline_s,
    settle_timeout_s: Annotated[float, typer.Option(
        help="How long the system may take to come to rest after the window")] = DEFAULTS.settle_timeout_s,
    progress: Annotated[bool, typer.Option(help="Live progress display")] = True,
    keep_data: Annotated[bool, typer.Option(
        help="Keep PostgreSQL's data directory when every target is met (always kept otherwise)")] = False,
) -> None:
    """Inject faults while seeded traffic flows — SIGKILLs, PostgreSQL restarts, a broker
    pause, malformed records of every kind — then prove nothing was lost, nothing doubled,
    every bad record got its verdict and nothing stalled."""
    console = Console()
    try:
        config = RunConfig(seed=seed, duration_s=duration, kills=kills, pg_restarts=pg_restarts,
                           broker_pause_s=broker_pause_s, malformed=malformed, days=days,
                           customers=customers, workdir=workdir, report=report,
                           probe_deadline_s=probe_deadline_s, settle_timeout_s=settle_timeout_s,
                           progress=progress, keep_data=keep_data).validate()
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None

    async def main() -> dict[str, object]:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        stopping = False

        def interrupt() -> None:  # the first signal stops the run; later ones cannot cut its clean-up
            nonlocal stopping
            if not stopping:
                stopping = True
                task.cancel()
            else:
                console.print("[yellow]stopping every process the run started…[/]")

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, interrupt)
        return await run_chaos(config, console)

    result = asyncio.run(main())
    if result.get("interrupted"):
        raise typer.Exit(130)
    if result.get("harness_error"):
        raise typer.Exit(2)
    raise typer.Exit(0 if result.get("ok") else 1)


def main() -> None:
    app()
