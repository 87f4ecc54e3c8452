"""When a status subresource is written: only what differs, and drift on a slow clock.

- A routine wait (`status.ROUTINE_WAITS`: waiting for cores behind others) of a workload that
  has no status yet is written only once it has waited `head_status_delay` at the head of its
  queue, never deeper in it: a workload admitted within that time costs one status write, its
  admission, whatever the queue depth. Until then `kubectl get aw` shows it `Queued` (the CRD's
  default for a status nobody wrote) and `kubectl paddock` computes its position and why on
  demand. (Writing deep waits once after 30 s, as before, sent thousands of writes in a burst
  30 s into a deep run and stalled admissions behind them.)
- Workload status: a change that is only `queuePosition` or the numbers in a message (free cores
  move every cycle) is written at most once per `queue_refresh_interval`, and only when the
  written or the new position is the head of the queue (deep positions are never refreshed);
  reaching queue position 1 is written at once. `readyReplicas` moving while the phase stays is
  written at most once per `progress_interval`. Anything else (phase, reason, the wording of
  the message, admitted replicas, conditions) is written at once.
- CoreBudget and CorePool status are aggregates: at most one write per object per
  `aggregate_interval`, except a change of their condition, written at once.
- A write held back by those intervals is not lost: `wake` pokes the loop when the interval
  ends, so the last value lands once things settle.

What was queued is remembered until the watch echoes it, so an in-flight write is never repeated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paddock import GROUP, VERSION
from paddock.controller.applier.clients import API_TIMEOUT, Clients
from paddock.controller.status import routine_wait, unwritten
from paddock.controller.writer import Write

_NUMBER = re.compile(r"\d+")
MemoryKey = tuple[str, str]
"""(plural, "namespace/name" or the name of a cluster-scoped object)."""


def strip_volatile(status: Mapping[str, Any]) -> dict[str, Any]:
    """Status without timestamps, for "did anything change" comparisons."""
    out = {k: v for k, v in status.items() if v is not None}
    if "conditions" in out:
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in out["conditions"]
        ]
    return out


def _wording(status: Mapping[str, Any]) -> dict[str, Any]:
    """A stripped status without what drifts: queuePosition, readyReplicas, and the numbers in
    messages ("budget team-a has 12 of 256 free" changes whenever anything is admitted)."""
    out = {k: v for k, v in status.items() if k not in ("queuePosition", "readyReplicas")}
    if isinstance(out.get("message"), str):
        out["message"] = _NUMBER.sub("#", out["message"])
    if "conditions" in out:
        out["conditions"] = [
            {**c, "message": _NUMBER.sub("#", str(c.get("message", "")))} for c in out["conditions"]
        ]
    return out


def _condition_states(status: Mapping[str, Any]) -> list[tuple[Any, Any, Any]]:
    return [
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or ()
    ]


@dataclass
class StatusWrites:
    clients: Clients
    clock: Callable[[], float]
    wake: Callable[[float, str], None]
    """Poke the loop after a delay: a held-back status is written then."""
    queue_refresh_interval: float = 30.0
    progress_interval: float = 5.0
    aggregate_interval: float = 15.0
    head_status_delay: float = 5.0
    """A routine wait is written for the head of a queue once it has waited this long."""
    held: bool = False
    """Set when a change was held back (the caller then does not consider the object settled)."""
    written: dict[MemoryKey, dict[str, Any]] = field(default_factory=dict)
    written_at: dict[MemoryKey, float] = field(default_factory=dict)
    first_seen: dict[MemoryKey, float] = field(default_factory=dict)
    """When each workload without a status was first at the head of its queue."""

    def write(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        current: Mapping[str, Any],
        desired: dict[str, Any],
        key: str | None = None,
        lane: Hashable | None = None,
    ) -> list[Write]:
        """The merge patch that makes `current` (what the watch shows) `desired`, if due.
        `lane` orders it after other writes (default: a lane of its own)."""
        memory_key = (plural, key or name)
        written = self.written.get(memory_key)
        if written is not None and strip_volatile(current) == strip_volatile(written):
            del self.written[memory_key]  # the watch echoed it
            written = None
        baseline = written if written is not None else current
        if strip_volatile(baseline) == strip_volatile(desired):
            return []
        wait = self._wait(memory_key, baseline, desired)
        if wait == math.inf:
            return []  # not worth a write: settled until something else changes
        if wait > 0:
            self.held = True
            self.wake(wait, f"{plural} status held back")
            return []
        self.written[memory_key] = desired
        self.written_at[memory_key] = self.clock()

        def failed() -> None:
            if self.written.get(memory_key) is desired:
                del self.written[memory_key]
                self.written_at.pop(memory_key, None)

        # A merge patch: None removes a field (e.g. queuePosition once admitted).
        body = {"status": desired}
        custom = self.clients.custom
        if namespace is None:
            call = lambda: custom.patch_cluster_custom_object_status(  # noqa: E731
                GROUP,
                VERSION,
                plural,
                name,
                body,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )
        else:
            call = lambda: custom.patch_namespaced_custom_object_status(  # noqa: E731
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                body,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )
        return [
            Write(
                lane=lane or ("status", memory_key),
                target=("status", memory_key),
                kind="status",
                call=call,
                on_failure=failed,
                missing_ok=True,  # deleted meanwhile: nothing to report on
            )
        ]

    def _wait(
        self, memory_key: MemoryKey, before: Mapping[str, Any], after: Mapping[str, Any]
    ) -> float:
        """How much longer this change must wait (0: write now; inf: do not write it)."""
        now = self.clock()
        if memory_key[0] == "agentworkloads" and unwritten(before) and routine_wait(after):
            if after.get("queuePosition") != 1:
                return math.inf  # deep in a queue: computed on demand, never written
            started = self.first_seen.setdefault(memory_key, now)
            return max(0.0, started + self.head_status_delay - now)
        hold = self._hold(memory_key[0], before, after)
        if hold in (0.0, math.inf):
            return hold
        since = now - self.written_at.get(memory_key, -math.inf)
        return max(0.0, hold - since)

    def _hold(self, plural: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> float:
        """How long since the last write of this object a change must wait (0: write now)."""
        if plural != "agentworkloads":
            if not before or _condition_states(before) != _condition_states(after):
                return 0.0
            return self.aggregate_interval
        if _wording(strip_volatile(before)) != _wording(strip_volatile(after)):
            return 0.0  # phase, reason, wording, admission, conditions: the user must see it
        if before.get("readyReplicas") != after.get("readyReplicas"):
            return self.progress_interval
        position, was = after.get("queuePosition"), before.get("queuePosition")
        if position == 1 and was != 1:
            return 0.0  # reaching the head of the queue is worth telling at once
        if position != 1 and was != 1:
            return math.inf  # a deep position is computed on demand, never refreshed
        return self.queue_refresh_interval

    def forget(self, alive: Mapping[str, Mapping[str, Any]]) -> None:
        """Drop memories of objects that are gone (`alive`: plural -> objects by key)."""
        for memories in (self.written, self.written_at, self.first_seen):
            for memory_key in list(memories):
                plural, key = memory_key
                if key not in alive[plural]:
                    del memories[memory_key]
