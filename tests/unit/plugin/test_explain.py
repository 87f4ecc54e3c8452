"""`explain` on hand-built situations: the blocking figure, the budget math, the pool fits and
the single changes that would (or would not) admit the workload."""

from __future__ import annotations

from dataclasses import replace

from paddock.kubectl_plugin.explain import explain
from paddock.kubectl_plugin.render import explain_text
from paddock.kubectl_plugin.view import View
from paddock.kubectl_plugin.whatif import WhatIf
from paddock.planner import Reason, plan

from .helpers import budget, nodes, settle, snapshot, view, workload


def helping(items: tuple[WhatIf, ...]) -> dict[str, WhatIf]:
    return {w.change: w for w in items if w.helps}


def test_no_capacity_names_the_largest_free_block_and_smaller_shapes_that_fit() -> None:
    v = view(
        snapshot(nodes(2, 15), [budget("team", 64)], [workload("huge", cores=16)]),
    )
    e = explain(v, "ns", "huge")
    assert e.reason == Reason.NO_CAPACITY
    assert e.needs == "needs 16 cores (1 replica × 16)"
    (fit,) = e.pools
    assert (fit.free_cores, fit.largest_free_block, fit.fits_replicas) == (30, 15, 0)
    assert e.blockers == (
        "no node has 16 free cores: largest free block 15 < 16 cores per replica in pools [g4]",
    )
    helps = helping(e.what_ifs)
    assert helps["coresPerReplica: 15"].message == "admitted 1 replica × 15 cores in g4 (1)"
    shape = helps["replicas: 2, coresPerReplica: 8 (the same 16 cores)"]
    assert shape.admitted_replicas == 2
    text = explain_text(e)
    assert "needs     16 cores (1 replica × 16)" in text
    assert "largest free block 15" in text
    assert "budget team: 0 of 64 used, 64 free; can admit 64 more now" in text


def test_budget_exhausted_shows_the_budget_math_and_who_holds_the_cores() -> None:
    v = view(
        snapshot(
            nodes(2, 15),
            [budget("team", 8)],
            [
                workload("first", cores=4, replicas=2),
                workload("second", cores=4, created=1),
            ],
        )
    )
    e = explain(v, "ns", "second")
    assert e.reason == Reason.BUDGET_EXHAUSTED
    assert e.budget_math is not None
    assert (e.budget_math.used, e.budget_math.free, e.budget_math.available) == (8, 0, 0)
    assert e.budget_verdict == "short by 4 cores: needs 4, can admit 0"
    assert [(h.workload, h.cores) for h in e.holders] == [("ns/first", 8)]
    assert e.blockers[0].startswith("budget team: 8 of 8 used, 0 free; can admit 0 more now")
    helps = helping(e.what_ifs)
    assert list(helps) == ["budget team cores: 8 → 12"]
    priority = next(w for w in e.what_ifs if w.kind == "priority")
    assert not priority.helps and priority.reason == Reason.BUDGET_EXHAUSTED


def test_fewer_replicas_is_the_largest_count_that_fits_the_budget() -> None:
    v = view(
        snapshot(
            nodes(4, 15),
            [budget("team", 20)],
            [
                workload("holder", cores=2, replicas=6),
                workload("wide", cores=2, replicas=6, created=1),
            ],
        )
    )
    e = explain(v, "ns", "wide")
    assert e.reason == Reason.BUDGET_EXHAUSTED
    replicas = helping(e.what_ifs)["replicas: 4"]
    assert replicas.detail == "needs 8 cores (4 replicas × 2); budget team can admit 8 now"
    assert "replicas: 5" not in helping(e.what_ifs)


def test_elastic_queued_workload_is_told_the_minReplicas_that_fits() -> None:
    v = view(
        snapshot(
            nodes(1, 15),
            [budget("team", 100)],
            [
                workload("holder", cores=9),
                workload("elastic", cores=2, replicas=6, min_replicas=4, created=1),
            ],
        )
    )
    e = explain(v, "ns", "elastic")
    assert e.reason == Reason.NO_CAPACITY
    assert e.needs == "needs at least 8 cores (4 replicas × 2)"
    assert helping(e.what_ifs)["minReplicas: 3"].admitted_replicas == 3


