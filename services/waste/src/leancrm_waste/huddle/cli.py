"""``python -m leancrm_waste huddle [--day YYYY-MM-DD] [--channel C] [--team T]
[--format text|markdown|json] [--time-zone ZONE]``: the daily huddle report of one day
of the business time zone (the one the views cut their days in, ``waste.business_time_zone``:
the waste service's ``LEANCRM_BUSINESS_TIMEZONE``; default day: yesterday there), of
the channels and agent teams chosen, read from the public views through
``LEANCRM_DATABASE_URL`` (asyncpg)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console

from leancrm_waste.huddle.render import render_json, render_markdown, render_text
from leancrm_waste.huddle.report import (
    COMPARE_WEEKS,
    LOOKBACK_WEEKS,
    MIN_CONTACTS,
    MIN_REASON_CONTACTS,
    build_report,
)
from leancrm_waste.read.catalogue import CHANNELS
from leancrm_waste.read.costs import cost_table, parse_costs
from leancrm_waste.read.daily import (
    ALL,
    MAX_DAYS,
    DailyScope,
    daily_figures,
    known_teams,
    open_now,
    reasons_by_day,
)
from leancrm_waste.read.improvements import judged_improvements
from leancrm_waste.read.params import TIME_MIN, parse_day
from leancrm_waste.read.timezone import SETTING, today_in, zone_name, zone_named
from leancrm_waste.settings import BusinessTimeSettings, CostSettings


class Format(StrEnum):
    """What ``--format`` prints."""

    text = "text"
    markdown = "markdown"
    json = "json"


class UnknownTeam(ValueError):
    """A ``--team`` the read model does not know."""


#: days of history read before the day (the signals' charts reach back this far)
HISTORY_DAYS = 365


def window(day: date, baseline: tuple[date, date] | None = None) -> tuple[date, date]:
    """The first and last day the report reads: a year before ``day`` (or from the
    stated baseline, when it starts earlier) to ``day``; never before the read model's
    first day."""
    first = max(day - timedelta(days=HISTORY_DAYS), TIME_MIN.date())
    if baseline is not None:
        first = min(first, baseline[0])
    return first, max(day, baseline[1]) if baseline is not None else day


async def read_figures(conn: asyncpg.Connection, day: date, scope: DailyScope = ALL,
                       baseline: tuple[date, date] | None = None) -> dict[str, Any]:
    """Everything the report needs, in one snapshot of the read model."""
    first, last = window(day, baseline)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        days = await daily_figures(conn, first, last, scope)
        reason_days = [day] + [day - timedelta(weeks=k) for k in range(1, LOOKBACK_WEEKS + 1)]
        if baseline is not None:
            reason_days += [d for d in days if baseline[0] <= d <= baseline[1]]
        reasons = await reasons_by_day(conn, reason_days, scope)
        now = await open_now(conn, scope)
        # every improvement started by the day and not abandoned: running, or adopted and
        # still watched for a fading gain (huddle/improvements.py)
        judged = await judged_improvements(conn, day, since=TIME_MIN.date(), abandoned=False,
                                           zone=scope.zone)
    return {"day": day, "days": days, "reasons": reasons, "open_now": now, "scope": scope,
            "improvements": judged}


class SpanTooLong(ValueError):
    """A ``--baseline`` so far from the day that the report would read too many days."""


def check_window(day: date, baseline: tuple[date, date] | None) -> None:
    """A :class:`SpanTooLong` unless the report's :func:`window` stays within MAX_DAYS."""
    first, last = window(day, baseline)
    if (last - first).days + 1 > MAX_DAYS:
        raise SpanTooLong(f"the report would read {first} to {last}: keep the baseline within "
                          f"{MAX_DAYS - HISTORY_DAYS - 1} days of --day")


#: the zone the read model cuts its days in (contract section 6, waste.business_time_zone)
_ZONE_SQL = "SELECT time_zone FROM waste.business_time_zone"


async def read_zone(conn: asyncpg.Connection) -> ZoneInfo | None:
    """The business time zone the views cut their days in, or None when the read model
    does not say (one older than waste.business_time_zone)."""
    try:
        name = await conn.fetchval(_ZONE_SQL)
    except asyncpg.UndefinedTableError:
        return None
    return zone_named(name) if name else None


def settings_zone() -> tuple[ZoneInfo, bool]:
    """LEANCRM_BUSINESS_TIMEZONE (default UTC), and whether it is set."""
    return BusinessTimeSettings().business_zone, bool(os.environ.get(SETTING))


