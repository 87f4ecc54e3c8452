"""Who scales a workload and how far its budget lets it go: the SCALING part of `explain`.

`spec.replicas` is written by people (`kubectl scale`, `kubectl apply`) and by autoscalers
(HorizontalPodAutoscaler, KEDA) through the /scale subresource. The API server records who in
`metadata.managedFields`; this module reads the manager that owns `spec.replicas`, the
HorizontalPodAutoscalers that target the workload, and how many replicas the budget would admit
now, so "why does it not scale to 40" has an answer with names and numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock import API_VERSION

from .view import BudgetMath


@dataclass(frozen=True)
class ReplicasOwner:
    """The field manager that last set `spec.replicas`."""

    manager: str
    operation: str
    """Update or Apply."""
    subresource: str
    """"scale" when written through /scale, "" for the object itself."""
    time: str


@dataclass(frozen=True)
class Autoscaler:
    """A HorizontalPodAutoscaler whose scaleTargetRef is the workload."""

    name: str
    min_replicas: int
    max_replicas: int
    desired_replicas: int | None
    able_to_scale: str
    """The AbleToScale condition: `True (SucceededGetScale)`, or why not; "" when not set yet."""
    scaling_active: str = ""
    """The ScalingActive condition, e.g. `False (FailedGetResourceMetric)` without metrics."""


@dataclass(frozen=True)
class Scaling:
    replicas: int
    owner: ReplicasOwner | None
    autoscalers: tuple[Autoscaler, ...]
    budget_allows: int | None
    """Replicas the budget would hold now: those admitted plus as many more as its free cores
    (own and borrowable) take. None when the workload has no budget."""


def _owns_replicas(fields: Any) -> bool:
    spec = fields.get("f:spec") if isinstance(fields, Mapping) else None
    return isinstance(spec, Mapping) and "f:replicas" in spec


def replicas_owner(managed_fields: Iterable[Mapping[str, Any]]) -> ReplicasOwner | None:
    """The manager of `spec.replicas`, from an object's managedFields: the latest entry that
    owns it (after an Update only the writer owns a changed field; with server-side apply
    several appliers may share it, and the latest is the one that last acted)."""
    owners = [entry for entry in managed_fields if _owns_replicas(entry.get("fieldsV1"))]
    if not owners:
        return None
    latest = max(owners, key=lambda entry: str(entry.get("time") or ""))
    return ReplicasOwner(
        manager=str(latest.get("manager") or "?"),
        operation=str(latest.get("operation") or ""),
        subresource=str(latest.get("subresource") or ""),
        time=str(latest.get("time") or ""),
    )


def budget_allows(math: BudgetMath | None, cores_per_replica: int, admitted: int) -> int | None:
    """Replicas the budget lets this workload hold now (what it holds plus what fits the
    budget's available cores); pools may allow fewer (see the POOLS table)."""
    if math is None or cores_per_replica <= 0:
        return None
    return admitted + max(0, math.available) // cores_per_replica


def autoscalers(hpas: Iterable[Mapping[str, Any]], name: str) -> tuple[Autoscaler, ...]:
    """The autoscaling/v2 HorizontalPodAutoscalers (as the API returns them) that target the
    AgentWorkload `name` of their namespace."""
    out = []
    group = API_VERSION.split("/", 1)[0]
    for hpa in hpas:
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "AgentWorkload" or ref.get("name") != name:
            continue
        if str(ref.get("apiVersion") or "").split("/", 1)[0] != group:
            continue
        status = hpa.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        out.append(
            Autoscaler(
                name=str((hpa.get("metadata") or {}).get("name") or ""),
                min_replicas=int(spec.get("minReplicas") or 1),
                max_replicas=int(spec.get("maxReplicas") or 0),
                desired_replicas=status.get("desiredReplicas"),
                able_to_scale=_condition(conditions.get("AbleToScale")),
                scaling_active=_condition(conditions.get("ScalingActive")),
            )
        )
    return tuple(sorted(out, key=lambda a: a.name))


def _condition(found: Mapping[str, Any] | None) -> str:
    return f"{found.get('status')} ({found.get('reason')})" if found else ""


def read_scaling(
    api: client.ApiClient,
    namespace: str,
    name: str,
    budget: BudgetMath | None,
    cores_per_replica: int,
    admitted: int,
) -> Scaling | None:
    """Best effort: a user who may not read the object or HPAs still gets the explanation.
    `cores_per_replica` and `admitted` are the planner's (a replica's effective whole cores)."""
    custom = client.CustomObjectsApi(api)
    group, version = API_VERSION.split("/", 1)
    try:
        body: Any = custom.get_namespaced_custom_object(
            group, version, namespace, "agentworkloads", name
        )
    except ApiException:
        return None
    try:
        listed: Any = client.AutoscalingV2Api(api).list_namespaced_horizontal_pod_autoscaler(
            namespace, _preload_content=False
        )
        hpas = json.loads(listed.data).get("items") or []
    except ApiException:
        hpas = []
    return Scaling(
        replicas=int((body.get("spec") or {}).get("replicas") or 0),
        owner=replicas_owner((body.get("metadata") or {}).get("managedFields") or ()),
        autoscalers=autoscalers(hpas, name),
        budget_allows=budget_allows(budget, cores_per_replica, admitted),
    )
