"""Tiny builders so a scenario reads like the situation it describes.

Defaults: one budget `team-a` selecting namespace `ns`, pool `g4`, zone `a`, arm64, schedulable,
plenty of memory. Only what a test is about needs to be spelled out.
"""

from __future__ import annotations

from collections.abc import Iterable

from paddock.planner import (
    Budget,
    Node,
    Plan,
    Pool,
    Snapshot,
    Workload,
    apply_plan,
    plan,
)

GI = 1 << 30


def node(
    name: str,
    cores: int = 16,
    *,
    pool: str | None = "g4",
    zone: str = "a",
    arch: str = "arm64",
    schedulable: bool = True,
    memory: int = 256 * GI,
) -> Node:
    return Node(
        name=name,
        pool=pool,
        zone=zone,
        arch=arch,
        schedulable=schedulable,
        free_cores=cores,
        free_memory=memory,
    )


def nodes(
    count: int, cores: int = 16, *, pool: str = "g4", zones: Iterable[str] = ("a",)
) -> tuple[Node, ...]:
    """`count` identical nodes named pool-0, pool-1, ..., round-robin over `zones`."""
    zone_list = list(zones)
    return tuple(
        node(f"{pool}-{i}", cores, pool=pool, zone=zone_list[i % len(zone_list)])
        for i in range(count)
    )


def pool(name: str, weight: int = 0) -> Pool:
    return Pool(name=name, weight=weight)


def budget(name: str = "team-a", cores: int = 1000, **fields: object) -> Budget:
    return Budget(name=name, cores=cores, **fields)  # type: ignore[arg-type]


def workload(
    name: str,
    *,
    cores: int = 1,
    replicas: int = 1,
    min_replicas: int | None = None,
    priority: int = 0,
    created: float = 0.0,
    budget: str | None = None,
    candidates: tuple[str, ...] = ("team-a",),
    namespace: str = "ns",
    memory: int = 0,
    pools: tuple[str, ...] = (),
    spread: str = "None",
    current: tuple[tuple[str, int], ...] = (),
    placed: tuple[tuple[str, int], ...] = (),
) -> Workload:
    return Workload(
        key=f"{namespace}/{name}",
        namespace=namespace,
        name=name,
        replicas=replicas,
        min_replicas=replicas if min_replicas is None else min_replicas,
        cores_per_replica=cores,
        memory_per_replica=memory,
        priority=priority,
        created=created,
        budget=budget,
        budget_candidates=candidates,
        pools=pools,
        spread=spread,  # type: ignore[arg-type]
        current=current,
        placed=placed,
    )


def snapshot(
    *,
    nodes: Iterable[Node] = (),
    pools: Iterable[Pool] = (),
    budgets: Iterable[Budget] = (),
    workloads: Iterable[Workload] = (),
) -> Snapshot:
    """A snapshot; pools default to those the nodes name, budgets to `team-a` (1000 cores)."""
    node_tuple = tuple(nodes)
    pool_tuple = tuple(pools) or tuple(
        Pool(name=p) for p in sorted({n.pool for n in node_tuple if n.pool is not None})
    )
    return Snapshot(
        nodes=node_tuple,
        pools=pool_tuple,
        budgets=tuple(budgets) or (budget(),),
        workloads=tuple(workloads),
    )


def with_workloads(snap: Snapshot, *added: Workload) -> Snapshot:
    return Snapshot(
        nodes=snap.nodes, pools=snap.pools, budgets=snap.budgets, workloads=snap.workloads + added
    )


def without_nodes(snap: Snapshot, *names: str) -> Snapshot:
    return Snapshot(
        nodes=tuple(n for n in snap.nodes if n.name not in names),
        pools=snap.pools,
        budgets=snap.budgets,
        workloads=snap.workloads,
    )


def settle(snap: Snapshot, rounds: int = 20) -> tuple[Snapshot, Plan]:
    """Plan and apply until a plan changes nothing; return the final snapshot and plan."""
    current = plan(snap)
    for _ in range(rounds):
        snap = apply_plan(snap, current)
        following = plan(snap)
        if _same(following, current) and not following.victims:
            return snap, following
        current = following
    raise AssertionError("plans did not settle")


def _same(a: Plan, b: Plan) -> bool:
    return strip_events(a) == strip_events(b)


def strip_events(p: Plan) -> dict[str, object]:
    """Decisions without the per-cycle `events` (what changed), for stability comparisons."""
    from dataclasses import replace

    return {
        "workloads": {k: replace(d, events=()) for k, d in p.workloads.items()},
        "budgets": dict(p.budgets),
    }
