"""What an autoscaler and `kubectl get aw` read after scaling: the selector of the /scale
subresource, and the status of a workload scaled to zero."""

from __future__ import annotations

from dataclasses import replace

from paddock.controller.labels import workload_selector
from paddock.controller.status import phase_of, transition_events, workload_status
from paddock.planner import Reason, WorkloadDecision

RUNNING = WorkloadDecision(
    key="ns/w",
    budget="team",
    admitted_replicas=3,
    admitted_cores=12,
    requested_cores=12,
    assignments=(("g4", 2), ("g3", 1)),
    placements=(("n1", 2), ("n2", 1)),
    state="Admitted",
    reason=Reason.ADMITTED,
    message="admitted",
    queue_position=None,
)
ZERO = replace(
    RUNNING,
    admitted_replicas=0,
    admitted_cores=0,
    requested_cores=0,
    assignments=(),
    placements=(),
    reason=Reason.SCALED_TO_ZERO,
    message="scaled to zero (replicas 0): holds no cores",
)


def test_the_selector_matches_the_pods_of_every_pool_by_name_only() -> None:
    # The pods' labels are paddock.dev/workload=<name> and paddock.dev/pool=<pool>: selecting by
    # the workload label alone spans all pools, and does not change when pools do.
    assert workload_selector("agent") == "paddock.dev/workload=agent"
    status = workload_status(RUNNING, 3, 1, {}, selector=workload_selector("agent"))
    assert status["selector"] == "paddock.dev/workload=agent"
    moved = replace(RUNNING, assignments=(("g4", 3),))
    assert (
        workload_status(moved, 3, 2, status, selector="paddock.dev/workload=agent")["selector"]
        == (status["selector"])
    )


def test_scaled_to_zero_is_running_admitted_and_ready_with_nothing() -> None:
    status = workload_status(ZERO, 0, 4, {}, selector=workload_selector("w"))
    assert status["phase"] == "Running"
    assert (status["admittedReplicas"], status["admittedCores"], status["pools"]) == (0, 0, None)
    assert status["reason"] == "ScaledToZero"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Admitted"]["status"], conditions["Admitted"]["reason"]) == (
        "True",
        "ScaledToZero",
    )
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == (
        "True",
        "ScaledToZero",
    )
    assert "ReplicasPlaced" not in conditions
    assert phase_of(ZERO, ready=0, previous_phase="Running") == "Running"


def test_scaling_to_zero_is_a_resize_not_a_loss() -> None:
    previous = workload_status(RUNNING, 3, 1, {})
    assert transition_events(previous, ZERO) == [
        ("Normal", "Resized", f"replicas 3 -> 0: {ZERO.message}")
    ]
    # Created at zero, or staying there: nothing to tell.
    assert transition_events({}, ZERO) == []
    assert transition_events(workload_status(ZERO, 0, 1, {}), ZERO) == []
    # Back up from zero: admitted again, with an Event (it was seen at zero).
    zero_status = workload_status(ZERO, 0, 2, previous)
    assert [e[1] for e in transition_events(zero_status, RUNNING)] == ["Admitted"]
