"""Builders for Paddock objects and their isolated test ground.

Every test gets its own fake Graviton nodes (a unique karpenter.sh/nodepool
label), its own CorePools over them and its own CoreBudgets selecting its own
namespace, so tests never compete for cores with each other or the examples.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from paddock.controller.status import unwritten
from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.waiting import wait_for

ARM64_TOLERATION = {
    "key": "kubernetes.io/arch",
    "operator": "Equal",
    "value": "arm64",
    "effect": "NoSchedule",
}


@dataclass
class Ground:
    """One test's private cluster-scoped objects; `cleanup()` deletes them."""

    cluster: Cluster
    namespace: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    nodes: list[str] = field(default_factory=list)
    pools: list[str] = field(default_factory=list)
    cluster_objects: list[tuple[str, str]] = field(default_factory=list)

    def name(self, base: str) -> str:
        return f"{base}-{self.tag}"

    def add_nodes(
        self, pool: str, instance_type: str, count: int, *, taint: bool = True, start: int = 0
    ) -> list[str]:
        """kwok nodes labelled karpenter.sh/nodepool=<pool>-<tag>; returns their names."""
        label = self.name(pool)
        generated = subprocess.run(
            [
                sys.executable,
                str(REPO_ROOT / "hack" / "fake-nodes.py"),
                "--pool",
                label,
                "--type",
                instance_type,
                "--count",
                str(count),
                "--start",
                str(start),
                *(["--taint"] if taint else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        self.cluster.kubectl("apply", "-f", "-", input=generated.stdout)
        names = [item["metadata"]["name"] for item in json.loads(generated.stdout)["items"]]
        self.nodes += names
        wait_for(
            lambda: all(self.node_ready(n) for n in names), timeout=30, what=f"nodes {names} Ready"
        )
        return names

    def node_ready(self, name: str) -> bool:
        node = self.cluster.get_json("node", name)
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in node["status"].get("conditions", [])
        )

    def pool(self, base: str, **spec: Any) -> str:
        """A CorePool over this test's nodes of pool `base`."""
        name = self.name(base)
        body = {
            "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": name}},
            "tolerations": [ARM64_TOLERATION],
            **spec,
        }
        self.create("CorePool", name, body)
        self.pools.append(name)
        return name

    def budget(self, base: str, cores: int, **spec: Any) -> str:
        """A CoreBudget selecting this test's namespace, limited to this test's pools."""
        name = self.name(base)
        body = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}},
            "cores": cores,
            "pools": list(self.pools),
            **spec,
        }
        self.create("CoreBudget", name, body)
        return name

    def create(self, kind: str, name: str, spec: dict[str, Any]) -> None:
        manifest = {
            "apiVersion": "paddock.dev/v1alpha1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        self.cluster_objects.append((kind.lower(), name))

    def workload(
        self,
        name: str,
        *,
        budget: str | None,
        replicas: int,
        cores: int,
        memory: str = "1Gi",
        image: str = "registry.example/agent:1",
        **spec: Any,
    ) -> str:
        body: dict[str, Any] = {
            "replicas": replicas,
            "coresPerReplica": cores,
            "memoryPerReplica": memory,
            "template": {"spec": {"containers": [{"name": "agent", "image": image}]}},
            **spec,
        }
        if budget is not None:
            body["budget"] = budget
        manifest = {
            "apiVersion": "paddock.dev/v1alpha1",
            "kind": "AgentWorkload",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": body,
        }
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        return name

    def status(self, workload: str) -> dict[str, Any]:
        found: dict[str, Any] = self.cluster.get_json("aw", workload, "-n", self.namespace)
        return found.get("status") or {}

    def wait_status(
        self, workload: str, what: str, timeout: float = 30, **expected: Any
    ) -> dict[str, Any]:
        """Wait until every `expected` status field has its value, in a status the operator
        wrote; return the status. (The API server shows a status nobody wrote as `phase:
        Queued`, the CRD's default, with no reason: that one is not what a test waits for.)"""

        def probe() -> dict[str, Any] | None:
            status = self.status(workload)
            ok = not unwritten(status) and all(status.get(k) == v for k, v in expected.items())
            return status if ok else None

        try:
            return wait_for(probe, timeout=timeout, what=f"{workload}: {what}")
        except AssertionError as error:
            raise AssertionError(
                f"{error}\nstatus now: {json.dumps(self.status(workload))}"
            ) from None

    def pods(self, workload: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get_json(
            "pods", "-n", self.namespace, "-l", f"paddock.dev/workload={workload}"
        )["items"]
        return items

    def running_pods(self, workload: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods(workload)
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        ]

    def deployments(self, workload: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get_json(
            "deployments", "-n", self.namespace, "-l", f"paddock.dev/workload={workload}"
        )["items"]
        return items

    def events(self, workload: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get_json(
            "events",
            "-n",
            self.namespace,
            "--field-selector",
            f"involvedObject.kind=AgentWorkload,involvedObject.name={workload}",
        )["items"]
        return items

    def cleanup(self) -> None:
        for kind, name in reversed(self.cluster_objects):
            self.cluster.kubectl("delete", kind, name, "--wait=false", check=False)
        if self.nodes:
            self.cluster.kubectl("delete", "node", *self.nodes, "--wait=false", check=False)
