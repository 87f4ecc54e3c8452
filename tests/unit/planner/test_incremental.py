"""Incremental decisions (`Planner.add`, `Planner.release[_many]`) are never less safe than a full
cycle.

Issue #15 item 2: the loop decides a new workload, or the cores a deleted one gives back, in
milliseconds with the last full cycle's Planner instead of recomputing the world. These
properties run random sequences of additions and deletions against random cluster states (the
same states as `test_properties`) and check, with the same independent oracles, that the
combined decisions never over-commit a budget or a cohort beyond what the full cycle itself
committed, never put more on a node than it has free (a deleted workload's pods keep their
node cores: free before use), and never take a replica from anyone (running pods keep their
place). The next full cycle on the resulting state keeps every incremental admission unless it
preempts it.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from paddock.planner import (
    Budget,
    Plan,
    Planner,
    Snapshot,
    Workload,
    WorkloadDecision,
    apply_plan,
    plan,
)

from .builders import budget, nodes, snapshot, with_workloads, workload
from .test_properties import PROPERTY, _added, _ceiling, _lendable, states, workloads


def _run(
    snap: Snapshot, data: st.DataObject
) -> tuple[Planner, dict[str, Workload], dict[str, WorkloadDecision], dict[str, Workload]]:
    """A random sequence of additions and deletions; returns the planner, the live workloads,
    the decisions now in force, the deleted workloads, and checks each step takes nothing."""
    planner = Planner(snap)
    decisions = dict(planner.plan.workloads)
    live = {w.key: w for w in snap.workloads}
    gone: dict[str, Workload] = {}
    names = tuple(b.name for b in snap.budgets)
    pools = tuple(p.name for p in snap.pools)
    for step in range(data.draw(st.integers(1, 8))):
        if live and data.draw(st.booleans()):
            # A step releases what the watch saw go since the last one, often several at once.
            keys = data.draw(st.lists(st.sampled_from(sorted(live)), min_size=1, max_size=3))
            if len(keys) == 1:
                one = planner.release(keys[0])
                changed, declined = ({}, keys) if one is None else (one, [])
            else:
                changed, declined = planner.release_many(keys)
            for key in dict.fromkeys(keys):
                if key not in declined:  # declined: the loop runs a full cycle instead
                    gone[key] = live.pop(key)
            for k, d in changed.items():
                before = decisions[k]
                assert d.admitted_replicas > before.admitted_replicas, k
                kept = dict(d.placements)
                for node, replicas in before.placements:
                    assert kept.get(node, 0) >= replicas, (k, node)  # running pods keep place
                decisions[k] = d
        else:
            (new,) = data.draw(workloads(1, names, pools, f"new{step}-", 6))
            if new.key in live or new.key in gone:
                continue
            d = planner.add(new)
            if d is None:
                continue
            live[new.key] = new
            decisions[new.key] = d
    return planner, live, decisions, gone


def _used(
    snap: Snapshot, live: dict[str, Workload], decisions: dict[str, WorkloadDecision]
) -> dict[str, int]:
    used = dict.fromkeys((b.name for b in snap.budgets), 0)
    for key in live:
        d = decisions[key]
        if d.budget is not None:
            used[d.budget] += d.admitted_cores
    return used


@PROPERTY
@given(states(), st.data())
def test_incremental_budgets_never_exceed_what_a_full_cycle_allows(
    snap: Snapshot, data: st.DataObject
) -> None:
    full = plan(snap)
    _, live, decisions, _ = _run(snap, data)
    used = _used(snap, live, decisions)
    full_used = {name: u.used_cores for name, u in full.budgets.items()}
    for b in snap.budgets:
        assert used[b.name] <= max(_ceiling(b), full_used[b.name]), b.name
    for cohort in {b.cohort for b in snap.budgets if b.cohort}:
        members = [b for b in snap.budgets if b.cohort == cohort]
        shared = sum(_lendable(m) for m in members)

        def consumed(usage: dict[str, int], members: list[Budget] = members) -> int:
            return sum(max(0, usage[m.name] - (m.cores - _lendable(m))) for m in members)

        assert consumed(used) <= max(shared, consumed(full_used)), cohort


@PROPERTY
@given(states(), st.data())
def test_incremental_nodes_never_get_more_than_their_free_cores(
    snap: Snapshot, data: st.DataObject
) -> None:
    """Counted with the deleted workloads' decisions too: their pods still hold node cores."""
    _, live, decisions, gone = _run(snap, data)
    everyone = replace(snap, workloads=(*live.values(), *gone.values()))
    combined = Plan(workloads=decisions | _last(decisions, gone), budgets={}, pools={})
    cores, memory = _added(everyone, combined)
    by_name = {n.name: n for n in snap.nodes}
    for name, added in cores.items():
        assert added <= by_name[name].free_cores, name
    for name, added in memory.items():
        if added:
            assert added <= by_name[name].free_memory, name


