"""The mutable working state of one cycle: one Entry per workload, and the Cycle that holds them.

Why mutable here when everything public is frozen: a cycle touches 15,000 workloads many times,
and rebuilding frozen records at each step would dominate the run time. The mutation is
confined to one Planner call; what leaves it is the frozen Plan.

Budget resolution, spec validation and pool ordering happen once per workload, here, so the
scheduling phases only ever see workloads that can be queued.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import messages as msg
from .budgets import Ledger
from .capacity import Capacity
from .decisions import Reason, State
from .snapshot import Budget, NodeReplicas, Pool, Workload

QueueKey = tuple[int, int, float, str]
"""Queue order: priority (desc), growth after fresh work, creation time, key."""


class Entry:
    """One workload's decision in the making."""

    __slots__ = (
        "admitted",
        "blocked_by",
        "budget",
        "events",
        "failed",
        "frozen",
        "message",
        "min",
        "no_launch",
        "nodes",
        "per_pool",
        "pinned",
        "placements",
        "pools",
        "queued",
        "rank",
        "reason",
        "released",
        "running",
        "start",
        "state",
        "timed_out",
        "unplaced",
        "w",
    )

    def __init__(self, workload: Workload) -> None:
        self.w = workload
        self.budget: str | None = None
        self.pools: tuple[str, ...] = ()
        # A static reason (resolution, validation, pools) takes the workload out of the queue.
        self.reason: Reason | None = None
        self.message = ""
        self.queued = False
        self.min = workload.min_replicas if workload.min_replicas > 1 else 1
        start = 0
        for _, replicas in workload.current:
            if replicas > 0:
                start += replicas
        self.start = start
        if workload.min_replicas == workload.replicas and 0 < self.start < workload.replicas:
            # A fixed workload scaled up (kubectl scale, an HPA): what it runs was admitted
            # whole, so it keeps that and grows toward the new count as room allows, instead
            # of losing its admission (and its running pods) until the whole new count fits.
            self.min = self.start
        self.rank = (-workload.priority, workload.created, workload.key)
        self.admitted = 0
        self.nodes: dict[int, int] = {}
        # Kept pods on nodes whose pool is not the one their Deployment is in (the node left the
        # pool, or the pool is gone): node -> the pool they count in.
        self.pinned: dict[int, str] = {}
        # Admitted replicas without a pod and without room (pool -> replicas): they keep their
        # place in the Deployments (and the budget) while the workload is Degraded.
        self.unplaced: dict[str, int] = {}
        # Holds what it has without being planned (its spec cannot be read or queued).
        self.frozen = False
        # Of its admitted replicas, those whose pods run (on nodes that exist).
        self.running = 0
        # Cores of its running replicas given up this cycle, still counted in its budget (free
        # before use); its own re-admission may use them (they are the same pods' cores).
        self.released = 0
        # Replicas per pool derived from `nodes`; None when `nodes` changed since computed.
        self.per_pool: tuple[tuple[str, int], ...] | None = None
        # `nodes` as (node name, replicas) sorted by name; None when `nodes` changed since.
        self.placements: NodeReplicas | None = None
        self.events: list[str] = []
        self.blocked_by: Entry | None = None
        self.failed: Reason | None = None
        self.state: State = "Queued"
        # Not admitted against potential nodes this cycle (its last launch timed out).
        self.no_launch = False
        # Replicas that waited for a launch past the pool's provisioning timeout this cycle.
        self.timed_out = 0

    def queue_key(self, growth: bool) -> QueueKey:
        priority, created, key = self.rank
        return (priority, 1 if growth else 0, created, key)

    @property
    def cores(self) -> int:
        return self.w.cores_per_replica


class Cycle:
    """Shared state of one planning cycle."""

    __slots__ = (
        "budget_pools",
        "budgets",
        "capacity",
        "entries",
        "ledger",
        "now",
        "pool_orders",
        "pools",
        "ranked",
        "resolved",
        "shrink_grace",
    )

    def __init__(
        self,
        budgets: Mapping[str, Budget],
        pools: Mapping[str, Pool],
        capacity: Capacity,
        ledger: Ledger,
        now: float = 0.0,
        shrink_grace: float = 300.0,
    ) -> None:
        self.now = now
        self.shrink_grace = shrink_grace
        self.budgets = budgets
        self.pools = pools
        self.capacity = capacity
        self.ledger = ledger
        self.entries: dict[str, Entry] = {}
        self.budget_pools = {b.name: budget_pool_order(b, pools) for b in budgets.values()}
        # (budget, placement.pools) -> (pool order, why it is unusable or ""): thousands of
        # workloads share a handful of these.
        self.pool_orders: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], str]] = {}
        # Every entry in priority order (`Entry.rank`), once the cycle has sorted them.
        self.ranked: list[Entry] | None = None
        # (spec.budget, candidates, namespace) -> budget resolution: the same few per budget.
        self.resolved: dict[
            tuple[str | None, tuple[str, ...], str], tuple[str | None, Reason | None, str]
        ] = {}


def budget_pool_order(budget: Budget, pools: Mapping[str, Pool]) -> tuple[str, ...]:
    """The budget's allowed pools in preference order (existing pools only)."""
    if budget.pools:
        return tuple(dict.fromkeys(p for p in budget.pools if p in pools))
    return tuple(p.name for p in sorted(pools.values(), key=lambda p: (-p.weight, p.name)))


