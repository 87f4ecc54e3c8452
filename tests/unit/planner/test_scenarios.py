"""Named scenarios: each test is one situation a platform engineer would recognise."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from paddock.planner import Planner, Reason, Snapshot, Victim, apply_plan, plan

from .builders import (
    GI,
    budget,
    node,
    nodes,
    pool,
    settle,
    snapshot,
    with_workloads,
    without_nodes,
    workload,
)

# -- admission ---------------------------------------------------------------------------


def test_admits_a_workload_that_fits() -> None:
    p = plan(snapshot(nodes=nodes(2, 16), workloads=[workload("agent", cores=8, replicas=3)]))
    d = p.workloads["ns/agent"]
    assert (d.state, d.reason, d.admitted_replicas) == ("Admitted", Reason.ADMITTED, 3)
    assert d.assignments == (("g4", 3),)
    assert sum(r for _, r in d.placements) == 3
    assert d.queue_position is None
    assert d.message == "admitted 3 replicas × 8 cores in g4 (3)"


def test_elastic_workload_gets_the_largest_count_its_budget_allows() -> None:
    p = plan(
        snapshot(
            nodes=nodes(4, 64),
            budgets=[budget(cores=40)],
            workloads=[workload("llm", cores=8, replicas=10, min_replicas=2)],
        )
    )
    d = p.workloads["ns/llm"]
    assert (d.admitted_replicas, d.reason) == (5, Reason.PARTIALLY_ADMITTED)
    assert "admitted 5 of 10 replicas (40 of 80 cores)" in d.message
    assert "more wait for budget: budget team-a has 0 of 40 free" in d.message
    assert d.queue_position == 1


def test_elastic_workload_gets_the_largest_count_the_nodes_allow() -> None:
    p = plan(
        snapshot(
            nodes=nodes(3, 20), workloads=[workload("llm", cores=8, replicas=10, min_replicas=2)]
        )
    )
    d = p.workloads["ns/llm"]
    assert d.admitted_replicas == 6  # two 8-core replicas per 20-core node
    assert "more wait for capacity: largest free block in pools [g4] is 4 cores" in d.message


def test_fit_is_per_node_not_per_pool_total() -> None:
    # 16 cores free in the pool, but no single node has 16.
    p = plan(snapshot(nodes=nodes(2, 8), workloads=[workload("big", cores=16)]))
    d = p.workloads["ns/big"]
    assert (d.state, d.reason) == ("Queued", Reason.NO_CAPACITY)
    assert d.message == "needs 1 replica × 16 cores; largest free block in pools [g4] is 8 cores"


def test_memory_must_fit_on_the_same_node() -> None:
    small = node("small-mem", 32, memory=4 * GI)
    roomy = node("roomy", 8, memory=64 * GI)
    p = plan(
        snapshot(
            nodes=[small, roomy], workloads=[workload("w", cores=4, replicas=3, memory=8 * GI)]
        )
    )
    d = p.workloads["ns/w"]
    assert d.reason is Reason.NO_CAPACITY
    assert "pools [g4] have room for 2" in d.message
    assert "8Gi" in d.message


def test_below_min_replicas_nothing_is_admitted() -> None:
    p = plan(
        snapshot(nodes=nodes(1, 16), workloads=[workload("w", cores=8, replicas=4, min_replicas=3)])
    )
    d = p.workloads["ns/w"]
    assert (d.admitted_replicas, d.reason) == (0, Reason.NO_CAPACITY)
    assert d.message.startswith("needs at least 3 replicas × 8 cores; pools [g4] have room for 2")


def test_each_cycle_admits_everything_that_fits() -> None:
    work = [workload(f"w{i}", cores=2, created=i) for i in range(20)]
    p = plan(snapshot(nodes=nodes(5, 8), workloads=work))
    assert all(d.reason is Reason.ADMITTED for d in p.workloads.values())
    assert p.pools["g4"].free_cores_after_plan == 0


def test_nothing_lands_on_amd64_cordoned_or_poolless_nodes() -> None:
    cluster = [
        node("x86", 64, arch="amd64"),
        node("cordoned", 64, schedulable=False),
        node("stray", 64, pool=None),
        node("graviton", 4),
    ]
    p = plan(
        snapshot(nodes=cluster, workloads=[workload("w", cores=2, replicas=5, min_replicas=1)])
    )
    d = p.workloads["ns/w"]
    assert d.placements == (("graviton", 2),)
    assert p.pools["g4"].nodes == 3 and p.pools["g4"].schedulable_nodes == 1


def test_pools_with_no_schedulable_arm64_node_are_no_matching_pool() -> None:
    p = plan(snapshot(nodes=[node("x86", 64, arch="amd64")], workloads=[workload("w")]))
    d = p.workloads["ns/w"]
    assert d.reason is Reason.NO_MATCHING_POOL
    assert d.message == "pools [g4] have no schedulable arm64 nodes"
    assert d.queue_position is None


def test_nodes_with_negative_free_cores_fit_nothing() -> None:
    p = plan(
        snapshot(
            nodes=[node("busy", -3), node("ok", 2)],
            workloads=[workload("w", cores=2, replicas=2, min_replicas=1)],
        )
    )
    assert p.workloads["ns/w"].placements == (("ok", 1),)


# -- pools -------------------------------------------------------------------------------


def test_replicas_follow_the_budget_pool_order_and_split_across_pools() -> None:
    cluster = nodes(1, 16, pool="g3") + nodes(1, 16, pool="g4")
    b = budget(pools=("g4", "g3"))
    p = plan(snapshot(nodes=cluster, budgets=[b], workloads=[workload("w", cores=8, replicas=3)]))
    assert p.workloads["ns/w"].assignments == (("g4", 2), ("g3", 1))


def test_without_a_budget_pool_list_heavier_pools_come_first() -> None:
    cluster = nodes(1, 16, pool="g3") + nodes(1, 16, pool="g4")
    p = plan(
        snapshot(
            nodes=cluster,
            pools=[pool("g3", weight=10), pool("g4", weight=1)],
            workloads=[workload("w", cores=8, replicas=1)],
        )
    )
    assert p.workloads["ns/w"].assignments == (("g3", 1),)


def test_placement_pools_narrow_and_reorder_the_budget_pools() -> None:
    cluster = nodes(1, 16, pool="g2") + nodes(1, 16, pool="g3") + nodes(1, 16, pool="g4")
    b = budget(pools=("g4", "g3"))
    w = workload("w", cores=8, replicas=3, pools=("g2", "g3", "g4"))
    p = plan(snapshot(nodes=cluster, budgets=[b], workloads=[w]))
    # g2 is not allowed by the budget; g3 is preferred over g4 by the workload.
    assert p.workloads["ns/w"].assignments == (("g3", 2), ("g4", 1))


def test_placement_pools_sharing_nothing_with_the_budget_is_no_matching_pool() -> None:
    cluster = nodes(1, 16, pool="g2") + nodes(1, 16, pool="g4")
    b = budget(pools=("g4",))
    p = plan(snapshot(nodes=cluster, budgets=[b], workloads=[workload("w", pools=("g2",))]))
    d = p.workloads["ns/w"]
    assert d.reason is Reason.NO_MATCHING_POOL
    assert d.message == "placement.pools [g2] shares no pool with budget team-a [g4]"


# -- budget resolution and validation ----------------------------------------------------


def test_explicit_budget_that_does_not_exist_is_unknown() -> None:
    p = plan(snapshot(nodes=nodes(1), workloads=[workload("w", budget="nope")]))
    d = p.workloads["ns/w"]
    assert (d.reason, d.budget, d.message) == (
        Reason.UNKNOWN_BUDGET,
        None,
        "budget nope does not exist",
    )


def test_explicit_budget_not_selecting_the_namespace_is_refused() -> None:
    budgets = [budget("team-a"), budget("team-b")]
    w = workload("w", budget="team-b", candidates=("team-a",))
    d = plan(snapshot(nodes=nodes(1), budgets=budgets, workloads=[w])).workloads["ns/w"]
    assert d.reason is Reason.NAMESPACE_NOT_ALLOWED
    assert "team-b does not select namespace ns" in d.message


def test_namespace_without_any_budget_is_no_budget() -> None:
    d = plan(snapshot(nodes=nodes(1), workloads=[workload("w", candidates=())])).workloads["ns/w"]
    assert (d.reason, d.message) == (Reason.NO_BUDGET, "no CoreBudget selects namespace ns")


def test_namespace_selected_by_two_budgets_is_ambiguous_unless_spec_names_one() -> None:
    budgets = [budget("team-a"), budget("team-b")]
    both = ("team-a", "team-b")
    p = plan(
        snapshot(
            nodes=nodes(1),
            budgets=budgets,
            workloads=[
                workload("vague", candidates=both),
                workload("clear", candidates=both, budget="team-b"),
            ],
        )
    )
    assert p.workloads["ns/vague"].reason is Reason.AMBIGUOUS_BUDGET
    assert "team-a, team-b" in p.workloads["ns/vague"].message
    assert p.workloads["ns/clear"].budget == "team-b"
    assert p.workloads["ns/clear"].reason is Reason.ADMITTED


def test_impossible_specs_are_invalid_not_crashes() -> None:
    bad = [
        workload("min-above", replicas=2, min_replicas=3),
        workload("zero-cores", cores=0),
        workload("negative", replicas=-1, min_replicas=0),
    ]
    p = plan(snapshot(nodes=nodes(1), workloads=bad))
    assert {d.reason for d in p.workloads.values()} == {Reason.INVALID_SPEC}
    assert p.workloads["ns/min-above"].message == "minReplicas 3 > replicas 2"


def test_duplicate_keys_are_an_operator_bug() -> None:
    with pytest.raises(ValueError, match="duplicate workload"):
        plan(snapshot(nodes=nodes(1), workloads=[workload("w"), workload("w")]))


# -- budgets and cohorts -----------------------------------------------------------------


def test_budget_exhausted_message_carries_the_numbers() -> None:
    budgets = [
        budget("team-a", 256, cohort="ml", borrowing_limit=0),
        budget("team-b", 0, cohort="ml"),
    ]
    held = workload("held", cores=61, replicas=4)  # 244 of 256 used
    want = workload("want", cores=16, created=1)
    p = plan(snapshot(nodes=nodes(10, 64), budgets=budgets, workloads=[held, want]))
    d = p.workloads["ns/want"]
    assert d.reason is Reason.BUDGET_EXHAUSTED
    assert d.message == (
        "needs 16 cores (1 replica × 16), budget team-a has 12 of 256 free "
        "and can borrow 0 from cohort ml"
    )


def test_borrowing_from_the_cohort_stops_at_the_borrowing_limit() -> None:
    budgets = [
        budget("team-a", 10, cohort="ml", borrowing_limit=6),
        budget("team-b", 100, cohort="ml"),
    ]
    w = workload("w", cores=2, replicas=20, min_replicas=1)
    p = plan(snapshot(nodes=nodes(4, 64), budgets=budgets, workloads=[w]))
    assert p.workloads["ns/w"].admitted_replicas == 8  # 10 own + 6 borrowed
    a, b = p.budgets["team-a"], p.budgets["team-b"]
    assert (a.used_cores, a.borrowed_cores, b.lent_cores) == (16, 6, 6)


def test_lending_limit_caps_what_the_cohort_may_borrow() -> None:
    budgets = [
        budget("team-a", 10, cohort="ml"),
        budget("team-b", 100, cohort="ml", lending_limit=5),
    ]
    w = workload("w", cores=1, replicas=50, min_replicas=1)
    p = plan(snapshot(nodes=nodes(4, 64), budgets=budgets, workloads=[w]))
    assert p.workloads["ns/w"].admitted_replicas == 15


def test_owners_get_their_nominal_before_borrowers_whatever_the_priority() -> None:
    # Kueue's rule: work that fits in its own budget goes before work that must borrow, so a
    # budget never lends out, in queue order, what it needs itself.
    budgets = [budget("owner", 8, cohort="ml"), budget("borrower", 0, cohort="ml")]
    work = [
        workload("vip", cores=8, priority=100, candidates=("borrower",)),
        workload("mine", cores=8, priority=0, candidates=("owner",), created=1),
    ]
    p = plan(snapshot(nodes=nodes(2, 8), budgets=budgets, workloads=work))
    assert p.workloads["ns/mine"].reason is Reason.ADMITTED
    vip = p.workloads["ns/vip"]
    assert vip.reason is Reason.BUDGET_EXHAUSTED
    assert vip.message.endswith("budget borrower has 0 of 0 free and can borrow 0 from cohort ml")


def test_a_budget_never_lets_lower_priority_work_jump_a_borrowing_head() -> None:
    # `big` must borrow; `small` would fit in the nominal but waits its turn behind it.
    budgets = [budget("team-a", 10, cohort="ml"), budget("team-b", 10, cohort="ml")]
    work = [
        workload("big", cores=15, priority=5),
        workload("small", cores=10, priority=1, created=1),
    ]
    p = plan(snapshot(nodes=nodes(2, 16), budgets=budgets, workloads=work))
    assert p.workloads["ns/big"].reason is Reason.ADMITTED
    assert p.workloads["ns/small"].reason is Reason.BUDGET_EXHAUSTED


def test_budgets_outside_a_cohort_share_nothing() -> None:
    budgets = [budget("team-a", 4), budget("team-b", 100)]
    w = workload("w", cores=1, replicas=10, min_replicas=1)
    p = plan(snapshot(nodes=nodes(1, 64), budgets=budgets, workloads=[w]))
    assert p.workloads["ns/w"].admitted_replicas == 4


# -- queueing ----------------------------------------------------------------------------


def test_higher_priority_goes_first_then_older_then_key() -> None:
    work = [
        workload("old-low", cores=8, priority=0, created=0),
        workload("new-high", cores=8, priority=5, created=9),
        workload("b-mid", cores=8, priority=1, created=3),
        workload("a-mid", cores=8, priority=1, created=3),
    ]
    p = plan(snapshot(nodes=nodes(1, 16), workloads=work))
    admitted = sorted(k for k, d in p.workloads.items() if d.admitted_replicas)
    assert admitted == ["ns/a-mid", "ns/new-high"]
    assert p.workloads["ns/b-mid"].queue_position == 1
    assert p.workloads["ns/old-low"].queue_position == 2


def test_best_effort_fifo_skips_what_does_not_fit() -> None:
    work = [workload("huge", cores=32, created=0), workload("small", cores=4, created=1)]
    p = plan(snapshot(nodes=nodes(1, 16), workloads=work))
    assert p.workloads["ns/huge"].reason is Reason.NO_CAPACITY
    assert p.workloads["ns/small"].reason is Reason.ADMITTED


def test_strict_fifo_blocks_behind_its_head() -> None:
    budgets = [budget("team-a", queueing="StrictFIFO"), budget("team-b")]
    work = [
        workload("huge", cores=32, created=0),
        workload("small", cores=4, created=1),
        workload("other", cores=4, created=2, candidates=("team-b",)),
    ]
    p = plan(snapshot(nodes=nodes(1, 16), budgets=budgets, workloads=work))
    small = p.workloads["ns/small"]
    assert small.reason is Reason.BLOCKED_BY_QUEUE_HEAD
    assert "waiting behind ns/huge" in small.message
    assert (small.queue_position, p.workloads["ns/huge"].queue_position) == (2, 1)
    assert p.workloads["ns/other"].reason is Reason.ADMITTED  # other budgets are not blocked


def test_growth_waits_for_pending_work_of_equal_priority() -> None:
    cluster = nodes(1, 16)
    running = workload(
        "running", cores=4, replicas=4, min_replicas=1, current=(("g4", 1),), placed=(("g4-0", 1),)
    )
    cluster = (replace(cluster[0], free_cores=12),)
    fresh = workload("fresh", cores=4, replicas=2, created=5)
    p = plan(snapshot(nodes=cluster, workloads=[running, fresh]))
    assert p.workloads["ns/fresh"].admitted_replicas == 2
    assert p.workloads["ns/running"].admitted_replicas == 2  # grew by the 4 cores left over


def test_elastic_workload_grows_when_cores_free_up() -> None:
    snap, settled = settle(
        snapshot(
            nodes=nodes(1, 16),
            workloads=[
                workload("elastic", cores=4, replicas=4, min_replicas=1, priority=1),
                workload("blocker", cores=8, replicas=1, priority=2),
            ],
        )
    )
    assert settled.workloads["ns/elastic"].admitted_replicas == 2
    gone = Snapshot(
        nodes=tuple(replace(n, free_cores=n.free_cores + 8) for n in snap.nodes),
        pools=snap.pools,
        budgets=snap.budgets,
        workloads=tuple(w for w in snap.workloads if w.name != "blocker"),
    )
    d = plan(gone).workloads["ns/elastic"]
    assert (d.admitted_replicas, d.reason) == (4, Reason.ADMITTED)
    assert d.events == ("grew from 2 to 4 replicas",)


# -- preemption --------------------------------------------------------------------------


def _full_cluster_with(
    *running: tuple[str, int, int, int, int], policy: str = "LowerPriority"
) -> Snapshot:
    """One 32-core node already holding `running` (name, cores, replicas, min, priority)."""
    work = []
    used = 0
    for i, (name, cores, replicas, min_replicas, priority) in enumerate(running):
        work.append(
            workload(
                name,
                cores=cores,
                replicas=replicas,
                min_replicas=min_replicas,
                priority=priority,
                created=i,
                current=(("g4", replicas),),
                placed=(("g4-0", replicas),),
            )
        )
        used += cores * replicas
    return snapshot(
        nodes=[node("g4-0", 32 - used)],
        budgets=[budget(preempt_within_budget=policy)],
        workloads=work,
    )


def test_preemption_shrinks_toward_min_replicas_before_evicting() -> None:
    snap = _full_cluster_with(("elastic", 4, 6, 2, 0), ("fixed", 8, 1, 1, 0))
    snap = with_workloads(snap, workload("urgent", cores=8, priority=10, created=9))
    p = plan(snap)
    assert p.victims == (
        Victim(preemptor="ns/urgent", victim="ns/elastic", from_replicas=6, to_replicas=4),
    )
    assert p.workloads["ns/urgent"].reason is Reason.PREEMPTING
    assert p.workloads["ns/urgent"].admitted_replicas == 0  # waits for the pods to go
    elastic = p.workloads["ns/elastic"]
    assert (elastic.reason, elastic.state, elastic.admitted_replicas) == (
        Reason.PREEMPTED,
        "Admitted",
        4,
    )
    assert p.workloads["ns/fixed"].admitted_replicas == 1


def test_preemption_evicts_whole_when_shrinking_is_not_enough() -> None:
    snap = _full_cluster_with(("elastic", 4, 4, 2, 0), ("fixed", 16, 1, 1, 1))
    snap = with_workloads(snap, workload("urgent", cores=16, priority=10, created=9))
    p = plan(snap)
    # Shrinking `elastic` frees 8; evicting the lowest priority (`elastic`) frees 16: enough.
    assert p.victims == (
        Victim(preemptor="ns/urgent", victim="ns/elastic", from_replicas=4, to_replicas=0),
    )
    assert p.workloads["ns/elastic"].state == "Preempted"
    assert p.workloads["ns/elastic"].message.startswith("evicted to make room for ns/urgent")
    assert p.workloads["ns/fixed"].admitted_replicas == 1


def test_preemption_picks_the_smallest_set_lowest_priority_newest_first() -> None:
    snap = _full_cluster_with(
        ("a", 8, 1, 1, 1), ("b", 8, 1, 1, 0), ("c", 8, 1, 1, 0), ("d", 8, 1, 1, 2)
    )
    snap = with_workloads(snap, workload("urgent", cores=8, priority=10, created=9))
    p = plan(snap)
    assert [v.victim for v in p.victims] == ["ns/c"]  # priority 0, newer than b


def test_preemptor_takes_the_freed_room_the_next_cycle() -> None:
    snap = _full_cluster_with(("low", 8, 4, 4, 0))
    snap = with_workloads(snap, workload("urgent", cores=16, priority=10, created=9))
    first = plan(snap)
    assert first.workloads["ns/urgent"].reason is Reason.PREEMPTING
    assert first.workloads["ns/urgent"].message.startswith(
        "preempting ns/low (evicted) to free 32 cores"
    )
    second = plan(apply_plan(snap, first))
    assert second.workloads["ns/urgent"].reason is Reason.ADMITTED
    low = second.workloads["ns/low"]
    assert (low.state, low.reason, low.queue_position) == ("Queued", Reason.NO_CAPACITY, 1)
    assert not second.victims


def test_no_preemption_when_evicting_everyone_would_not_be_enough() -> None:
    snap = _full_cluster_with(("low", 8, 2, 2, 0))
    snap = with_workloads(snap, workload("giant", cores=48, priority=10, created=9))
    p = plan(snap)
    assert p.victims == ()
    assert p.workloads["ns/giant"].reason is Reason.NO_CAPACITY


def test_no_preemption_when_the_budget_says_never() -> None:
    snap = _full_cluster_with(("low", 8, 4, 4, 0), policy="Never")
    snap = with_workloads(snap, workload("urgent", cores=8, priority=10, created=9))
    p = plan(snap)
    assert p.victims == ()
    assert p.workloads["ns/low"].admitted_replicas == 4  # admissions are commitments
    assert p.workloads["ns/urgent"].reason is Reason.NO_CAPACITY


def test_reclaim_takes_back_lent_cores_from_borrowers_first() -> None:
    budgets = [
        budget(
            "owner",
            16,
            cohort="ml",
            reclaim_from_cohort="LowerPriority",
            preempt_within_budget="LowerPriority",
        ),
        budget("borrower", 0, cohort="ml"),
    ]
    own = workload(
        "own-low", cores=8, current=(("g4", 1),), placed=(("g4-0", 1),), candidates=("owner",)
    )
    lent = workload(
        "borrowed",
        cores=8,
        current=(("g4", 1),),
        placed=(("g4-0", 1),),
        candidates=("borrower",),
        created=1,
    )
    urgent = workload("urgent", cores=8, priority=5, candidates=("owner",), created=2)
    snap = snapshot(nodes=[node("g4-0", 0)], budgets=budgets, workloads=[own, lent, urgent])
    p = plan(snap)
    assert [v.victim for v in p.victims] == ["ns/borrowed"]
    assert p.budgets["borrower"].borrowed_cores == 0
    nxt = plan(apply_plan(snap, p))
    assert nxt.workloads["ns/urgent"].reason is Reason.ADMITTED
    assert nxt.workloads["ns/borrowed"].reason is Reason.BUDGET_EXHAUSTED


def test_reclaim_any_does_not_flap_with_a_higher_priority_borrower() -> None:
    budgets = [
        budget("owner", 16, cohort="ml", reclaim_from_cohort="Any"),
        budget("borrower", 0, cohort="ml"),
    ]
    borrower = workload(
        "vip",
        cores=16,
        priority=100,
        candidates=("borrower",),
        current=(("g4", 1),),
        placed=(("g4-0", 1),),
    )
    owner = workload("mine", cores=16, priority=0, candidates=("owner",), created=1)
    snap = snapshot(
        nodes=[node("g4-0", 0), node("g4-1", 0)], budgets=budgets, workloads=[borrower, owner]
    )
    first = plan(snap)
    assert [v.victim for v in first.victims] == ["ns/vip"]
    snap, settled = settle(snap)
    assert settled.workloads["ns/mine"].reason is Reason.ADMITTED
    assert settled.workloads["ns/vip"].reason is Reason.BUDGET_EXHAUSTED
    assert "can borrow 0 from cohort ml" in settled.workloads["ns/vip"].message


# -- spread ------------------------------------------------------------------------------


def test_spread_node_puts_one_replica_per_node_then_packs() -> None:
    w = workload("w", cores=2, replicas=5, spread="Node")
    p = plan(snapshot(nodes=nodes(3, 16), workloads=[w]))
    counts = sorted(r for _, r in p.workloads["ns/w"].placements)
    assert counts == [1, 1, 3]
    packed = plan(snapshot(nodes=nodes(3, 16), workloads=[replace(w, spread="None")]))
    assert [r for _, r in packed.workloads["ns/w"].placements] == [5]


def test_spread_zone_round_robins_over_zones() -> None:
    w = workload("w", cores=2, replicas=6, spread="Zone")
    p = plan(snapshot(nodes=nodes(6, 16, zones=("a", "b", "c")), workloads=[w]))
    zone_of = {f"g4-{i}": "abc"[i % 3] for i in range(6)}
    per_zone: dict[str, int] = {}
    for name, replicas in p.workloads["ns/w"].placements:
        per_zone[zone_of[name]] = per_zone.get(zone_of[name], 0) + replicas
    assert per_zone == {"a": 2, "b": 2, "c": 2}


def test_spread_never_refuses_a_workload() -> None:
    w = workload("w", cores=2, replicas=4, spread="Node")
    p = plan(snapshot(nodes=nodes(1, 8), workloads=[w]))
    assert p.workloads["ns/w"].placements == (("g4-0", 4),)


# -- node loss and committed admissions --------------------------------------------------


def test_node_loss_moves_replicas_to_a_pool_with_room() -> None:
    b = budget(pools=("g4", "g3"))
    snap, _ = settle(
        snapshot(
            nodes=nodes(1, 16, pool="g4") + nodes(1, 16, pool="g3"),
            budgets=[b],
            workloads=[workload("w", cores=8, replicas=2)],
        )
    )
    d = plan(without_nodes(snap, "g4-0")).workloads["ns/w"]
    assert (d.reason, d.assignments) == (Reason.ADMITTED, (("g3", 2),))
    assert d.events[0].startswith("moved 2 replicas from [g4] to [g3]")


def test_node_loss_shrinks_the_lowest_priority_first() -> None:
    # Both lost their node; the survivor has room for 5 of their 8 replicas.
    lost = (("g4", 4),), (("g4-0", 4),)
    work = [
        workload(
            "high", cores=4, replicas=4, min_replicas=1, priority=9, current=lost[0], placed=lost[1]
        ),
        workload(
            "low", cores=4, replicas=4, min_replicas=1, priority=1, current=lost[0], placed=lost[1]
        ),
    ]
    snap = snapshot(nodes=[node("g4-1", 20)], workloads=work)
    p = plan(snap)
    high, low = p.workloads["ns/high"], p.workloads["ns/low"]
    assert (high.reason, high.admitted_replicas, high.events) == (Reason.ADMITTED, 4, ())
    # Within the grace period the lost replicas keep their admission and wait for room.
    assert (low.reason, low.admitted_replicas, low.unplaced_replicas) == (
        Reason.REPLICAS_UNPLACED,
        4,
        3,
    )
    assert low.assignments == (("g4", 4),)
    assert "3 of 4 admitted replicas lost their pods" in low.message
    # After it, the elastic workload gives them up.
    lost_since = replace(work[1], unplaced_since=0.0)
    later = replace(snap, workloads=(work[0], lost_since), now=301.0)
    low = plan(later).workloads["ns/low"]
    assert (low.reason, low.admitted_replicas) == (Reason.PARTIALLY_ADMITTED, 1)
    assert low.events == (
        "shrunk from 4 to 1 replicas: 3 lost replicas found no room for 300 seconds",
    )


def test_node_loss_can_preempt_lower_priority_when_the_budget_allows() -> None:
    b = budget(preempt_within_budget="LowerPriority")
    snap, _ = settle(
        snapshot(
            nodes=nodes(2, 16),
            budgets=[b],
            workloads=[
                workload("high", cores=4, replicas=4, min_replicas=1, priority=9),
                workload("low", cores=4, replicas=4, min_replicas=1, priority=1, created=1),
            ],
        )
    )
    # Best fit packed `high` onto g4-0; losing it leaves no room but `low`'s.
    assert dict(plan(snap).workloads["ns/high"].placements) == {"g4-0": 4}
    after = plan(without_nodes(snap, "g4-0"))
    assert after.workloads["ns/high"].reason is Reason.PREEMPTING
    assert [v.victim for v in after.victims] == ["ns/low"]
    _, settled = settle(without_nodes(snap, "g4-0"))
    assert settled.workloads["ns/high"].admitted_replicas == 4


def test_node_loss_below_min_replicas_keeps_the_running_replica() -> None:
    # Rule 8: the replica whose node survived keeps running; the lost one waits for room.
    snap, _ = settle(snapshot(nodes=nodes(2, 8), workloads=[workload("w", cores=8, replicas=2)]))
    d = plan(without_nodes(snap, "g4-1")).workloads["ns/w"]
    assert (d.state, d.reason, d.admitted_replicas) == ("Admitted", Reason.REPLICAS_UNPLACED, 2)
    assert (d.unplaced_replicas, d.assignments) == (1, (("g4", 2),))
    assert d.placements == (("g4-0", 1),)


def test_cordoned_or_not_ready_nodes_keep_their_pods() -> None:
    # The reported incident: a cordon of one of two full nodes killed both pods.
    snap, _ = settle(snapshot(nodes=nodes(2, 7), workloads=[workload("w", cores=7, replicas=2)]))
    cordoned = replace(
        snap,
        nodes=tuple(replace(n, schedulable=n.name != "g4-0") for n in snap.nodes),
    )
    d = plan(cordoned).workloads["ns/w"]
    assert (d.reason, d.admitted_replicas, d.unplaced_replicas) == (Reason.ADMITTED, 2, 0)
    assert d.assignments == (("g4", 2),) and d.events == ()
    everything_down = replace(snap, nodes=tuple(replace(n, schedulable=False) for n in snap.nodes))
    d = plan(everything_down).workloads["ns/w"]
    assert (d.reason, d.admitted_replicas, d.assignments) == (Reason.ADMITTED, 2, (("g4", 2),))


def test_a_workload_whose_pods_are_all_gone_and_cannot_be_placed_is_queued_again() -> None:
    snap, _ = settle(snapshot(nodes=nodes(2, 8), workloads=[workload("w", cores=8, replicas=2)]))
    d = plan(without_nodes(snap, "g4-0", "g4-1")).workloads["ns/w"]
    assert (d.state, d.admitted_replicas) == ("Queued", 0)
    assert d.events[0] == "admission withdrawn: pools [g4] have no schedulable arm64 nodes"


def test_an_unreadable_spec_keeps_its_running_replicas_counted() -> None:
    snap, _ = settle(snapshot(nodes=nodes(2, 8), workloads=[workload("w", cores=4, replicas=3)]))
    (w,) = snap.workloads
    broken = replace(snap, workloads=(replace(w, invalid="spec.template: bad"),))
    p = plan(broken)
    d = p.workloads["ns/w"]
    assert d.frozen and d.reason is Reason.INVALID_SPEC
    assert (d.admitted_replicas, d.assignments) == (3, (("g4", 3),))
    assert "keep running (counted in budget team-a)" in d.message
    assert p.budgets["team-a"].used_cores == 12


def test_a_vanished_budget_leaves_the_running_replicas_alone() -> None:
    snap, _ = settle(snapshot(nodes=nodes(2, 8), workloads=[workload("w", cores=4, replicas=3)]))
    d = plan(replace(snap, budgets=())).workloads["ns/w"]
    assert d.frozen and d.reason is Reason.NO_BUDGET
    assert (d.admitted_replicas, d.assignments) == (3, (("g4", 3),))
    assert "counted in no budget" in d.message


def test_admitted_pods_not_yet_bound_keep_their_room() -> None:
    # Admitted last cycle, pods not bound yet: a higher-priority newcomer cannot take the room.
    admitted = workload("admitted", cores=16, current=(("g4", 1),), placed=())
    newcomer = workload("newcomer", cores=16, priority=100, created=5)
    p = plan(snapshot(nodes=nodes(1, 16), workloads=[admitted, newcomer]))
    assert p.workloads["ns/admitted"].reason is Reason.ADMITTED
    assert p.workloads["ns/admitted"].events == ()
    assert p.workloads["ns/newcomer"].reason is Reason.NO_CAPACITY


def test_scaling_down_drops_replicas_from_the_least_preferred_pool() -> None:
    b = budget(pools=("g4", "g3"))
    snap, _ = settle(
        snapshot(
            nodes=nodes(1, 16, pool="g4") + nodes(1, 16, pool="g3"),
            budgets=[b],
            workloads=[workload("w", cores=8, replicas=4)],
        )
    )
    smaller = replace(
        snap, workloads=tuple(replace(w, replicas=2, min_replicas=2) for w in snap.workloads)
    )
    d = plan(smaller).workloads["ns/w"]
    assert d.assignments == (("g4", 2),)
    assert d.events == ("scaled down from 4 to 2 replicas",)


def test_zero_replicas_is_admitted_with_nothing_placed() -> None:
    d = plan(snapshot(nodes=nodes(1), workloads=[workload("idle", replicas=0)])).workloads[
        "ns/idle"
    ]
    assert (d.state, d.reason, d.admitted_replicas, d.queue_position) == (
        "Admitted",
        Reason.SCALED_TO_ZERO,
        0,
        None,
    )


# -- output ------------------------------------------------------------------------------


def test_budget_and_pool_usage_for_status() -> None:
    work = [
        workload("a", cores=8, replicas=2),
        workload("b", cores=16, replicas=2, created=1),
    ]
    p = plan(snapshot(nodes=nodes(2, 16), budgets=[budget(cores=40)], workloads=work))
    usage = p.budgets["team-a"]
    assert (usage.used_cores, usage.pending_cores) == (16, 32)
    assert (usage.admitted_workloads, usage.pending_workloads) == (1, 1)
    g4 = p.pools["g4"]
    assert (g4.free_cores_after_plan, g4.largest_free_block_after_plan, g4.paddock_cores) == (
        16,
        16,
        16,
    )


def test_plans_do_not_depend_on_input_order() -> None:
    snap = snapshot(
        nodes=nodes(6, 16, zones=("a", "b")) + nodes(3, 32, pool="g3"),
        budgets=[budget("team-a", 60, cohort="c"), budget("team-b", 30, cohort="c")],
        workloads=[
            workload(
                f"w{i}",
                cores=1 + i % 5,
                replicas=1 + i % 4,
                min_replicas=1,
                priority=i % 3,
                created=i % 4,
                candidates=("team-a",) if i % 2 else ("team-b",),
                spread=("None", "Node", "Zone")[i % 3],
            )
            for i in range(30)
        ],
    )
    rng = random.Random(7)
    shuffled = Snapshot(
        nodes=tuple(rng.sample(snap.nodes, len(snap.nodes))),
        pools=tuple(reversed(snap.pools)),
        budgets=tuple(reversed(snap.budgets)),
        workloads=tuple(rng.sample(snap.workloads, len(snap.workloads))),
    )
    assert plan(shuffled) == plan(snap)


# -- incremental -------------------------------------------------------------------------


def test_one_new_workload_is_decided_against_what_the_cycle_left() -> None:
    snap = snapshot(nodes=nodes(2, 16), workloads=[workload("old", cores=8, replicas=3)])
    planner = Planner(snap)
    new = workload("new", cores=8, replicas=2, min_replicas=1, created=10)
    d = planner.add(new)
    assert d is not None and (d.reason, d.admitted_replicas) == (Reason.PARTIALLY_ADMITTED, 1)
    # The next full cycle agrees once the decision is applied.
    applied = apply_plan(
        with_workloads(snap, new),
        replace(planner.plan, workloads={**planner.plan.workloads, new.key: d}),
    )
    full = plan(applied)
    assert full.workloads["ns/new"].admitted_replicas == 1
    assert full.workloads["ns/old"].admitted_replicas == 3


def test_incremental_add_declines_what_needs_a_full_cycle() -> None:
    snap = _full_cluster_with(("low", 8, 4, 4, 0))
    planner = Planner(snap)
    assert planner.add(workload("urgent", cores=8, priority=10, created=9)) is None  # may preempt
    assert planner.add(workload("low", cores=1)) is None  # already planned


def test_borrowing_growth_leaves_what_a_waiting_cohort_member_may_reclaim() -> None:
    # Found by hypothesis: the higher-priority elastic workload grew by borrowing, was shrunk
    # by reclaimFromCohort=Any in the same cycle, grew back the next, and the owner starved.
    budgets = [
        budget("c", 8, cohort="y", reclaim_from_cohort="Any"),
        budget("d", 4, cohort="y"),
    ]
    work = [
        workload("owner", cores=4, replicas=2, candidates=("c",)),
        workload("grower", cores=2, replicas=3, min_replicas=1, priority=1, candidates=("d",)),
    ]
    _, p = settle(snapshot(nodes=[node("g4-0", 10)], budgets=budgets, workloads=work))
    grower = p.workloads["ns/grower"]
    assert grower.admitted_replicas == 2  # its own nominal: 4 cores
    assert not p.victims


def test_cores_given_up_stay_counted_until_they_are_gone() -> None:
    # Free before use: a scale-down decided now, or decided earlier but still running, keeps
    # its cores in the budget, so nobody is admitted against them before the pods are gone.
    b = budget(cores=8)
    shrunk = workload("shrunk", cores=4, replicas=1, current=(("g4", 2),), placed=(("g4-0", 2),))
    newcomer = workload("newcomer", cores=4, created=1)
    p = plan(snapshot(nodes=nodes(2, 8), budgets=[b], workloads=[shrunk, newcomer]))
    assert p.workloads["ns/shrunk"].admitted_replicas == 1
    assert p.workloads["ns/newcomer"].reason is Reason.BUDGET_EXHAUSTED
    # Next cycle: its Deployment still runs 2 (the watch has not shown the scale-down).
    going = replace(shrunk, current=(("g4", 1),), releasing=1)
    p = plan(snapshot(nodes=nodes(2, 8), budgets=[b], workloads=[going, newcomer]))
    assert p.workloads["ns/newcomer"].reason is Reason.BUDGET_EXHAUSTED
    # Once it is gone, the cores are free.
    gone = replace(going, placed=(("g4-0", 1),), releasing=0)
    p = plan(snapshot(nodes=nodes(2, 8), budgets=[b], workloads=[gone, newcomer]))
    assert p.workloads["ns/newcomer"].admitted_replicas == 1


def test_a_fixed_workload_scaled_up_keeps_its_running_replicas() -> None:
    # minReplicas follows replicas (2 -> 3): re-admitted at 3 in the same cycle, reusing its
    # own given-up cores, so its Deployment grows and no running pod is deleted.
    running = workload("w", cores=1, replicas=3, current=(("g4", 2),), placed=(("g4-0", 2),))
    p = plan(snapshot(nodes=nodes(1, 8), budgets=[budget(cores=4)], workloads=[running]))
    d = p.workloads["ns/w"]
    assert (d.admitted_replicas, d.assignments) == (3, (("g4", 3),))
