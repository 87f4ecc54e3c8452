"""The planner's shortcuts give what the long way gives, on arbitrary states.

A cycle keeps a few things it could recompute: each entry's placement pairs (reused from the
snapshot for admissions held as listed) and per-pool assignments (taken from the room for
those), and the priority order it sorted once (the victims' order is its reverse). Here every
kept value is recomputed the long way after a cycle and after incremental steps, and must be
equal. (The equality of whole plans with the planner before these shortcuts was checked when
they were added; these properties keep them honest from now on.)
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paddock.planner import Planner, Snapshot, Workload
from paddock.planner.admission import assignments, placements
from paddock.planner.preemption import _holders
from paddock.planner.work import Cycle, Entry

from .test_properties import PROPERTY, states


def _long_way_placements(cycle: Cycle, e: Entry) -> tuple[tuple[str, int], ...]:
    names = cycle.capacity.names
    return tuple((names[n], e.nodes[n]) for n in sorted(e.nodes))


def _long_way_assignments(cycle: Cycle, e: Entry) -> tuple[tuple[str, int], ...]:
    kept_pools, kept_pairs = e.per_pool, e.placements
    e.per_pool = None
    try:
        return assignments(cycle, e)
    finally:
        e.per_pool, e.placements = kept_pools, kept_pairs


def _check(planner: Planner) -> None:
    cycle = planner._cycle
    for e in cycle.entries.values():
        if e.placements is not None:
            assert e.placements == _long_way_placements(cycle, e), e.w.key
        assert placements(cycle, e) == _long_way_placements(cycle, e), e.w.key
        if e.per_pool is not None and not e.frozen:  # a frozen entry keeps its Deployments'
            assert e.per_pool == _long_way_assignments(cycle, e), e.w.key


def _newcomer(i: int, budget: str, cores: int, replicas: int) -> Workload:
    return Workload(
        key=f"ns0/new{i}",
        namespace="ns0",
        name=f"new{i}",
        replicas=replicas,
        min_replicas=1,
        cores_per_replica=cores,
        created=100.0 + i,
        budget_candidates=(budget,),
    )


@PROPERTY
@given(states())
def test_kept_pairs_and_assignments_equal_the_long_way_after_a_cycle(snap: Snapshot) -> None:
    _check(Planner(snap))


@PROPERTY
@given(states(), st.data())
def test_they_stay_equal_through_additions_and_releases(
    snap: Snapshot, data: st.DataObject
) -> None:
    planner = Planner(snap)
    keys = sorted(w.key for w in snap.workloads)
    budgets = [b.name for b in snap.budgets]
    steps = data.draw(st.lists(st.tuples(st.booleans(), st.integers(0, 99)), max_size=6))
    for i, (release, pick) in enumerate(steps):
        if release and keys:
            planner.release(keys[pick % len(keys)])
        else:
            planner.add(_newcomer(i, budgets[pick % len(budgets)], 1 + pick % 8, 1 + pick % 3))
        _check(planner)


@PROPERTY
@given(states())
def test_the_victim_order_from_the_sorted_cycle_is_the_sort(snap: Snapshot) -> None:
    planner = Planner(snap)
    cycle = planner._cycle
    from_ranked = {b: [e.w.key for e in es] for b, es in _holders(cycle).items()}
    cycle.ranked = None
    by_sorting = {b: [e.w.key for e in es] for b, es in _holders(cycle).items()}
    assert from_ranked == by_sorting
