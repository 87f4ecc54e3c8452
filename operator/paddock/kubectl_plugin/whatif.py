"""Counterfactuals: what single change to a waiting workload (or its budget) would admit it.

Each candidate change is applied to a copy of the snapshot and planned again with the real
planner, so an answer such as "replicas: 2 would be admitted" is exactly what the operator
would do if the user made that change now. Searches over a number (replicas, cores) are binary
searches: fewer replicas or cores never make a workload harder to fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from paddock.planner import (
    Budget,
    Reason,
    Snapshot,
    Victim,
    Workload,
    WorkloadDecision,
    plan,
)
from paddock.planner import messages as msg

from .view import STATIC_REASONS, BudgetMath, Room, View, budget_math

MAX_PLANS = 64
"""At most this many what-if plans per explanation (each is a full planning cycle)."""


@dataclass(frozen=True)
class WhatIf:
    """One change and what the planner would do with it."""

    kind: str
    """replicas, minReplicas, coresPerReplica, shape, pool, priority, budgetCores, budget."""
    change: str
    """The change in the user's terms: "replicas: 2", "add pool g3 to budget team-a"."""
    helps: bool
    outcome: str
    """"admitted", "partly admitted", "admitted after preemption", or the reason it still waits."""
    admitted_replicas: int
    replicas: int
    reason: str
    message: str
    detail: str
    """The figures that decide it: "needs 8 cores (2 replicas × 4); budget team-a has 9 free"."""
    victims: tuple[str, ...] = ()


class _Trial:
    """Plans variants of one workload and judges them against the current decision."""

    def __init__(self, view: View, w: Workload, base: WorkloadDecision) -> None:
        self.view = view
        self.w = w
        self.base = base
        self.plans = 0

    def run(
        self, workload: Workload, budget: Budget | None = None
    ) -> tuple[WorkloadDecision, tuple[Victim, ...]] | None:
        if self.plans >= MAX_PLANS:
            return None
        self.plans += 1
        snapshot = self.view.snapshot
        if workload.cores_per_replica != self.w.cores_per_replica:
            snapshot = without_own_pods(snapshot, self.w)
            workload = replace(workload, current=(), placed=())
        workloads = tuple(workload if x.key == workload.key else x for x in snapshot.workloads)
        budgets = snapshot.budgets
        if budget is not None:
            budgets = tuple(budget if b.name == budget.name else b for b in budgets)
        result = plan(replace(snapshot, workloads=workloads, budgets=budgets))
        victims = tuple(v for v in result.victims if v.preemptor == workload.key)
        return result.workloads[workload.key], victims

    def helps(self, d: WorkloadDecision, replicas: int) -> bool:
        """Admits a larger share of what it asks than now (or preempts for it, from nothing)."""
        if d.reason is Reason.PREEMPTING:
            return self.base.admitted_replicas == 0
        if d.admitted_replicas == 0:
            return False
        if self.base.reason in STATIC_REASONS:
            return True
        return d.admitted_replicas * self.w.replicas > self.base.admitted_replicas * replicas


def without_own_pods(snapshot: Snapshot, w: Workload) -> Snapshot:
    """The snapshot with `w`'s pods gone (their cores back on their nodes): how the cluster
    looks to a workload whose pods are all replaced by a new shape."""
    back: dict[str, int] = {}
    for node, replicas in w.placed:
        back[node] = back.get(node, 0) + max(0, replicas)
    if not back:
        return snapshot
    nodes = tuple(
        replace(
            n,
            free_cores=n.free_cores + back[n.name] * max(0, w.cores_per_replica),
            free_memory=n.free_memory + back[n.name] * max(0, w.memory_per_replica),
        )
        if n.name in back
        else n
        for n in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes)


def outcome_of(d: WorkloadDecision, replicas: int) -> str:
    if d.reason is Reason.PREEMPTING:
        return "admitted after preemption"
    if d.admitted_replicas >= replicas and d.admitted_replicas > 0:
        return "admitted"
    if d.admitted_replicas > 0:
        return f"partly admitted ({d.admitted_replicas} of {replicas} replicas)"
    return f"still waits: {d.reason}"


