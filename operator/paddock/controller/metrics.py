"""Prometheus metrics: what a platform team alerts on.

All metrics live in one registry owned by the operator process, served by
`serve()` on the metrics port (default 8080, path /metrics), to everyone or
only to callers RBAC allows (`--metrics-auth`, see metrics_server.py).
"""

from __future__ import annotations

from kubernetes.client import ApiClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from paddock.controller import metrics_server
from paddock.controller.metrics_server import MetricsAuth

REGISTRY = CollectorRegistry(auto_describe=True)

ADMISSION_LATENCY = Histogram(
    "paddock_admission_latency_seconds",
    "From AgentWorkload creation to its first admission.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
    registry=REGISTRY,
)
PLAN_DURATION = Histogram(
    "paddock_plan_duration_seconds",
    "Wall time of one scheduling cycle, by stage (snapshot, plan, apply).",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
PROVISIONING_LATENCY = Histogram(
    "paddock_provisioning_latency_seconds",
    "From a workload's replicas starting to wait for a node launch (phase Provisioning) to no "
    "replica waiting any more (the autoscaler's nodes came up), by pool.",
    ["pool"],
    buckets=(5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800),
    registry=REGISTRY,
)
PROVISIONING_TIMEOUTS = Counter(
    "paddock_provisioning_timeouts_total",
    "Admissions (whole or partial) withdrawn because a node launch took longer than the pool's "
    "provisioningTimeout, by pool.",
    ["pool"],
    registry=REGISTRY,
)
CYCLES = Counter("paddock_cycles_total", "Scheduling cycles run.", registry=REGISTRY)
PENDING_WORKLOADS = Gauge(
    "paddock_pending_workloads",
    "Workloads waiting for admission, by budget.",
    ["budget"],
    registry=REGISTRY,
)
ADMITTED_WORKLOADS = Gauge(
    "paddock_admitted_workloads", "Admitted workloads, by budget.", ["budget"], registry=REGISTRY
)
BUDGET_CORES = Gauge(
    "paddock_budget_cores",
    "Budget cores by kind: nominal, used, borrowed, lent, pending.",
    ["budget", "kind"],
    registry=REGISTRY,
)
POOL_CORES = Gauge(
    "paddock_pool_cores",
    "Pool cores by kind: allocatable, used, paddock, free, largest_free_block; autoscaled pools "
    "also potential, nodepool_limit, nodepool_used, headroom.",
    ["pool", "kind"],
    registry=REGISTRY,
)
INVALID_WORKLOADS = Gauge(
    "paddock_invalid_workloads",
    "AgentWorkloads whose spec cannot be used (phase Invalid), by namespace.",
    ["namespace"],
    registry=REGISTRY,
)
API_WRITES = Counter(
    "paddock_api_writes_total", "API writes, by kind of write.", ["kind"], registry=REGISTRY
)
API_ERRORS = Counter(
    "paddock_api_errors_total",
    "Failed API writes, cycles, list-watches and unreadable objects, by kind.",
    ["kind"],
    registry=REGISTRY,
)
IS_LEADER = Gauge(
    "paddock_leader", "1 while this replica holds the scheduling Lease.", registry=REGISTRY
)


def serve(port: int, auth: str = "none", api: ApiClient | None = None, cert_dir: str = "") -> None:
    """Serve /metrics in a background thread; who may read it, and TLS: metrics_server.py."""
    mode = MetricsAuth(auth)
    if mode is MetricsAuth.KUBERNETES and api is None:
        raise ValueError("metrics auth 'kubernetes' needs an API client")
    metrics_server.start(port, REGISTRY, mode, api or ApiClient(), cert_dir)
