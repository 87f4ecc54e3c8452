"""The chart as files: lint, CRDs, rendered objects, the values schema, and the
rendered manifests validated by the real API server (server-side dry run)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import (
    CHART,
    KUBE_VERSION,
    LEASE_NAME,
    MIN_KUBE_VERSION,
    REPO_CRDS,
    VALUES_FILES,
    Helm,
    one,
    parse,
    values_args,
    values_id,
)
from tests.helm.conftest import NamespaceFactory
from tests.support.cluster import REPO_ROOT, Cluster

pytestmark = pytest.mark.integration

ALL_VALUES: list[Path | None] = [None, *VALUES_FILES]


# ------------------------------------------------------------------ lint
@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
@pytest.mark.parametrize("kube_version", [MIN_KUBE_VERSION, KUBE_VERSION])
def test_helm_lint_strict(helm: Helm, values_file: Path | None, kube_version: str) -> None:
    result = helm.run(
        "lint", "--strict", "--kube-version", kube_version, *values_args(values_file), str(CHART)
    )
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_chart_refuses_kubernetes_older_than_1_30(helm: Helm) -> None:
    result = helm.template(kube_version="1.29.9", check=False)
    assert result.returncode != 0
    assert "kubeVersion: >=1.30.0-0" in result.stderr


# ------------------------------------------------------------------ CRDs
def test_chart_crds_match_repo_crds(helm: Helm, tmp_path: Path) -> None:
    """One source of truth: charts/paddock/crds is a symlink to crds/, and what Helm
    really ships (the packaged archive) and installs (--include-crds) is crds/ exactly."""
    link = CHART / "crds"
    assert link.is_symlink(), "charts/paddock/crds must stay a symlink to ../../crds"
    assert os.readlink(link) == "../../crds"

    repo = {p.name: p.read_bytes() for p in sorted(REPO_CRDS.glob("*.yaml"))}
    assert len(repo) >= 3, f"crds/ holds {sorted(repo)}"

    helm.run("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("paddock-*.tgz")
    with tarfile.open(archive) as tar:
        packaged = {
            Path(member.name).name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile() and member.name.startswith("paddock/crds/")
        }
    assert packaged == repo, "the packaged chart's crds/ differs from crds/"

    rendered = helm.template("--include-crds").stdout
    crd_docs = {
        d["metadata"]["name"]: d for d in parse(rendered) if d["kind"] == "CustomResourceDefinition"
    }
    repo_docs = {}
    for text in repo.values():
        for doc in yaml.safe_load_all(io.BytesIO(text)):
            repo_docs[doc["metadata"]["name"]] = doc
    assert crd_docs == repo_docs


# ------------------------------------------------------------------ rendered objects
def test_default_render_runs_restricted_and_least_privilege(helm: Helm) -> None:
    docs = helm.render()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ClusterRole",  # the operator's
            "ClusterRole",  # -edit (aggregated, for people)
            "ClusterRole",  # -view (aggregated, for people)
            "ClusterRole",  # -metrics-reader (for scrapers; metrics.auth kubernetes)
            "ClusterRoleBinding",
            "Deployment",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    )
    deployment = one(docs, "Deployment", "paddock")
    assert deployment["metadata"]["namespace"] == "paddock-system"
    assert deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "paddock"
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/paddock-dev/paddock:0.1.0"  # tag = appVersion
    assert container["args"] == ["run"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi", "ephemeral-storage": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "512Mi"},
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["PADDOCK_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert env["PADDOCK_METRICS_PORT"]["value"] == "8080"
    assert env["PADDOCK_METRICS_AUTH"]["value"] == "kubernetes"
    assert env["PADDOCK_HEALTH_PORT"]["value"] == "8081"
    assert env["PADDOCK_LOG_LEVEL"]["value"] == "INFO"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert "affinity" not in pod  # one replica: nothing to spread

    service_account = one(docs, "ServiceAccount")
    assert service_account["automountServiceAccountToken"] is False

    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()

    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]

    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "paddock"
        assert labels["app.kubernetes.io/instance"] == "paddock"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["helm.sh/chart"] == "paddock-0.1.0"


# Measured, not guessed: tests/helm/test_rbac_audit.py compares these with the calls
# the operator's ServiceAccount makes (the API server's audit log).
OPERATOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["nodes", "pods", "namespaces"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["apps"],
        "resources": ["deployments"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {
        "apiGroups": ["policy"],
        "resources": ["poddisruptionbudgets"],
        "verbs": ["get", "list", "watch", "create", "patch", "delete"],
    },
    {
        "apiGroups": ["paddock.dev"],
        "resources": ["corepools", "corebudgets", "agentworkloads"],
        "verbs": ["list", "watch"],
    },
    {
        "apiGroups": ["paddock.dev"],
        "resources": ["corepools/status", "corebudgets/status", "agentworkloads/status"],
        "verbs": ["patch"],
    },
    {"apiGroups": ["paddock.dev"], "resources": ["agentworkloads/finalizers"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
METRICS_AUTH_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["subjectaccessreviews"],
        "verbs": ["create"],
    },
]
IMAGE_PULL_SECRET_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]},
]
LEADER_ELECTION_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resourceNames": [LEASE_NAME],
        "verbs": ["get", "update"],
    },
]


def test_rbac_rules_are_exactly_what_the_operator_uses(helm: Helm) -> None:
    """A change to the operator's permissions must be a deliberate change to this list
    (and to docs/install.md), never a side effect."""
    docs = helm.render()
    assert one(docs, "ClusterRole", "paddock")["rules"] == OPERATOR_RULES + METRICS_AUTH_RULES
    # Without metrics auth the operator reviews no tokens, so it may not.
    plain = helm.render("--set", "metrics.auth=none")
    assert one(plain, "ClusterRole", "paddock")["rules"] == OPERATOR_RULES
    role = one(docs, "Role", "paddock-leader-election")
    assert role["metadata"]["namespace"] == "paddock-system"
    assert role["rules"] == LEADER_ELECTION_RULES

    binding = one(docs, "ClusterRoleBinding", "paddock")
    assert binding["roleRef"]["name"] == "paddock"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "paddock", "namespace": "paddock-system"}
    ]
    role_binding = one(docs, "RoleBinding", "paddock-leader-election")
    assert role_binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "paddock-leader-election",
    }
    assert role_binding["subjects"] == binding["subjects"]

    for rule in OPERATOR_RULES + METRICS_AUTH_RULES + LEADER_ELECTION_RULES:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
        assert "secrets" not in rule["resources"]
        assert "configmaps" not in rule["resources"]

    # imageCheck.pullSecrets adds exactly `get` on secrets and serviceaccounts, nothing else.
    reading = helm.render("--set", "imageCheck.pullSecrets.enabled=true")
    assert one(reading, "ClusterRole", "paddock")["rules"] == (
        OPERATOR_RULES + IMAGE_PULL_SECRET_RULES + METRICS_AUTH_RULES
    )
    off = helm.render(
        "--set", "imageCheck.pullSecrets.enabled=true", "--set", "imageCheck.enabled=false"
    )
    assert one(off, "ClusterRole", "paddock")["rules"] == OPERATOR_RULES + METRICS_AUTH_RULES


def test_karpenter_permissions_only_when_autoscaled_pools_are_on(helm: Helm) -> None:
    """karpenter.enabled grants list/watch on NodePools and NodeClaims and turns the watches
    on; by default neither (least privilege, and no watch of an API that may not exist)."""
    rule = {"apiGroups": ["karpenter.sh"], "resources": ["nodepools", "nodeclaims"]}
    rule["verbs"] = ["list", "watch"]
    on = helm.render("--set", "karpenter.enabled=true", "--set", "metrics.auth=none")
    assert one(on, "ClusterRole", "paddock")["rules"] == [*OPERATOR_RULES, rule]
    container = one(on, "Deployment", "paddock")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "PADDOCK_KARPENTER", "value": "true"} in container["env"]
    off = helm.render("--set", "metrics.auth=none")
    container = one(off, "Deployment", "paddock")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "PADDOCK_KARPENTER", "value": "false"} in container["env"]


def test_two_replicas_spread_and_keep_a_disruption_budget(helm: Helm) -> None:
    docs = helm.render("-f", str(CHART / "ci" / "ha-values.yaml"))
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]
        == deployment["spec"]["selector"]["matchLabels"]
    )
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert not [d for d in docs if d["kind"] == "ServiceMonitor"]


def test_custom_values_reach_the_pod(helm: Helm) -> None:
    docs = helm.render("-f", str(CHART / "ci" / "custom-values.yaml"), namespace="platform")
    deployment = one(docs, "Deployment", "paddock-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == (
        "registry.example.com/platform/paddock@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["serviceAccountName"] == "paddock-controller"
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "arm64", "karpenter.sh/nodepool": "system"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    assert "nodeAffinity" in pod["affinity"]
    assert pod["terminationGracePeriodSeconds"] == 45
    # Helm merges maps: the default ephemeral-storage stays unless set to null.
    assert container["resources"]["limits"] == {
        "cpu": 2,
        "memory": "1Gi",
        "ephemeral-storage": "512Mi",
    }
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PADDOCK_METRICS_PORT"] == "9090"
    assert env["PADDOCK_HEALTH_PORT"] == "9091"
    assert env["PADDOCK_LOG_LEVEL"] == "DEBUG"
    assert env["HTTPS_PROXY"] == "http://proxy.example.com:3128"
    assert deployment["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    service = one(docs, "Service")
    assert service["spec"]["ports"][0]["port"] == 9090
    assert service["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert one(docs, "ServiceAccount")["metadata"]["annotations"] == {
        "example.com/owner": "platform-team"
    }
    assert one(docs, "ClusterRoleBinding")["subjects"] == [
        {"kind": "ServiceAccount", "name": "paddock-controller", "namespace": "platform"}
    ]
    kinds = {d["kind"] for d in docs}
    assert "PodDisruptionBudget" not in kinds
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"] == [
        "paddock-operator",
        "paddock-operator-metrics-reader",
    ]


def test_service_monitor_scrapes_the_metrics_service(helm: Helm) -> None:
    docs = helm.render("-f", str(CHART / "ci" / "monitoring-values.yaml"))
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["paddock-system"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": service["spec"]["ports"][0]["name"],
        "path": "/metrics",
        "scheme": "http",
        "interval": "15s",
        "scrapeTimeout": "10s",
        # metrics.auth kubernetes: Prometheus sends its own ServiceAccount token.
        "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
    }


def test_service_monitor_authorization_follows_metrics_auth(helm: Helm) -> None:
    monitoring = ["-f", str(CHART / "ci" / "monitoring-values.yaml")]
    secret = ["--set", "metrics.serviceMonitor.bearerTokenSecret.name=scraper-token"]
    secret += ["--set", "metrics.serviceMonitor.bearerTokenSecret.key=token"]
    (endpoint,) = one(helm.render(*monitoring, *secret), "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "scraper-token", "key": "token"},
    }
    assert "bearerTokenFile" not in endpoint
    plain = helm.render(*monitoring, "--set", "metrics.auth=none")
    (endpoint,) = one(plain, "ServiceMonitor")["spec"]["endpoints"]
    assert "bearerTokenFile" not in endpoint and "authorization" not in endpoint


def test_metrics_tls_mounts_the_secret_and_the_monitor_speaks_https(helm: Helm) -> None:
    monitoring = ["-f", str(CHART / "ci" / "monitoring-values.yaml")]
    docs = helm.render(*monitoring, "--set", "metrics.tls.secretName=paddock-metrics-tls")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PADDOCK_METRICS_CERT_DIR"] == "/var/run/paddock/metrics-tls"
    assert {
        "name": "metrics-tls", "mountPath": "/var/run/paddock/metrics-tls", "readOnly": True
    } in container["volumeMounts"]  # fmt: skip
    assert {
        "name": "metrics-tls",
        "secret": {"secretName": "paddock-metrics-tls", "defaultMode": 0o444},
    } in pod["volumes"]
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "serverName": "paddock-metrics.paddock-system.svc",
        "insecureSkipVerify": True,
    }
    ca = '{"ca": {"secret": {"name": "metrics-ca", "key": "ca.crt"}}}'
    docs = helm.render(
        *monitoring, "--set", "metrics.tls.secretName=paddock-metrics-tls",
        "--set-json", f"metrics.serviceMonitor.tlsConfig={ca}",
    )  # fmt: skip
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": "metrics-ca", "key": "ca.crt"}},
        "serverName": "paddock-metrics.paddock-system.svc",
    }
    # Without a Secret: plain HTTP, nothing mounted.
    (container,) = one(helm.render(), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "PADDOCK_METRICS_CERT_DIR" not in {e["name"] for e in container["env"]}


def test_metrics_readers_are_bound_to_the_reader_role(helm: Helm) -> None:
    reader = '[{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]'
    docs = helm.render("--set-json", f"metrics.readers={reader}")
    role = one(docs, "ClusterRole", "paddock-metrics-reader")
    assert role["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    binding = one(docs, "ClusterRoleBinding", "paddock-metrics-reader")
    assert binding["roleRef"]["name"] == "paddock-metrics-reader"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}
    ]
    # No readers: the role exists to be bound, and no binding is made.
    assert not [
        d
        for d in helm.render()
        if d["metadata"]["name"] == "paddock-metrics-reader" and d["kind"] == "ClusterRoleBinding"
    ]
    # Auth off: neither the role nor the binding.
    names = {d["metadata"]["name"] for d in helm.render("--set", "metrics.auth=none")}
    assert "paddock-metrics-reader" not in names


def test_network_policy_admits_probes_and_scrapers_and_reaches_the_api_server(
    helm: Helm,
) -> None:
    docs = helm.render()
    policy = one(docs, "NetworkPolicy", "paddock")
    deployment = one(docs, "Deployment", "paddock")
    assert (
        policy["spec"]["podSelector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    health, metrics = policy["spec"]["ingress"]
    assert health == {"ports": [{"port": "health", "protocol": "TCP"}]}
    assert metrics == {"ports": [{"port": "metrics", "protocol": "TCP"}]}  # from anywhere
    egress, registries, dns = policy["spec"]["egress"]
    assert egress == {
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]
    }
    # imageCheck (on by default) asks the image registries, found by DNS.
    assert registries == {"ports": [{"port": 443, "protocol": "TCP"}]}
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}

    monitoring = '[{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]'
    docs = helm.render(
        "--set-json", f"networkPolicy.metricsFrom={monitoring}",
        "--set-json", 'networkPolicy.apiServerCIDRs=["10.0.0.1/32"]',
        "--set-json", "networkPolicy.apiServerPorts=[6443]",
        "--set-json", 'networkPolicy.extraEgress=[{"ports": [{"port": 3128}]}]',
        "--set", "imageCheck.enabled=false",
    )  # fmt: skip
    policy = one(docs, "NetworkPolicy", "paddock")
    assert policy["spec"]["ingress"][1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}
    ]
    assert policy["spec"]["egress"] == [
        {
            "ports": [{"port": 6443, "protocol": "TCP"}],
            "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}],
        },
        {"ports": [{"port": 3128}]},
    ]
    assert not [d for d in helm.render("--set", "networkPolicy.enabled=false")
                if d["kind"] == "NetworkPolicy"]  # fmt: skip


# ------------------------------------------------------------------ values schema
BAD_VALUES = [
    pytest.param(
        ["--set", "replicaCount=-1"], ["/replicaCount", "minimum"], id="negative-replicas"
    ),
    pytest.param(
        ["--set", "replicaCount=two"], ["/replicaCount", "want integer"], id="replicas-type"
    ),
    pytest.param(
        ["--set", "replicas=2"], ["additional properties 'replicas'"], id="unknown-top-key"
    ),
    pytest.param(
        ["--set", "securityContext.privilegd=true"],
        ["/securityContext", "additional properties 'privilegd'"],
        id="unknown-nested-key",
    ),
    pytest.param(
        ["--set", "metrics.serviceMonitor.enabled=yes"],
        ["/metrics/serviceMonitor/enabled", "want boolean"],
        id="bool-type",
    ),
    pytest.param(["--set", "metrics.port=70000"], ["/metrics/port", "maximum"], id="port-range"),
    pytest.param(
        ["--set", "resources.limits.memory=lots"],
        ["/resources/limits/memory", "does not match pattern"],
        id="quantity",
    ),
    pytest.param(
        ["--set", "logLevel=verbose"], ["/logLevel", "value must be one of"], id="log-level"
    ),
    pytest.param(
        ["--set", "metrics.auth=basic"],
        ["/metrics/auth", "value must be one of"],
        id="metrics-auth",
    ),
    pytest.param(
        ["--set", "metrics.tls.secretName=Not_A_Name"],
        ["/metrics/tls/secretName", "does not match pattern"],
        id="tls-secret-name",
    ),
    pytest.param(
        ["--set-json", "networkPolicy.apiServerPorts=[]"],
        ["/networkPolicy/apiServerPorts", "minItems"],
        id="netpol-no-port",
    ),
    pytest.param(
        ["--set", "image.pullPolicy=Sometimes"],
        ["/image/pullPolicy", "value must be one of"],
        id="pull-policy",
    ),
    pytest.param(
        ["--set", "podDisruptionBudget.maxUnavailable=-1"],
        ["/podDisruptionBudget/maxUnavailable", "minimum"],
        id="pdb-negative",
    ),
    pytest.param(
        ["--set", "image.digest=sha256:abc"],
        ["/image/digest", "does not match pattern"],
        id="digest",
    ),
    pytest.param(
        ["--set", "tolerations[0].effect=Never"],
        ["/tolerations/0/effect", "value must be one of"],
        id="toleration-effect",
    ),
    pytest.param(
        ["--set-string", "podLabels.team=a", "--set", "podLabels.tier=1"],
        ["/podLabels/tier", "want string"],
        id="label-value-type",
    ),
]


@pytest.mark.parametrize(("args", "expected"), BAD_VALUES)
def test_values_schema_rejects_bad_values(helm: Helm, args: list[str], expected: list[str]) -> None:
    result = helm.template(*args, check=False)
    assert result.returncode != 0, f"helm template {args} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    for needle in expected:
        assert needle in result.stderr, result.stderr


def test_values_schema_accepts_zero_replicas_and_numeric_quantities(helm: Helm) -> None:
    docs = helm.render("--set", "replicaCount=0", "--set", "resources.limits.cpu=2")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 0
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == 2
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "metrics.enabled=false", "--set", "metrics.serviceMonitor.enabled=true"],
            "metrics.serviceMonitor.enabled needs metrics.enabled",
        ),
        (["--set", "serviceAccount.create=false"], "serviceAccount.name is required"),
        (["--set", "health.port=8080"], "metrics.port and health.port must differ"),
    ],
    ids=["monitor-without-metrics", "existing-sa-without-name", "port-clash"],
)
def test_inconsistent_values_fail_with_a_message(helm: Helm, args: list[str], message: str) -> None:
    result = helm.template(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# ------------------------------------------------------------------ server-side validation
def _has_crd(cluster: Cluster, name: str) -> bool:
    return cluster.kubectl("get", "crd", name, check=False).returncode == 0


def _server_dry_run(cluster: Cluster, docs: list[dict[str, Any]], namespace: str) -> str:
    result = cluster.kubectl(
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-n",
        namespace,
        "-f",
        "-",
        input=yaml.safe_dump_all(docs),
    )
    return result.stderr


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_rendered_manifests_validate_against_the_api_server(
    helm: Helm, cluster: Cluster, make_namespace: NamespaceFactory, values_file: Path | None
) -> None:
    """Every field checked by the real API server's schemas (--validate=strict rejects
    unknown fields), in a namespace enforcing the restricted Pod Security Standard:
    any PodSecurity warning on the Deployment fails the test."""
    namespace = make_namespace(restricted=True)
    docs = helm.render(*values_args(values_file), namespace=namespace)
    if not _has_crd(cluster, "servicemonitors.monitoring.coreos.com"):
        # The local control plane has no prometheus-operator CRDs; the ServiceMonitor's
        # shape is checked by test_service_monitor_scrapes_the_metrics_service.
        docs = [d for d in docs if d["kind"] != "ServiceMonitor"]
    warnings = _server_dry_run(cluster, docs, namespace)
    assert "Warning" not in warnings and "PodSecurity" not in warnings, warnings


def test_pod_security_check_catches_a_privileged_pod(
    helm: Helm, cluster: Cluster, make_namespace: NamespaceFactory
) -> None:
    """Negative control for the test above: the namespace's restricted level is enforced,
    so a weakened securityContext is reported."""
    namespace = make_namespace(restricted=True)
    docs = helm.render(
        "--set",
        "securityContext.allowPrivilegeEscalation=true",
        "--set",
        "securityContext.capabilities.drop=null",
        namespace=namespace,
    )
    deployment = [d for d in docs if d["kind"] == "Deployment"]
    warnings = _server_dry_run(cluster, deployment, namespace)
    assert "would violate PodSecurity" in warnings
    assert "allowPrivilegeEscalation" in warnings


def test_helm_check_script(cluster: Cluster) -> None:
    """hack/helm-check.sh (lint + CRD drift + render + dry-run) passes as humans run it."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "helm-check.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
    assert result.returncode == 0, result.stderr
    assert "helm chart checks passed" in result.stderr
