"""A Karpenter NodePool and its NodeClaims, reduced to the facts headroom needs.

Why facts and not objects: the operator list-watches NodePools and NodeClaims (karpenter.sh/v1)
and keeps only these small tuples, as it does for nodes and pods. Parsing is forgiving: a field
Paddock cannot read makes the NodePool offer no potential capacity (with the reason), never an
error that stops a cycle.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .instance_types import (
    ARCH_LABEL,
    CATALOGUE,
    CATEGORY_LABEL,
    CPU_LABEL,
    FAMILY_LABEL,
    GENERATION_LABEL,
    INSTANCE_TYPE_LABEL,
    KWOK,
    MANUFACTURER_LABEL,
    MEMORY_LABEL,
    NODEPOOL_LABEL,
    SIZE_LABEL,
    InstanceType,
)

KARPENTER_GROUP = "karpenter.sh"
KARPENTER_VERSION = "v1"

Requirement = tuple[str, str, tuple[str, ...]]
"""(key, operator, values) of a NodeSelectorRequirement."""
Taint = tuple[str, str, str]
"""(key, value, effect)."""


class NodePoolFacts(NamedTuple):
    name: str
    limit_millicores: int | None
    """spec.limits.cpu; None when the NodePool sets no CPU limit."""
    used_millicores: int
    """status.resources.cpu: what Karpenter counts against the limit (nodes and claims)."""
    requirements: tuple[Requirement, ...]
    taints: tuple[Taint, ...]
    """spec.template.spec.taints (NoSchedule/NoExecute): placed pods must tolerate them."""
    labels: Mapping[str, str]
    """spec.template.metadata.labels: launched nodes carry them."""
    ready: bool
    """The Ready condition, when Karpenter reports one (unknown counts as ready)."""
    message: str = ""
    """Why the NodePool is not Ready, from Karpenter."""


class NodeClaimFacts(NamedTuple):
    """A NodeClaim: a node Karpenter launched or is launching for a NodePool."""

    node_pool: str
    cpu_millicores: int
    """status.capacity.cpu once launched, else the claim's CPU request."""
    allocatable_millicores: int
    memory: int
    initialized: bool
    """Its node is registered and initialized: from then on it is an ordinary node."""
    deleting: bool
    node_name: str = ""
    """status.nodeName once its node registered."""
    instance_type: str = ""
    """node.kubernetes.io/instance-type once launched."""
    provider_id: str = ""
    """status.providerID once launched: the Node it becomes has the same spec.providerID."""

    @property
    def vcpu_millicores(self) -> int:
        """What the claim really takes from the limit: its instance type's vCPUs when Paddock
        knows the type, else its reported capacity. (Karpenter's kwok provider reports the
        pods' requests as a node's capacity, and status.resources lags launches: counting the
        instance's vCPUs keeps Paddock from planning past the limit either way.)"""
        known = CATALOGUE.get(self.instance_type)
        return max(self.cpu_millicores, known.vcpus * 1000 if known else 0)


def parse_quantity_millicores(value: Any) -> int:
    """A CPU quantity ("64", "500m", 1.5) in millicores; 0 when it cannot be read."""
    text = str(value).strip()
    try:
        if text.endswith("m"):
            return int(float(text[:-1]))
        return round(float(text) * 1000)
    except ValueError:
        return 0


_MEMORY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6}
_MEMORY_SUFFIX |= {"G": 10**9, "T": 10**12}


def parse_memory(value: Any) -> int:
    text = str(value).strip()
    for suffix, factor in _MEMORY_SUFFIX.items():
        if text.endswith(suffix):
            try:
                return int(float(text[: -len(suffix)]) * factor)
            except ValueError:
                return 0
    try:
        return int(float(text))
    except ValueError:
        return 0


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in status.get("conditions") or () if isinstance(c, Mapping)}


