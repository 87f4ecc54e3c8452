"""Paddock installed by Helm into a kind cluster: Ready, with the chart's RBAC, serving metrics."""

from __future__ import annotations

import re

from tests.e2e.conftest import Release, real_nodes
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for


def test_cluster_is_real_kind_nodes_plus_simulated_graviton_capacity(kind_cluster: Cluster) -> None:
    nodes = real_nodes(kind_cluster)
    control_plane = "node-role.kubernetes.io/control-plane"
    roles = sorted(
        "control-plane" if control_plane in n["metadata"]["labels"] else "worker"
        for n in nodes
        if n["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
    )
    assert roles.count("control-plane") == 1 and roles.count("worker") >= 2, roles
    for n in nodes:
        info = n["status"]["nodeInfo"]
        # Go-built kubelets with the release version stamped in; containerd from Debian.
        assert info["kubeletVersion"].startswith("v1."), info
        assert info["containerRuntimeVersion"].startswith("containerd://"), info
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert ready["Ready"] == "True", (n["metadata"]["name"], ready)
    kwok = kind_cluster.get_json("deployment", "kwok-controller", "-n", "kube-system")
    assert kwok["status"].get("readyReplicas") == 1


def test_operator_ready_in_cluster_on_a_real_node(
    kind_cluster: Cluster, paddock_release: Release
) -> None:
    pod = paddock_release.operator_pod()
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions.get("Ready") == "True", conditions
    container = pod["spec"]["containers"][0]
    assert container["image"] == paddock_release.image
    # The chart's restricted security context, enforced by a real kubelet.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] and status["restartCount"] == 0, status
    node = kind_cluster.get_json("node", pod["spec"]["nodeName"])
    assert node["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node") != "fake"
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")


def test_operator_runs_with_the_charts_service_account_and_rbac(
    kind_cluster: Cluster, paddock_release: Release
) -> None:
    pod = paddock_release.operator_pod()
    account = pod["spec"]["serviceAccountName"]
    assert account == paddock_release.name
    who = f"system:serviceaccount:{paddock_release.namespace}:{account}"

    def can(verb: str, resource: str, *extra: str) -> bool:
        result = kind_cluster.kubectl(
            "auth", "can-i", verb, resource, "--as", who, *extra, check=False
        )
        return result.stdout.strip() == "yes"

    # What the operator needs ...
    assert can("watch", "nodes")
    assert can("list", "pods", "--all-namespaces")
    assert can("patch", "agentworkloads.paddock.dev", "--subresource=status", "-n", "default")
    assert can("create", "deployments.apps", "-n", "default")
    assert can("create", "leases.coordination.k8s.io", "-n", paddock_release.namespace)
    # ... and nothing a scheduler has no business doing.
    assert not can("get", "secrets", "-n", "kube-system")
    assert not can("delete", "nodes")
    assert not can("create", "clusterrolebindings")
    # Watches started with that identity: no permission errors in its log.
    logs = paddock_release.logs()
    assert "Forbidden" not in logs and " 403" not in logs, logs[-3000:]


def test_prometheus_metrics_served_from_the_operator_pod(
    kind_cluster: Cluster, paddock_release: Release
) -> None:
    def served() -> str | None:
        text = paddock_release.metrics()
        return text if "paddock_cycles_total" in text else None

    text = wait_for(served, timeout=60, what="paddock metrics from the operator pod")
    assert "# TYPE paddock_cycles_total counter" in text
    assert re.search(r"^paddock_leader 1\.0$", text, re.M), "the only replica holds the Lease"
    # The chart's metrics Service reaches the same endpoint.
    via_service = kind_cluster.kubectl(
        "get",
        "--raw",
        f"/api/v1/namespaces/{paddock_release.namespace}/services/"
        f"{paddock_release.name}-metrics:metrics/proxy/metrics",
    ).stdout
    assert "paddock_cycles_total" in via_service
