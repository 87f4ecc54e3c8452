"""How much of the operator's full cycle Python's cyclic collector takes.

`plan()` pauses the collector (engine.py, `_collector_paused`), so bench/planner.py never sees
it. The operator cannot: it keeps each cycle's `Planner` for the steps, beside watch stores of
every workload, Deployment and pod. This builds bench/planner.py's state, adds `--ballast`
objects shaped like watched resources (nested dicts) to stand for those stores, then runs
`Planner(snapshot)` as the operator does (the previous one kept until the next replaces it,
collector on) and prints, per cycle, its CPU time and the collector's share (`gc.callbacks`).
Then the same after `gc.freeze()` of what was built, one remedy to weigh.

    .venv/bin/python bench/collector.py                   # full scale, about 20 s
    .venv/bin/python bench/collector.py --quick           # a tenth of the scale
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from typing import Any

from paddock.planner import Planner
from planner import build  # bench/planner.py: the same state, same seed


class CollectorClock:
    """Seconds spent in the collector's passes, from `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def cycles(snapshot: Any, count: int, clock: CollectorClock) -> list[tuple[float, float]]:
    """(CPU seconds, collector seconds) of each full cycle, keeping the last Planner alive."""
    kept = None
    out = []
    for _ in range(count):
        clock.seconds = 0.0
        started = time.process_time()
        kept = Planner(snapshot)
        out.append((time.process_time() - started, clock.seconds))
    del kept
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the scale")
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--ballast", type=int, default=300_000, help="watched-object stand-ins")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    snapshot = build(args.seed, 5_000 // scale, 5_000 // scale, 10, 10_000 // scale)
    ballast = [
        {"metadata": {"name": f"w{i}", "labels": {"app": "x"}}, "spec": {"cores": [i, 1]}}
        for i in range(args.ballast // scale)
    ]
    clock = CollectorClock()
    results = {}
    for label in ("collector_on", "after_freeze"):
        if label == "after_freeze":
            gc.collect()
            gc.freeze()
        rows = cycles(snapshot, args.cycles, clock)
        shown = ", ".join(f"{cpu:.3f} s ({spent:.3f})" for cpu, spent in rows)
        print(f"{label}: CPU per cycle (of which the collector): {shown}")
        results[label] = {
            "cycle_cpu_s": [round(cpu, 4) for cpu, _ in rows],
            "collector_s": [round(spent, 4) for _, spent in rows],
        }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}; ballast {len(ballast):,} objects")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
