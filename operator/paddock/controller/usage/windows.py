"""Windows of a core-hour budget: where one starts and ends, and the steps usage is kept in.

Pure functions of a window spec and a time (seconds since the epoch, UTC), so the rules are
unit- and property-tested without a clock:

- a **Calendar** window of length d is [k*d, (k+1)*d) for the k that holds `now` (epoch
  aligned, UTC: `1d` is a UTC day, `1h` an hour), or the calendar month for `month`. Usage is
  kept in one step per window: it starts again from 0 when the next window begins.
- a **Rolling** window is (now - d, now]. Usage is kept in steps of d/24 (whole seconds, at
  least 1 s); a step counts while any part of it is inside the window, so usage frees up one
  step at a time and a rolling window over-counts by at most one step (1/24 of its length).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

ROLLING_STEPS = 24
"""A rolling window is kept as this many steps: enough to free up smoothly, few enough that
the steps of every pool and namespace fit in the budget's status."""
DEFAULT_WINDOW = "month"
"""The window of a budget without spec.coreHours: cost is counted per calendar month."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A parsed spec.coreHours window: `seconds` is 0 for calendar months."""

    kind: Literal["Calendar", "Rolling"]
    seconds: int

    @property
    def monthly(self) -> bool:
        return self.seconds == 0

    @property
    def step(self) -> int:
        """Length of one kept step of a rolling window (calendar windows keep one step)."""
        return max(1, self.seconds // ROLLING_STEPS)


def parse_window(window: str, kind: str = "Calendar") -> WindowSpec:
    """ "10m" -> 600 s; "month" -> a calendar month. Raises ValueError on anything else."""
    if window == "month":
        if kind != "Calendar":
            raise ValueError("a month window must be Calendar")
        return WindowSpec("Calendar", 0)
    match = _DURATION.match(window)
    if not match:
        raise ValueError(f"window {window!r} is not a duration such as 10m, 24h or 30d")
    return WindowSpec(
        "Rolling" if kind == "Rolling" else "Calendar",
        int(match.group(1)) * _UNITS[match.group(2)],
    )


def _month_start(now: float, months_ahead: int = 0) -> float:
    day = datetime.fromtimestamp(now, UTC)
    index = day.year * 12 + day.month - 1 + months_ahead
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp()


def window_bounds(spec: WindowSpec, now: float) -> tuple[float, float]:
    """(start, end) of the window at `now`. A rolling window ends at `now`."""
    if spec.kind == "Rolling":
        return now - spec.seconds, now
    if spec.monthly:
        return _month_start(now), _month_start(now, 1)
    start = (now // spec.seconds) * spec.seconds
    return start, start + spec.seconds


def step_bounds(spec: WindowSpec, t: float) -> tuple[float, float]:
    """(start, end) of the kept step that holds time `t`."""
    if spec.kind == "Calendar":
        return window_bounds(spec, t)
    start = (t // spec.step) * spec.step
    return start, start + spec.step


def in_window(spec: WindowSpec, step_start: float, now: float) -> bool:
    """Whether the step that starts at `step_start` counts in the window at `now`."""
    start, end = window_bounds(spec, now)
    if spec.kind == "Calendar":
        return start <= step_start < end
    step_end = step_start + spec.step
    return step_end > start and step_start <= now


def expires_at(spec: WindowSpec, step_start: float) -> float:
    """When the step that starts at `step_start` stops counting."""
    if spec.kind == "Calendar":
        return window_bounds(spec, step_start)[1]
    return step_start + spec.step + spec.seconds


def split(spec: WindowSpec, start: float, end: float) -> list[tuple[float, float]]:
    """[start, end) cut at step boundaries: (step start, seconds in that step) pairs."""
    pieces: list[tuple[float, float]] = []
    t = start
    while t < end:
        step_start, step_end = step_bounds(spec, t)
        cut = min(end, step_end)
        pieces.append((step_start, cut - t))
        t = cut
    return pieces


def iso(t: float, exact: bool = False) -> str:
    """RFC 3339 in UTC, to the millisecond when `t` has a fraction (to the microsecond when
    `exact`: a checkpoint's time must match the figures taken at it, or a restart counts the
    cut-off fraction twice or not at all)."""
    moment = datetime.fromtimestamp(t, UTC)
    if t == int(t):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[: None if exact else -3] + "Z"


def parse_iso(value: str) -> float | None:
    """The inverse of `iso` (any RFC 3339 the API server keeps); None when unreadable."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None
