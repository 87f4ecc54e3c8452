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
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from paddock.autoscaling.headroom import Headroom, headroom
from paddock.autoscaling.nodepool import NodeClaimFacts, NodePoolFacts
from paddock.controller.deployments import check_renders, replica_shape
from paddock.controller.labels import ARCH_LABEL, INSTANCE_TYPE_LABEL, ZONE_LABEL
from paddock.controller.observed import (
    DeploymentFacts,
    NodeFacts,
    ObjectFacts,
    PdbFacts,
    unpacked,
)
from paddock.controller.status import UNPLACED_CONDITION, PoolMeasures
from paddock.controller.watched import DeploymentsByWorkload, NodesAndPods, Records
from paddock.images.gate import ImageGate
from paddock.images.verdict import ImageVerdict
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


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
"""One `__pydantic_fields_set__` per distinct set of fields given (a handful in all)."""


def share_fields_sets(value: Any) -> None:
    """Make every model in a parsed spec use one shared set of the fields its input gave.

    Pydantic gives each model instance its own set of the fields that were set (only
    `model_dump(exclude_unset=True)` and `model_fields_set` read it; Paddock uses neither): for
    an AgentWorkloadSpec, its Placement and its PodTemplate, 1.1 KiB of the 1.8 KiB a parsed
    spec takes, repeated for each of 10,000 workloads. Cached specs are never changed.
    """
    if isinstance(value, BaseModel):
        given = value.__pydantic_fields_set__
        shared = _FIELDS_SETS.setdefault(frozenset(given), given)
        if shared is not given:
            object.__setattr__(value, "__pydantic_fields_set__", shared)
        for item in value.__dict__.values():
            share_fields_sets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            share_fields_sets(item)
    elif isinstance(value, dict):
        for item in value.values():
            share_fields_sets(item)


@dataclass
class SpecCache:
    """Parsed specs by (kind, uid, generation); vanished objects are dropped each cycle."""

    entries: dict[tuple[str, str, int], Parsed[Any]] = field(default_factory=dict)

    def parse(self, kind: type[SpecT], facts: ObjectFacts) -> Parsed[SpecT]:
        key = (kind.__name__, facts.uid, facts.generation)
        found = self.entries.get(key)
        if found is None:
            try:
                spec = kind.model_validate(unpacked(facts.spec))
                share_fields_sets(spec)
                found = Parsed(facts, spec)
            except ValidationError as error:
                found = Parsed(
                    facts, None, tuple(f"spec.{line}" for line in describe_errors(error))
                )
            except Exception as error:  # one object never stops the cycle (rule 9)
                found = Parsed(facts, None, (f"spec: cannot be read: {error!r}",))
            self.entries[key] = found
        elif found.facts is not facts:
            # Same spec, newer status: kept in place of the old facts, which would otherwise
            # stay alive here (a second spec and status per workload) until the next generation.
            found = self.entries[key] = Parsed(facts, found.spec, found.errors)
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
    pdbs: Mapping[str, PdbFacts] = field(default_factory=dict)
    """The PodDisruptionBudget each workload owns, by workload key."""
    headrooms: Mapping[str, Headroom] = field(default_factory=dict)
    """What each autoscaled pool's Karpenter NodePool can still launch, by pool name."""
    images: Mapping[str, ImageVerdict] = field(default_factory=dict)
    """The image architecture check's verdict per workload key (empty while it is disabled)."""


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


Candidates = Callable[[str], tuple[str, ...]]


class _Refused(Exception):
    """This generation of a workload was refused when carried out (`SnapshotBuilder.rejected`)."""


def unplaced_since(status: Mapping[str, Any]) -> float | None:
    for item in status.get("conditions") or ():
        if (
            isinstance(item, Mapping)
            and item.get("type") == UNPLACED_CONDITION
            and item.get("status") == "False"
        ):
            return parse_timestamp(str(item.get("lastTransitionTime") or "")) or None
    return None


PROVISIONING_CONDITION = "Provisioning"
"""True while admitted replicas wait for a node launch (its lastTransitionTime starts the
provisioning timeout); False with reason ProvisioningTimeout when the wait timed out (its
lastTransitionTime starts the pause before the next launch). Read back from status, so an
operator restart neither resets a deadline nor forgets a timeout."""


