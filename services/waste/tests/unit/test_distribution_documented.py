"""Contract section 6.2 states the period endpoints' parameters, fields and buckets as the
code has them."""

from __future__ import annotations

import re
from pathlib import Path

from leancrm_waste.domain.demand import LEAD_TIME_BUCKETS, UNKNOWN
from leancrm_waste.read.distribution import DEFAULT_DAYS, PARAMS
from leancrm_waste.read.openapi import distribution_paths
from leancrm_waste.read.params import SUMMARY_MAX_DAYS

TEXT = (Path(__file__).resolve().parents[4] / "docs" / "contract.md").read_text()


def section_6_2() -> str:
    match = re.search(r"^### 6\.2 .*?(?=^##+ \d|\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, "section 6.2 is missing"
    return re.sub(r"\s+", " ", match.group(0))


def hours(seconds: float) -> str:
    return f"{seconds / 86400:g} d" if seconds >= 86400 else f"{seconds / 3600:g} h"


def test_section_6_2_says_what_the_code_does() -> None:
    text = section_6_2()
    for path in distribution_paths():
        assert f"`GET {path}`" in text, path
    for name in PARAMS:
        assert f"`{name}`" in text, name
    assert f"last {DEFAULT_DAYS} days" in text and f"at most {SUMMARY_MAX_DAYS} days" in text
    for label, lower, upper in LEAD_TIME_BUCKETS:
        bounds = f"[{hours(lower) if lower else 0}, {hours(upper) if upper != float('inf') else '∞'})"
        assert f"`{label}` {bounds}" in text, (label, bounds)
    for field in ("contacts", "value_demand", "failure_demand", "failure_demand_share", "by_reason",
                  "by_channel", "total", "rows", "overall", "ended_interactions", "p50_lead_time_s",
                  "p85_lead_time_s", "p95_lead_time_s", "histogram", "open"):
        assert field in text, field
    assert f"`{UNKNOWN}`" in text and "percentile" in text and "**started**" in text and "**ended**" in text
