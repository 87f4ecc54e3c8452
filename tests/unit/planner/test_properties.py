"""Hypothesis properties of the planner: what must hold for any cluster, not just the scenarios.

States are built the way real ones come about: a random cluster is planned and applied a few
times, with nodes lost or cordoned and new workloads arriving in between, so the properties see
committed admissions, bound and unbound pods, and node loss, not only empty clusters.

The oracles here (cores per node, the cohort formula) are written out independently of the
planner's data structures, so a bug in the buckets or the ledger cannot hide itself.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddock.planner import (
    Budget,
    Node,
    Plan,
    Pool,
    Reason,
    Snapshot,
    Workload,
    WorkloadDecision,
    apply_plan,
    plan,
)

from .builders import strip_events

GI = 1 << 30
POOLS = ("g2", "g3", "g4")
ZONES = ("a", "b", "c")
BUDGETS = ("a", "b", "c", "d")

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies --------------------------------------------------------------------------


@st.composite
def budgets(draw: st.DrawFn, names: tuple[str, ...], pools: tuple[str, ...]) -> tuple[Budget, ...]:
    out = []
    for name in names:
        cohort = draw(st.sampled_from((None, "x", "x", "y")))
        out.append(
            Budget(
                name=name,
                cores=draw(st.integers(0, 64)),
                pools=tuple(
                    draw(
                        st.lists(st.sampled_from((*pools, *pools, "gone")), max_size=3, unique=True)
                    )
                ),
                cohort=cohort,
                borrowing_limit=draw(st.one_of(st.none(), st.integers(0, 32))),
                lending_limit=draw(st.one_of(st.none(), st.integers(0, 32))),
                queueing=draw(st.sampled_from(("BestEffortFIFO", "StrictFIFO"))),
                preempt_within_budget=draw(
                    st.sampled_from(("Never", "LowerPriority", "LowerPriority"))
                ),
                reclaim_from_cohort=draw(st.sampled_from(("Never", "LowerPriority", "Any", "Any"))),
            )
        )
    return tuple(out)


@st.composite
def workloads(
    draw: st.DrawFn,
    count: int,
    names: tuple[str, ...],
    pools: tuple[str, ...],
    prefix: str,
    top_priority: int = 3,
) -> tuple[Workload, ...]:
    out = []
    for i in range(count):
        replicas = (
            draw(st.integers(0, 5)) if draw(st.integers(0, 9)) == 0 else draw(st.integers(1, 5))
        )
        min_replicas = draw(st.integers(0, max(0, replicas))) if replicas else 0
        if draw(st.integers(0, 19)) == 0:
            min_replicas = replicas + 1  # invalid now and then
        # Mostly one matching budget, sometimes none, two, or an explicit (maybe wrong) one.
        home = draw(st.sampled_from(names))
        candidates = draw(st.sampled_from(((home,),) * 8 + ((), tuple(sorted({home, names[0]})))))
        explicit = draw(st.sampled_from((None,) * 8 + (home, names[-1], "unknown")))
        namespace = f"ns{draw(st.integers(0, 2))}"
        out.append(
            Workload(
                key=f"{namespace}/{prefix}{i}",
                namespace=namespace,
                name=f"{prefix}{i}",
                replicas=replicas,
                min_replicas=min_replicas,
                cores_per_replica=draw(st.integers(1, 12)),
                memory_per_replica=draw(st.sampled_from((0, 0, GI, 4 * GI, 16 * GI))),
                priority=draw(st.integers(0, top_priority)),
                created=float(draw(st.integers(0, 5))),
                budget=explicit,
                budget_candidates=candidates,
                pools=tuple(draw(st.lists(st.sampled_from(pools), max_size=2, unique=True))),
                spread=draw(st.sampled_from(("None", "Node", "Zone"))),
            )
        )
    return tuple(out)


@st.composite
def clusters(draw: st.DrawFn) -> Snapshot:
    pool_names = tuple(draw(st.lists(st.sampled_from(POOLS), min_size=1, max_size=3, unique=True)))
    pools = tuple(Pool(name=p, weight=draw(st.integers(0, 2))) for p in pool_names)
    nodes = tuple(
        Node(
            name=f"n{i}",
            pool=draw(st.sampled_from((*pool_names, *pool_names, *pool_names, None))),
            zone=draw(st.sampled_from(ZONES)),
            arch=draw(st.sampled_from(("arm64", "arm64", "arm64", "amd64"))),
            schedulable=draw(st.integers(0, 5)) > 0,
            free_cores=draw(st.integers(-2, 32)),
            free_memory=draw(st.integers(-1, 48)) * GI,
        )
        for i in range(draw(st.integers(1, 12)))
    )
    names = BUDGETS[: draw(st.integers(1, len(BUDGETS)))]
    return Snapshot(
        nodes=nodes,
        pools=pools,
        budgets=draw(budgets(names, pool_names)),
        workloads=draw(workloads(draw(st.integers(0, 10)), names, pool_names, "w")),
    )


@st.composite
def states(draw: st.DrawFn) -> Snapshot:
    """A cluster after 0-2 cycles of history: plans applied, then nodes lost or cordoned, pods of
    others landing on nodes, and new workloads arriving."""
    snap = draw(clusters())
    names = tuple(b.name for b in snap.budgets)
    pools = tuple(p.name for p in snap.pools)
    for round_ in range(draw(st.sampled_from((0, 1, 1, 2, 2)))):
        snap = apply_plan(snap, plan(snap))
        kept = []
        for n in snap.nodes:
            fate = draw(st.integers(0, 9))
            if fate == 0:
                continue  # node lost
            if fate == 1:
                n = replace(n, schedulable=False)
            elif fate == 2:
                n = replace(n, free_cores=n.free_cores - draw(st.integers(1, 8)))
            kept.append(n)
        added = draw(workloads(draw(st.integers(0, 4)), names, pools, f"r{round_}-", 6))
        snap = replace(snap, nodes=tuple(kept), workloads=snap.workloads + added)
    return snap


# -- oracles -----------------------------------------------------------------------------


def _eligible(snap: Snapshot) -> dict[str, Node]:
    pools = {p.name for p in snap.pools}
    return {
        n.name: n
        for n in snap.nodes
        if n.schedulable and n.arch == "arm64" and n.pool is not None and n.pool in pools
    }


def _allowed_pools(snap: Snapshot, w: Workload, budget: str) -> list[str]:
    b = next(x for x in snap.budgets if x.name == budget)
    existing = {p.name: p for p in snap.pools}
    if b.pools:
        allowed = [p for p in b.pools if p in existing]
    else:
        allowed = [p.name for p in sorted(existing.values(), key=lambda p: (-p.weight, p.name))]
    if w.pools:
        allowed = [p for p in w.pools if p in allowed]
    return allowed


def _added(snap: Snapshot, p: Plan) -> tuple[dict[str, int], dict[str, int]]:
    """Cores and memory each node receives from new pods."""
    cores: dict[str, int] = {}
    memory: dict[str, int] = {}
    for w in snap.workloads:
        old: dict[str, int] = {}
        for name, replicas in w.placed:
            old[name] = old.get(name, 0) + replicas
        for name, replicas in p.workloads[w.key].placements:
            extra = replicas - old.get(name, 0)
            if extra > 0:
                cores[name] = cores.get(name, 0) + extra * w.cores_per_replica
                memory[name] = memory.get(name, 0) + extra * w.memory_per_replica
    return cores, memory


def _releases_cores(snap: Snapshot, p: Plan) -> bool:
    """Whether the plan gives up admitted replicas (pods or not) or removes a running pod:
    their cores, on the node and in the budget (free before use), are free only in the next
    cycle."""
    eligible = {n.name for n in snap.nodes}
    for w in snap.workloads:
        if p.workloads[w.key].admitted_replicas < sum(r for _, r in w.current):
            return True
        new = dict(p.workloads[w.key].placements)
        old: dict[str, int] = {}
        for name, replicas in w.placed:
            old[name] = old.get(name, 0) + replicas
        if any(name in eligible and count > new.get(name, 0) for name, count in old.items()):
            return True
    return False


def _ceiling(b: Budget) -> float:
    if b.cohort is None:
        return b.cores
    return float("inf") if b.borrowing_limit is None else b.cores + b.borrowing_limit


def _lendable(b: Budget) -> int:
    if b.cohort is None or b.lending_limit is None:
        return b.cores
    return min(b.cores, b.lending_limit)


def _headroom(snap: Snapshot, used: dict[str, int], budget: str) -> float:
    """Kueue's formula, spelled out: own unlent nominal plus what the cohort has left."""
    b = next(x for x in snap.budgets if x.name == budget)
    members = [x for x in snap.budgets if x.cohort == b.cohort] if b.cohort else [b]
    shared = sum(_lendable(m) for m in members)
    consumed = sum(max(0, used[m.name] - (m.cores - _lendable(m))) for m in members)
    own = max(0, b.cores - _lendable(b) - used[budget])
    return max(0.0, min(own + max(0, shared - consumed), _ceiling(b) - used[budget]))


