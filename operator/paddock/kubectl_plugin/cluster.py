"""Reading the cluster (list calls only) into the operator's own indexes and snapshot.

Each object goes through the same function the operator uses (`observed.*`), kept the same way:
Paddock's objects, Deployments and namespaces keyed as `controller/handlers.py` keys its kopf
indexes, nodes and pods in the operator's `NodesAndPods`; `SnapshotBuilder` turns them into the
planner's Snapshot. So the plugin plans exactly what the operator plans.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from paddock import GROUP, VERSION
from paddock.autoscaling.nodepool import (
    KARPENTER_GROUP,
    KARPENTER_VERSION,
    node_claim_facts,
    node_pool_facts,
)
from paddock.controller import observed
from paddock.controller.cluster_state import ClusterState, SnapshotBuilder
from paddock.controller.labels import WORKLOAD_LABEL

from .explain import EventLine

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

PAGE = 1000
"""Objects per list page: big clusters are read in pages, never in one huge response."""


class PluginError(Exception):
    """A failure to report to the user in one line (exit code 1)."""


@dataclass(frozen=True)
class Connection:
    api: client.ApiClient
    namespace: str
    """The current context's namespace (default: "default")."""


def connect(kubeconfig: str | None, context: str | None) -> Connection:
    """A client for the kubeconfig (KUBECONFIG or ~/.kube/config unless given) and context;
    inside a pod without a kubeconfig, the pod's ServiceAccount."""
    try:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context
        )
    except (config.ConfigException, FileNotFoundError) as error:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            namespace = "default"
            with contextlib.suppress(OSError):
                namespace = Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or namespace
            return Connection(api=client.ApiClient(), namespace=namespace)
        raise PluginError(f"cannot load kubeconfig: {error}") from None
    namespace = "default"
    try:
        contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
        chosen = next((c for c in contexts if c.get("name") == context), None) or active
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
    except (config.ConfigException, FileNotFoundError):
        pass
    return Connection(api=api, namespace=namespace)


