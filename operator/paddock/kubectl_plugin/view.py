"""What the plugin shows: the operator's own snapshot, the plan the operator would make from it,
and the figures behind that plan (budget math, pool fits, the queue).

Everything here is pure: a `View` is built from a `ClusterState` (the cluster, read through the
operator's own `SnapshotBuilder`) or, in tests, from a hand-built `Snapshot`. The figures are
computed with the planner's own accounting (`paddock.planner.explain`), so the
plugin cannot drift from what the operator decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from paddock.autoscaling.headroom import Headroom
from paddock.controller.cluster_state import ClusterState, Parsed
from paddock.controller.status import PoolMeasures
from paddock.kubectl_plugin.images import image_block
from paddock.planner import (
    Budget,
    Node,
    Plan,
    Reason,
    Snapshot,
    Workload,
    WorkloadDecision,
    explain,
    plan,
)

STATIC_REASONS = frozenset(
    {
        Reason.UNKNOWN_BUDGET,
        Reason.NAMESPACE_NOT_ALLOWED,
        Reason.NO_BUDGET,
        Reason.AMBIGUOUS_BUDGET,
        Reason.INVALID_SPEC,
        Reason.NO_MATCHING_POOL,
    }
)
"""Reasons that take a workload out of the queue: no amount of waiting admits it."""


@dataclass(frozen=True)
class Problem:
    """A Paddock object the operator cannot use (its spec fails validation)."""

    kind: str
    name: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class View:
    """One consistent picture: the snapshot, its plan, and what the operator last wrote."""

    snapshot: Snapshot
    plan: Plan
    pool_measures: Mapping[str, PoolMeasures] = field(default_factory=dict)
    statuses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Workload key -> the status the operator last wrote (empty when it wrote none)."""
    stale: Mapping[str, bool] = field(default_factory=dict)
    """Workload key -> True when status.observedGeneration is behind metadata.generation."""
    problems: tuple[Problem, ...] = ()
    headrooms: Mapping[str, Headroom] = field(default_factory=dict)
    """Autoscaled pool -> what its Karpenter NodePool can still launch."""

    @classmethod
    def of(cls, snapshot: Snapshot, **extra: Any) -> View:
        """Plan `snapshot` exactly as the operator would."""
        return cls(snapshot=snapshot, plan=plan(snapshot), **extra)

    @classmethod
    def from_state(cls, state: ClusterState) -> View:
        """From the state `SnapshotBuilder.build()` returns (the operator's code path)."""
        problems: list[Problem] = []
        groups: list[tuple[str, Mapping[str, Parsed[Any]]]] = [
            ("CorePool", state.pools),
            ("CoreBudget", state.budgets),
            ("AgentWorkload", state.workloads),
        ]
        for kind, parsed in groups:
            for name, item in sorted(parsed.items()):
                if item.spec is None:
                    problems.append(Problem(kind, name, item.errors))
        statuses = {key: dict(p.facts.status) for key, p in state.workloads.items()}
        stale = {
            key: int(p.facts.status.get("observedGeneration") or 0) < p.facts.generation
            for key, p in state.workloads.items()
        }
        snapshot = state.snapshot
        blocks = {
            key: block
            for key, status in statuses.items()
            if (block := image_block(status, not stale.get(key))) is not None
        }
        if blocks:  # held back for its images by the operator: plan it so here too
            snapshot = replace(
                snapshot,
                workloads=tuple(
                    replace(w, image_block=blocks[w.key]) if w.key in blocks else w
                    for w in snapshot.workloads
                ),
            )
        return cls.of(
            snapshot,
            pool_measures=dict(state.pool_facts),
            statuses=statuses,
            stale=stale,
            problems=tuple(problems),
            headrooms=dict(state.headrooms),
        )

    # -- lookups ---------------------------------------------------------------------------

    def workload(self, key: str) -> Workload | None:
        return next((w for w in self.snapshot.workloads if w.key == key), None)

    def budget(self, name: str | None) -> Budget | None:
        return next((b for b in self.snapshot.budgets if b.name == name), None)

    def pool_names(self) -> tuple[str, ...]:
        """Pools in the order a budget without `pools` uses them: weight desc, then name."""
        return tuple(p.name for p in sorted(self.snapshot.pools, key=lambda p: (-p.weight, p.name)))

    def effective_pools(self, w: Workload, budget: Budget | None) -> tuple[str, ...]:
        """The pools the planner tries for `w`, in its order (as `planner.work.resolve`)."""
        if budget is None:
            return ()
        return explain.pool_order(budget, self.snapshot.pools, w)


