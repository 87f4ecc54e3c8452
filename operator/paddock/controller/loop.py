"""The one scheduling loop: debounced, level-triggered, leader-only.

Watch events only `poke()` the loop (from any thread). The loop waits for a poke (or the
resync interval), lets a burst of events settle for `debounce` seconds (`step_debounce`, 5
ms, when a step runs next), and runs one cycle: `prepare` (on the event loop: copy the
little that kopf mutates there, the namespace index), then snapshot and plan in one worker
thread, then apply. The snapshot reads the list-watch stores under the lock the watch
threads hold while they apply events (runtime.py), so it sees a consistent state; the
event loop itself never takes that lock, so probes and watches are served while a big
cycle computes. Apply only queues the writes (the applier's writer threads make them in
the background) and returns, so the next cycle starts at the next poke instead of after
the slowest write; the `apply` stage of paddock_plan_duration_seconds is the time to
decide and queue. Every cycle recomputes from the current state, so a missed event costs
at most one resync interval, never a wrong decision.

Between full cycles, an optional incremental `step` (incremental.py, issue #15) decides new
workloads and the cores deleted ones free in milliseconds, with the last full cycle's planner,
also in a worker thread, then `apply_step` queues its writes. Pokes come in two kinds:
`urgent` ones (budgets and pools changed, leadership, a relist) run a full cycle at once;
the others (workloads, pods, Deployments, nodes, held-back or failed writes) let the step
decide what it can and run a full cycle while they keep coming, for preemption, resizes,
readiness and everything else, at most every `full_interval` seconds and no sooner than
`duty` times the last full cycle's own duration. A step that finds something only a full cycle
may decide (a workload that may preempt, a spec change) asks for one with `want_full`: it runs
once as much time as the last full cycle took has passed since it ended.

Why the pacing: a full cycle at 10,000 workloads takes seconds on a busy machine, and no step
runs during one (a step works on the last full cycle's planner, which the next one replaces).
Run back to back, full cycles would leave new work waiting seconds for each, and spend the
CPU the API server needs. Paced, they take at most a quarter of the loop's time (half, while
steps keep asking for them), and the steps between them decide new work in milliseconds.

Two more rules keep full cycles for what only they can do. When one is due and the step has
work, the step runs first, so new work is decided in milliseconds rather than after the full
cycle, and the full cycle finds only what steps cannot decide. And a full cycle that changed
no placement (`apply` returned False: no Deployment written or deleted; e.g. while steps admit
a steady stream of new work and the full cycles only report readiness) doubles the `duty` for
the next non-urgent wait, up to `quiet_doublings` times and never past the resync; one that
changes a placement, or a step's request, or an urgent change, resets it. At 10,000 workloads
(1.2 s per full cycle) that is a full cycle every 10 s instead of every 4-5 s; on a small
cluster, where a full cycle takes milliseconds, `full_interval` still rules.

`last_cycle_at` (monotonic) says when a cycle last finished, for /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from paddock.controller import metrics

log = logging.getLogger("paddock.loop")

S = TypeVar("S")
P = TypeVar("P")


def _nothing() -> None:
    return None


@dataclass
class SchedulingLoop(Generic[S, P]):
    snapshot: Callable[[], S]
    """Runs in a worker thread (with the plan)."""
    plan: Callable[[S], P]
    apply: Callable[[S, P], Awaitable[bool | None]]
    """Queues the plan's writes; returns False when the plan changed no placement."""
    is_leader: Callable[[], bool] = lambda: True
    prepare: Callable[[], None] = _nothing
    """Runs on the event loop just before each snapshot: copy what only the event loop may read."""
    debounce: float = 0.05
    """How long a burst of events may settle before a full cycle."""
    step_debounce: float = 0.005
    """...and before a step: a step costs milliseconds, and pokes arriving while one runs
    are batched into the next anyway, so waiting `debounce` would only add its 50 ms to the
    latency of every step-decided admission."""
    resync: float = 10.0
    step: Callable[[], Any] | None = None
    """The incremental step (in a worker thread): returns what `apply_step` takes, or None when
    a full cycle is needed now."""
    apply_step: Callable[[Any], Awaitable[None]] | None = None
    pending: Callable[[], bool] = lambda: False
    """Whether the step has work (changes noted since the last cycle or step)."""
    full_interval: float = 2.0
    """While only non-urgent pokes come, a full cycle at most this often."""
    duty: float = 3.0
    """...and no sooner than this many times the last full cycle's duration after it ended."""
    quiet_doublings: int = 2
    """How many times full cycles in a row that changed no placement double the `duty`."""
    steps: int = 0
    cycles: int = 0
    last_cycle_at: float | None = None
    """Monotonic time the last cycle ended (failed or not): the loop is not stuck."""
    running_since: float | None = None
    """Monotonic time the indexes were ready and the loop began (None: still listing)."""
    indexes_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _poked: asyncio.Event = field(default_factory=asyncio.Event)
    _last_reason: str = "start"
    _event_loop: asyncio.AbstractEventLoop | None = None
    _thread: int | None = None
    _poke_posted: bool = False
    _urgent: bool = True
    _dirty: bool = True
    _last_full: float = float("-inf")
    _last_full_took: float = 0.0
    _wanted: bool = False
    _quiet: int = 0
    """Full cycles in a row that changed no placement (at most `quiet_doublings`)."""

    def poke(self, reason: str, urgent: bool = True) -> None:
        """Ask for a cycle soon (`urgent`: a full one at once; otherwise the step decides what
        it can and a full cycle follows within `full_interval`). Cheap, and safe to call from
        any thread, for every event."""
        self._last_reason = reason
        self._dirty = True
        if urgent:
            self._urgent = True
        if self._thread is None or threading.get_ident() == self._thread:
            self._poked.set()
            return
        if self._poke_posted:  # one hand-over to the event loop is pending: it will do
            return
        self._poke_posted = True
        assert self._event_loop is not None
        with contextlib.suppress(RuntimeError):  # the event loop is closed: shutting down
            self._event_loop.call_soon_threadsafe(self._poked_from_thread)

    def want_full(self, reason: str) -> None:
        """A step found something only a full cycle may decide: run one as soon as the last
        one's duration has passed since it ended (on the event loop's thread)."""
        self._wanted = True
        self.poke(reason, urgent=False)

    def _poked_from_thread(self) -> None:
        self._poke_posted = False
        self._poked.set()

    def bind(self) -> None:
        """Remember the running event loop, so pokes from other threads reach it."""
        self._event_loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def stale(self, bound: float, now: float, since: float) -> bool:
        """No cycle ended within `bound` seconds, counting from `since` at the earliest
        (when this replica became leader and the indexes were ready)."""
        last = max(self.last_cycle_at or since, since)
        return now - last > bound

    async def run(self) -> None:
        self.bind()
        await self.indexes_ready.wait()
        self.running_since = time.monotonic()
        log.info("indexes populated; scheduling loop running")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), timeout=self._timeout())
            await asyncio.sleep(self.debounce if self._full_due() else self.step_debounce)
            self._poked.clear()
            if not self.is_leader():
                continue
            if self._full_due():
                if not self._urgent and self.step is not None and self.pending():
                    await self.run_step()  # new work first, in milliseconds; then the full cycle
            elif await self.run_step():
                continue
            await self.run_cycle()

    def _timeout(self) -> float:
        """Until the next full cycle is due without a poke: the resync, or sooner when
        changes wait for one."""
        return max(0.0, self._bound() - (time.monotonic() - self._last_full))

    def _bound(self) -> float:
        """How long after the last full cycle ended the next one is due."""
        if self._wanted:
            return min(self._last_full_took, self.resync)
        if self._dirty:
            duty = self.duty * float(2**self._quiet)
            return min(max(self.full_interval, duty * self._last_full_took), self.resync)
        return self.resync

    def _full_due(self) -> bool:
        if self.step is None or self._urgent:
            return True
        return time.monotonic() - self._last_full >= self._bound()

    async def run_step(self) -> bool:
        """The incremental step, if it has work; False when a full cycle must run now."""
        assert self.step is not None and self.apply_step is not None
        if not self.pending():
            return True
        self.steps += 1
        started = time.perf_counter()
        try:
            decided = await asyncio.to_thread(self.step)
            if decided is None:
                return False
            await self.apply_step(decided)
        except Exception:
            log.exception("incremental step failed", extra={"cycle": self.cycles})
            metrics.API_ERRORS.labels(kind="cycle").inc()
            return False
        elapsed = time.perf_counter() - started
        metrics.PLAN_DURATION.labels(stage="step").observe(elapsed)
        log.debug(
            "step done (%s)", self._last_reason, extra={"duration_ms": round(elapsed * 1000, 1)}
        )
        return True

    def _snapshot_and_plan(self) -> tuple[S, P, float, float]:
        """In a worker thread: both CPU-heavy stages, off the event loop."""
        started = time.perf_counter()
        snapshot = self.snapshot()
        built = time.perf_counter()
        return snapshot, self.plan(snapshot), built - started, time.perf_counter() - built

    async def run_cycle(self) -> None:
        self.cycles += 1
        started = time.perf_counter()
        if self._urgent or self._wanted:
            self._quiet = 0
        self._urgent = self._dirty = self._wanted = False
        try:
            self.prepare()
            snapshot, plan, build_s, plan_s = await asyncio.to_thread(self._snapshot_and_plan)
            planned = time.perf_counter()
            placed = await self.apply(snapshot, plan)
            applied = time.perf_counter()
        except Exception:
            # One bad cycle must never stop the loop: log it, count it, go on.
            log.exception("scheduling cycle failed", extra={"cycle": self.cycles})
            metrics.API_ERRORS.labels(kind="cycle").inc()
            return
        finally:
            # Counted from the end: steps get `full_interval` between full cycles however long
            # a full cycle takes on a busy machine.
            self.last_cycle_at = self._last_full = time.monotonic()
            self._last_full_took = time.perf_counter() - started
        self._quiet = min(self._quiet + 1, self.quiet_doublings) if placed is False else 0
        metrics.CYCLES.inc()
        metrics.PLAN_DURATION.labels(stage="snapshot").observe(build_s)
        metrics.PLAN_DURATION.labels(stage="plan").observe(plan_s)
        metrics.PLAN_DURATION.labels(stage="apply").observe(applied - planned)
        log.debug(
            "cycle done (%s)",
            self._last_reason,
            extra={"cycle": self.cycles, "duration_ms": round((applied - started) * 1000, 1)},
        )
