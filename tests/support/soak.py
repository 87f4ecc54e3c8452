"""The SIGKILL soak's parts: a churn of AgentWorkloads, snapshots of the cluster, and the
checks that count doubled and lost admissions.

The checks are independent of the operator's code: they read only what the API server holds
(AgentWorkloads, Deployments, pods, nodes, CoreBudgets) and recompute, from first principles,
what must hold at any instant (no workload, budget or node over its limit) and what must hold
once everything has settled (nothing that fits is left queued).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.operator import OperatorProcess
from tests.support.waiting import wait_for

GROUP, VERSION = "paddock.dev", "v1alpha1"


@dataclass(frozen=True)
class SoakSize:
    """How hard the soak pushes: the short one fits CI on 2 cores, the long one a quiet box."""

    kills: int
    workloads: int
    alive: int
    small_nodes: int
    large_nodes: int
    budget_scale: int

    @classmethod
    def from_env(cls) -> SoakSize:
        """PADDOCK_SOAK=long for the long run; PADDOCK_SOAK_KILLS / _WORKLOADS override."""
        long = os.environ.get("PADDOCK_SOAK", "short") == "long"
        size = (
            cls(kills=300, workloads=600, alive=70, small_nodes=24, large_nodes=16, budget_scale=2)
            if long
            else cls(
                kills=100, workloads=200, alive=35, small_nodes=12, large_nodes=8, budget_scale=1
            )
        )
        return cls(
            kills=int(os.environ.get("PADDOCK_SOAK_KILLS", size.kills)),
            workloads=int(os.environ.get("PADDOCK_SOAK_WORKLOADS", size.workloads)),
            alive=size.alive,
            small_nodes=size.small_nodes,
            large_nodes=size.large_nodes,
            budget_scale=size.budget_scale,
        )


@dataclass(frozen=True)
class Budget:
    name: str
    cores: int
    cohort: str | None = None
    borrowing_limit: int | None = None

    @property
    def limit(self) -> int:
        """The most this budget may ever hold: nominal plus what it may borrow."""
        return self.cores + ((self.borrowing_limit or 0) if self.cohort else 0)


# ------------------------------------------------------------------ the churn
@dataclass
class Churn:
    """Creates, resizes and deletes workloads from a background thread, at random.

    Every spec written is remembered by generation, so a check can tell what the spec allowed
    at any generation the operator may still be acting on.
    """

    api: client.CustomObjectsApi
    namespace: str
    budgets: list[Budget]
    size: SoakSize
    rng: random.Random
    created: int = 0
    deleted: int = 0
    resized: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    alive: set[str] = field(default_factory=set)
    # workload -> {generation: replicas}
    specs: dict[str, dict[int, int]] = field(default_factory=dict)
    cores: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, period: float) -> None:
        self.thread = threading.Thread(target=self._run, args=(period,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=60)

    def _run(self, period: float) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except ApiException as error:  # the API server is loaded: count it, go on
                self.errors[str(error.status)] += 1
            self.stopping.wait(self.rng.uniform(0, 2 * period))

    def step(self) -> None:
        with self.lock:
            alive = sorted(self.alive)
        roll = self.rng.random()
        may_create = self.created < self.size.workloads
        if may_create and len(alive) < self.size.alive and (roll < 0.6 or len(alive) < 5):
            self.create()
        elif roll < 0.75 and alive and (may_create or len(alive) > self.size.alive // 2):
            # once all are created, deletes stop at half the live target: a full cluster to the end
            self.delete(self.rng.choice(alive))
        elif alive:
            self.resize(self.rng.choice(alive))

    def _spec(self, replicas: int, cores: int, min_replicas: int | None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "budget": self.rng.choice(self.budgets).name,
            "replicas": replicas,
            "coresPerReplica": cores,
            "memoryPerReplica": "256Mi",
            "template": {"spec": {"containers": [{"name": "agent", "image": "agent:1"}]}},
        }
        if min_replicas is not None:
            spec["minReplicas"] = min_replicas
        return spec

    def create(self) -> None:
        name = f"w{self.created:04d}"
        replicas = self.rng.randint(1, 4)
        cores = self.rng.choice([1, 2, 3, 4, 6])
        floor = self.rng.randint(1, replicas) if self.rng.random() < 0.4 else None
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AgentWorkload",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": self._spec(replicas, cores, floor),
        }
        self.created += 1
        made: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "agentworkloads", body
        )
        with self.lock:
            self.alive.add(name)
            self.cores[name] = cores
            self.specs[name] = {made["metadata"]["generation"]: replicas}

    def resize(self, name: str) -> None:
        replicas = self.rng.randint(1, 5)
        floor = self.rng.randint(1, replicas) if self.rng.random() < 0.5 else replicas
        patch = {"spec": {"replicas": replicas, "minReplicas": floor}}
        made: dict[str, Any] = self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "agentworkloads", name, patch
        )
        self.resized += 1
        with self.lock:
            self.specs[name][made["metadata"]["generation"]] = replicas

    def delete(self, name: str) -> None:
        with self.lock:
            self.alive.discard(name)
        self.api.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "agentworkloads", name
        )
        self.deleted += 1

    def allowed_replicas(self, name: str, since_generation: int) -> int:
        """The most replicas any spec at or after `since_generation` asked for."""
        with self.lock:
            history = dict(self.specs.get(name, {}))
        later = [r for g, r in history.items() if g >= since_generation]
        return max(later or history.values() or [0])


# ------------------------------------------------------------------ snapshots
def whole_cores(quantity: str) -> float:
    """A CPU quantity in cores: "7910m" -> 7.91, "4" -> 4.0."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@dataclass
