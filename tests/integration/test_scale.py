"""Scaling through the /scale subresource on the real control plane: `kubectl scale` up within
and beyond the budget, down (a queued workload gets the cores), to zero and back, and a real
HorizontalPodAutoscaler (kube-controller-manager's HPA controller) reading the subresource.

The local control plane has no metrics server (metrics.k8s.io is not served), so the HPA cannot
compute a desired count from load: the tests assert that it can get the scale (AbleToScale True,
SucceededGetScale, no FailedGetScale Event), that it stops only at the missing metrics, and that
it still drives the workload through /scale where it needs no metrics (raising it to its
minReplicas), with Paddock admitting what the budget holds and the HPA not running away.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.test_plugin import run_plugin
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("operator")


def scale(ground: Ground, workload: str) -> dict[str, Any]:
    """The workload's /scale subresource, as HPA and KEDA read it."""
    path = (
        f"/apis/paddock.dev/v1alpha1/namespaces/{ground.namespace}/agentworkloads/{workload}/scale"
    )
    found: dict[str, Any] = json.loads(ground.cluster.kubectl("get", "--raw", path).stdout)
    return found


def kubectl_scale(ground: Ground, workload: str, replicas: int) -> None:
    ground.cluster.kubectl(
        "scale", "aw", workload, "-n", ground.namespace, f"--replicas={replicas}"
    )


def columns(ground: Ground, workload: str) -> dict[str, str]:
    """`kubectl get aw` as a user reads it: header -> value."""
    header, row = ground.cluster.kubectl(
        "get", "aw", workload, "-n", ground.namespace
    ).stdout.splitlines()
    return dict(zip(header.split(), row.split(), strict=False))


def used_cores(ground: Ground, budget: str) -> int:
    return int(ground.cluster.get_json("cbudget", budget).get("status", {}).get("usedCores", -1))


def hpa_for(workload: str, least: int, most: int) -> dict[str, Any]:
    """An autoscaling/v2 HPA on CPU utilization targeting the AgentWorkload."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": workload},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "paddock.dev/v1alpha1",
                "kind": "AgentWorkload",
                "name": workload,
            },
            "minReplicas": least,
            "maxReplicas": most,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def hpa_conditions(ground: Ground, name: str) -> dict[str, dict[str, Any]] | None:
    """The HPA's conditions by type, once the HPA controller has set both that matter."""
    found = ground.cluster.get_json("hpa", name, "-n", ground.namespace)
    listed = {c["type"]: c for c in found.get("status", {}).get("conditions") or ()}
    return listed if "AbleToScale" in listed and "ScalingActive" in listed else None


def test_kubectl_scale_up_within_and_beyond_the_budget(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 16)
    ground.workload("agent", budget=budget, replicas=1, minReplicas=1, cores=4)
    ground.wait_status("agent", "Running at 1", phase="Running", readyReplicas=1)

    kubectl_scale(ground, "agent", 3)
    status = ground.wait_status(
        "agent", "scaled to 3", phase="Running", admittedReplicas=3, readyReplicas=3
    )
    assert status["reason"] == "Admitted"
    assert status["selector"] == "paddock.dev/workload=agent"
    sub = scale(ground, "agent")
    assert (sub["spec"]["replicas"], sub["status"]["replicas"]) == (3, 3)
    assert sub["status"]["selector"] == "paddock.dev/workload=agent"
    selected = ground.cluster.get_json(
        "pods", "-n", ground.namespace, "-l", sub["status"]["selector"]
    )
    assert len(selected["items"]) == 3
    assert "Resized" in [e["reason"] for e in ground.events("agent")]

    kubectl_scale(ground, "agent", 6)
    status = ground.wait_status(
        "agent", "partly admitted at 4", reason="PartiallyAdmitted", admittedReplicas=4
    )
    assert status["message"].startswith("admitted 4 of 6 replicas (16 of 24 cores)"), status
    assert f"more wait for budget: budget {budget}" in status["message"], status
    sub = scale(ground, "agent")
    assert (sub["spec"]["replicas"], sub["status"]["replicas"]) == (6, 4)
    shown = columns(ground, "agent")
    assert (shown["REPLICAS"], shown["ADMITTED"], shown["REASON"]) == (
        "6",
        "4",
        "PartiallyAdmitted",
    )

    # Below minReplicas is refused by the API server's validation, through /scale too.
    refused = ground.cluster.kubectl(
        "scale", "aw", "agent", "-n", ground.namespace, "--replicas=0", check=False
    )
    assert refused.returncode != 0
    assert "spec.minReplicas (1) must be <= spec.replicas (0)" in refused.stderr, refused.stderr
    assert scale(ground, "agent")["spec"]["replicas"] == 6

    text = run_plugin(ground.cluster, "explain", "agent", "-n", ground.namespace).stdout
    assert "SCALING" in text, text
    assert "replicas    6, last set by kubectl" in text, text
    assert f"{budget} allows 4 replicas of 4 cores now (4 admitted + 0 more)" in text, text


