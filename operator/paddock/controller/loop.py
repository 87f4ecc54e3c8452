"""The one scheduling loop: debounced, level-triggered, leader-only.

Watch events only `poke()` the loop. The loop waits for a poke (or the resync
interval), lets a burst of events settle for `debounce` seconds, and runs one
cycle: snapshot (on the event loop, because kopf mutates the indexes there),
plan (pure, in a worker thread) and apply. Apply only queues the writes (the
applier's writer threads make them in the background) and returns, so the next
cycle starts at the next poke instead of after the slowest write; the
`apply` stage of paddock_plan_duration_seconds is the time to decide and queue.
Every cycle recomputes from the current state, so a missed event costs at most
one resync interval, never a wrong decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from paddock.controller import metrics

log = logging.getLogger("paddock.loop")

S = TypeVar("S")
P = TypeVar("P")


@dataclass
class SchedulingLoop(Generic[S, P]):
    snapshot: Callable[[], S]
    plan: Callable[[S], P]
    apply: Callable[[S, P], Awaitable[None]]
    is_leader: Callable[[], bool] = lambda: True
    debounce: float = 0.05
    resync: float = 10.0
    cycles: int = 0
    indexes_ready: asyncio.Event = field(default_factory=asyncio.Event)
    _poked: asyncio.Event = field(default_factory=asyncio.Event)
    _last_reason: str = "start"

    def poke(self, reason: str) -> None:
        """Ask for a cycle soon. Cheap and safe to call from every watch event."""
        self._last_reason = reason
        self._poked.set()

    async def run(self) -> None:
        await self.indexes_ready.wait()
        log.info("indexes populated; scheduling loop running")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), timeout=self.resync)
            await asyncio.sleep(self.debounce)
            self._poked.clear()
            if not self.is_leader():
                continue
            await self.run_cycle()

    async def run_cycle(self) -> None:
        self.cycles += 1
        started = time.perf_counter()
        try:
            snapshot = self.snapshot()
            built = time.perf_counter()
            plan = await asyncio.to_thread(self.plan, snapshot)
            planned = time.perf_counter()
            await self.apply(snapshot, plan)
            applied = time.perf_counter()
        except Exception:
            # One bad cycle must never stop the loop: log it, count it, go on.
            log.exception("scheduling cycle failed", extra={"cycle": self.cycles})
            metrics.API_ERRORS.labels(kind="cycle").inc()
            return
        metrics.CYCLES.inc()
        metrics.PLAN_DURATION.labels(stage="snapshot").observe(built - started)
        metrics.PLAN_DURATION.labels(stage="plan").observe(planned - built)
        metrics.PLAN_DURATION.labels(stage="apply").observe(applied - planned)
        log.debug(
            "cycle done (%s)",
            self._last_reason,
            extra={"cycle": self.cycles, "duration_ms": round((applied - started) * 1000, 1)},
        )
