"""The soak's checks can fail: each is fed a cluster that breaks one rule.

The SIGKILL soak reports 0 doubled and 0 lost admissions; these tests prove that a doubled
or lost admission would not go unseen, without a cluster.
"""

from __future__ import annotations

import random
from typing import Any

from tests.support.soak import Budget, Churn, Snapshot, SoakSize, doubled, first_fit, lost

BUDGETS = [Budget("solo", 10), Budget("left", 8, "c", 4), Budget("right", 8, "c", 4)]


def workload(name: str, budget: str, replicas: int, cores: int, admitted: int) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {"budget": budget, "replicas": replicas, "coresPerReplica": cores},
        "status": {"admittedReplicas": admitted, "observedGeneration": 1},
    }


def deployment(pool: str, replicas: int, cores: int) -> dict[str, Any]:
    container = {"name": "agent", "resources": {"requests": {"cpu": str(cores)}}}
    return {
        "metadata": {"name": f"d-{pool}", "labels": {"paddock.dev/pool": pool}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}},
    }


def pod(node: str, cores: int) -> dict[str, Any]:
    container = {"name": "agent", "resources": {"requests": {"cpu": str(cores)}}}
    return {"spec": {"node_name": node, "containers": [container]}}


def churn_of(specs: dict[str, tuple[int, int]]) -> Churn:
    made = Churn(None, "ns", BUDGETS, SoakSize(1, 1, 1, 1, 1, 1), random.Random(0))  # type: ignore[arg-type]
    for name, (replicas, cores) in specs.items():
        made.specs[name] = {1: replicas}
        made.cores[name] = cores
    return made


def snapshot(
    workloads: list[dict[str, Any]],
    deployments: dict[str, list[dict[str, Any]]],
    node_pods: dict[str, list[dict[str, Any]]] | None = None,
    allocatable: dict[str, float] | None = None,
) -> Snapshot:
    return Snapshot(
        workloads={w["metadata"]["name"]: w for w in workloads},
        deployments=deployments,
        pods={},
        node_pods=node_pods or {},
        allocatable=allocatable or {"n1": 7.9, "n2": 7.9},
        taken_at=0.0,
    )


def test_a_consistent_cluster_has_nothing_doubled_or_lost() -> None:
    snap = snapshot(
        [workload("a", "solo", 2, 4, 2), workload("b", "left", 3, 4, 0)],
        {"a": [deployment("p", 2, 4)]},
        {"n1": [pod("n1", 4)], "n2": [pod("n2", 4)]},
    )
    churn = churn_of({"a": (2, 4), "b": (3, 4)})
    assert doubled(snap, churn, BUDGETS) == []
    assert lost(snap, BUDGETS) == []  # b needs 12 cores, left may hold 12 but nodes have 6


def test_two_deployments_over_the_spec_are_doubled() -> None:
    snap = snapshot(
        [workload("a", "solo", 2, 2, 2)], {"a": [deployment("p", 2, 2), deployment("q", 1, 2)]}
    )
    found = doubled(snap, churn_of({"a": (2, 2)}), BUDGETS)
    assert any("a: Deployments hold 3 replicas, spec allows 2" in f for f in found), found


def test_a_budget_and_a_cohort_over_their_limits_are_doubled() -> None:
    snap = snapshot(
        [
            workload("a", "solo", 3, 4, 3),
            workload("l", "left", 3, 4, 3),
            workload("r", "right", 2, 4, 2),
        ],
        {"a": [deployment("p", 3, 4)], "l": [deployment("p", 3, 4)], "r": [deployment("p", 2, 4)]},
    )
    found = doubled(snap, churn_of({"a": (3, 4), "l": (3, 4), "r": (2, 4)}), BUDGETS)
    assert any(f.startswith("budget solo: 12 cores admitted, limit 10") for f in found), found
    assert any(f.startswith("cohort c: 20 cores admitted, nominal 16") for f in found), found


def test_a_node_over_its_allocatable_is_doubled() -> None:
    snap = snapshot([], {}, {"n1": [pod("n1", 4), pod("n1", 4)]})
    assert doubled(snap, churn_of({}), BUDGETS) == ["node n1: 1 cores over its allocatable"]


def test_a_queued_workload_that_fits_is_lost() -> None:
    snap = snapshot([workload("q", "solo", 2, 3, 0)], {})
    (found,) = lost(snap, BUDGETS)
    assert found.startswith("q: 2 x 3 cores fit (budget room 10)")


def test_first_fit_needs_each_replica_on_one_node() -> None:
    assert first_fit({"n1": 5, "n2": 5}, 2, 5)
    assert not first_fit({"n1": 5, "n2": 5}, 1, 6)
    assert not first_fit({"n1": 5, "n2": 5}, 3, 4)
