"""``python -m leancrm_waste huddle [--day YYYY-MM-DD] [--format text|markdown|json]``:
the daily huddle report of one UTC day (default: yesterday), read from the public views
through ``LEANCRM_DATABASE_URL`` (asyncpg)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console

from leancrm_waste.huddle.render import render_json, render_markdown, render_text
from leancrm_waste.huddle.report import BASELINE_DAYS, build_report
from leancrm_waste.read.costs import cost_table, parse_costs
from leancrm_waste.read.improvements import judged_improvements
from leancrm_waste.read.params import TIME_MIN, parse_day
from leancrm_waste.read.views import huddle_figures
from leancrm_waste.settings import CostSettings


class Format(StrEnum):
    """What ``--format`` prints."""

    text = "text"
    markdown = "markdown"
    json = "json"


async def load(dsn: str, day: date) -> dict[str, Any]:
    """The figures of ``day`` and its baseline week, read on one connection."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET statement_timeout = '120s'")
        figures = await huddle_figures(conn, day, BASELINE_DAYS)
        # every improvement started by the day and not abandoned: running, or adopted and
        # still watched for a fading gain (huddle/improvements.py)
        figures["improvements"] = await judged_improvements(conn, day, since=TIME_MIN.date(),
                                                            abandoned=False)
        return figures
    finally:
        await conn.close()


def yesterday(now: datetime | None = None) -> date:
    """The UTC day before ``now`` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=1)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def huddle(
    day: Annotated[str | None, typer.Option(
        "--day", help="UTC day to review, YYYY-MM-DD (default: yesterday)")] = None,
    format: Annotated[Format, typer.Option(
        "--format", "-f", help="text (tables), markdown or json")] = Format.text,
    top_reasons: Annotated[int, typer.Option(
        "--top-reasons", min=1, max=100, help="How many reasons to list by failure demand")] = 5,
    cost: Annotated[list[str] | None, typer.Option(
        "--cost", help="Seconds per counted waste, e.g. --cost over_processing=45 (repeatable); "
                       "default from LEANCRM_WASTE_COST_SECONDS, then the documented table")] = None,
    target_occupancy: Annotated[float, typer.Option(
        "--target-occupancy", min=0.01, max=1.0, envvar="LEANCRM_TARGET_OCCUPANCY",
        help="Occupancy target (better = closer to it)")] = 0.85,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="LEANCRM_DATABASE_URL", show_default=False,
        help="PostgreSQL DSN (default: LEANCRM_DATABASE_URL)")] = None,
) -> None:
    """The daily huddle report: each waste and key rate of a day against the previous seven
    days' average, the top three wastes by cost in seconds and the worst reasons by
    failure demand."""
    the_day = _day(day) or yesterday()
    try:
        costs = cost_table(CostSettings().waste_cost_seconds, parse_costs(",".join(cost or [])))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cost") from None
    if not database_url:
        typer.echo("LEANCRM_DATABASE_URL is not set: point it at the database holding schema waste "
                   "(or pass --database-url).", err=True)
        raise typer.Exit(2)
    try:
        figures = asyncio.run(load(database_url, the_day))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        typer.echo(f"cannot read the waste read model: {exc}", err=True)
        raise typer.Exit(1) from None
    report = build_report(figures, costs, target_occupancy, top_reasons)
    if format is Format.json:
        sys.stdout.write(render_json(report) + "\n")
    elif format is Format.markdown:
        sys.stdout.write(render_markdown(report))
    else:
        console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140)
        render_text(report, console)


def register(app: typer.Typer) -> None:
    """Add ``huddle`` to the service's command line (``python -m leancrm_waste huddle``)."""
    app.command("huddle")(huddle)


huddle_app = typer.Typer(add_completion=False, help="The daily huddle report.")
huddle_app.command()(huddle)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the huddle command with ``argv`` (without the program name; default: the
    process's arguments); the exit code (usage errors are printed, as on the command line)."""
    try:
        huddle_app(args=list(argv) if argv is not None else None,
                   prog_name="python -m leancrm_waste huddle")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    return 0
