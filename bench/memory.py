"""How much memory the operator keeps per AgentWorkload, and who keeps it.

    .venv/bin/python bench/memory.py                     # 10,000 workloads on 1,000 nodes
    .venv/bin/python bench/memory.py --workloads 1000    # a smoke run
    .venv/bin/python bench/memory.py --no-tracemalloc    # RSS only (tracemalloc inflates it)

The shape of the end-to-end throughput benchmark (bench/e2e.py): N one-core AgentWorkloads of
one replica in 10 namespaces with a budget each, in one pool of c8g.4xlarge kwok nodes (one node
per 10 workloads). No API server: the operator's stores are filled in-process from API bodies
as the list-watches would fill them, through the real record functions (`object_facts`,
`deployment_facts`, `pod_record`, `node_facts`, `pdb_facts`), and the real `SnapshotBuilder`,
`Planner` (kept by `Incremental` as between cycles), usage `Accountant` and `Applier` run on
them. The applier's writes go to a recorder instead of an API server (they run synchronously);
what it wrote comes back as the watches would show it:

1. the AgentWorkloads are listed (as the API returns them: managedFields, uid, resourceVersion,
   creationTimestamp, no status yet) with the nodes, pools and budgets;
2. a full cycle plans and applies them: Deployments, PodDisruptionBudgets and statuses queued
   (the real Writer's queue, sent when the watches echo them, as in a burst);
3. the writes are sent and the watches echo them: each Deployment with its status, one Running
   pod per replica bound to the node the plan chose, each workload with the status written;
4. two more full cycles (Running statuses written, then echoed): the steady state the operator
   holds after a burst, which is what is measured.

Reported: tracemalloc's traced memory after each step, the size of everything each holder
keeps (a walk of the object graph; an object shared by two holders counts for the first),
bytes per workload, and RSS before and after. Human-readable figures first; the last line is
one JSON object. It asserts nothing and times nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException

try:
    import paddock  # noqa: F401
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from paddock.controller.applier import Applier, Clients
from paddock.controller.cluster_state import ClusterState, SnapshotBuilder
from paddock.controller.incremental import Incremental
from paddock.controller.labels import POOL_LABEL, WORKLOAD_LABEL
from paddock.controller.observed import (
    deployment_facts,
    node_facts,
    object_facts,
    object_key,
    pdb_facts,
    pod_record,
)
from paddock.controller.usage import Accountant, account, gate, remember
from paddock.controller.writer import Writer
from paddock.planner import Plan

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
POOL = "bench-tp"
NODE_TYPE = "c8g.4xlarge"
ARM64_TOLERATION = {
    "key": "kubernetes.io/arch",
    "operator": "Equal",
    "value": "arm64",
    "effect": "NoSchedule",
}
CREATED = "2026-12-01T00:00:00Z"


# ---------------------------------------------------------------------- API bodies
def stamp() -> str:
    return CREATED


class Versions:
    """resourceVersions, increasing, as the API server hands them out."""

    def __init__(self) -> None:
        self.last = 1_000_000

    def next(self) -> str:
        self.last += 1
        return str(self.last)


def managed(
    manager: str, operation: str, fields: Mapping[str, Any], sub: str = ""
) -> dict[str, Any]:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": "v1",
        "time": stamp(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if sub:
        entry["subresource"] = sub
    return entry


def workload_body(
    name: str, namespace: str, versions: Versions, uid: str | None = None
) -> dict[str, Any]:
    """An AgentWorkload as the API server returns it (the e2e throughput benchmark's shape),
    created by a client-side apply, before Paddock wrote its status."""
    spec = {
        "replicas": 1,
        "coresPerReplica": 1,
        "memoryPerReplica": "1Gi",
        "priority": 0,
        "template": {
            "spec": {"containers": [{"name": "agent", "image": "registry.example/agent:1"}]}
        },
    }
    return {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "AgentWorkload",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or str(uuid.uuid4()),
            "resourceVersion": versions.next(),
            "generation": 1,
            "creationTimestamp": stamp(),
            "labels": {"bench/run": "tp"},
            "managedFields": [
                managed(
                    "paddock-bench",
                    "Apply",
                    {
                        "f:metadata": {"f:labels": {"f:bench/run": {}}},
                        "f:spec": {
                            "f:coresPerReplica": {},
                            "f:memoryPerReplica": {},
                            "f:priority": {},
                            "f:replicas": {},
                            "f:template": {"f:spec": {"f:containers": {}}},
                        },
                    },
                )
            ],
        },
        "spec": spec,
    }


def with_status(body: dict[str, Any], patch: Mapping[str, Any], versions: Versions) -> None:
    """A merge patch of the status subresource, as the API server applies it (and a watch
    decodes it: nothing shared with what the applier wrote)."""
    status = dict(body.get("status") or {})
    for key, value in json.loads(json.dumps(patch)).items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    body["status"] = status
    metadata = body["metadata"]
    metadata["resourceVersion"] = versions.next()
    fields: dict[str, Any] = {"f:status": {f"f:{k}": {} for k in status}}
    metadata["managedFields"] = [
        *(m for m in metadata["managedFields"] if m.get("subresource") != "status"),
        managed("paddock", "Update", fields, "status"),
    ]


def deployment_body(manifest: dict[str, Any], versions: Versions) -> dict[str, Any]:
    """A Deployment Paddock rendered, as the API server returns it once its pod runs."""
    body = dict(manifest)
    metadata = body["metadata"]
    metadata.update(
        uid=str(uuid.uuid4()),
        resourceVersion=versions.next(),
        generation=1,
        creationTimestamp=stamp(),
        annotations={**metadata.get("annotations", {}), "deployment.kubernetes.io/revision": "1"},
        managedFields=[
            managed("paddock", "Apply", {"f:metadata": {}, "f:spec": {}}),
            managed("kube-controller-manager", "Update", {"f:status": {}}, "status"),
        ],
    )
    replicas = body["spec"]["replicas"]
    body["spec"].update(
        progressDeadlineSeconds=600,
        revisionHistoryLimit=10,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
    )
    body["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": kind,
                "status": "True",
                "lastUpdateTime": stamp(),
                "lastTransitionTime": stamp(),
                "reason": reason,
                "message": message,
            }
            for kind, reason, message in (
                ("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                (
                    "Progressing",
                    "NewReplicaSetAvailable",
                    "ReplicaSet has successfully progressed.",
                ),
            )
        ],
    }
    return body


def pod_body(deployment: Mapping[str, Any], node: str, index: int) -> dict[str, Any]:
    """One Running pod of the Deployment, bound to `node`."""
    metadata = deployment["metadata"]
    template = deployment["spec"]["template"]
    replica_set = f"{metadata['name']}-7d9c8b6f5"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{replica_set}-{index:05x}",
            "namespace": metadata["namespace"],
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "creationTimestamp": stamp(),
            "labels": {**template["metadata"]["labels"], "pod-template-hash": "7d9c8b6f5"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": replica_set,
                    "uid": str(uuid.uuid4()),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {**template["spec"], "nodeName": node},
        "status": {
            "phase": "Running",
            "startTime": stamp(),
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": stamp()}
                for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
        },
    }


def node_bodies(count: int) -> list[dict[str, Any]]:
    """kwok Nodes from hack/fake-nodes.py (as the tests and bench/e2e.py make them), Ready."""
    made = subprocess.run(
        [sys.executable, str(REPO / "hack" / "fake-nodes.py"), "--pool", POOL, "--type",
         NODE_TYPE, "--count", str(count), "--taint"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    items: list[dict[str, Any]] = json.loads(made.stdout)["items"]
    for item in items:
        item["metadata"].update(uid=str(uuid.uuid4()), resourceVersion="1")
        item["status"]["conditions"] = [
            {"type": "Ready", "status": "True", "reason": "KubeletReady"}
        ]
    return items


def paddock_object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": kind,
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "generation": 1,
            "creationTimestamp": stamp(),
        },
        "spec": spec,
    }


# ---------------------------------------------------------------------- a recording API
@dataclass
class Recorder:
    """Stands in for the API clients: keeps the last body written per object, succeeds."""

    deployments: dict[str, str] = field(default_factory=dict)
    """The last body written per object, as JSON text (what the API server would receive;
    compact, so the recorder weighs little on what is measured)."""
    pdbs: dict[str, str] = field(default_factory=dict)
    statuses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: int = 0

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any, **_: Any) -> None:
        self.deployments[f"{namespace}/{name}"] = json.dumps(body)

    def create_namespaced_deployment(self, namespace: str, body: Any, **_: Any) -> None:
        self.deployments[f"{namespace}/{body['metadata']['name']}"] = json.dumps(body)

    def read_namespaced_deployment(self, name: str, namespace: str, **_: Any) -> Any:
        raise ApiException(status=404, reason="Not Found")

    def create_namespaced_pod_disruption_budget(self, namespace: str, body: Any, **_: Any) -> None:
        self.pdbs[f"{namespace}/{body['metadata']['name']}"] = json.dumps(body)

    def patch_namespaced_pod_disruption_budget(
        self, name: str, namespace: str, body: Any, **_: Any
    ) -> None:
        self.pdbs[f"{namespace}/{name}"] = json.dumps(body)

    def read_namespaced_pod_disruption_budget(self, name: str, namespace: str, **_: Any) -> Any:
        raise ApiException(status=404, reason="Not Found")

    def patch_namespaced_custom_object_status(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **_: Any
    ) -> None:
        self.statuses[(plural, f"{namespace}/{name}")] = body["status"]

    def patch_cluster_custom_object_status(
        self, group: str, version: str, plural: str, name: str, body: Any, **_: Any
    ) -> None:
        self.statuses[(plural, name)] = body["status"]

    def create_namespaced_event(self, namespace: str, body: Any, **_: Any) -> None:
        self.events += 1


class HeldWriter(Writer):
    """The real Writer's queue (lanes, superseded writes), sent only at `flush`: as in a burst,
    where the API server takes the writes slower than a cycle queues them, a cycle's writes
    are all queued at the memory peak."""

    def _start_threads(self) -> None:
        return None

    def flush(self) -> None:
        """Send every queued write, in the caller's thread."""
        while self.queued:
            write = self._next()
            assert write is not None
            try:
                self._run(write)
            finally:
                self._done(write)


# ---------------------------------------------------------------------- the operator, in-process
@dataclass
class Operator:
    """The holders `Runtime.create` wires (runtime.py), without the API server and kopf."""

    recorder: Recorder
    builder: SnapshotBuilder
    applier: Applier
    accountant: Accountant
    incremental: Incremental

    @classmethod
    def create(cls) -> Operator:
        recorder = Recorder()
        memory: dict[str, tuple[tuple[str, int], ...]] = {}
        rejected: dict[str, tuple[int, str]] = {}
        builder = SnapshotBuilder(admitted_override=memory, rejected=rejected)
        api: Any = recorder
        applier = Applier(
            Clients(apps=api, core=api, custom=api, policy=api),
            admitted_memory=memory,
            rejected=rejected,
            writer=HeldWriter(),
        )
        accountant = Accountant()
        applier.core_hours = accountant.status_of

        def build() -> ClusterState:
            state = builder.build()
            pods = builder.nodes_and_pods
            account(accountant, state, pods.agent_pods, time.time(), pods.take_ended())
            return gate(accountant, state)

        incremental = Incremental(builder, threading.Lock(), build=build)
        return cls(recorder, builder, applier, accountant, incremental)

    def cycle(self) -> Plan:
        """One full cycle, as the loop runs it: snapshot, plan, apply."""
        state = self.incremental.snapshot()
        plan = self.incremental.plan(state)
        remember(self.accountant, plan)
        asyncio.run(self.applier.apply(state, plan))
        return plan


def listed(
    bodies: Iterable[Mapping[str, Any]], key: Callable[..., str], record: Callable[..., Any]
) -> dict[str, Any]:
    """What a list hands its store: key -> compact record (ListWatch._compact)."""
    out = {}
    for body in bodies:
        found = record(body)
        if found is not None:
            out[key(body)] = found
    return out


def by_uid(body: Mapping[str, Any]) -> str:
    return str(body["metadata"]["uid"])


# ---------------------------------------------------------------------- measuring
SKIPPED = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType)


