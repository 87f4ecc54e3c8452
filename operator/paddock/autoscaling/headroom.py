"""Potential capacity of an autoscaled CorePool: the nodes its Karpenter NodePool could launch.

The rule (issue 16): whole cores on nodes Karpenter could still launch, node by node, because a
replica must fit on one instance type the NodePool allows; never beyond limits.cpu minus what
exists and is launching; never beyond the CorePool's maxCores. Two kinds of potential node:

- launching: a NodeClaim that is not an initialized node yet. Its cores are already counted in
  the NodePool's usage, and the replicas that asked for it must keep their admission while it
  boots, so it is offered as the node it will become.
- launchable: the NodePool's remaining headroom, cut greedily into the largest allowed instance
  types. Greedy largest-first is conservative for admission: Karpenter may choose smaller,
  cheaper nodes, but never more cores than the limit, and a replica admitted here fits at least
  one allowed type.

What Paddock already asked for needs no separate term: admitted replicas waiting for a launch are
re-placed onto these potential nodes first each cycle (committed work before the queue), so
their cores are taken before any new admission sees the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from .instance_types import KUBELET_RESERVED_CORES, InstanceType
from .nodepool import (
    NodeClaimFacts,
    NodePoolFacts,
    Taint,
    allowed_instance_types,
    node_labels,
    whole_cores,
)

UNLIMITED_CORES = 1024
"""Headroom assumed for a NodePool without limits.cpu and a CorePool without maxCores: Paddock
never plans an unbounded launch."""
MAX_POTENTIAL_NODES = 256
MEMORY_USABLE = 0.9
"""Share of an instance's memory a pod may request (kubelet, eviction threshold, OS)."""


@dataclass(frozen=True, slots=True)
class PotentialNode:
    name: str
    cores: int
    memory: int
    instance_type: str
    launching: bool
    """A NodeClaim already launched (True) or headroom that could be launched (False)."""


@dataclass(frozen=True, slots=True)
class Headroom:
    """What one autoscaled CorePool could still get from its NodePool, with the numbers."""

    node_pool: str
    limit_cores: int | None = None
    used_cores: int = 0
    """Cores the NodePool counts against its limit: nodes and launched claims."""
    launching_cores: int = 0
    headroom_cores: int = 0
    """limits.cpu minus used (and within maxCores): vCPUs Karpenter may still launch."""
    nodes: tuple[PotentialNode, ...] = ()
    problem: str = ""
    """Why the NodePool offers nothing ("" when it offers, or simply has no room left)."""
    allowed_types: tuple[str, ...] = field(default=())

    @property
    def potential_cores(self) -> int:
        """Whole cores of the potential nodes (what replicas may still be admitted against)."""
        return sum(n.cores for n in self.nodes)

    @property
    def largest_potential(self) -> int:
        return max((n.cores for n in self.nodes), default=0)

    def describe(self) -> str:
        """One line for status and messages: limit, usage, headroom."""
        limit = (
            f"limits.cpu {self.limit_cores}" if self.limit_cores is not None else "no limits.cpu"
        )
        text = (
            f"NodePool {self.node_pool}: {limit}, {self.used_cores} cores in use or launching, "
            f"headroom {self.headroom_cores} cores"
        )
        return text + (f" ({self.problem})" if self.problem else "")


