"""The deployment files stay in step with the code (no Docker or cluster needed).

What these catch: an image missing a dependency the code imports, or pinning another
version than the one the suite tests; a new package the image does not install; a
misspelt LEANCRM_* variable (the settings ignore unknown ones silently); a command
naming a module that does not exist. `deploy/check` validates the files themselves
(hadolint, the Compose and Kubernetes schemas, the image's install steps).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import re
import sys
from pathlib import Path

from leancrm_waste.settings import WasteSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
FIRST_PARTY = {"leancrm_contracts", "leancrm_servicekit", "leancrm_customers", "leancrm_interactions",
               "leancrm_feedback", "leancrm_improvements", "leancrm_waste", "leancrm_simulator",
               "leancrm_devstack", "leancrm_chaos"}
#: packages under tools/ for developers only (the development stack with its embedded
#: PostgreSQL and broker, the fault-injection harness), never installed in the image
DEVELOPMENT_TOOLS = {"chaos", "devstack"}


def _requirements(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[\[=<>!~ ;]", line, maxsplit=1)[0]
            out[_canonical(name)] = line
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _packages() -> list[Path]:
    """Every installable package of the repository (a folder with a pyproject.toml)."""
    candidates = [ROOT / "contracts", ROOT / "servicekit",
                  *sorted((ROOT / "services").iterdir()),
                  *sorted(p for p in (ROOT / "tools").iterdir() if p.name not in DEVELOPMENT_TOOLS)]
    return [p for p in candidates if (p / "pyproject.toml").is_file()]


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` need, themselves included (as installed here)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req and "extra == \"kafka\"" not in req:
                continue  # only the extras the runtime asks for (faststream[kafka])
            todo.append(re.split(r"[\[=<>!~ ;(]", req, maxsplit=1)[0])
    return seen


def test_the_image_pins_what_the_suite_tests() -> None:
    runtime = _requirements(DEPLOY / "requirements-runtime.txt")
    everything = _requirements(ROOT / "requirements.txt")
    for name, line in runtime.items():
        assert everything.get(name) == line, (
            f"deploy/requirements-runtime.txt has {line!r}, requirements.txt {everything.get(name)!r}")


def test_the_image_has_every_dependency_the_code_imports() -> None:
    provided = _closure(set(_requirements(DEPLOY / "requirements-runtime.txt")))
    dists = md.packages_distributions()
    missing: dict[str, set[str]] = {}
    for package in _packages():
        for path in (package / "src").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in FIRST_PARTY or top == "__future__":
                        continue
                    if not {_canonical(d) for d in dists.get(top, [top])} & provided:
                        missing.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    assert not missing, f"imported by the code but not installed by the image: {missing}"


def test_the_image_installs_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for package in _packages():
        rel = package.relative_to(ROOT).as_posix()
        assert f"/src/{rel}" in dockerfile, f"deploy/Dockerfile does not install {rel}"
        top = rel.split("/")[0]
        assert any(line.strip().rstrip("/") in (f"!{rel}", f"!{top}") for line in ignore), (
            f"deploy/Dockerfile.dockerignore leaves {rel} out of the build context")
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / source).exists(), f"deploy/Dockerfile copies {source}, which does not exist"


def _deploy_texts() -> dict[str, str]:
    files = [DEPLOY / "Dockerfile", DEPLOY / "compose.yaml", *sorted((DEPLOY / "kubernetes").glob("*.yaml"))]
    return {str(f.relative_to(ROOT)): f.read_text() for f in files}


def test_every_leancrm_variable_set_by_the_deploy_files_is_a_setting() -> None:
    settings = {f"LEANCRM_{name.upper()}" for name in WasteSettings.model_fields}
    init_script = (DEPLOY / "postgres" / "initdb.d" / "10-leancrm.sh").read_text()
    # deployment-only names: the image's service choice, and the PostgreSQL init script's input
    other = {"LEANCRM_SERVICE"} | set(re.findall(r"\$\{(LEANCRM_[A-Z_]+)", init_script))
    assigned = re.compile(r"^\s*(?:- name: |ENV )?(LEANCRM_[A-Z0-9_]+)(?::|=)", re.MULTILINE)
    seen = set()
    for name, text in _deploy_texts().items():
        for variable in assigned.findall(text):
            seen.add(variable)
            assert variable in settings | other, f"{name} sets {variable}, which no service reads"
    assert {"LEANCRM_KAFKA_BOOTSTRAP", "LEANCRM_DATABASE_URL", "LEANCRM_REPLICATION_FACTOR",
            "LEANCRM_HTTP_HOST"} <= seen


def test_every_command_names_a_runnable_module() -> None:
    for name, text in _deploy_texts().items():
        for module in set(re.findall(r"\"-m\", \"(leancrm_[a-z_]+)\"", text)):
            assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{name}: {module}"
    services = {"customers", "interactions", "feedback", "improvements", "waste"}
    compose = (DEPLOY / "compose.yaml").read_text()
    for service in services:
        assert f'"leancrm_{service}", "serve"' in compose
        assert (DEPLOY / "kubernetes" / f"{service}.yaml").is_file()
