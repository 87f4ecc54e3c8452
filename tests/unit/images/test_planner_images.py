"""The planner's side of the image check: a blocked workload is not admitted, keeps what it has."""

from __future__ import annotations

from dataclasses import replace

from paddock.controller.status import transition_events
from paddock.planner import Reason, plan
from tests.unit.planner.builders import nodes, snapshot, workload

MISMATCH = ("ImageArchMismatch", "image r/a:1 offers linux/amd64 but not linux/arm64")


def test_a_mismatch_is_not_admitted_and_frees_nothing_for_others() -> None:
    blocked = replace(workload("a", cores=4), image_block=MISMATCH)
    fine = workload("b", cores=4)
    result = plan(snapshot(nodes=nodes(1, 8), workloads=[blocked, fine]))
    decision = result.workloads["ns/a"]
    assert decision.admitted_replicas == 0
    assert decision.reason is Reason.IMAGE_ARCH_MISMATCH
    assert decision.message == MISMATCH[1]
    assert result.workloads["ns/b"].admitted_replicas == 1


def test_an_admitted_workload_whose_tag_moved_keeps_its_running_pods_but_is_frozen() -> None:
    running = replace(
        workload("a", cores=4, replicas=2, current=(("g4", 2),), placed=(("g4-0", 2),)),
        image_block=MISMATCH,
    )
    decision = plan(snapshot(nodes=nodes(1, 8), workloads=[running])).workloads["ns/a"]
    assert decision.frozen and decision.admitted_replicas == 2
    assert decision.reason is Reason.IMAGE_ARCH_MISMATCH


def test_pending_and_failed_checks_have_their_own_reasons() -> None:
    for reason in ("ImageCheckPending", "ImageCheckFailed"):
        w = replace(workload("a"), image_block=(reason, "why"))
        decision = plan(snapshot(nodes=nodes(1), workloads=[w])).workloads["ns/a"]
        assert (decision.reason, decision.admitted_replicas) == (Reason(reason), 0)


def test_one_warning_event_per_mismatch_none_for_pending() -> None:
    w = replace(workload("a"), image_block=MISMATCH)
    decision = plan(snapshot(nodes=nodes(1), workloads=[w])).workloads["ns/a"]
    assert transition_events({}, decision) == [("Warning", "ImageArchMismatch", MISMATCH[1])]
    again = {"phase": "Queued", "reason": "ImageArchMismatch"}
    assert transition_events(again, decision) == []
    pending = replace(workload("a"), image_block=("ImageCheckPending", "checking"))
    decision = plan(snapshot(nodes=nodes(1), workloads=[pending])).workloads["ns/a"]
    assert transition_events({}, decision) == []
