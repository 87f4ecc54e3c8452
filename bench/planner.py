"""Benchmark of the planner at the design's target scale.

    .venv/bin/python bench/planner.py            # 5,000 nodes, 50,000 running pods, 10,000 pending
    .venv/bin/python bench/planner.py --quick    # a tenth of that, for a smoke run

Builds a fixed-seed cluster: four Graviton pools over three zones, 40 team budgets in 8 cohorts
(some StrictFIFO, some preempting or reclaiming), 5,000 admitted workloads whose 50,000 pods are
bound to random nodes with room (as kube-scheduler's spreading would leave them), and 10,000
queued workloads. Then it times:

- a full cycle, `plan(snapshot)`, several times (the median is reported);
- one new workload on that state through `Planner.add` (p50, p99 over many workloads; each is
  decided against what the cycle and the earlier additions left);
- peak RSS of the whole process (state building included), from `resource.getrusage`.

Human-readable figures first; the last line is one JSON object for machines to compare runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

try:
    import paddock.planner  # noqa: F401
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from paddock.planner import (
    Budget,
    Node,
    Planner,
    Pool,
    Snapshot,
    Workload,
    plan,
)

GI = 1 << 30
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
# (pool, cores per node, GiB per core, share of nodes, weight)
POOLS = (
    ("c8g-48xl", 192, 2, 0.20, 30),
    ("c7g-16xl", 64, 2, 0.40, 20),
    ("m7g-16xl", 64, 4, 0.10, 15),
    ("c6g-16xl", 64, 2, 0.30, 10),
)
RESERVED = 2
SHAPES = (1, 2, 4, 4, 8, 8, 16)


def build(seed: int, n_nodes: int, n_running: int, pods_each: int, n_pending: int) -> Snapshot:
    rng = random.Random(seed)
    pools = tuple(Pool(name=name, weight=weight) for name, _, _, _, weight in POOLS)
    free: list[int] = []
    memory: list[int] = []
    node_pool: list[str] = []
    names: list[str] = []
    by_pool: dict[str, list[int]] = {name: [] for name, *_ in POOLS}
    for pool_name, cores, gib, share, _ in POOLS:
        for _ in range(round(n_nodes * share)):
            i = len(names)
            names.append(f"ip-10-{i // 250}-{i % 250}.ec2.internal")
            other = rng.choice((0, 0, 1, 2, 4))  # daemons and non-Paddock pods
            free.append(cores - RESERVED - other)
            memory.append((cores - RESERVED - other) * gib * GI)
            node_pool.append(pool_name)
            by_pool[pool_name].append(i)
    pool_names = tuple(by_pool)

    budgets = []
    for t in range(40):
        cohort = f"org-{t % 8}"
        budgets.append(
            Budget(
                name=f"team-{t:02d}",
                # Most teams are tight; every tenth has room to spare (new work lands there).
                cores=30_000 if t % 10 == 9 else rng.randrange(4_000, 14_000, 500),
                pools=() if t % 3 else tuple(rng.sample(pool_names, 2)),
                cohort=cohort,
                borrowing_limit=None if t % 4 else 2_000,
                lending_limit=None if t % 5 else 1_000,
                queueing="StrictFIFO" if t % 10 == 0 else "BestEffortFIFO",
                preempt_within_budget="LowerPriority" if t % 8 == 1 else "Never",
                reclaim_from_cohort="LowerPriority" if t % 8 == 2 else "Never",
            )
        )

    def allowed(b: Budget) -> list[str]:
        return list(b.pools) if b.pools else list(pool_names)

    workloads = []
    for i in range(n_running):
        b = budgets[i % len(budgets)]
        cores = rng.choice(SHAPES[:-1])
        placed: dict[str, int] = {}
        per_pool: dict[str, int] = {}
        candidates = [n for p in allowed(b) for n in by_pool[p]]
        for _ in range(pods_each):
            for _attempt in range(20):
                n = rng.choice(candidates)
                if free[n] >= cores and memory[n] >= cores * GI:
                    free[n] -= cores
                    memory[n] -= cores * GI
                    placed[names[n]] = placed.get(names[n], 0) + 1
                    per_pool[node_pool[n]] = per_pool.get(node_pool[n], 0) + 1
                    break
        count = sum(placed.values())
        workloads.append(
            Workload(
                key=f"{b.name}/run-{i}",
                namespace=b.name,
                name=f"run-{i}",
                replicas=pods_each,
                min_replicas=max(1, min(count, pods_each // 2)),
                cores_per_replica=cores,
                memory_per_replica=cores * GI,
                priority=rng.choice((1, 2, 2, 3)),
                created=float(i),
                budget_candidates=(b.name,),
                current=tuple(sorted(per_pool.items())),
                placed=tuple(sorted(placed.items())),
            )
        )
    for i in range(n_pending):
        b = budgets[rng.randrange(len(budgets))]
        replicas = rng.randint(1, 6)
        cores = rng.choice(SHAPES)
        narrowed = () if rng.random() < 0.8 else tuple(rng.sample(allowed(b), 1))
        workloads.append(
            Workload(
                key=f"{b.name}/pending-{i}",
                namespace=b.name,
                name=f"pending-{i}",
                replicas=replicas,
                min_replicas=rng.randint(1, replicas),
                cores_per_replica=cores,
                memory_per_replica=cores * GI,
                priority=rng.choice((0, 1, 2, 3, 4)),
                created=float(n_running + i),
                budget_candidates=(b.name,),
                pools=narrowed,
                spread=rng.choice(("None", "None", "Node", "Zone")),
            )
        )
    nodes = tuple(
        Node(
            name=names[i],
            pool=node_pool[i],
            zone=ZONES[i % len(ZONES)],
            arch="arm64",
            schedulable=True,
            free_cores=free[i],
            free_memory=memory[i],
        )
        for i in range(len(names))
    )
    return Snapshot(nodes=nodes, pools=pools, budgets=tuple(budgets), workloads=tuple(workloads))


def newcomers(seed: int, count: int, budgets: tuple[Budget, ...]) -> list[Workload]:
    rng = random.Random(seed + 1)
    out = []
    for i in range(count):
        b = budgets[rng.randrange(len(budgets))]
        replicas = rng.randint(1, 4)
        cores = rng.choice(SHAPES)
        out.append(
            Workload(
                key=f"{b.name}/new-{i}",
                namespace=b.name,
                name=f"new-{i}",
                replicas=replicas,
                min_replicas=1,
                cores_per_replica=cores,
                memory_per_replica=cores * GI,
                priority=rng.choice((0, 1, 2)),
                created=1e9 + i,
                budget_candidates=(b.name,),
                spread=rng.choice(("None", "Node", "Zone")),
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the scale")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--cycles", type=int, default=5, help="full cycles to time")
    parser.add_argument("--adds", type=int, default=500, help="new workloads to time")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    n_nodes, n_running, pods_each, n_pending = 5_000 // scale, 5_000 // scale, 10, 10_000 // scale

    started = time.perf_counter()
    snap = build(args.seed, n_nodes, n_running, pods_each, n_pending)
    running_pods = sum(r for w in snap.workloads for _, r in w.placed)
    print(
        f"state: {len(snap.nodes):,} nodes, {running_pods:,} running pods in "
        f"{n_running:,} workloads, {n_pending:,} pending workloads, {len(snap.budgets)} budgets "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )

    timings = []
    cpu = []
    result = None
    for _ in range(args.cycles):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        result = plan(snap)
        timings.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    full = statistics.median(timings)
    decisions = result.workloads.values()
    admitted_now = sum(
        1
        for d in decisions
        if d.events and d.admitted_replicas and d.key.split("/")[1].startswith("pending")
    )
    print(
        f"full cycle: median {full:.3f} s over {args.cycles} runs "
        f"(min {min(timings):.3f}, max {max(timings):.3f}; CPU median "
        f"{statistics.median(cpu):.3f} s); admitted {admitted_now:,} of "
        f"{n_pending:,} pending, {len(result.victims)} preemptions"
    )

    planner = Planner(snap)
    adds: list[float] = []
    outcomes = {"admitted": 0, "queued": 0, "declined": 0}
    for w in newcomers(args.seed, args.adds, snap.budgets):
        t0 = time.perf_counter()
        decision = planner.add(w)
        adds.append((time.perf_counter() - t0) * 1000)
        if decision is None:
            outcomes["declined"] += 1
        elif decision.admitted_replicas:
            outcomes["admitted"] += 1
        else:
            outcomes["queued"] += 1
    p50, p99 = percentile(adds, 0.50), percentile(adds, 0.99)
    print(
        f"one new workload (Planner.add, {len(adds)} workloads): p50 {p50:.3f} ms, "
        f"p99 {p99:.3f} ms; {outcomes['admitted']} admitted, {outcomes['queued']} queued, "
        f"{outcomes['declined']} left to the next full cycle"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"peak RSS: {peak:.0f} MiB (whole process, state building included)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (wall times include waiting)")
    print(
        json.dumps(
            {
                "full_cycle_s": round(full, 4),
                "incremental_p50_ms": round(p50, 4),
                "incremental_p99_ms": round(p99, 4),
                "peak_rss_mib": round(peak, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
