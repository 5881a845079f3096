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
from typing import Any

import yaml

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


# -- safe by default (issue 12): no default password, verify-full, a NetworkPolicy per
# service, non-root read-only containers, secrets only from secret stores --------------

SERVICES = ("customers", "interactions", "feedback", "improvements", "waste")
KUBERNETES = DEPLOY / "kubernetes"


def _manifests(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kubernetes() -> list[dict[str, Any]]:
    return [d for f in sorted(KUBERNETES.glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in _manifests(f)]


def _pod_specs() -> dict[str, dict[str, Any]]:
    """The pod template of every Deployment and Job, by name."""
    return {d["metadata"].get("name") or d["metadata"]["generateName"]: d["spec"]["template"]["spec"]
            for d in _kubernetes() if d["kind"] in ("Deployment", "Job")}


def test_compose_has_no_default_password_and_no_literal_secret() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    # every password variable is required (${VAR:?message}), none has a default (${VAR:-x})
    uses = re.findall(r"\$\{([A-Z_]*PASSWORD[A-Z_]*)(:?[-?=+]?)", compose)
    assert uses, "compose.yaml uses no password variable"
    assert all(op == ":?" for _, op in uses), [f"{v}{op}" for v, op in uses if op != ":?"]
    env_example = (DEPLOY / "env.example").read_text()
    for variable in {v for v, _ in uses}:
        assert re.search(rf"^{variable}=$", env_example, re.MULTILINE), (
            f"deploy/env.example does not list {variable} (empty, to be set)")
    # a DSN takes its password from a variable, never a literal
    for dsn in re.findall(r"postgres(?:ql)?://[^\s\"']+", compose):
        user_part = dsn.split("//", 1)[1].split("@", 1)[0]
        assert ":" not in user_part or user_part.split(":", 1)[1].startswith("${"), dsn
    for name, value in _compose_environment().items():
        if re.search(r"PASSWORD|SECRET|TOKEN", name):
            assert str(value).startswith("${") and ":?" in str(value), f"compose.yaml sets {name}={value!r}"


def _compose_environment() -> dict[str, Any]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    out: dict[str, Any] = {}
    for service in compose["services"].values():
        out.update(service.get("environment") or {})
    return out


def test_the_postgres_init_script_gets_every_password_it_takes() -> None:
    script = (DEPLOY / "postgres" / "initdb.d" / "10-leancrm.sh").read_text()
    sql = (DEPLOY / "postgres" / "leancrm-init.sql").read_text()
    taken = set(re.findall(r":\{\?([a-z_]+_password)\}", sql))
    given = set(re.findall(r"-v ([a-z_]+_password)=\"\$\{LEANCRM_[A-Z_]+:\?\}\"", script))
    assert taken == given, f"the init script takes {sorted(taken)}, 10-leancrm.sh gives {sorted(given)}"
    compose_env = _compose_environment()
    for variable in re.findall(r"\$\{(LEANCRM_[A-Z_]+_PASSWORD):\?\}", script):
        assert variable in compose_env, f"compose.yaml does not pass {variable} to PostgreSQL"


def test_compose_runs_each_service_hardened_after_its_migrations_as_the_owner() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in SERVICES:
        service, migration = services[name], services[f"{name}-migrate"]
        assert migration["command"] == ["python", "-m", f"leancrm_{name}", "migrate"]
        assert f"://{name}_owner:" in migration["environment"]["LEANCRM_DATABASE_URL"]
        assert f"://{name}:" in service["environment"]["LEANCRM_DATABASE_URL"]
        assert "LEANCRM_MIGRATION_DATABASE_URL" not in service["environment"]
        assert service["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        for s in (service, migration):
            assert s["read_only"] is True and s["cap_drop"] == ["ALL"]
            assert "no-new-privileges:true" in s["security_opt"]


def test_every_kubernetes_pod_runs_non_root_read_only_without_capabilities() -> None:
    pods = _pod_specs()
    assert {f"leancrm-{s}" for s in SERVICES} <= set(pods)
    for name, pod in pods.items():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] != 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            c = container["securityContext"]
            where = f"{name}/{container['name']}"
            assert c["allowPrivilegeEscalation"] is False, where
            assert c["readOnlyRootFilesystem"] is True, where
            assert c["capabilities"]["drop"] == ["ALL"] and not c["capabilities"].get("add"), where
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image runs as root"


def test_every_kubernetes_service_migrates_as_its_owner_and_runs_as_its_own_role() -> None:
    pods = _pod_specs()
    for service in SERVICES:
        pod = pods[f"leancrm-{service}"]
        (init,) = pod["initContainers"]
        assert init["command"] == ["python", "-m", f"leancrm_{service}", "migrate"]
        assert _secret_key(init, "LEANCRM_DATABASE_URL") == ("leancrm-database", f"{service}-owner")
        (main,) = pod["containers"]
        assert _secret_key(main, "LEANCRM_DATABASE_URL") == ("leancrm-database", service)
        assert all(e["name"] != "LEANCRM_MIGRATION_DATABASE_URL" for e in main.get("env", []))
    rebuild = next(p for n, p in pods.items() if n.startswith("leancrm-waste-rebuild"))
    assert _secret_key(rebuild["containers"][0], "LEANCRM_DATABASE_URL") == (
        "leancrm-database", "waste-owner")


def _secret_key(container: dict[str, Any], variable: str) -> tuple[str, str]:
    (env,) = [e for e in container["env"] if e["name"] == variable]
    ref = env["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_kubernetes_secrets_come_from_secret_stores_only() -> None:
    for document in _kubernetes():
        if document["kind"] == "ConfigMap":
            for key, value in document["data"].items():
                assert not re.search(r"PASSWORD$|SECRET|TOKENS?$|DATABASE_URL$", key), (
                    f"ConfigMap {document['metadata']['name']} holds {key}")
                assert "://" not in str(value) or "@" not in str(value), f"a credential in {key}"
        if document["kind"] in ("Deployment", "Job"):
            for container in [*document["spec"]["template"]["spec"].get("initContainers", []),
                              *document["spec"]["template"]["spec"]["containers"]]:
                for env in container.get("env", []):
                    if re.search(r"PASSWORD|DATABASE_URL|TOKENS", env["name"]):
                        assert "secretKeyRef" in env.get("valueFrom", {}), (
                            f"{container['name']}: {env['name']} is not from a secret")
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert "secret.template.yaml" not in kustomization["resources"], "the template must not be applied"


def test_the_secret_template_verifies_the_database_server() -> None:
    secrets = {d["metadata"]["name"]: d for d in _manifests(KUBERNETES / "secret.template.yaml")
               if d["kind"] == "Secret"}
    kek = secrets.pop("leancrm-personal-data")  # the key-encryption key (README: crypto-shredding)
    assert set(kek["stringData"]) == {"kek"}
    (database, ca) = secrets.values()
    assert set(database["stringData"]) == {*SERVICES, *(f"{s}-owner" for s in SERVICES)}
    for key, dsn in database["stringData"].items():
        assert "sslmode=verify-full" in dsn and "sslrootcert=/etc/leancrm/postgres/ca.pem" in dsn, key
    assert "ca.pem" in ca["stringData"]
    for name, pod in _pod_specs().items():
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["postgres-ca"]["secret"]["secretName"] == ca["metadata"]["name"], name
    for text in (*_deploy_texts().values(), (DEPLOY / "README.md").read_text()):
        assert "sslmode=require" not in text


def test_a_network_policy_per_service_and_deny_by_default() -> None:
    policies = [d for d in _kubernetes() if d["kind"] == "NetworkPolicy"]
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert "networkpolicy.yaml" in kustomization["resources"]
    (deny,) = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert not deny["spec"].get("ingress") and not deny["spec"].get("egress")
    selected = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: p
                for p in policies if p is not deny}
    for service in (*SERVICES, "waste-rebuild"):
        policy = selected[f"leancrm-{service}"]
        assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"], service
        ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
        assert ports <= {53, 5432, 9092, 9093}, (service, ports)
        for rule in policy["spec"].get("ingress") or []:
            # only from labelled namespaces, only the HTTP port
            assert all("namespaceSelector" in peer and peer["namespaceSelector"]["matchLabels"]
                       for peer in rule["from"]), service
            assert [p["port"] for p in rule["ports"]] == [8080], service
    assert not selected["leancrm-waste-rebuild"]["spec"]["ingress"]
    dashboard = {label for rule in selected["leancrm-waste"]["spec"]["ingress"] for peer in rule["from"]
                 for label in peer["namespaceSelector"]["matchLabels"]}
    assert "leancrm/dashboard-access" in dashboard
    for service in ("customers", "interactions", "feedback", "improvements"):
        labels = {label for rule in selected[f"leancrm-{service}"]["spec"]["ingress"] for peer in rule["from"]
                  for label in peer["namespaceSelector"]["matchLabels"]}
        assert labels == {"leancrm/scrape-metrics"}, service


def test_the_kafka_acl_table_covers_every_topic_of_the_contract() -> None:
    """deploy/README.md "Hardening" says which service reads and writes each topic of
    docs/contract.md section 1 — all of them, and with the producer the contract names."""
    contract = (ROOT / "docs" / "contract.md").read_text()
    section = contract.split("## 1. Topics", 1)[1].split("\n## 2.", 1)[0]
    producers = {topic: producer for topic, producer in
                 re.findall(r"^\| `([a-z0-9.\-]+)` \| [^|]+ \| ([^|]+) \|", section, re.MULTILINE)}
    assert len(producers) >= 8
    hardening = (DEPLOY / "README.md").read_text().split("## Hardening", 1)[1].split("\n## ", 1)[0]
    acl = {topic: writers for topic, writers in
           re.findall(r"^\| `([a-z0-9.\-]+)`[^|]* \| ([^|]+) \|", hardening, re.MULTILINE)}
    for topic, producer in producers.items():
        assert topic in acl, f"the ACL table of deploy/README.md has no row for {topic}"
        for service in SERVICES:
            if service in producer:
                assert f"`{service}`" in acl[topic], f"{topic}: {service} writes it (contract section 1)"
        if producer.strip() == "other systems":
            assert "other systems" in acl[topic], topic
