"""Every variable a service reads is in the README's Configuration table: a setting
nobody can find is one nobody sets (and the unknown-variable check's suggestions name
only documented variables)."""

from __future__ import annotations

from pathlib import Path

from leancrm_servicekit.environment import settings_classes, variables_of

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_setting_of_every_service_is_documented() -> None:
    text = README.read_text()
    table = text[text.index("## Configuration"):text.index("\n## ", text.index("## Configuration") + 1)]
    documented = {word.strip("`") for word in table.replace("/", " ").split() if word.startswith("`LEANCRM_")}
    variables = set().union(*(variables_of(cls) for cls in settings_classes()
                              if cls.__module__.startswith("leancrm_")))
    assert variables - documented == set()
