"""Admission end to end: workloads become Running pods on arm64 nodes, or wait with a reason."""

from __future__ import annotations

import pytest

from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground

pytestmark = pytest.mark.usefixtures("operator")


def test_workload_runs_on_arm64_nodes_of_its_pool_with_whole_cores(ground: Ground) -> None:
    nodes = ground.add_nodes("g4", "c8g.4xlarge", 2)
    pool = ground.pool("g4")
    budget = ground.budget("team", 32)
    ground.workload("agent", budget=budget, replicas=3, cores=4, memory="2Gi")

    status = ground.wait_status("agent", "Running", phase="Running", readyReplicas=3)
    assert status["admittedCores"] == 12
    assert status["assignments"] == [{"pool": pool, "replicas": 3}]
    assert status["reason"] == "Admitted"
    admitted = next(c for c in status["conditions"] if c["type"] == "Admitted")
    assert admitted["status"] == "True"

    pods = ground.running_pods("agent")
    assert len(pods) == 3
    for pod in pods:
        assert pod["spec"]["nodeName"] in nodes
        container = pod["spec"]["containers"][0]
        assert container["resources"]["requests"] == {"cpu": "4", "memory": "2Gi"}
        assert container["resources"]["limits"] == container["resources"]["requests"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["PADDOCK_CORES"] == env["OMP_NUM_THREADS"] == "4"
        assert pod["status"]["qosClass"] == "Guaranteed"
        assert pod["metadata"]["labels"]["paddock.dev/pool"] == pool

    (deployment,) = ground.deployments("agent")
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("AgentWorkload", "agent", True)
    terms = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"][0]["matchExpressions"]
    assert {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]} in terms
    # Admitted at once: no Event (one API write less); the condition says when.
    assert admitted["lastTransitionTime"]
    assert "Admitted" not in [e["reason"] for e in ground.events("agent")]


def test_over_budget_waits_with_reason_and_is_admitted_when_cores_free(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("small", 8)
    ground.workload("first", budget=budget, replicas=2, cores=4)
    ground.wait_status("first", "Running", phase="Running")
    ground.workload("second", budget=budget, replicas=1, cores=4)

    status = ground.wait_status("second", "queued", phase="Queued", reason="BudgetExhausted")
    assert "8" in status["message"], status["message"]
    assert status["queuePosition"] == 1
    # A routine wait (cores will free up) is no Event: one API write less (issue #15).
    assert "Queued" not in [e["reason"] for e in ground.events("second")]

    ground.cluster.kubectl("delete", "aw", "first", "-n", ground.namespace)
    ground.wait_status("second", "admitted after first is deleted", phase="Running")


def test_elastic_workload_starts_at_what_fits_and_grows_with_capacity(ground: Ground) -> None:
    ground.add_nodes("g3", "c7g.2xlarge", 1)  # 7 whole cores
    ground.pool("g3")
    budget = ground.budget("team", 100)
    ground.workload("elastic", budget=budget, replicas=4, minReplicas=2, cores=2)

    status = ground.wait_status("elastic", "partly admitted", admittedReplicas=3, phase="Running")
    assert status["reason"] == "PartiallyAdmitted"
    ground.add_nodes("g3", "c7g.2xlarge", 1, start=1)
    ground.wait_status("elastic", "grown to 4", admittedReplicas=4, phase="Running", timeout=45)
    assert "Resized" in [e["reason"] for e in ground.events("elastic")]


def test_workload_larger_than_any_node_waits_for_capacity(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)  # 15 whole cores each, never 16
    ground.pool("g4")
    budget = ground.budget("team", 64)
    ground.workload("huge", budget=budget, replicas=1, cores=16)

    status = ground.wait_status("huge", "NoCapacity", phase="Queued", reason="NoCapacity")
    assert "16" in status["message"] and "15" in status["message"], status["message"]
    assert ground.deployments("huge") == []


def test_nodes_with_a_taint_the_pool_does_not_tolerate_are_never_admitted_onto(
    ground: Ground,
) -> None:
    """Admitting there would leave the pods Pending: the workload waits instead."""
    ground.add_nodes("g4", "c8g.4xlarge", 1)  # tainted kubernetes.io/arch=arm64:NoSchedule
    ground.pool("g4", tolerations=[])
    budget = ground.budget("team", 8)
    ground.workload("blocked", budget=budget, replicas=1, cores=2)

    status = ground.wait_status(
        "blocked", "NoMatchingPool", phase="Queued", reason="NoMatchingPool"
    )
    assert "no schedulable arm64 nodes" in status["message"], status["message"]
    assert ground.deployments("blocked") == []


def test_strict_fifo_blocks_behind_its_head(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("strict", 8, queueing="StrictFIFO")
    ground.workload("a-head", budget=budget, replicas=1, cores=12)  # over the budget: never fits
    ground.workload("b-next", budget=budget, replicas=1, cores=2)

    ground.wait_status("a-head", "queued", phase="Queued", reason="BudgetExhausted")
    status = ground.wait_status("b-next", "blocked", phase="Queued", reason="BlockedByQueueHead")
    assert "a-head" in status["message"]


def test_metrics_are_served(operator: OperatorProcess, ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 8)
    ground.workload("measured", budget=budget, replicas=1, cores=2)
    ground.wait_status("measured", "Running", phase="Running")
    text = operator.metrics()
    assert "paddock_admission_latency_seconds_count" in text
    assert f'paddock_budget_cores{{budget="{budget}",kind="used"}} 2.0' in text
    assert 'paddock_plan_duration_seconds_bucket{le="0.1",stage="plan"}' in text
