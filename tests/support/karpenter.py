"""Real Karpenter (its kwok cloud provider) on the local control plane, for tests and the bench.

`ensure_karpenter` adds Karpenter to the running control plane (`hack/cluster.sh up
--karpenter`: built once, cached); `NodePools` makes NodePools and removes them; `LimitSampler`
reads a NodePool's usage in the background, so a test can say its cores never passed its limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from paddock.autoscaling.instance_types import CATALOGUE
from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.waiting import wait_for

GROUP, VERSION = "karpenter.sh", "v1"
ARM64_TAINT = {"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"}


def ensure_karpenter(cluster: Cluster) -> None:
    """Karpenter's CRDs installed and its controller running against this API server."""
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    subprocess.run(
        [str(REPO_ROOT / "hack" / "cluster.sh"), "up", "--karpenter"],
        env=env,
        check=True,
        timeout=1800,  # the first run builds Karpenter (minutes on two busy cores)
    )
    cluster.wait_established("nodepools.karpenter.sh", "nodeclaims.karpenter.sh")


def claim_millicores(claim: dict[str, Any]) -> int:
    """A NodeClaim's real vCPUs: its instance type's (Karpenter's kwok provider reports the
    pods' requests as capacity, smaller than the instance), else its reported capacity."""
    reported = cpu_millicores(((claim.get("status") or {}).get("capacity") or {}).get("cpu"))
    labels = (claim.get("metadata") or {}).get("labels") or {}
    known = CATALOGUE.get(labels.get("node.kubernetes.io/instance-type", ""))
    return max(reported, known.vcpus * 1000 if known else 0)


def cpu_millicores(value: Any) -> int:
    text = str(value or "0")
    return int(float(text[:-1])) if text.endswith("m") else int(float(text) * 1000)


@dataclass
class NodePools:
    """NodePools made by one test (each with the label type=kwok, so kwok runs its nodes)."""

    cluster: Cluster
    api: client.ApiClient
    made: list[str] = field(default_factory=list)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def create(
        self,
        name: str,
        *,
        limit_cpu: int,
        families: tuple[str, ...] = ("c7g",),
        zones: tuple[str, ...] = (),
        sizes: tuple[str, ...] = (),
        consolidate_after: str = "5s",
    ) -> str:
        requirements: list[dict[str, Any]] = [
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            {
                "key": "karpenter.k8s.aws/instance-family",
                "operator": "In",
                "values": list(families),
            },
        ]
        if sizes:
            requirements.append(
                {"key": "karpenter.k8s.aws/instance-size", "operator": "In", "values": list(sizes)}
            )
        if zones:
            requirements.append(
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(zones)}
            )
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "NodePool",
            "metadata": {"name": name},
            "spec": {
                "template": {
                    "metadata": {"labels": {"type": "kwok"}},
                    "spec": {
                        "requirements": requirements,
                        "taints": [ARM64_TAINT],
                        "nodeClassRef": {
                            "group": "karpenter.kwok.sh",
                            "kind": "KWOKNodeClass",
                            "name": "default",
                        },
                        "expireAfter": "Never",
                    },
                },
                "limits": {"cpu": str(limit_cpu)},
                "disruption": {
                    "consolidationPolicy": "WhenEmptyOrUnderutilized",
                    "consolidateAfter": consolidate_after,
                },
            },
        }
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
        self.made.append(name)
        return name

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_cluster_custom_object(
            GROUP, VERSION, "nodepools", name
        )
        return found

    def used_millicores(self, name: str) -> int:
        return cpu_millicores(
            ((self.get(name).get("status") or {}).get("resources") or {}).get("cpu")
        )

    def claims(self, name: str) -> list[dict[str, Any]]:
        found = self.custom.list_cluster_custom_object(
            GROUP, VERSION, "nodeclaims", label_selector=f"karpenter.sh/nodepool={name}"
        )
        items: list[dict[str, Any]] = found["items"]
        return items

    def nodes(self, name: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            client.CoreV1Api(self.api)
            .list_node(label_selector=f"karpenter.sh/nodepool={name}")
            .to_dict()["items"]
        )
        return items

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        def ready() -> bool:
            conditions = (self.get(name).get("status") or {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_for(ready, timeout=timeout, what=f"NodePool {name} Ready")

    def cleanup(self) -> None:
        for name in self.made:
            self.cluster.kubectl("delete", "nodepool", name, "--wait=false", check=False)


@dataclass
class LimitSampler:
    """Samples a NodePool's cores (status.resources.cpu and the sum of its NodeClaims' real
    vCPUs, whichever is larger) every `interval` seconds in a thread, until stopped."""

    pools: NodePools
    name: str
    interval: float = 0.5
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> LimitSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status = self.pools.used_millicores(self.name)
                claimed = sum(claim_millicores(c) for c in self.pools.claims(self.name))
                self.samples.append((time.monotonic(), max(status, claimed)))
            except Exception:  # a slow API server: the next sample counts
                pass
            self._stop.wait(self.interval)

    def stop(self) -> int:
        """Stop; the most millicores ever seen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        return max((m for _, m in self.samples), default=0)
