"""What Paddock keeps of each object it watches: small tuples, never whole bodies.

Each function here turns one API object into a compact value: the operator's
list-watches (runtime.py, listwatch.py) use them for Paddock's objects, nodes,
pods and Deployments, and the kubectl plugin for a one-off list. So 50,000 pods
cost little memory and a scheduling cycle reads plain tuples.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from paddock.api.common import parse_cpu_millicores, parse_memory_bytes
from paddock.controller.labels import POOL_LABEL, WORKLOAD_LABEL


class NodeFacts(NamedTuple):
    labels: Mapping[str, str]
    allocatable_millicores: int
    allocatable_memory: int
    schedulable: bool
    """Ready, not cordoned and without a NoExecute taint from the node lifecycle controller."""
    taints: tuple[tuple[str, str, str], ...] = ()
    """(key, value, effect) of every other NoSchedule or NoExecute taint: a pool's pods land
    on the node only if the pool's tolerations tolerate all of them."""
    provider_id: str = ""
    """spec.providerID: matches a Karpenter NodeClaim's status.providerID."""


class AgentPod(NamedTuple):
    """One of Paddock's own pods: where it runs and whether it serves."""

    node: str
    pool: str | None
    ready: bool
    terminating: bool
    cpu_millicores: int
    """The first container's CPU request (the one Paddock sets): a pod of an older shape
    (coresPerReplica changed) is being replaced and holds no admission."""
    replica_set: str = ""
    """The ReplicaSet that controls the pod: its name starts with the Deployment's, so only
    pods of Deployments the workload owns count as its replicas."""
    bound: float = 0.0
    """When the pod was bound to its node (epoch seconds; its PodScheduled condition, else its
    start or creation time): from then on it holds its cores, and core-hours count them."""
    pod_millicores: int = 0
    """The whole pod's effective CPU request, every container counted: what core-hours count."""


class PodRecord(NamedTuple):
    """All Paddock keeps of one bound, non-terminal pod (of 50,000: a few hundred bytes each)."""

    node: str
    cpu_millicores: int
    memory: int
    workload: str | None
    """"namespace/workload" for Paddock's own pods, else None."""
    agent: AgentPod | None


class DeploymentFacts(NamedTuple):
    name: str
    workload: str
    pool: str
    replicas: int
    ready_replicas: int
    spec_hash: str | None
    uid: str = ""
    owner_uid: str = ""
    """The uid of the AgentWorkload its controller ownerReference names ("" if none): Paddock
    changes or deletes only Deployments the workload owns, never one that merely has its labels."""
    cores: int = 0
    """Whole cores one replica of its pod template takes (its effective CPU request, rounded up):
    what its running replicas count when the workload's own spec cannot be read."""
    pods: int = 0
    """status.replicas: the pods (not terminating) its ReplicaSets still have, as the Deployment
    controller last counted. After a scale-down it trails `replicas` until the pods go."""

    deleting: bool = False
    """It has a deletionTimestamp: deleted in the foreground, it stays listed until its
    ReplicaSets and pods are gone."""

    @property
    def occupying(self) -> int:
        """Replicas it runs or asks for, whichever is more: what it frees only once the
        cluster shows the scale-down done, pods included."""
        return max(self.replicas, self.pods)


class PdbFacts(NamedTuple):
    """A PodDisruptionBudget Paddock keeps for a workload (labelled paddock.dev/workload)."""

    name: str
    workload: str
    """"namespace/workload"."""
    min_available: int | str | None
    uid: str
    owner_uid: str


class PackedMapping(Mapping[str, Any]):
    """A JSON object kept as its compact text, decoded on each read.

    A Paddock object's spec is read once per generation (the snapshot parses it into its
    model and caches that, cluster_state.SpecCache), so keeping it decoded beside the model
    held two copies of it: at 10,000 AgentWorkloads, about 1 KiB per workload for a dict of
    five keys, against a few hundred bytes of text.
    """

    __slots__ = ("packed",)

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.packed = json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def unpacked(self) -> dict[str, Any]:
        """A fresh decoded copy."""
        decoded: dict[str, Any] = json.loads(self.packed)
        return decoded

    def __getitem__(self, key: str) -> Any:
        return self.unpacked()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.unpacked())

    def __len__(self) -> int:
        return len(self.unpacked())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedMapping):
            return self.unpacked() == other.unpacked()
        return isinstance(other, Mapping) and self.unpacked() == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PackedMapping({self.packed})"


