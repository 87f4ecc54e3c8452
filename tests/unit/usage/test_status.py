"""status.coreHours and the CoreHoursAvailable condition added to a budget's status."""

from __future__ import annotations

from paddock.controller.usage.status import with_core_hours

BASE = {"usedCores": 4, "conditions": [{"type": "Active", "status": "True"}]}


def condition(status: dict[str, object]) -> dict[str, str]:
    found = [c for c in status["conditions"] if c["type"] == "CoreHoursAvailable"]  # type: ignore[attr-defined]
    assert len(found) == 1
    return found[0]  # type: ignore[no-any-return]


def test_no_view_leaves_the_status_alone() -> None:
    assert with_core_hours(dict(BASE), None, 1, {}) == BASE


def test_within_the_limit_says_how_much_and_when_it_runs_out() -> None:
    view = {"used": 1.5, "limit": 10.0, "cost": "0.06 USD", "exhaustsAt": "2026-12-01T00:00:00Z"}
    status = with_core_hours(dict(BASE), view, 3, {})
    assert status["coreHours"] == view and status["usedCores"] == 4
    found = condition(status)
    assert (found["status"], found["reason"]) == ("True", "WithinLimit")
    assert "1.50 of 10 core-hours" in found["message"] and "2026-12-01" in found["message"]


def test_exhausted_is_a_false_condition_with_when_it_frees() -> None:
    view = {"used": 10.2, "limit": 10.0, "cost": "0.40 USD", "freesAt": "2026-12-01T00:00:00Z"}
    found = condition(with_core_hours(dict(BASE), view, 3, {}))
    assert (found["status"], found["reason"]) == ("False", "CoreHoursExhausted")
    assert "enough frees at 2026-12-01T00:00:00Z" in found["message"]


def test_no_limit_is_reported_as_such() -> None:
    found = condition(with_core_hours(dict(BASE), {"used": 2.0, "cost": "0.08 USD"}, 1, {}))
    assert (found["status"], found["reason"]) == ("True", "NoLimit")
