"""The chart's RBAC, proven by the real operator rather than assumed.

The real `paddock run` runs under only a token of the chart's ServiceAccount
(tests/helm/sa_operator.py) and must take a workload from Queued to Running:
watch everything, take the Lease in the release namespace, apply the Deployment,
write the three kinds of status and post Events, without one Forbidden.
tests/helm/test_rbac_audit.py proves the other half: nothing granted is unused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import LEASE_NAME, Helm
from tests.helm.sa_operator import ARM64_TOLERATION, Ground, Operator, install_ground, run_operator
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def ground(cluster: Cluster, helm: Helm, tmp_path: Path) -> Iterator[Ground]:
    with install_ground(cluster, helm, tmp_path, "helm-rbac") as made:
        yield made


@pytest.fixture
def operator(ground: Ground, tmp_path: Path) -> Iterator[Operator]:
    with run_operator(ground, tmp_path) as running:
        yield running


def _manifests(ground: Ground) -> str:
    name = ground.nodepool
    pool = {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "CorePool",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": name}},
            "tolerations": [ARM64_TOLERATION],
        },
    }
    budget = {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "CoreBudget",
        "metadata": {"name": name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"paddock.dev/team": name}},
            "cores": 4,
            "pools": [name],
        },
    }
    workload = {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "AgentWorkload",
        "metadata": {"name": "agent", "namespace": ground.workload_namespace},
        "spec": {
            "budget": name,
            "replicas": 2,
            "coresPerReplica": 1,
            "memoryPerReplica": "1Gi",
            "placement": {"pools": [name]},
            "template": {
                "spec": {"containers": [{"name": "agent", "image": "example.com/agent:1.0"}]}
            },
        },
    }
    return yaml.safe_dump_all([pool, budget, workload])


def test_operator_with_the_chart_service_account_runs_a_workload(
    cluster: Cluster, ground: Ground, operator: Operator
) -> None:
    # The kubeconfig really is the ServiceAccount and nothing more.
    secrets = ground.token_cluster.kubectl(
        "get", "secrets", "-n", ground.release_namespace, check=False
    )
    assert secrets.returncode != 0 and "forbidden" in secrets.stderr.lower(), secrets
    whoami = ground.token_cluster.kubectl("auth", "whoami", "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == (
        f"system:serviceaccount:{ground.release_namespace}:{ground.release}"
    )

    wait_for(operator.ready, timeout=90, what="paddock run /readyz (watches listed)")
    cluster.apply(_manifests(ground))

    def workload_running() -> dict[str, Any] | None:
        status: dict[str, Any] = (
            cluster.get_json(
                "agentworkload.paddock.dev", "agent", "-n", ground.workload_namespace
            ).get("status")
            or {}
        )
        return status if status.get("phase") == "Running" else None

    try:
        status = wait_for(workload_running, timeout=120, what="AgentWorkload phase Running")
    except AssertionError as error:
        raise AssertionError(f"{error}\noperator stderr tail:\n{operator.tail()}") from error
    assert status is not None and status.get("admittedReplicas") == 2, status

    selector = "paddock.dev/workload=agent"
    deployments = cluster.get_json("deployments", "-n", ground.workload_namespace, "-l", selector)
    assert deployments["items"], "no Deployment labelled paddock.dev/workload=agent"
    for deployment in deployments["items"]:
        owners = deployment["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"]) for o in owners] == [("AgentWorkload", "agent")]

    def running_pods() -> list[dict[str, Any]] | None:
        pods = cluster.get_json("pods", "-n", ground.workload_namespace, "-l", selector)["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return running if len(running) == 2 else None

    pods = wait_for(running_pods, timeout=60, what="2 agent pods Running") or []
    for pod in pods:
        node = cluster.get_json("node", pod["spec"]["nodeName"])["metadata"]["labels"]
        assert node["kubernetes.io/arch"] == "arm64"
        assert node["karpenter.sh/nodepool"] == ground.nodepool

    # corepools/status and corebudgets/status were written too.
    pool_status = wait_for(
        lambda: cluster.get_json("corepool.paddock.dev", ground.nodepool).get("status"),
        timeout=30,
        what="CorePool status",
    )
    assert pool_status.get("nodes") == 2, pool_status
    budget_status = wait_for(
        lambda: (
            cluster.get_json("corebudget.paddock.dev", ground.nodepool).get("status") or {}
        ).get("usedCores"),
        timeout=30,
        what="CoreBudget status.usedCores",
    )
    assert budget_status == 2

    # This process did it: it holds the Lease in the release namespace and counted writes.
    lease = cluster.get_json("lease", LEASE_NAME, "-n", ground.release_namespace)
    assert lease["spec"]["holderIdentity"].endswith(f"-{operator.process.pid}"), lease["spec"]
    samples = operator.metrics()
    assert samples.get("paddock_leader{}") == 1, samples
    writes = sum(v for k, v in samples.items() if k.startswith("paddock_api_writes_total{"))
    assert writes >= 2, samples

    denied = _denials(operator.stderr())
    assert not denied, "\n".join(denied)


def _denials(log: str) -> list[str]:
    """Log lines that mention a Forbidden / 403 answer (the timestamp field excluded:
    "11:08:50.403" is no denial)."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
            text = json.dumps({k: v for k, v in entry.items() if k != "ts"})
        except (ValueError, AttributeError):
            text = line
        if re.search(r"forbidden|\b403\b", text, re.IGNORECASE):
            found.append(line)
    return found
