"""``python -m leancrm_simulator``: generate a scenario and drive it to the command topics."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import run as driver
from .figures import measure
from .knobs import DEFAULT_START, KnobError, Knobs
from .model import COMMAND_TOPICS, HOUR, SimCommand, rfc3339
from .scenario import generate

console = Console()
app = typer.Typer(add_completion=False, no_args_is_help=False, rich_markup_mode="rich")
K = Knobs()
SHORT = {t: t.split(".")[1] for t in COMMAND_TOPICS}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


class _Live:
    """A rich progress display fed by the driver's progress reports."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.clock: TaskID | None = None
        self.topics: dict[str, TaskID] = {}
        self.results: TaskID | None = None

    def __call__(self, p: driver.Progress) -> None:
        bar = self.progress
        if self.clock is None:
            self.clock = bar.add_task("business time", rate="",
                                      total=max(1.0, (p.last_ms - p.first_ms) / HOUR))
            for topic, total in p.totals.items():
                self.topics[topic] = bar.add_task(f"{SHORT[topic]} commands", total=total,
                                                  rate="")
            if p.counting_results:
                self.results = bar.add_task("results", total=sum(p.totals.values()), rate="")
        elapsed = max(p.wall_s, 1e-6)
        bar.update(self.clock, completed=(p.business_ms - p.first_ms) / HOUR,
                   description=f"{rfc3339(p.business_ms)[:16]} (hours)",
                   rate=f"{(p.business_ms - p.first_ms) / 1000 / elapsed:,.0f}× real time")
        for topic, task in self.topics.items():
            bar.update(task, completed=p.sent[topic], rate=f"{p.sent[topic] / elapsed:,.0f}/s")
        if self.results is not None:
            done = sum(p.results.values())
            parts = ", ".join(f"{s} {n:,}" for s, n in sorted(p.results.items()))
            bar.update(self.results, completed=done, rate=parts or p.phase)


