"""`helm install` into the local control plane, the ServiceAccount's permissions as
the API server decides them (`kubectl auth can-i`), and a clean `helm uninstall`.

The release's pod is real for the API server (created by the ReplicaSet
controller, admitted under the restricted Pod Security Standard, bound by
kube-scheduler) but its node is a kwok fake: it is marked Running without its
image being pulled, so nothing executes in it. tests/helm/values/install.yaml
pins it to the amd64 nodes, which no CorePool selects, so it takes no arm64 cores
from tests that count them. The operator itself is exercised with the chart's
ServiceAccount in test_operator_rbac.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helm.chart import INSTALL_VALUES, LEASE_NAME, Helm, installable_chart
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

NAMESPACED_KINDS = (
    "deployments.apps",
    "replicasets.apps",
    "pods",
    "serviceaccounts",
    "services",
    "poddisruptionbudgets.policy",
    "networkpolicies.networking.k8s.io",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
)
CLUSTER_KINDS = (
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
)
CRDS = ("corepools.paddock.dev", "corebudgets.paddock.dev", "agentworkloads.paddock.dev")


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    install_output: str

    @property
    def service_account(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={self.name}"


def _names(cluster: Cluster, kind: str, selector: str, namespace: str | None) -> list[str]:
    scope = ["-n", namespace] if namespace else []
    items = cluster.get_json(kind, *scope, "-l", selector)["items"]
    return sorted(item["metadata"]["name"] for item in items)


@pytest.fixture(scope="module")
def release(
    cluster: Cluster, helm: Helm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    """One install for the module (a unique release name: ClusterRoles are cluster-wide)."""
    name = f"paddock-{uuid.uuid4().hex[:5]}"
    namespace = f"t-helm-install-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )
    chart = installable_chart(cluster)
    installed = helm.run(
        "install",
        name,
        str(chart),
        "--namespace",
        namespace,
        "-f",
        str(INSTALL_VALUES),
        "--wait",
        "--timeout",
        "120s",
        cluster=cluster,
    )
    yield Release(name=name, namespace=namespace, install_output=installed.stdout)
    helm.run("uninstall", name, "--namespace", namespace, "--wait", cluster=cluster, check=False)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_install_creates_the_release(cluster: Cluster, release: Release) -> None:
    assert "STATUS: deployed" in release.install_output
    # NOTES.txt, rendered for this release.
    assert f"rollout status deployment/{release.name}" in release.install_output
    assert f"get lease {LEASE_NAME}" in release.install_output

    found = {
        kind: _names(cluster, kind, release.selector, release.namespace)
        for kind in (
            "deployments.apps",
            "serviceaccounts",
            "services",
            "poddisruptionbudgets.policy",
            "networkpolicies.networking.k8s.io",
            "roles.rbac.authorization.k8s.io",
            "rolebindings.rbac.authorization.k8s.io",
        )
    }
    assert found == {
        "deployments.apps": [release.name],
        "serviceaccounts": [release.name],
        "services": [f"{release.name}-metrics"],
        "poddisruptionbudgets.policy": [release.name],
        "networkpolicies.networking.k8s.io": [release.name],
        "roles.rbac.authorization.k8s.io": [f"{release.name}-leader-election"],
        "rolebindings.rbac.authorization.k8s.io": [f"{release.name}-leader-election"],
    }
    assert _names(cluster, "clusterroles.rbac.authorization.k8s.io", release.selector, None) == [
        release.name,
        f"{release.name}-edit",
        f"{release.name}-metrics-reader",
        f"{release.name}-view",
    ]
    assert _names(
        cluster, "clusterrolebindings.rbac.authorization.k8s.io", release.selector, None
    ) == [release.name]
    for crd in CRDS:
        cluster.kubectl("get", "crd", crd)


def test_operator_pod_is_admitted_under_restricted_pod_security(
    cluster: Cluster, release: Release
) -> None:
    """The namespace enforces `restricted`: a non-compliant pod would never be created."""

    def running_pods() -> list[dict[str, object]]:
        pods = cluster.get_json("pods", "-n", release.namespace, "-l", release.selector)["items"]
        return [p for p in pods if p["status"].get("phase") == "Running"]

    (pod,) = wait_for(running_pods, timeout=60, what="the operator pod Running")
    node = cluster.get_json("node", pod["spec"]["nodeName"])  # type: ignore[index]
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True  # type: ignore[index]
    assert spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True  # type: ignore[index]
    # The ServiceAccount token is projected into this pod only.
    mounts = [m["mountPath"] for m in spec["containers"][0]["volumeMounts"]]  # type: ignore[index]
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in mounts


# ------------------------------------------------------------------ RBAC, as the API server says
def _can(cluster: Cluster, release: Release, *args: str) -> bool:
    result = cluster.kubectl("auth", "can-i", *args, f"--as={release.service_account}", check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i {args}: {result.stdout} {result.stderr}"
    return answer == "yes"


# "{ns}" is the release namespace; "elsewhere" is any other namespace.
ALLOWED = [
    ("list", "nodes"),
    ("watch", "nodes"),
    ("list", "pods", "--all-namespaces"),
    ("watch", "pods", "--all-namespaces"),
    ("list", "namespaces"),
    ("list", "deployments.apps", "--all-namespaces"),
    ("create", "deployments.apps", "-n", "elsewhere"),
    ("patch", "deployments.apps", "-n", "elsewhere"),
    ("delete", "deployments.apps", "-n", "elsewhere"),
    ("get", "deployments.apps", "-n", "elsewhere"),
    ("list", "poddisruptionbudgets.policy", "--all-namespaces"),
    ("create", "poddisruptionbudgets.policy", "-n", "elsewhere"),
    ("patch", "poddisruptionbudgets.policy", "-n", "elsewhere"),
    ("delete", "poddisruptionbudgets.policy", "-n", "elsewhere"),
    ("list", "agentworkloads.paddock.dev", "--all-namespaces"),
    ("watch", "agentworkloads.paddock.dev", "--all-namespaces"),
    ("list", "corepools.paddock.dev"),
    ("list", "corebudgets.paddock.dev"),
    ("patch", "agentworkloads.paddock.dev", "--subresource=status", "-n", "elsewhere"),
    ("patch", "corepools.paddock.dev", "--subresource=status"),
    ("patch", "corebudgets.paddock.dev", "--subresource=status"),
    ("update", "agentworkloads.paddock.dev", "--subresource=finalizers", "-n", "elsewhere"),
    ("create", "events", "-n", "elsewhere"),
    # metrics.auth kubernetes (the default): reviewing a scraper's token.
    ("create", "tokenreviews.authentication.k8s.io"),
    ("create", "subjectaccessreviews.authorization.k8s.io"),
    ("create", "leases.coordination.k8s.io", "-n", "{ns}"),
    ("get", f"leases.coordination.k8s.io/{LEASE_NAME}", "-n", "{ns}"),
    ("update", f"leases.coordination.k8s.io/{LEASE_NAME}", "-n", "{ns}"),
]
DENIED = [
    # Measured unused (tests/helm/test_rbac_audit.py): the operator only list-watches,
    # applies, merge-patches status and creates core Events.
    ("get", "nodes"),
    ("get", "pods", "-n", "elsewhere"),
    ("update", "deployments.apps", "-n", "elsewhere"),
    ("update", "poddisruptionbudgets.policy", "-n", "elsewhere"),
    ("get", "agentworkloads.paddock.dev", "-n", "elsewhere"),
    ("update", "corepools.paddock.dev", "--subresource=status"),
    ("get", "agentworkloads.paddock.dev", "--subresource=status", "-n", "elsewhere"),
    ("patch", "events", "-n", "elsewhere"),
    ("create", "events.events.k8s.io", "-n", "elsewhere"),
    # /metrics is for scrapers bound to <release>-metrics-reader, not for the operator.
    ("get", "/metrics"),
    ("get", "secrets", "-n", "{ns}"),
    ("list", "secrets", "--all-namespaces"),
    ("watch", "secrets", "--all-namespaces"),
    ("get", "configmaps", "-n", "{ns}"),
    ("list", "configmaps", "--all-namespaces"),
    ("create", "pods", "-n", "elsewhere"),
    ("delete", "pods", "-n", "elsewhere"),
    ("create", "pods", "--subresource=exec", "-n", "elsewhere"),
    ("create", "pods", "--subresource=eviction", "-n", "elsewhere"),
    ("delete", "nodes"),
    ("patch", "nodes"),
    ("delete", "namespaces"),
    ("patch", "agentworkloads.paddock.dev", "-n", "elsewhere"),
    ("update", "agentworkloads.paddock.dev", "-n", "elsewhere"),
    ("create", "agentworkloads.paddock.dev", "-n", "elsewhere"),
    ("delete", "agentworkloads.paddock.dev", "-n", "elsewhere"),
    ("patch", "corepools.paddock.dev"),
    ("delete", "corebudgets.paddock.dev"),
    ("patch", "deployments.apps", "--subresource=scale", "-n", "elsewhere"),
    ("get", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "leases.coordination.k8s.io", "-n", "elsewhere"),
    ("get", f"leases.coordination.k8s.io/{LEASE_NAME}", "-n", "elsewhere"),
    ("get", "leases.coordination.k8s.io/another-lease", "-n", "{ns}"),
    ("update", "leases.coordination.k8s.io/another-lease", "-n", "{ns}"),
    ("delete", f"leases.coordination.k8s.io/{LEASE_NAME}", "-n", "{ns}"),
    ("list", "leases.coordination.k8s.io", "-n", "{ns}"),
    ("create", "serviceaccounts", "--subresource=token", "-n", "{ns}"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ("bind", "clusterroles.rbac.authorization.k8s.io"),
    ("escalate", "clusterroles.rbac.authorization.k8s.io"),
    ("impersonate", "users"),
    ("list", "kopfpeerings.kopf.dev", "--all-namespaces"),
    ("*", "*", "--all-namespaces"),
]


def _fill(args: tuple[str, ...], release: Release) -> list[str]:
    return [a.replace("{ns}", release.namespace) for a in args]


@pytest.mark.parametrize("args", ALLOWED, ids=" ".join)
def test_service_account_can(cluster: Cluster, release: Release, args: tuple[str, ...]) -> None:
    assert _can(cluster, release, *_fill(args, release)), f"the operator cannot {args}"


@pytest.mark.parametrize("args", DENIED, ids=" ".join)
def test_service_account_cannot(cluster: Cluster, release: Release, args: tuple[str, ...]) -> None:
    assert not _can(cluster, release, *_fill(args, release)), f"the operator may {args}"


def test_namespace_editors_may_scale_agent_workloads_and_viewers_read_the_scale(
    cluster: Cluster, release: Release
) -> None:
    """The aggregated roles give `kubectl scale aw` to whoever holds `edit` in a namespace, as
    the built-in roles do for deployments/scale; `view` may read the scale, not change it."""
    ns = release.namespace
    cluster.kubectl(
        "create", "rolebinding", "scaler", "--clusterrole=edit", "--user=alice", "-n", ns
    )
    cluster.kubectl("create", "rolebinding", "reader", "--clusterrole=view", "--user=bob", "-n", ns)

    def can(user: str, verb: str) -> bool:
        args = ("auth", "can-i", verb, "agentworkloads.paddock.dev", "--subresource=scale")
        result = cluster.kubectl(*args, "-n", ns, f"--as={user}", check=False)
        return result.stdout.strip() == "yes"

    # Aggregation into the built-in roles is done by kube-controller-manager, asynchronously.
    wait_for(lambda: can("alice", "patch"), timeout=30, what="edit may patch agentworkloads/scale")
    assert can("alice", "update") and can("alice", "get")
    wait_for(lambda: can("bob", "get"), timeout=30, what="view may get agentworkloads/scale")
    assert not can("bob", "patch") and not can("bob", "update")


# ------------------------------------------------------------------ uninstall (last)
def test_uninstall_removes_everything(cluster: Cluster, helm: Helm, release: Release) -> None:
    helm.run(
        "uninstall",
        release.name,
        "--namespace",
        release.namespace,
        "--wait",
        "--timeout",
        "120s",
        cluster=cluster,
    )

    def leftovers() -> dict[str, list[str]]:
        left = {
            kind: _names(cluster, kind, release.selector, release.namespace)
            for kind in NAMESPACED_KINDS
        }
        left.update({kind: _names(cluster, kind, release.selector, None) for kind in CLUSTER_KINDS})
        left["helm release secrets"] = _names(
            cluster, "secrets", f"owner=helm,name={release.name}", release.namespace
        )
        return {kind: names for kind, names in left.items() if names}

    wait_for(lambda: not leftovers(), timeout=90, what=f"release {release.name} to be gone")
    assert (
        helm.run(
            "status", release.name, "-n", release.namespace, cluster=cluster, check=False
        ).returncode
        != 0
    )
    # By Helm's design the CRDs (and so every CorePool, CoreBudget, AgentWorkload) stay.
    for crd in CRDS:
        cluster.kubectl("get", "crd", crd)
