"""`kubectl paddock explain`'s SCALING section: who set replicas, which HPA drives it, and how
many replicas the budget allows now."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paddock.kubectl_plugin.explain import Explanation
from paddock.kubectl_plugin.render import scaling_lines
from paddock.kubectl_plugin.scaling import (
    Autoscaler,
    ReplicasOwner,
    Scaling,
    autoscalers,
    budget_allows,
    replicas_owner,
)
from paddock.kubectl_plugin.view import BudgetMath

CREATED: dict[str, Any] = {
    "manager": "kubectl-client-side-apply",
    "operation": "Update",
    "time": "2026-11-30T10:00:00Z",
    "fieldsV1": {"f:spec": {"f:replicas": {}, "f:coresPerReplica": {}}},
}
SCALED: dict[str, Any] = {
    "manager": "kube-controller-manager",
    "operation": "Update",
    "subresource": "scale",
    "time": "2026-11-30T11:00:00Z",
    "fieldsV1": {"f:spec": {"f:replicas": {}}},
}
STATUS: dict[str, Any] = {
    "manager": "paddock",
    "operation": "Update",
    "subresource": "status",
    "time": "2026-11-30T12:00:00Z",
    "fieldsV1": {"f:status": {"f:admittedReplicas": {}}},
}


def math(available: int) -> BudgetMath:
    return BudgetMath(
        name="team",
        cohort=None,
        queueing="BestEffortFIFO",
        nominal=16,
        used=16 - available,
        borrowed=0,
        lent=0,
        free=available,
        available=available,
        borrowing_limit=None,
        lending_limit=None,
        preempt_within_budget="Never",
        reclaim_from_cohort="Never",
        pending_cores=0,
        admitted_workloads=1,
        pending_workloads=0,
    )


def test_the_owner_of_spec_replicas_is_the_latest_manager_that_owns_it() -> None:
    owner = replicas_owner([CREATED, SCALED, STATUS])
    assert owner == ReplicasOwner(
        manager="kube-controller-manager",
        operation="Update",
        subresource="scale",
        time="2026-11-30T11:00:00Z",
    )
    assert replicas_owner([CREATED, STATUS]) is not None
    assert replicas_owner([STATUS]) is None
    assert replicas_owner([]) is None


def test_budget_allows_what_is_admitted_plus_what_its_free_cores_take() -> None:
    assert budget_allows(math(available=9), cores_per_replica=4, admitted=2) == 4
    assert budget_allows(math(available=0), cores_per_replica=4, admitted=3) == 3
    assert budget_allows(None, 4, 2) is None


def test_only_hpas_targeting_this_agent_workload_are_listed() -> None:
    def hpa(name: str, kind: str, target: str, api: str = "paddock.dev/v1alpha1") -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {
                "scaleTargetRef": {"apiVersion": api, "kind": kind, "name": target},
                "minReplicas": 2,
                "maxReplicas": 40,
            },
            "status": {
                "desiredReplicas": 6,
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
                    {
                        "type": "ScalingActive",
                        "status": "False",
                        "reason": "FailedGetResourceMetric",
                    },
                ],
            },
        }

    found = autoscalers(
        [
            hpa("mine", "AgentWorkload", "agent"),
            hpa("other-workload", "AgentWorkload", "other"),
            hpa("a-deployment", "Deployment", "agent", "apps/v1"),
            hpa("foreign-group", "AgentWorkload", "agent", "example.com/v1"),
        ],
        "agent",
    )
    assert found == (
        Autoscaler(
            name="mine",
            min_replicas=2,
            max_replicas=40,
            desired_replicas=6,
            able_to_scale="True (SucceededGetScale)",
            scaling_active="False (FailedGetResourceMetric)",
        ),
    )


def test_the_section_names_the_scaler_the_budget_limit_and_the_hpa() -> None:
    e = Explanation(
        workload="ns/agent",
        namespace="ns",
        name="agent",
        budget="team",
        replicas=10,
        cores_per_replica=4,
        admitted_replicas=4,
        scaling=Scaling(
            replicas=10,
            owner=replicas_owner([CREATED, SCALED]),
            autoscalers=autoscalers(
                [
                    {
                        "metadata": {"name": "agent"},
                        "spec": {
                            "scaleTargetRef": {
                                "apiVersion": "paddock.dev/v1alpha1",
                                "kind": "AgentWorkload",
                                "name": "agent",
                            },
                            "maxReplicas": 40,
                        },
                    }
                ],
                "agent",
            ),
            budget_allows=4,
        ),
    )
    text = "\n".join(scaling_lines(e))
    assert "replicas    10, last set by kube-controller-manager (Update via /scale" in text
    assert "team allows 4 replicas of 4 cores now (4 admitted + 0 more); 6 of 10 wait" in text
    assert "HorizontalPodAutoscaler agent: min 1, max 40" in text
    assert "maxReplicas 40 is above what the budget allows now (4)" in text
    assert "warning" not in text  # min_replicas 0: elastic
    fixed = "\n".join(scaling_lines(replace(e, min_replicas=10)))
    assert "warning     minReplicas follows replicas: admitted all or nothing" in fixed
    assert scaling_lines(replace(e, scaling=None)) == []
