"""Preemption end to end: priority within a budget, and reclaiming lent cores in a cohort."""

from __future__ import annotations

import pytest

from tests.support.paddock import Ground
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("operator")


def test_higher_priority_shrinks_lower_priority_within_budget(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 8, preemption={"withinBudget": "LowerPriority"})
    ground.workload("batch", budget=budget, replicas=2, minReplicas=1, cores=4, priority=0)
    ground.wait_status("batch", "Running", phase="Running", admittedReplicas=2)

    ground.workload("urgent", budget=budget, replicas=1, cores=4, priority=100)
    ground.wait_status("urgent", "Running", phase="Running", admittedReplicas=1, timeout=45)
    ground.wait_status("batch", "shrunk", admittedReplicas=1)
    # The shrink is reported as it happens (an Event); afterwards the workload is simply
    # partly admitted, and grows back when cores free up.
    (event,) = [e for e in ground.events("batch") if e["reason"] == "Preempted"]
    assert "urgent" in event["message"], event["message"]
    wait_for(lambda: len(ground.running_pods("batch")) == 1, timeout=30, what="batch at 1 pod")


def test_cohort_lends_unused_cores_and_reclaims_them(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    borrower = ground.budget("borrower", 4, cohort=ground.name("c"))
    lender = ground.budget(
        "lender", 8, cohort=ground.name("c"), preemption={"reclaimFromCohort": "Any"}
    )
    ground.workload("greedy", budget=borrower, replicas=3, minReplicas=1, cores=4)
    ground.wait_status("greedy", "borrowing", phase="Running", admittedReplicas=3)
    # Budget status is an aggregate, written at most once per few seconds: wait for it.
    wait_for(lambda: borrowed(ground, borrower) == 8, timeout=30, what="8 cores borrowed")

    ground.workload("owner", budget=lender, replicas=2, cores=4)
    ground.wait_status("owner", "reclaimed its cores", phase="Running", timeout=45)
    ground.wait_status("greedy", "shrunk back to its own", admittedReplicas=1)
    assert "Preempted" in [e["reason"] for e in ground.events("greedy")]
    wait_for(lambda: borrowed(ground, borrower) == 0, timeout=30, what="nothing borrowed")


def borrowed(ground: Ground, budget: str) -> int:
    status = ground.cluster.get_json("cbudget", budget).get("status") or {}
    return int(status.get("borrowedCores", -1))
