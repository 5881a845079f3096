"""Contract section 6.1 states the signals' constants and names as the code has them."""

from __future__ import annotations

import re
from pathlib import Path

from leancrm_waste.domain import signals as xmr
from leancrm_waste.read.signals import MIN_CONTACTS, RATE_KEYS

TEXT = (Path(__file__).resolve().parents[4] / "docs" / "contract.md").read_text()


def test_section_6_1_says_what_the_code_does() -> None:
    match = re.search(r"^### 6\.1 .*?(?=^##+ \d|\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, "section 6.1 is missing"
    text = re.sub(r"\s+", " ", match.group(0))
    for key in RATE_KEYS:
        assert f"`{key}`" in text, key
    for rule in xmr.RULES:
        assert f"`{rule}`" in text, rule
    assert f"x̄ ± {xmr.SCALE} × m̄R" in text and f"x̄ ± {xmr.ZONE:.2f} × m̄R" in text
    assert f"first {xmr.DEFAULT_BASELINE_POINTS} days with a value" in text
    assert f"at least {xmr.MIN_BASELINE_POINTS} values" in text
    assert f"default {MIN_CONTACTS}" in text and xmr.RUN_LENGTH == 8 and "eight successive" in text
