"""Proof that the local control plane is a real Kubernetes: each test needs a
different piece (scheduler + kwok, controller-manager's garbage collector,
RBAC and the token issuer, the API server's validation) and fails without it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

ARM64_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: arm-proof}
spec:
  replicas: 3
  selector: {matchLabels: {app: arm-proof}}
  template:
    metadata: {labels: {app: arm-proof}}
    spec:
      nodeSelector: {kubernetes.io/arch: arm64}
      tolerations:
      - {key: kubernetes.io/arch, operator: Equal, value: arm64, effect: NoSchedule}
      containers:
      - name: agent
        image: registry.example/agent:1
        resources:
          requests: {cpu: "2", memory: 1Gi}
          limits: {cpu: "2", memory: 1Gi}
"""


def pods(cluster: Cluster, namespace: str, selector: str) -> list[dict]:
    return cluster.get_json("pods", "-n", namespace, "-l", selector)["items"]


def test_fake_graviton_pools_exist(cluster: Cluster) -> None:
    nodes = cluster.get_json("nodes", "-l", "type=kwok")["items"]
    arm = [n for n in nodes if n["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"]
    pools = {n["metadata"]["labels"]["karpenter.sh/nodepool"] for n in arm}
    zones = {n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in arm}
    assert len(arm) >= 30
    assert {"graviton2", "graviton3", "graviton4"} <= pools
    assert len(zones) == 3
    assert len(nodes) > len(arm), "a few amd64 nodes must exist so arm64-only placement is tested"


def test_arm64_deployment_runs_on_arm64_nodes(cluster: Cluster, namespace: str) -> None:
    cluster.apply(ARM64_DEPLOYMENT, namespace)

    def all_running() -> list[dict] | None:
        found = pods(cluster, namespace, "app=arm-proof")
        running = [p for p in found if p["status"].get("phase") == "Running"]
        return running if len(running) == 3 else None

    running = wait_for(all_running, timeout=60, what="3 arm-proof pods Running")
    for pod in running:
        node = cluster.get_json("node", pod["spec"]["nodeName"])
        assert node["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"


def test_deleting_owner_garbage_collects_pods(cluster: Cluster, namespace: str) -> None:
    cluster.apply(ARM64_DEPLOYMENT, namespace)
    wait_for(lambda: len(pods(cluster, namespace, "app=arm-proof")) == 3, timeout=60, what="pods")
    cluster.kubectl("delete", "deployment", "arm-proof", "-n", namespace, "--wait=false")
    wait_for(
        lambda: not pods(cluster, namespace, "app=arm-proof"),
        timeout=60,
        what="the garbage collector to delete the ReplicaSet's pods",
    )


def test_service_account_without_rbac_is_denied(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = cluster.kubectl("create", "token", "nobody", "-n", namespace).stdout.strip()
    assert token.count(".") == 2, "the token issuer must sign a JWT"
    nobody = cluster.token_kubeconfig(token, tmp_path / "nobody.kubeconfig")
    assert nobody.kubectl("auth", "whoami", "-o", "json", check=False).returncode == 0
    denied = nobody.kubectl("get", "pods", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert f"system:serviceaccount:{namespace}:nobody" in denied.stderr


def test_api_server_rejects_invalid_object(cluster: Cluster, namespace: str) -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bad"},
        "spec": {"replicas": -1, "selector": {"matchLabels": {"a": "b"}}, "template": {}},
    }
    result = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False
    )
    assert result.returncode != 0
    assert "spec.replicas" in result.stderr
    assert cluster.kubectl("get", "deployment", "bad", "-n", namespace, check=False).returncode != 0
