"""The sub-benchmarks: throughput and latency, operator memory, and a Kueue-shaped run.

Each one sets up its own objects on a running bench cluster, starts a fresh
operator, drives it, and returns a dict of figures (with the load average at
the moment the figures were taken).
"""

from __future__ import annotations

import heapq
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2elib import cluster as c
from e2elib.cluster import BenchCluster, log
from e2elib.kube import Kube
from e2elib.observe import ADMITTED, UNADMITTED, Observer
from e2elib.pyspy import PySpy, summarize
from e2elib.report import load_average, percentile, rounded
from e2elib.under_test import CpuMeter, MetricsSample, Operator, OperatorStalled, parse_metrics

NODE_TYPE = "c8g.4xlarge"  # 16 vCPUs, 15 whole cores allocatable


@dataclass(frozen=True)
class WorkItem:
    namespace: str
    name: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def create_all(kube: Kube, items: Sequence[WorkItem], threads: int) -> dict[str, float]:
    """Create the workloads from a thread pool; returns when each create call was issued."""
    issued: dict[str, float] = {}

    def one(item: WorkItem) -> None:
        issued[item.key] = time.time()
        kube.create(c.workload_path(item.namespace), item.body)

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(one, items):
            pass
    return issued


def latencies(start: dict[str, float], end: dict[str, float]) -> list[float]:
    return [end[k] - start[k] for k in start if k in end]


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50 / p99 / mean / max of a list of seconds."""
    mean = sum(values) / len(values) if values else float("nan")
    return {
        "p50_s": rounded(percentile(values, 50)),
        "p99_s": rounded(percentile(values, 99)),
        "mean_s": rounded(mean),
        "max_s": rounded(max(values, default=float("nan"))),
        "count": len(values),
    }


def cycle_costs(delta: MetricsSample) -> dict[str, float | None]:
    """Mean seconds per cycle of each stage, over a metrics delta."""
    return {
        f"{stage}_mean_s": rounded(seconds / delta.stage_counts[stage], 4)
        if delta.stage_counts.get(stage)
        else None
        for stage, seconds in delta.stage_seconds.items()
    }


def wait_writes_settled(operator: Operator, quiet: float, timeout: float) -> MetricsSample:
    """Until the operator's write counter has not moved for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last = operator.metrics()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = operator.metrics()
        if now.total_writes != last.total_writes:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            return now
    log("writes did not settle before the timeout; counting what was written so far")
    return operator.metrics()


def setup_budgets(
    kube: Kube, prefix: str, namespaces: Sequence[str], cores_each: int, **spec: Any
) -> None:
    c.ensure_namespaces(kube, namespaces, {"bench/scenario": prefix})
    for namespace in namespaces:
        c.create_budget(kube, namespace, namespace, cores_each, **spec)


def not_ready(operator: Operator, error: Exception) -> dict[str, Any]:
    """Figures of an operator that never became ready (the RSS it reached meanwhile)."""
    return {
        "ready": False,
        "error": str(error),
        "peak_rss_mib": rounded(operator.rss.peak_mib if operator.rss else 0.0, 1),
        "load_average": load_average(),
    }


# ---------------------------------------------------------------------- throughput
@dataclass
class ThroughputConfig:
    nodes: int
    workloads: int
    namespaces: int = 10
    threads: int = 16
    settle_timeout: float = 300
    kopf: tuple[str, ...] = ()
    py_spy: str | None = None
    """Path of py-spy: profile the operator from the first create to the last admission."""


