"""The huddle's improvements: the countermeasures running on the day, and the adopted
gains — which hold and which are fading (contract section 6, ``waste.improvements``;
judged by :mod:`leancrm_waste.domain.improvements`).

A running improvement shows its effect so far: a signal on the expected side since a
day, no signal yet, or no baseline to judge it by. An adopted one is listed while its
gain holds or fades; a fading gain is called out apart, for the team to act on. Abandoned
improvements and adopted ones that never showed a signal are not listed. No I/O here:
the judged improvements come from :func:`leancrm_waste.read.improvements.judged_improvements`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leancrm_waste.domain.improvements import FRACTIONS
from leancrm_waste.read.improvements import Judged

TARGET_LABELS = {
    "fcr_rate": "first contact resolution", "failure_demand_rate": "failure demand",
    "transfer_rate": "transfers", "abandonment_rate": "abandonment",
    "flow_efficiency": "flow efficiency", "occupancy": "occupancy",
    "waiting_s_per_contact": "waiting per contact", "over_processing_per_contact":
    "over-processing per contact", "motion_per_contact": "motion per contact",
    "transportation_per_contact": "transportation per contact",
    "defects_per_contact": "defects per contact", "inventory_per_contact": "inventory per contact",
}


def _scope(row: Mapping[str, Any]) -> str:
    parts = [str(row[k]) for k in ("channel", "reason", "team") if row.get(k)]
    return ", ".join(parts) if parts else "whole centre"


def _value(target: str, v: float | None) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f} %" if target in FRACTIONS else f"{v:,.2f}"


def improvements_block(judged: Sequence[Judged], day: date) -> dict[str, Any]:
    """The improvements part of the report as plain data: ``running``, ``adopted`` (gain
    holding or fading) and ``fading`` (the adopted ones whose gain is fading)."""
    running, adopted = [], []
    for j in judged:
        r, e = j.row, j.evaluation
        target = str(r["target"])
        item = {
            "improvement_id": r["improvement_id"], "title": r["title"], "target": target,
            "target_label": TARGET_LABELS.get(target, target), "scope": _scope(r),
            "starts_on": r["starts_on"], "owner_team": r["owner_team"],
            "expected": f"{r['expected_direction']} by {_value(target, r['expected_size'])}",
            "expected_short": ("↓ " if r["expected_direction"] == "decrease" else "↑ ")
            + _value(target, r["expected_size"]),
            "status": r["status"], "ended_on": r["ended_on"], "effect": e.effect,
            "first_signal_on": e.first_signal_on, "gain": e.gain,
            "centre": e.limits.centre if e.limits else None,
            "limits": (e.limits.lower, e.limits.upper) if e.limits else None,
            "latest": e.latest, "days_running": (day - r["starts_on"]).days + 1,
        }
        if r["status"] == "running":
            running.append(item)
        elif r["status"] == "adopted" and e.gain is not None:
            adopted.append(item)
    return {"running": running, "adopted": adopted,
            "fading": [a for a in adopted if a["gain"] == "fading"]}


def effect_words(item: Mapping[str, Any]) -> str:
    if item["effect"] == "signal":
        return f"signal since {item['first_signal_on']:%-d %b}"
    if item["effect"] == "no baseline":
        return "no baseline (fewer than 6 days with data before the start)"
    return "no signal yet"


def _was_now(item: Mapping[str, Any]) -> str:
    t = item["target"]
    limits = item["limits"]
    old = (f"old centre {_value(t, item['centre'])}, limits {_value(t, limits[0])}–"
           f"{_value(t, limits[1])}" if limits else "no old limits")
    return f"latest {_value(t, item['latest'])}; {old}"


def markdown_lines(block: Mapping[str, Any]) -> list[str]:
    out = ["## Improvements", ""]
    if block["fading"]:
        out += ["**Fading gains** (adopted, but the latest values are back within the old limits):", ""]
        out += [f"- **{f['title']}** ({f['target_label']}, {f['scope']}; adopted {f['ended_on']}): "
                f"{_was_now(f)}" for f in block["fading"]]
        out.append("")
    if block["running"] or block["adopted"]:
        out += ["| improvement | target | scope | since | owner | expected | effect | |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for i in [*block["running"], *block["adopted"]]:
            state = "running" if i["status"] == "running" else f"adopted — gain {i['gain']}"
            out.append(f"| {i['title']} | {i['target_label']} | {i['scope']} | {i['starts_on']} | "
                       f"{i['owner_team']} | {i['expected']} | {effect_words(i)} ({_was_now(i)}) | "
                       f"{state} |")
    else:
        out.append("No improvement running, and no adopted gain to watch.")
    out.append("")
    return out


def render_text(block: Mapping[str, Any], console: Console) -> None:
    t = Table(title="Improvements", box=box.SIMPLE_HEAVY, title_justify="left")
    for name, ratio in (("improvement", 3), ("target (scope)", 2), ("since", 1), ("expected", 1),
                        ("effect", 3), ("", 1)):
        t.add_column(name, ratio=ratio)
    for i in [*block["running"], *block["adopted"]]:
        state = ("running" if i["status"] == "running"
                 else f"[{'red' if i['gain'] == 'fading' else 'green'}]adopted: {i['gain']}[/]")
        effect = effect_words(i)
        if i["effect"] == "signal":
            effect = f"[green]{effect}[/]"
        t.add_row(f"{escape(str(i['title']))} [dim]({i['owner_team']})[/]",
                  f"{i['target_label']} ({i['scope']})", f"{i['starts_on']:%-d %b}",
                  i["expected_short"], f"{effect}: {_was_now(i)}", state)
    if not block["running"] and not block["adopted"]:
        t.add_row("no improvement running", "", "", "", "", "")
    console.print(t)
    for f in block["fading"]:
        console.print(f"[bold red]Fading gain:[/] {escape(str(f['title']))} ({f['target_label']}, "
                      f"{f['scope']}; "
                      f"adopted {f['ended_on']}) — {_was_now(f)}")