def _pages(call: Callable[..., Any], what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a list call, page by page, as plain JSON dicts."""
    token: str | None = None
    while True:
        try:
            response = call(limit=PAGE, _continue=token, _preload_content=False, **kwargs)
        except ApiException as error:
            raise PluginError(_describe(error, what)) from None
        except OSError as error:  # connection refused, DNS, TLS
            raise PluginError(f"cannot reach the API server to list {what}: {error}") from None
        body = json.loads(response.data)
        yield from body.get("items") or []
        token = (body.get("metadata") or {}).get("continue") or None
        if not token:
            return


def _describe(error: ApiException, what: str) -> str:
    if error.status == 403:
        return (
            f"not allowed to list {what} (403): kubectl paddock reads nodes, pods, deployments, "
            "namespaces and the paddock.dev objects cluster-wide"
        )
    if error.status == 404 and "paddock" in what:
        return f"{what} not found (404): are the Paddock CRDs installed? (see docs/install.md)"
    return f"listing {what} failed: {error.status} {error.reason}"


def read_cluster(api: client.ApiClient) -> ClusterState:
    """List everything the operator indexes and build its ClusterState."""
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    custom = client.CustomObjectsApi(api)
    return state_from_objects(
        nodes=_pages(core.list_node, "nodes"),
        pods=_pages(
            core.list_pod_for_all_namespaces,
            "pods",
            field_selector="status.phase!=Succeeded,status.phase!=Failed",
        ),
        deployments=_pages(
            apps.list_deployment_for_all_namespaces, "deployments", label_selector=WORKLOAD_LABEL
        ),
        namespaces=_pages(core.list_namespace, "namespaces"),
        pools=_pages(
            partial(custom.list_cluster_custom_object, GROUP, VERSION, "corepools"),
            f"corepools.{GROUP}",
        ),
        budgets=_pages(
            partial(custom.list_cluster_custom_object, GROUP, VERSION, "corebudgets"),
            f"corebudgets.{GROUP}",
        ),
        workloads=_pages(
            partial(custom.list_cluster_custom_object, GROUP, VERSION, "agentworkloads"),
            f"agentworkloads.{GROUP}",
        ),
        node_pools=_karpenter(custom, "nodepools"),
        node_claims=_karpenter(custom, "nodeclaims"),
    )


def _karpenter(custom: client.CustomObjectsApi, plural: str) -> list[dict[str, Any]]:
    """Karpenter's NodePools or NodeClaims, or nothing where Karpenter's API is not served."""
    call = partial(custom.list_cluster_custom_object, KARPENTER_GROUP, KARPENTER_VERSION, plural)
    try:
        return list(_pages(call, f"{plural}.{KARPENTER_GROUP}"))
    except Exception:  # no Karpenter, or not allowed to read it: autoscaled pools say so
        return []


def state_from_objects(
    *,
    nodes: Iterable[Mapping[str, Any]] = (),
    pods: Iterable[Mapping[str, Any]] = (),
    deployments: Iterable[Mapping[str, Any]] = (),
    namespaces: Iterable[Mapping[str, Any]] = (),
    pools: Iterable[Mapping[str, Any]] = (),
    budgets: Iterable[Mapping[str, Any]] = (),
    workloads: Iterable[Mapping[str, Any]] = (),
    node_pools: Iterable[Mapping[str, Any]] = (),
    node_claims: Iterable[Mapping[str, Any]] = (),
) -> ClusterState:
    """Objects (as the API returns them) -> what the operator keeps -> its ClusterState.

    The same functions and keys as the operator's list-watches (`controller/runtime.py`):
    Paddock's objects by `object_key`, nodes by name, pods and Deployments by uid; namespace
    labels as kopf's namespace index keeps them.
    """
    builder = SnapshotBuilder()
    builder.nodes_and_pods.nodes.replace(
        {b["metadata"]["name"]: observed.node_facts(b) for b in nodes}
    )
    for body in pods:
        builder.nodes_and_pods.put_pod(_uid(body), observed.pod_record(body))
    for body in deployments:
        builder.deployments.put(_uid(body), observed.deployment_facts(body))
    builder.namespaces = {
        b["metadata"]["name"]: [dict(b["metadata"].get("labels") or {})] for b in namespaces
    }
    for kept, bodies in (
        (builder.pools, pools),
        (builder.budgets, budgets),
        (builder.workloads, workloads),
    ):
        for body in bodies:
            kept[observed.object_key(body)] = observed.object_facts(body)
    for body in node_pools:
        builder.node_pools[body["metadata"]["name"]] = node_pool_facts(body)
    for body in node_claims:
        builder.node_claims[body["metadata"]["name"]] = node_claim_facts(body)
    return builder.build()


def _uid(body: Mapping[str, Any]) -> str:
    """The key the list-watches use; hand-written test objects may have no uid."""
    metadata = body.get("metadata") or {}
    return str(metadata.get("uid") or f"{metadata.get('namespace')}/{metadata.get('name')}")


def read_events(
    api: client.ApiClient, namespace: str, name: str, limit: int = 8
) -> list[EventLine]:
    """The workload's most recent Events (what the operator posted), oldest first. Best effort:
    a user who may not read Events still gets the explanation."""
    core = client.CoreV1Api(api)
    selector = f"involvedObject.kind=AgentWorkload,involvedObject.name={name}"
    try:
        items = list(
            _pages(
                core.list_namespaced_event, "events", namespace=namespace, field_selector=selector
            )
        )
    except PluginError:
        return []

    def when(item: Mapping[str, Any]) -> str:
        return str(
            item.get("lastTimestamp")
            or item.get("eventTime")
            or (item.get("metadata") or {}).get("creationTimestamp")
            or ""
        )

    items.sort(key=when)
    return [
        EventLine(
            time=when(item),
            type=str(item.get("type") or ""),
            reason=str(item.get("reason") or ""),
            message=str(item.get("message") or ""),
            count=int(item.get("count") or 1),
        )
        for item in items[-limit:]
    ]


def workload_names(state: ClusterState, namespace: str) -> list[str]:
    return sorted(
        p.facts.name for key, p in state.workloads.items() if p.facts.namespace == namespace
    )