def test_a_fixed_workload_scaled_beyond_the_budget_keeps_its_pods(ground: Ground) -> None:
    # No minReplicas (all or nothing), as many HPA targets are: the scale-up does not fit
    # whole, yet the running pods stay and it grows to what the budget allows.
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 16)
    ground.workload("fixed", budget=budget, replicas=2, cores=4)
    ground.wait_status("fixed", "Running at 2", phase="Running", readyReplicas=2)
    before = {p["metadata"]["uid"] for p in ground.running_pods("fixed")}

    kubectl_scale(ground, "fixed", 6)
    status = ground.wait_status(
        "fixed", "grown to 4", reason="PartiallyAdmitted", admittedReplicas=4, readyReplicas=4
    )
    assert status["message"].startswith("admitted 4 of 6 replicas"), status
    after = {p["metadata"]["uid"] for p in ground.running_pods("fixed")}
    assert before <= after, "a running pod was removed by the scale-up"
    assert "Queued" not in [e["reason"] for e in ground.events("fixed")]


def test_scale_down_frees_cores_and_a_queued_workload_is_admitted(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 16)
    ground.workload("big", budget=budget, replicas=4, minReplicas=1, cores=4)
    ground.wait_status("big", "Running", phase="Running", admittedReplicas=4, readyReplicas=4)
    ground.workload("waiting", budget=budget, replicas=2, cores=4)
    ground.wait_status("waiting", "queued", phase="Queued", reason="BudgetExhausted")

    kubectl_scale(ground, "big", 2)
    ground.wait_status("big", "scaled down", phase="Running", admittedReplicas=2, readyReplicas=2)
    ground.wait_status("waiting", "admitted with the freed cores", phase="Running", timeout=45)
    assert len(ground.running_pods("big")) <= 2
    wait_for(lambda: used_cores(ground, budget) == 16, timeout=30, what="budget at 16 used")


def test_scale_to_zero_holds_no_cores_and_comes_back(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 8)
    ground.workload("idle", budget=budget, replicas=2, minReplicas=0, cores=4)
    ground.wait_status("idle", "Running", phase="Running", readyReplicas=2)

    kubectl_scale(ground, "idle", 0)
    status = ground.wait_status(
        "idle", "scaled to zero", reason="ScaledToZero", phase="Running", admittedReplicas=0
    )
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Admitted"]["status"] == "True"
    assert status.get("queuePosition") is None
    wait_for(lambda: not ground.pods("idle"), timeout=45, what="its pods gone")
    wait_for(lambda: not ground.deployments("idle"), timeout=30, what="its Deployments gone")
    wait_for(lambda: used_cores(ground, budget) == 0, timeout=30, what="budget at 0 used")
    assert scale(ground, "idle")["status"]["replicas"] == 0
    resized = [e for e in ground.events("idle") if e["reason"] == "Resized"]
    assert any("-> 0" in e["message"] for e in resized), resized

    kubectl_scale(ground, "idle", 2)
    ground.wait_status("idle", "back at 2", phase="Running", admittedReplicas=2, readyReplicas=2)
    assert scale(ground, "idle")["status"]["replicas"] == 2


