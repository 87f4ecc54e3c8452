"""One budget's usage in its window: core-seconds and cost per step, pool and namespace.

Pure data and arithmetic (no clock, no API): the accountant (accountant.py) feeds it intervals
of running cores, the status carries it across restarts (`to_rows` / `from_rows`), and the
figures a user and the planner see (used, projected, when it frees) are computed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paddock.controller.usage.windows import (
    WindowSpec,
    expires_at,
    in_window,
    iso,
    parse_iso,
    split,
    window_bounds,
)

RowKey = tuple[float, str, str]
"""(step start, pool, namespace)."""


@dataclass
class Figures:
    """What the window holds at one moment, for the status, the gauges and the planner."""

    used: float
    """Core-hours used in the window."""
    cost: float
    held_cores: float
    projected: float
    exhausted: bool
    exhausts_at: float | None
    frees_at: float | None
    window_start: float
    window_end: float | None


@dataclass
class UsageLedger:
    spec: WindowSpec
    rows: dict[RowKey, list[float]] = field(default_factory=dict)
    """(step start, pool, namespace) -> [core-seconds, cost]."""
    previous: dict[str, str] | None = None
    """The last completed calendar window: start, used core-hours and cost (for the status)."""

    def add(
        self, start: float, end: float, pool: str, namespace: str, cores: float, price: float
    ) -> list[tuple[float, float]]:
        """Count `cores` running over [start, end) at `price` per core-hour; returns the
        (core-seconds, cost) pieces added, for the all-time counters (pieces of steps already
        out of the window are counted there but not kept here)."""
        added: list[tuple[float, float]] = []
        if end <= start or cores <= 0:
            return added
        for step_start, seconds in split(self.spec, start, end):
            core_seconds = cores * seconds
            cost = core_seconds / 3600.0 * price
            added.append((core_seconds, cost))
            row = self.rows.setdefault((step_start, pool, namespace), [0.0, 0.0])
            row[0] += core_seconds
            row[1] += cost
        return added

    def prune(self, now: float) -> None:
        """Forget steps that left the window; a completed calendar window is summarised."""
        gone = [key for key in self.rows if not in_window(self.spec, key[0], now)]
        if not gone:
            return
        if self.spec.kind == "Calendar":
            current = window_bounds(self.spec, now)[0]
            old = [key for key in gone if key[0] < current]
            if old:
                last = max(key[0] for key in old)
                kept = [self.rows[key] for key in old if key[0] == last]
                self.previous = {
                    "start": iso(last),
                    "used": f"{sum(r[0] for r in kept) / 3600.0:.4f}",
                    "cost": f"{sum(r[1] for r in kept):.4f}",
                }
        for key in gone:
            del self.rows[key]

    def used_seconds(self, now: float) -> float:
        return sum(row[0] for key, row in self.rows.items() if in_window(self.spec, key[0], now))

    def figures(self, now: float, held_cores: float, limit: float | None) -> Figures:
        """Used, cost, projection and exhaustion at `now`, `held_cores` running on."""
        spec = self.spec
        used = self.used_seconds(now) / 3600.0
        cost = sum(row[1] for key, row in self.rows.items() if in_window(spec, key[0], now))
        start, end = window_bounds(spec, now)
        if spec.kind == "Calendar":
            projected = used + held_cores * (end - now) / 3600.0
            window_end: float | None = end
        else:
            projected = held_cores * spec.seconds / 3600.0
            window_end = None
        exhausted = limit is not None and used >= limit
        exhausts_at = None
        if limit is not None and not exhausted and held_cores > 0:
            at = now + (limit - used) * 3600.0 / held_cores
            horizon = end if spec.kind == "Calendar" else now + spec.seconds
            exhausts_at = at if at < horizon else None
        frees_at = self.frees_at(now, held_cores, limit) if exhausted else None
        return Figures(
            used=used,
            cost=cost,
            held_cores=held_cores,
            projected=projected,
            exhausted=exhausted,
            exhausts_at=exhausts_at,
            frees_at=frees_at,
            window_start=start,
            window_end=window_end,
        )

    def frees_at(self, now: float, held_cores: float, limit: float | None) -> float | None:
        """The first time usage falls below `limit`, if the held cores keep running; None if
        it does not within a window (a rolling window that the running cores alone fill)."""
        if limit is None:
            return None
        spec = self.spec
        if spec.kind == "Calendar":
            return window_bounds(spec, now)[1]
        expiring: dict[float, float] = {}
        for key, row in self.rows.items():
            if in_window(spec, key[0], now):
                at = expires_at(spec, key[0])
                expiring[at] = expiring.get(at, 0.0) + row[0]
        left = sum(expiring.values())
        for at in sorted(expiring):
            left -= expiring[at]
            if (left + held_cores * (at - now)) / 3600.0 < limit:
                return at
        return None

    # -- the status carries it across restarts -------------------------------------------

    def to_rows(self, now: float) -> list[dict[str, Any]]:
        return [
            {
                "start": iso(start),
                "pool": pool,
                "namespace": namespace,
                "coreSeconds": round(row[0], 3),
                "cost": round(row[1], 6),
            }
            for (start, pool, namespace), row in sorted(self.rows.items())
            if in_window(self.spec, start, now)
        ]

    def load_rows(self, rows: Iterable[Mapping[str, Any]], now: float) -> None:
        """Take the kept steps back from a status (unreadable rows are skipped)."""
        for item in rows:
            start = parse_iso(str(item.get("start", "")))
            try:
                core_seconds = float(item.get("coreSeconds") or 0)
                cost = float(item.get("cost") or 0)
            except (TypeError, ValueError):
                continue
            if start is None or not in_window(self.spec, start, now):
                continue
            key = (start, str(item.get("pool", "")), str(item.get("namespace", "")))
            row = self.rows.setdefault(key, [0.0, 0.0])
            row[0] += core_seconds
            row[1] += cost
