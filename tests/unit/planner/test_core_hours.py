"""The planner's core-hour gate: an exhausted budget admits nothing new, grows nothing, and with
ScaleToMin shrinks elastic workloads to minReplicas; other budgets are untouched."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from paddock.planner import Reason, plan
from tests.unit.planner.builders import budget, nodes, settle, snapshot, workload

EXHAUSTED = "budget team-a used 1.02 of 1 core-hours in its window; enough frees at X"


def test_exhausted_budget_queues_new_work_with_the_reason_and_numbers() -> None:
    snap = snapshot(
        nodes=nodes(2),
        budgets=(budget(core_hours_exhausted=EXHAUSTED),),
        workloads=(workload("new", cores=2, replicas=2),),
    )
    decision = plan(snap).workloads["ns/new"]
    assert decision.admitted_replicas == 0
    assert decision.reason == Reason.CORE_HOURS_EXHAUSTED
    assert "1.02 of 1 core-hours" in decision.message and "needs 4 cores" in decision.message
    assert decision.queue_position == 1


def test_queue_keeps_what_runs_but_grows_nothing() -> None:
    running = workload(
        "elastic",
        cores=2,
        replicas=4,
        min_replicas=1,
        current=(("g4", 2),),
        placed=(("g4-0", 2),),
    )
    snap = snapshot(
        nodes=nodes(2), budgets=(budget(core_hours_exhausted=EXHAUSTED),), workloads=(running,)
    )
    decision = plan(snap).workloads["ns/elastic"]
    assert decision.admitted_replicas == 2
    assert decision.reason == Reason.PARTIALLY_ADMITTED
    assert "more wait for core-hours" in decision.message


def test_scale_to_min_shrinks_elastic_workloads_to_min_replicas() -> None:
    running = workload(
        "elastic",
        cores=2,
        replicas=4,
        min_replicas=1,
        current=(("g4", 4),),
        placed=(("g4-0", 4),),
    )
    fixed = workload("fixed", cores=1, replicas=2, current=(("g4", 2),), placed=(("g4-1", 2),))
    snap = snapshot(
        nodes=nodes(2),
        budgets=(budget(core_hours_exhausted=EXHAUSTED, scale_to_min=True),),
        workloads=(running, fixed),
    )
    result = plan(snap)
    assert result.workloads["ns/elastic"].admitted_replicas == 1
    assert any("ScaleToMin" in e for e in result.workloads["ns/elastic"].events)
    assert result.workloads["ns/fixed"].admitted_replicas == 2  # not elastic: kept


def test_other_budgets_are_not_gated() -> None:
    snap = snapshot(
        nodes=nodes(2),
        budgets=(budget(core_hours_exhausted=EXHAUSTED), budget("team-b")),
        workloads=(workload("b", cores=2, candidates=("team-b",)),),
    )
    assert plan(snap).workloads["ns/b"].reason == Reason.ADMITTED


def test_exhausted_work_does_not_preempt() -> None:
    victim = workload(
        "low", cores=16, replicas=2, current=(("g4", 2),), placed=(("g4-0", 1), ("g4-1", 1))
    )
    high = workload("high", cores=16, priority=10)
    snap = snapshot(
        nodes=nodes(2),
        budgets=(
            budget(cores=32, preempt_within_budget="LowerPriority", core_hours_exhausted=EXHAUSTED),
        ),
        workloads=(victim, high),
    )
    result = plan(snap)
    assert result.victims == ()
    assert result.workloads["ns/high"].reason == Reason.CORE_HOURS_EXHAUSTED


@settings(max_examples=40, deadline=None)
@given(
    replicas=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    scale=st.booleans(),
)
def test_exhausted_budget_never_holds_more_than_before(replicas: list[int], scale: bool) -> None:
    """Whatever the workloads, an exhausted budget's admitted cores never grow, and settle."""
    loads = tuple(
        workload(f"w{i}", cores=1, replicas=r, min_replicas=1) for i, r in enumerate(replicas)
    )
    open_snap, open_plan = settle(snapshot(nodes=nodes(2), workloads=loads))
    before = open_plan.budgets["team-a"].used_cores
    gated = snapshot(
        nodes=open_snap.nodes,
        budgets=(budget(core_hours_exhausted=EXHAUSTED, scale_to_min=scale),),
        workloads=open_snap.workloads,
    )
    _, after = settle(gated)
    assert after.budgets["team-a"].used_cores <= before
    if scale:
        assert all(d.admitted_replicas <= 1 for d in after.workloads.values())