async def load(dsn: str, day: date | None, scope: DailyScope = ALL,
               baseline: tuple[date, date] | None = None, *,
               zone: tzinfo | None = None, warn: Callable[[str], None] = lambda _: None
               ) -> dict[str, Any]:
    """The figures of ``day`` (default: yesterday in the business time zone) and its
    history, read on one connection, in ``zone`` (default: the read model's zone, so the
    huddle's days are the views' and the dashboard's; else LEANCRM_BUSINESS_TIMEZONE).
    A team the read model does not know is an :class:`UnknownTeam` naming the known ones;
    ``warn`` hears of a LEANCRM_BUSINESS_TIMEZONE that is not the read model's zone."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET statement_timeout = '120s'")
        if zone is None:
            configured, explicit = settings_zone()
            zone = await read_zone(conn)
            if zone is None:
                zone = configured
            elif explicit and zone_name(configured) != zone_name(zone):
                warn(f"note: {SETTING}={zone_name(configured)} is not the read model's time zone "
                     f"{zone_name(zone)} (the waste service's): days are cut in {zone_name(zone)}, as "
                     "the views and the dashboard cut them; pass --time-zone to choose another")
        the_day = day or yesterday(zone=zone)
        check_window(the_day, baseline)
        scope = replace(scope, zone=zone)
        if scope.teams:
            known = await known_teams(conn)
            unknown = [t for t in scope.teams if t not in known]
            if unknown:
                raise UnknownTeam(f"unknown team {', '.join(unknown)} (known: "
                                 f"{', '.join(known) or 'none yet'})")
        return await read_figures(conn, the_day, scope, baseline)
    finally:
        await conn.close()


def parse_baseline(text: str) -> tuple[date, date]:
    """``FROM:TO`` (days YYYY-MM-DD, inclusive) → (from, to)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError("--baseline must be FROM:TO, two days YYYY-MM-DD, e.g. 2026-11-02:2026-11-22")
    first, last = parse_day(parts[0]), parse_day(parts[1])
    if last < first:
        raise ValueError(f"--baseline ends ({last}) before it starts ({first})")
    if (last - first).days > 2 * HISTORY_DAYS:
        raise ValueError(f"--baseline spans at most {2 * HISTORY_DAYS} days")
    return first, last


def yesterday(now: datetime | None = None, zone: tzinfo = UTC) -> date:
    """The day before ``now`` (default: the current time) in ``zone`` (default UTC)."""
    return today_in(zone, now) - timedelta(days=1)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def huddle(
    day: Annotated[str | None, typer.Option(
        "--day", help="Day to review in the business time zone, YYYY-MM-DD (default: yesterday "
                      "there)")] = None,
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
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help=f"Only these channels (repeatable): {', '.join(CHANNELS)}")] = None,
    team: Annotated[list[str] | None, typer.Option(
        "--team", help="Only these agent teams (repeatable)")] = None,
    min_contacts: Annotated[int, typer.Option(
        "--min-contacts", min=1, help="A day (and a baseline day) with fewer contacts is not judged")
    ] = MIN_CONTACTS,
    min_reason_contacts: Annotated[int, typer.Option(
        "--min-reason-contacts", min=1, help="Reasons with fewer contacts that day are not ranked")
    ] = MIN_REASON_CONTACTS,
    weeks: Annotated[int, typer.Option(
        "--weeks", min=1, max=LOOKBACK_WEEKS, help="Same weekdays in the comparison baseline")
    ] = COMPARE_WEEKS,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", help="A stated baseline FROM:TO (days, inclusive) instead of the same "
                           "weekdays; also the baseline of the signals' limits")] = None,
    time_zone: Annotated[str | None, typer.Option(
        "--time-zone", show_default=False,
        help="The business time zone (IANA name, e.g. Europe/Berlin) to cut days in; default: the "
             "read model's (waste.business_time_zone: the waste service's LEANCRM_BUSINESS_TIMEZONE), "
             "so the huddle's days are the views' and the dashboard's")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", envvar="LEANCRM_DATABASE_URL", show_default=False,
        help="PostgreSQL DSN (default: LEANCRM_DATABASE_URL)")] = None,
) -> None:
    """The daily huddle report: each waste per contact and each key rate of a day against
    the same weekday of recent weeks, signals of the key rates, what is still open, the
    top three wastes by cost in seconds and the worst reasons by failure demand."""
    try:
        zone = zone_named(time_zone) if time_zone is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--time-zone") from None
    try:
        settings_zone()
    except ValidationError as exc:
        typer.echo(f"{SETTING}: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None
    the_day = _day(day)
    unknown = [c for c in channel or [] if c not in CHANNELS]
    if unknown:
        raise typer.BadParameter(f"unknown channel {', '.join(unknown)} (known: {', '.join(CHANNELS)})",
                                 param_hint="--channel")
    try:
        stated = parse_baseline(baseline) if baseline else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--baseline") from None
    try:
        if the_day is not None:  # else once the zone, and so yesterday, is known
            check_window(the_day, stated)
    except SpanTooLong as exc:
        raise typer.BadParameter(str(exc), param_hint="--baseline") from None
    scope = DailyScope(tuple(dict.fromkeys(channel or [])), tuple(dict.fromkeys(team or [])))
    try:
        costs = cost_table(CostSettings().waste_cost_seconds, parse_costs(",".join(cost or [])))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cost") from None
    if not database_url:
        typer.echo("LEANCRM_DATABASE_URL is not set: point it at the database holding schema waste "
                   "(or pass --database-url).", err=True)
        raise typer.Exit(2)
    try:
        figures = asyncio.run(load(database_url, the_day, scope, stated, zone=zone,
                                   warn=lambda words: typer.echo(words, err=True)))
    except SpanTooLong as exc:
        typer.echo(f"Invalid value for '--baseline': {exc}", err=True)
        raise typer.Exit(2) from None
    except UnknownTeam as exc:
        typer.echo(f"Invalid value for '--team': {exc}", err=True)
        raise typer.Exit(2) from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        typer.echo(f"cannot read the waste read model: {exc}", err=True)
        raise typer.Exit(1) from None
    report = build_report(figures, costs, target_occupancy, top_reasons, min_contacts=min_contacts,
                          min_reason_contacts=min_reason_contacts, weeks=weeks, baseline=stated)
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