def resolve(workload: Workload, cycle: Cycle) -> Entry:
    """Resolve the budget, validate the spec and order the pools; queue it if all is well.

    A workload that is not queued keeps what it holds (see `admission.hold_committed`), so the
    budget is resolved even for an unreadable spec: its running replicas still count there.
    """
    entry = Entry(workload)
    w = workload
    spec = (w.budget, w.budget_candidates, w.namespace)
    resolved = cycle.resolved.get(spec)
    if resolved is None:
        resolved = cycle.resolved[spec] = _resolve_budget(w, cycle.budgets)
    entry.budget, reason, message = resolved
    if w.invalid:
        entry.reason, entry.message = Reason.INVALID_SPEC, w.invalid
        return entry
    if reason is not None:
        entry.reason, entry.message = reason, message
        return entry
    assert entry.budget is not None
    valid = (
        w.replicas >= w.min_replicas >= 0 and w.cores_per_replica >= 1 and w.memory_per_replica >= 0
    )  # what _invalid checks, in one expression for the common case
    problem = "" if valid else _invalid(w)
    if problem:
        entry.reason = Reason.INVALID_SPEC
        entry.message = problem
        return entry
    if w.replicas == 0:
        # Scaled to zero: nothing to place, trivially admitted. Not queued, holds no cores (the
        # pods it had keep theirs counted until they are gone: free before use).
        entry.reason = Reason.SCALED_TO_ZERO
        entry.message = (
            "scaled to zero (replicas 0): holds no cores and runs no pods; raising replicas "
            "queues it like any other workload"
        )
        entry.state = "Admitted"
        return entry
    if w.image_block is not None:
        # Not admitted before its images are known to run on arm64; what it holds is kept.
        entry.reason, entry.message = Reason(w.image_block[0]), w.image_block[1]
        return entry

    key = (entry.budget, w.pools)
    known = cycle.pool_orders.get(key)
    if known is None:
        known = cycle.pool_orders[key] = _pool_order(cycle, cycle.budgets[entry.budget], w.pools)
    entry.pools, problem = known
    # Pools without a schedulable node stop new work only: a workload that holds replicas keeps
    # them (cordoned or NotReady nodes keep their pods; rule 8 of the design).
    if problem and not (entry.pools and entry.start > 0 and _has_pods(w, cycle)):
        entry.reason = Reason.NO_MATCHING_POOL
        entry.message = problem
        return entry
    entry.queued = True
    return entry


def _has_pods(w: Workload, cycle: Cycle) -> bool:
    """Whether any of the workload's pods is bound to a node that still exists."""
    index = cycle.capacity.index
    return any(replicas > 0 and node in index for node, replicas in w.placed)


def _resolve_budget(
    w: Workload, budgets: Mapping[str, Budget]
) -> tuple[str | None, Reason | None, str]:
    """(budget, None, "") when the workload's budget is known, else (None, reason, message)."""
    if w.budget is not None:
        if w.budget not in budgets:
            return None, Reason.UNKNOWN_BUDGET, f"budget {w.budget} does not exist"
        if w.budget not in w.budget_candidates:
            return (
                None,
                Reason.NAMESPACE_NOT_ALLOWED,
                f"budget {w.budget} does not select namespace {w.namespace} "
                "(see its namespaceSelector)",
            )
        return w.budget, None, ""
    candidates = sorted({c for c in w.budget_candidates if c in budgets})
    if not candidates:
        return None, Reason.NO_BUDGET, f"no CoreBudget selects namespace {w.namespace}"
    if len(candidates) > 1:
        return (
            None,
            Reason.AMBIGUOUS_BUDGET,
            f"budgets {', '.join(candidates)} all select namespace {w.namespace}; set spec.budget",
        )
    return candidates[0], None, ""


def _pool_order(
    cycle: Cycle, budget: Budget, narrowed: tuple[str, ...]
) -> tuple[tuple[str, ...], str]:
    """The pools a workload may use, in its preference order, or why there are none."""
    allowed = cycle.budget_pools[budget.name]
    order = allowed
    if narrowed:
        allowed_set = set(allowed)
        order = tuple(dict.fromkeys(p for p in narrowed if p in allowed_set))
    if not order:
        if narrowed and allowed:
            return order, (
                f"placement.pools {msg.pool_list(narrowed)} shares no pool with budget "
                f"{budget.name} {msg.pool_list(allowed)}"
            )
        if budget.pools:
            return order, (
                f"budget {budget.name} allows pools {msg.pool_list(budget.pools)}, "
                "none of which exists"
            )
        return order, "no CorePool exists"
    if not cycle.capacity.has_nodes(order):
        return order, f"pools {msg.pool_list(order)} have no schedulable arm64 nodes"
    return order, ""


def _invalid(w: Workload) -> str:
    if w.replicas < 0:
        return f"replicas {w.replicas} is negative"
    if w.min_replicas < 0:
        return f"minReplicas {w.min_replicas} is negative"
    if w.min_replicas > w.replicas:
        return f"minReplicas {w.min_replicas} > replicas {w.replicas}"
    if w.cores_per_replica < 1:
        return f"coresPerReplica {w.cores_per_replica} is not a positive whole number of cores"
    if w.memory_per_replica < 0:
        return f"memoryPerReplica {w.memory_per_replica} is negative"
    return ""