def unpacked(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of a spec, packed or not (tests and the plugin build plain ones)."""
    return value.unpacked() if isinstance(value, PackedMapping) else dict(value)


INTERNED_LENGTH = 128
"""Strings up to this long are interned in kept statuses: most repeat across objects."""


def interned(value: Any) -> Any:
    """A JSON value with its keys and short strings interned.

    Every AgentWorkload's status has the same twenty-odd keys and mostly the same values
    (phases, reasons, "True", budget and pool names, timestamps of the same second), but
    each decoded body has its own copy of each: interned, 10,000 statuses share them.
    """
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= INTERNED_LENGTH else value
    if isinstance(value, dict):
        return {(sys.intern(k) if isinstance(k, str) else k): interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interned(v) for v in value]
    return value


class ObjectFacts(NamedTuple):
    """One Paddock custom object: its identity, spec and the status it last carried.

    The spec as the list-watch keeps it is packed (`PackedMapping`: read it with `unpacked`),
    the status decoded, with its strings interned (`interned`): the snapshot reads it every
    cycle."""

    namespace: str | None
    name: str
    uid: str
    generation: int
    created: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


NOT_READY_TAINTS = frozenset(
    {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/unschedulable",
    }
)


def node_facts(body: Mapping[str, Any]) -> NodeFacts:
    metadata, spec, status = body.get("metadata", {}), body.get("spec", {}), body.get("status", {})
    allocatable = status.get("allocatable") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    hard = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
    tainted = any(t.get("key") in NOT_READY_TAINTS for t in hard)
    schedulable = (
        conditions.get("Ready") == "True" and not spec.get("unschedulable") and not tainted
    )
    return NodeFacts(
        # Interned: thousands of nodes share a few dozen label keys and values.
        labels={sys.intern(k): sys.intern(v) for k, v in (metadata.get("labels") or {}).items()},
        allocatable_millicores=parse_cpu_millicores(allocatable.get("cpu", "0")),
        allocatable_memory=parse_memory_bytes(str(allocatable.get("memory", "0"))),
        schedulable=schedulable,
        taints=tuple(
            (sys.intern(t.get("key", "")), sys.intern(t.get("value", "")), t["effect"])
            for t in hard
            if t.get("key") not in NOT_READY_TAINTS
        ),
        provider_id=str(spec.get("providerID") or ""),
    )


def container_requests(container: Mapping[str, Any]) -> tuple[int, int]:
    """CPU (millicores) and memory (bytes) one container requests; limits stand in for missing
    requests, as the API server defaults them."""
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    wanted = {**limits, **(resources.get("requests") or {})}
    return (
        parse_cpu_millicores(wanted.get("cpu", "0")),
        parse_memory_bytes(str(wanted.get("memory", "0"))),
    )


def pod_requests(spec: Mapping[str, Any]) -> tuple[int, int]:
    """CPU (millicores) and memory (bytes) requests of a pod, as kube-scheduler counts them.

    The sum over containers plus native sidecars (init containers with restartPolicy Always),
    or, if larger, what any other init container needs while the sidecars started before it
    run; plus the pod overhead.
    """
    cpu = memory = 0
    for container in spec.get("containers") or []:
        c, m = container_requests(container)
        cpu, memory = cpu + c, memory + m
    sidecar_cpu = sidecar_memory = init_cpu = init_memory = 0
    for container in spec.get("initContainers") or []:
        c, m = container_requests(container)
        if container.get("restartPolicy") == "Always":
            sidecar_cpu, sidecar_memory = sidecar_cpu + c, sidecar_memory + m
            init_cpu, init_memory = max(init_cpu, sidecar_cpu), max(init_memory, sidecar_memory)
        else:
            init_cpu = max(init_cpu, sidecar_cpu + c)
            init_memory = max(init_memory, sidecar_memory + m)
    cpu, memory = max(cpu + sidecar_cpu, init_cpu), max(memory + sidecar_memory, init_memory)
    overhead = spec.get("overhead") or {}
    cpu += parse_cpu_millicores(overhead.get("cpu", "0"))
    memory += parse_memory_bytes(str(overhead.get("memory", "0")))
    return cpu, memory


def is_terminal(body: Mapping[str, Any]) -> bool:
    """Succeeded and Failed pods hold no resources."""
    return (body.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def main_container_cpu(spec: Mapping[str, Any]) -> int:
    containers = spec.get("containers") or [{}]
    requests = (containers[0].get("resources") or {}).get("requests") or {}
    return parse_cpu_millicores(requests.get("cpu", "0"))


def _epoch(value: Any) -> float:
    """An RFC 3339 timestamp as epoch seconds (0.0 when missing or unreadable)."""
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def bound_at(body: Mapping[str, Any]) -> float:
    """When the pod was bound to its node: its PodScheduled condition's transition, else its
    start time, else its creation time (epoch seconds, 0.0 when none is known)."""
    status = body.get("status") or {}
    for item in status.get("conditions") or ():
        if item.get("type") == "PodScheduled" and item.get("status") == "True":
            found = _epoch(item.get("lastTransitionTime"))
            if found:
                return found
    return _epoch(status.get("startTime")) or _epoch(
        (body.get("metadata") or {}).get("creationTimestamp")
    )


def agent_pod(body: Mapping[str, Any], pod_millicores: int = 0) -> AgentPod:
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    owner = next(
        (
            o.get("name", "")
            for o in metadata.get("ownerReferences") or []
            if o.get("controller") and o.get("kind") == "ReplicaSet"
        ),
        "",
    )
    return AgentPod(
        node=(body.get("spec") or {}).get("nodeName") or "",
        pool=interned((metadata.get("labels") or {}).get(POOL_LABEL)),
        ready=conditions.get("Ready") == "True",
        terminating=metadata.get("deletionTimestamp") is not None,
        cpu_millicores=main_container_cpu(body.get("spec") or {}),
        replica_set=sys.intern(owner),
        bound=bound_at(body),
        pod_millicores=pod_millicores,
    )


def pod_record(body: Mapping[str, Any]) -> PodRecord | None:
    """What a pod takes from its node, or None when it takes nothing (unbound or finished)."""
    spec = body.get("spec") or {}
    node = spec.get("nodeName")
    if not node or is_terminal(body):
        return None
    metadata = body.get("metadata") or {}
    workload = (metadata.get("labels") or {}).get(WORKLOAD_LABEL)
    key = workload_key(metadata, workload) if workload else None
    cpu, memory = pod_requests(spec)
    return PodRecord(
        node=sys.intern(node),
        cpu_millicores=cpu,
        memory=memory,
        workload=key,
        agent=agent_pod(body, cpu) if key else None,
    )


def deployment_facts(body: Mapping[str, Any]) -> DeploymentFacts | None:
    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    workload, pool = labels.get(WORKLOAD_LABEL), labels.get(POOL_LABEL)
    if not workload or not pool:
        return None
    status = body.get("status") or {}
    spec = body.get("spec") or {}
    owner = controller_uid(metadata, "AgentWorkload")
    cpu, _ = pod_requests((spec.get("template") or {}).get("spec") or {})
    return DeploymentFacts(
        name=metadata["name"],
        workload=workload_key(metadata, workload),
        pool=sys.intern(pool),
        replicas=int(spec.get("replicas", 1)),
        ready_replicas=int(status.get("readyReplicas") or 0),
        spec_hash=(metadata.get("annotations") or {}).get(SPEC_HASH_ANNOTATION),
        uid=metadata.get("uid", ""),
        owner_uid=sys.intern(owner),
        cores=-(-cpu // 1000),
        pods=int(status.get("replicas") or 0),
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def controller_uid(metadata: Mapping[str, Any], kind: str) -> str:
    """The uid its controller ownerReference names when that is of `kind`, else ""."""
    return next(
        (
            str(o.get("uid", ""))
            for o in metadata.get("ownerReferences") or []
            if o.get("controller") and o.get("kind") == kind
        ),
        "",
    )


def pdb_facts(body: Mapping[str, Any]) -> PdbFacts | None:
    metadata = body.get("metadata") or {}
    workload = (metadata.get("labels") or {}).get(WORKLOAD_LABEL)
    if not workload:
        return None
    return PdbFacts(
        name=metadata["name"],
        workload=workload_key(metadata, workload),
        min_available=(body.get("spec") or {}).get("minAvailable"),
        uid=metadata.get("uid", ""),
        owner_uid=sys.intern(controller_uid(metadata, "AgentWorkload")),
    )


def object_facts(body: Mapping[str, Any]) -> ObjectFacts:
    metadata = body.get("metadata") or {}
    namespace = metadata.get("namespace")
    return ObjectFacts(
        namespace=sys.intern(namespace) if isinstance(namespace, str) else namespace,
        name=metadata["name"],
        uid=sys.intern(str(metadata.get("uid", ""))),
        generation=int(metadata.get("generation") or 0),
        created=sys.intern(str(metadata.get("creationTimestamp") or "")),
        spec=PackedMapping(body.get("spec") or {}),
        status=interned(dict(body.get("status") or {})),
    )


def object_key(body: Mapping[str, Any]) -> str:
    """How Paddock names an object: "namespace/name", or the name of a cluster-scoped one."""
    metadata = body.get("metadata") or {}
    namespace = metadata.get("namespace")
    return sys.intern(f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"]))


def workload_key(metadata: Mapping[str, Any], workload: str) -> str:
    """The "namespace/workload" of an object labelled with its workload, interned: the same
    string as the AgentWorkload's key (`object_key`) and every other object's of that workload,
    held once whatever the number of stores and records that name it (issue #15: memory per
    workload). Interned strings go when nothing holds them any more."""
    return sys.intern(f"{metadata.get('namespace')}/{workload}")


SPEC_HASH_ANNOTATION = "paddock.dev/spec-hash"
"""On Deployments: a hash of what Paddock rendered, so an unchanged plan writes nothing."""

Trigger = Callable[[str], None]
