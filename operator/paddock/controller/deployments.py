"""Render the Deployment that runs one workload's replicas in one pool.

Pure: plain data in, a Deployment manifest (dict) out, so it is unit-tested
without a cluster. Paddock owns CPU and memory requests and limits, node
affinity and tolerations; `overrides` lists every user value it replaced so
the status can say so instead of silently dropping it.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from paddock.api import AgentWorkloadSpec
from paddock.controller.labels import (
    ARCH_LABEL,
    HOSTNAME_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    POOL_LABEL,
    WORKLOAD_LABEL,
    ZONE_LABEL,
)
from paddock.controller.observed import pod_requests

SPREAD_TOPOLOGY_KEYS = {"Zone": ZONE_LABEL, "Node": HOSTNAME_LABEL}
MAX_NAME = 63


@dataclass(frozen=True)
class WorkloadRef:
    """Enough of an AgentWorkload to own and name its Deployments."""

    namespace: str
    name: str
    uid: str
    api_version: str = "paddock.dev/v1alpha1"
    kind: str = "AgentWorkload"


@dataclass(frozen=True)
class PoolPlacement:
    """What a CorePool contributes to a pod: where it may run and what it tolerates."""

    name: str
    node_selector: dict[str, Any]
    tolerations: tuple[dict[str, Any], ...] = ()


@dataclass
class RenderedDeployment:
    manifest: dict[str, Any]
    overrides: list[str] = field(default_factory=list)


def deployment_name(workload: str, pool: str) -> str:
    """`<workload>-<pool>-<hash>`: a DNS label no other (workload, pool) pair produces.

    `<workload>-<pool>` alone collides (`a-b` in pool `c` and `a` in pool `b-c`), so a hash of
    the pair, which no separator can confuse ("/" is in neither name), always follows; the
    readable part is shortened to keep the whole within 63 characters, and dots become dashes.
    """
    digest = hashlib.sha256(f"{workload}/{pool}".encode()).hexdigest()[:10]
    readable = f"{workload}-{pool}".replace(".", "-")[: MAX_NAME - len(digest) - 1].rstrip("-")
    return f"{readable}-{digest}"


def replica_shape(spec: AgentWorkloadSpec) -> tuple[int, int]:
    """Whole cores and memory bytes one replica's pod takes, as kube-scheduler counts it.

    Paddock sets the first container to coresPerReplica and memoryPerReplica; every other
    container, native sidecar and init container of the template, and the pod overhead, count
    on top (`pod_requests`). A fraction of a core rounds up: fit and budget are in whole cores,
    so a replica never needs more than was admitted for it.
    """
    template = spec.template.model_dump(by_alias=True, exclude_none=True)
    pod = dict(template.get("spec") or {})
    main, *others = pod.get("containers") or [{}]
    resources = {"cpu": str(spec.cores_per_replica), "memory": spec.memory_per_replica}
    pod["containers"] = [{**main, "resources": {"requests": resources}}, *others]
    millicores, memory = pod_requests(pod)
    return -(-millicores // 1000), memory


def render_pdb(workload: WorkloadRef, min_available: int) -> dict[str, Any]:
    """The PodDisruptionBudget that keeps `min_available` of the workload's pods (every pool)
    through voluntary disruptions: kubectl drain, node upgrades, Karpenter's consolidation."""
    labels = {WORKLOAD_LABEL: workload.name, MANAGED_BY_LABEL: MANAGED_BY}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": deployment_name(workload.name, "pdb"),
            "namespace": workload.namespace,
            "labels": labels,
            "ownerReferences": [_owner_reference(workload)],
        },
        "spec": {
            "minAvailable": min_available,
            "selector": {"matchLabels": {WORKLOAD_LABEL: workload.name}},
        },
    }


