"""The report of a run: targets (0 lost, 0 duplicated, 0 stalls, every verdict right …),
faults injected by kind, recovery times after each fault (p50/p99), every check with
its evidence, and the services' notable log lines — as JSON and as tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .checks import Check, Totals
from .probes import Probe


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def recovery(probes: list[Probe], windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Time to recover after each fault: per fault (its slowest probe), per kind and overall.
    A fault whose recovery overlaps another fault says which (``overlapped_by``): its time
    includes that fault's."""
    per_fault: dict[tuple[str, float], list[Probe]] = {}
    for p in probes:
        per_fault.setdefault((p.fault, round(p.fault_ended_mono, 3)), []).append(p)
    faults: list[dict[str, Any]] = []
    for (fault, _), ps in per_fault.items():
        times = [p.recovery_s for p in ps]
        took = [t for t in times if t is not None]
        recovered = len(took) == len(times)
        end = ps[0].fault_end_s
        until = end + (max(took) if took else 0.0)
        overlapping = [f"{w['kind']} {w.get('target') or ''}".strip() for w in windows
                       if w["from_s"] < until and w["to_s"] > end + 0.001]
        faults.append({"fault": fault, "kind": ps[0].fault_kind, "ended_s": end,
                       "recovery_s": _r(max(took)) if recovered and took else None,
                       "stalled": not recovered, "overlapped_by": overlapping,
                       "probes": [p.as_dict() for p in ps]})
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({f["kind"] for f in faults}):
        of_kind = [f for f in faults if f["kind"] == kind]
        took_s: list[float] = [float(f["recovery_s"]) for f in of_kind if f["recovery_s"] is not None]
        kinds[kind] = {"faults": len(of_kind), "recovered": len(took_s),
                       "stalled": sum(1 for f in of_kind if f["stalled"]),
                       "p50_s": _r(percentile(took_s, 50)), "p99_s": _r(percentile(took_s, 99)),
                       "max_s": _r(max(took_s) if took_s else None)}
    after_faults = [float(f["recovery_s"]) for f in faults
                    if f["kind"] != "baseline" and f["recovery_s"] is not None]
    alone = [float(f["recovery_s"]) for f in faults if f["kind"] != "baseline"
             and f["recovery_s"] is not None and not f["overlapped_by"]]
    return {"p50_s": _r(percentile(after_faults, 50)), "p99_s": _r(percentile(after_faults, 99)),
            "alone_p50_s": _r(percentile(alone, 50)), "alone_p99_s": _r(percentile(alone, 99)),
            "faults_alone": len(alone),
            "max_s": _r(max(after_faults) if after_faults else None),
            "faults_measured": sum(1 for f in faults if f["kind"] != "baseline"),
            "by_kind": kinds, "per_fault": faults}


def targets(totals: Totals, checks: list[Check]) -> dict[str, dict[str, Any]]:
    by_name = {c.name: c for c in checks}

    def zero(value: int) -> dict[str, Any]:
        return {"value": value, "target": 0, "ok": value == 0}

    def passed(name: str) -> dict[str, Any]:
        c = by_name.get(name)
        return {"value": None if c is None else c.ok, "target": True,
                "ok": c is not None and c.ok}

    return {
        "records_lost": zero(totals.lost),
        "records_duplicated": zero(totals.duplicated),
        "stalls": zero(totals.stalls),
        "wrong_verdicts": zero(totals.wrong_verdicts),
        "events_from_malformed": zero(totals.phantom_events),
        "outboxes_empty": passed("outboxes_empty"),
        "lag_zero": passed("lag_zero"),
        "read_model_equals_rebuild": passed("read_model_equals_rebuild"),
        "read_model_equals_simulator": passed("read_model_equals_simulator"),
    }


def write(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False) + "\n")
    tmp.replace(path)


def render(console: Console, report: dict[str, Any]) -> None:
    t = Table(title=f"Chaos run, seed {report['seed']} — "
                    f"{'ALL TARGETS MET' if report['ok'] else 'TARGETS MISSED'}")
    t.add_column("target")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_column("", justify="center")
    for name, row in report["targets"].items():
        t.add_row(name.replace("_", " "), str(row["value"]), str(row["target"]),
                  "[green]✓[/]" if row["ok"] else "[bold red]✗[/]")
    console.print(t)

    f = Table(title="Faults injected")
    f.add_column("kind")
    f.add_column("injected", justify="right")
    f.add_column("recovered", justify="right")
    f.add_column("stalled", justify="right")
    f.add_column("p50 s", justify="right")
    f.add_column("p99 s", justify="right")
    f.add_column("max s", justify="right")
    rec = report["recovery"]["by_kind"]
    for kind, n in report["faults"]["injected"].items():
        r = rec.get(kind, {})
        f.add_row(kind, f"{n:,}", str(r.get("recovered", "–")), str(r.get("stalled", "–")),
                  _fmt(r.get("p50_s")), _fmt(r.get("p99_s")), _fmt(r.get("max_s")))
    if "baseline" in rec:
        r = rec["baseline"]
        f.add_row("(baseline, no fault)", "–", str(r["recovered"]), str(r["stalled"]),
                  _fmt(r["p50_s"]), _fmt(r["p99_s"]), _fmt(r["max_s"]))
    f.add_row("all faults", "", "", "", _fmt(report["recovery"]["p50_s"]),
              _fmt(report["recovery"]["p99_s"]), _fmt(report["recovery"]["max_s"]))
    f.add_row(f"faults with no other during recovery ({report['recovery']['faults_alone']})", "", "",
              "", _fmt(report["recovery"]["alone_p50_s"]), _fmt(report["recovery"]["alone_p99_s"]), "")
    console.print(f)

    c = Table(title="Checks")
    c.add_column("check")
    c.add_column("", justify="center")
    c.add_column("result", overflow="fold")
    for check in report["checks"]:
        c.add_row(check["name"], "[green]✓[/]" if check["ok"] else "[bold red]✗[/]",
                  check["summary"])
    console.print(c)
    exits = report["faults"]["unexpected_exits"]
    if exits:
        console.print(f"[bold red]{len(exits)} process exit(s) nobody asked for[/] "
                      f"(see unexpected_exits in the report): "
                      + ", ".join(f"{e['process']} code {e['exit_code']}" for e in exits[:8]))
    console.print(f"report: {report.get('report_path') or '(not written)'} · run directory: "
                  f"{report['run_dir']} · {report['wall_s']:.0f}s")


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"
