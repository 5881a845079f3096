"""The kit is what production imports: it depends on no tool beside it (the simulator,
the development stack, the fault-injection harness) and finds no file by walking up its
own source tree (it may be installed anywhere)."""

from __future__ import annotations

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "src" / "leancrm_servicekit"
TOOLS = {"leancrm_simulator", "leancrm_devstack", "leancrm_chaos"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_kit_imports_no_tool() -> None:
    offending = {str(p.relative_to(KIT)): _imports(p) & TOOLS for p in KIT.rglob("*.py")}
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_kit_finds_no_file_above_its_own_package() -> None:
    for path in KIT.rglob("*.py"):
        text = path.read_text()
        assert ".parents[" not in text and "parent.parent" not in text, path
