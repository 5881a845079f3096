"""The fault-injection suite, short: the same harness as ``scripts/chaos`` with small
numbers, on real processes, the embedded PostgreSQL and broker — every kind of fault
(SIGKILLs of consumers, relays and projectors, a PostgreSQL restart, a broker pause,
hostile records of every kind on command and event topics) while seeded traffic flows,
then: nothing lost, nothing duplicated, nothing stalled, every verdict right, the read
model equal to a rebuild and to the simulator's figures.

``LEANCRM_CHAOS_SEED`` picks another seed (default 11); the run's directory (logs, the
journal of faults, the records sent) is kept under pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from leancrm_chaos import config, malformed, processes, run

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def failures(report: dict[str, Any]) -> str:
    """What went wrong, shortly: each missed target and failed check with its first evidence."""
    lines = [f"run directory: {report['run_dir']}"]
    if report.get("harness_error"):
        lines.append(f"harness error: {report['harness_error'][-2000:]}")
    lines += [f"target {name}: {t['value']} (target {t['target']})"
              for name, t in report["targets"].items() if not t["ok"]]
    for check in report["checks"]:
        if check["ok"]:
            continue
        lines.append(f"check {check['name']}: {check['summary']}")
        shown = [e for e in check["evidence"] if e.get("problem") not in ("tally_by_kind", "log_excerpts")]
        lines += ["    " + json.dumps(e, default=str)[:700] for e in shown[:4]]
    return "\n".join(lines)


@pytest.mark.timeout(420)
async def test_nothing_lost_nothing_doubled_never_stalled(tmp_path: Path) -> None:
    cfg = config.RunConfig.ci(seed=int(os.environ.get("LEANCRM_CHAOS_SEED", "11")),
                          workdir=tmp_path / "chaos", report=tmp_path / "chaos.json")
    report = await run.run_chaos(cfg, Console(width=130, force_terminal=False))

    assert report["harness_error"] is None, failures(report)
    assert not report["interrupted"]
    # every kind of fault was injected
    injected = report["faults"]["injected"]
    assert injected["kill"] >= cfg.kills, report["faults"]
    assert set(report["faults"]["kills_by_kind"]) == set(processes.KINDS), report["faults"]
    assert injected["pg_restart"] == cfg.pg_restarts, report["faults"]
    assert injected["broker_pause"] == 1, report["faults"]
    assert injected["malformed"] == cfg.malformed, report["faults"]
    assert set(report["faults"]["malformed_by_kind"]) == {k.name for k in malformed.KINDS}
    assert report["traffic"]["sent"] == report["traffic"]["commands"] > 0
    # and the system came through: the targets of the long run, on a short one
    assert report["ok"], failures(report)
    assert json.loads((tmp_path / "chaos.json").read_text())["ok"]
