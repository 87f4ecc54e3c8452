"""The incremental step between full cycles (incremental.py), on the operator's real path:
the list-watch stores, SnapshotBuilder's parsing and shapes, the kept Planner and the applier."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from paddock.controller.incremental import Incremental
from paddock.controller.observed import ObjectFacts
from tests.unit.controller.test_applier import FakeApi, make, settle
from tests.unit.controller.test_isolation import GOOD_SPEC, builder, workload


def spec(replicas: int, cores: int = 4) -> dict[str, Any]:
    return {**GOOD_SPEC, "replicas": replicas, "minReplicas": replicas, "coresPerReplica": cores}


def put(incremental: Incremental, name: str, facts: ObjectFacts | None) -> None:
    """What the AgentWorkload watch does for an event: store it and note the key."""
    with incremental.lock:
        incremental.builder.workloads.put(f"good/{name}", facts)
        incremental.note(f"good/{name}")


def test_new_workloads_and_freed_cores_are_decided_without_a_full_cycle() -> None:
    incremental = Incremental(builder(None), threading.Lock())  # good/agent: 2 x 4 cores
    state = incremental.snapshot()
    assert incremental.plan(state).workloads["good/agent"].admitted_replicas == 2
    assert not incremental.pending()

    # A new workload that fits the rest of the 32-core budget: admitted by the step.
    put(incremental, "big", workload("good", "big", spec(2, 12)))
    step = incremental.step()
    assert not step.needs_full_cycle
    assert step.decisions["good/big"].admitted_replicas == 2

    # One that does not fit waits (its budget never preempts); its decision says why.
    put(incremental, "late", workload("good", "late", spec(2)))
    step = incremental.step()
    assert not step.needs_full_cycle
    assert step.decisions["good/late"].admitted_replicas == 0
    assert step.decisions["good/late"].queue_position == 1

    # Deleting the first frees 8 budget cores: the waiting one is admitted at once.
    put(incremental, "agent", None)
    step = incremental.step()
    assert not step.needs_full_cycle
    assert set(step.decisions) == {"good/late"}
    assert step.decisions["good/late"].admitted_replicas == 2

    # The echo of a status write needs nothing; a spec change needs a full cycle.
    echoed = workload("good", "big", spec(2, 12))._replace(status={"phase": "Admitted"})
    put(incremental, "big", echoed)
    step = incremental.step()
    assert step.decisions == {} and not step.needs_full_cycle
    put(incremental, "big", echoed._replace(generation=2, spec=spec(1, 12)))
    assert incremental.step().needs_full_cycle


def test_a_step_decision_is_written_like_a_full_cycle_one() -> None:
    incremental = Incremental(builder(None), threading.Lock())
    state = incremental.snapshot()
    incremental.plan(state)
    put(incremental, "new", workload("good", "new", spec(1)))
    step = incremental.step()
    api = FakeApi()

    async def scenario() -> None:
        applier = make(api)
        await applier.apply_decisions(state, step.decisions, step.workloads)
        await settle(applier)
        applier.close()

    asyncio.run(scenario())
    assert len(api.of("deployment", "good/new")) == 1
    (status,) = api.of("status", "good/new")
    assert status.body["phase"] == "Admitted"
