"""Who removed a running pod? A poller that classifies every disappearance.

Node-fault tests need to tell a pod Paddock deleted from one the test's own drain evicted or
one that went with its deleted node. The poller lists the namespace's pods and the nodes every
`interval` seconds and, for each pod once seen Running that is deleted (gone, or terminating),
records why by elimination:

- `node gone`: its node no longer exists (node deletion, the pod garbage collector follows);
- `drained`: its node is one the test drained (eviction, honouring PodDisruptionBudgets);
- `spec changed`: its workload's generation moved since the pod was first seen;
- otherwise `deleted by paddock`: a running pod on a live node, not drained, spec unchanged.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from tests.support.soak import GROUP, VERSION


@dataclass(frozen=True)
class Gone:
    pod: str
    workload: str
    node: str
    why: str


@dataclass
class PodWatch:
    api: client.ApiClient
    namespace: str
    interval: float = 0.5
    drained: set[str] = field(default_factory=set)
    gone: list[Gone] = field(default_factory=list)
    polls: int = 0
    errors: int = 0
    _running: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.poll()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.poll()

    def drain(self, node: str) -> None:
        """Say a node is about to be drained: its pods' evictions are the test's."""
        with self._lock:
            self.drained.add(node)

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(g.why for g in self.gone)

    def by_paddock(self) -> list[Gone]:
        with self._lock:
            return [g for g in self.gone if g.why == "deleted by paddock"]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # a loaded API server: the next poll sees the same disappearance
                self.errors += 1

    def poll(self) -> None:
        core = client.CoreV1Api(self.api)
        custom = client.CustomObjectsApi(self.api)
        pods = core.list_namespaced_pod(self.namespace).to_dict()["items"]
        nodes = {n["metadata"]["name"] for n in core.list_node().to_dict()["items"]}
        listed: dict[str, Any] = custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "agentworkloads"
        )
        generations = {
            w["metadata"]["name"]: int(w["metadata"]["generation"]) for w in listed["items"]
        }
        running: dict[str, tuple[str, str, str, int]] = {}
        for pod in pods:
            meta, node = pod["metadata"], pod["spec"].get("node_name")
            workload = (meta.get("labels") or {}).get("paddock.dev/workload")
            seen = self._running.get(meta["uid"])
            # Once seen Running, a pod counts until it is deleted (a NotReady node's pods may
            # change phase without anyone deleting them).
            alive = seen is not None or pod["status"].get("phase") == "Running"
            if workload and node and alive and not meta.get("deletion_timestamp"):
                generation = seen[3] if seen else generations.get(workload, -1)
                running[meta["uid"]] = (meta["name"], workload, node, generation)
        with self._lock:
            for uid, (name, workload, node, generation) in self._running.items():
                if uid in running:
                    continue
                if node not in nodes:
                    why = "node gone"
                elif node in self.drained:
                    why = "drained"
                elif generations.get(workload) != generation:
                    why = "spec changed"
                else:
                    why = "deleted by paddock"
                self.gone.append(Gone(name, workload, node, why))
            self._running = running
            self.polls += 1

    def running_count(self, workload: str) -> int:
        with self._lock:
            return sum(1 for _, w, _, _ in self._running.values() if w == workload)

    def running_on(self, node: str) -> list[str]:
        with self._lock:
            return [w for _, w, n, _ in self._running.values() if n == node]