def provisioning_times(status: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(waiting for a launch since, last launch timed out at), from the Provisioning condition."""
    for item in status.get("conditions") or ():
        if isinstance(item, Mapping) and item.get("type") == PROVISIONING_CONDITION:
            when = parse_timestamp(str(item.get("lastTransitionTime") or "")) or None
            if item.get("status") == "True":
                return when, None
            if item.get("reason") == "ProvisioningTimeout":
                return None, when
    return None, None


def _releasing(own: Sequence[DeploymentFacts], current: tuple[tuple[str, int], ...]) -> int:
    """Replicas the workload's Deployments still run beyond what it holds now, per pool: a
    scale-down or move this replica decided but the watch has not shown done, with its pods
    gone (a Deployment's pods trail its replica count), and a delete not yet landed.

    A Deployment being deleted (it has a deletionTimestamp) counts nothing here: the delete
    cannot be undone, so its budget cores are free (a preemptor is admitted against them by
    the next cycle, as Kueue frees an evicted workload's quota), while its pods keep their
    node cores until they are gone (the nodes' free cores count every pod still there)."""
    if not own:
        return 0
    held = dict(current)
    total = 0
    for d in own:  # a plain loop: this runs for every workload in every full cycle
        if not d.deleting:
            extra = d.occupying - held.get(d.pool, 0)
            if extra > 0:
                total += extra
    return total


def _planner_workload(
    key: str,
    workload: Parsed[AgentWorkloadSpec],
    shape: tuple[int, int],
    current: tuple[tuple[str, int], ...],
    placed: tuple[tuple[str, int], ...],
    candidates: Candidates,
    releasing: int = 0,
    image_block: tuple[str, str] | None = None,
) -> Workload:
    spec = workload.spec
    assert spec is not None
    namespace = workload.facts.namespace or ""
    since, timed_out = provisioning_times(workload.facts.status)
    return Workload(
        key=key,
        namespace=namespace,
        name=workload.facts.name,
        replicas=spec.replicas,
        min_replicas=spec.effective_min_replicas,
        cores_per_replica=shape[0],
        memory_per_replica=shape[1],
        priority=spec.priority,
        created=parse_timestamp(workload.facts.created),
        budget=spec.budget,
        budget_candidates=candidates(namespace),
        pools=tuple(spec.placement.pools or ()),
        spread=spec.placement.spread,
        current=current,
        placed=placed,
        unplaced_since=unplaced_since(workload.facts.status),
        releasing=releasing,
        provisioning_since=since,
        provisioning_timed_out=timed_out,
        image_block=image_block,
    )


def _unreadable_workload(
    key: str,
    workload: Parsed[AgentWorkloadSpec],
    errors: Sequence[str],
    own: Sequence[DeploymentFacts],
    current: tuple[tuple[str, int], ...],
    placed: tuple[tuple[str, int], ...],
    candidates: Candidates,
) -> Workload:
    """A workload whose spec cannot be planned: never queued, but what its own Deployments run
    stays and counts (their pod template says how many cores a replica takes)."""
    namespace = workload.facts.namespace or ""
    budget = workload.facts.spec.get("budget") if isinstance(workload.facts.spec, Mapping) else None
    held = sum(r for _, r in current)
    return Workload(
        key=key,
        namespace=namespace,
        name=workload.facts.name,
        replicas=held,
        min_replicas=held,
        cores_per_replica=max((d.cores for d in own), default=1) or 1,
        created=parse_timestamp(str(workload.facts.created)),
        budget=budget if isinstance(budget, str) and budget else None,
        budget_candidates=candidates(namespace),
        current=current,
        placed=placed,
        invalid="; ".join(errors),
    )


def _planner_pool(name: str, spec: CorePoolSpec, room: Headroom | None) -> Pool:
    if spec.autoscaling is None:
        return Pool(name=name, weight=spec.weight, max_cores=spec.max_cores)
    return Pool(
        name=name,
        weight=spec.weight,
        max_cores=spec.max_cores,
        node_pool=spec.autoscaling.node_pool,
        provisioning_timeout=float(spec.autoscaling.timeout_seconds),
        headroom=room.describe() if room is not None else "",
    )


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
    pdbs: Records[PdbFacts] = field(default_factory=Records)
    """Paddock's PodDisruptionBudgets by uid."""
    node_pools: Records[NodePoolFacts] = field(default_factory=Records)
    """Karpenter NodePools by name (list-watched only when Karpenter's API is served)."""
    node_claims: Records[NodeClaimFacts] = field(default_factory=Records)
    """Karpenter NodeClaims by name."""
    cache: SpecCache = field(default_factory=SpecCache)
    admitted_override: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    """What this replica last wrote per workload, used until the Deployment index catches up."""
    shrink_grace: float = 300.0
    """Seconds an elastic workload's lost replicas may wait for room before it shrinks."""
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Shared with the applier: workload -> (generation, why it cannot be carried out), e.g.
    the API server refused its Deployment. Such a generation is planned as invalid."""
    images: ImageGate | None = None
    """The image architecture check (None: disabled): verdicts from its cache, never waiting."""
    _shapes: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    """(uid, generation) -> whole cores and memory bytes one replica takes (`replica_shape`)."""

    def new_planner_workload(
        self, key: str, workload: Parsed[AgentWorkloadSpec], candidates: Candidates
    ) -> Workload:
        """A workload nothing was decided for yet (no replicas, no pods), as the planner takes
        it: for the incremental step (incremental.py). Raises when its spec cannot be used."""
        return _planner_workload(key, workload, self._shape(workload), (), (), candidates)

    def _shape(self, workload: Parsed[AgentWorkloadSpec]) -> tuple[int, int]:
        """Whole cores and bytes of one replica, every container counted, once per generation."""
        spec = workload.spec
        if spec is None:
            raise ValueError("; ".join(workload.errors) or "spec cannot be read")
        key = (workload.facts.uid, workload.facts.generation)
        found = self._shapes.get(key)
        if found is None:
            if len(self._shapes) > 4 * max(1024, len(self.workloads)):
                self._shapes.clear()  # generations of deleted or changed workloads
            check_renders(spec)  # a template the renderer cannot use is invalid, not a crash later
            found = self._shapes[key] = replica_shape(spec)
        return found

    def _placed(
        self,
        key: str,
        own: Sequence[DeploymentFacts],
        spec: AgentWorkloadSpec | None,
        nodes: Mapping[str, NodeFacts],
    ) -> tuple[tuple[str, int], ...]:
        """Replicas per node: the workload's running pods of its own Deployments, of its current
        shape (pods of an older coresPerReplica are being replaced), on nodes that exist,
        whatever their state (rule 8: running pods keep their place)."""
        pods = self.nodes_and_pods.agent_pods.get(key)
        if not pods or not own:
            return ()
        prefixes = tuple(f"{d.name}-" for d in own)
        shape = spec.cores_per_replica * 1000 if spec is not None else None
        per_node: Counter[str] = Counter()
        for pod in pods.values():
            if (
                pod.node in nodes
                and not pod.terminating
                and pod.replica_set.startswith(prefixes)
                and (shape is None or pod.cpu_millicores == shape)
            ):
                per_node[pod.node] += 1
        return tuple(sorted(per_node.items()))

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

        headrooms = self._headrooms(usable_pools, nodes, pool_stats)
        for name, room in headrooms.items():
            nodes.extend(
                Node(
                    name=p.name,
                    pool=name,
                    zone="",
                    arch="arm64",
                    schedulable=True,
                    free_cores=p.cores,
                    free_memory=p.memory,
                    potential=True,
                )
                for p in room.nodes
            )

        # Only Deployments a workload owns are its own: one that merely carries its labels is
        # neither counted, changed nor deleted.
        uids = {key: w.facts.uid for key, w in workloads.items()}
        deployments: dict[str, list[DeploymentFacts]] = {}
        for key, group in self.deployments.by_workload.items():
            owned = [d for d in group.values() if d.owner_uid and d.owner_uid == uids.get(key)]
            if owned:
                deployments[key] = owned
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

        existing_nodes = self.nodes_and_pods.nodes
        planner_workloads = []
        verdicts: dict[str, ImageVerdict] = {}
        shapes: dict[str, tuple[int, int]] = {}
        for key, workload in workloads.items():
            own = deployments.get(key, ())
            current = self.admitted_override.get(key)
            if current is None:
                current = tuple(
                    sorted((d.pool, d.replicas) for d in own if d.replicas > 0 and not d.deleting)
                )
            placed = self._placed(key, own, workload.spec, existing_nodes)
            releasing = _releasing(own, current)
            try:
                refused = self.rejected.get(key)
                if refused is not None and refused[0] == workload.facts.generation:
                    raise _Refused(refused[1])
                shape = self._shape(workload)
                verdict = self.image_verdict(workload, budgets, candidates, current)
                if verdict is not None:
                    verdicts[key] = verdict
                planner_workloads.append(
                    _planner_workload(
                        key,
                        workload,
                        shape,
                        current,
                        placed,
                        candidates,
                        releasing,
                        verdict.block if verdict is not None else None,
                    )
                )
                shapes[key] = shape
            except Exception as error:  # one workload never stops the cycle (rule 9)
                errors = workload.errors or (
                    (str(error),) if isinstance(error, _Refused) else (f"spec: {error!r}",)
                )
                planner_workloads.append(
                    _unreadable_workload(key, workload, errors, own, current, placed, candidates)
                )

        paddock_cores: Counter[str] = Counter()
        for key, own in deployments.items():
            for d in own:
                paddock_cores[d.pool] += d.replicas * shapes.get(key, (d.cores, 0))[0]
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
                _planner_pool(name, p.spec, headrooms.get(name))
                for name, p in usable_pools
                if p.spec is not None
            ),
            budgets=tuple(planner_budgets),
            workloads=tuple(planner_workloads),
            now=time.time(),
            shrink_grace=self.shrink_grace,
        )
        return ClusterState(
            snapshot=snapshot,
            pools=pools,
            budgets=budgets,
            workloads=workloads,
            deployments={k: tuple(v) for k, v in deployments.items()},
            pdbs={
                pdb.workload: pdb
                for pdb in self.pdbs.values()
                if pdb.owner_uid and pdb.owner_uid == uids.get(pdb.workload)
            },
            ready_replicas=ready,
            pool_facts=pool_facts,
            headrooms=headrooms,
            images=verdicts,
        )

    def image_verdict(
        self,
        workload: Parsed[AgentWorkloadSpec],
        budgets: Mapping[str, Parsed[CoreBudgetSpec]],
        candidates: Candidates,
        current: tuple[tuple[str, int], ...],
    ) -> ImageVerdict | None:
        """The image check's verdict (None when disabled or nothing is to be placed)."""
        spec = workload.spec
        if self.images is None or spec is None or spec.replicas == 0:
            return None
        facts = workload.facts
        name = spec.budget
        if name is None:
            found = [c for c in candidates(facts.namespace or "") if c in budgets]
            name = found[0] if len(found) == 1 else None
        budget = budgets.get(name) if name is not None else None
        policy = budget.spec.image_check if budget is not None and budget.spec else None
        return self.images.verdict(
            facts.uid,
            facts.generation,
            facts.namespace or "",
            lambda: spec.template.model_dump(by_alias=True, exclude_none=True),
            policy,
            holds=any(replicas > 0 for _, replicas in current),
        )

    def _headrooms(
        self,
        usable_pools: Sequence[tuple[str, Parsed[CorePoolSpec]]],
        nodes: Sequence[Node],
        pool_stats: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, Headroom]:
        """Potential capacity of every autoscaled pool, from its NodePool and NodeClaims."""
        out: dict[str, Headroom] = {}
        usable = {n.name for n in nodes if n.schedulable}
        known = self.nodes_and_pods.nodes
        usable |= {known[name].provider_id for name in usable if name in known}
        usable.discard("")
        claims = tuple(self.node_claims.values())
        for name, parsed in usable_pools:
            spec = parsed.spec
            if spec is None or spec.autoscaling is None:
                continue
            node_pool = spec.autoscaling.node_pool
            out[name] = headroom(
                pool_name=name,
                node_pool_name=node_pool,
                node_pool=self.node_pools.get(node_pool),
                claims=claims,
                reserved_cores_per_node=spec.reserved_cores_per_node,
                max_cores=spec.max_cores,
                existing_cores=int(pool_stats[name]["alloc"]),
                usable_nodes=usable,
                tolerates=functools.partial(tolerates_all, spec),
                selects=spec.node_selector.matches,
            )
        return out
