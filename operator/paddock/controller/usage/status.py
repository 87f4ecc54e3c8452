"""What core-hour accounting adds to a CoreBudget's status: `coreHours` and a condition.

Both come from the accountant's checkpoint view, which changes at most once per checkpoint
interval (or when the budget becomes exhausted or frees), so they never make the status
writer rewrite a budget more often than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paddock.controller.status import condition
from paddock.controller.usage.accountant import CONDITION, EXHAUSTED_REASON


def with_core_hours(
    status: dict[str, Any],
    view: Mapping[str, Any] | None,
    generation: int,
    previous: Mapping[str, Any],
) -> dict[str, Any]:
    """`status` (from `budget_status`) with status.coreHours and the CoreHoursAvailable
    condition added; unchanged when the budget has no account yet."""
    if view is None:
        return status
    limit = view.get("limit")
    used = float(view.get("used") or 0.0)
    if limit is None:
        ok, reason = True, "NoLimit"
        message = f"{used:.2f} core-hours used this window ({view.get('cost')}); no limit"
    elif used >= float(limit):
        ok, reason = False, EXHAUSTED_REASON
        frees = view.get("freesAt")
        message = f"{used:.2f} of {float(limit):g} core-hours used; " + (
            f"enough frees at {frees}" if frees else "frees once the running pods stop"
        )
    else:
        ok, reason = True, "WithinLimit"
        message = f"{used:.2f} of {float(limit):g} core-hours used, {view.get('cost')}"
        if view.get("exhaustsAt"):
            message += f"; at the current burn exhausted at {view['exhaustsAt']}"
    conditions = list(status.get("conditions") or [])
    conditions.append(
        condition(CONDITION, ok, reason, message, generation, previous.get("conditions"))
    )
    return {**status, "coreHours": dict(view), "conditions": conditions}
