"""The bench control plane: start and stop it, install the CRDs, make kwok nodes and pods.

The bench cluster is separate from the shared development cluster (its own
state folder and ports), so a benchmark never disturbs anyone else's tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2elib.kube import GROUP_PATH, ApiError, Kube

REPO_ROOT = Path(__file__).resolve().parents[2]
ARM64_TOLERATION = {
    "key": "kubernetes.io/arch",
    "operator": "Equal",
    "value": "arm64",
    "effect": "NoSchedule",
}
NODE_CHUNK = 500


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log(message: str) -> None:
    """Progress on stderr, timestamped; stdout is kept for the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class BenchCluster:
    """A control plane started by `hack/cluster.sh` in its own folder, or a given one."""

    directory: Path
    port_base: int
    kubeconfig: Path
    managed: bool

    @classmethod
    def managed_at(cls, directory: Path, port_base: int) -> BenchCluster:
        return cls(directory, port_base, directory / "admin.kubeconfig", managed=True)

    @classmethod
    def existing(cls, kubeconfig: Path) -> BenchCluster:
        return cls(kubeconfig.parent, 0, kubeconfig, managed=False)

    def _script(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PADDOCK_CLUSTER_DIR": str(self.directory),
            "PADDOCK_PORT_BASE": str(self.port_base),
            "PADDOCK_NODES": "none",
            "PADDOCK_REGISTRY": "none",  # no image registries: the benchmark runs no image check
            # The benchmark measures Paddock, not kwok's heartbeats: at 5,000 nodes on two
            # busy cores kwok renews leases late, and nodes would flap NotReady.
            "PADDOCK_NODE_MONITOR_GRACE": "10m",
        }
        return subprocess.run(
            [str(REPO_ROOT / "hack" / "cluster.sh"), command],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )

    def up(self) -> None:
        """Start a fresh control plane (no nodes); `down` wiped the previous one's data.

        Refuses when one of its ports is taken: a control plane of someone else's
        listens there, and ours would talk to their etcd.
        """
        if not self.managed:
            return
        busy = [port for port in self.ports() if port_in_use(port)]
        if busy:
            raise SystemExit(
                f"ports {busy} are in use (another control plane?): choose another --port-base"
            )
        log(f"starting the bench control plane in {self.directory} (ports {self.port_base}+)")
        self._script("up")

    def ports(self) -> tuple[int, ...]:
        """The ports hack/cluster.sh uses: etcd, etcd peer, kwok, controller-manager,
        scheduler, kube-apiserver."""
        return tuple(self.port_base + offset for offset in (0, 1, 10, 257, 259, 443))

    def down(self) -> None:
        if self.managed:
            log("stopping the bench control plane")
            self._script("down")

    def kubectl_path(self) -> str:
        """kubectl from the cached control-plane binaries (what `hack/cluster.sh env` exports)."""
        env_lines = subprocess.run(
            [str(REPO_ROOT / "hack" / "cluster.sh"), "env"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for line in env_lines.splitlines():
            if line.startswith("export PATH="):
                return line.split("'")[1] + "/kubectl"
        return "kubectl"

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [self.kubectl_path(), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def component_pids(self) -> dict[str, int]:
        """pids of the control-plane processes (managed clusters only)."""
        pids = {}
        for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
            pid_file = self.directory / "run" / f"{name}.pid"
            if self.managed and pid_file.exists():
                pids[name] = int(pid_file.read_text().strip())
        return pids

    def client(self, connections: int = 32) -> Kube:
        return Kube.from_kubeconfig(self.kubeconfig, connections)


# ---------------------------------------------------------------------- setup
def install_crds(cluster: BenchCluster) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    # `kubectl wait` fails at once while a just-created CRD has no conditions yet: retry.
    deadline = time.monotonic() + 60
    while True:
        try:
            cluster.kubectl(
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                *(f"crd/{p}.paddock.dev" for p in ("agentworkloads", "corebudgets", "corepools")),
            )
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def generate_nodes(
    pool: str, instance_type: str, count: int, start: int = 0
) -> list[dict[str, Any]]:
    """kwok Node manifests from hack/fake-nodes.py (the same generator the tests use)."""
    generated = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "hack" / "fake-nodes.py"),
            "--pool",
            pool,
            "--type",
            instance_type,
            "--count",
            str(count),
            "--start",
            str(start),
            "--taint",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    items: list[dict[str, Any]] = json.loads(generated.stdout)["items"]
    return items


def add_nodes(
    cluster: BenchCluster, pool: str, instance_type: str, count: int, start: int = 0
) -> float:
    """Create `count` kwok nodes in chunks of 500 (server-side apply); returns seconds taken."""
    started = time.monotonic()
    items = generate_nodes(pool, instance_type, count, start)
    for offset in range(0, len(items), NODE_CHUNK):
        chunk = {"apiVersion": "v1", "kind": "List", "items": items[offset : offset + NODE_CHUNK]}
        cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(chunk))
    wait_nodes_ready(cluster.client(), f"karpenter.sh/nodepool={pool}", start + count)
    return time.monotonic() - started


def _ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def wait_nodes_ready(kube: Kube, selector: str, expected: int, timeout: float = 900) -> None:
    """Until `expected` nodes matching `selector` are Ready (kwok initialises them)."""
    deadline = time.monotonic() + timeout
    while True:
        ready, token = 0, ""
        while True:
            extra: dict[str, Any] = {"continue": token} if token else {}
            page = kube.request("GET", "/api/v1/nodes", labelSelector=selector, limit=1000, **extra)
            ready += sum(1 for node in page["items"] if _ready(node))
            token = page["metadata"].get("continue") or ""
            if not token:
                break
        if ready >= expected:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ready} of {expected} nodes Ready ({selector})")
        time.sleep(2)


