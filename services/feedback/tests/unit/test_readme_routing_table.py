"""The README shows the routing rule table exactly as the code has it."""

from __future__ import annotations

from pathlib import Path

from leancrm_feedback.domain.routing import routing_table_markdown

README = Path(__file__).resolve().parents[4] / "README.md"


def test_the_readme_shows_the_routing_table_of_the_code() -> None:
    table = routing_table_markdown().rstrip()
    assert table in README.read_text(), (
        "README.md's routing table is out of date: paste routing_table_markdown()'s output "
        "into the feedback service's section")