def _summary_table(summary: driver.Summary) -> Table:
    table = Table(title="Lean CRM simulator — summary", show_lines=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for command_type, n in sorted(summary.commands_by_type.items()):
        table.add_row(f"sent {command_type}", f"{n:,}")
    table.add_section()
    for topic, n in sorted(summary.commands_by_topic.items()):
        table.add_row(f"sent to {topic}", f"{n:,}")
    table.add_section()
    if summary.waited_for_results:
        for status in ("accepted", "duplicate", "rejected"):
            table.add_row(f"results {status}", f"{summary.results_by_status.get(status, 0):,}")
        for code, n in sorted(summary.errors_by_code.items()):
            table.add_row(f"  rejected as {code}", f"{n:,}")
        table.add_row("results missing", f"{summary.missing_results:,}")
        if summary.repeated_results:
            table.add_row("repeated results (producer retries)", f"{summary.repeated_results:,}")
    else:
        table.add_row("results", "not counted")
    table.add_section()
    table.add_row("simulated span", f"{summary.simulated_from} → {summary.simulated_to}")
    rate = summary.sent / summary.wall_s if summary.wall_s else 0.0
    table.add_row("wall time", f"{summary.wall_s:,.1f} s ({rate:,.0f} commands/s)")
    table.add_row("speed", "as fast as possible" if summary.speed == 0
                  else f"{summary.speed:,.0f} simulated s per s")
    return table


def _dry_run(commands: Sequence[SimCommand], knobs: Knobs, jsonl: Path | None) -> None:
    by_type = Counter(c.command_type for c in commands)
    table = Table(title=f"Scenario {knobs.namespace()} (dry run: nothing sent)")
    table.add_column("command")
    table.add_column("count", justify="right")
    for command_type, n in sorted(by_type.items()):
        table.add_row(command_type, f"{n:,}")
    table.add_section()
    table.add_row("total", f"{len(commands):,}")
    if commands:
        table.caption = f"{rfc3339(commands[0].at_ms)} → {rfc3339(commands[-1].at_ms)}"
    console.print(table)
    preview = Table(title="What the waste projector should show (section 5, from the commands)")
    preview.add_column("figure")
    preview.add_column("value", justify="right")
    for name, value in measure(commands).rows():
        preview.add_row(name, value)
    console.print(preview)
    if jsonl is not None:
        console.print(f"wrote {len(commands):,} commands to {jsonl}")


def _write_jsonl(commands: Sequence[SimCommand], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for c in commands:
            out.write(json.dumps({"topic": c.topic, "key": c.key,
                                  "headers": {"content-type": "application/json",
                                              "message_type": c.command_type},
                                  "value": c.envelope}, ensure_ascii=False) + "\n")


@app.command()
def simulate(
    bootstrap: Annotated[str, typer.Option(
        envvar="LEANCRM_KAFKA_BOOTSTRAP", help="Kafka bootstrap servers (host:port)")] = "",
    speed: Annotated[float, typer.Option(
        help="Simulated seconds per wall second; 0 = as fast as possible")] = driver.DEFAULT_SPEED,
    wait: Annotated[bool, typer.Option(
        help="Count the services' results on crm.command-results.v1")] = True,
    result_timeout: Annotated[float, typer.Option(
        help="Stop waiting for results this many seconds after the last new one")] = 60.0,
    dry_run: Annotated[bool, typer.Option(
        help="Only generate: print the commands and the figures they should give")] = False,
    jsonl: Annotated[Path | None, typer.Option(
        help="Also write every command (topic, key, headers, value) to this JSON-lines file")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed and knobs: the same commands")] = K.seed,
    customers: Annotated[int, typer.Option(help="Customers registered")] = K.customers,
    days: Annotated[int, typer.Option(help="Simulated days")] = K.days,
    start: Annotated[str, typer.Option(
        help="First simulated day, YYYY-MM-DD (UTC)")] = DEFAULT_START.isoformat(),
    agents_per_team: Annotated[int, typer.Option(
        help="Agents in each of the 5 teams' pools (most rostered at once)")
    ] = K.agents_per_team,
    staffing: Annotated[float, typer.Option(
        help="Rostered agents relative to the plan (1.0 = to plan)")] = K.staffing,
    contact_rate: Annotated[float, typer.Option(
        help="New contacts per customer per week")] = K.contact_rate,
    reidentify: Annotated[float, typer.Option(
        help="Chance an agent asks for identification again")] = K.reidentify,
    transfer: Annotated[float, typer.Option(
        help="Chance an agent transfers what they cannot resolve")] = K.transfer,
    cross_channel: Annotated[float, typer.Option(
        help="Share of transfers that switch channel")] = K.cross_channel,
    fcr: Annotated[float, typer.Option(
        help="Chance the first agent resolves the contact")] = K.fcr,
    self_service: Annotated[float, typer.Option(
        help="Share of contacts starting in self-service, community or bot")] = K.self_service,
    feedback_rate: Annotated[float, typer.Option(
        help="Chance a contact brings feedback; scales tweets, reviews, ideas")] = K.feedback_rate,
    email_backlog: Annotated[float, typer.Option(
        help="Share of emails left 1-3 days in a low-priority pile")] = K.email_backlog,
    improvements: Annotated[bool, typer.Option(
        help="Start three improvements mid-period (one works, one fades, one does nothing)")
    ] = K.improvements,
) -> None:
    """Simulate a Lean CRM front office and send its commands to the command topics.

    Customers register, agents work shifts, contacts flow through IVR, queues,
    agents, holds, transfers and self-service, and customers give feedback.

    Every command obeys the contract: a healthy system accepts all of them.
    """
    knob_values: dict[str, Any] = {
        "seed": seed, "customers": customers, "days": days, "start": start,
        "agents_per_team": agents_per_team, "staffing": staffing, "contact_rate": contact_rate,
        "reidentify": reidentify, "transfer": transfer, "cross_channel": cross_channel,
        "fcr": fcr, "self_service": self_service, "feedback_rate": feedback_rate,
        "email_backlog": email_backlog, "improvements": improvements,
    }
    try:
        knobs = Knobs.from_options(**knob_values)
        if speed < 0:
            raise KnobError(f"speed = {speed!r}: must be 0 (as fast as possible) or more",
                            "speed")
    except KnobError as exc:
        hint = f"'{_option(exc.knob)}'" if exc.knob else None
        raise typer.BadParameter(str(exc), param_hint=hint) from exc
    began = time.monotonic()
    commands = generate(knobs)
    console.print(f"[bold]Scenario[/] {knobs.namespace()}: {len(commands):,} commands over "
                  f"{knobs.days} day(s) from {knobs.start} (generated in "
                  f"{time.monotonic() - began:.1f} s)")
    if jsonl is not None:
        _write_jsonl(commands, jsonl)
    if dry_run:
        _dry_run(commands, knobs, jsonl)
        return
    env = {**os.environ, "LEANCRM_KAFKA_BOOTSTRAP": bootstrap}
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # errors are reported below
    columns = (TextColumn("{task.description:<30}"), BarColumn(bar_width=24),
               MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, refresh_per_second=8) as progress:
            summary = asyncio.run(driver.drive(
                env, speed=speed, wait_for_results=wait, result_timeout_s=result_timeout,
                on_progress=_Live(progress), commands=commands, **knob_values))
    except driver.SimulatorError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        console.print("[yellow]stopped[/]")
        raise typer.Exit(130) from None
    console.print(_summary_table(summary))
    if summary.note:
        console.print(f"[yellow]note:[/] {summary.note}")
    for example in summary.rejected_examples:
        console.print(f"[red]rejected[/] {example}")
    if summary.waited_for_results and not summary.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
