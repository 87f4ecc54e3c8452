"""Results by key, with a time to live and a size bound (least recently used goes first).

Why a TTL and not "resolve once": tags move (`:latest`, a re-pushed `:1.2`). An entry older
than its TTL is still returned, marked stale, so a running workload keeps its verdict while
the checker resolves the tag again; the caller decides what stale means for new work.
Errors get a shorter TTL than answers, so a registry that comes back is noticed soon, and
one that stays down is not asked on every cycle.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Cached(Generic[V]):
    value: V
    stored: float
    """Monotonic time it was stored."""
    ttl: float

    def fresh(self, now: float) -> bool:
        return now - self.stored < self.ttl

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored)


class TtlCache(Generic[K, V]):
    """Thread-safe: the checker's workers store, the snapshot builder's thread reads."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[K, Cached[V]] = OrderedDict()
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: K) -> Cached[V] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: K, value: V, ttl: float) -> Cached[V]:
        entry = Cached(value, self.clock(), ttl)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1
        return entry

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
