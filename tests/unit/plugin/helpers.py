"""Hand-built snapshots for the plugin's tests: a situation in a few lines, then settled.

Defaults: pool `g4`, zone `a`, arm64, schedulable, plenty of memory; budgets select namespace
`ns` only when a workload names them in `candidates`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paddock.kubectl_plugin.view import View
from paddock.planner import Budget, Node, Pool, Snapshot, Workload, apply_plan, plan
from tests.unit.planner import builders

GI = 1 << 30


def nodes(count: int, cores: int, *, pool: str = "g4", zone: str = "a") -> tuple[Node, ...]:
    return tuple(
        Node(
            name=f"{pool}-{i}",
            pool=pool,
            zone=zone,
            arch="arm64",
            schedulable=True,
            free_cores=cores,
            free_memory=256 * GI,
        )
        for i in range(count)
    )


def budget(name: str, cores: int, **fields: object) -> Budget:
    return builders.budget(name, cores, **fields)


def workload(
    name: str, *, cores: int, candidates: tuple[str, ...] = ("team",), **fields: Any
) -> Workload:
    """The planner tests' builder, with this file's default budget candidate."""
    return builders.workload(name, cores=cores, candidates=candidates, **fields)


def snapshot(
    node_list: Iterable[Node],
    budgets: Iterable[Budget],
    workloads: Iterable[Workload],
    pools: Iterable[Pool] = (),
) -> Snapshot:
    node_tuple = tuple(node_list)
    return Snapshot(
        nodes=node_tuple,
        pools=tuple(pools)
        or tuple(Pool(name=p) for p in sorted({n.pool for n in node_tuple if n.pool})),
        budgets=tuple(budgets),
        workloads=tuple(workloads),
    )


def settle(s: Snapshot, cycles: int = 4) -> Snapshot:
    """The cluster after the operator ran a few cycles and kube-scheduler bound every pod."""
    for _ in range(cycles):
        s = apply_plan(s, plan(s))
    return s


def view(s: Snapshot, settled: bool = True) -> View:
    return View.of(settle(s) if settled else s)