def node_pool_facts(body: Mapping[str, Any]) -> NodePoolFacts:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    template = spec.get("template") or {}
    template_spec = template.get("spec") or {}
    limits = spec.get("limits") or {}
    cpu_limit = limits.get("cpu")
    ready = _conditions(status).get("Ready")
    return NodePoolFacts(
        name=str(metadata.get("name", "")),
        limit_millicores=parse_quantity_millicores(cpu_limit) if cpu_limit is not None else None,
        used_millicores=parse_quantity_millicores((status.get("resources") or {}).get("cpu", 0)),
        requirements=tuple(
            (
                str(r.get("key", "")),
                str(r.get("operator", "")),
                tuple(map(str, r.get("values") or ())),
            )
            for r in template_spec.get("requirements") or ()
            if isinstance(r, Mapping)
        ),
        taints=tuple(
            (str(t.get("key", "")), str(t.get("value", "")), str(t.get("effect", "")))
            for t in template_spec.get("taints") or ()
            if isinstance(t, Mapping) and t.get("effect") in ("NoSchedule", "NoExecute")
        ),
        labels={
            str(k): str(v)
            for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()
        },
        ready=ready is None or ready.get("status") != "False",
        message=str(ready.get("message") or "") if ready is not None else "",
    )


def node_claim_facts(body: Mapping[str, Any]) -> NodeClaimFacts:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    capacity = status.get("capacity") or {}
    allocatable = status.get("allocatable") or {}
    requested = (spec.get("resources") or {}).get("requests") or {}
    cpu = parse_quantity_millicores(capacity.get("cpu", requested.get("cpu", 0)))
    initialized = _conditions(status).get("Initialized")
    return NodeClaimFacts(
        node_pool=str((metadata.get("labels") or {}).get(NODEPOOL_LABEL, "")),
        cpu_millicores=cpu,
        allocatable_millicores=(
            parse_quantity_millicores(allocatable["cpu"]) if "cpu" in allocatable else cpu
        ),
        memory=parse_memory(allocatable.get("memory", capacity.get("memory", 0))),
        initialized=initialized is not None and initialized.get("status") == "True",
        deleting=bool(metadata.get("deletionTimestamp")),
        node_name=str(status.get("nodeName") or ""),
        instance_type=str((metadata.get("labels") or {}).get(INSTANCE_TYPE_LABEL, "")),
        provider_id=str(status.get("providerID") or ""),
    )


def _type_values(it: InstanceType) -> dict[str, str]:
    """The values an instance type has for the keys NodePool requirements use."""
    values = it.labels()
    values[f"{KWOK}/instance-memory"] = str(it.memory_mib)
    return values


_NUMERIC = {CPU_LABEL, MEMORY_LABEL, GENERATION_LABEL, f"{KWOK}/instance-cpu"}
_TYPE_KEYS = {
    ARCH_LABEL,
    INSTANCE_TYPE_LABEL,
    FAMILY_LABEL,
    SIZE_LABEL,
    CPU_LABEL,
    MEMORY_LABEL,
    GENERATION_LABEL,
    CATEGORY_LABEL,
    MANUFACTURER_LABEL,
    f"{KWOK}/instance-family",
    f"{KWOK}/instance-size",
    f"{KWOK}/instance-cpu",
    f"{KWOK}/instance-memory",
}


def _satisfies(value: str | None, operator: str, values: tuple[str, ...], key: str) -> bool:
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and values and key in _NUMERIC:
        try:
            mine, bound = float(value), float(values[0])
        except ValueError:
            return False
        return mine > bound if operator == "Gt" else mine < bound
    return False


def allowed_instance_types(requirements: Iterable[Requirement]) -> list[InstanceType]:
    """The Graviton types of the catalogue a NodePool's requirements allow, smallest first.

    Only requirements on instance-type keys (arch, type, family, size, cpu, memory, generation,
    category, manufacturer) filter; others (zone, capacity type, the NodePool's own labels) say
    where, not what. A NodePool that does not restrict the architecture allows arm64.
    """
    filters = [r for r in requirements if r[0] in _TYPE_KEYS]
    out = []
    for it in CATALOGUE.values():
        values = _type_values(it)
        if all(_satisfies(values.get(key), op, vals, key) for key, op, vals in filters):
            out.append(it)
    return sorted(out, key=lambda it: (it.vcpus, it.price_per_hour, it.name))


def node_labels(pool: NodePoolFacts) -> dict[str, str]:
    """Labels every node the NodePool launches carries whatever the instance type: its template
    labels, its single-valued In requirements, and karpenter.sh/nodepool."""
    labels = dict(pool.labels)
    for key, operator, values in pool.requirements:
        if operator == "In" and len(values) == 1:
            labels[key] = values[0]
    labels[NODEPOOL_LABEL] = pool.name
    return labels


def whole_cores(millicores: int) -> int:
    return math.floor(millicores / 1000)
