"""The chart's cost pieces: currency and checkpoint reach the operator; the optional Grafana
dashboard and PrometheusRule render only when asked, valid, and watch the operator's metrics."""

from __future__ import annotations

import json
import re

from tests.helm.chart import CHART, Helm, one
from tests.support.cluster import REPO_ROOT

ACCOUNTANT = REPO_ROOT / "operator" / "paddock" / "controller" / "usage" / "accountant.py"


def operator_env(docs: list[dict[str, object]]) -> dict[str, str]:
    deployment = one(docs, "Deployment")  # type: ignore[arg-type]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_currency_and_checkpoint_reach_the_operator(helm: Helm) -> None:
    env = operator_env(helm.render())
    assert (env["PADDOCK_CURRENCY"], env["PADDOCK_USAGE_CHECKPOINT_SECONDS"]) == ("USD", "30")
    env = operator_env(
        helm.render("--set", "cost.currency=EUR", "--set", "cost.checkpointSeconds=60")
    )
    assert (env["PADDOCK_CURRENCY"], env["PADDOCK_USAGE_CHECKPOINT_SECONDS"]) == ("EUR", "60")


def test_dashboard_and_alerts_are_off_by_default(helm: Helm) -> None:
    kinds = [(d["kind"], d["metadata"]["name"]) for d in helm.render()]
    assert not [k for k in kinds if k[0] == "PrometheusRule" or k[1].endswith("-dashboard")]


def test_dashboard_configmap_holds_the_dashboard_json(helm: Helm) -> None:
    docs = helm.render("--set", "grafanaDashboard.enabled=true")
    configmap = next(
        d for d in docs if d["kind"] == "ConfigMap" and "paddock-cost.json" in d["data"]
    )
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["paddock-cost.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "paddock-cost.json").read_text())
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("cores", "core-hours", "cost", "queue depth", "admission latency"):
        assert topic in titles, topic


def test_prometheus_rule_alerts_on_core_hours(helm: Helm) -> None:
    docs = helm.render(
        "--set", "prometheusRule.enabled=true", "--set-json", "prometheusRule.usedRatio=0.9",
    )  # fmt: skip
    rule = one(docs, "PrometheusRule")
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert set(rules) == {
        "PaddockBudgetCoreHoursHigh",
        "PaddockBudgetCoreHoursProjectedExhaustion",
        "PaddockBudgetCoreHoursExhausted",
    }
    assert rules["PaddockBudgetCoreHoursHigh"]["expr"].rstrip().endswith(">= 0.9")
    served = set(re.findall(r'"(paddock_[a-z_]+)"', ACCOUNTANT.read_text()))
    for alert in rules.values():
        names = set(re.findall(r"\bpaddock_[a-z_]+\b", alert["expr"]))
        assert names and names <= served, (alert["alert"], names - served)
        assert "{{ $labels.budget }}" in alert["annotations"]["summary"]
