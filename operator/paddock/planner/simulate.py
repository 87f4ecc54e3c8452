"""The cluster a plan would leave: for tests, benchmarks and what-if tools.

`apply_plan` is what the operator plus kube-scheduler do to a cluster, done to a snapshot: each
workload's admission becomes `current`, its simulated placements become `placed`, and nodes lose
the cores of new pods and get back the cores of removed ones. Planning the result again is how
the tests prove that plans are stable ("applying a plan twice changes nothing").
"""

from __future__ import annotations

from dataclasses import replace

from .decisions import Plan
from .snapshot import Snapshot


def apply_plan(snapshot: Snapshot, plan: Plan) -> Snapshot:
    """The snapshot after `plan` is carried out and every pod is bound where it was simulated.

    Pods the plan removes (shrinks, evictions, replicas moved away) are gone, as they would be a
    moment later in a real cluster. Workloads missing from the plan are left as they are.
    """
    cores: dict[str, int] = {}
    memory: dict[str, int] = {}
    workloads = []
    for w in snapshot.workloads:
        decision = plan.workloads.get(w.key)
        if decision is None:
            workloads.append(w)
            continue
        old: dict[str, int] = {}
        for node, replicas in w.placed:
            old[node] = old.get(node, 0) + max(0, replicas)
        new = dict(decision.placements)
        for node in old.keys() | new.keys():
            diff = new.get(node, 0) - old.get(node, 0)
            if diff:
                cores[node] = cores.get(node, 0) + diff * max(0, w.cores_per_replica)
                memory[node] = memory.get(node, 0) + diff * max(0, w.memory_per_replica)
        workloads.append(replace(w, current=decision.assignments, placed=decision.placements))
    nodes = tuple(
        replace(
            n,
            free_cores=n.free_cores - cores[n.name],
            free_memory=n.free_memory - memory.get(n.name, 0),
        )
        if n.name in cores
        else n
        for n in snapshot.nodes
    )
    return replace(snapshot, nodes=nodes, workloads=tuple(workloads))