def what_ifs(view: View, key: str) -> list[WhatIf]:
    """Changes that would admit the workload (helps=True) and, for context, those that would
    not. Empty when it is fully admitted or already preempting for its room."""
    w = view.workload(key)
    base = view.plan.workloads.get(key)
    if w is None or base is None:
        return []
    if base.reason in (Reason.ADMITTED, Reason.PREEMPTING, Reason.INVALID_SPEC):
        return []
    if base.admitted_replicas >= w.replicas:
        return []
    trial = _Trial(view, w, base)
    budgets = budget_math(view)
    room = Room(view)
    out: list[WhatIf] = []

    def record(
        kind: str,
        change: str,
        variant: Workload,
        detail: str | None = None,
        budget: Budget | None = None,
    ) -> WhatIf | None:
        """Plan `variant`; `detail` None: the cores it would take against its budget's room."""
        ran = trial.run(variant, budget)
        if ran is None:
            return None
        d, victims = ran
        if detail is None:
            count = d.admitted_replicas or max(1, variant.min_replicas)
            room_now = budgets[d.budget].available if d.budget in budgets else 0
            detail = (
                f"{msg.needs(count, variant.cores_per_replica, False)}; "
                f"budget {d.budget} can admit {room_now} now"
            )
        item = WhatIf(
            kind=kind,
            change=change,
            helps=trial.helps(d, variant.replicas),
            outcome=outcome_of(d, variant.replicas),
            admitted_replicas=d.admitted_replicas,
            replicas=variant.replicas,
            reason=str(d.reason),
            message=d.message,
            detail=detail,
            victims=tuple(_victim(v) for v in victims),
        )
        out.append(item)
        return item

    if base.reason in (
        Reason.UNKNOWN_BUDGET,
        Reason.NO_BUDGET,
        Reason.NAMESPACE_NOT_ALLOWED,
        Reason.AMBIGUOUS_BUDGET,
    ):
        _budget_choices(view, w, record)
        return _ordered(out)

    budget = view.budget(base.budget)
    if budget is None:
        return _ordered(out)
    math = budgets[budget.name]
    pools = view.effective_pools(w, budget)

    queued = base.admitted_replicas == 0
    elastic = w.min_replicas < w.replicas
    if queued and base.reason not in STATIC_REASONS:
        if elastic:
            found = _largest(
                1,
                max(1, w.min_replicas) - 1,
                lambda m: replace(w, min_replicas=m),
                trial,
                w.replicas,
            )
            if found is not None:
                m = found
                record(
                    "minReplicas",
                    f"minReplicas: {m}",
                    replace(w, min_replicas=m),
                )
        else:
            found = _largest(
                1,
                w.replicas - 1,
                lambda r: replace(w, replicas=r, min_replicas=r),
                trial,
                None,
            )
            if found is not None:
                r = found
                record(
                    "replicas",
                    f"replicas: {r}",
                    replace(w, replicas=r, min_replicas=r),
                )

    if base.reason is not Reason.NO_MATCHING_POOL:
        found = _largest(
            1,
            w.cores_per_replica - 1,
            lambda c: replace(w, cores_per_replica=c),
            trial,
            w.replicas,
        )
        if found is not None:
            c = found
            record(
                "coresPerReplica",
                f"coresPerReplica: {c}",
                replace(w, cores_per_replica=c),
            )
        # Same cores, more and smaller replicas: the shape CPU inference prefers anyway. Only
        # worth planning when the budget has the cores and the nodes lack the blocks.
        need = max(1, w.min_replicas) * w.cores_per_replica if queued else w.cores_per_replica
        shapes = _divisors(w.cores_per_replica) if math.available >= need else []
        for k in shapes:
            cores = w.cores_per_replica // k
            variant = replace(
                w,
                replicas=w.replicas * k,
                min_replicas=w.min_replicas * k,
                cores_per_replica=cores,
            )
            item = record(
                "shape",
                f"replicas: {variant.replicas}, coresPerReplica: {cores} "
                f"(the same {w.replicas * w.cores_per_replica} cores)",
                variant,
            )
            if item is None or item.helps:
                break
            out.remove(item)

    short = _budget_shortfall(w, base, math)
    if short == 0 or base.reason is Reason.NO_MATCHING_POOL:
        # Another pool only helps when the budget has the cores and the nodes do not.
        _pool_choices(view, w, budget, pools, room, record)

    competing = [
        x.priority
        for x in view.snapshot.workloads
        if x.key != w.key and _shares_cohort(view, budget, x.key)
    ]
    if competing and max(competing) >= w.priority:
        top = max(competing) + 1
        record(
            "priority",
            f"priority: {top} (above every other workload of "
            + (f"cohort {budget.cohort})" if budget.cohort else f"budget {budget.name})"),
            replace(w, priority=top),
            _preemption_policy(budget),
        )

    if short > 0:
        bigger = replace(budget, cores=budget.cores + short)
        record(
            "budgetCores",
            f"budget {budget.name} cores: {budget.cores} → {bigger.cores}",
            w,
            f"{short} more cores in the budget (it can admit {math.available} now)",
            budget=bigger,
        )
    return _ordered(out)


