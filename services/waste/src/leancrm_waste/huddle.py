"""The daily huddle report: Lean's morning meeting, from the waste read model.

``python -m leancrm_waste huddle [--day YYYY-MM-DD] [--format text|markdown|json]``
prints, for one UTC day (default: yesterday),

- each of the seven wastes and the key rates (first contact resolution, failure demand,
  flow efficiency, abandonment, occupancy) against the average of the previous seven
  days, with the direction of change (▲/▼) and whether that is better or worse: more
  waste, failure demand or abandonment is worse; more first contact resolution or flow
  efficiency is better; occupancy is better the closer it gets to the target;
- the top three wastes by cost in seconds (:data:`leancrm_waste.read.costs.DEFAULT_COST_SECONDS`);
- the worst reasons by failure demand (most repeat contacts, then highest rate).

Definitions: a waste's figure for a day is the quantity of its ledger rows that occurred
that day (seconds for waiting and overproduction, occurrences for the others); the rates
are those of ``waste.value_stream_daily`` over every channel and reason of the
interactions started that day; occupancy is Σ busy / Σ staffed of the day's hours. The
seven-day average is the mean of the daily figures over the previous seven days that
have any data (contacts, waste or staffing; how many is printed), so a report in the
first week of operation does not count days before it as zero; a rate's average is
over the days where it is defined.

Reads the public views through ``LEANCRM_DATABASE_URL`` (asyncpg).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

import asyncpg
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.read.costs import (
    COST_RATIONALE,
    MEASURED_IN_SECONDS,
    WASTE_WORDS,
    cost_table,
    parse_costs,
)
from leancrm_waste.read.params import parse_day
from leancrm_waste.read.shaping import jsonable, ratio
from leancrm_waste.read.views import huddle_figures
from leancrm_waste.settings import CostSettings

BASELINE_DAYS = 7
Better = Literal["up", "down", "target"]


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    label: str
    better: Better
    words: str


RATES: tuple[Rate, ...] = (
    Rate("fcr_rate", "First contact resolution", "up", "resolved at once: no transfer, no repeat"),
    Rate("failure_demand_rate", "Failure demand", "down",
         "contacts that repeat one of the last 7 days"),
    Rate("flow_efficiency", "Flow efficiency", "up", "value-added time ÷ lead time"),
    Rate("abandonment_rate", "Abandonment", "down", "customers who gave up"),
    Rate("occupancy", "Occupancy", "target", "busy ÷ staffed time; best at the target"),
)

#: waste types ▲ = worse; listed in the order of the report
REPORT_WASTES: tuple[str, ...] = ("waiting", "overproduction", "over_processing", "motion",
                                  "transportation", "defects", "inventory")
ARROWS = {"up": "▲", "down": "▼", "same": "=", None: "·"}


def _mean(values: Sequence[float | None]) -> tuple[float | None, int]:
    got = [v for v in values if v is not None]
    return (sum(got) / len(got), len(got)) if got else (None, 0)


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(value: float | None, baseline: float | None, better: Better,
            target: float | None = None) -> tuple[str | None, str | None]:
    """(direction up/down/same, assessment better/worse/same); None when not comparable."""
    if value is None or baseline is None:
        return None, None
    direction = "same" if _same(value, baseline) else "up" if value > baseline else "down"
    if better == "target" and target is not None:
        now, before = abs(value - target), abs(baseline - target)
        return direction, "same" if _same(now, before) else "better" if now < before else "worse"
    if direction == "same":
        return direction, "same"
    return direction, "better" if (direction == better) else "worse"


def _rates_of(flow: Mapping[str, Any] | None, cap: Mapping[str, float] | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {r.key: None for r in RATES}
    if flow:
        for r in RATES[:4]:
            out[r.key] = flow.get(r.key)
    if cap:
        out["occupancy"] = ratio(cap.get("busy_s"), cap.get("staffed_s"))
    return out


def build_report(figures: Mapping[str, Any], costs: Mapping[str, float], target: float,
                 top_reasons: int = 5) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    day: date = figures["day"]
    before = [day - timedelta(days=k) for k in range(BASELINE_DAYS, 0, -1)]
    wastes: Mapping[date, Mapping[str, float]] = figures["wastes"]
    flow: Mapping[date, Mapping[str, Any]] = figures["flow"]
    cap: Mapping[date, Mapping[str, float]] = figures["capacity"]

    def has_data(d: date) -> bool:
        return bool(flow.get(d, {}).get("contacts")) or bool(wastes.get(d)) or bool(
            cap.get(d, {}).get("staffed_s"))

    active = [d for d in before if has_data(d)]

    def waste_of(d: date) -> dict[str, float]:
        w = wastes.get(d, {})
        return {t: float(w.get(t, 0.0)) for t in WASTE_TYPES}

    today_w = waste_of(day)
    waste_rows: list[dict[str, Any]] = []
    for w in REPORT_WASTES:
        base, n = _mean([waste_of(d)[w] for d in active])
        direction, assessment = compare(today_w[w], base, "down")
        change = today_w[w] - base if base is not None else None
        waste_rows.append({
            "waste_type": w, "words": WASTE_WORDS[w],
            "unit": "seconds" if w in MEASURED_IN_SECONDS else "count",
            "value": today_w[w], "baseline": base, "baseline_days": n, "change": change,
            "change_ratio": change / base if change is not None and base else None,
            "direction": direction, "assessment": assessment,
            "cost_s": today_w[w] * costs[w],
        })

    today_r = _rates_of(flow.get(day), cap.get(day))
    rate_rows: list[dict[str, Any]] = []
    for r in RATES:
        base, n = _mean([_rates_of(flow.get(d), cap.get(d))[r.key] for d in active])
        value = today_r[r.key]
        direction, assessment = compare(value, base, r.better, target)
        rate_rows.append({
            "rate": r.key, "label": r.label, "words": r.words, "value": value, "baseline": base,
            "baseline_days": n, "change": value - base if value is not None and base is not None else None,
            "direction": direction, "assessment": assessment,
            "better": {"up": "higher", "down": "lower", "target": f"closer to {target:g}"}[r.better],
        })

    total_cost = sum(w["cost_s"] for w in waste_rows)
    ranked = sorted((w for w in waste_rows if w["cost_s"] > 0),
                    key=lambda w: (-w["cost_s"], WASTE_TYPES.index(w["waste_type"])))
    top = [{"rank": i + 1, "waste_type": w["waste_type"], "cost_s": w["cost_s"],
            "share": ratio(w["cost_s"], total_cost), "quantity": w["value"],
            "unit": w["unit"], "cost_per_unit_s": costs[w["waste_type"]]}
           for i, w in enumerate(ranked[:3])]

    reason_rows = [r for r in figures["reasons"] if r["day"] == day and r["failure_demand"] > 0]
    reason_rows.sort(key=lambda r: (-r["failure_demand"], -(r["failure_demand_rate"] or 0), r["reason"]))
    reasons = []
    for r in reason_rows[:top_reasons]:
        base, n = _mean([x["failure_demand_rate"] for x in figures["reasons"]
                         if x["reason"] == r["reason"] and x["day"] in active])
        reasons.append({"reason": r["reason"], "failure_demand": r["failure_demand"],
                        "contacts": r["contacts"], "failure_demand_rate": r["failure_demand_rate"],
                        "baseline_rate": base, "baseline_days": n})

    return {
        "day": day,
        "baseline": {"from": before[0], "to": before[-1], "days_with_data": len(active),
                     "days": active},
        "has_data": has_data(day),
        "target_occupancy": target,
        "wastes": waste_rows,
        "rates": rate_rows,
        "total_cost_s": total_cost,
        "top_wastes_by_cost": top,
        "worst_reasons": reasons,
        "cost_seconds": dict(costs),
        "cost_table": [{"waste_type": w, "seconds_per_unit": costs[w], "why": COST_RATIONALE[w]}
                       for w in REPORT_WASTES],
    }


# --------------------------------------------------------------------------------------
# Rendering


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    a = abs(s)
    if a < 60:
        return f"{s:,.0f} s"
    if a < 3600:
        return f"{s / 60:,.1f} min"
    return f"{s / 3600:,.1f} h"


def fmt_count(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:,.0f}" if _same(x, round(x)) else f"{x:,.1f}"


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _signed(text: str, x: float) -> str:
    sign = "±" if _same(x, 0) else "+" if x > 0 else "−"
    return sign + text.lstrip("-")


def fmt_waste(row: Mapping[str, Any], key: str) -> str:
    v = row[key]
    return fmt_seconds(v) if row["unit"] == "seconds" else fmt_count(v)


def fmt_waste_change(row: Mapping[str, Any]) -> str:
    c = row["change"]
    if c is None:
        return "–"
    text = _signed(fmt_seconds(abs(c)) if row["unit"] == "seconds" else fmt_count(abs(c)), c)
    ratio = row["change_ratio"]
    if ratio is not None:
        text += " (" + _signed(f"{abs(100 * ratio):.0f} %", ratio) + ")"
    return text


def fmt_rate_change(row: Mapping[str, Any]) -> str:
    c = row["change"]
    return "–" if c is None else _signed(f"{abs(100 * c):.1f} pp", c)


def verdict(row: Mapping[str, Any]) -> str:
    if row["direction"] is None:
        return "· no comparison"
    return f"{ARROWS[row['direction']]} {row['assessment']}"


def fmt_day(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B %Y}"


def subtitle(report: Mapping[str, Any]) -> str:
    b = report["baseline"]
    return (f"Against the average of the previous seven days ({b['from']} to {b['to']}; "
            f"{b['days_with_data']} with data). ▲/▼ is the direction of change; better or worse "
            "is what it means for the customer and the team.")


def how(top: Mapping[str, Any]) -> str:
    if top["unit"] == "seconds":
        return f"{top['quantity']:,.0f} s measured"
    return f"{fmt_count(top['quantity'])} × {top['cost_per_unit_s']:g} s"


def render_markdown(report: Mapping[str, Any]) -> str:
    day: date = report["day"]
    out = [f"# Huddle — {fmt_day(day)} (UTC)", "", subtitle(report), ""]
    if not report["has_data"]:
        out += ["**No contacts, waste or staffing recorded on this day.**", ""]
    out += ["## The seven wastes", "",
            "| waste | what it is here | day | 7-day average | change | |",
            "| --- | --- | ---: | ---: | ---: | --- |"]
    for w in report["wastes"]:
        out.append(f"| {w['waste_type']} | {w['words']} | {fmt_waste(w, 'value')} | "
                   f"{fmt_waste(w, 'baseline')} | {fmt_waste_change(w)} | {verdict(w)} |")
    out += ["", "## Key rates", "", "| rate | day | 7-day average | change | | better when |",
            "| --- | ---: | ---: | ---: | --- | --- |"]
    for r in report["rates"]:
        out.append(f"| {r['label']} | {fmt_pct(r['value'])} | {fmt_pct(r['baseline'])} | "
                   f"{fmt_rate_change(r)} | {verdict(r)} | {r['better']} |")
    out += ["", "## Top three wastes by cost", ""]
    if report["top_wastes_by_cost"]:
        for t in report["top_wastes_by_cost"]:
            out.append(f"{t['rank']}. **{t['waste_type']}** — {fmt_seconds(t['cost_s'])} "
                       f"({fmt_pct(t['share'])} of the day's {fmt_seconds(report['total_cost_s'])}): "
                       f"{how(t)}")
    else:
        out.append("No waste recorded on this day.")
    out += ["", "## Worst reasons by failure demand", ""]
    if report["worst_reasons"]:
        out += ["| reason | failure demand | contacts | rate | 7-day average rate |",
                "| --- | ---: | ---: | ---: | ---: |"]
        for r in report["worst_reasons"]:
            out.append(f"| {r['reason']} | {r['failure_demand']} | {r['contacts']} | "
                       f"{fmt_pct(r['failure_demand_rate'])} | {fmt_pct(r['baseline_rate'])} |")
    else:
        out.append("No failure demand on this day.")
    out += ["", _cost_note(report), ""]
    return "\n".join(out)


def _cost_note(report: Mapping[str, Any]) -> str:
    parts = [f"{w} {s:g} s" for w, s in report["cost_seconds"].items() if w not in MEASURED_IN_SECONDS]
    return ("Cost in seconds: waiting and overproduction as measured; each " + ", ".join(parts)
            + " (LEANCRM_WASTE_COST_SECONDS or --cost to change).")


def render_text(report: Mapping[str, Any], console: Console) -> None:
    day: date = report["day"]
    console.print(Text(f"Huddle — {fmt_day(day)} (UTC)", style="bold"))
    console.print(subtitle(report), style="dim")
    if not report["has_data"]:
        console.print("No contacts, waste or staffing recorded on this day.", style="bold yellow")

    def styled(row: Mapping[str, Any]) -> Text:
        style = {"better": "green", "worse": "red"}.get(row["assessment"] or "", "")
        return Text(verdict(row), style=style)

    t = Table(title="The seven wastes", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, justify in (("waste", "left"), ("what it is here", "left"), ("day", "right"),
                          ("7-day avg", "right"), ("change", "right"), ("", "left")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for w in report["wastes"]:
        t.add_row(w["waste_type"], w["words"], fmt_waste(w, "value"), fmt_waste(w, "baseline"),
                  fmt_waste_change(w), styled(w))
    console.print(t)

    r = Table(title="Key rates", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, justify in (("rate", "left"), ("day", "right"), ("7-day avg", "right"),
                          ("change", "right"), ("", "left"), ("better when", "left")):
        r.add_column(name, justify=justify)  # type: ignore[arg-type]
    for x in report["rates"]:
        r.add_row(x["label"], fmt_pct(x["value"]), fmt_pct(x["baseline"]), fmt_rate_change(x),
                  styled(x), x["better"])
    console.print(r)

    c = Table(title="Top three wastes by cost", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, justify in (("#", "right"), ("waste", "left"), ("cost", "right"), ("share", "right"),
                          ("how", "left")):
        c.add_column(name, justify=justify)  # type: ignore[arg-type]
    for top in report["top_wastes_by_cost"]:
        c.add_row(str(top["rank"]), top["waste_type"], fmt_seconds(top["cost_s"]), fmt_pct(top["share"]),
                  how(top))
    if not report["top_wastes_by_cost"]:
        c.add_row("", "no waste recorded", "", "", "")
    console.print(c)

    f = Table(title="Worst reasons by failure demand", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, justify in (("reason", "left"), ("failure demand", "right"), ("contacts", "right"),
                          ("rate", "right"), ("7-day avg rate", "right")):
        f.add_column(name, justify=justify)  # type: ignore[arg-type]
    for x in report["worst_reasons"]:
        f.add_row(x["reason"], str(x["failure_demand"]), str(x["contacts"]),
                  fmt_pct(x["failure_demand_rate"]), fmt_pct(x["baseline_rate"]))
    if not report["worst_reasons"]:
        f.add_row("no failure demand", "", "", "", "")
    console.print(f)
    console.print(_cost_note(report), style="dim")


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------------------
# Command line


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


async def load(dsn: str, day: date) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute("SET statement_timeout = '120s'")
        return await huddle_figures(conn, day, BASELINE_DAYS)
    finally:
        await conn.close()


def yesterday(now: datetime | None = None) -> date:
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
