"""Fixtures for the kind end-to-end suite.

The cluster is the one `hack/kind-e2e.sh up` makes (kind nodes from locally
built images, kwok simulating Graviton nodes inside it); the script runs this
suite with PADDOCK_E2E_KUBECONFIG and the image names set. Without them the
suite skips, saying how to run it: it needs Docker, which the rest of the tests
do not.

The script also sets PADDOCK_E2E_FAIL_ON_SKIP=1: then a skip is reported as a
failure, with its reason, so a CI run can never pass having skipped part of
the suite unnoticed (a missing variable, the arm64 worker that did not join). A
test that is left out on purpose is deselected by the script, which says so.

The Helm install is part of the suite, not of the script: `paddock_release`
installs the chart from charts/paddock with the locally built operator image and
waits for the operator to be Ready, so a broken chart or image fails here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

RELEASE = "paddock"
FAIL_ON_SKIP = "PADDOCK_E2E_FAIL_ON_SKIP"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under hack/kind-e2e.sh a skipped e2e test fails, saying why it skipped.

    A skip (from a skipif mark, a fixture's pytest.skip or the test itself) is
    turned into a failure of the same phase, so setup skips show as errors and
    call skips as failures; either fails the run.
    """
    report = yield
    if os.environ.get(FAIL_ON_SKIP) == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, and {FAIL_ON_SKIP}=1 (hack/kind-e2e.sh) makes a skip a failure: {reason}"
        )
    return report


