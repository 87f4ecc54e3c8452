#!/usr/bin/env python3
"""End-to-end benchmark of Paddock: the real operator against the real local control plane.

Brings up a private control plane (`hack/cluster.sh` with its own folder and
ports, never the shared development cluster), makes kwok Graviton nodes,
starts `paddock run` as a subprocess, drives it with AgentWorkloads created
concurrently, and timestamps what happens with watches. Sub-benchmarks:

  throughput  10,000 one-core workloads: admissions/s with status written,
              create -> Deployment p50/p99, API writes per admission
  rss         operator peak RSS at 1,000 and 5,000 nodes with 50,000 running pods
  kueue       Kueue's scheduler baseline shape: 5 cohorts x 6 budgets, 500 workloads each
              (350 small / 100 medium / 50 large = 1 / 5 / 20 cores), total time and
              time to admission per class; first Kueue's own harness (minimalkueue and
              its runner, built by bench/kueue/build.sh) on a fresh control plane of the
              same kind with the same shape, then Paddock, then both side by side

  bench/e2e.py --quick                       # a small smoke run, a few minutes
  bench/e2e.py                               # full sizes (tens of minutes on 2 cores)
  bench/e2e.py --only throughput --workloads 2000 --nodes 200
  bench/e2e.py --only kueue --kueue-per-budget 100   # Kueue and Paddock, 3,000 workloads each
  bench/e2e.py --kubeconfig PATH             # use a running cluster instead of starting one

Progress goes to stderr; stdout gets the figures, and its last line is one JSON
object for comparing runs by machine.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(REPO_ROOT))  # `tests.support.operator`; bench/ itself is sys.path[0]

from e2elib import kueue_baseline, scenarios  # noqa: E402
from e2elib.cluster import BenchCluster, install_crds, log  # noqa: E402
from e2elib.kueue_harness import format_table, rows_json, side_by_side  # noqa: E402
from e2elib.report import load_average, machine  # noqa: E402

SUB_BENCHMARKS = ("throughput", "rss", "kueue")
SUMMARY_KEYS = (
    "admissions_per_s",
    "create_to_deployment_p50_s",
    "create_to_deployment_p99_s",
    "writes_per_admission",
    "rss_mib_1000_nodes",
    "rss_mib_5000_nodes",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", default=",".join(SUB_BENCHMARKS), help="comma-separated subset")
    parser.add_argument("--workloads", type=int, help="throughput: workloads (10000)")
    parser.add_argument("--nodes", type=int, help="throughput: nodes (1000)")
    parser.add_argument("--threads", type=int, default=16, help="throughput: creating threads")
    parser.add_argument("--rss-nodes", help="rss: node counts, e.g. 1000,5000")
    parser.add_argument("--pods", type=int, help="rss: running pods (50000)")
    parser.add_argument("--kueue-per-budget", type=int, help="kueue: workloads per budget (500)")
    parser.add_argument(
        "--kueue-nodes",
        type=int,
        default=400,
        help="kueue: c8g.16xlarge nodes (400: room for the pods of deleted workloads that the "
        "garbage collector has not removed yet, so the budgets, as in Kueue's run, bind)",
    )
    parser.add_argument(
        "--no-kueue-baseline",
        dest="kueue_baseline",
        action="store_false",
        help="kueue: run Paddock only, not Kueue's own harness before it",
    )
    parser.add_argument("--kubeconfig", type=Path, help="use this cluster; do not start one")
    parser.add_argument("--cluster-dir", type=Path, default=REPO_ROOT / ".local" / "bench-cluster")
    parser.add_argument("--port-base", type=int, default=37000)
    parser.add_argument("--keep-cluster", action="store_true", help="leave it running at the end")
    parser.add_argument(
        "--kopf",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="what-if: override a kopf setting of the operator (e.g. queueing.worker_limit=none)",
    )
    parser.add_argument("--py-spy", help="path of py-spy: profile the operator (throughput, kueue)")
    parser.add_argument("--out", type=Path, help="also write all figures here (JSON)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.workloads = args.workloads or (200 if quick else 10_000)
    args.nodes = args.nodes or (20 if quick else 1000)
    args.rss_nodes = tuple(
        int(n) for n in (args.rss_nodes or ("50,100" if quick else "1000,5000")).split(",")
    )
    args.pods = args.pods if args.pods is not None else (1000 if quick else 50_000)
    args.kueue_per_budget = args.kueue_per_budget or (10 if quick else 500)
    if quick and args.kueue_nodes == 400:
        args.kueue_nodes = 6
    args.only = [name for name in args.only.split(",") if name]
    unknown = set(args.only) - set(SUB_BENCHMARKS)
    if unknown:
        parser.error(f"unknown sub-benchmarks {sorted(unknown)}; choose from {SUB_BENCHMARKS}")
    return args


def run_on_fresh_cluster(
    args: argparse.Namespace, body: Callable[[BenchCluster], dict[str, Any]]
) -> dict[str, Any]:
    """Each sub-benchmark gets an empty control plane (`down` deletes the etcd data)."""
    if args.kubeconfig:
        cluster = BenchCluster.existing(args.kubeconfig)
    else:
        cluster = BenchCluster.managed_at(args.cluster_dir, args.port_base)
        cluster.down()
        cluster.up()
    try:
        install_crds(cluster)
        return body(cluster)
    finally:
        if not args.keep_cluster:
            cluster.down()


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The one-line JSON: the issue's six keys (null when that part did not run)."""
    out: dict[str, Any] = dict.fromkeys(SUMMARY_KEYS)
    tp = results.get("throughput") or {}
    if tp.get("ready", True) and tp:
        out["admissions_per_s"] = tp["admissions_per_s"]
        out["create_to_deployment_p50_s"] = tp["create_to_deployment"]["p50_s"]
        out["create_to_deployment_p99_s"] = tp["create_to_deployment"]["p99_s"]
        out["writes_per_admission"] = tp["writes_per_admission"]
    for run in (results.get("rss") or {}).get("runs", []):
        if run["nodes"] in (1000, 5000) and run.get("ready"):
            out[f"rss_mib_{run['nodes']}_nodes"] = run["peak_rss_mib"]
    kq = results.get("kueue")
    if kq and kq.get("ready", True):
        out["kueue_total_s"] = kq["total_s"]
    base = results.get("kueue_baseline")
    if base and base.get("ok"):
        out["kueue_baseline_total_s"] = base["total_s"]
        for row in results.get("kueue_side_by_side", []):
            if row["figure"] == "total time":
                out["kueue_total_ratio"] = row["paddock_over_kueue"]
    return out