def deep_size(root: Any, seen: set[int]) -> int:
    """Bytes of everything reachable from `root` not in `seen` (and adds them): classes,
    modules and functions are the program, not the data, and are not counted."""
    total, stack = 0, [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, SKIPPED):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def holders(op: Operator) -> list[tuple[str, Any]]:
    """What the operator keeps between cycles, in the order sizes are attributed."""
    b, a, inc = op.builder, op.applier, op.incremental
    s = a.statuses
    pods = b.nodes_and_pods
    return [
        ("store: agentworkloads (ObjectFacts)", b.workloads),
        ("store: deployments (DeploymentFacts)", b.deployments),
        ("store: pods (PodRecord, AgentPod)", (pods.pods, pods.agent_pods)),
        ("store: nodes, usage", (pods.nodes, pods.usage)),
        ("store: pdbs (PdbFacts)", b.pdbs),
        ("store: pools, budgets", (b.pools, b.budgets)),
        ("builder: spec cache (Parsed)", b.cache),
        ("builder: replica shapes", b._shapes),
        ("kept state (ClusterState)", inc.state),
        ("kept planner (Planner)", inc.planner),
        ("incremental: known", inc.known),
        ("applier: rendered Deployments", a.deployments.rendered),
        ("applier: Deployment writes", a.deployments.written),
        ("applier: status writes", (s.written, s.written_at, s.first_seen)),
        ("applier: PDB writes", a.pdbs.written),
        ("applier: settled inputs", a._settled),
        ("applier: admitted memory", a.admitted_memory),
        ("applier: first admitted", a._first_admitted),
        ("usage accountant", op.accountant),
    ]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def traced_mib() -> float:
    return tracemalloc.get_traced_memory()[0] / MIB if tracemalloc.is_tracing() else 0.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------------- the run
