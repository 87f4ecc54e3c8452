"""From what the operator observed to the planner's Snapshot, plus what the applier needs.

The planner takes plain data; this module is the only place that reads the
observations: the list-watched records of Paddock's objects, nodes, pods and
Deployments (`listwatch.py`, `watched.py`) and kopf's index of namespaces.
It validates every Paddock object with the same pydantic models that generate
the CRDs, so an object the API server let through but the operator cannot use
(e.g. written before a CRD upgrade) is reported, not fatal.
Parsed specs are cached by (uid, generation): 10,000 workloads are parsed once,
not every cycle.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from paddock.api import (
    AgentWorkloadSpec,
    CoreBudgetSpec,
    CorePoolSpec,
    describe_errors,
)
from paddock.controller.labels import ARCH_LABEL, INSTANCE_TYPE_LABEL, ZONE_LABEL
from paddock.controller.observed import DeploymentFacts, ObjectFacts
from paddock.controller.status import PoolMeasures
from paddock.controller.watched import DeploymentsByWorkload, NodesAndPods, Records
from paddock.planner import Budget, Node, Pool, Snapshot, Workload

SpecT = TypeVar("SpecT", bound=BaseModel)
IndexLike = Mapping[Any, Iterable[Any]]
"""A kopf.Index: key -> a store (iterable) of the values indexed under that key."""


@dataclass(frozen=True)
class Parsed(Generic[SpecT]):
    """A Paddock object with its spec validated, or the reasons it is unusable."""

    facts: ObjectFacts
    spec: SpecT | None
    errors: tuple[str, ...] = ()


@dataclass
class SpecCache:
    """Parsed specs by (kind, uid, generation); vanished objects are dropped each cycle."""

    entries: dict[tuple[str, str, int], Parsed[Any]] = field(default_factory=dict)

    def parse(self, kind: type[SpecT], facts: ObjectFacts) -> Parsed[SpecT]:
        key = (kind.__name__, facts.uid, facts.generation)
        found = self.entries.get(key)
        if found is None:
            try:
                found = Parsed(facts, kind.model_validate(dict(facts.spec)))
            except ValidationError as error:
                found = Parsed(
                    facts, None, tuple(f"spec.{line}" for line in describe_errors(error))
                )
            self.entries[key] = found
        elif found.facts is not facts:
            found = Parsed(facts, found.spec, found.errors)  # same spec, newer status
        return found

    def keep_only(self, alive: set[tuple[str, str, int]]) -> None:
        for key in [k for k in self.entries if k not in alive]:
            del self.entries[key]


@dataclass(frozen=True)
class ClusterState:
    """One cycle's view: the planner's snapshot and what the applier needs to act on the plan."""

    snapshot: Snapshot
    pools: Mapping[str, Parsed[CorePoolSpec]]
    budgets: Mapping[str, Parsed[CoreBudgetSpec]]
    workloads: Mapping[str, Parsed[AgentWorkloadSpec]]
    deployments: Mapping[str, tuple[DeploymentFacts, ...]]
    ready_replicas: Mapping[str, int]
    pool_facts: Mapping[str, PoolMeasures]


GENERATION_BY_FAMILY_DIGIT = {"6": "2", "7": "3", "8": "4"}


def graviton_generation(labels: Mapping[str, str]) -> str | None:
    """Graviton 2/3/4 from the instance type (c6g=2, c7g=3, c8g=4), None when not Graviton."""
    instance_type = labels.get(INSTANCE_TYPE_LABEL, "")
    family = instance_type.split(".")[0]
    if len(family) >= 3 and family[1].isdigit() and "g" in family[2:]:
        return GENERATION_BY_FAMILY_DIGIT.get(family[1])
    return None


def tolerates_all(pool: CorePoolSpec, taints: Iterable[tuple[str, str, str]]) -> bool:
    """Whether the pool's tolerations (the only ones its pods get) tolerate every taint."""
    tolerations = pool.tolerations or ()
    return all(any(t.tolerates(*taint) for t in tolerations) for taint in taints)


def _values(index: IndexLike) -> Iterable[tuple[Any, Any]]:
    for key, store in index.items():
        for value in store:
            yield key, value


