"""The huddle report as text (rich tables for the stand-up screen), Markdown (for a wiki
or chat) or JSON (for another system). Units are the same everywhere: rates as
percentages, waiting in seconds (minutes, hours) per contact, counted wastes per 100
contacts, each beside its quantity and the day's contacts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leancrm_waste.huddle import improvements
from leancrm_waste.huddle.report import same
from leancrm_waste.read.costs import MEASURED_IN_SECONDS
from leancrm_waste.read.shaping import jsonable
from leancrm_waste.read.timezone import zone_named

ARROWS = {"up": "▲", "down": "▼", "same": "=", None: ""}


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


def fmt_quantity(row: Mapping[str, Any]) -> str:
    q = row["quantity"]
    return fmt_seconds(q) if row["unit"] == "seconds" else fmt_count(q)


def fmt_measure(row: Mapping[str, Any], key: str) -> str:
    """A waste's rate: seconds per contact, % of staffed time or per 100 contacts."""
    v = row[key]
    if v is None:
        return "–"
    m = row["measure"]
    if m == "per_contact_s":
        return f"{fmt_seconds(v)} per contact"
    if m == "share_of_staffed":
        return f"{fmt_pct(v)} of staffed"
    return f"{v:.1f} per 100"


def fmt_measure_change(row: Mapping[str, Any]) -> str:
    c = row["change"]
    if c is None:
        return "–"
    m = row["measure"]
    text = _signed(fmt_seconds(abs(c)) if m == "per_contact_s" else
                   f"{abs(100 * c):.1f} pp" if m == "share_of_staffed" else f"{abs(c):.1f}", c)
    ratio = row["change_ratio"]
    if ratio is not None:
        text += " (" + _signed(f"{abs(100 * ratio):.0f} %", ratio) + ")"
    return text


def fmt_rate(row: Mapping[str, Any], key: str) -> str:
    v = row[key]
    return fmt_seconds(v) if row["rate"] == "waiting_per_contact_s" else fmt_pct(v)


def fmt_parts(row: Mapping[str, Any]) -> str:
    """What a rate is of: "2 of 6 contacts", "1.2 h of 3.0 h staffed"."""
    num, den = row["numerator"], row["denominator"]
    if not den:
        return "–"
    return {
        "fcr_rate": lambda: f"{fmt_count(num)} of {fmt_count(den)} contacts",
        "failure_demand_rate": lambda: f"{fmt_count(num)} of {fmt_count(den)} contacts",
        "abandonment_rate": lambda: f"{fmt_count(num)} of {fmt_count(den)} contacts",
        "flow_efficiency": lambda: f"{fmt_seconds(num)} of {fmt_seconds(den)} lead time",
        "occupancy": lambda: f"{fmt_seconds(num)} of {fmt_seconds(den)} staffed",
        "waiting_per_contact_s": lambda: f"{fmt_seconds(num)} over {fmt_count(den)} contacts",
        "service_level": lambda: f"{fmt_count(num)} of {fmt_count(den)} offered in time",
    }[row["rate"]]()


def fmt_rate_change(row: Mapping[str, Any]) -> str:
    c = row["change"]
    if c is None:
        return "–"
    if row["rate"] == "waiting_per_contact_s":
        return _signed(fmt_seconds(abs(c)), c)
    return _signed(f"{abs(100 * c):.1f} pp", c)


def verdict(row: Mapping[str, Any]) -> str:
    """▲/▼ and better or worse, or why the day is not judged."""
    v = str(row["verdict"])
    if v in ("better", "worse", "same"):
        return f"{ARROWS[row['direction']]} {v}"
    return v


def fmt_signal(row: Mapping[str, Any]) -> str:
    """"signal, worse (a point outside the limits)", "within normal variation", or why neither."""
    s = row.get("signal")
    if not s:
        return "–"
    if s["verdict"] == "signal":
        return f"signal, {s['side']} ({'; '.join(s['rules_words'])})"
    return str(s["verdict"])


def fmt_day(d: date) -> str:
    return f"{d:%A} {d.day} {d:%B %Y}"


def title(report: Mapping[str, Any]) -> str:
    day: date = report["day"]
    scope = report["scope"]
    parts = [f"Huddle — {fmt_day(day)} ({report.get('time_zone') or 'UTC'})"]
    if scope["channel"]:
        parts.append("channel " + ", ".join(scope["channel"]))
    if scope["team"]:
        parts.append("team " + ", ".join(scope["team"]))
    return " · ".join(parts)


