"""Between full cycles: decide a new workload, or the cores a deleted one frees, in milliseconds.

Issue #15 item 2. A full cycle recomputes the world (every workload, node and budget: 0.5 s and
more at a few thousand workloads); a workload created, or cores freed by a deletion, should not
wait for one. So the last full cycle's `Planner` is kept, and the AgentWorkload watch notes the
keys it changes (`note`, from the watch thread, under the store lock). A step (`step`, in a
worker thread) reads those keys from the store and, with the kept Planner:

- a workload it has not planned yet is decided with `Planner.add` (it takes only cores nobody
  planned for, as if it came last in its queue);
- workloads that are gone give their budget cores back with `Planner.release_many`, which
  admits, in queue order, what now fits of their cohorts' queues, one walk per cohort (node
  cores stay taken until the pods go);
- a workload whose status alone changed (the echo of a write) needs nothing now;
- anything else (a spec change, a workload recreated under the same name, an unreadable spec,
  a workload that may need preemption or a case `release` declines) asks for a full cycle.

Both shortcuts are no less safe than a full cycle on the same state (properties in
tests/unit/planner/test_incremental.py); the next full cycle holds what they admitted, since
the applier's memory of admissions (`admitted_memory`) feeds the snapshot. Full cycles remain
for preemption, resizes, node and pod changes and periodic reconciliation (see loop.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from paddock.api import AgentWorkloadSpec
from paddock.controller.cluster_state import ClusterState, Parsed, SnapshotBuilder
from paddock.controller.observed import ObjectFacts
from paddock.planner import Plan, Planner, WorkloadDecision

log = logging.getLogger("paddock.incremental")


@dataclass(frozen=True)
class Step:
    """What one incremental step decided."""

    decisions: dict[str, WorkloadDecision]
    """Workloads whose decision changed: new ones admitted or queued, waiting ones admitted."""
    workloads: dict[str, Parsed[AgentWorkloadSpec]]
    """The parsed workload of each decision, for the applier."""
    needs_full_cycle: bool
    """Something here only a full cycle may decide; the decisions made so far still stand."""


@dataclass
class Incremental:
    builder: SnapshotBuilder
    lock: threading.Lock
    """The store lock: held by the watch threads while they apply an event (and call `note`)."""
    build: Callable[[], ClusterState] | None = None
    """A full snapshot, called under the store lock (default: the builder's)."""
    state: ClusterState | None = None
    """The last full cycle's state (the applier's view for incremental writes)."""
    planner: Planner | None = None
    known: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Workloads the kept Planner has decided: key -> (uid, generation)."""
    changed: set[str] = field(default_factory=set)
    """AgentWorkload keys the watch changed since the last full snapshot or step."""
    added: dict[str, Parsed[AgentWorkloadSpec]] = field(default_factory=dict)
    """Workloads decided by steps since the last full cycle, parsed."""

    def note(self, key: str) -> None:
        """From the watch thread, holding the store lock: this workload changed."""
        self.changed.add(key)

    def snapshot(self) -> ClusterState:
        """A full snapshot (in the worker thread): what it sees needs no step any more.

        The last cycle's Planner and state are dropped first: no step runs during a full cycle
        (the loop runs one or the other), and keeping them while the next ones are built would
        hold two of each at the memory peak (tens of MiB at 10,000 workloads)."""
        self.planner = self.state = None
        self.added = {}
        with self.lock:
            self.changed.clear()
            return (self.build or self.builder.build)()

    def plan(self, state: ClusterState) -> Plan:
        """A full cycle, keeping its Planner for the steps until the next one."""
        planner = Planner(state.snapshot)
        self.state, self.planner = state, planner
        self.added = {}
        self.known = {key: (w.facts.uid, w.facts.generation) for key, w in state.workloads.items()}
        return planner.plan

    def pending(self) -> bool:
        return bool(self.changed)

    def step(self) -> Step:
        """In the worker thread: decide what the watch changed since the last look."""
        planner, state = self.planner, self.state
        with self.lock:
            keys, self.changed = self.changed, set()
            seen = {key: self.builder.workloads.get(key) for key in keys}
        if planner is None or state is None:
            return Step({}, {}, needs_full_cycle=bool(keys))
        decisions: dict[str, WorkloadDecision] = {}
        workloads: dict[str, Parsed[AgentWorkloadSpec]] = {}
        full = False
        # Deletions first, all at once: the cores they give back may admit what waits, new
        # work included.
        gone = sorted(k for k, facts in seen.items() if facts is None and k in self.known)
        if gone:
            released, declined = planner.release_many(gone)
            for key in gone:
                del self.known[key]
            full = bool(declined)
            decisions.update(released)
        added = sorted(
            ((facts.created, key) for key, facts in seen.items() if facts is not None),
        )
        for _, key in added:
            facts = seen[key]
            assert facts is not None
            identity = (facts.uid, facts.generation)
            if key in self.known:
                full = full or self.known[key] != identity  # a spec change, or recreated
                continue
            decision = self._add(planner, key, facts, workloads)
            if decision is None:
                full = True
                continue
            self.known[key] = identity
            decisions[key] = decision
        for key in [k for k in decisions if k in seen and seen[k] is None]:
            del decisions[key]  # admitted by a release, then deleted in the same batch
        for key in decisions:
            if key not in workloads:
                workloads[key] = self._parsed(key, state)
        log.debug(
            "step: %d changed, %d gone, %d decided, full cycle %s",
            len(keys),
            sum(1 for facts in seen.values() if facts is None),
            len(decisions),
            "needed" if full else "not needed",
        )
        return Step(decisions, workloads, needs_full_cycle=full)

    def _add(
        self,
        planner: Planner,
        key: str,
        facts: ObjectFacts,
        workloads: dict[str, Parsed[AgentWorkloadSpec]],
    ) -> WorkloadDecision | None:
        """Decide one new workload with `Planner.add`, or None for a full cycle."""
        builder = self.builder
        parsed = builder.cache.parse(AgentWorkloadSpec, facts)
        if parsed.spec is None or key in builder.rejected:
            return None  # the full cycle reports it (Invalid, with the reason)
        try:
            workload = builder.new_planner_workload(key, parsed, self._candidates)
        except Exception:
            return None  # the full cycle reports it (Invalid, with the reason)
        state = self.state
        assert state is not None
        verdict = builder.image_verdict(parsed, state.budgets, self._candidates, ())
        if verdict is not None and verdict.block is not None:
            return None  # not checked yet, or refused: the full cycle says so
        decision = planner.add(workload)
        if decision is not None:
            workloads[key] = self.added[key] = parsed
        return decision

    def _candidates(self, namespace: str) -> tuple[str, ...]:
        """The budgets whose namespaceSelector selects the namespace, as the snapshot has them."""
        state = self.state
        assert state is not None
        labels: dict[str, str] = {}
        for name, store in list(self.builder.namespaces.items()):
            if name == namespace:
                for value in store:
                    labels = value
        return tuple(
            name
            for name, budget in sorted(state.budgets.items())
            if budget.spec is not None and budget.spec.namespace_selector.matches(labels)
        )

    def _parsed(self, key: str, state: ClusterState) -> Parsed[AgentWorkloadSpec]:
        """A workload admitted by a release: it was in the last full state, or added since."""
        found = state.workloads.get(key)
        return found if found is not None else self.added[key]
