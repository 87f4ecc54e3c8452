"""Status and Event rules: what `kubectl get aw` and `describe aw` say after each decision."""

from __future__ import annotations

from dataclasses import replace

from paddock.controller.status import phase_of, transition_events, workload_status
from paddock.planner import Reason, WorkloadDecision

ADMITTED = WorkloadDecision(
    key="ns/w",
    budget="team",
    admitted_replicas=2,
    admitted_cores=8,
    requested_cores=8,
    assignments=(("g4", 2),),
    placements=(("n1", 2),),
    state="Admitted",
    reason=Reason.ADMITTED,
    message="admitted",
    queue_position=None,
)
QUEUED = replace(
    ADMITTED,
    admitted_replicas=0,
    admitted_cores=0,
    assignments=(),
    placements=(),
    state="Queued",
    reason=Reason.BUDGET_EXHAUSTED,
    message="needs 8 cores",
    queue_position=1,
)


def test_phase_follows_admission_and_readiness() -> None:
    assert phase_of(QUEUED, ready=0, previous_phase=None) == "Queued"
    assert phase_of(ADMITTED, ready=1, previous_phase="Queued") == "Admitted"
    assert phase_of(ADMITTED, ready=2, previous_phase="Admitted") == "Running"
    assert phase_of(ADMITTED, ready=1, previous_phase="Running") == "Degraded"
    assert phase_of(replace(QUEUED, state="Preempted"), ready=0, previous_phase="Running") == (
        "Preempted"
    )


def test_conditions_keep_their_transition_time_while_unchanged() -> None:
    first = workload_status(ADMITTED, ready=2, generation=1, previous={})
    again = workload_status(ADMITTED, ready=2, generation=1, previous=first)
    assert again["conditions"] == first["conditions"]
    assert first["pools"] == "g4:2" and first["queuePosition"] is None


def test_events_name_each_transition() -> None:
    queued = workload_status(QUEUED, 0, 1, {})
    admitted = workload_status(ADMITTED, 2, 1, queued)
    # A routine wait (behind others, for cores) and a routine admission have no Event: the
    # status and the Admitted condition record them (issue #15: writes per admission).
    assert transition_events({}, QUEUED) == []
    assert transition_events({}, ADMITTED) == []
    assert transition_events(queued, ADMITTED) == []
    # A wait someone must act on is an Event, and so is its end.
    orphan = replace(QUEUED, reason=Reason.UNKNOWN_BUDGET, message="no budget x")
    assert transition_events({}, orphan) == [("Normal", "Queued", "no budget x")]
    orphaned = workload_status(orphan, 0, 1, {})
    assert [e[1] for e in transition_events(orphaned, ADMITTED)] == ["Admitted"]
    grown = replace(ADMITTED, admitted_replicas=3, assignments=(("g4", 3),))
    assert [e[1] for e in transition_events(admitted, grown)] == ["Resized"]
    moved = replace(ADMITTED, assignments=(("g3", 2),))
    assert [e[1] for e in transition_events(admitted, moved)] == ["Moved"]
    shrunk = replace(ADMITTED, admitted_replicas=1, reason=Reason.PREEMPTED, message="for urgent")
    assert transition_events(admitted, shrunk) == [("Warning", "Preempted", "for urgent")]
    assert transition_events(admitted, ADMITTED) == []