# -- budgets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetMath:
    """A budget after the plan, in whole cores.

    `free` is unused nominal (nominal - used; `lent` of it is in use elsewhere in the cohort);
    `available` is what the budget may still admit right now, its own and borrowed together
    (the planner's headroom: what a queued workload is measured against).
    """

    name: str
    cohort: str | None
    queueing: str
    nominal: int
    used: int
    borrowed: int
    lent: int
    free: int
    available: int
    borrowing_limit: int | None
    lending_limit: int | None
    preempt_within_budget: str
    reclaim_from_cohort: str
    pending_cores: int
    admitted_workloads: int
    pending_workloads: int

    @property
    def can_borrow(self) -> int:
        """Of `available`, the cores that would be borrowed from the cohort."""
        return max(0, self.available - self.free)


def budget_math(view: View) -> dict[str, BudgetMath]:
    """Every budget's figures after the plan, with the planner's own cohort accounting."""
    budgets = sorted(view.snapshot.budgets, key=lambda b: b.name)
    room = explain.headrooms(budgets, {n: u.used_cores for n, u in view.plan.budgets.items()})
    out: dict[str, BudgetMath] = {}
    for b in budgets:
        found = view.plan.budgets.get(b.name)
        used = found.used_cores if found else 0
        out[b.name] = BudgetMath(
            name=b.name,
            cohort=b.cohort,
            queueing=b.queueing,
            nominal=max(0, b.cores),
            used=used,
            borrowed=found.borrowed_cores if found else 0,
            lent=found.lent_cores if found else 0,
            free=room[b.name].own_free,
            available=room[b.name].available,
            borrowing_limit=b.borrowing_limit,
            lending_limit=b.lending_limit,
            preempt_within_budget=b.preempt_within_budget,
            reclaim_from_cohort=b.reclaim_from_cohort,
            pending_cores=found.pending_cores if found else 0,
            admitted_workloads=found.admitted_workloads if found else 0,
            pending_workloads=found.pending_workloads if found else 0,
        )
    return out


# -- pools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolRow:
    """A pool after the plan. `allocatable_cores`/`used_cores` are None without measures."""

    name: str
    weight: int
    max_cores: int | None
    nodes: int
    schedulable_nodes: int
    free_cores: int
    largest_free_block: int
    paddock_cores: int
    allocatable_cores: int | None = None
    used_cores: int | None = None
    generation: str | None = None
    zones: tuple[str, ...] = ()
    potential_cores: int | None = None
    """Autoscaled pools: cores on nodes the NodePool is launching or can still launch."""
    node_pool: str | None = None
    """Autoscaled pools: "<NodePool> limit <cores> headroom <cores>" (or why it offers none)."""


def pool_rows(view: View) -> list[PoolRow]:
    rows = []
    for pool in sorted(view.snapshot.pools, key=lambda p: (-p.weight, p.name)):
        usage = view.plan.pools.get(pool.name)
        measures = view.pool_measures.get(pool.name)
        generations = measures.generations if measures else ()
        rows.append(
            PoolRow(
                name=pool.name,
                weight=pool.weight,
                max_cores=pool.max_cores,
                nodes=usage.nodes if usage else 0,
                schedulable_nodes=usage.schedulable_nodes if usage else 0,
                free_cores=usage.free_cores_after_plan if usage else 0,
                largest_free_block=usage.largest_free_block_after_plan if usage else 0,
                paddock_cores=usage.paddock_cores if usage else 0,
                allocatable_cores=measures.allocatable_cores if measures else None,
                used_cores=measures.used_cores if measures else None,
                generation="/".join(generations) or None,
                zones=measures.zones if measures else (),
                **_autoscaling(view.headrooms.get(pool.name)),
            )
        )
    return rows


def _autoscaling(room: Headroom | None) -> dict[str, Any]:
    if room is None:
        return {}
    limit = room.limit_cores if room.limit_cores is not None else "none"
    text = f"{room.node_pool} limit {limit} used {room.used_cores} headroom {room.headroom_cores}"
    if room.problem:
        text += f" ({room.problem})"
    return {"potential_cores": room.potential_cores, "node_pool": text}


