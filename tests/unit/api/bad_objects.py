"""The shared verdict table: objects the API server and the models must both reject (BAD) or
both accept (GOOD).

Every bad object is a valid object with exactly one thing wrong, so a rejection can only be for
the stated reason. `field` must appear in the error of both the API server and the models;
`message`, when set, is text of a cross-field rule that both must print verbatim.

Used by tests/unit/api/test_bad_objects.py (models) and tests/integration/test_crds.py (API
server). Names are prefixed `paddock-verdict-` so that a leak is easy to spot and clean up.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from paddock import API_VERSION

PREFIX = "paddock-verdict-"
_DELETE = object()


@dataclass(frozen=True)
class Case:
    id: str
    manifest: dict[str, Any]
    field: str = ""
    message: str | None = None

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespaced(self) -> bool:
        return self.kind == "AgentWorkload"


def pool(name: str = "pool") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CorePool",
        "metadata": {"name": PREFIX + name},
        "spec": {
            "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": "graviton4"}},
            "tolerations": [
                {
                    "key": "kubernetes.io/arch",
                    "operator": "Equal",
                    "value": "arm64",
                    "effect": "NoSchedule",
                }
            ],
            "reservedCoresPerNode": 1,
            "weight": 50,
            "maxCores": 256,
        },
    }


def budget(name: str = "budget") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CoreBudget",
        "metadata": {"name": PREFIX + name},
        "spec": {
            "namespaceSelector": {"matchLabels": {"paddock.dev/team": "verdict"}},
            "cores": 32,
            "pools": ["graviton4", "graviton3"],
            "cohort": "agents",
            "borrowingLimit": 8,
            "lendingLimit": 16,
            "queueing": "StrictFIFO",
            "preemption": {"withinBudget": "LowerPriority", "reclaimFromCohort": "Any"},
        },
    }


def agent(name: str = "agent") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "AgentWorkload",
        "metadata": {"name": PREFIX + name},
        "spec": {
            "budget": "research",
            "replicas": 3,
            "minReplicas": 2,
            "coresPerReplica": 4,
            "memoryPerReplica": "8Gi",
            "priority": 10,
            "placement": {"pools": ["graviton4"], "spread": "Zone"},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "agent", "image": "ghcr.io/example/agent:1"}]},
            },
        },
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def edit(manifest: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `manifest` with `path -> value` set (or removed when value is DELETE)."""
    result = copy.deepcopy(manifest)
    for path, value in edits.items():
        *parents, last = _steps(path)
        node: Any = result
        for step in parents:
            node = node[step]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return result


DELETE = _DELETE
LONG_NAME = "x" * (64 - len(PREFIX))  # with the prefix: 64 characters, one too many


def _agent(case: str, edits: dict[str, Any], field: str, message: str | None = None) -> Case:
    return Case(f"aw-{case}", edit(agent(case), edits), field, message)


def _budget(case: str, edits: dict[str, Any], field: str, message: str | None = None) -> Case:
    return Case(f"cbudget-{case}", edit(budget(case), edits), field, message)


def _pool(case: str, edits: dict[str, Any], field: str, message: str | None = None) -> Case:
    return Case(f"cpool-{case}", edit(pool(case), edits), field, message)


CONTAINER = "spec.template.spec.containers"

