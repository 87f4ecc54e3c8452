"""Wait on a condition with a deadline, never a fixed sleep.

`wait_for` polls a callable until it returns something truthy and returns that
value; on timeout it raises with the last value seen, so a failing test says
what the cluster looked like, not only that it took too long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_for(
    probe: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll `probe` until it returns a truthy value; raise WaitTimeout after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: object = None
    last_error: Exception | None = None
    while True:
        try:
            last = probe()
            last_error = None
            if last:
                return last  # type: ignore[return-value]
        except Exception as error:  # the object may not exist yet
            last_error = error
        if time.monotonic() >= deadline:
            detail = f"last error: {last_error!r}" if last_error else f"last value: {last!r}"
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; {detail}")
        time.sleep(interval)