class Snapshot:
    """What the API server holds for the soak's namespace and nodes at one instant."""

    workloads: dict[str, dict[str, Any]]
    deployments: dict[str, list[dict[str, Any]]]
    pods: dict[str, list[dict[str, Any]]]
    node_pods: dict[str, list[dict[str, Any]]]
    allocatable: dict[str, float]
    taken_at: float

    @classmethod
    def take(cls, api: client.ApiClient, namespace: str, node_label: str) -> Snapshot:
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)
        apps = client.AppsV1Api(api)
        listed: dict[str, Any] = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "agentworkloads"
        )
        # Everything else is read at the very revision the workloads were: etcd's revision is
        # global, so the snapshot is one instant even while the operator writes.
        at = {
            "resource_version": listed["metadata"]["resourceVersion"],
            "resource_version_match": "Exact",
        }
        workloads = {
            w["metadata"]["name"]: w
            for w in listed["items"]
            if not w["metadata"].get("deletionTimestamp")
        }
        deployments: dict[str, list[dict[str, Any]]] = {}
        for d in apps.list_namespaced_deployment(namespace, **at).to_dict()["items"]:
            owner = (d["metadata"].get("labels") or {}).get("paddock.dev/workload")
            # Deleted in the foreground: listed until its pods are gone, which the pod checks
            # still count; its replicas are no longer asked for.
            if owner and not d["metadata"].get("deletion_timestamp"):
                deployments.setdefault(owner, []).append(d)
        pods: dict[str, list[dict[str, Any]]] = {}
        node_pods: dict[str, list[dict[str, Any]]] = {}
        for p in core.list_namespaced_pod(namespace, **at).to_dict()["items"]:
            if p["metadata"].get("deletion_timestamp") or p["status"]["phase"] in (
                "Succeeded",
                "Failed",
            ):
                continue
            owner = (p["metadata"].get("labels") or {}).get("paddock.dev/workload")
            if owner:
                pods.setdefault(owner, []).append(p)
            if p["spec"].get("node_name"):
                node_pods.setdefault(p["spec"]["node_name"], []).append(p)
        nodes = core.list_node(label_selector=node_label, **at).to_dict()["items"]
        allocatable = {
            n["metadata"]["name"]: whole_cores(n["status"]["allocatable"]["cpu"])
            for n in nodes
            if not n["spec"].get("unschedulable")
        }
        return cls(workloads, deployments, pods, node_pods, allocatable, time.monotonic())

    def deployed_replicas(self, name: str) -> int:
        return sum(int(d["spec"]["replicas"] or 0) for d in self.deployments.get(name, []))

    def per_pool(self, name: str) -> str:
        return ", ".join(
            f"{(d['metadata'].get('labels') or {}).get('paddock.dev/pool')}={d['spec']['replicas']}"
            for d in self.deployments.get(name, [])
        )

    def holders(self, budget: str) -> str:
        """Who holds a budget's cores: `w0012 3x4 (status 3)`, for diagnosis."""
        return ", ".join(
            f"{name} {self.deployed_replicas(name)}x{w['spec']['coresPerReplica']} "
            f"(status {(w.get('status') or {}).get('admittedReplicas')})"
            for name, w in sorted(self.workloads.items())
            if w["spec"].get("budget") == budget and self.deployed_replicas(name)
        )

    def budget_used(self, budget: str) -> int:
        """Cores held by the Deployments of this budget's live workloads."""
        return sum(
            self.deployed_replicas(name) * int(w["spec"]["coresPerReplica"])
            for name, w in self.workloads.items()
            if w["spec"].get("budget") == budget
        )

    def node_free(self) -> dict[str, float]:
        free: dict[str, float] = {}
        for node, whole in self.allocatable.items():
            used = 0.0
            for p in self.node_pods.get(node, []):
                for c in p["spec"]["containers"]:
                    used += whole_cores(
                        ((c.get("resources") or {}).get("requests") or {}).get("cpu", "0")
                    )
            free[node] = int(whole) - used
        return free