def _owner_reference(workload: WorkloadRef) -> dict[str, Any]:
    return {
        "apiVersion": workload.api_version,
        "kind": workload.kind,
        "name": workload.name,
        "uid": workload.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def check_renders(spec: AgentWorkloadSpec) -> None:
    """Render the workload once into a stand-in pool: raises what rendering it would raise, so
    a template the renderer cannot use makes the workload Invalid before anything is admitted."""
    render_deployment(
        WorkloadRef(namespace="check", name="check", uid="check"),
        spec.template.model_dump(by_alias=True, exclude_none=True),
        PoolPlacement(name="check", node_selector={}),
        0,
        spec.cores_per_replica,
        spec.memory_per_replica,
        spec.placement.spread,
    )


def node_affinity(pool: PoolPlacement) -> dict[str, Any]:
    """The pool's label selector as required node affinity, always with arch=arm64."""
    expressions: list[dict[str, Any]] = [{"key": ARCH_LABEL, "operator": "In", "values": ["arm64"]}]
    for key, value in sorted((pool.node_selector.get("matchLabels") or {}).items()):
        expressions.append({"key": key, "operator": "In", "values": [value]})
    for expression in pool.node_selector.get("matchExpressions") or []:
        term = {"key": expression["key"], "operator": expression["operator"]}
        if expression.get("values"):
            term["values"] = list(expression["values"])
        expressions.append(term)
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": expressions}]
        }
    }


def render_deployment(
    workload: WorkloadRef,
    template: dict[str, Any],
    pool: PoolPlacement,
    replicas: int,
    cores: int,
    memory: str,
    spread: str = "None",
    name: str | None = None,
) -> RenderedDeployment:
    """The Deployment for `replicas` replicas of `workload` in `pool`.

    The first container gets the replica's whole cores and memory as
    `requests == limits` (Guaranteed QoS, so the static CPU manager can pin
    exclusive cores) and PADDOCK_CORES / OMP_NUM_THREADS in its environment.
    `name` keeps the name of a Deployment the workload already owns (see `deployment_name`).
    """
    overrides: list[str] = []
    pod_template = copy.deepcopy(template)
    metadata = pod_template.setdefault("metadata", {})
    spec = pod_template.setdefault("spec", {})
    selector_labels = {WORKLOAD_LABEL: workload.name, POOL_LABEL: pool.name}
    metadata["labels"] = {**(metadata.get("labels") or {}), **selector_labels}

    containers = spec.get("containers") or []
    if not containers:
        raise ValueError("spec.template.spec.containers is empty: add at least one container")
    main = containers[0]
    resources = {"cpu": str(cores), "memory": memory}
    if main.get("resources"):
        overrides.append(
            f"spec.template.spec.containers[0].resources (Paddock sets cpu={cores}, "
            f"memory={memory} from coresPerReplica and memoryPerReplica)"
        )
    main["resources"] = {"requests": dict(resources), "limits": dict(resources)}
    env = [
        e
        for e in main.get("env") or []
        if e.get("name") not in ("PADDOCK_CORES", "OMP_NUM_THREADS")
    ]
    if len(env) != len(main.get("env") or []):
        overrides.append("spec.template.spec.containers[0].env PADDOCK_CORES/OMP_NUM_THREADS")
    env += [
        {"name": "PADDOCK_CORES", "value": str(cores)},
        {"name": "OMP_NUM_THREADS", "value": str(cores)},
    ]
    main["env"] = env

    for owned in ("affinity", "nodeSelector", "tolerations", "nodeName"):
        if spec.get(owned):
            overrides.append(f"spec.template.spec.{owned} (Paddock places pods by CorePool)")
            spec.pop(owned)
    spec["affinity"] = {"nodeAffinity": node_affinity(pool)}
    if pool.tolerations:
        spec["tolerations"] = [dict(t) for t in pool.tolerations]
    topology_key = SPREAD_TOPOLOGY_KEYS.get(spread)
    if topology_key:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": topology_key,
                # Soft: the planner already checked capacity; a hard constraint
                # would count full nodes as domains and strand pods as Pending.
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": dict(selector_labels)},
            }
        ]
    elif spec.get("topologySpreadConstraints"):
        overrides.append("spec.template.spec.topologySpreadConstraints (set placement.spread)")
        spec.pop("topologySpreadConstraints")

    labels = {**selector_labels, MANAGED_BY_LABEL: MANAGED_BY}
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name or deployment_name(workload.name, pool.name),
            "namespace": workload.namespace,
            "labels": labels,
            "ownerReferences": [_owner_reference(workload)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(selector_labels)},
            "template": pod_template,
        },
    }
    return RenderedDeployment(manifest=manifest, overrides=overrides)
