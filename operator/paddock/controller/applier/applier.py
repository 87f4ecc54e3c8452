"""Make the cluster match a plan: Deployments, PodDisruptionBudgets, status, Events.

`apply` does not wait for the writes: it hands them to the long-lived `Writer` (writer.py) and
returns, so the loop plans again at the next poke while the writes are in flight. Each kind of
write has its own module with its own memory of what this replica queued, kept until the watch
echoes it, so a later cycle never repeats an in-flight write nor admits twice; a write that fails
clears its memory and pokes the loop, so the next cycle retries it:

- `deployment_writes`: one Deployment per (workload, pool), only what differs;
- `pdb_writes`: the PodDisruptionBudget of each admitted workload;
- `status_writes`: status subresources, with drift (queue positions, ready counts) on a slow clock;
- `events`: Events only for transitions a user must see (`status.transition_events`);
- `gauges`: the Prometheus figures of the plan.

Each workload is applied on its own (rule 9): an exception while applying one, or a write the
API server refuses as invalid, marks that generation `rejected` (the snapshot then plans it as
Invalid, with the reason) and the rest of the plan still lands.

Write budget (issue #15: at most 3 per admitted workload): a workload costs its Deployment, its
PodDisruptionBudget and one status write carrying its admission when it is admitted within
seconds, whatever the queue depth (`status_writes`: no Event for a routine wait, and a status
for it only after 5 s at the head of a queue or 30 s deeper, never refreshed deep in it); its
status when Running comes on top when its pods become Ready. Deleting a workload costs nothing:
its Deployments and PodDisruptionBudget carry ownerReferences and Kubernetes' garbage
collector removes them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paddock.api import AgentWorkloadSpec
from paddock.controller import metrics
from paddock.controller.applier.clients import Clients
from paddock.controller.applier.deployment_writes import DeploymentWrites
from paddock.controller.applier.events import event_write
from paddock.controller.applier.gauges import export_gauges
from paddock.controller.applier.pdb_writes import PdbWrites
from paddock.controller.applier.status_writes import StatusWrites
from paddock.controller.cluster_state import ClusterState, Parsed, parse_timestamp
from paddock.controller.labels import workload_selector
from paddock.controller.status import (
    PoolMeasures,
    add_image_status,
    budget_status,
    pool_status,
    provisioning_ended,
    transition_events,
    workload_status,
)
from paddock.controller.usage.status import with_core_hours
from paddock.controller.writer import WRITES_IN_FLIGHT, Write, Writer
from paddock.planner import Plan, WorkloadDecision

log = logging.getLogger("paddock.applier")

NO_NODES = PoolMeasures(0, 0, (), (), (), 0, 0, 0)
"""What an invalid pool (one the snapshot could not measure) reports."""


def _same_inputs(before: tuple[Any, ...] | None, now: tuple[Any, ...]) -> bool:
    """The index facts, the parsed pools and the status memory are the same objects while
    unchanged (the watch and the spec cache replace them on change): compared by identity, which
    is cheap and safe because `before` holds them alive. The rest are small values."""
    if before is None:
        return False
    facts, pools, memory = before[:3]
    return (
        facts is now[0]
        and len(pools) == len(now[1])
        and all(a is b for a, b in zip(pools, now[1], strict=True))
        and memory is now[2]
        and before[3:] == now[3:]
    )


@dataclass
class Applier:
    clients: Clients
    admitted_memory: dict[str, tuple[tuple[str, int], ...]]
    """Shared with the SnapshotBuilder: assignments this replica queued, until the index agrees."""
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Shared with the SnapshotBuilder: workload -> (generation, why it cannot be carried out)."""
    is_leader: Callable[[], bool] = lambda: True
    """Asked by the writer before each queued write: a replica that lost the Lease drops them."""
    poke: Callable[[str], None] | None = None
    """The scheduling loop's poke: to retry a failed write, or land a held-back status."""
    workers: int = WRITES_IN_FLIGHT
    queue_refresh_interval: float = 30.0
    """At most one rewrite per workload this often for a moved queuePosition or message numbers."""
    progress_interval: float = 5.0
    """At most one rewrite per workload this often for readyReplicas moving within one phase."""
    aggregate_interval: float = 15.0
    """At most one CoreBudget / CorePool status write per object this often."""
    head_status_delay: float = 5.0
    """A routine wait is written for the head of a queue once it has waited this long."""
    retry_delay: float = 1.0
    """After a failed write, poke the loop this much later (not at once: the API may be down),
    doubling with each consecutive failure of the same object up to `max_retry_delay`."""
    max_retry_delay: float = 30.0
    clock: Callable[[], float] = time.monotonic
    writer: Writer | None = None
    core_hours: Callable[[str], Mapping[str, Any] | None] = lambda _budget: None
    """A budget's status.coreHours as last checkpointed (controller/usage), None: none yet."""
    deployments: DeploymentWrites = field(init=False)
    pdbs: PdbWrites = field(init=False)
    statuses: StatusWrites = field(init=False)
    _first_admitted: set[str] = field(default_factory=set)
    _settled: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Per workload, the inputs of the last cycle that found nothing to write (see _inputs)."""
    _wake_at: float | None = None
    _wake_handle: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = Writer(self.workers)
        self.writer.gate = lambda: self.is_leader()
        self.writer.on_failure = lambda _write, attempts: self._wake(
            min(self.retry_delay * 2 ** min(attempts - 1, 16), self.max_retry_delay),
            "retry a failed write",
        )
        self.deployments = DeploymentWrites(self.clients, self.admitted_memory, self._reject)
        self.pdbs = PdbWrites(self.clients, self._reject)
        self.statuses = StatusWrites(
            self.clients,
            clock=lambda: self.clock(),
            wake=self._wake,
            queue_refresh_interval=self.queue_refresh_interval,
            progress_interval=self.progress_interval,
            aggregate_interval=self.aggregate_interval,
            head_status_delay=self.head_status_delay,
        )

    async def apply(self, state: ClusterState, plan: Plan) -> bool:
        """Queue what differs and return whether any Deployment is written or deleted (a
        placement changed); the writes land in the background."""
        self._forget_echoed(state)
        writes: list[Write] = []
        for key, parsed in state.workloads.items():
            decision = plan.workloads.get(key)
            try:
                writes.extend(self._workload_writes(key, parsed, decision, state))
            except Exception as error:  # rule 9: one workload never stops the others
                log.exception("cannot apply the plan for workload %s", key)
                self._reject(key, parsed.facts.generation, f"cannot be rendered: {error!r}")
        for name, budget in state.budgets.items():
            status = budget_status(
                plan.budgets.get(name), budget.facts.generation, budget.facts.status, budget.errors
            )
            status = with_core_hours(
                status, self.core_hours(name), budget.facts.generation, budget.facts.status
            )
            writes.extend(
                self.statuses.write("corebudgets", None, name, budget.facts.status, status)
            )
        for name, pool in state.pools.items():
            measures = state.pool_facts.get(name, NO_NODES)
            status = pool_status(
                measures,
                plan.pools.get(name),
                pool.facts.generation,
                pool.facts.status,
                pool.errors,
                state.headrooms.get(name),
            )
            writes.extend(self.statuses.write("corepools", None, name, pool.facts.status, status))
        export_gauges(state, plan)
        if writes:
            assert self.writer is not None
            self.writer.submit(writes)
        return any(write.kind.startswith("deployment") for write in writes)

    async def apply_decisions(
        self,
        state: ClusterState,
        decisions: Mapping[str, WorkloadDecision],
        workloads: Mapping[str, Parsed[AgentWorkloadSpec]],
    ) -> None:
        """Queue the writes of an incremental step (incremental.py) for these workloads only,
        against the last full cycle's `state`; budgets, pools and gauges wait for a full one."""
        writes: list[Write] = []
        for key, decision in decisions.items():
            parsed = workloads[key]
            try:
                writes.extend(self._workload_writes(key, parsed, decision, state))
            except Exception as error:  # rule 9: one workload never stops the others
                log.exception("cannot apply the decision for workload %s", key)
                self._reject(key, parsed.facts.generation, f"cannot be rendered: {error!r}")
        if writes:
            assert self.writer is not None
            self.writer.submit(writes)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._wake_handle is not None:
            self._wake_handle.cancel()

    def _workload_writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision | None,
        state: ClusterState,
    ) -> list[Write]:
        if decision is None:
            raise LookupError("the planner returned no decision")
        facts = parsed.facts
        namespace, name = facts.namespace or "", facts.name
        previous = self.statuses.written.get(("agentworkloads", key)) or facts.status
        inputs = self._inputs(key, parsed, decision, state)
        if _same_inputs(self._settled.get(key), inputs):
            # Nothing it depends on changed since a cycle found nothing to write: skip the
            # rendering and status comparisons (most of a cycle's cost with 10,000 workloads).
            self.admitted_memory[key] = decision.assignments
            return []
        self._settled.pop(key, None)
        self.statuses.held = False
        writes: list[Write] = []
        overrides: list[str] = []
        frees = False
        desired = dict(decision.assignments)
        ready = sum(d.ready_replicas for d in state.deployments.get(key, ()) if d.pool in desired)
        ready = min(ready, decision.admitted_replicas)
        if not decision.frozen:  # a frozen workload's Deployments are left as they are
            writes, overrides, frees = self.deployments.writes(key, parsed, decision, state)
            writes.extend(self.pdbs.writes(key, parsed, decision, state, ready))
        status = workload_status(
            decision, ready, facts.generation, previous, overrides, workload_selector(name)
        )
        add_image_status(status, state.images.get(key), facts.generation, previous)
        # A status that gives replicas up lands after the Deployments that free them, so the
        # status never admits fewer replicas than run (free before use, even across a crash).
        status_writes = self.statuses.write(
            "agentworkloads",
            namespace,
            name,
            facts.status,
            status,
            key,
            lane=("deployments", key) if frees else None,
        )
        if status_writes:
            writes.extend(status_writes)
            observe_provisioning(previous, status, decision)
            writes.extend(
                event_write(self.clients, parsed.facts, kind, reason, message)
                for kind, reason, message in transition_events(previous, decision)
            )
        if (
            decision.admitted_replicas > 0
            and key not in self._first_admitted
            and not previous.get("admittedReplicas")
        ):
            self._first_admitted.add(key)
            created = parse_timestamp(facts.created)
            if created:
                metrics.ADMISSION_LATENCY.observe(max(0.0, time.time() - created))
        self.admitted_memory[key] = decision.assignments
        if not writes and not self.statuses.held:
            self._settled[key] = self._inputs(key, parsed, decision, state)
        return writes

    def _inputs(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
    ) -> tuple[Any, ...]:
        """Everything `_workload_writes` reads for one workload: a new status or spec from the
        watch, a new Deployment, a changed pool, a new decision or a memory changed by a failed
        write all make it differ. See `_same_inputs`."""
        pools = {p for p, _ in decision.assignments}
        deployments = state.deployments.get(key, ())
        pools.update(d.pool for d in deployments)
        return (
            parsed.facts,
            tuple(state.pools.get(p) for p, _ in decision.assignments),
            self.statuses.written.get(("agentworkloads", key)),
            # What the writes are made of; not `placements` (the simulated nodes move as
            # others are admitted, and nothing written depends on them) nor `events`.
            (
                decision.budget,
                decision.admitted_replicas,
                decision.admitted_cores,
                decision.requested_cores,
                decision.assignments,
                decision.state,
                decision.reason,
                decision.message,
                decision.queue_position,
            ),
            deployments,
            tuple(sorted((p, self.deployments.written.get((key, p))) for p in pools)),
            state.pdbs.get(key),
            self.pdbs.written.get(key),
            state.images.get(key),
        )

    def _reject(self, key: str, generation: int, reason: str) -> None:
        """Remember that this generation of the workload cannot be carried out; the snapshot
        then plans it as invalid (status Invalid with the reason) until the spec changes."""
        self.rejected[key] = (generation, reason)
        self._settled.pop(key, None)
        self._wake(0.0, "a workload was rejected")

    # ------------------------------------------------------------------ machinery
    def _wake(self, delay: float, reason: str) -> None:
        """Poke the loop in `delay` seconds (one timer: the earliest wins)."""
        if self.poke is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = now + max(delay, 0.0)
        if self._wake_at is not None and now < self._wake_at <= at:
            return  # an earlier poke is already due
        if self._wake_handle is not None:
            self._wake_handle.cancel()
        poke = self.poke
        self._wake_at = at
        self._wake_handle = loop.call_at(at, lambda: poke(reason))

    def _forget_echoed(self, state: ClusterState) -> None:
        """Drop memories the watch has confirmed, or whose workload is gone."""
        self.deployments.forget(state)
        self.pdbs.forget(state)
        for key in list(self.admitted_memory):
            if key not in state.workloads:
                del self.admitted_memory[key]
        for key, (generation, _) in list(self.rejected.items()):
            workload = state.workloads.get(key)
            if workload is None or workload.facts.generation != generation:
                del self.rejected[key]
        self.statuses.forget(
            {
                "agentworkloads": state.workloads,
                "corebudgets": state.budgets,
                "corepools": state.pools,
            }
        )
        self._first_admitted &= set(state.workloads)
        for key in [k for k in self._settled if k not in state.workloads]:
            del self._settled[key]


def observe_provisioning(
    previous: Mapping[str, Any], status: Mapping[str, Any], decision: WorkloadDecision
) -> None:
    """Provisioning latency and timeouts, once per wait (when the status that ends it is
    written), labelled with the workload's first pool."""
    ended = provisioning_ended(previous, status)
    if ended is None:
        return
    pool = decision.assignments[0][0] if decision.assignments else "none"
    for a in previous.get("assignments") or ():
        pool = str(a.get("pool") or pool)
        break
    outcome, waited = ended
    if outcome == "timeout":
        metrics.PROVISIONING_TIMEOUTS.labels(pool=pool).inc()
    else:
        metrics.PROVISIONING_LATENCY.labels(pool=pool).observe(waited)
