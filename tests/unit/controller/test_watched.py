"""Per-node sums and Paddock's pods stay right through every kind of pod event."""

from __future__ import annotations

from typing import Any

from paddock.controller.labels import POOL_LABEL, WORKLOAD_LABEL
from paddock.controller.observed import DeploymentFacts, pod_record
from paddock.controller.watched import DeploymentsByWorkload, NodesAndPods


def pod(
    node: str | None,
    cpu: str = "1",
    memory: str = "1Gi",
    phase: str = "Running",
    workload: str | None = None,
) -> dict[str, Any]:
    labels = {WORKLOAD_LABEL: workload, POOL_LABEL: "g4"} if workload else {}
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]
    }
    if node:
        spec["nodeName"] = node
    return {
        "metadata": {"namespace": "team", "name": "p", "labels": labels},
        "spec": spec,
        "status": {"phase": phase},
    }


GIB = 2**30


def test_usage_follows_adds_changes_moves_and_deletes() -> None:
    store = NodesAndPods()
    store.put_pod("a", pod_record(pod("n1", "2", "1Gi")))
    store.put_pod("b", pod_record(pod("n1", "500m", "1Gi")))
    assert store.usage == {"n1": (2500, 2 * GIB)}
    store.put_pod("b", pod_record(pod("n1", "1", "1Gi")))  # changed in place: not counted twice
    assert store.usage == {"n1": (3000, 2 * GIB)}
    store.put_pod("b", pod_record(pod("n2", "1", "1Gi")))
    assert store.usage == {"n1": (2000, GIB), "n2": (1000, GIB)}
    store.put_pod("a", None)
    store.put_pod("b", None)
    assert store.usage == {} and store.pods == {}
    store.put_pod("missing", None)  # a DELETED for a pod never seen is harmless
    assert store.usage == {}


def test_unbound_and_finished_pods_hold_nothing() -> None:
    store = NodesAndPods()
    store.put_pod("a", pod_record(pod("n1")))
    store.put_pod("a", pod_record(pod("n1", phase="Succeeded")))
    store.put_pod("b", pod_record(pod(None)))
    assert store.usage == {} and store.pods == {}


def test_paddocks_own_pods_are_kept_by_workload() -> None:
    store = NodesAndPods()
    store.put_pod("a", pod_record(pod("n1", workload="agent")))
    store.put_pod("b", pod_record(pod("n2", workload="agent")))
    store.put_pod("c", pod_record(pod("n2")))
    assert {uid: p.node for uid, p in store.agent_pods["team/agent"].items()} == {
        "a": "n1",
        "b": "n2",
    }
    store.put_pod("a", None)
    store.put_pod("b", pod_record(pod("n2", phase="Failed", workload="agent")))
    assert "team/agent" not in store.agent_pods
    assert store.usage == {"n2": (1000, GIB)}


def test_a_fresh_list_replaces_everything() -> None:
    store = NodesAndPods()
    store.put_pod("gone", pod_record(pod("n1", workload="agent")))
    fresh = pod_record(pod("n2"))
    assert fresh is not None
    store.replace_pods({"kept": fresh})
    assert store.usage == {"n2": (1000, GIB)}
    assert store.agent_pods == {} and set(store.pods) == {"kept"}


def test_deployments_are_grouped_by_workload_and_follow_renames_and_deletes() -> None:
    def facts(workload: str, pool: str, replicas: int = 1) -> DeploymentFacts:
        return DeploymentFacts(f"{workload}-{pool}", f"team/{workload}", pool, replicas, 0, "h")

    store = DeploymentsByWorkload()
    store.put("d1", facts("agent", "g3"))
    store.put("d2", facts("agent", "g4"))
    store.put("d1", facts("agent", "g3", replicas=3))  # changed in place
    assert {d.pool: d.replicas for d in store.by_workload["team/agent"].values()} == {
        "g3": 3,
        "g4": 1,
    }
    store.put("d2", facts("other", "g4"))  # relabelled to another workload
    assert set(store.by_workload["team/agent"]) == {"d1"}
    store.put("d1", None)
    store.put("d2", None)
    assert store.by_workload == {}
    store.replace({"d3": facts("agent", "g2")})
    assert list(store.by_workload) == ["team/agent"]