def test_an_hpa_gets_the_scale_of_an_agent_workload(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 8)
    ground.workload("served", budget=budget, replicas=1, minReplicas=1, cores=2)
    ground.wait_status("served", "Running", phase="Running", readyReplicas=1)
    ground.cluster.kubectl(
        "apply", "-n", ground.namespace, "-f", "-", input=json.dumps(hpa_for("served", 1, 4))
    )

    found = wait_for(
        lambda: hpa_conditions(ground, "served"), timeout=90, what="the HPA controller to sync"
    )
    able = found["AbleToScale"]
    assert (able["status"], able["reason"]) == ("True", "SucceededGetScale"), found
    # It got the scale and its selector; only the metrics are missing (no metrics server).
    active = found["ScalingActive"]
    assert active["reason"] != "InvalidSelector", found
    assert active["reason"] == "FailedGetResourceMetric", found
    events = ground.cluster.get_json(
        "events",
        "-n",
        ground.namespace,
        "--field-selector",
        "involvedObject.kind=HorizontalPodAutoscaler",
    )["items"]
    assert not [e for e in events if e["reason"] == "FailedGetScale"], events
    hpa_status = ground.cluster.get_json("hpa", "served", "-n", ground.namespace)["status"]
    assert hpa_status.get("currentReplicas") == 1

    text = run_plugin(ground.cluster, "explain", "served", "-n", ground.namespace).stdout
    assert "HorizontalPodAutoscaler served: min 1, max 4" in text, text
    assert "AbleToScale True (SucceededGetScale)" in text, text
    assert "ScalingActive False (FailedGetResourceMetric)" in text, text


def test_an_hpa_drives_an_agent_workload_within_its_budget(ground: Ground) -> None:
    # Without metrics the HPA still enforces its bounds through /scale: minReplicas 4 scales
    # the workload from 1 to 4; the budget holds 3 (6 cores of 2), so 3 are admitted, /scale
    # reports 3, and the HPA (which computes from spec.replicas) stays at 4: no run-away.
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 6)
    ground.workload("driven", budget=budget, replicas=1, minReplicas=1, cores=2)
    ground.wait_status("driven", "Running", phase="Running", readyReplicas=1)
    ground.cluster.kubectl(
        "apply", "-n", ground.namespace, "-f", "-", input=json.dumps(hpa_for("driven", 4, 8))
    )

    status = ground.wait_status(
        "driven", "scaled by the HPA, admitted to the budget", admittedReplicas=3, timeout=90
    )
    assert status["reason"] == "PartiallyAdmitted", status
    assert f"more wait for budget: budget {budget}" in status["message"], status
    sub = scale(ground, "driven")
    assert (sub["spec"]["replicas"], sub["status"]["replicas"]) == (4, 3)

    def settled() -> dict[str, Any] | None:
        # A later sync of the HPA saw its own write: it stays at 4, however few are admitted.
        hpa: dict[str, Any] = ground.cluster.get_json("hpa", "driven", "-n", ground.namespace)
        found = hpa.get("status") or {}
        return found if found.get("currentReplicas") == 4 else None

    hpa = wait_for(settled, timeout=60, what="the HPA's next sync")
    assert hpa.get("desiredReplicas") == 4, hpa
    assert scale(ground, "driven")["spec"]["replicas"] == 4
    ground.wait_status("driven", "3 ready", phase="Running", readyReplicas=3)

    text = run_plugin(ground.cluster, "explain", "driven", "-n", ground.namespace).stdout
    assert "replicas    4, last set by kube-controller-manager (Update via /scale" in text, text
    assert "HorizontalPodAutoscaler driven: min 4, max 8" in text, text


def test_an_hpa_cannot_take_a_workload_below_its_min_replicas(ground: Ground) -> None:
    # The HPA's maxReplicas 1 asks for 1; the workload's floor is 2, so the API server refuses
    # the write through /scale and the HPA says so instead of the workload losing replicas.
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 8)
    ground.workload("floored", budget=budget, replicas=3, minReplicas=2, cores=2)
    ground.wait_status("floored", "Running", phase="Running", readyReplicas=3)
    ground.cluster.kubectl(
        "apply", "-n", ground.namespace, "-f", "-", input=json.dumps(hpa_for("floored", 1, 1))
    )

    def refused() -> dict[str, Any] | None:
        hpa = ground.cluster.get_json("hpa", "floored", "-n", ground.namespace)
        found = {c["type"]: c for c in hpa.get("status", {}).get("conditions") or ()}
        able = found.get("AbleToScale") or {}
        return found if able.get("reason") == "FailedUpdateScale" else None

    found = wait_for(refused, timeout=90, what="the HPA to report FailedUpdateScale")
    assert found["AbleToScale"]["status"] == "False", found
    assert "spec.minReplicas (2) must be <= spec.replicas (1)" in found["AbleToScale"]["message"]
    rescale = ground.cluster.get_json(
        "events",
        "-n",
        ground.namespace,
        "--field-selector",
        "involvedObject.kind=HorizontalPodAutoscaler,reason=FailedRescale",
    )["items"]
    assert rescale, "no FailedRescale Event"
    assert scale(ground, "floored")["spec"]["replicas"] == 3
    assert ground.status("floored")["admittedReplicas"] == 3