def volume_line(report: Mapping[str, Any]) -> str:
    v = report["volume"]
    text = f"Contacts: {v['contacts']:,}"
    if v["open"]:
        text += (f" ({v['open']:,} still open: "
                 + ", ".join(f"{c} {n:,}" for c, n in sorted(v["open_by_channel"].items())) + ")")
    return text + "."


def comparison_line(report: Mapping[str, Any]) -> str:
    c = report["comparison"]
    days = ", ".join(d.isoformat() if isinstance(d, date) else str(d) for d in c["days"])
    return (f"Compared with {c['words']}" + (f": {days}, {c['contacts']:,} contacts" if days else "")
            + f", pooled ({c['pooled']}). Wastes are rates per contact, so days of different "
            "volume compare fairly.")


def state_line(report: Mapping[str, Any]) -> str | None:
    if report["state"] == "ok":
        return None
    words = str(report["state_words"])
    return words[0].upper() + words[1:] + (
        " — no better or worse is called." if report["state"] != "no data" else "")


def how(top: Mapping[str, Any]) -> str:
    if top["unit"] == "seconds":
        return f"{top['quantity']:,.0f} s measured"
    return f"{fmt_count(top['quantity'])} × {top['cost_per_unit_s']:g} s"


def signals_line(report: Mapping[str, Any]) -> str | None:
    s = report.get("signals")
    return None if not s else str(s["words"])


def reasons_note(report: Mapping[str, Any]) -> str:
    n = report["reasons_left_out"]
    text = f"Only reasons with at least {report['min_reason_contacts']} contacts on the day are ranked"
    return text + (f" ({n} with failure demand left out)." if n else ".")


def _open_rows(report: Mapping[str, Any]) -> list[tuple[str, ...]]:
    o = report.get("open_now")
    if not o:
        return []
    return [(r["channel"], f"{r['<1h']:,}", f"{r['1-24h']:,}", f"{r['>24h']:,}", f"{r['open']:,}",
             f"{r['waiting_now']:,}", fmt_seconds(r["waiting_so_far_s"]) if r["waiting_now"] else "–")
            for r in o["rows"]]


OPEN_COLUMNS = ("channel", "<1h", "1-24h", ">24h", "open", "queued or on hold", "waiting so far")


def open_note(report: Mapping[str, Any]) -> str:
    o = report["open_now"]
    zone = report.get("time_zone") or "UTC"
    at = o["at"].astimezone(zone_named(zone)) if isinstance(o["at"], datetime) else o["at"]
    return (f"Open now ({at:%Y-%m-%d %H:%M} {zone}): {o['open']:,} contacts; {o['waiting_now']:,} "
            f"queued or on hold have waited {fmt_seconds(o['waiting_so_far_s'])} so far, which no "
            "closed figure counts yet.")


