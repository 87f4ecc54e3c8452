"""The core-hour gate from checkpointed statuses (kubectl paddock plans as the operator)."""

from __future__ import annotations

from typing import Any

from paddock.controller.usage.cycle import gate_from_statuses
from paddock.kubectl_plugin.cluster import state_from_objects


def budget(used: float, limit: float, on_exhausted: str = "Queue") -> dict[str, Any]:
    return {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "CoreBudget",
        "metadata": {"name": "team", "uid": "u1", "generation": 1},
        "spec": {
            "namespaceSelector": {},
            "cores": 8,
            "coreHours": {"limit": limit, "window": "1d", "onExhausted": on_exhausted},
        },
        "status": {"coreHours": {"used": used, "freesAt": "2026-12-01T00:00:00Z"}},
    }


def test_a_used_up_budget_is_gated_with_its_numbers() -> None:
    state = gate_from_statuses(state_from_objects(budgets=[budget(2.5, 2, "ScaleToMin")]))
    (gated,) = state.snapshot.budgets
    assert "used 2.50 of 2 core-hours" in gated.core_hours_exhausted
    assert "2026-12-01T00:00:00Z" in gated.core_hours_exhausted and gated.scale_to_min


def test_a_budget_within_its_limit_is_not_gated() -> None:
    state = state_from_objects(budgets=[budget(1.0, 2)])
    assert gate_from_statuses(state) is state