# ------------------------------------------------------------------ the checks
def doubled(snapshot: Snapshot, churn: Churn, budgets: list[Budget]) -> list[str]:
    """Every over-admission visible at this instant, as sentences (empty: none)."""
    found: list[str] = []
    for name, w in snapshot.workloads.items():
        status = w.get("status") or {}
        seen = int(status.get("observedGeneration") or 0)
        allowed = churn.allowed_replicas(name, seen)
        ever = churn.allowed_replicas(name, 0)
        deployed = snapshot.deployed_replicas(name)
        pods = len(snapshot.pods.get(name, []))
        where = (
            f"(Deployments {snapshot.per_pool(name)}, status admits "
            f"{status.get('admittedReplicas')} at generation {seen}, spec generation "
            f"{w['metadata']['generation']})"
        )
        if deployed > allowed:
            found.append(
                f"{name}: Deployments hold {deployed} replicas, spec allows {allowed} {where}"
            )
        if pods > ever:
            found.append(f"{name}: {pods} pods, no spec ever asked for more than {ever} {where}")
        for d in snapshot.deployments.get(name, []):
            for c in d["spec"]["template"]["spec"]["containers"]:
                cpu = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
                if c["name"] == "agent" and cpu and whole_cores(cpu) > churn.cores[name]:
                    found.append(f"{name}: {d['metadata']['name']} requests {cpu} cores per pod")
    cohorts: dict[str, tuple[int, int]] = {}
    for b in budgets:
        used = snapshot.budget_used(b.name)
        if used > b.limit:
            found.append(
                f"budget {b.name}: {used} cores admitted, limit {b.limit} "
                f"({snapshot.holders(b.name)})"
            )
        if b.cohort:
            nominal, total = cohorts.get(b.cohort, (0, 0))
            cohorts[b.cohort] = (nominal + b.cores, total + used)
    for cohort, (nominal, total) in cohorts.items():
        if total > nominal:
            found.append(f"cohort {cohort}: {total} cores admitted, nominal {nominal}")
    for node, free in snapshot.node_free().items():
        if free < 0:
            found.append(f"node {node}: {-free:g} cores over its allocatable")
    return found