def render_markdown(report: Mapping[str, Any]) -> str:
    out = [f"# {title(report)}", "", volume_line(report), ""]
    state = state_line(report)
    if state:
        out += [f"**{state}**", ""]
    for note in report["scope"]["notes"]:
        out += [f"_{note[0].upper() + note[1:]}._", ""]
    out += [comparison_line(report), ""]
    out += ["## The seven wastes, per contact", "",
            "| waste | what it is here | quantity | day | baseline | change | |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for w in report["wastes"]:
        out.append(f"| {w['waste_type']} | {w['words']} | {fmt_quantity(w)} | {fmt_measure(w, 'value')} | "
                   f"{fmt_measure(w, 'baseline')} | {fmt_measure_change(w)} | {verdict(w)} |")
    out += ["", "## Key rates", ""]
    sl = signals_line(report)
    if sl:
        out += [sl, ""]
    out += ["| rate | day | of | baseline | change | signal | better when |",
            "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for r in report["rates"]:
        out.append(f"| {r['label']} | {fmt_rate(r, 'value')} | {fmt_parts(r)} | {fmt_rate(r, 'baseline')} | "
                   f"{fmt_rate_change(r)} | {fmt_signal(r)} | {r['better']} |")
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
        out += ["| reason | failure demand | contacts | rate | baseline rate |",
                "| --- | ---: | ---: | ---: | ---: |"]
        for r in report["worst_reasons"]:
            out.append(f"| {r['reason']} | {r['failure_demand']} | {r['contacts']} | "
                       f"{fmt_pct(r['failure_demand_rate'])} | {fmt_pct(r['baseline_rate'])} |")
    else:
        out.append("No reason with failure demand and enough contacts on this day.")
    out += ["", reasons_note(report)]
    if report.get("open_now"):
        out += ["", "## Open now", "", open_note(report), ""]
        rows = _open_rows(report)
        if rows:
            out += ["| " + " | ".join(OPEN_COLUMNS) + " |", "| --- |" + " ---: |" * (len(OPEN_COLUMNS) - 1)]
            out += ["| " + " | ".join(r) + " |" for r in rows]
    if report.get("improvements") is not None:
        out += ["", *improvements.markdown_lines(report["improvements"])]
    out += ["", _cost_note(report), ""]
    return "\n".join(out)


def _cost_note(report: Mapping[str, Any]) -> str:
    parts = [f"{w} {s:g} s" for w, s in report["cost_seconds"].items() if w not in MEASURED_IN_SECONDS]
    return ("Cost in seconds: waiting and overproduction as measured; each " + ", ".join(parts)
            + " (LEANCRM_WASTE_COST_SECONDS or --cost to change).")


def render_text(report: Mapping[str, Any], console: Console) -> None:
    console.print(Text(title(report), style="bold"))
    console.print(volume_line(report))
    state = state_line(report)
    if state:
        console.print(state, style="bold yellow")
    for note in report["scope"]["notes"]:
        console.print(note[0].upper() + note[1:] + ".", style="dim")
    console.print(comparison_line(report), style="dim")

    def styled(row: Mapping[str, Any]) -> Text:
        style = {"better": "green", "worse": "red"}.get(row["verdict"] or "", "yellow")
        return Text(verdict(row), style=style)

    t = Table(title="The seven wastes, per contact", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, justify in (("waste", "left"), ("what it is here", "left"), ("quantity", "right"),
                          ("day", "right"), ("baseline", "right"), ("change", "right"), ("", "left")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for w in report["wastes"]:
        t.add_row(w["waste_type"], w["words"], fmt_quantity(w), fmt_measure(w, "value"),
                  fmt_measure(w, "baseline"), fmt_measure_change(w), styled(w))
    console.print(t)

    r = Table(title="Key rates", box=box.SIMPLE_HEAVY, title_justify="left",
              caption=signals_line(report), caption_justify="left")
    for name, justify in (("rate", "left"), ("day", "right"), ("of", "left"), ("baseline", "right"),
                          ("change", "right"), ("signal", "left"), ("better when", "left")):
        r.add_column(name, justify=justify)  # type: ignore[arg-type]
    for x in report["rates"]:
        sig = fmt_signal(x)
        style = ("bold red" if "worse" in sig else "bold green") if sig.startswith("signal") else ""
        r.add_row(x["label"], fmt_rate(x, "value"), fmt_parts(x), fmt_rate(x, "baseline"),
                  fmt_rate_change(x), Text(sig, style=style), x["better"])
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

    f = Table(title="Worst reasons by failure demand", box=box.SIMPLE_HEAVY, title_justify="left",
              caption=reasons_note(report), caption_justify="left")
    for name, justify in (("reason", "left"), ("failure demand", "right"), ("contacts", "right"),
                          ("rate", "right"), ("baseline rate", "right")):
        f.add_column(name, justify=justify)  # type: ignore[arg-type]
    for x in report["worst_reasons"]:
        f.add_row(x["reason"], str(x["failure_demand"]), str(x["contacts"]),
                  fmt_pct(x["failure_demand_rate"]), fmt_pct(x["baseline_rate"]))
    if not report["worst_reasons"]:
        f.add_row("no reason with failure demand and enough contacts", "", "", "", "")
    console.print(f)

    if report.get("open_now"):
        o = Table(title="Open now", box=box.SIMPLE_HEAVY, title_justify="left",
                  caption=open_note(report), caption_justify="left")
        for name in OPEN_COLUMNS:
            o.add_column(name, justify="left" if name == "channel" else "right")
        for row in _open_rows(report):
            o.add_row(*row)
        if not report["open_now"]["rows"]:
            o.add_row("nothing open", *[""] * (len(OPEN_COLUMNS) - 1))
        console.print(o)
    if report.get("improvements") is not None:
        improvements.render_text(report["improvements"], console)
    console.print(_cost_note(report), style="dim")


def render_json(report: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False)
