"""kubectl paddock cost: the report, table and CSV from CoreBudget statuses."""

from __future__ import annotations

import csv
import io
from typing import Any

from paddock.kubectl_plugin.cost import CSV_FIELDS, cost_csv, cost_report, cost_text


def budget(name: str, usage: list[dict[str, Any]], **core_hours: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"coreHours": {"limit": 10, "window": "1d"}},
        "status": {
            "coreHours": {
                "windowStart": "2026-11-30T00:00:00Z",
                "windowEnd": "2026-12-01T00:00:00Z",
                "used": 1.5,
                "cost": "0.06 USD",
                "projected": 4.0,
                "checkpointTime": "2026-11-30T12:00:00Z",
                "usage": usage,
                **core_hours,
            }
        },
    }


START = "2026-11-30T00:00:00Z"
ROWS = [
    {"start": START, "pool": "g4", "namespace": "a", "coreSeconds": 3600, "cost": 0.04},
    {"start": START, "pool": "g3", "namespace": "a", "coreSeconds": 1800, "cost": 0.02},
]


def test_report_sums_steps_per_pool_and_namespace() -> None:
    (entry,) = cost_report([budget("team", ROWS + ROWS)])
    assert entry["budget"] == "team" and entry["currency"] == "USD" and entry["cost"] == 0.06
    assert entry["rows"] == [
        {"pool": "g3", "namespace": "a", "coreHours": 1.0, "cost": 0.04},
        {"pool": "g4", "namespace": "a", "coreHours": 2.0, "cost": 0.08},
    ]


def test_csv_has_one_row_per_budget_pool_and_namespace() -> None:
    rows = list(csv.DictReader(io.StringIO(cost_csv(cost_report([budget("team", ROWS)])))))
    assert tuple(rows[0]) == CSV_FIELDS
    assert [(r["pool"], r["core_hours"], r["cost"], r["currency"]) for r in rows] == [
        ("g3", "0.5000", "0.0200", "USD"),
        ("g4", "1.0000", "0.0400", "USD"),
    ]


def test_table_shows_totals_limit_and_projection() -> None:
    text = cost_text(cost_report([budget("team", ROWS), {"metadata": {"name": "new"}}]))
    lines = text.splitlines()
    assert lines[0].split() == [
        "BUDGET", "POOL", "NAMESPACE", "CORE-HOURS", "LIMIT", "COST", "PROJECTED"
    ]  # fmt: skip
    assert lines[1].split() == ["team", "*", "*", "1.50", "10", "0.06", "USD", "4.00"]
    assert "new: window from ?, as of no checkpoint yet" in text
