"""Planner input: an immutable picture of the cluster, built by the operator each cycle.

Why plain frozen dataclasses: the planner is a pure function of this data, so the same snapshot
must always give the same plan, tests can build snapshots by hand, and nothing here can reach
back into the API server. Every field is already reduced to what the scheduling rules need
(whole free cores per node, replica counts per pool), which keeps the planner free of
Kubernetes types and cheap to run on 5,000 nodes.

All classes are keyword-only: a snapshot built positionally is too easy to get silently wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

ARM64 = "arm64"
"""The only architecture Paddock places onto (Graviton). Other nodes are never used."""

Queueing: TypeAlias = Literal["BestEffortFIFO", "StrictFIFO"]
WithinBudgetPreemption: TypeAlias = Literal["Never", "LowerPriority"]
CohortReclaim: TypeAlias = Literal["Never", "LowerPriority", "Any"]
Spread: TypeAlias = Literal["Zone", "Node", "None"]

PoolReplicas: TypeAlias = tuple[tuple[str, int], ...]
"""(pool name, replicas) pairs: one Deployment per pool."""

NodeReplicas: TypeAlias = tuple[tuple[str, int], ...]
"""(node name, replicas) pairs: pods bound to nodes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One node as the planner sees it.

    `free_cores` is floor(allocatable CPU - CPU requests of every non-terminal pod bound to the
    node, Paddock's own included) minus the pool's reservedCoresPerNode. It may be zero or
    negative (an over-committed or daemon-heavy node); such a node simply fits nothing.
    Only `schedulable` (Ready and not cordoned) arm64 nodes of a known pool receive replicas.
    """

    name: str
    pool: str | None
    zone: str
    arch: str
    schedulable: bool
    free_cores: int
    free_memory: int
    potential: bool = False
    """A node the pool's autoscaler (a Karpenter NodePool) is launching or could still launch
    within its limits: replicas placed here are admitted as Provisioning, with a deadline.
    Existing nodes are always tried first; a potential node never holds pods."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool:
    """A CorePool. `weight` orders pools for budgets that list none (higher first).

    `max_cores` (an autoscaled pool's ceiling) is carried for reporting only: the planner only
    admits onto nodes that exist, because "admitted" must mean "can be placed now". The one
    exception is explicit: the potential nodes (`Node.potential`) of a pool with a `node_pool`,
    which the operator computes from the NodePool's headroom (already capped by max_cores).
    """

    name: str
    weight: int = 0
    max_cores: int | None = None
    node_pool: str | None = None
    """The Karpenter NodePool whose headroom the pool's potential nodes stand for."""
    provisioning_timeout: float = 300.0
    """Seconds replicas may wait for a launch before their admission is withdrawn."""
    headroom: str = ""
    """The NodePool's limit, usage and headroom in words, for messages."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """A CoreBudget: nominal whole cores a team may use, and how it shares them.

    `pools` lists allowed pools in preference order; empty means every pool, by weight then name.
    Within a `cohort`, unused nominal cores are lent to the other members: at most
    `lending_limit` of this budget's own (None: all of them), and this budget borrows at most
    `borrowing_limit` beyond its nominal (None: unlimited). Without a cohort nothing is shared.
    """

    name: str
    cores: int
    pools: tuple[str, ...] = ()
    cohort: str | None = None
    borrowing_limit: int | None = None
    lending_limit: int | None = None
    queueing: Queueing = "BestEffortFIFO"
    preempt_within_budget: WithinBudgetPreemption = "Never"
    reclaim_from_cohort: CohortReclaim = "Never"
    core_hours_exhausted: str = ""
    """Non-empty while the budget's core-hours in its window are used up (spec.coreHours): why,
    with the numbers. Nothing new is admitted and nothing grows; what holds cores keeps them."""
    scale_to_min: bool = False
    """With `core_hours_exhausted` (onExhausted ScaleToMin): elastic workloads also shrink to
    minReplicas (at least 1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """An AgentWorkload with what is admitted and placed for it right now.

    `budget` is the spec value (None: resolve from `budget_candidates`, the budgets whose
    namespaceSelector matches the namespace). `pools` is placement.pools: when non-empty it
    narrows and reorders the budget's pools. `current` is what is admitted now (replicas of its
    Deployment per pool) and `placed` its pods bound to nodes, whose cores are already
    subtracted from those nodes' `free_cores`. `placed` should count only pods of the current
    shape (cores_per_replica): pods of an old shape are being replaced and hold no admission.
    `created` orders equal priorities (older first); ties are broken by `key`.

    `invalid` is why the operator could not read the spec (empty when it could): such a workload
    is never queued, but what it already holds (`current`, with its running pods) is kept and
    counted until the spec is fixed or the workload deleted. `unplaced_since` is when some of
    its admitted replicas were last found without a pod and without room (None: not so):
    after `Snapshot.shrink_grace` an elastic workload shrinks toward minReplicas.
    `releasing` counts replicas its Deployments still run beyond `current` (a scale-down or
    delete decided but not yet seen done): their cores stay counted in its budget until they
    are, so no one is admitted against cores that are still in use ("free before use"). A
    delete is done, for the budget, once it has landed (the Deployment is being deleted and
    cannot come back); its pods keep their node cores (`Node.free_cores`) until they are gone.
    """

    key: str
    namespace: str
    name: str
    replicas: int
    min_replicas: int
    cores_per_replica: int
    memory_per_replica: int = 0
    priority: int = 0
    created: float = 0.0
    budget: str | None = None
    budget_candidates: tuple[str, ...] = ()
    pools: tuple[str, ...] = ()
    spread: Spread = "None"
    current: PoolReplicas = ()
    placed: NodeReplicas = ()
    invalid: str = ""
    unplaced_since: float | None = None
    releasing: int = 0
    provisioning_since: float | None = None
    """When it began waiting for a launch (None: it does not wait for one)."""
    provisioning_timed_out: float | None = None
    """When its last wait for a launch timed out: for one provisioning timeout after that it is
    admitted against existing nodes only, so it does not ask for the same launch at once."""
    image_block: tuple[str, str] | None = None
    """(reason, message) when its images may not be admitted now: the image architecture check
    (`paddock.images`) found one without linux/arm64 (ImageArchMismatch), has not checked them
    yet (ImageCheckPending), or could not and the policy is FailClosed (ImageCheckFailed).
    Such a workload is not queued; what it already holds is kept, as for `invalid`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything one planning cycle needs. Order of the tuples does not matter: the planner
    sorts by name/key first, so the operator's index iteration order cannot change a plan.

    `now` (seconds, the same clock as `Workload.unplaced_since`) and `shrink_grace` decide when
    an elastic workload whose lost replicas cannot be placed again gives them up.
    """

    nodes: tuple[Node, ...] = ()
    pools: tuple[Pool, ...] = ()
    budgets: tuple[Budget, ...] = ()
    workloads: tuple[Workload, ...] = ()
    now: float = 0.0
    shrink_grace: float = 300.0
