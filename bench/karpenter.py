#!/usr/bin/env python3
"""Autoscaled pools with real Karpenter: create -> Running through a node launch, and the limit.

Against the running local control plane (KUBECONFIG, e.g. `eval "$(hack/cluster.sh env)"`):
adds real Karpenter (`hack/cluster.sh up --karpenter`), starts `paddock run`, makes one NodePool
of c7g.4xlarge nodes (16 vCPU, 15 whole cores: one 12-core replica per node, so every replica
needs a launch of its own) with limits.cpu = 16 x `--fit`, and creates `--fit` + `--over`
one-replica 12-core AgentWorkloads at once. Measures, per admitted workload, creation to phase
Running (through Provisioning and a Karpenter launch), p50/p99; checks that the `--over` ones
wait naming the NodePool; samples the NodePool's cores (status.resources.cpu, or its NodeClaims'
capacity if larger) and Paddock's admitted cores every 0.5 s: cores over the limit ever requested
must be 0. Then deletes everything and times Karpenter's consolidation back to zero nodes.

  flock /work/wt/heavy.lock nice -n 5 bench/karpenter.py --fit 12 --over 4

Progress on stderr; figures on stdout, the last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from kubernetes import config  # noqa: E402
from tests.support.cluster import find_cluster  # noqa: E402
from tests.support.karpenter import LimitSampler, NodePools, ensure_karpenter  # noqa: E402
from tests.support.operator import OperatorProcess  # noqa: E402
from tests.support.paddock import Ground  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

NODE_VCPU, REPLICA_CORES = 16, 12


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=int, default=12, help="workloads within the limit")
    parser.add_argument("--over", type=int, default=4, help="workloads beyond the limit")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    cluster = find_cluster()
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    ensure_karpenter(cluster)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    cluster.wait_established("corepools.paddock.dev", "agentworkloads.paddock.dev")
    tag = uuid.uuid4().hex[:6]
    namespace = f"bench-karpenter-{tag}"
    cluster.kubectl("create", "namespace", namespace)
    ground = Ground(cluster=cluster, namespace=namespace, tag=tag)
    pools = NodePools(cluster, api)
    logs = Path(tempfile.mkdtemp(prefix="paddock-bench-karpenter-"))
    operator = OperatorProcess(
        kubeconfig=cluster.kubeconfig,
        log_path=logs / "paddock.log",
        extra_env={"PADDOCK_KARPENTER": "true"},
    )
    operator.start()
    limit = NODE_VCPU * args.fit
    np = pools.create(f"bench-{tag}", limit_cpu=limit, sizes=("4xlarge",))
    sampler: LimitSampler | None = None
    try:
        pools.wait_ready(np)
        ground.create(
            "CorePool",
            f"auto-{tag}",
            {
                "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": np}},
                "tolerations": [
                    {"key": "kubernetes.io/arch", "operator": "Equal", "value": "arm64",
                     "effect": "NoSchedule"}
                ],
                "autoscaling": {"nodePool": np, "provisioningTimeout": "10m"},
            },
        )  # fmt: skip
        ground.pools.append(f"auto-{tag}")
        budget = ground.budget("team", 100_000)
        sampler = LimitSampler(pools, np).start()
        names = [f"w{i:03d}" for i in range(args.fit + args.over)]
        created: dict[str, float] = {}
        for name in names:
            ground.workload(name, budget=budget, replicas=1, cores=REPLICA_CORES)
            created[name] = time.monotonic()
        log(f"created {len(names)} workloads; limit {limit} cores = {args.fit} nodes")
        running: dict[str, float] = {}
        most_admitted = 0
        deadline = time.monotonic() + args.timeout
        while len(running) < args.fit and time.monotonic() < deadline:
            items = cluster.get_json("aw", "-n", namespace)["items"]
            now = time.monotonic()
            admitted = 0
            for item in items:
                status = item.get("status") or {}
                admitted += int(status.get("admittedCores") or 0)
                name = item["metadata"]["name"]
                if status.get("phase") == "Running" and name not in running:
                    running[name] = now - created[name]
            most_admitted = max(most_admitted, admitted)
            time.sleep(0.5)
        waiting = [
            item for item in cluster.get_json("aw", "-n", namespace)["items"]
            if (item.get("status") or {}).get("phase") == "Queued"
        ]  # fmt: skip
        messages = [(w.get("status") or {}).get("message", "") for w in waiting]
        most = sampler.stop() // 1000
        sampler = None
        latencies = list(running.values())
        log(f"{len(running)} Running, {len(waiting)} waiting; NodePool peak {most} cores")
        for name in names:
            cluster.kubectl("delete", "aw", name, "-n", namespace, "--wait=false")
        t0 = time.monotonic()
        wait_for(
            lambda: not pools.claims(np) and not pools.nodes(np),
            timeout=args.timeout,
            interval=2,
            what="consolidation to zero nodes",
        )
        consolidated = time.monotonic() - t0
    finally:
        if sampler is not None:
            sampler.stop()
        operator.stop()
        ground.cleanup()
        pools.cleanup()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
    result: dict[str, Any] = {
        "workloads_within_limit": args.fit,
        "workloads_beyond_limit": args.over,
        "running": len(running),
        "create_to_running_p50_s": round(statistics.median(latencies), 1) if latencies else None,
        "create_to_running_p99_s": round(percentile(latencies, 0.99), 1) if latencies else None,
        "create_to_running_max_s": round(max(latencies), 1) if latencies else None,
        "waiting_beyond_limit": len(waiting),
        "waiting_messages_name_nodepool": all(f"NodePool {np}" in m for m in messages),
        "nodepool_limit_cores": limit,
        "nodepool_peak_cores": most,
        "cores_over_limit_ever_requested": max(0, most - limit),
        "paddock_admitted_cores_peak": most_admitted,
        "consolidated_to_zero_s": round(consolidated, 1),
        "load_average": os.getloadavg(),
    }
    print(
        f"create -> Running through a launch: p50 {result['create_to_running_p50_s']} s, "
        f"p99 {result['create_to_running_p99_s']} s ({len(running)} workloads)"
    )
    print(
        f"NodePool peak {most} of limit {limit} cores; over the limit ever requested: "
        f"{result['cores_over_limit_ever_requested']}"
    )
    print(json.dumps(result))
    return 0 if result["cores_over_limit_ever_requested"] == 0 and len(running) == args.fit else 1


if __name__ == "__main__":
    sys.exit(main())
