"""`status`: budget figures, pool figures and the queue, as tables and as JSON."""

from __future__ import annotations

import json

from paddock.controller.status import PoolMeasures
from paddock.kubectl_plugin.render import status_text, table, to_json
from paddock.kubectl_plugin.view import (
    Problem,
    View,
    budget_math,
    pool_rows,
    queue_rows,
)
from paddock.planner import Pool

from .helpers import budget, nodes, settle, snapshot, workload


def cohort_view() -> View:
    s = snapshot(
        nodes(2, 15, pool="g4") + nodes(1, 7, pool="g3"),
        [
            budget("lender", 8, cohort="c", lending_limit=6),
            budget("borrower", 4, cohort="c", borrowing_limit=4),
            budget("solo", 4, queueing="StrictFIFO"),
        ],
        [
            workload("greedy", cores=4, replicas=3, min_replicas=1, candidates=("borrower",)),
            workload("own", cores=2, candidates=("lender",)),
            workload("big", cores=8, candidates=("solo",), created=1),
            workload("small", cores=1, candidates=("solo",), created=2),
        ],
        pools=[Pool(name="g4", weight=100), Pool(name="g3", weight=50, max_cores=64)],
    )
    return View.of(
        settle(s),
        pool_measures={
            "g4": PoolMeasures(2, 2, ("arm64",), ("4",), ("a",), 30, 0, 0),
        },
        problems=(Problem("CoreBudget", "broken", ("spec.cores: must be >= 0",)),),
    )


def test_budget_figures_follow_the_cohort_rules() -> None:
    figures = budget_math(cohort_view())
    borrower, lender, solo = figures["borrower"], figures["lender"], figures["solo"]
    # borrower: nominal 4 + borrowingLimit 4 = 8 cores, all used; lender lends what it can.
    assert (borrower.used, borrower.borrowed, borrower.available) == (8, 4, 0)
    assert (lender.used, lender.lent, lender.free) == (2, 4, 6)
    # lender keeps 8 - 6 = 2 cores for itself (used by "own"); the shared 6 + 0 have 4 borrowed.
    assert lender.available == 2
    assert (solo.used, solo.available, solo.pending_cores, solo.pending_workloads) == (0, 4, 9, 2)


def test_pool_rows_in_preference_order_with_measures() -> None:
    rows = pool_rows(cohort_view())
    assert [r.name for r in rows] == ["g4", "g3"]
    g4, g3 = rows
    assert (g4.allocatable_cores, g4.generation, g4.zones) == (30, "4", ("a",))
    assert (g3.allocatable_cores, g3.max_cores) == (None, 64)
    assert (g4.free_cores, g4.largest_free_block) == (20, 15)  # 30 - greedy's 8 - own's 2


def test_queue_is_ordered_by_budget_and_position() -> None:
    rows = queue_rows(cohort_view())
    assert [(r.budget, r.position, r.workload, r.reason) for r in rows] == [
        ("borrower", 1, "ns/greedy", "PartiallyAdmitted"),
        ("solo", 1, "ns/big", "BudgetExhausted"),
        ("solo", 2, "ns/small", "BlockedByQueueHead"),
    ]
    assert queue_rows(cohort_view(), namespace="elsewhere") == []


def test_out_of_queue_workloads_are_listed_last() -> None:
    s = snapshot(
        nodes(1, 15),
        [budget("team", 2)],
        [workload("lost", cores=1, candidates=()), workload("wide", cores=4)],
    )
    rows = queue_rows(View.of(s))
    assert [(r.workload, r.position, r.reason) for r in rows] == [
        ("ns/wide", 1, "BudgetExhausted"),
        ("ns/lost", None, "NoBudget"),
    ]


def test_status_text_has_aligned_tables_and_the_problems() -> None:
    v = cohort_view()
    text = status_text(list(budget_math(v).values()), pool_rows(v), queue_rows(v), v.problems)
    budgets, pools, queue, problems = text.rstrip("\n").split("\n\n")
    header, *rows = budgets.splitlines()[1:]
    assert header.split() == [
        "BUDGET",
        "COHORT",
        "QUEUEING",
        "NOMINAL",
        "USED",
        "BORROWED",
        "LENT",
        "FREE",
        "AVAILABLE",
        "PENDING",
        "ADMITTED",
        "WAITING",
    ]
    column = header.index("USED")
    assert [r[column:].split()[0] for r in rows] == ["8", "2", "0"]
    assert "LARGEST-FREE-BLOCK" in pools and "g3" in pools
    assert "ns/small" in queue and "BlockedByQueueHead" in queue
    assert "CoreBudget broken: spec.cores: must be >= 0" in problems


def test_table_pads_every_column_but_the_last() -> None:
    assert table(("A", "LONGER"), [("x", "1"), ("yyyy", None)]).splitlines() == [
        "A     LONGER",
        "x     1",
        "yyyy  -",
    ]


def test_json_is_plain_data() -> None:
    v = cohort_view()
    data = json.loads(to_json({"budgets": list(budget_math(v).values()), "pools": pool_rows(v)}))
    lender = next(b for b in data["budgets"] if b["name"] == "lender")
    assert lender["lent"] == 4 and lender["can_borrow"] == 0
    assert data["pools"][0]["zones"] == ["a"]