@functools.lru_cache(maxsize=65536)  # every cycle reads every workload's creation time
def parse_timestamp(value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


@dataclass
class SnapshotBuilder:
    """Reads what the list-watches keep and kopf's namespace index; builds a ClusterState."""

    nodes_and_pods: NodesAndPods = field(default_factory=NodesAndPods)
    deployments: DeploymentsByWorkload = field(default_factory=DeploymentsByWorkload)
    namespaces: IndexLike = field(default_factory=dict)
    pools: Records[ObjectFacts] = field(default_factory=Records)
    budgets: Records[ObjectFacts] = field(default_factory=Records)
    workloads: Records[ObjectFacts] = field(default_factory=Records)
    """By name; workloads by "namespace/name"."""
    cache: SpecCache = field(default_factory=SpecCache)
    admitted_override: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    """What this replica last wrote per workload, used until the Deployment index catches up."""

    def build(self) -> ClusterState:
        alive: set[tuple[str, str, int]] = set()

        def parse_all(
            objects: Mapping[str, ObjectFacts], kind: type[SpecT]
        ) -> dict[str, Parsed[SpecT]]:
            parsed = {}
            for key, facts in objects.items():
                parsed[key] = self.cache.parse(kind, facts)
                alive.add((kind.__name__, facts.uid, facts.generation))
            return parsed

        pools = parse_all(self.pools, CorePoolSpec)
        budgets = parse_all(self.budgets, CoreBudgetSpec)
        workloads = parse_all(self.workloads, AgentWorkloadSpec)
        self.cache.keep_only(alive)

        usable_pools = sorted(
            ((name, p) for name, p in pools.items() if p.spec is not None),
            key=lambda item: (-item[1].spec.weight, item[0]),  # type: ignore[union-attr]
        )
        nodes: list[Node] = []
        node_pool: dict[str, str] = {}
        pool_stats: dict[str, dict[str, Any]] = {
            name: {
                "nodes": 0,
                "ready": 0,
                "arch": set(),
                "gen": set(),
                "zones": set(),
                "alloc": 0,
                "used": 0,
            }
            for name, _ in usable_pools
        }
        used = self.nodes_and_pods.usage
        for node_name, facts in self.nodes_and_pods.nodes.items():
            pool_name = next(
                (name for name, p in usable_pools if p.spec.node_selector.matches(facts.labels)),  # type: ignore[union-attr]
                None,
            )
            cpu_used, memory_used = used.get(node_name, (0, 0))
            free_millicores = facts.allocatable_millicores - cpu_used
            reserved = 0
            schedulable = facts.schedulable
            if pool_name is not None:
                node_pool[node_name] = pool_name
                pool_spec = pools[pool_name].spec
                assert pool_spec is not None
                reserved = pool_spec.reserved_cores_per_node
                # A taint the pool does not tolerate keeps its pods off the node: never admit
                # onto it, or the pods would stay Pending.
                schedulable = schedulable and tolerates_all(pool_spec, facts.taints)
                stats = pool_stats[pool_name]
                stats["nodes"] += 1
                stats["ready"] += int(facts.schedulable)
                stats["arch"].add(facts.labels.get(ARCH_LABEL, "unknown"))
                generation = graviton_generation(facts.labels)
                if generation:
                    stats["gen"].add(generation)
                if ZONE_LABEL in facts.labels:
                    stats["zones"].add(facts.labels[ZONE_LABEL])
                if schedulable:
                    stats["alloc"] += facts.allocatable_millicores // 1000
                    stats["used"] += math.ceil(cpu_used / 1000)
            nodes.append(
                Node(
                    name=node_name,
                    pool=pool_name,
                    zone=facts.labels.get(ZONE_LABEL, ""),
                    arch=facts.labels.get(ARCH_LABEL, "unknown"),
                    schedulable=schedulable,
                    free_cores=math.floor(free_millicores / 1000) - reserved,
                    free_memory=facts.allocatable_memory - memory_used,
                )
            )

        deployments = {
            key: list(group.values()) for key, group in self.deployments.by_workload.items()
        }
        ready = {key: sum(d.ready_replicas for d in ds) for key, ds in deployments.items()}

        namespace_labels = {name: labels for name, labels in _values(self.namespaces)}
        planner_budgets = [
            Budget(
                name=name,
                cores=p.spec.cores,
                pools=tuple(p.spec.pools or ()),
                cohort=p.spec.cohort,
                borrowing_limit=p.spec.borrowing_limit,
                lending_limit=p.spec.lending_limit,
                queueing=p.spec.queueing,
                preempt_within_budget=p.spec.preemption.within_budget,
                reclaim_from_cohort=p.spec.preemption.reclaim_from_cohort,
            )
            for name, p in budgets.items()
            if p.spec is not None
        ]
        budget_selectors = [
            (name, p.spec.namespace_selector) for name, p in sorted(budgets.items()) if p.spec
        ]

        shape = {key: w.spec.cores_per_replica * 1000 for key, w in workloads.items() if w.spec}
        placed_by_workload: dict[str, Counter[str]] = defaultdict(Counter)
        for workload_key, pods in self.nodes_and_pods.agent_pods.items():
            for pod in pods.values():
                if (
                    pod.node in node_pool
                    and not pod.terminating
                    and pod.cpu_millicores == shape.get(workload_key)
                ):
                    placed_by_workload[workload_key][pod.node] += 1

        by_namespace: dict[str, tuple[str, ...]] = {}

        def candidates(namespace: str) -> tuple[str, ...]:
            """The budgets whose namespaceSelector selects the namespace (once per namespace)."""
            found = by_namespace.get(namespace)
            if found is None:
                labels = namespace_labels.get(namespace, {})
                found = tuple(
                    name for name, selector in budget_selectors if selector.matches(labels)
                )
                by_namespace[namespace] = found
            return found

        planner_workloads = []
        for key, workload in workloads.items():
            spec = workload.spec
            if spec is None:
                continue
            namespace = workload.facts.namespace or ""
            current = self.admitted_override.get(key)
            if current is None:
                current = tuple(
                    sorted((d.pool, d.replicas) for d in deployments.get(key, ()) if d.replicas > 0)
                )
            planner_workloads.append(
                Workload(
                    key=key,
                    namespace=namespace,
                    name=workload.facts.name,
                    replicas=spec.replicas,
                    min_replicas=spec.min_replicas
                    if spec.min_replicas is not None
                    else spec.replicas,
                    cores_per_replica=spec.cores_per_replica,
                    memory_per_replica=spec.memory_bytes_per_replica,
                    priority=spec.priority,
                    created=parse_timestamp(workload.facts.created),
                    budget=spec.budget,
                    budget_candidates=candidates(namespace),
                    pools=tuple(spec.placement.pools or ()),
                    spread=spec.placement.spread,
                    current=current,
                    placed=tuple(sorted(placed_by_workload.get(key, Counter()).items())),
                )
            )

        paddock_cores: Counter[str] = Counter()
        for key, workload in workloads.items():
            if workload.spec is None:
                continue
            for d in deployments.get(key, ()):
                paddock_cores[d.pool] += d.replicas * workload.spec.cores_per_replica
        pool_facts = {
            name: PoolMeasures(
                nodes=s["nodes"],
                ready_nodes=s["ready"],
                architectures=tuple(sorted(s["arch"])),
                generations=tuple(sorted(s["gen"])),
                zones=tuple(sorted(s["zones"])),
                allocatable_cores=s["alloc"],
                used_cores=s["used"],
                paddock_cores=paddock_cores[name],
            )
            for name, s in pool_stats.items()
        }
        snapshot = Snapshot(
            nodes=tuple(nodes),
            pools=tuple(
                Pool(name=name, weight=p.spec.weight, max_cores=p.spec.max_cores)  # type: ignore[union-attr]
                for name, p in usable_pools
            ),
            budgets=tuple(planner_budgets),
            workloads=tuple(planner_workloads),
        )
        return ClusterState(
            snapshot=snapshot,
            pools=pools,
            budgets=budgets,
            workloads=workloads,
            deployments={k: tuple(v) for k, v in deployments.items()},
            ready_replicas=ready,
            pool_facts=pool_facts,
        )