def headroom(
    *,
    pool_name: str,
    node_pool_name: str,
    node_pool: NodePoolFacts | None,
    claims: Iterable[NodeClaimFacts],
    reserved_cores_per_node: int,
    max_cores: int | None,
    existing_cores: int,
    usable_nodes: Collection[str],
    tolerates: Callable[[Iterable[Taint]], bool],
    selects: Callable[[dict[str, str]], bool],
) -> Headroom:
    """Potential nodes for CorePool `pool_name` from NodePool `node_pool_name`.

    `existing_cores` is the allocatable whole cores of the pool's usable nodes (for maxCores);
    `usable_nodes` the names and providerIDs of nodes that are already schedulable (a claim whose
    node is one of them is an ordinary node, not a launch, and must not be counted twice).
    `tolerates` and `selects` apply the CorePool's tolerations and nodeSelector to what the
    NodePool's nodes will carry.
    """
    if node_pool is None:
        return Headroom(node_pool_name, problem=f"NodePool {node_pool_name} not found")
    base = Headroom(node_pool_name, limit_cores=_limit(node_pool))
    if not node_pool.ready:
        return _with(base, problem=f"NodePool is not Ready: {node_pool.message or 'no reason'}")
    if not tolerates(node_pool.taints):
        taints = ", ".join(f"{k}={v}:{e}" for k, v, e in node_pool.taints)
        return _with(base, problem=f"the CorePool's tolerations do not tolerate taints {taints}")
    allowed = allowed_instance_types(node_pool.requirements)
    if not allowed:
        return _with(base, problem="its requirements allow no arm64 Graviton instance type")
    labels = node_labels(node_pool)
    if not selects({**allowed[-1].labels(), **labels}):
        return _with(
            base, problem="the CorePool's nodeSelector does not select the nodes it launches"
        )
    own = [c for c in claims if c.node_pool == node_pool.name]
    used = max(node_pool.used_millicores, sum(_claim_vcpus(c, allowed) for c in own))
    used_cores = -(-used // 1000)
    nodes: list[PotentialNode] = []
    launching_cores = 0
    for i, claim in enumerate(own):
        if (
            claim.initialized
            or claim.deleting
            or claim.node_name in usable_nodes
            or (claim.provider_id and claim.provider_id in usable_nodes)
        ):
            continue  # an ordinary node already (Karpenter records nodeName a moment later)
        launching_cores += whole_cores(_claim_vcpus(claim, allowed))
        cores = whole_cores(claim.allocatable_millicores) - reserved_cores_per_node
        if cores > 0:
            nodes.append(
                PotentialNode(
                    f"{pool_name}/{node_pool.name}/launching-{i}",
                    cores,
                    int(claim.memory * MEMORY_USABLE),
                    "",
                    True,
                )
            )
    limit = base.limit_cores
    room = (limit if limit is not None else UNLIMITED_CORES + used_cores) - used_cores
    if max_cores is not None:
        room = min(room, max_cores - existing_cores - launching_cores)
    room = max(0, room)
    left = room
    smallest = allowed[0].vcpus
    while left >= smallest and len(nodes) < MAX_POTENTIAL_NODES:
        it = max(
            (t for t in allowed if t.vcpus <= left), key=lambda t: (t.vcpus, -t.price_per_hour)
        )
        left -= it.vcpus
        cores = it.vcpus - KUBELET_RESERVED_CORES - reserved_cores_per_node
        if cores > 0:
            nodes.append(
                PotentialNode(
                    f"{pool_name}/{node_pool.name}/launchable-{len(nodes)}",
                    cores,
                    int(it.memory_mib * 2**20 * MEMORY_USABLE),
                    it.name,
                    False,
                )
            )
    return Headroom(
        node_pool_name,
        limit_cores=limit,
        used_cores=used_cores,
        launching_cores=launching_cores,
        headroom_cores=room,
        nodes=tuple(nodes),
        allowed_types=tuple(t.name for t in allowed),
    )


def _claim_vcpus(claim: NodeClaimFacts, allowed: list[InstanceType]) -> int:
    """Millicores a claim takes from the limit. Before launch its instance type is unknown and
    it reports only its pods' requests: count at least the smallest allowed type whose usable
    cores hold them (Karpenter cannot launch less), so a burst of new claims never leaves
    headroom that is not there."""
    known = claim.vcpu_millicores
    if claim.instance_type:
        return known
    fits = [t.vcpus * 1000 for t in allowed if t.usable_cores * 1000 >= claim.cpu_millicores]
    return max(known, min(fits, default=known))


def _limit(node_pool: NodePoolFacts) -> int | None:
    if node_pool.limit_millicores is None:
        return None
    return node_pool.limit_millicores // 1000


def _with(base: Headroom, problem: str) -> Headroom:
    return Headroom(base.node_pool, limit_cores=base.limit_cores, problem=problem)
