"""The huddle's improvements block (huddle/improvements.py): running improvements with
their effect so far, adopted gains holding or fading, the fading ones called out — on
the hand-worked series of test_domain_improvements (centre 12, limits 7.744–16.256)."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from typing import Any

from rich.console import Console

from leancrm_waste.domain.improvements import evaluate
from leancrm_waste.huddle.improvements import improvements_block, markdown_lines, render_text
from leancrm_waste.read.improvements import Judged

BASELINE = [10.0, 12.0, 11.0, 13.0, 12.0, 14.0]
STARTS_ON = date(2026, 11, 7)
DAY = date(2026, 11, 14)


def judged(title: str, after: list[float], status: str, **row: Any) -> Judged:
    values = [*BASELINE, *after]
    first = STARTS_ON - timedelta(days=len(BASELINE))
    series = tuple((first + timedelta(days=i), v) for i, v in enumerate(values))
    base = {"improvement_id": uuid.uuid4(), "title": title, "target": "waiting_s_per_contact",
            "channel": "phone", "reason": "billing", "team": None, "starts_on": STARTS_ON,
            "owner_team": "billing", "expected_direction": "decrease", "expected_size": 3.0,
            "status": status, "ended_on": DAY if status != "running" else None, **row}
    e = evaluate(series, starts_on=STARTS_ON, direction="decrease", status=status)
    return Judged(base, e, series)


def block() -> dict[str, Any]:
    return improvements_block([
        judged("Works", [7.0, 7.5, 7.2], "running"),
        judged("Nothing", [12.5, 11.5, 12.2], "running", channel=None, reason=None),
        judged("Holds", [7.0, 7.5, 7.2, 7.1, 7.3, 7.0], "adopted"),
        judged("Fades [v2]", [7.0, 7.5, 7.2, 12.5, 11.5, 12.2, 11.8, 12.1], "adopted"),
        judged("Abandoned", [12.5], "abandoned"),
        judged("Adopted without a signal", [12.5], "adopted"),
    ], DAY)


def test_running_and_adopted_gains_are_listed_and_fading_ones_apart() -> None:
    b = block()
    assert [i["title"] for i in b["running"]] == ["Works", "Nothing"]
    assert [(i["title"], i["gain"]) for i in b["adopted"]] == [("Holds", "holding"),
                                                               ("Fades [v2]", "fading")]
    assert [i["title"] for i in b["fading"]] == ["Fades [v2]"]
    works, nothing = b["running"]
    assert (works["effect"], works["first_signal_on"], works["days_running"]) == (
        "signal", STARTS_ON, 8)
    assert (works["scope"], nothing["scope"]) == ("phone, billing", "whole centre")
    assert nothing["effect"] == "no signal yet" and works["expected"] == "decrease by 3.00"


def test_markdown_and_text_say_which_worked_and_which_fade() -> None:
    text = "\n".join(markdown_lines(block()))
    assert "**Fading gains**" in text and "- **Fades [v2]** (waiting per contact" in text
    assert "| Works | waiting per contact | phone, billing | 2026-11-07 | billing | decrease by 3.00 | " \
           "signal since 7 Nov (latest 7.20; old centre 12.00, limits 7.74–16.26) | running |" in text
    assert "| Holds |" in text and "adopted — gain holding" in text and "Abandoned" not in text
    out = io.StringIO()
    render_text(block(), Console(file=out, width=300))
    printed = out.getvalue()
    assert "Fading gain: Fades [v2]" in printed and "signal since 7 Nov" in printed
    empty = "\n".join(markdown_lines(improvements_block([], DAY)))
    assert "No improvement running" in empty