def _fits(
    snap: Snapshot, w: Workload, budget: str, free: dict[str, tuple[int, int]], used: dict[str, int]
) -> bool:
    """Would `w` fit at minReplicas, given free (cores, memory) per usable node and usage?"""
    least = max(1, w.min_replicas)
    if _headroom(snap, used, budget) < least * w.cores_per_replica:
        return False
    pools = set(_allowed_pools(snap, w, budget))
    count = 0
    for name, node in _eligible(snap).items():
        if node.pool not in pools:
            continue
        cores, memory = free[name]
        if cores < w.cores_per_replica or memory < w.memory_per_replica:
            continue
        per = cores // w.cores_per_replica
        if w.memory_per_replica:
            per = min(per, memory // w.memory_per_replica)
        count += per
    return count >= least


def _settle(snap: Snapshot, rounds: int) -> tuple[Snapshot, Plan]:
    current = plan(snap)
    for _ in range(rounds):
        snap = apply_plan(snap, current)
        following = plan(snap)
        if strip_events(following) == strip_events(current) and not following.victims:
            return snap, following
        current = following
    raise AssertionError(f"no fixpoint after {rounds} cycles")


def _shuffled(snap: Snapshot, seed: int) -> Snapshot:
    rng = random.Random(seed)

    def mix(items: Iterable[object]) -> tuple[object, ...]:
        listed = list(items)
        rng.shuffle(listed)
        return tuple(listed)

    return Snapshot(
        nodes=mix(snap.nodes),  # type: ignore[arg-type]
        pools=mix(snap.pools),  # type: ignore[arg-type]
        budgets=mix(snap.budgets),  # type: ignore[arg-type]
        workloads=mix(snap.workloads),  # type: ignore[arg-type]
    )


# -- properties --------------------------------------------------------------------------


@PROPERTY
@given(states())
def test_no_budget_exceeds_what_borrowing_allows(snap: Snapshot) -> None:
    p = plan(snap)
    before = dict.fromkeys((b.name for b in snap.budgets), 0)
    for w in snap.workloads:
        d = p.workloads[w.key]
        if d.budget is not None:
            before[d.budget] += sum(r for _, r in w.current if r > 0) * w.cores_per_replica
    used = {name: u.used_cores for name, u in p.budgets.items()}
    for b in snap.budgets:
        assert used[b.name] <= max(_ceiling(b), before[b.name]), b.name
    for cohort in {b.cohort for b in snap.budgets if b.cohort}:
        members = [b for b in snap.budgets if b.cohort == cohort]
        shared = sum(_lendable(m) for m in members)

        def consumed(usage: dict[str, int], members: list[Budget] = members) -> int:
            return sum(max(0, usage[m.name] - (m.cores - _lendable(m))) for m in members)

        assert consumed(used) <= max(shared, consumed(before)), cohort


@PROPERTY
@given(states())
def test_no_node_gets_more_than_its_free_cores(snap: Snapshot) -> None:
    p = plan(snap)
    cores, memory = _added(snap, p)
    by_name = {n.name: n for n in snap.nodes}
    for name, added in cores.items():
        assert added <= by_name[name].free_cores, name
    for name, added in memory.items():
        if added:
            assert added <= by_name[name].free_memory, name


@PROPERTY
@given(states())
def test_replicas_only_land_on_schedulable_arm64_nodes_of_allowed_pools(snap: Snapshot) -> None:
    """New replicas go only to usable nodes; running pods keep their place wherever they are."""
    p = plan(snap)
    eligible = _eligible(snap)
    for w in snap.workloads:
        d = p.workloads[w.key]
        placed = sum(r for _, r in d.placements)
        assert placed + d.unplaced_replicas == d.admitted_replicas
        assert d.admitted_replicas == sum(r for _, r in d.assignments)
        assert d.frozen or (
            d.admitted_replicas == 0 or max(1, w.min_replicas) <= d.admitted_replicas <= w.replicas
        )
        assert (d.admitted_replicas > 0) == (d.state == "Admitted") or w.replicas == 0
        if not d.placements or d.frozen:
            continue
        assert d.budget is not None
        allowed = _allowed_pools(snap, w, d.budget)
        running = dict(w.placed)
        for name, replicas in d.placements:
            if replicas <= running.get(name, 0):
                continue  # pods that exist keep their place (cordoned, NotReady, left the pool)
            assert name in eligible, (w.key, name)
            node_pool = eligible[name].pool
            assert node_pool is not None and node_pool in allowed


def _free_after(snap: Snapshot, p: Plan) -> dict[str, tuple[int, int]]:
    cores, memory = _added(snap, p)
    return {
        n.name: (n.free_cores - cores.get(n.name, 0), n.free_memory - memory.get(n.name, 0))
        for n in snap.nodes
    }


def _lower_priority_in_its_place(
    snap: Snapshot, p: Plan, hi: Workload, lo: Workload, free: dict[str, tuple[int, int]]
) -> bool:
    """Would `hi` fit if `lo` (same budget) gave back everything it holds after the plan?"""
    d = p.workloads[lo.key]
    budget = p.workloads[hi.key].budget
    assert budget is not None
    room = dict(free)
    for name, replicas in d.placements:
        cores, memory = room[name]
        room[name] = (
            cores + replicas * lo.cores_per_replica,
            memory + replicas * lo.memory_per_replica,
        )
    used = {name: u.used_cores for name, u in p.budgets.items()}
    used[budget] -= d.admitted_cores
    return _fits(snap, hi, budget, room, used)


@PROPERTY
@given(states())
def test_higher_priority_never_waits_while_lower_priority_is_admitted_in_its_place(
    snap: Snapshot,
) -> None:
    p = plan(snap)
    if p.victims:
        return  # preemption moves cores around; the settled check below covers it
    free = _free_after(snap, p)
    by_key = {w.key: w for w in snap.workloads}
    waiting = [
        w
        for w in snap.workloads
        if p.workloads[w.key].state != "Admitted"
        and p.workloads[w.key].reason in (Reason.BUDGET_EXHAUSTED, Reason.NO_CAPACITY)
    ]
    for hi in waiting:
        budget = p.workloads[hi.key].budget
        assert budget is not None
        for lo_key, d in p.workloads.items():
            lo = by_key[lo_key]
            fresh = not any(r > 0 for _, r in lo.current)
            if d.budget == budget and lo.priority < hi.priority and d.admitted_replicas and fresh:
                assert not _lower_priority_in_its_place(snap, p, hi, lo, free), (hi.key, lo.key)


@PROPERTY
@given(states())
def test_settled_preemptible_budgets_keep_no_lower_priority_in_a_waiting_workloads_place(
    snap: Snapshot,
) -> None:
    snap, p = _settle(snap, 2 * len(snap.workloads) + 6)
    free = {n.name: (n.free_cores, n.free_memory) for n in snap.nodes}
    by_key = {w.key: w for w in snap.workloads}
    policies = {b.name: b for b in snap.budgets}
    for hi in snap.workloads:
        d = p.workloads[hi.key]
        if d.reason not in (Reason.BUDGET_EXHAUSTED, Reason.NO_CAPACITY) or d.budget is None:
            continue
        if policies[d.budget].preempt_within_budget != "LowerPriority":
            continue
        for lo_key, other in p.workloads.items():
            lo = by_key[lo_key]
            if other.budget == d.budget and lo.priority < hi.priority and other.admitted_replicas:
                assert not _lower_priority_in_its_place(snap, p, hi, lo, free), (hi.key, lo.key)


@PROPERTY
@given(states(), st.integers(0, 1000))
def test_plans_are_deterministic_whatever_the_input_order(snap: Snapshot, seed: int) -> None:
    first = plan(snap)
    assert plan(snap) == first
    assert plan(_shuffled(snap, seed)) == first


@PROPERTY
@given(states())
def test_planning_the_state_a_plan_produces_changes_nothing(snap: Snapshot) -> None:
    first = plan(snap)
    if first.victims or _releases_cores(snap, first):
        # Freed cores are usable only next cycle, so such a plan is a step, not a fixpoint.
        _settle(snap, 2 * len(snap.workloads) + 6)
        return
    again = plan(apply_plan(snap, first))
    assert strip_events(again) == strip_events(first)
    assert not again.victims
    assert all(d.events == () for d in again.workloads.values())


@PROPERTY
@given(states())
def test_every_waiting_workload_says_why_with_numbers(snap: Snapshot) -> None:
    p = plan(snap)
    for w in snap.workloads:
        d: WorkloadDecision = p.workloads[w.key]
        assert d.message
        if d.reason in (Reason.BUDGET_EXHAUSTED, Reason.NO_CAPACITY):
            assert any(ch.isdigit() for ch in d.message)
            assert d.queue_position is not None
        if d.admitted_replicas >= w.replicas and d.reason is not Reason.PREEMPTED:
            assert d.queue_position is None