def exclusive(directory: Path) -> Any:
    """One benchmark per cluster folder at a time: a second one would stop the first's cluster."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / ".bench.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another bench/e2e.py is using {directory}") from None
    return handle


def run_kueue_shaped(args: argparse.Namespace, logs: Path, results: dict[str, Any]) -> None:
    """Kueue's own harness on a fresh control plane, then Paddock on another fresh one of the
    same kind, same shape; then the two side by side (Paddock / Kueue ratios)."""
    kq_cfg = scenarios.KueueConfig(
        per_budget=args.kueue_per_budget,
        nodes=args.kueue_nodes,
        kopf=tuple(args.kopf),
        py_spy=args.py_spy,
    )
    if args.kueue_baseline:
        try:
            harness = kueue_baseline.build()  # before any cluster: never build while measuring
        except (OSError, subprocess.SubprocessError) as error:
            log(f"kueue baseline: Kueue's harness could not be built ({error}); Paddock alone")
            results["kueue_baseline"] = {"ok": False, "error": f"build failed: {error}"}
        else:
            results["kueue_baseline"] = run_on_fresh_cluster(
                args, lambda cl: kueue_baseline.run(cl, kq_cfg, logs, harness)
            )
        print("kueue_baseline:", json.dumps(results["kueue_baseline"]), flush=True)
    load_start = load_average()
    results["kueue"] = run_on_fresh_cluster(args, lambda cl: scenarios.kueue(cl, kq_cfg, logs))
    results["kueue"]["load_average_start"] = load_start
    print("kueue:", json.dumps(results["kueue"]), flush=True)
    baseline = results.get("kueue_baseline")
    if baseline:
        rows = side_by_side(baseline, results["kueue"])
        results["kueue_side_by_side"] = rows_json(rows)
        workloads = results["kueue"].get("workloads") or baseline.get("workloads")
        print(
            f"\nKueue-shaped, {workloads} workloads, back to back on this machine\n"
            f"(load: Kueue {baseline.get('load_average_start')} -> "
            f"{baseline.get('load_average_end')}, Paddock {load_start} -> "
            f"{results['kueue'].get('load_average_end')})\n",
            flush=True,
        )
        if not baseline.get("complete"):
            print(
                "WARNING: Kueue's runner stopped before every workload finished: its total time "
                "and admissions are not comparable (see kueue_baseline in the JSON).",
                flush=True,
            )
        label = f"Kueue {baseline.get('kueue_version', '')} (minimalkueue)"
        print(format_table(rows, label, "Paddock"), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lock = exclusive(args.cluster_dir)  # noqa: F841 - held until the process exits
    logs = REPO_ROOT / ".local" / "bench-logs" / time.strftime("%Y%m%d-%H%M%S")
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "kopf_what_if": args.kopf,
        "command": " ".join(["bench/e2e.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "load_average_start": load_average(),
        "logs": str(logs),
    }
    log(f"operator logs and figures in {logs}")
    if "throughput" in args.only:
        cfg = scenarios.ThroughputConfig(
            args.nodes,
            args.workloads,
            threads=args.threads,
            settle_timeout=60 if args.quick else 300,
            kopf=tuple(args.kopf),
            py_spy=args.py_spy,
        )
        results["throughput"] = run_on_fresh_cluster(
            args, lambda cl: scenarios.throughput(cl, cfg, logs)
        )
        print("throughput:", json.dumps(results["throughput"]), flush=True)
    if "rss" in args.only:
        rss_cfg = scenarios.RssConfig(args.rss_nodes, args.pods, kopf=tuple(args.kopf))
        results["rss"] = run_on_fresh_cluster(args, lambda cl: scenarios.rss(cl, rss_cfg, logs))
        print("rss:", json.dumps(results["rss"]), flush=True)
    if "kueue" in args.only:
        run_kueue_shaped(args, logs, results)
    results["load_average_end"] = load_average()
    (logs / "results.json").write_text(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(summary(results)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