def print_top(count: int) -> None:
    """The allocation sites that hold the most traced memory now."""
    if not tracemalloc.is_tracing():
        return
    stats = tracemalloc.take_snapshot().statistics("lineno")
    for stat in stats[:count]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"      {stat.size / MIB:7.2f} MiB {stat.count:8d} blocks  {where}")


def run(workloads: int, trace: bool, top: int = 0) -> dict[str, Any]:
    namespaces = [f"tp-{i}" for i in range(10)]
    nodes = max(1, -(-workloads // 10))
    per_namespace = -(-workloads // len(namespaces))
    versions = Versions()
    gc.collect()
    rss_start = rss_mib()
    if trace:
        tracemalloc.start()
    stages: dict[str, float] = {}
    peaks: dict[str, float] = {}
    rss: dict[str, float] = {}
    steady = "steady state (cycles 2 and 3, echoed)"

    def stage(name: str) -> None:
        gc.collect()
        stages[name] = round(traced_mib(), 1)
        rss[name] = round(rss_mib(), 1)
        print(f"  {name:<44} traced {stages[name]:7.1f} MiB   RSS {rss_mib():7.1f} MiB")
        if trace and tracemalloc.get_traced_memory()[1] > tracemalloc.get_traced_memory()[0]:
            peaks[name] = round(tracemalloc.get_traced_memory()[1] / MIB, 1)
            print(f"  {'':<44} peak   {peaks[name]:7.1f} MiB since the last stage")
            tracemalloc.reset_peak()
        if top:
            print_top(top)

    stage("start")
    op = Operator.create()
    b = op.builder
    b.namespaces = {ns: ({"kubernetes.io/metadata.name": ns},) for ns in namespaces}
    b.nodes_and_pods.nodes.replace(
        listed(node_bodies(nodes), lambda body: body["metadata"]["name"], node_facts)
    )
    pool = paddock_object(
        "CorePool",
        POOL,
        {"nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": POOL}},
         "tolerations": [ARM64_TOLERATION]},
    )  # fmt: skip
    b.pools.replace(listed([pool], object_key, object_facts))
    budgets = [
        paddock_object(
            "CoreBudget",
            ns,
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                "cores": per_namespace + 10,
                "cohort": POOL,
            },
        )
        for ns in namespaces
    ]
    b.budgets.replace(listed(budgets, object_key, object_facts))
    stage("nodes, pool, budgets listed")

    bodies = [
        workload_body(f"w-{i}", namespaces[i % len(namespaces)], versions) for i in range(workloads)
    ]
    b.workloads.replace(listed(bodies, object_key, object_facts))
    del bodies
    stage("agentworkloads listed")

    plan = op.cycle()
    admitted = sum(1 for d in plan.workloads.values() if d.admitted_replicas)
    stage("cycle 1: planned, its writes queued")

    watch = Echo(op, versions)
    watch.echo(plan)
    stage("cycle 1 echoed (Deployments, pods, status)")

    plan = op.cycle()
    stage("cycle 2: planned, its writes queued")
    watch.echo(plan)
    watch.echo(op.cycle())
    writes = dict(watch.writes)
    del watch
    stage(steady)

    sizes: dict[str, int] = {}
    seen: set[int] = set()
    for name, holder in holders(op):
        sizes[name] = deep_size(holder, seen)
    held = sum(sizes.values())
    per_workload = {name: round(size / workloads) for name, size in sizes.items()}
    print(f"\nkept between cycles ({workloads} workloads, {admitted} admitted):")
    for name, size in sizes.items():
        print(f"  {name:<44} {size / MIB:7.2f} MiB   {per_workload[name]:6d} B/workload")
    print(f"  {'total':<44} {held / MIB:7.2f} MiB   {held // workloads:6d} B/workload")
    rss_end = rss_mib()
    figures = {
        "workloads": workloads,
        "nodes": nodes,
        "admitted": admitted,
        "tracemalloc": trace,
        "traced_mib": stages,
        "traced_peak_mib_by_stage": peaks,
        "traced_bytes_per_workload": round(
            (stages[steady] - stages["nodes, pool, budgets listed"]) * MIB / workloads
        )
        if trace
        else None,
        "kept_bytes_per_workload": round(held / workloads),
        "kept_mib": round(held / MIB, 1),
        "kept_by_holder_bytes_per_workload": per_workload,
        "rss_start_mib": round(rss_start, 1),
        "rss_mib_by_stage": rss,
        "rss_end_mib": round(rss_end, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "writes": writes,
        "load_average": load_average(),
    }
    if trace:
        tracemalloc.stop()
    return figures


@dataclass
class Echo:
    """The watches: what the applier wrote comes back as the API server would show it, through
    the record functions, one event at a time (each pod bound where the plan placed it)."""

    op: Operator
    versions: Versions
    deployments: dict[str, str] = field(default_factory=dict)
    """Deployment "namespace/name" -> uid (the bodies are the watch's, not kept)."""
    pdbs: dict[str, str] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, n: int) -> None:
        self.writes[kind] = self.writes.get(kind, 0) + n

    def echo(self, plan: Plan) -> None:
        b, rec = self.op.builder, self.op.recorder
        writer = self.op.applier.writer
        assert isinstance(writer, HeldWriter)
        writer.flush()
        self.count("deployments", len(rec.deployments))
        self.count("pdbs", len(rec.pdbs))
        self.count("statuses", len(rec.statuses))
        self.count("events", rec.events)
        for name, manifest in rec.deployments.items():
            old = self.deployments.get(name)
            body = deployment_body(json.loads(manifest), self.versions)
            if old is not None:
                body["metadata"]["uid"] = old
            self.deployments[name] = by_uid(body)
            b.deployments.put(by_uid(body), deployment_facts(body))
            if old is None:
                self.run_pods(body, plan)
        for name, manifest in rec.pdbs.items():
            uid = self.pdbs.setdefault(name, str(uuid.uuid4()))
            body = json.loads(manifest)
            body["metadata"]["uid"] = uid
            b.pdbs.put(uid, pdb_facts(body))
        for (plural, key), status in rec.statuses.items():
            if plural == "agentworkloads":
                # The body the watch would send: the spec as created, the status as patched.
                facts = b.workloads[key]
                body = workload_body(facts.name, facts.namespace or "", self.versions, facts.uid)
                body["status"] = dict(facts.status)
                with_status(body, status, self.versions)
                b.workloads.put(key, object_facts(body))
        rec.deployments.clear()
        rec.pdbs.clear()
        rec.statuses.clear()
        rec.events = 0

    def run_pods(self, deployment: Mapping[str, Any], plan: Plan) -> None:
        labels = deployment["metadata"]["labels"]
        decision = plan.workloads[f"{deployment['metadata']['namespace']}/{labels[WORKLOAD_LABEL]}"]
        placed = [n for n, r in decision.placements for _ in range(r)]
        assert labels[POOL_LABEL] == POOL
        for i, node in enumerate(placed):
            body = pod_body(deployment, node, i)
            b = self.op.builder.nodes_and_pods
            b.put_pod(by_uid(body), pod_record(body))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="measure RSS only: tracemalloc's own records inflate RSS",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=0,
        help="after each stage, print the N allocation sites holding the most (tracemalloc)",
    )
    args = parser.parse_args()
    print(f"memory: {args.workloads} workloads, load average {load_average()}")
    figures = run(args.workloads, trace=not args.no_tracemalloc, top=args.top)
    print(
        f"\nkept {figures['kept_bytes_per_workload']} B per workload; RSS "
        f"{figures['rss_start_mib']} -> {figures['rss_end_mib']} MiB "
        f"(peak {figures['peak_rss_mib']} MiB)"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
