"""deploy/prometheus/alert-rules.yaml stays in step with the code: every metric its
expressions read is one the services expose, every rule of the waste service's alert
rules has a Prometheus alert, and every alert is labelled and explained. (deploy/check
lints the YAML itself.)"""

from __future__ import annotations

import re
from pathlib import Path

from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_waste.alerting.evaluator import AlertMetrics
from leancrm_waste.domain.alerts import RULES

RULES_FILE = Path(__file__).resolve().parents[4] / "deploy" / "prometheus" / "alert-rules.yaml"
TEXT = RULES_FILE.read_text()


def exposed() -> set[str]:
    metrics = ServiceMetrics("waste")
    AlertMetrics(metrics)
    names = set()
    for family in metrics.registry.collect():
        names.add(family.name + ("_total" if family.type == "counter" else ""))
        names |= {s.name for s in family.samples}
    return names


def test_every_metric_read_is_exposed() -> None:
    exprs = re.findall(r"^\s+expr: (.+)$", TEXT, re.MULTILINE)
    assert len(exprs) >= 10
    read = {m for e in exprs for m in re.findall(r"\bleancrm_[a-z_]+", e)}
    assert read and read <= exposed(), read - exposed()


def test_each_alert_has_an_expression_a_severity_and_a_summary() -> None:
    alerts = re.split(r"^\s+- alert: ", TEXT, flags=re.MULTILINE)[1:]
    assert len(alerts) >= 10
    for block in alerts:
        name = block.split("\n", 1)[0]
        assert re.match(r"^LeanCrm[A-Za-z]+$", name), name
        assert "expr:" in block and "summary:" in block and "description:" in block, name
        assert re.search(r"severity: (critical|warning|info)\n", block), name


def test_every_service_rule_has_an_alert() -> None:
    ruled = set(re.findall(r'leancrm_alert_active\{rule="([a-z_0-9]+)"\}', TEXT))
    assert ruled == set(RULES)