def first_fit(free: dict[str, float], replicas: int, cores: int) -> bool:
    """Whether `replicas` pods of `cores` each fit on these nodes (packing allowed)."""
    left = dict(free)
    for _ in range(replicas):
        node = next((n for n, f in sorted(left.items()) if f >= cores), None)
        if node is None:
            return False
        left[node] -= cores
    return True


def budget_room(snapshot: Snapshot, budget: Budget, budgets: list[Budget]) -> int:
    """Cores this budget may still admit: up to its limit, and in a cohort no more than the
    cohort's nominal cores left unused (what others borrowed is not free again by itself)."""
    room = budget.limit - snapshot.budget_used(budget.name)
    if budget.cohort:
        members = [b for b in budgets if b.cohort == budget.cohort]
        cohort_room = sum(b.cores - snapshot.budget_used(b.name) for b in members)
        room = min(room, cohort_room)
    return room


def lost(snapshot: Snapshot, budgets: list[Budget]) -> list[str]:
    """Queued workloads that fit now: their budget has room and the nodes have room."""
    by_name = {b.name: b for b in budgets}
    free = snapshot.node_free()
    found: list[str] = []
    for name, w in sorted(snapshot.workloads.items()):
        status = w.get("status") or {}
        if int(status.get("admittedReplicas") or 0) > 0:
            continue
        spec = w["spec"]
        need = int(spec.get("minReplicas") or spec["replicas"])
        cores = int(spec["coresPerReplica"])
        room = budget_room(snapshot, by_name[spec["budget"]], budgets)
        if need * cores <= room and first_fit(free, need, cores):
            found.append(
                f"{name}: {need} x {cores} cores fit (budget room {room}) but it is "
                f"{status.get('phase')}/{status.get('reason')}"
            )
    return found


def settled_mismatch(snapshot: Snapshot) -> list[str]:
    """Once settled, every workload's Deployments hold exactly what its status admits."""
    found: list[str] = []
    for name, w in sorted(snapshot.workloads.items()):
        admitted = int((w.get("status") or {}).get("admittedReplicas") or 0)
        deployed = snapshot.deployed_replicas(name)
        if deployed != admitted:
            found.append(f"{name}: status admits {admitted}, Deployments hold {deployed}")
    return found


def fingerprint(snapshot: Snapshot) -> tuple[Any, ...]:
    """What must stop changing for the cluster to count as settled."""
    rows = []
    for name, w in sorted(snapshot.workloads.items()):
        status = w.get("status") or {}
        rows.append(
            (
                name,
                w["metadata"]["generation"],
                status.get("observedGeneration"),
                status.get("phase"),
                status.get("admittedReplicas"),
                snapshot.deployed_replicas(name),
                len(snapshot.pods.get(name, [])),
            )
        )
    return tuple(rows)


# ------------------------------------------------------------------ the operator, killed at will
class KilledOperator(OperatorProcess):
    """`paddock run` that can be launched without waiting for readiness, so a kill can land
    at any moment of its start-up too; after a kill its Lease is deleted so the next process
    leads at once (the dead holder cannot write any more; waiting out the lease duration would
    only add 15 s per kill, and lease hand-over is what the leader-election tests prove)."""

    def launch(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PADDOCK_NAMESPACE": self.lease_namespace,
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "paddock.cli",
                    "run",
                    f"--metrics-port={self.metrics_port}",
                    f"--health-port={self.health_port}",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        wait_for(self.ready, timeout=timeout, what=f"operator readiness (log: {self.log_path})")

    def kill(self, api: client.ApiClient) -> None:
        self.stop(kill=True)
        try:
            client.CoordinationV1Api(api).delete_namespaced_lease(
                "paddock-scheduler", self.lease_namespace
            )
        except ApiException as error:
            if error.status != 404:
                raise
