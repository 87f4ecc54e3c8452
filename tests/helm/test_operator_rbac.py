"""The chart's RBAC, proven by the real operator rather than assumed.

The chart is installed with replicaCount 0 (its ServiceAccount, ClusterRole, Role
and bindings are what matter; a pod on a kwok node would run nothing). The real
`paddock run` then runs here as a subprocess whose kubeconfig holds only a
TokenRequest token of the chart's ServiceAccount, no admin certificate, and it
must take a workload from Queued to Running: watch everything, take the Lease in
the release namespace, apply the Deployment, write the three kinds of status and
post Events, without one Forbidden.

Isolation on the shared control plane: the test brings its own kwok Graviton
nodes (a unique karpenter.sh/nodepool label), its own CorePool over exactly those
nodes, its own CoreBudget selecting its own namespace, and cleans all of it up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helm.chart import INSTALL_VALUES, LEASE_NAME, REPO_CRDS, Helm, installable_chart
from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ARM64_TOLERATION = {
    "key": "kubernetes.io/arch",
    "operator": "Equal",
    "value": "arm64",
    "effect": "NoSchedule",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _paddock_command() -> list[str]:
    """The console script users run (`paddock`), from this test's virtualenv."""
    script = Path(sys.executable).parent / "paddock"
    return [str(script)] if script.exists() else [sys.executable, "-m", "paddock.cli"]


@dataclass
class Operator:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    health_port: int
    metrics_port: int

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def get(self, port: int, path: str) -> tuple[int, str]:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"paddock run exited with {self.process.returncode}; stderr tail:\n{self.tail()}"
            )
        url = f"http://127.0.0.1:{port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def ready(self) -> bool:
        return self.get(self.health_port, "/readyz")[0] == 200

    def metrics(self) -> dict[str, float]:
        """Every sample as 'name{label="value",...}' -> value."""
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(self.get(self.metrics_port, "/metrics")[1]):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Ground:
    tag: str
    release: str
    release_namespace: str
    workload_namespace: str
    nodepool: str
    nodes: list[str]
    token_cluster: Cluster


@pytest.fixture
def ground(
    cluster: Cluster, helm: Helm, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ground]:
    tag = uuid.uuid4().hex[:5]
    release, release_ns = f"paddock-{tag}", f"t-helm-rbac-{tag}"
    workload_ns, nodepool = f"t-helm-rbac-work-{tag}", f"helm-rbac-{tag}"
    nodes: list[str] = []
    try:
        cluster.kubectl("create", "namespace", release_ns)
        helm.run(
            "install", release, str(installable_chart(cluster)),
            "--namespace", release_ns, "-f", str(INSTALL_VALUES), "--set", "replicaCount=0",
            "--wait", "--timeout", "60s",
            cluster=cluster,
        )  # fmt: skip
        # The chart installs crds/ only when absent; make sure they are the current ones.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_CRDS))
        cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=30s",
            "crd/corepools.paddock.dev", "crd/corebudgets.paddock.dev",
            "crd/agentworkloads.paddock.dev",
        )  # fmt: skip

        generated = subprocess.run(
            [sys.executable, str(REPO_ROOT / "hack" / "fake-nodes.py"), "--pool", nodepool,
             "--type", "c7g.2xlarge", "--count", "2", "--taint"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        nodes = [item["metadata"]["name"] for item in json.loads(generated.stdout)["items"]]
        cluster.kubectl("apply", "-f", "-", input=generated.stdout)
        wait_for(
            lambda: all(
                any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in cluster.get_json("node", n)["status"].get("conditions", [])
                )
                for n in nodes
            ),
            timeout=60,
            what=f"nodes {nodes} Ready",
        )
        cluster.kubectl("create", "namespace", workload_ns)
        cluster.kubectl("label", "namespace", workload_ns, f"paddock.dev/team={nodepool}")

        token = cluster.kubectl(
            "create", "token", release, "-n", release_ns, "--duration=1h"
        ).stdout.strip()
        token_cluster = cluster.token_kubeconfig(token, tmp_path / "serviceaccount.kubeconfig")
        yield Ground(tag, release, release_ns, workload_ns, nodepool, nodes, token_cluster)
    finally:
        cluster.kubectl(
            "delete", "agentworkloads.paddock.dev", "--all", "-n", workload_ns,
            "--ignore-not-found", "--timeout=60s", check=False,
        )  # fmt: skip
        cluster.kubectl(
            "delete", "corebudgets.paddock.dev,corepools.paddock.dev", nodepool,
            "--ignore-not-found", check=False,
        )  # fmt: skip
        for namespace in (workload_ns, release_ns):
            cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        if nodes:
            cluster.kubectl("delete", "node", *nodes, "--wait=false", check=False)
        helm.run("uninstall", release, "--namespace", release_ns, cluster=cluster, check=False)


@pytest.fixture
def operator(ground: Ground, tmp_path: Path) -> Iterator[Operator]:
    stderr_path = tmp_path / "operator.stderr"
    health_port, metrics_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KUBERNETES_SERVICE_")  # never in-cluster config here
    }
    env.update(
        KUBECONFIG=str(ground.token_cluster.kubeconfig),
        PADDOCK_NAMESPACE=ground.release_namespace,
        PADDOCK_LOG_LEVEL="INFO",
    )
    with stderr_path.open("wb") as stderr, (tmp_path / "operator.stdout").open("wb") as stdout:
        process = subprocess.Popen(
            [*_paddock_command(), "run",
             "--health-port", str(health_port), "--metrics-port", str(metrics_port)],
            env=env, stdout=stdout, stderr=stderr, cwd=tmp_path,
        )  # fmt: skip
    running = Operator(process, stderr_path, health_port, metrics_port)
    try:
        yield running
    finally:
        running.stop()


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