def test_partly_admitted_names_what_stops_growth() -> None:
    v = view(
        snapshot(
            nodes(1, 7),
            [budget("team", 100)],
            [workload("elastic", cores=2, replicas=4, min_replicas=2)],
        )
    )
    e = explain(v, "ns", "elastic")
    assert (e.reason, e.admitted_replicas) == (Reason.PARTIALLY_ADMITTED, 3)
    assert e.needs == "needs 2 more cores (1 replica × 2) to reach 4 replicas"
    assert e.blockers == (
        "no node has 2 free cores: largest free block 1 < 2 cores per replica in pools [g4]",
    )
    assert e.pools[0].fits_replicas == 0 and e.pools[0].wanted_replicas == 1
    # One core per replica frees its own pods' cores and fits all four.
    assert helping(e.what_ifs)["coresPerReplica: 1"].admitted_replicas == 4
    assert "3 of 4 replicas admitted (6 of 8 cores)" in explain_text(e)


def test_strict_fifo_names_the_queue_head_and_why_it_does_not_fit() -> None:
    v = view(
        snapshot(
            nodes(1, 15),
            [budget("strict", 8, queueing="StrictFIFO")],
            [
                workload("a-head", cores=12, candidates=("strict",)),
                workload("b-next", cores=2, created=1, candidates=("strict",)),
            ],
        )
    )
    e = explain(v, "ns", "b-next")
    assert e.reason == Reason.BLOCKED_BY_QUEUE_HEAD
    (blocker,) = e.blockers
    assert blocker.startswith(
        "budget strict is StrictFIFO: its queue head ns/a-head (position 1, priority 0) "
        "does not fit: BudgetExhausted: needs 12 cores"
    )
    assert helping(e.what_ifs)["priority: 1 (above every other workload of budget strict)"]


def test_evicted_workload_is_told_fewer_replicas_or_a_priority_that_preempts() -> None:
    team = budget("team", 8, preempt_within_budget="LowerPriority")
    s = settle(snapshot(nodes(2, 15), [team], [workload("batch", cores=4, replicas=2)]))
    s = replace(
        s,
        workloads=(*s.workloads, workload("urgent", cores=4, priority=100, created=5)),
    )
    during = View.of(s)
    assert during.plan.workloads["ns/batch"].reason == Reason.PREEMPTED
    assert explain(during, "ns", "urgent").victims == ("ns/batch (evicted)",)
    assert explain(during, "ns", "batch").blockers[0].startswith("preempted this cycle: evicted")

    e = explain(view(s), "ns", "batch")
    assert e.reason == Reason.BUDGET_EXHAUSTED
    assert e.budget_math is not None and e.budget_math.used == 4
    assert "budget team: 4 of 8 used" in e.blockers[0]
    helps = helping(e.what_ifs)
    assert helps["replicas: 1"].outcome == "admitted"
    raised = helps["priority: 101 (above every other workload of budget team)"]
    assert raised.outcome == "admitted after preemption"
    assert raised.victims == ("ns/urgent (evicted)",)


def test_pool_outside_the_budget_is_offered_as_a_budget_change() -> None:
    v = view(
        snapshot(
            nodes(1, 7, pool="g3") + nodes(2, 15, pool="g4"),
            [budget("team", 64, pools=("g3",))],
            [workload("w", cores=4, replicas=3)],
        )
    )
    e = explain(v, "ns", "w")
    assert [(f.pool, f.usable, f.note) for f in e.pools] == [
        ("g3", True, ""),
        ("g4", False, "not allowed by budget team"),
    ]
    added = helping(e.what_ifs)["add pool g4 to budget team's pools"]
    assert added.message == "admitted 3 replicas × 4 cores in g3 (1), g4 (2)"


def test_placement_pools_narrowing_is_offered_as_a_placement_change() -> None:
    v = view(
        snapshot(
            nodes(1, 7, pool="g3") + nodes(2, 15, pool="g4"),
            [budget("team", 64)],
            [workload("w", cores=8, pools=("g3",))],
        )
    )
    e = explain(v, "ns", "w")
    assert e.pools[1].note == "not in placement.pools"
    assert helping(e.what_ifs)["placement.pools: [g3, g4]"].outcome == "admitted"


