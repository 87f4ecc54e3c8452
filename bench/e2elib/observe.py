"""Timestamps of what the operator does, taken by a watcher in its own process.

Two watches (not polling) run in a child process so that the benchmark's own
work (creating thousands of objects from threads) never delays a timestamp
behind the GIL: AgentWorkloads, for the moment their status first says
admitted (and when it stops saying so, for the Kueue-shaped run), and
Paddock's Deployments, for the moment one first exists for a workload. Events
reach the parent through a queue as (what, key, time.time()).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2elib.kube import GROUP_PATH, Kube

ADMITTED, UNADMITTED, RUNNING, DEPLOYMENT, READY, GONE = (
    "admitted",
    "unadmitted",
    "running",
    "deployment",
    "ready",
    "gone",
)
WORKLOAD_LABEL = "paddock.dev/workload"


def _key(meta: dict[str, Any]) -> str:
    return f"{meta.get('namespace')}/{meta['name']}"


def _watch_workloads(kube: Kube, out: mp.Queue[tuple[str, str, float]], selector: str) -> None:
    path = f"{GROUP_PATH}/agentworkloads"
    version = kube.resource_version(path)
    out.put((READY, "agentworkloads", time.time()))
    admitted: set[str] = set()
    running: set[str] = set()
    for event in kube.watch(path, version, stop_at=float("inf"), labelSelector=selector):
        if event["type"] == "BOOKMARK":
            continue
        now = time.time()
        body = event["object"]
        key = _key(body["metadata"])
        if event["type"] == "DELETED":
            admitted.discard(key)
            running.discard(key)
            out.put((GONE, key, now))
            continue
        status = body.get("status") or {}
        is_admitted = int(status.get("admittedReplicas") or 0) > 0
        if is_admitted and key not in admitted:
            admitted.add(key)
            out.put((ADMITTED, key, now))
        elif not is_admitted and key in admitted:
            admitted.discard(key)
            out.put((UNADMITTED, key, now))
        if status.get("phase") == "Running" and key not in running:
            running.add(key)
            out.put((RUNNING, key, now))


def _watch_deployments(kube: Kube, out: mp.Queue[tuple[str, str, float]]) -> None:
    path = "/apis/apps/v1/deployments"
    version = kube.resource_version(path)
    out.put((READY, "deployments", time.time()))
    seen: set[str] = set()
    for event in kube.watch(path, version, stop_at=float("inf"), labelSelector=WORKLOAD_LABEL):
        if event["type"] in ("BOOKMARK", "DELETED"):
            continue
        meta = event["object"]["metadata"]
        key = f"{meta['namespace']}/{meta['labels'][WORKLOAD_LABEL]}"
        if key not in seen:
            seen.add(key)
            out.put((DEPLOYMENT, key, time.time()))


def _watcher_main(kubeconfig: str, out: mp.Queue[tuple[str, str, float]], selector: str) -> None:
    kube = Kube.from_kubeconfig(Path(kubeconfig), connections=4)
    threads = [
        threading.Thread(target=_watch_workloads, args=(kube, out, selector), daemon=True),
        threading.Thread(target=_watch_deployments, args=(kube, out), daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class Observer:
    """The parent's side: first-seen times per workload, and waits on counts."""

    kubeconfig: Path
    selector: str = "bench/run"
    admitted: dict[str, float] = field(default_factory=dict)
    """First admission per workload."""
    deployed: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)
    admitted_now: set[str] = field(default_factory=set)
    on_event: Callable[[str, str, float], None] | None = None
    _queue: mp.Queue[tuple[str, str, float]] = field(default_factory=mp.Queue)
    _process: mp.Process | None = None
    _ready: set[str] = field(default_factory=set)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    timeline: list[tuple[str, str, float]] = field(default_factory=list)
    """Every event seen, in order: for tracing where a run's seconds went."""

    def start(self) -> None:
        self._process = mp.Process(
            target=_watcher_main,
            args=(str(self.kubeconfig), self._queue, self.selector),
            daemon=True,
            name="bench-watcher",
        )
        self._process.start()
        threading.Thread(target=self._consume, daemon=True, name="bench-observer").start()
        self.wait_until(lambda: len(self._ready) == 2, timeout=60, what="watches open")

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._process = None

    def _consume(self) -> None:
        while True:
            try:
                what, key, at = self._queue.get(timeout=1)
            except queue.Empty:
                if self._process is None or not self._process.is_alive():
                    return
                continue
            with self._changed:
                self._record(what, key, at)
                self._changed.notify_all()
            if self.on_event is not None and what != READY:
                self.on_event(what, key, at)

    def _record(self, what: str, key: str, at: float) -> None:
        self.counts[what] += 1
        self.timeline.append((what, key, at))
        if what == READY:
            self._ready.add(key)
        elif what == ADMITTED:
            self.admitted.setdefault(key, at)
            self.admitted_now.add(key)
        elif what in (UNADMITTED, GONE):
            self.admitted_now.discard(key)
        elif what == DEPLOYMENT:
            self.deployed.setdefault(key, at)
        elif what == RUNNING:
            self.running.setdefault(key, at)

    def wait_until(self, probe: Callable[[], bool], timeout: float, what: str) -> bool:
        """Wait (on watch events, not a timer) until `probe()`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not probe():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
        return True