def ensure_namespaces(kube: Kube, names: Iterable[str], labels: dict[str, str]) -> None:
    """Namespaces, and their default ServiceAccount (pods are rejected until it exists)."""
    names = list(names)
    for name in names:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {**labels, "bench/namespace": name}},
        }
        kube.create("/api/v1/namespaces", body, exist_ok=True)
    for name in names:
        path = f"/api/v1/namespaces/{name}/serviceaccounts/default"

        def exists(path: str = path) -> bool:
            return kube.exists(path)

        wait(exists, what=f"ServiceAccount default in {name}")


def wait(probe: Callable[[], bool], what: str, timeout: float = 60, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(every)


def create_pool(kube: Kube, name: str, nodepool: str) -> None:
    kube.apply(
        f"{GROUP_PATH}/corepools/{name}",
        {
            "apiVersion": "paddock.dev/v1alpha1",
            "kind": "CorePool",
            "metadata": {"name": name},
            "spec": {
                "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": nodepool}},
                "tolerations": [ARM64_TOLERATION],
            },
        },
    )


def create_budget(kube: Kube, name: str, namespace: str, cores: int, **spec: Any) -> None:
    kube.apply(
        f"{GROUP_PATH}/corebudgets/{name}",
        {
            "apiVersion": "paddock.dev/v1alpha1",
            "kind": "CoreBudget",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "cores": cores,
                **spec,
            },
        },
    )


def workload_body(
    name: str, namespace: str, cores: int, priority: int = 0, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """One replica of `cores` whole cores: the unit of the admission benchmarks."""
    return {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "AgentWorkload",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "replicas": 1,
            "coresPerReplica": cores,
            "memoryPerReplica": "1Gi",
            "priority": priority,
            "template": {
                "spec": {"containers": [{"name": "agent", "image": "registry.example/agent:1"}]}
            },
        },
    }


def workload_path(namespace: str) -> str:
    return f"{GROUP_PATH}/namespaces/{namespace}/agentworkloads"


# ---------------------------------------------------------------------- filler pods
def filler_pod(name: str, namespace: str, node: str) -> dict[str, Any]:
    """A pod bound directly to a node (no scheduler): load for the operator's pod watch."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"bench": "filler"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/filler:1",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ],
        },
    }


def _create_pod_slice(kubeconfig: str, pods: Sequence[tuple[str, str, str]], threads: int) -> int:
    """Worker process: create these (name, namespace, node) pods with a thread pool."""
    kube = Kube.from_kubeconfig(Path(kubeconfig), connections=threads)

    def one(pod: tuple[str, str, str]) -> int:
        name, namespace, node = pod
        for attempt in range(5):
            try:
                return kube.create(
                    f"/api/v1/namespaces/{namespace}/pods",
                    filler_pod(name, namespace, node),
                    exist_ok=True,
                )
            except (ApiError, OSError):
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
        return 0

    with ThreadPoolExecutor(threads) as pool:
        return sum(1 for _ in pool.map(one, pods))


def create_filler_pods(
    cluster: BenchCluster,
    count: int,
    nodes: Sequence[str],
    namespaces: Sequence[str],
    processes: int = 2,
    threads: int = 12,
) -> float:
    """`count` pods spread round-robin over `nodes`; returns pods created per second."""
    pods = [
        (f"fill-{i}", namespaces[i % len(namespaces)], nodes[i % len(nodes)]) for i in range(count)
    ]
    started = time.monotonic()
    slices = [pods[i::processes] for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        futures = [
            pool.submit(_create_pod_slice, str(cluster.kubeconfig), s, threads) for s in slices
        ]
        created = sum(f.result() for f in futures)
    elapsed = time.monotonic() - started
    log(f"created {created} filler pods in {elapsed:.0f}s ({created / elapsed:.0f}/s)")
    return created / elapsed


def wait_pods_running(kube: Kube, selector: str, timeout: float = 1800) -> float:
    """Until no pod matching `selector` is still Pending (kwok marks bound pods Running)."""
    started = time.monotonic()
    while True:
        pending = kube.count(
            "/api/v1/pods", labelSelector=selector, fieldSelector="status.phase=Pending"
        )
        if pending == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{pending} pods still Pending")
        log(f"{pending} filler pods still Pending")
        time.sleep(10)
