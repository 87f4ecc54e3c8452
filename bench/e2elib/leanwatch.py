"""Reference, not the operator: what a compact list+watch of nodes and pods costs in memory.

Run by the rss sub-benchmark beside the operator, against the same cluster:
it imports what the operator imports (so the baseline is comparable), lists
nodes and pods in pages of 500 and keeps only what Paddock's snapshot needs
(per pod: node, CPU and memory requests; per node: allocatable, labels,
schedulable), then follows the watch for a while. It prints one JSON line:
RSS before, after the list and at peak, and how long the list took. This is
the evidence for replacing kopf's per-object machinery on the two big kinds.

  cd bench && python -m e2elib.leanwatch --kubeconfig PATH [--watch-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from e2elib.kube import Kube


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def compact_pod(pod: dict[str, Any]) -> tuple[str, int, int] | None:
    from paddock.controller.observed import is_terminal, pod_requests

    node = (pod.get("spec") or {}).get("nodeName")
    if not node or is_terminal(pod):
        return None
    cpu, memory = pod_requests(pod.get("spec") or {})
    return sys.intern(node), cpu, memory


def list_all(kube: Kube, path: str, keep: dict[str, Any], compact: Any) -> str:
    token, version = "", ""
    while True:
        extra: dict[str, Any] = {"continue": token} if token else {}
        page = kube.request("GET", path, limit=500, **extra)
        for item in page["items"]:
            value = compact(item)
            if value is not None:
                keep[item["metadata"]["uid"]] = value
        version = str(page["metadata"]["resourceVersion"])
        token = page["metadata"].get("continue") or ""
        if not token:
            return version


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--watch-seconds", type=float, default=20)
    args = parser.parse_args()
    import kopf  # noqa: F401 - the operator's imports, for a comparable baseline

    import paddock.controller.handlers  # noqa: F401

    kube = Kube.from_kubeconfig(args.kubeconfig, connections=4)
    baseline = rss_mib()
    from paddock.controller.observed import node_facts

    started = time.monotonic()
    nodes: dict[str, Any] = {}
    pods: dict[str, Any] = {}
    list_all(kube, "/api/v1/nodes", nodes, node_facts)
    version = list_all(kube, "/api/v1/pods", pods, compact_pod)
    listed_s = time.monotonic() - started
    after_list = rss_mib()
    stop_at = time.time() + args.watch_seconds
    events = 0
    for event in kube.watch("/api/v1/pods", version, stop_at=stop_at):
        events += 1
        meta = event["object"].get("metadata") or {}
        if event["type"] == "DELETED":
            pods.pop(str(meta.get("uid")), None)
        elif event["type"] in ("ADDED", "MODIFIED"):
            value = compact_pod(event["object"])
            if value is None:
                pods.pop(str(meta.get("uid")), None)
            else:
                pods[meta["uid"]] = value
    print(
        json.dumps(
            {
                "nodes": len(nodes),
                "pods": len(pods),
                "list_s": round(listed_s, 1),
                "baseline_rss_mib": round(baseline, 1),
                "after_list_rss_mib": round(after_list, 1),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "watch_events": events,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
