"""When the PodDisruptionBudget of a workload is written: created once its floor is ready, kept
for life.

Issue #15 counts writes per admitted workload: a workload preempted to zero replicas keeps its
PodDisruptionBudget (it selects no pod, so it blocks nothing), so neither the preemption nor the
re-admission costs a write for it; the garbage collector removes it with the workload.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from paddock.controller.applier.clients import Clients
from paddock.controller.applier.pdb_writes import PdbWrites
from paddock.controller.observed import PdbFacts
from tests.unit.controller.test_applier import NS, admitted, queued, state, workload


class NoCalls:
    """Stands in for PolicyV1Api: the tests only look at the writes queued, never run them."""

    def __getattr__(self, name: str) -> Any:
        def never(*args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"{name} was called")

        return never


def pdbs() -> PdbWrites:
    fake = cast(Any, NoCalls())
    return PdbWrites(Clients(apps=fake, core=fake, custom=fake, policy=fake), lambda *_: None)


def test_created_once_its_floor_is_ready_and_kept_while_preempted_to_zero() -> None:
    writes = pdbs()
    w = workload("agent", minReplicas=2)
    key = f"{NS}/agent"
    # Admitted, pods not ready yet: a budget now would only block drains of pods that may never
    # become ready; a workload deleted or preempted before it runs costs no write for it.
    assert writes.writes(key, w, admitted("agent"), state([w]), ready=0) == []
    assert writes.writes(key, w, admitted("agent"), state([w]), ready=1) == []
    (create,) = writes.writes(key, w, admitted("agent"), state([w]), ready=2)
    assert create.kind == "pdb"
    existing = PdbFacts("agent", key, 2, "uid-pdb", "uid-agent")
    echoed = replace(state([w]), pdbs={key: existing})
    writes.forget(echoed)
    assert writes.writes(key, w, admitted("agent"), echoed, ready=2) == []
    # Preempted to zero, then admitted again: no delete, no new create, ready or not.
    assert writes.writes(key, w, queued("agent", 1), echoed, ready=0) == []
    assert writes.writes(key, w, admitted("agent"), echoed, ready=0) == []


def test_disabling_it_deletes_it() -> None:
    writes = pdbs()
    w = workload("agent", podDisruptionBudget="Disabled")
    key = f"{NS}/agent"
    existing = PdbFacts("agent", key, 2, "uid-pdb", "uid-agent")
    echoed = replace(state([w]), pdbs={key: existing})
    (delete,) = writes.writes(key, w, queued("agent", 1), echoed, ready=0)
    assert delete.kind == "pdb-delete"