def _last(
    decisions: dict[str, WorkloadDecision], gone: dict[str, Workload]
) -> dict[str, WorkloadDecision]:
    return {k: decisions[k] for k in gone if k in decisions}


@PROPERTY
@given(states(), st.data())
def test_the_next_full_cycle_keeps_incremental_admissions_unless_it_preempts(
    snap: Snapshot, data: st.DataObject
) -> None:
    planner, live, decisions, _ = _run(snap, data)
    incremental = {k for k, d in decisions.items() if d is not planner.plan.workloads.get(k)}
    # The cluster after the decisions are carried out; deleted workloads' pods are gone too
    # (a full cycle only runs when the watches show them gone, or counts them as taken).
    after = apply_plan(
        replace(snap, workloads=tuple(live.values())),
        Plan(workloads={k: decisions[k] for k in live}, budgets={}, pools={}),
    )
    nxt = plan(after)
    victims = {v.victim for v in nxt.victims}
    for key in incremental & set(live):
        if decisions[key].admitted_replicas == 0 or key in victims:
            continue
        assert nxt.workloads[key].admitted_replicas >= decisions[key].admitted_replicas, key


def test_a_deletion_admits_the_next_in_queue_at_once() -> None:
    snap = snapshot(
        nodes=nodes(4, 16),
        budgets=[budget("team-a", 8)],
        workloads=[
            workload("running", cores=8, created=0),
            workload("next", cores=4, created=1),
            workload("then", cores=4, created=2),
        ],
    )
    planner = Planner(snap)
    assert planner.plan.workloads["ns/next"].admitted_replicas == 0
    changed = planner.release("ns/running")
    assert changed is not None and set(changed) == {"ns/next", "ns/then"}
    assert all(d.admitted_replicas == 1 for d in changed.values())
    assert planner.release("ns/unknown") == {}


def test_add_asks_for_a_full_cycle_only_when_preemption_could_find_victims() -> None:
    """A workload that does not fit waits for a full cycle only if that cycle could preempt
    for it: lower-priority holders in its budget, or a cohort member borrowing while its budget
    is under nominal. Otherwise it is queued at once, as the full cycle would queue it."""
    within = budget("team-a", 8, cohort="c", preempt_within_budget="LowerPriority")
    snap = snapshot(
        nodes=nodes(4, 16),
        budgets=[within, budget("team-b", 8, cohort="c")],
        workloads=[
            workload("low", cores=8, priority=1, created=0),
            workload("bee", cores=8, priority=9, created=0, candidates=("team-b",)),
        ],
    )
    planner = Planner(snap)
    assert planner.plan.workloads["ns/low"].admitted_replicas == 1
    same = planner.add(workload("same", cores=4, priority=1, created=1))
    assert same is not None and same.admitted_replicas == 0 and same.state == "Queued"
    lower = planner.add(workload("lower", cores=4, priority=0, created=2))
    assert lower is not None and lower.admitted_replicas == 0
    assert planner.add(workload("higher", cores=4, priority=2, created=3)) is None
    changed, declined = planner.release_many(["ns/low"])
    assert not declined and set(changed) == {"ns/same", "ns/lower"}
    # Now "lower" (priority 0) holds cores: a priority-1 workload may preempt it.
    assert planner.add(workload("later", cores=4, priority=1, created=4)) is None

    reclaim = budget("team-a", 8, cohort="c", reclaim_from_cohort="Any")
    snap = snapshot(
        nodes=nodes(4, 16),
        budgets=[reclaim, budget("team-b", 8, cohort="c")],
        workloads=[workload("wide", cores=16, created=0, candidates=("team-b",))],
    )
    planner = Planner(snap)
    assert planner.plan.workloads["ns/wide"].admitted_replicas == 1  # team-b borrows 8
    assert planner.add(workload("owner", cores=4, created=1)) is None  # may reclaim
    beyond = planner.add(workload("beyond", cores=12, created=2))  # more than its nominal
    assert beyond is not None and beyond.admitted_replicas == 0


@PROPERTY
@given(states(), st.data())
def test_a_workload_add_queues_at_once_is_one_no_full_cycle_preempts_for(
    snap: Snapshot, data: st.DataObject
) -> None:
    """`add` queues a workload that does not fit without a full cycle only when preemption
    could not help it: a full cycle on the same state, the workload included, finds no victim
    for it."""
    planner = Planner(snap)
    names = tuple(b.name for b in snap.budgets)
    pools = tuple(p.name for p in snap.pools)
    (new,) = data.draw(workloads(1, names, pools, "new-", 6))
    if new.key in {w.key for w in snap.workloads}:
        return
    d = planner.add(new)
    if d is None or d.admitted_replicas > 0:
        return
    full = plan(with_workloads(apply_plan(snap, planner.plan), new))
    assert not [v for v in full.victims if v.preemptor == new.key]