def throughput(cluster: BenchCluster, cfg: ThroughputConfig, logs: Path) -> dict[str, Any]:
    """Create `workloads` one-core AgentWorkloads as fast as the client can; time their
    admission (status written) and their Deployments; count the operator's writes."""
    kube = cluster.client(cfg.threads + 8)
    log(f"throughput: {cfg.nodes} nodes, {cfg.workloads} workloads")
    c.add_nodes(cluster, "bench-tp", NODE_TYPE, cfg.nodes)
    c.create_pool(kube, "bench-tp", "bench-tp")
    namespaces = [f"tp-{i}" for i in range(cfg.namespaces)]
    per_namespace = -(-cfg.workloads // cfg.namespaces)
    setup_budgets(kube, "tp", namespaces, per_namespace + 10, cohort="bench-tp")
    items = [
        WorkItem(ns, f"w-{i}", c.workload_body(f"w-{i}", ns, 1, labels={"bench/run": "tp"}))
        for i in range(cfg.workloads)
        for ns in [namespaces[i % cfg.namespaces]]
    ]

    observer = Observer(cluster.kubeconfig, selector="bench/run=tp")
    observer.start()
    operator = Operator(
        cluster.kubeconfig, logs / "operator-throughput.log", kopf_overrides=cfg.kopf
    )
    profiler: PySpy | None = None
    try:
        try:
            operator.start()
        except (OperatorStalled, TimeoutError) as error:
            log(f"throughput: the operator never became ready: {error}")
            return {"nodes": cfg.nodes, "workloads": cfg.workloads, **not_ready(operator, error)}
        if cfg.py_spy:
            profiler = PySpy(cfg.py_spy, operator.pid, logs / "throughput.pyspy.txt")
        meter = CpuMeter({"operator": operator.pid, **cluster.component_pids()})
        before = operator.metrics()
        meter.begin()
        if profiler:
            profiler.start()
        log(f"creating {len(items)} AgentWorkloads from {cfg.threads} threads")
        issued = create_all(kube, items, cfg.threads)
        created_in = max(issued.values()) - min(issued.values())
        log(f"created in {created_in:.1f}s ({len(items) / created_in:.0f}/s)")
        limit = max(300.0, cfg.workloads / 5)
        done = observer.wait_until(
            lambda: len(observer.admitted) >= len(items) and len(observer.deployed) >= len(items),
            timeout=limit,
            what="every workload admitted with its Deployment",
        )
        at_admission = operator.metrics().minus(before)
        load_at_admission = load_average()
        cpu, wall = meter.seconds()
        if profiler:
            profiler.stop()
            report_profile(profiler.output)
        if not done:
            log(f"only {len(observer.admitted)} admitted after {limit:.0f}s")
        settled = wait_writes_settled(operator, quiet=10, timeout=cfg.settle_timeout).minus(before)
        figures = throughput_figures(
            cfg, issued, observer, at_admission, settled, operator, load_at_admission
        )
        admitted = figures["admitted"] or 1
        figures["cpu_window_s"] = wall
        figures["cpu_seconds"] = cpu
        figures["cpu_ms_per_admission"] = {k: round(1000 * v / admitted, 1) for k, v in cpu.items()}
        figures["operator_cpu_utilisation"] = round(cpu["operator"] / wall, 2) if wall else None
        return figures
    finally:
        if profiler:
            profiler.stop()
        operator.stop()
        observer.stop()


def report_profile(collapsed: Path) -> None:
    """Write the inclusive top functions next to the raw profile."""
    if not collapsed.exists():
        log(f"no profile at {collapsed}")
        return
    top = summarize(collapsed)
    text = "\n".join(f"{share:5.1f}%  {name}" for name, share in top)
    collapsed.with_suffix(".top.txt").write_text(text + "\n")
    log(f"operator CPU profile (inclusive, % of busy samples):\n{text}")


def throughput_figures(
    cfg: ThroughputConfig,
    issued: dict[str, float],
    observer: Observer,
    at_admission: MetricsSample,
    settled: MetricsSample,
    operator: Operator,
    load_at_admission: str,
) -> dict[str, Any]:
    first_create = min(issued.values())
    admitted = {k: t for k, t in observer.admitted.items() if k in issued}
    last_admitted = max(admitted.values(), default=first_create)
    n = len(admitted)
    return {
        "nodes": cfg.nodes,
        "workloads": cfg.workloads,
        "admitted": n,
        "admissions_per_s": rounded(n / (last_admitted - first_create), 1) if n else 0.0,
        "creates_per_s": rounded(len(issued) / (max(issued.values()) - first_create), 1),
        "create_to_admitted": spread(latencies(issued, admitted)),
        "create_to_deployment": spread(latencies(issued, observer.deployed)),
        "create_to_running": spread(latencies(issued, observer.running)),
        "running": len([k for k in observer.running if k in issued]),
        "writes_at_admission": {k: v for k, v in sorted(at_admission.writes.items()) if v},
        "writes_per_admission_at_admission": rounded(at_admission.total_writes / n, 2)
        if n
        else None,
        "writes_settled": {k: v for k, v in sorted(settled.writes.items()) if v},
        "writes_per_admission": rounded(settled.total_writes / n, 2) if n else None,
        "cycles": settled.cycles,
        "cycle_cost": cycle_costs(settled),
        "operator_peak_rss_mib": rounded(operator.rss.peak_mib if operator.rss else 0, 1),
        "load_average_at_admission": load_at_admission,
        "load_average_end": load_average(),
    }


# ---------------------------------------------------------------------- memory
@dataclass
class RssConfig:
    node_counts: tuple[int, ...]
    pods: int
    flow: int = 20
    sample_seconds: float = 20
    ready_timeout: float = 900
    kopf: tuple[str, ...] = ()


def rss(cluster: BenchCluster, cfg: RssConfig, logs: Path) -> dict[str, Any]:
    """Operator RSS with `pods` running pods on each node count: a fresh operator each time,
    started after the objects exist, sampled through startup, one cycle and `flow` workloads."""
    kube = cluster.client()
    results: dict[str, Any] = {"pods": cfg.pods, "runs": []}
    have = 0
    namespaces = [f"fill-{i}" for i in range(10)]
    c.ensure_namespaces(kube, namespaces, {"bench/scenario": "fill"})
    setup_budgets(kube, "rss", ["rss-0"], 100 * cfg.flow * len(cfg.node_counts))
    c.create_pool(kube, "bench-rss", "bench-rss")
    for index, count in enumerate(cfg.node_counts):
        if count > have:
            log(f"rss: adding nodes {have}..{count}")
            c.add_nodes(cluster, "bench-rss", NODE_TYPE, count - have, start=have)
            have = count
        if index == 0 and cfg.pods:
            nodes = [n["metadata"]["name"] for n in c.generate_nodes("bench-rss", NODE_TYPE, count)]
            results["pod_create_per_s"] = rounded(
                c.create_filler_pods(cluster, cfg.pods, nodes, namespaces), 1
            )
            results["pods_running_after_s"] = rounded(c.wait_pods_running(kube, "bench=filler"), 1)
        run = rss_once(cluster, kube, count, cfg, logs, index)
        run["reference_lean_watch"] = lean_watch(cluster)
        results["runs"].append(run)
    return results


def lean_watch(cluster: BenchCluster) -> dict[str, Any]:
    """RSS of the reference compact list+watch (leanwatch.py) on the same cluster."""
    done = subprocess.run(
        [sys.executable, "-m", "e2elib.leanwatch", "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-500:]}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load_average"] = load_average()
    log(f"reference lean list+watch: {figures}")
    return figures


def rss_once(
    cluster: BenchCluster, kube: Kube, nodes: int, cfg: RssConfig, logs: Path, index: int
) -> dict[str, Any]:
    operator = Operator(
        cluster.kubeconfig, logs / f"operator-rss-{nodes}.log", kopf_overrides=cfg.kopf
    )
    observer = Observer(cluster.kubeconfig, selector=f"bench/run=rss-{index}")
    observer.start()
    try:
        try:
            operator.start(timeout=cfg.ready_timeout)
        except (OperatorStalled, TimeoutError) as error:
            log(f"rss at {nodes} nodes: the operator never became ready: {error}")
            return {"nodes": nodes, "pods": cfg.pods, **not_ready(operator, error)}
        ready_rss = operator.rss.peak_mib if operator.rss else 0.0
        before = operator.metrics()
        started = time.monotonic()
        issued: dict[str, float] = {}
        for i in range(cfg.flow):
            name = f"r{index}-{i}"
            body = c.workload_body(name, "rss-0", 1, labels={"bench/run": f"rss-{index}"})
            issued[f"rss-0/{name}"] = time.time()
            kube.create(c.workload_path("rss-0"), body)
            time.sleep(cfg.sample_seconds / cfg.flow)
        time.sleep(max(0.0, cfg.sample_seconds - (time.monotonic() - started)))
        delta = operator.metrics().minus(before)
        assert operator.rss is not None
        figures = {
            "nodes": nodes,
            "pods": cfg.pods,
            "ready": True,
            "ready_after_s": rounded(operator.ready_after, 1),
            "peak_rss_mib": rounded(operator.rss.peak_mib, 1),
            "peak_rss_until_ready_mib": rounded(ready_rss, 1),
            "settled_rss_mib": rounded(operator.rss.last_mib(5), 1),
            "cycles_while_sampled": delta.cycles,
            "cycle_cost": cycle_costs(delta),
            "one_per_second_create_to_deployment": spread(latencies(issued, observer.deployed)),
            "one_per_second_create_to_admitted": spread(latencies(issued, observer.admitted)),
            "load_average": load_average(),
        }
        log(f"rss at {nodes} nodes: {figures}")
        return figures
    finally:
        operator.stop()
        observer.stop()


# ---------------------------------------------------------------------- kueue-shaped
@dataclass(frozen=True)
class SizeClass:
    """One of Kueue's baseline workload classes."""

    name: str
    count: int
    interval_s: float
    runtime_s: float
    priority: int
    cores: int


KUEUE_CLASSES = (
    SizeClass("small", 350, 0.1, 0.2, 50, 1),
    SizeClass("medium", 100, 0.5, 0.5, 100, 5),
    SizeClass("large", 50, 1.2, 1.0, 200, 20),
)


@dataclass
class KueueConfig:
    per_budget: int = 500
    cohorts: int = 5
    budgets_per_cohort: int = 6
    nominal_cores: int = 20
    borrowing_limit: int = 100
    nodes: int = 400
    """Room for the pods of deleted workloads too: on this saturated control plane the garbage
    collector removes a deleted workload's Deployment, ReplicaSet and pod 10-60 s after the
    delete, and until then the pod holds its node cores (Paddock rightly never places over it).
    With 40 nodes (2,520 cores for 600 cores of budgets) those pods filled the nodes and
    admissions stalled for 20 s at a time; 400 nodes keep the budgets, as in Kueue's run
    (which has no nodes at all), the binding limit. `PoolWatch` reports whether they were."""
    node_type: str = "c8g.16xlarge"  # 63 whole cores: a 20-core replica fits one node
    kopf: tuple[str, ...] = ()
    py_spy: str | None = None
    """Path of py-spy: profile the operator from the first create to the last finish."""

    def classes(self) -> list[SizeClass]:
        scale = self.per_budget / 500
        return [
            SizeClass(
                k.name,
                max(1, round(k.count * scale)),
                k.interval_s,
                k.runtime_s,
                k.priority,
                k.cores,
            )
            for k in KUEUE_CLASSES
        ]


@dataclass
class Finisher:
    """Deletes each workload `runtime` after its (latest) admission: Kueue's "finished"."""

    kube: Kube
    runtimes: dict[str, float]
    finished: dict[str, float] = field(default_factory=dict)
    _heap: list[tuple[float, int, str]] = field(default_factory=list)
    _epoch: dict[str, int] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    delete_sent: dict[str, float] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    """When the API server answered the delete."""
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(160))
    """As many deletes in flight as the operator has writes: at 0.7 s per AgentWorkload delete
    under load, 64 let workloads finish 1.4 s late (p50) at 15,000 and held their cores."""

    def on_event(self, what: str, key: str, at: float) -> None:
        with self._lock:
            if what == ADMITTED and key in self.runtimes and key not in self.finished:
                epoch = self._epoch.get(key, 0) + 1
                self._epoch[key] = epoch
                heapq.heappush(self._heap, (at + self.runtimes[key], epoch, key))
                self._lock.notify()
            elif what == UNADMITTED:  # preempted: its run starts again at the next admission
                self._epoch[key] = self._epoch.get(key, 0) + 1

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                while not self._heap or self._heap[0][0] > time.time():
                    wait = self._heap[0][0] - time.time() if self._heap else 0.5
                    self._lock.wait(max(0.001, min(wait, 0.5)))
                    if stop.is_set():
                        return
                _due, epoch, key = heapq.heappop(self._heap)
                if self._epoch.get(key) != epoch or key in self.finished:
                    continue
                self.finished[key] = time.time()
            namespace, name = key.split("/", 1)
            try:
                self._pool.submit(self._delete, key, f"{c.workload_path(namespace)}/{name}")
            except RuntimeError:  # drained: the run is over
                return

    def drain(self) -> None:
        """Wait for the deletes in flight (their answers are figures too)."""
        self._pool.shutdown(wait=True)

    def _delete(self, key: str, path: str) -> None:
        self.delete_sent[key] = time.time()
        self.kube.delete(path)
        self.deleted[key] = time.time()


@dataclass
class PoolWatch:
    """Samples the operator's `paddock_pool_cores` every second: whether node capacity, not the
    budgets, bound the run. Pods outlive their deleted workload until the garbage collector
    removes their Deployment, ReplicaSet and pod (tens of seconds on a saturated control
    plane), and their cores stay taken meanwhile."""

    operator: Operator
    pool: str
    peak_used: float = 0.0
    allocatable: float = 0.0
    seconds_full: int = 0
    """Samples (about one a second) in which the pool's largest free block was under 20 cores:
    a large workload could not have been placed whatever its budget said."""

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                figures = parse_metrics(self.operator.metrics_text()).get("paddock_pool_cores")
            except Exception:  # a missed sample is no figure, not a failure
                continue
            kinds = {
                dict(labels).get("kind"): value
                for labels, value in (figures or {}).items()
                if dict(labels).get("pool") == self.pool
            }
            if "used" not in kinds:
                continue
            self.peak_used = max(self.peak_used, kinds["used"])
            self.allocatable = max(self.allocatable, kinds.get("allocatable", 0.0))
            if kinds.get("largest_free_block", 0.0) < 20:
                self.seconds_full += 1

    def figures(self) -> dict[str, Any]:
        return {
            "allocatable_cores": self.allocatable,
            "peak_used_cores": self.peak_used,
            "seconds_without_room_for_a_large": self.seconds_full,
        }


def kueue(cluster: BenchCluster, cfg: KueueConfig, logs: Path) -> dict[str, Any]:
    """5 cohorts x 6 budgets, workloads created at Kueue's intervals, each deleted once it
    has run its class's runtime after admission; total time and time to admission by class."""
    kube = cluster.client(200)  # the finisher's 160 deletes and the 90 generators
    classes = cfg.classes()
    log(
        f"kueue-shaped: {cfg.cohorts}x{cfg.budgets_per_cohort} budgets, "
        f"{[(k.name, k.count) for k in classes]} per budget"
    )
    c.add_nodes(cluster, "bench-kq", cfg.node_type, cfg.nodes)
    c.create_pool(kube, "bench-kq", "bench-kq")
    budgets = [f"kq-{i}-{j}" for i in range(cfg.cohorts) for j in range(cfg.budgets_per_cohort)]
    c.ensure_namespaces(kube, budgets, {"bench/scenario": "kueue"})
    for name in budgets:
        cohort = f"cohort-{name.split('-')[1]}"
        c.create_budget(
            kube,
            name,
            name,
            cfg.nominal_cores,
            cohort=cohort,
            borrowingLimit=cfg.borrowing_limit,
            preemption={"withinBudget": "LowerPriority", "reclaimFromCohort": "Any"},
        )
    runtimes: dict[str, float] = {}
    klass: dict[str, str] = {}
    for budget in budgets:
        for k in classes:
            for i in range(k.count):
                key = f"{budget}/{k.name}-{i}"
                runtimes[key], klass[key] = k.runtime_s, k.name

    finisher = Finisher(kube, runtimes)
    observer = Observer(cluster.kubeconfig, selector="bench/run=kq", on_event=finisher.on_event)
    observer.start()
    operator = Operator(cluster.kubeconfig, logs / "operator-kueue.log", kopf_overrides=cfg.kopf)
    stop = threading.Event()
    issued: dict[str, float] = {}
    profiler: PySpy | None = None
    try:
        try:
            operator.start()
        except (OperatorStalled, TimeoutError) as error:
            log(f"kueue-shaped: the operator never became ready: {error}")
            return not_ready(operator, error)
        threading.Thread(target=finisher.run, args=(stop,), daemon=True).start()
        pool_watch = PoolWatch(operator, "bench-kq")
        threading.Thread(target=pool_watch.run, args=(stop,), daemon=True).start()
        if cfg.py_spy:
            profiler = PySpy(cfg.py_spy, operator.pid, logs / "kueue.pyspy.txt")
        meter = CpuMeter({"operator": operator.pid, **cluster.component_pids()})
        meter.begin()
        if profiler:
            profiler.start()
        before = operator.metrics()
        started = time.time()
        generators = [
            threading.Thread(target=_generate, args=(kube, budget, k, issued), daemon=True)
            for budget in budgets
            for k in classes
        ]
        for thread in generators:
            thread.start()
        for thread in generators:
            thread.join()
        log(f"kueue-shaped: all {len(issued)} created after {time.time() - started:.0f}s")
        stalled = wait_finished(finisher, len(runtimes), timeout=3600, quiet=180)
        if profiler:
            profiler.stop()
            report_profile(profiler.output)
        stop.set()
        finisher.drain()
        ended = max(finisher.finished.values(), default=time.time())
        delta = operator.metrics().minus(before)
        figures = kueue_figures(
            cfg, classes, issued, observer, finisher, klass, started, ended, delta
        )
        figures["cpu_seconds"], figures["cpu_window_s"] = meter.seconds()
        admitted = figures["admitted"] or 1
        figures["cpu_ms_per_admission"] = {
            k: round(1000 * v / admitted, 1) for k, v in figures["cpu_seconds"].items()
        }
        figures["operator_peak_rss_mib"] = rounded(operator.rss.peak_mib if operator.rss else 0, 1)
        figures["stalled"] = stalled
        figures["pool"] = pool_watch.figures()
        write_trace(logs / "kueue-trace.jsonl", issued, observer, finisher)
        return figures
    finally:
        if profiler:
            profiler.stop()
        stop.set()
        operator.stop()
        observer.stop()


def write_trace(
    path: Path, issued: dict[str, float], observer: Observer, finisher: Finisher
) -> None:
    """One JSON line per event (created, what the watch saw, finished = due to be deleted,
    delete_sent / deleted = the bench's delete call and its answer), ordered by time: for
    finding where a run's seconds went (docs/benchmarks.md, "Side by side with Kueue")."""
    events = [("created", k, t) for k, t in issued.items()]
    events += list(observer.timeline)
    events += [("finished", k, t) for k, t in finisher.finished.items()]
    events += [("deleted", k, t) for k, t in finisher.deleted.items()]
    events += [("delete_sent", k, t) for k, t in finisher.delete_sent.items()]
    with path.open("w") as out:
        for what, key, at in sorted(events, key=lambda e: e[2]):
            out.write(json.dumps({"what": what, "key": key, "at": round(at, 4)}) + "\n")


def wait_finished(finisher: Finisher, total: int, timeout: float, quiet: float) -> bool:
    """Until every workload has finished; True when none finished for `quiet` seconds
    (the operator stopped admitting: waiting longer measures nothing)."""
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    while len(finisher.finished) < total and time.monotonic() < deadline:
        if len(finisher.finished) != last_count:
            last_count, last_change = len(finisher.finished), time.monotonic()
        elif time.monotonic() - last_change > quiet:
            log(f"kueue-shaped: no workload finished for {quiet:.0f}s; {last_count} of {total}")
            return True
        time.sleep(1)
    return False


def _generate(kube: Kube, budget: str, k: SizeClass, issued: dict[str, float]) -> None:
    """One workload set of one budget: sleep the interval, create, repeat (as Kueue's runner)."""
    for i in range(k.count):
        time.sleep(k.interval_s)
        name = f"{k.name}-{i}"
        issued[f"{budget}/{name}"] = time.time()
        body = c.workload_body(name, budget, k.cores, k.priority, labels={"bench/run": "kq"})
        kube.create(c.workload_path(budget), body)


def kueue_figures(
    cfg: KueueConfig,
    classes: Sequence[SizeClass],
    issued: dict[str, float],
    observer: Observer,
    finisher: Finisher,
    klass: dict[str, str],
    started: float,
    ended: float,
    delta: MetricsSample,
) -> dict[str, Any]:
    per_class = {}
    for k in classes:
        keys = [key for key in issued if klass[key] == k.name]
        waits = [observer.admitted[key] - issued[key] for key in keys if key in observer.admitted]
        per_class[k.name] = {"cores": k.cores, **spread(waits)}
    admitted = len([k for k in issued if k in observer.admitted])
    return {
        "budgets": cfg.cohorts * cfg.budgets_per_cohort,
        "per_budget": {k.name: k.count for k in classes},
        "workloads": len(issued),
        "admitted": admitted,
        "finished": len(finisher.finished),
        "total_s": rounded(ended - started, 1),
        "time_to_admission": per_class,
        "preemptions_seen": observer.counts.get(UNADMITTED, 0),
        # The bench's own lag between a workload's due finish and the API server's answer to
        # its delete: cores stay held that long, so it must stay small next to the runtimes.
        "finish_lag": spread(
            [
                finisher.deleted[k] - finisher.finished[k]
                for k in finisher.deleted
                if k in finisher.finished
            ]
        ),
        "writes": {k: v for k, v in sorted(delta.writes.items()) if v},
        "writes_per_admission": rounded(delta.total_writes / admitted, 2) if admitted else None,
        "cycles": delta.cycles,
        "cycle_cost": cycle_costs(delta),
        "load_average_end": load_average(),
    }
