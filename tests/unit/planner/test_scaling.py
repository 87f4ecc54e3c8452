"""Scaling an admitted workload (kubectl scale, HPA, KEDA all write spec.replicas): scenarios and
properties of what the planner admits, keeps and frees when replicas change, down to zero.

The rules under test: a scale-up is admitted as far as budget and pools allow (elastic rules,
never below the floor of max(1, minReplicas)); a scale-down keeps running pods in their place
and removes only the surplus, its cores counted until the pods are gone (free before use), then
lets queued work in; replicas 0 holds nothing and comes back like any other workload.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from paddock.planner import Plan, Reason, Snapshot, Workload, apply_plan, plan

from .builders import budget, nodes, settle, snapshot, with_workloads, workload
from .test_properties import PROPERTY, _ceiling, states


def rescaled(snap: Snapshot, key: str, replicas: int, min_replicas: int | None = None) -> Snapshot:
    """`snap` with workload `key` scaled as `kubectl scale` would: minReplicas, when unset,
    follows replicas (the controller passes the effective floor)."""
    floor = replicas if min_replicas is None else min_replicas
    return replace(
        snap,
        workloads=tuple(
            replace(w, replicas=replicas, min_replicas=floor) if w.key == key else w
            for w in snap.workloads
        ),
    )


def running(snap: Snapshot, key: str) -> int:
    w = next(w for w in snap.workloads if w.key == key)
    return sum(r for _, r in w.placed)


# -- scenarios ---------------------------------------------------------------------------


def test_scale_up_within_budget_is_admitted_and_keeps_the_running_pods() -> None:
    snap, _ = settle(
        snapshot(
            nodes=nodes(2, 16),
            budgets=[budget(cores=32)],
            workloads=[workload("w", cores=4, replicas=2, min_replicas=1)],
        )
    )
    before = dict(next(w for w in snap.workloads if w.key == "ns/w").placed)
    d = plan(rescaled(snap, "ns/w", 6, 1)).workloads["ns/w"]
    assert (d.admitted_replicas, d.reason) == (6, Reason.ADMITTED)
    after = dict(d.placements)
    assert all(after.get(node, 0) >= count for node, count in before.items())
    assert d.events == ("grew from 2 to 6 replicas",)


def test_scale_up_beyond_budget_admits_what_fits_and_says_why_with_numbers() -> None:
    snap, _ = settle(
        snapshot(
            nodes=nodes(2, 16),
            budgets=[budget(cores=16)],
            workloads=[workload("w", cores=4, replicas=2, min_replicas=1)],
        )
    )
    d = plan(rescaled(snap, "ns/w", 10, 1)).workloads["ns/w"]
    assert (d.admitted_replicas, d.admitted_cores, d.requested_cores) == (4, 16, 40)
    assert d.reason is Reason.PARTIALLY_ADMITTED
    assert d.message.startswith("admitted 4 of 10 replicas (16 of 40 cores)"), d.message
    assert "more wait for budget: budget team-a" in d.message, d.message
    assert d.queue_position == 1  # the rest waits in the queue, as growth


def test_a_fixed_workload_scaled_up_beyond_budget_keeps_what_runs_and_grows() -> None:
    # minReplicas follows replicas (unset): 2 -> 6 does not fit whole. It keeps its 2 running
    # replicas (no pod is removed), grows to what fits, and the rest waits with the numbers.
    snap, _ = settle(
        snapshot(
            nodes=nodes(2, 16),
            budgets=[budget(cores=16)],
            workloads=[workload("w", cores=4, replicas=2)],
        )
    )
    before = dict(next(w for w in snap.workloads if w.key == "ns/w").placed)
    d = plan(rescaled(snap, "ns/w", 6)).workloads["ns/w"]
    assert (d.admitted_replicas, d.reason) == (4, Reason.PARTIALLY_ADMITTED)
    assert d.events == ("grew from 2 to 4 replicas",)
    assert all(dict(d.placements).get(node, 0) >= count for node, count in before.items())
    # From zero it is all or nothing again: 6 do not fit, so none is admitted.
    fresh = snapshot(
        nodes=nodes(2, 16),
        budgets=[budget(cores=16)],
        workloads=[workload("w", cores=4, replicas=6)],
    )
    assert plan(fresh).workloads["ns/w"].admitted_replicas == 0


def test_scale_up_of_a_workload_at_min_zero_admits_at_least_one() -> None:
    w = workload("w", cores=4, replicas=3, min_replicas=0)
    d = plan(snapshot(nodes=nodes(1, 16), budgets=[budget(cores=4)], workloads=[w])).workloads[
        "ns/w"
    ]
    assert (d.admitted_replicas, d.reason) == (1, Reason.PARTIALLY_ADMITTED)
    none = plan(snapshot(nodes=nodes(1, 16), budgets=[budget(cores=3)], workloads=[w]))
    d = none.workloads["ns/w"]
    assert (d.admitted_replicas, d.reason) == (0, Reason.BUDGET_EXHAUSTED)
    assert "needs at least 4 cores" in d.message, d.message


def test_scale_down_frees_cores_once_pods_are_gone_and_lets_queued_work_in() -> None:
    b = budget(cores=16)
    snap, _ = settle(
        snapshot(
            nodes=nodes(2, 16),
            budgets=[b],
            workloads=[workload("big", cores=4, replicas=4, min_replicas=1)],
        )
    )
    snap = with_workloads(snap, workload("queued", cores=4, replicas=2, created=1))
    waiting = plan(snap).workloads["ns/queued"]
    assert waiting.reason is Reason.BUDGET_EXHAUSTED

    smaller = rescaled(snap, "ns/big", 2, 1)
    first = plan(smaller)
    big = first.workloads["ns/big"]
    assert (big.admitted_replicas, big.admitted_cores) == (2, 8)
    assert big.events == ("scaled down from 4 to 2 replicas",)
    # Free before use: the 2 removed replicas' cores stay counted until their pods are gone.
    assert first.workloads["ns/queued"].admitted_replicas == 0
    gone = apply_plan(smaller, first)
    assert running(gone, "ns/big") == 2
    second = plan(gone)
    assert second.workloads["ns/queued"].admitted_replicas == 2
    assert second.budgets["team-a"].used_cores == 16


def test_scale_down_gives_up_unplaced_replicas_before_running_ones() -> None:
    # 4 admitted, only 2 have pods (their node is gone and nothing has room): scaled to 2, the
    # two running pods stay exactly where they are.
    w = workload(
        "w", cores=8, replicas=4, min_replicas=1, current=(("g4", 4),), placed=(("g4-0", 2),)
    )
    snap = snapshot(nodes=nodes(1, 0), budgets=[budget(cores=64)], workloads=[w])
    snap = replace(snap, nodes=(replace(snap.nodes[0], free_cores=0),))
    assert plan(snap).workloads["ns/w"].unplaced_replicas == 2
    d = plan(rescaled(snap, "ns/w", 2, 1)).workloads["ns/w"]
    assert (d.admitted_replicas, d.unplaced_replicas, d.placements) == (2, 0, (("g4-0", 2),))
    assert d.reason is Reason.ADMITTED


def test_scale_to_zero_holds_nothing_and_comes_back_when_scaled_up() -> None:
    b = budget(cores=12)
    snap, _ = settle(
        snapshot(nodes=nodes(1, 16), budgets=[b], workloads=[workload("w", cores=4, replicas=3)])
    )
    snap = with_workloads(snap, workload("other", cores=4, replicas=3, created=1))
    zero = rescaled(snap, "ns/w", 0, 0)
    p = plan(zero)
    d = p.workloads["ns/w"]
    assert (d.state, d.reason, d.admitted_replicas, d.assignments, d.placements) == (
        "Admitted",
        Reason.SCALED_TO_ZERO,
        0,
        (),
        (),
    )
    assert d.queue_position is None
    assert d.events == ("scaled down from 3 to 0 replicas",)
    assert p.workloads["ns/other"].admitted_replicas == 0  # free before use
    idle = apply_plan(zero, p)
    assert running(idle, "ns/w") == 0
    p = plan(idle)
    assert p.workloads["ns/other"].admitted_replicas == 3
    assert p.workloads["ns/w"].reason is Reason.SCALED_TO_ZERO
    settled, _ = settle(idle)

    # Back up: queued like any other workload, behind nothing (other holds the budget now).
    back = plan(rescaled(settled, "ns/w", 3)).workloads["ns/w"]
    assert (back.admitted_replicas, back.reason) == (0, Reason.BUDGET_EXHAUSTED)
    assert back.queue_position == 1
    freed = rescaled(rescaled(settled, "ns/w", 3), "ns/other", 0, 0)
    once = plan(freed)
    again = plan(apply_plan(freed, once)).workloads["ns/w"]
    assert (again.admitted_replicas, again.reason) == (3, Reason.ADMITTED)


def test_a_workload_created_at_zero_is_admitted_with_nothing() -> None:
    p = plan(snapshot(nodes=nodes(1, 16), workloads=[workload("w", replicas=0, min_replicas=0)]))
    d = p.workloads["ns/w"]
    assert (d.state, d.reason, d.admitted_cores, d.requested_cores) == (
        "Admitted",
        Reason.SCALED_TO_ZERO,
        0,
        0,
    )
    assert p.budgets["team-a"].pending_workloads == 0


# -- properties --------------------------------------------------------------------------


@st.composite
def rescales(draw: st.DrawFn) -> tuple[Snapshot, Snapshot, dict[str, tuple[int, int]]]:
    """A settled cluster (what ran is bound where planned), then some workloads rescaled as an
    autoscaler would: replicas 0 to 8, minReplicas unset (follows replicas) or 0 to replicas."""
    base = draw(states())
    settled = apply_plan(base, plan(base))
    changed: dict[str, tuple[int, int]] = {}
    workloads: list[Workload] = []
    for w in settled.workloads:
        if w.min_replicas > w.replicas or not draw(st.booleans()):
            workloads.append(w)
            continue
        replicas = draw(st.integers(0, 8))
        floor = draw(st.one_of(st.just(replicas), st.integers(0, replicas)))
        changed[w.key] = (replicas, floor)
        workloads.append(replace(w, replicas=replicas, min_replicas=floor))
    return settled, replace(settled, workloads=tuple(workloads)), changed


def _held_cores(snap: Snapshot, p: Plan) -> dict[str, int]:
    """Per budget: admitted cores plus cores of running pods the plan gives up (still counted
    until they are gone)."""
    held = {name: u.used_cores for name, u in p.budgets.items()}
    for w in snap.workloads:
        d = p.workloads[w.key]
        if d.budget is None:
            continue
        new = dict(d.placements)
        for node, count in w.placed:
            gone = max(0, count - new.get(node, 0))
            held[d.budget] += gone * w.cores_per_replica
    return held


@PROPERTY
@given(rescales())
def test_rescaled_workloads_stay_between_their_floor_and_replicas(
    case: tuple[Snapshot, Snapshot, dict[str, tuple[int, int]]],
) -> None:
    before, after, changed = case
    p = plan(after)
    held = {w.key: sum(r for _, r in w.current if r > 0) for w in before.workloads}
    for key, (replicas, floor) in changed.items():
        d = p.workloads[key]
        assert d.admitted_replicas <= replicas
        if floor == replicas and 0 < held[key] < replicas:
            floor = held[key]  # a fixed workload scaled up keeps what it runs
        if replicas == 0 and d.reason is not Reason.INVALID_SPEC:
            assert d.admitted_replicas == 0 and not d.placements and not d.assignments
            assert d.queue_position is None
        if d.admitted_replicas and not d.frozen:
            assert d.admitted_replicas >= max(1, floor)


@PROPERTY
@given(rescales())
def test_a_scale_down_only_removes_pods_and_never_moves_one(
    case: tuple[Snapshot, Snapshot, dict[str, tuple[int, int]]],
) -> None:
    before, after, changed = case
    p = plan(after)
    old = {w.key: w for w in before.workloads}
    present = {n.name for n in after.nodes}
    for key, (replicas, _) in changed.items():
        w = old[key]
        placed = dict(w.placed)
        if sum(placed.values()) < sum(r for _, r in w.current) or replicas > sum(placed.values()):
            continue  # lost or unplaced pods, or a scale-up: not a pure scale-down
        if not set(placed) <= present:
            continue
        if any(v.victim == key for v in p.victims):
            continue  # preempted by higher-priority work in the same cycle: not the scale-down
        new = dict(p.workloads[key].placements)
        assert all(new.get(node, 0) <= count for node, count in placed.items()), (placed, new)
        assert set(new) <= set(placed)
        assert sum(new.values()) == min(replicas, sum(placed.values())) or replicas == 0


@PROPERTY
@given(rescales())
def test_cores_a_scale_down_frees_are_not_handed_out_in_the_same_cycle(
    case: tuple[Snapshot, Snapshot, dict[str, tuple[int, int]]],
) -> None:
    # Free before use: admitted cores plus the cores of pods being removed never exceed what the
    # budget may hold (or what it already held, when it was over after a spec change).
    before, after, _ = case
    held_before = _held_cores(before, plan(before))
    p = plan(after)
    held = _held_cores(after, p)
    for b in after.budgets:
        assert held[b.name] <= max(_ceiling(b), held_before[b.name]), (b, held, held_before)