def _largest(
    low: int,
    high: int,
    variant: Callable[[int], Workload],
    trial: _Trial,
    replicas: int | None,
) -> int | None:
    """The largest n in [low, high] whose variant helps; `low` when none does (so the answer
    still says that even the smallest value would not do); None when the range is empty."""
    if high < low:
        return None

    def ok(n: int) -> bool:
        v = variant(n)
        ran = trial.run(v)
        if ran is None:
            return False
        d, _ = ran
        return trial.helps(d, replicas if replicas is not None else v.replicas)

    if not ok(low):
        return low
    found = low
    lo, hi = low + 1, high
    while lo <= hi:
        middle = (lo + hi) // 2
        if ok(middle):
            found, lo = middle, middle + 1
        else:
            hi = middle - 1
    return found


def _divisors(cores: int) -> list[int]:
    return [k for k in range(2, cores + 1) if cores % k == 0]


def _victim(v: Victim) -> str:
    if v.to_replicas:
        return f"{v.victim} ({v.from_replicas}→{v.to_replicas} replicas)"
    return f"{v.victim} (evicted)"


def _ordered(items: list[WhatIf]) -> list[WhatIf]:
    return [i for i in items if i.helps] + [i for i in items if not i.helps]


def _shares_cohort(view: View, budget: Budget, key: str) -> bool:
    other = view.plan.workloads.get(key)
    if other is None or other.budget is None:
        return False
    if other.budget == budget.name:
        return True
    peer = view.budget(other.budget)
    return budget.cohort is not None and peer is not None and peer.cohort == budget.cohort


def _preemption_policy(budget: Budget) -> str:
    within = budget.preempt_within_budget
    reclaim = budget.reclaim_from_cohort if budget.cohort else "Never"
    if within == "Never" and reclaim == "Never":
        return f"budget {budget.name} never preempts: a higher priority only moves it up the queue"
    return (
        f"budget {budget.name} preempts within the budget: {within}, "
        f"reclaims from its cohort: {reclaim}"
    )


def _budget_shortfall(w: Workload, base: WorkloadDecision, math: BudgetMath) -> int:
    """Cores the budget lacks for the next step: minReplicas if queued, one more if partial."""
    cores = max(0, w.cores_per_replica)
    need = max(1, w.min_replicas) * cores if base.admitted_replicas == 0 else cores
    return max(0, need - math.available)


def _budget_choices(view: View, w: Workload, record: Callable[..., WhatIf | None]) -> None:
    """For a workload without a usable budget: each budget that would take it."""
    for b in sorted(view.snapshot.budgets, key=lambda b: b.name):
        selects = b.name in w.budget_candidates
        if selects:
            change = f"budget: {b.name}"
            variant = replace(w, budget=b.name)
        else:
            change = (
                f"budget: {b.name}, and budget {b.name}'s namespaceSelector selects namespace "
                f"{w.namespace}"
            )
            variant = replace(w, budget=b.name, budget_candidates=(*w.budget_candidates, b.name))
        if w.budget == b.name and selects:
            continue
        record("budget", change, variant, f"budget {b.name}: {b.cores} nominal cores")


def _pool_choices(
    view: View,
    w: Workload,
    budget: Budget,
    pools: tuple[str, ...],
    room: Room,
    record: Callable[..., WhatIf | None],
) -> None:
    """Each existing pool the workload does not use yet, and what adding it would take."""
    for name in view.pool_names():
        if name in pools:
            continue
        allowed = not budget.pools or name in budget.pools
        cores = w.cores_per_replica
        wanted = max(1, w.min_replicas)
        figures = (
            f"pool {name}: {room.free_cores(name)} free cores, largest free block "
            f"{room.largest_block((name,))}, fits "
            f"{room.fits((name,), cores, w.memory_per_replica, wanted)} of {wanted} "
            f"replicas of {msg.plural(cores, 'core')}"
        )
        variant = replace(w, pools=(*w.pools, name)) if w.pools else w
        placement = f"placement.pools: {msg.pool_list((*w.pools, name))}" if w.pools else ""
        if allowed:
            record("pool", placement, variant, figures)
            continue
        wider = replace(budget, pools=(*budget.pools, name))
        change = f"add pool {name} to budget {budget.name}'s pools"
        if placement:
            change += f" and {placement}"
        record("pool", change, variant, figures, budget=wider)