@dataclass(frozen=True)
class Release:
    """The Helm release of Paddock in the kind cluster."""

    cluster: Cluster
    namespace: str
    name: str
    image: str

    @property
    def deployment(self) -> str:
        return self.name  # the chart's fullname for release "paddock"

    def operator_pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get_json(
            "pods",
            "-n",
            self.namespace,
            "-l",
            f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component=operator",
        )["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def operator_pod(self) -> dict[str, Any]:
        pods = self.operator_pods()
        assert len(pods) == 1, f"expected one operator pod, found {len(pods)}"
        return pods[0]

    def metrics(self) -> str:
        """/metrics of the operator pod, through the API server's pod proxy."""
        pod = self.operator_pod()["metadata"]["name"]
        return self.cluster.kubectl(
            "get", "--raw", f"/api/v1/namespaces/{self.namespace}/pods/{pod}:8080/proxy/metrics"
        ).stdout

    def logs(self) -> str:
        pod = self.operator_pod()["metadata"]["name"]
        return self.cluster.kubectl("logs", "-n", self.namespace, pod, check=False).stdout


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set: the kind e2e suite runs through hack/kind-e2e.sh")
    return value


@pytest.fixture(scope="session")
def kind_cluster() -> Cluster:
    kubeconfig = Path(_env("PADDOCK_E2E_KUBECONFIG"))
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip('kubectl is not on PATH (eval "$(hack/kind-e2e.sh env)")')
    cluster = Cluster(kubeconfig=kubeconfig, kubectl_path=kubectl)
    cluster.kubectl("get", "--raw", "/readyz")
    return cluster


@pytest.fixture(scope="session")
def agent_image() -> str:
    return _env("PADDOCK_E2E_AGENT_IMAGE")


def _registry_values() -> list[str]:
    """The e2e image registry (plain HTTP on the kind network) for the image check.

    The check itself stays as the chart ships it (on, FailOpen): the images of the other
    tests are loaded into the nodes under a name no registry answers to, so they are
    admitted unchecked, as FailOpen says; tests/e2e/test_images.py asks for FailClosed
    on its own CoreBudgets.
    """
    host = os.environ.get("PADDOCK_E2E_REGISTRY", "")
    if not host:
        return []
    port = host.rpartition(":")[2]
    return [
        "--set",
        f"imageCheck.insecureRegistries[0]={host}",
        # NetworkPolicy egress (not enforced by kind's CNI here, but kept true).
        "--set",
        f"imageCheck.registryPorts={{443,{port}}}",
    ]


@pytest.fixture(scope="session")
def paddock_release(kind_cluster: Cluster) -> Release:
    image = _env("PADDOCK_E2E_IMAGE")
    namespace = os.environ.get("PADDOCK_E2E_NAMESPACE", "paddock-system")
    helm = shutil.which("helm")
    assert helm, "helm is not on PATH"
    repository, _, tag = image.rpartition(":")
    args = [
        helm,
        "upgrade",
        "--install",
        RELEASE,
        str(REPO_ROOT / "charts" / "paddock"),
        f"--kubeconfig={kind_cluster.kubeconfig}",
        "--namespace",
        namespace,
        "--create-namespace",
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        # Loaded with `kind load docker-image`; there is no registry to pull from.
        "--set",
        "image.pullPolicy=Never",
        # The operator runs on a real kind node (amd64 here), never on a kwok node.
        "--set",
        "nodeSelector.kubernetes\\.io/arch=amd64",
        # Metrics are read through the API server's pod and service proxy, which sends
        # no caller credentials to the pod; bearer-token auth of /metrics is proven on
        # the local control plane (tests/helm/test_metrics_auth.py).
        "--set",
        "metrics.auth=none",
        *_registry_values(),
        "--wait",
        "--timeout",
        "5m",
        # More values, e.g. "-f charts/paddock/ci/ha-values.yaml".
        *shlex.split(os.environ.get("PADDOCK_E2E_HELM_ARGS", "")),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=360)
    if result.returncode != 0:
        events = kind_cluster.kubectl(
            "get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False
        ).stdout
        logs = kind_cluster.kubectl(
            "logs", "-n", namespace, f"deployment/{RELEASE}", "--tail=15", check=False
        ).stdout
        previous = kind_cluster.kubectl(
            "logs", "-n", namespace, f"deployment/{RELEASE}", "--previous", "--tail=15", check=False
        ).stdout
        raise AssertionError(
            f"helm install failed:\n{result.stderr}\nevents:\n{events}\n"
            f"operator log:\n{logs}\nprevious operator log:\n{previous}"
        )
    release = Release(cluster=kind_cluster, namespace=namespace, name=RELEASE, image=image)
    wait_for(
        lambda: (
            kind_cluster.get_json("deployment", release.deployment, "-n", namespace)["status"].get(
                "readyReplicas"
            )
            == 1
        ),
        timeout=180,
        what="the operator Deployment Ready",
    )
    return release


@pytest.fixture
def ground(kind_cluster: Cluster, paddock_release: Release) -> Iterator[Ground]:
    """A namespace of its own plus this test's kwok nodes, pools and budgets."""
    namespace = f"e2e-{uuid.uuid4().hex[:6]}"
    kind_cluster.kubectl("create", "namespace", namespace)
    g = Ground(cluster=kind_cluster, namespace=namespace)
    try:
        yield g
    finally:
        g.cleanup()
        kind_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def on_a_real_amd64_worker() -> dict[str, Any]:
    """Pod spec fields that schedule onto a real amd64 kind worker: not a kwok node, not the
    control plane (a real amd64 kubelet always reports kubernetes.io/arch=amd64)."""
    return {
        "nodeSelector": {"kubernetes.io/arch": "amd64"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "type", "operator": "NotIn", "values": ["kwok"]},
                                {
                                    "key": "node-role.kubernetes.io/control-plane",
                                    "operator": "DoesNotExist",
                                },
                            ]
                        }
                    ]
                }
            }
        },
    }


def arm64_worker_pool(ground: Ground, node: str, name: str) -> str:
    """A CorePool over the emulated arm64 worker alone, tolerating its arm64 taint (as
    Graviton node groups are often tainted): only what Paddock places there lands there."""
    pool = ground.name(name)
    ground.create(
        "CorePool",
        pool,
        {
            "nodeSelector": {"matchLabels": {"kubernetes.io/hostname": node}},
            "tolerations": [
                {
                    "key": "kubernetes.io/arch",
                    "operator": "Equal",
                    "value": "arm64",
                    "effect": "NoSchedule",
                }
            ],
        },
    )
    ground.pools.append(pool)
    return pool


def real_nodes(cluster: Cluster) -> list[dict[str, Any]]:
    """The kind nodes: real kubelets, not kwok's simulated nodes."""
    items: list[dict[str, Any]] = cluster.get_json("nodes")["items"]
    return [
        n for n in items if n["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node") != "fake"
    ]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)[:4000]
