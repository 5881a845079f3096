"""The huddle report as text (rich tables for the stand-up screen), Markdown (for a wiki
or chat) or JSON (for another system)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leancrm_waste.huddle import improvements
from leancrm_waste.huddle.report import same
from leancrm_waste.read.costs import MEASURED_IN_SECONDS
from leancrm_waste.read.shaping import jsonable

ARROWS = {"up": "▲", "down": "▼", "same": "=", None: "·"}


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
    return f"{x:,.0f}" if same(x, round(x)) else f"{x:,.1f}"


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _signed(text: str, x: float) -> str:
    sign = "±" if same(x, 0) else "+" if x > 0 else "−"
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
    if "improvements" in report:
        out += ["", *improvements.markdown_lines(report["improvements"])]
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
    if "improvements" in report:
        improvements.render_text(report["improvements"], console)
    console.print(_cost_note(report), style="dim")


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False)