def test_workload_without_a_budget_is_offered_each_budget() -> None:
    v = view(
        snapshot(
            nodes(1, 15),
            [budget("a", 8), budget("b", 2)],
            [workload("lost", cores=4, candidates=())],
        )
    )
    e = explain(v, "ns", "lost")
    assert e.reason == Reason.NO_BUDGET and e.budget is None
    assert e.blockers == ("NoBudget: no CoreBudget selects namespace ns",)
    changes = {w.change: w.helps for w in e.what_ifs}
    assert changes == {
        "budget: a, and budget a's namespaceSelector selects namespace ns": True,
        "budget: b, and budget b's namespaceSelector selects namespace ns": False,
    }


def test_ambiguous_budget_is_offered_each_candidate() -> None:
    v = view(
        snapshot(
            nodes(1, 15),
            [budget("a", 8), budget("b", 8)],
            [workload("w", cores=4, candidates=("a", "b"))],
        )
    )
    e = explain(v, "ns", "w")
    assert e.reason == Reason.AMBIGUOUS_BUDGET
    assert sorted(helping(e.what_ifs)) == ["budget: a", "budget: b"]


def test_cohort_figures_borrowed_and_lent() -> None:
    # The borrower took the lender's idle cores first; the lender's workload arrives later and
    # may not reclaim them (reclaimFromCohort: Never).
    s = settle(
        snapshot(
            nodes(4, 15),
            [budget("lender", 8, cohort="c"), budget("borrower", 4, cohort="c")],
            [workload("greedy", cores=4, replicas=3, candidates=("borrower",))],
        )
    )
    late = workload("late", cores=8, replicas=1, created=1, candidates=("lender",))
    v = View.of(replace(s, workloads=(*s.workloads, late)))
    e = explain(v, "ns", "late")
    assert e.reason == Reason.BUDGET_EXHAUSTED
    assert e.budget_math is not None
    m = e.budget_math
    assert (m.used, m.lent, m.free, m.available) == (0, 8, 8, 0)
    assert [c.name for c in e.cohort] == ["borrower"]
    assert e.cohort[0].borrowed == 8
    assert [h.workload for h in e.holders] == ["ns/greedy"]
    assert "budget lender: 0 of 8 used, 8 lent to cohort c, 8 free; can admit 0 more now" in (
        explain_text(e)
    )


def test_admitted_workload_has_nothing_to_fix() -> None:
    v = view(snapshot(nodes(1, 15), [budget("team", 8)], [workload("ok", cores=2, replicas=2)]))
    e = explain(v, "ns", "ok")
    assert (e.reason, e.blockers, e.what_ifs) == (Reason.ADMITTED, (), ())
    text = explain_text(e)
    assert "WHAT WOULD ADMIT IT" not in text and "POOLS" not in text


def test_operator_status_agreement_and_staleness() -> None:
    s = settle(snapshot(nodes(1, 15), [budget("team", 8)], [workload("ok", cores=2)]))
    agreeing = View.of(
        s, statuses={"ns/ok": {"phase": "Running", "reason": "Admitted", "admittedReplicas": 1}}
    )
    status = explain(agreeing, "ns", "ok").operator
    assert status is not None and status.agrees and not status.stale
    behind = View.of(
        s,
        statuses={"ns/ok": {"phase": "Queued", "reason": "NoCapacity", "admittedReplicas": 0}},
        stale={"ns/ok": True},
    )
    status = explain(behind, "ns", "ok").operator
    assert status is not None and not status.agrees and status.stale
    text = explain_text(explain(behind, "ns", "ok"))
    assert "differs from a plan of the cluster now" in text
    assert "has not observed the latest spec yet" in text


def test_invalid_spec_reports_its_errors() -> None:
    v = View.of(snapshot(nodes(1, 15), [budget("team", 8)], []))
    e = explain(v, "ns", "bad", errors=("spec.replicas: must be >= 1",))
    assert e.found and e.reason == "InvalidSpec"
    assert "spec.replicas: must be >= 1" in explain_text(e)


def test_what_ifs_can_be_skipped_and_the_search_is_bounded() -> None:
    s = snapshot(nodes(2, 15), [budget("team", 64)], [workload("huge", cores=16)])
    assert explain(view(s), "ns", "huge", suggest=False).what_ifs == ()
    big = snapshot(
        nodes(2, 15), [budget("team", 100_000)], [workload("huge", cores=192, replicas=500)]
    )
    settled = View.of(big)
    assert plan(big).workloads["ns/huge"].reason == Reason.NO_CAPACITY
    assert 0 < len(explain(settled, "ns", "huge").what_ifs) <= 64
