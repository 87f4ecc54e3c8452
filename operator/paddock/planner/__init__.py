"""Paddock's scheduling core: a snapshot of nodes, pools, budgets and workloads in, a plan out.

Pure and standard-library only (a test enforces it): no kopf, no kubernetes, no pydantic, so it
can be read, property-tested and benchmarked alone. The operator builds a `Snapshot` from its
indexes, calls `plan(snapshot)`, and applies the `Plan` (Deployments, status, events).

Modules, in the order a cycle uses them:
- `snapshot`: input types.
- `work`: budget resolution, validation, pool order; per-workload working state.
- `capacity`: per-pool node buckets by free cores; best-fit placement with undo.
- `budgets`: nominal, borrowing and lending accounting per cohort.
- `admission`: hold current admissions, admit the queue, explain the rest.
- `preemption`: shrink or evict lower-priority work (or cohort borrowers) for queued work.
- `engine`: `plan()` and `Planner` (a cycle plus cheap incremental `add()`).
- `decisions`: output types and the `Reason` codes.
- `simulate`: `apply_plan()`, the cluster a plan leaves (tests, benchmarks).
- `explain`: the planner's budget and fit arithmetic for tools that explain a plan.
"""

from . import explain
from .decisions import (
    BudgetUsage,
    Plan,
    PoolUsage,
    Reason,
    State,
    Victim,
    WorkloadDecision,
)
from .engine import Planner, plan
from .simulate import apply_plan
from .snapshot import (
    ARM64,
    Budget,
    CohortReclaim,
    Node,
    NodeReplicas,
    Pool,
    PoolReplicas,
    Queueing,
    Snapshot,
    Spread,
    WithinBudgetPreemption,
    Workload,
)

__all__ = [
    "ARM64",
    "Budget",
    "BudgetUsage",
    "CohortReclaim",
    "Node",
    "NodeReplicas",
    "Plan",
    "Planner",
    "Pool",
    "PoolReplicas",
    "PoolUsage",
    "Queueing",
    "Reason",
    "Snapshot",
    "Spread",
    "State",
    "Victim",
    "WithinBudgetPreemption",
    "Workload",
    "WorkloadDecision",
    "apply_plan",
    "explain",
    "plan",
]