BAD: list[Case] = [
    # --- AgentWorkload: counts and cores
    _agent(
        "replicas-zero-above-min",
        {"spec.replicas": 0, "spec.minReplicas": 1},
        "spec.minReplicas",
        "spec.minReplicas (1) must be <= spec.replicas (0): lower minReplicas or raise replicas",
    ),
    _agent("replicas-negative", {"spec.replicas": -2}, "spec.replicas"),
    _agent("replicas-string", {"spec.replicas": "three"}, "spec.replicas"),
    _agent("replicas-too-many", {"spec.replicas": 10_001}, "spec.replicas"),
    _agent("cores-fractional", {"spec.coresPerReplica": 1.5}, "spec.coresPerReplica"),
    _agent("cores-zero", {"spec.coresPerReplica": 0}, "spec.coresPerReplica"),
    _agent("cores-above-node", {"spec.coresPerReplica": 256}, "spec.coresPerReplica"),
    _agent("cores-quoted", {"spec.coresPerReplica": "4"}, "spec.coresPerReplica"),
    _agent("cores-missing", {"spec.coresPerReplica": DELETE}, "spec.coresPerReplica"),
    _agent(
        "min-above-replicas",
        {"spec.replicas": 3, "spec.minReplicas": 5},
        "spec.minReplicas",
        "spec.minReplicas (5) must be <= spec.replicas (3): lower minReplicas or raise replicas",
    ),
    _agent("min-negative", {"spec.minReplicas": -1}, "spec.minReplicas"),
    _agent("priority-too-high", {"spec.priority": 2_000_000}, "spec.priority"),
    # --- AgentWorkload: memory
    _agent("memory-malformed", {"spec.memoryPerReplica": "2 GB"}, "spec.memoryPerReplica"),
    _agent("memory-zero", {"spec.memoryPerReplica": "0Gi"}, "spec.memoryPerReplica"),
    _agent("memory-negative", {"spec.memoryPerReplica": "-1Gi"}, "spec.memoryPerReplica"),
    _agent("memory-number", {"spec.memoryPerReplica": 2048}, "spec.memoryPerReplica"),
    _agent("memory-missing", {"spec.memoryPerReplica": DELETE}, "spec.memoryPerReplica"),
    # --- AgentWorkload: shape
    _agent("unknown-field", {"spec.replica": 3}, "spec.replica"),
    _agent("unknown-top-level", {"specification": {"replicas": 1}}, "specification"),
    _agent("no-spec", {"spec": DELETE}, "spec"),
    _agent("budget-bad-name", {"spec.budget": "Research_Team"}, "spec.budget"),
    _agent("spread-invalid", {"spec.placement.spread": "Rack"}, "spec.placement.spread"),
    _agent(
        "pools-duplicate",
        {"spec.placement.pools": ["graviton4", "graviton4"]},
        "spec.placement.pools",
    ),
    _agent("placement-wrong-type", {"spec.placement": "graviton4"}, "spec.placement"),
    # --- AgentWorkload: template
    _agent("no-containers", {CONTAINER: []}, CONTAINER),
    _agent("containers-missing", {"spec.template.spec": {}}, CONTAINER),
    _agent("template-missing", {"spec.template": DELETE}, "spec.template"),
    _agent("container-no-image", {f"{CONTAINER}[0].image": DELETE}, f"{CONTAINER}[0].image"),
    _agent("container-bad-name", {f"{CONTAINER}[0].name": "Agent_1"}, f"{CONTAINER}[0].name"),
    _agent(
        "containers-duplicate",
        {CONTAINER: [{"name": "agent", "image": "a:1"}, {"name": "agent", "image": "b:1"}]},
        CONTAINER,
    ),
    _agent(
        "template-metadata-unknown",
        {"spec.template.metadata.name": "pod"},
        "spec.template.metadata.name",
    ),
    _agent(
        "template-label-invalid",
        {"spec.template.metadata.labels": {"app": "has spaces"}},
        "spec.template.metadata.labels",
    ),
    # --- AgentWorkload: the template is a real Kubernetes PodSpec
    _agent("env-not-a-list", {f"{CONTAINER}[0].env": 5}, f"{CONTAINER}[0].env"),
    _agent(
        "env-item-no-name", {f"{CONTAINER}[0].env": [{"value": "1"}]}, f"{CONTAINER}[0].env[0].name"
    ),
    _agent(
        "env-value-number",
        {f"{CONTAINER}[0].env": [{"name": "THREADS", "value": 4}]},
        f"{CONTAINER}[0].env[0].value",
    ),
    _agent(
        "env-duplicate",
        {f"{CONTAINER}[0].env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]},
        f"{CONTAINER}[0].env[1]",
    ),
    _agent("ports-string", {f"{CONTAINER}[0].ports": "x"}, f"{CONTAINER}[0].ports"),
    _agent(
        "port-quoted",
        {f"{CONTAINER}[0].ports": [{"containerPort": "8080"}]},
        f"{CONTAINER}[0].ports[0].containerPort",
    ),
    _agent(
        "ports-duplicate",
        {f"{CONTAINER}[0].ports": [{"containerPort": 80}, {"containerPort": 80}]},
        f"{CONTAINER}[0].ports[1]",
    ),
    _agent(
        "cpu-list",
        {f"{CONTAINER}[0].resources": {"requests": {"cpu": []}}},
        f"{CONTAINER}[0].resources.requests.cpu",
    ),
    _agent(
        "cpu-not-a-quantity",
        {f"{CONTAINER}[0].resources": {"limits": {"cpu": "lots"}}},
        f"{CONTAINER}[0].resources.limits.cpu",
    ),
    _agent(
        "memory-fraction-unquoted",
        {f"{CONTAINER}[0].resources": {"requests": {"memory": 1.5}}},
        f"{CONTAINER}[0].resources.requests.memory",
    ),
    _agent(
        "resources-list",
        {f"{CONTAINER}[0].resources": ["cpu=1"]},
        f"{CONTAINER}[0].resources",
    ),
    _agent("container-unknown-field", {f"{CONTAINER}[0].portz": []}, f"{CONTAINER}[0].portz"),
    _agent("container-name-null", {f"{CONTAINER}[0].name": None}, f"{CONTAINER}[0].name"),
    _agent(
        "port-beyond-int32",
        {f"{CONTAINER}[0].ports": [{"containerPort": 2**40}]},
        f"{CONTAINER}[0].ports[0].containerPort",
    ),
    _agent(
        "deadline-beyond-int64",
        {"spec.template.spec.activeDeadlineSeconds": 2**64},
        "spec.template.spec.activeDeadlineSeconds",
    ),
    _agent("env-null-item", {f"{CONTAINER}[0].env": [None]}, f"{CONTAINER}[0].env[0]"),
    _agent(
        "pull-policy-unknown",
        {f"{CONTAINER}[0].imagePullPolicy": "Sometimes"},
        f"{CONTAINER}[0].imagePullPolicy",
    ),
    _agent("command-string", {f"{CONTAINER}[0].command": "sleep 1"}, f"{CONTAINER}[0].command"),
    _agent("args-numbers", {f"{CONTAINER}[0].args": ["--threads", 4]}, f"{CONTAINER}[0].args[1]"),
    _agent(
        "privileged-string",
        {f"{CONTAINER}[0].securityContext": {"privileged": "yes"}},
        f"{CONTAINER}[0].securityContext.privileged",
    ),
    _agent(
        "probe-port-fraction",
        {f"{CONTAINER}[0].readinessProbe": {"httpGet": {"port": 80.5}}},
        f"{CONTAINER}[0].readinessProbe.httpGet.port",
    ),
    _agent(
        "probe-unknown-handler",
        {f"{CONTAINER}[0].livenessProbe": {"http": {"port": 80}}},
        f"{CONTAINER}[0].livenessProbe.http",
    ),
    _agent("containers-object", {CONTAINER: {"name": "agent", "image": "a:1"}}, CONTAINER),
    _agent("container-string", {CONTAINER: ["agent:1"]}, f"{CONTAINER}[0]"),
    _agent(
        "init-containers-string",
        {"spec.template.spec.initContainers": "busybox"},
        "spec.template.spec.initContainers",
    ),
    _agent(
        "init-container-no-name",
        {"spec.template.spec.initContainers": [{"image": "busybox:1"}]},
        "spec.template.spec.initContainers[0].name",
    ),
    _agent(
        "volumes-object",
        {"spec.template.spec.volumes": {"name": "v"}},
        "spec.template.spec.volumes",
    ),
    _agent(
        "volume-source-string",
        {"spec.template.spec.volumes": [{"name": "v", "emptyDir": "yes"}]},
        "spec.template.spec.volumes[0].emptyDir",
    ),
    _agent(
        "volume-no-name",
        {"spec.template.spec.volumes": [{"emptyDir": {}}]},
        "spec.template.spec.volumes[0].name",
    ),
    _agent(
        "volume-claim-template-name",
        {
            "spec.template.spec.volumes": [
                {
                    "name": "scratch",
                    "ephemeral": {"volumeClaimTemplate": {"metadata": {"name": "x"}, "spec": {}}},
                }
            ]
        },
        "spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.name",
    ),
    _agent(
        "pod-unknown-field",
        {"spec.template.spec.nodeSelectr": {"a": "b"}},
        "spec.template.spec.nodeSelectr",
    ),
    _agent(
        "node-selector-number",
        {"spec.template.spec.nodeSelector": {"disk": 1}},
        "spec.template.spec.nodeSelector.disk",
    ),
    _agent(
        "tolerations-object",
        {"spec.template.spec.tolerations": {"key": "a"}},
        "spec.template.spec.tolerations",
    ),
    _agent(
        "grace-period-string",
        {"spec.template.spec.terminationGracePeriodSeconds": "30s"},
        "spec.template.spec.terminationGracePeriodSeconds",
    ),
    _agent(
        "host-network-string",
        {"spec.template.spec.hostNetwork": "true"},
        "spec.template.spec.hostNetwork",
    ),
    _agent(
        "affinity-list",
        {"spec.template.spec.affinity": {"nodeAffinity": []}},
        "spec.template.spec.affinity.nodeAffinity",
    ),
    _agent("pod-spec-string", {"spec.template.spec": "pod"}, "spec.template.spec"),
    _agent(
        "name-too-long",
        {"metadata.name": PREFIX + LONG_NAME},
        "metadata.name",
        "metadata.name (64 characters) must be at most 63 characters",
    ),
    # --- CoreBudget
    _budget(
        "lending-above-cores",
        {"spec.cores": 10, "spec.lendingLimit": 20},
        "spec.lendingLimit",
        "spec.lendingLimit (20) must be <= spec.cores (10): lower lendingLimit or raise cores",
    ),
    _budget("cores-negative", {"spec.cores": -1}, "spec.cores"),
    _budget("cores-fractional", {"spec.cores": 2.5}, "spec.cores"),
    _budget("cores-missing", {"spec.cores": DELETE}, "spec.cores"),
    _budget("queueing-invalid", {"spec.queueing": "FIFO"}, "spec.queueing"),
    _budget(
        "reclaim-invalid",
        {"spec.preemption.reclaimFromCohort": "Always"},
        "spec.preemption.reclaimFromCohort",
    ),
    _budget(
        "borrowing-without-cohort",
        {"spec.cohort": DELETE, "spec.lendingLimit": DELETE},
        "spec.borrowingLimit",
        "spec.borrowingLimit needs spec.cohort",
    ),
    _budget("cohort-invalid", {"spec.cohort": "Team A"}, "spec.cohort"),
    _budget("selector-missing", {"spec.namespaceSelector": DELETE}, "spec.namespaceSelector"),
    _budget(
        "selector-bad-operator",
        {"spec.namespaceSelector.matchExpressions": [{"key": "team", "operator": "Equals"}]},
        "spec.namespaceSelector.matchExpressions[0].operator",
    ),
    _budget(
        "selector-in-without-values",
        {"spec.namespaceSelector.matchExpressions": [{"key": "team", "operator": "In"}]},
        "spec.namespaceSelector.matchExpressions[0].values",
        "values must list at least one value when operator is In",
    ),
    _budget("pools-wrong-type", {"spec.pools": "graviton4"}, "spec.pools"),
    _budget(
        "core-hours-rolling-month",
        {"spec.coreHours": {"limit": 10, "window": "month", "windowType": "Rolling"}},
        "spec.coreHours.window",
        "spec.coreHours.window month needs windowType Calendar",
    ),
    _budget(
        "core-hours-window-unit",
        {"spec.coreHours": {"limit": 10, "window": "1y"}},
        "spec.coreHours.window",
    ),
    _budget(
        "core-hours-limit-negative",
        {"spec.coreHours": {"limit": -1, "window": "1d"}},
        "spec.coreHours.limit",
    ),
    _budget(
        "core-hours-on-exhausted",
        {"spec.coreHours": {"limit": 1, "window": "1d", "onExhausted": "Evict"}},
        "spec.coreHours.onExhausted",
    ),
    # --- CorePool
    _pool("reserved-negative", {"spec.reservedCoresPerNode": -1}, "spec.reservedCoresPerNode"),
    _pool("max-cores-zero", {"spec.maxCores": 0}, "spec.maxCores"),
    _pool("weight-too-high", {"spec.weight": 1000}, "spec.weight"),
    _pool("price-not-decimal", {"spec.pricePerCoreHour": "$0.04"}, "spec.pricePerCoreHour"),
    _pool("price-number", {"spec.pricePerCoreHour": 0.04}, "spec.pricePerCoreHour"),
    _pool("unknown-field-case", {"spec.maxcores": 64}, "spec.maxcores"),
    _pool("selector-missing", {"spec.nodeSelector": DELETE}, "spec.nodeSelector"),
    _pool(
        "match-labels-number",
        {"spec.nodeSelector.matchLabels": {"karpenter.sh/nodepool": 4}},
        "spec.nodeSelector.matchLabels",
    ),
    _pool(
        "toleration-bad-effect",
        {"spec.tolerations[0].effect": "NoRun"},
        "spec.tolerations[0].effect",
    ),
    _pool(
        "toleration-exists-with-value",
        {"spec.tolerations[0].operator": "Exists"},
        "spec.tolerations[0].value",
        "value must be empty when operator is Exists",
    ),
    _pool(
        "toleration-seconds-without-noexecute",
        {"spec.tolerations[0].tolerationSeconds": 30},
        "spec.tolerations[0].tolerationSeconds",
        "tolerationSeconds applies only to effect NoExecute",
    ),
]

GOOD: list[Case] = [
    Case("aw-base", agent("base")),
    Case("aw-min-equals-replicas", edit(agent("min-eq"), {"spec.minReplicas": 3})),
    Case("aw-whole-float", edit(agent("whole-float"), {"spec.replicas": 2.0})),
    Case(
        "aw-scaled-to-zero",
        edit(agent("zero"), {"spec.replicas": 0, "spec.minReplicas": 0}),
    ),
    Case(
        "aw-zero-min-follows",
        edit(agent("zero-follows"), {"spec.replicas": 0, "spec.minReplicas": DELETE}),
    ),
    Case("aw-min-zero", edit(agent("min-zero"), {"spec.minReplicas": 0})),
    Case(
        "aw-minimal",
        edit(
            agent("minimal"),
            {
                "spec.budget": DELETE,
                "spec.minReplicas": DELETE,
                "spec.priority": DELETE,
                "spec.placement": DELETE,
                "spec.template.metadata": DELETE,
            },
        ),
    ),
    Case("aw-memory-decimal", edit(agent("mem-decimal"), {"spec.memoryPerReplica": "1.5Gi"})),
    Case("aw-memory-bytes", edit(agent("mem-bytes"), {"spec.memoryPerReplica": "1073741824"})),
    Case("aw-memory-si", edit(agent("mem-si"), {"spec.memoryPerReplica": "512M"})),
    Case("aw-cores-max", edit(agent("cores-max"), {"spec.coresPerReplica": 192})),
    Case("aw-name-63", edit(agent("n63"), {"metadata.name": PREFIX + LONG_NAME[:-1]})),
    Case(
        "aw-any-pod-fields",
        edit(
            agent("pod-fields"),
            {
                "spec.template.spec.securityContext": {"runAsNonRoot": True},
                "spec.template.spec.initContainers": [{"name": "fetch", "image": "busybox:1"}],
                "spec.template.spec.volumes": [{"name": "models", "emptyDir": {}}],
                f"{CONTAINER}[0].ports": [{"containerPort": 8080}],
                f"{CONTAINER}[0].resources": {"requests": {"cpu": "1"}},
                "spec.template.metadata.annotations": {"example.com/note": "kept"},
            },
        ),
    ),
    Case(
        "aw-real-pod-spec",
        edit(
            agent("real-pod"),
            {
                CONTAINER: [
                    {
                        "name": "agent",
                        "image": "ghcr.io/example/agent:1",
                        "env": [
                            {"name": "MODEL", "value": "/models/q4.gguf"},
                            {
                                "name": "TOKEN",
                                "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}},
                            },
                        ],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {
                            "requests": {"cpu": 2, "memory": "1Gi"},
                            "limits": {"cpu": "2"},
                        },
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                        "workingDir": None,
                    },
                    {"name": "log-shipper", "image": "busybox:1", "args": ["tail", "-F", "/log"]},
                ],
                "spec.template.spec.initContainers": [
                    {"name": "sidecar", "image": "busybox:1", "restartPolicy": "Always"}
                ],
                "spec.template.spec.volumes": [
                    {
                        "name": "models",
                        "ephemeral": {
                            "volumeClaimTemplate": {
                                "metadata": {"labels": {"app": "agent"}},
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "10Gi"}},
                                },
                            }
                        },
                    }
                ],
                "spec.template.spec.nodeSelector": {"disk": "ssd"},
                "spec.template.spec.terminationGracePeriodSeconds": 30,
            },
        ),
    ),
    Case(
        "aw-whole-floats-and-nulls",
        edit(
            agent("floats-nulls"),
            {
                f"{CONTAINER}[0].resources": {"requests": {"cpu": 2.0}},
                f"{CONTAINER}[0].ports": [{"containerPort": 80.0, "name": None}],
                "spec.template.spec.nodeSelector": {"disk": None},
                "spec.template.spec.activeDeadlineSeconds": 2**63 - 1,
            },
        ),
    ),
    Case("cbudget-base", budget("base")),
    Case(
        "cbudget-minimal",
        {
            "apiVersion": API_VERSION,
            "kind": "CoreBudget",
            "metadata": {"name": PREFIX + "minimal"},
            "spec": {"namespaceSelector": {}, "cores": 8},
        },
    ),
    Case("cbudget-lending-equals-cores", edit(budget("lend-eq"), {"spec.lendingLimit": 32})),
    Case(
        "cbudget-core-hours",
        edit(
            budget("core-hours"),
            {
                "spec.coreHours": {
                    "limit": 0.5,
                    "window": "10m",
                    "windowType": "Rolling",
                    "onExhausted": "ScaleToMin",
                }
            },
        ),
    ),
    Case("cpool-price", edit(pool("price"), {"spec.pricePerCoreHour": "0.0399"})),
    Case(
        "cbudget-core-hours-month",
        edit(budget("core-hours-month"), {"spec.coreHours": {"limit": 20000, "window": "month"}}),
    ),
    Case(
        "cbudget-borrow-only",
        edit(budget("borrow-only"), {"spec.cores": 0, "spec.lendingLimit": 0}),
    ),
    Case(
        "cbudget-selector-exists",
        edit(
            budget("sel-exists"),
            {
                "spec.namespaceSelector": {
                    "matchExpressions": [{"key": "team", "operator": "Exists"}]
                }
            },
        ),
    ),
    Case("cpool-base", pool("base")),
    Case(
        "cpool-minimal",
        {
            "apiVersion": API_VERSION,
            "kind": "CorePool",
            "metadata": {"name": PREFIX + "minimal"},
            "spec": {"nodeSelector": {}},
        },
    ),
    Case(
        "cpool-tolerate-all",
        edit(pool("tolerate-all"), {"spec.tolerations": [{"operator": "Exists"}]}),
    ),
    Case(
        "cpool-noexecute-seconds",
        edit(
            pool("noexecute"),
            {
                "spec.tolerations[0].effect": "NoExecute",
                "spec.tolerations[0].tolerationSeconds": 300,
            },
        ),
    ),
]
