"""`new_decision`, the planner's positional WorkloadDecision constructor, stays in step with the
dataclass: same fields in the same order, and an equal result."""

from __future__ import annotations

import inspect
from dataclasses import fields

from paddock.planner import Reason, WorkloadDecision
from paddock.planner.decisions import new_decision


def test_its_parameters_are_the_fields_in_order() -> None:
    params = list(inspect.signature(new_decision).parameters)
    assert params == [f.name for f in fields(WorkloadDecision)]


def test_it_builds_what_the_keyword_constructor_builds() -> None:
    values = {
        "key": "ns/w",
        "budget": "team-a",
        "admitted_replicas": 2,
        "admitted_cores": 8,
        "requested_cores": 12,
        "assignments": (("g4", 2),),
        "placements": (("n1", 2),),
        "state": "Admitted",
        "reason": Reason.PARTIALLY_ADMITTED,
        "message": "admitted 2 of 3",
        "queue_position": 4,
        "events": ("admitted 2 replicas of 3",),
        "unplaced_replicas": 1,
        "frozen": True,
        "provisioning_replicas": 1,
    }
    built = new_decision(*values.values())
    assert built == WorkloadDecision(**values)  # type: ignore[arg-type]
    assert hash(built) == hash(WorkloadDecision(**values))  # type: ignore[arg-type]
