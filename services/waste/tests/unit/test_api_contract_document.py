"""docs/contract.md section 6a (the HTTP API) says what the API does: its endpoints,
units and rounding, periods, breakdown dimensions and formats, and section 6 names the
business time zone's setting. Pure: reads the document and the code's constants."""

from __future__ import annotations

import re
from pathlib import Path

from leancrm_waste.read.catalogue import BREAKDOWN_BY, FORMATS, PERIODS
from leancrm_waste.read.openapi import openapi_document
from leancrm_waste.read.shaping import FRACTION_DECIMALS, SECONDS_DECIMALS
from leancrm_waste.read.timezone import DEFAULT_ZONE_NAME, SETTING

DOCUMENT = Path(__file__).resolve().parents[4] / "docs" / "contract.md"
TEXT = DOCUMENT.read_text(encoding="utf-8")


def section(number: str) -> str:
    match = re.search(rf"^##+ {re.escape(number)}\s.*?(?=^##+ \d|\Z)", TEXT, re.MULTILINE | re.DOTALL)
    assert match, f"section {number} is missing from {DOCUMENT}"
    return re.sub(r"\s+", " ", match.group(0))


def test_section_6a_names_every_endpoint_unit_period_and_format() -> None:
    text = section("6a.")
    for path in ("GET /api/v1/<view>", "/api/v1/summary", "/api/v1/breakdown", "/api/v1/lag",
                 "/api/v1/openapi.json"):
        assert f"`{path}" in text, path
    assert "`/api/v1` lists the URL of every endpoint" in text
    assert set(openapi_document()["paths"]) >= {"/api/v1/summary", "/api/v1/breakdown", "/api/v1/lag"}
    assert f"seconds to 0.{'0' * (SECONDS_DECIMALS - 1)}1 s" in text
    assert f"to {FRACTION_DECIMALS} decimals" in text and "fractions from 0 to 1" in text
    for name in PERIODS:
        assert f"`{name}`" in text, name
    assert "by=" + "|".join(BREAKDOWN_BY) in text
    assert all(f in text for f in FORMATS) and "`Accept: text/csv`" in text


def test_section_6_says_days_are_the_business_time_zones() -> None:
    text = section("6.")
    assert f"`{SETTING}`, default `{DEFAULT_ZONE_NAME}`" in text
    assert "Every `day` column is a calendar day of the business time zone" in text