def nodes_after_plan(snapshot: Snapshot, result: Plan) -> tuple[Node, ...]:
    """Nodes as the plan leaves them: new placements take their cores; cores of pods the plan
    removes stay used until those pods are gone (as the planner's own pool figures count)."""
    cores: dict[str, int] = {}
    memory: dict[str, int] = {}
    for w in snapshot.workloads:
        decision = result.workloads.get(w.key)
        if decision is None:
            continue
        old: dict[str, int] = {}
        for node, replicas in w.placed:
            old[node] = old.get(node, 0) + max(0, replicas)
        for node, replicas in decision.placements:
            extra = replicas - old.get(node, 0)
            if extra > 0:
                cores[node] = cores.get(node, 0) + extra * max(0, w.cores_per_replica)
                memory[node] = memory.get(node, 0) + extra * max(0, w.memory_per_replica)
    return tuple(
        replace(
            n,
            free_cores=n.free_cores - cores[n.name],
            free_memory=n.free_memory - memory.get(n.name, 0),
        )
        if n.name in cores
        else n
        for n in snapshot.nodes
    )


@dataclass(frozen=True)
class PoolFit:
    """How one pool could take a workload's replicas, as the plan leaves the nodes."""

    pool: str
    usable: bool
    """Among the pools the planner tries for this workload."""
    note: str
    """Why it is not usable ("not allowed by budget team-a", "not in placement.pools")."""
    nodes: int
    schedulable_nodes: int
    free_cores: int
    largest_free_block: int
    cores_per_replica: int
    fits_replicas: int
    wanted_replicas: int


class Room:
    """Free cores per node after the plan, with the planner's fit arithmetic."""

    def __init__(self, view: View) -> None:
        self.names = tuple(p.name for p in view.snapshot.pools)
        self.room = explain.Room(nodes_after_plan(view.snapshot, view.plan), self.names)

    def free_cores(self, pool: str) -> int:
        return self.room.free_cores(pool)

    def largest_block(self, pools: Sequence[str]) -> int:
        return self.room.largest_block(pools)

    def fits(self, pools: Sequence[str], cores: int, memory: int, limit: int) -> int:
        return self.room.fits(pools, cores, memory, limit)

    def pool_fit(
        self, pool: str, usable: bool, note: str, cores: int, memory: int, wanted: int
    ) -> PoolFit:
        return PoolFit(
            pool=pool,
            usable=usable,
            note=note,
            nodes=self.room.nodes(pool),
            schedulable_nodes=self.room.schedulable_nodes(pool),
            free_cores=self.free_cores(pool),
            largest_free_block=self.largest_block((pool,)),
            cores_per_replica=cores,
            fits_replicas=self.fits((pool,), cores, memory, wanted),
            wanted_replicas=wanted,
        )


# -- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """A workload that is not fully admitted: queued, partly admitted, or out of the queue."""

    budget: str | None
    position: int | None
    workload: str
    priority: int
    replicas: int
    min_replicas: int
    admitted_replicas: int
    cores_per_replica: int
    pending_cores: int
    reason: str
    message: str


def queue_rows(view: View, namespace: str | None = None) -> list[QueueRow]:
    """Budget queues in order, then workloads no budget queues (no budget, invalid, ...)."""
    rows = []
    for w in view.snapshot.workloads:
        if namespace is not None and w.namespace != namespace:
            continue
        d = view.plan.workloads.get(w.key)
        if d is None or w.invalid or not waiting(d, w):
            continue  # an unreadable spec is listed with the problems, not in a queue
        rows.append(
            QueueRow(
                budget=d.budget,
                position=d.queue_position,
                workload=w.key,
                priority=w.priority,
                replicas=w.replicas,
                min_replicas=w.min_replicas,
                admitted_replicas=d.admitted_replicas,
                cores_per_replica=w.cores_per_replica,
                pending_cores=max(0, w.replicas - d.admitted_replicas)
                * max(0, w.cores_per_replica),
                reason=str(d.reason),
                message=d.message,
            )
        )
    rows.sort(
        key=lambda r: (
            r.position is None,
            r.budget or "",
            r.position or 0,
            r.workload,
        )
    )
    return rows


def waiting(d: WorkloadDecision, w: Workload) -> bool:
    """Not (yet) everything it asks for."""
    return d.admitted_replicas < w.replicas or d.reason in STATIC_REASONS
