"""The real operator under the chart's ServiceAccount, on its own ground.

The chart is installed with replicaCount 0 (its ServiceAccount, ClusterRole, Role
and bindings are what matter; a pod on a kwok node would run nothing). The real
`paddock run` then runs here as a subprocess whose kubeconfig holds only a
TokenRequest token of the chart's ServiceAccount, no admin certificate, with the
chart's default `--metrics-auth kubernetes`.

Isolation on the shared control plane: each test brings its own kwok Graviton
nodes (a unique karpenter.sh/nodepool label), its own CorePool over exactly those
nodes, its own CoreBudget selecting its own namespace, and cleans all of it up.
A second ServiceAccount, `scraper`, is bound to the chart's metrics-reader
ClusterRole through the `metrics.readers` value, so tests can read /metrics.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.helm.chart import INSTALL_VALUES, REPO_CRDS, Helm, installable_chart
from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.waiting import wait_for

ARM64_TOLERATION = {
    "key": "kubernetes.io/arch",
    "operator": "Equal",
    "value": "arm64",
    "effect": "NoSchedule",
}
SCRAPER = "scraper"
"""The ServiceAccount (in the release namespace) bound to the metrics-reader ClusterRole."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def paddock_command() -> list[str]:
    """The console script users run (`paddock`), from this test's virtualenv."""
    script = Path(sys.executable).parent / "paddock"
    return [str(script)] if script.exists() else [sys.executable, "-m", "paddock.cli"]


@dataclass
class Operator:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    health_port: int
    metrics_port: int
    metrics_token: str | None = None
    """A token of a ServiceAccount allowed to read /metrics (None: send none)."""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.stderr().splitlines()[-lines:])

    def get(self, port: int, path: str, token: str | None = None) -> tuple[int, str]:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"paddock run exited with {self.process.returncode}; stderr tail:\n{self.tail()}"
            )
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # loopback only
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def ready(self) -> bool:
        return self.get(self.health_port, "/readyz")[0] == 200

    def metrics(self) -> dict[str, float]:
        """Every sample as 'name{label="value",...}' -> value, read with `metrics_token`."""
        status, text = self.get(self.metrics_port, "/metrics", self.metrics_token)
        assert status == 200, f"/metrics answered {status}: {text}"
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
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
    """The cluster seen with only the operator ServiceAccount's token."""
    scraper_token: str
    """A token of `scraper`, bound to the chart's metrics-reader ClusterRole."""

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.release_namespace}:{self.release}"


def _wait_nodes_ready(cluster: Cluster, nodes: list[str]) -> None:
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


@contextmanager
def install_ground(cluster: Cluster, helm: Helm, tmp_path: Path, prefix: str) -> Iterator[Ground]:
    """Install the chart (replicaCount 0), make nodes and a namespace; clean all up after."""
    tag = uuid.uuid4().hex[:5]
    release, release_ns = f"paddock-{tag}", f"t-{prefix}-{tag}"
    workload_ns, nodepool = f"t-{prefix}-work-{tag}", f"{prefix}-{tag}"
    readers = [{"kind": "ServiceAccount", "name": SCRAPER, "namespace": release_ns}]
    nodes: list[str] = []
    try:
        cluster.kubectl("create", "namespace", release_ns)
        cluster.kubectl("create", "serviceaccount", SCRAPER, "-n", release_ns)
        helm.run(
            "install", release, str(installable_chart(cluster)),
            "--namespace", release_ns, "-f", str(INSTALL_VALUES), "--set", "replicaCount=0",
            "--set-json", f"metrics.readers={json.dumps(readers)}",
            "--wait", "--timeout", "60s",
            cluster=cluster,
        )  # fmt: skip
        # The chart installs crds/ only when absent; make sure they are the current ones.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_CRDS))
        cluster.wait_established(
            "corepools.paddock.dev", "corebudgets.paddock.dev", "agentworkloads.paddock.dev"
        )

        generated = subprocess.run(
            [sys.executable, str(REPO_ROOT / "hack" / "fake-nodes.py"), "--pool", nodepool,
             "--type", "c7g.2xlarge", "--count", "2", "--taint"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        nodes = [item["metadata"]["name"] for item in json.loads(generated.stdout)["items"]]
        cluster.kubectl("apply", "-f", "-", input=generated.stdout)
        _wait_nodes_ready(cluster, nodes)
        cluster.kubectl("create", "namespace", workload_ns)
        cluster.kubectl("label", "namespace", workload_ns, f"paddock.dev/team={nodepool}")

        def token(account: str) -> str:
            return cluster.kubectl(
                "create", "token", account, "-n", release_ns, "--duration=1h"
            ).stdout.strip()

        token_cluster = cluster.token_kubeconfig(
            token(release), tmp_path / "serviceaccount.kubeconfig"
        )
        yield Ground(
            tag, release, release_ns, workload_ns, nodepool, nodes, token_cluster, token(SCRAPER)
        )
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


@contextmanager
def run_operator(
    ground: Ground, tmp_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Operator]:
    """`paddock run` with only the ServiceAccount's token, as the chart runs it."""
    stderr_path = tmp_path / "operator.stderr"
    health_port, metrics_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KUBERNETES_SERVICE_")  # never in-cluster config here
    }
    env.update(
        KUBECONFIG=str(ground.token_cluster.kubeconfig),
        PADDOCK_NAMESPACE=ground.release_namespace,
        PADDOCK_LOG_LEVEL="INFO",
        PADDOCK_METRICS_AUTH="kubernetes",  # the chart's default
        PADDOCK_KARPENTER="false",  # the chart's default (karpenter.enabled=false)
    )
    env.update(extra_env or {})
    with stderr_path.open("wb") as stderr, (tmp_path / "operator.stdout").open("wb") as stdout:
        process = subprocess.Popen(
            [*paddock_command(), "run",
             "--health-port", str(health_port), "--metrics-port", str(metrics_port)],
            env=env, stdout=stdout, stderr=stderr, cwd=tmp_path,
        )  # fmt: skip
    running = Operator(process, stderr_path, health_port, metrics_port, ground.scraper_token)
    try:
        yield running
    finally:
        running.stop()
