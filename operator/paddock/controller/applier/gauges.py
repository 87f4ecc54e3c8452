"""Prometheus gauges of budgets, pools and workloads, rebuilt from each plan."""

from __future__ import annotations

from collections import Counter

from paddock.controller import metrics
from paddock.controller.cluster_state import ClusterState
from paddock.planner import Plan, Reason

LEADER_GAUGES = (
    metrics.BUDGET_CORES,
    metrics.POOL_CORES,
    metrics.PENDING_WORKLOADS,
    metrics.ADMITTED_WORKLOADS,
    metrics.INVALID_WORKLOADS,
)
"""Figures only the leader knows: cleared each cycle and when this replica stops leading."""


def clear_gauges() -> None:
    for gauge in LEADER_GAUGES:
        gauge.clear()


def export_gauges(state: ClusterState, plan: Plan) -> None:
    """Budget, pool and workload figures, rebuilt each cycle so deleted objects vanish."""
    clear_gauges()
    invalid: Counter[str] = Counter(
        key.split("/", 1)[0]
        for key, decision in plan.workloads.items()
        if decision.reason == Reason.INVALID_SPEC
    )
    for namespace, count in invalid.items():
        metrics.INVALID_WORKLOADS.labels(namespace=namespace).set(count)
    for name, usage in plan.budgets.items():
        budget = state.budgets.get(name)
        if budget is not None and budget.spec is not None:
            metrics.BUDGET_CORES.labels(budget=name, kind="nominal").set(budget.spec.cores)
        for kind, value in (
            ("used", usage.used_cores),
            ("borrowed", usage.borrowed_cores),
            ("lent", usage.lent_cores),
            ("pending", usage.pending_cores),
        ):
            metrics.BUDGET_CORES.labels(budget=name, kind=kind).set(value)
        metrics.PENDING_WORKLOADS.labels(budget=name).set(usage.pending_workloads)
        metrics.ADMITTED_WORKLOADS.labels(budget=name).set(usage.admitted_workloads)
    for name, pool in plan.pools.items():
        measures = state.pool_facts.get(name)
        for kind, value in (
            ("allocatable", measures.allocatable_cores if measures else 0),
            ("used", measures.used_cores if measures else 0),
            ("paddock", pool.paddock_cores),
            ("free", pool.free_cores_after_plan),
            ("largest_free_block", pool.largest_free_block_after_plan),
        ):
            metrics.POOL_CORES.labels(pool=name, kind=kind).set(value)
        room = state.headrooms.get(name)
        if room is not None:
            figures: tuple[tuple[str, int | None], ...] = (
                ("potential", room.potential_cores),
                ("nodepool_limit", room.limit_cores),
                ("nodepool_used", room.used_cores),
                ("headroom", room.headroom_cores),
            )
            for kind, figure in figures:
                if figure is not None:
                    metrics.POOL_CORES.labels(pool=name, kind=kind).set(figure)
