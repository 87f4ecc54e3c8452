"""Planner output: one decision per workload, usage per budget and per pool, and the victims.

Why a separate module from the input types: the applier and the status writers depend only on
this file. (It is not called `plan.py` because `paddock.planner.plan` is the function; a
submodule of the same name would shadow it for `import paddock.planner.plan as m`.)

Every decision carries a machine-readable `reason` and a human `message` with the numbers, so
`kubectl get aw` can say where a workload is and why without anyone reading the operator log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Literal, TypeAlias

from .snapshot import NodeReplicas, PoolReplicas

State: TypeAlias = Literal["Admitted", "Queued", "Preempted"]


class Reason(StrEnum):
    """Why a workload is where it is. Values are CamelCase, stable, and used as condition reasons.

    - ``Admitted``: every requested replica is admitted and placed in the simulation.
    - ``PartiallyAdmitted``: an elastic workload holds at least minReplicas but fewer than
      replicas; it grows when cores free up (after pending work of equal or higher priority).
    - ``BudgetExhausted``: its budget, plus what the cohort may lend, has too few free cores.
    - ``NoCapacity``: the budget allows it, but no node of its pools has room for the replicas.
    - ``NoMatchingPool``: no pool is usable: the budget's pools do not exist, placement.pools
      shares none with the budget, or the pools have no schedulable arm64 node.
    - ``UnknownBudget``: spec.budget names a budget that does not exist.
    - ``NamespaceNotAllowed``: spec.budget exists but does not select the workload's namespace.
    - ``NoBudget``: no spec.budget and no budget selects the namespace.
    - ``AmbiguousBudget``: no spec.budget and several budgets select the namespace.
    - ``BlockedByQueueHead``: its budget is StrictFIFO and an earlier workload does not fit.
    - ``Preempting``: lower-priority workloads (or cohort borrowers) are being shrunk or evicted
      for it; it is admitted in a following cycle, once they have let the cores go.
    - ``Preempted``: it was shrunk or evicted to make room for a higher-priority workload (or
      for a budget reclaiming its lent cores).
    - ``ReplicasUnplaced``: admitted replicas lost their pods (a node was deleted or drained, a
      pod evicted) and no node has room for them yet. The running replicas keep their place;
      an elastic workload shrinks toward minReplicas after the grace period.
    - ``Provisioning``: admitted (budget reserved), but some replicas wait for nodes the pool's
      Karpenter NodePool is launching or can still launch within its limits; their pods are
      Pending by design until the nodes come up or the provisioning timeout passes.
    - ``ProvisioningTimeout``: replicas waited for a launch longer than the pool's
      provisioningTimeout: that admission was withdrawn and the workload queued again; for one
      more timeout it is admitted against existing nodes only.
    - ``ScaledToZero``: replicas is 0 (kubectl scale, an autoscaler): it holds no cores and no
      pods, and is admitted like any other workload when scaled up again.
    - ``CoreHoursExhausted``: its budget used up its core-hours for the window
      (spec.coreHours): nothing new is admitted and nothing grows until the window frees
      enough; the message says used, limit and when.
    - ``InvalidSpec``: the spec cannot be planned (minReplicas > replicas, coresPerReplica < 1,
      negative counts). Normally the API server's validation rejects these first.
    - ``ImageArchMismatch``: an image of the template does not offer linux/arm64 (its registry
      said so); never admitted until the image is rebuilt or the template changed.
    - ``ImageCheckPending``: its images are being checked; admitted once they are.
    - ``ImageCheckFailed``: a registry could not be asked or refused, and the image-check
      policy is FailClosed.
    """

    ADMITTED = "Admitted"
    PARTIALLY_ADMITTED = "PartiallyAdmitted"
    BUDGET_EXHAUSTED = "BudgetExhausted"
    NO_CAPACITY = "NoCapacity"
    NO_MATCHING_POOL = "NoMatchingPool"
    UNKNOWN_BUDGET = "UnknownBudget"
    NAMESPACE_NOT_ALLOWED = "NamespaceNotAllowed"
    NO_BUDGET = "NoBudget"
    AMBIGUOUS_BUDGET = "AmbiguousBudget"
    BLOCKED_BY_QUEUE_HEAD = "BlockedByQueueHead"
    PREEMPTING = "Preempting"
    PREEMPTED = "Preempted"
    REPLICAS_UNPLACED = "ReplicasUnplaced"
    INVALID_SPEC = "InvalidSpec"
    PROVISIONING = "Provisioning"
    PROVISIONING_TIMEOUT = "ProvisioningTimeout"
    SCALED_TO_ZERO = "ScaledToZero"
    CORE_HOURS_EXHAUSTED = "CoreHoursExhausted"
    IMAGE_ARCH_MISMATCH = "ImageArchMismatch"
    IMAGE_CHECK_PENDING = "ImageCheckPending"
    IMAGE_CHECK_FAILED = "ImageCheckFailed"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadDecision:
    """What the operator should make true for one workload.

    - `assignments`: replicas per pool (one Deployment each), in the workload's pool preference
      order; pools with zero replicas are omitted (their Deployments should be scaled away).
    - `placements`: the simulated node for each admitted replica (node name, replicas), sorted
      by node name. It proves the admission fits; kube-scheduler makes the real choice.
    - `state`: Admitted (holds replicas), Queued (holds none), Preempted (lost its replicas to
      preemption this cycle).
    - `queue_position`: 1-based rank in its budget's queue of workloads not fully admitted
      (None when fully admitted or when it is not in any queue, e.g. UnknownBudget).
    - `events`: what changed this cycle, in words, for Kubernetes Events ("moved 2 replicas from
      g3 to g4"). Empty when nothing changed: a settled cluster plans with no events.
    """

    key: str
    budget: str | None
    admitted_replicas: int
    admitted_cores: int
    requested_cores: int
    assignments: PoolReplicas
    placements: NodeReplicas
    state: State
    reason: Reason
    message: str
    queue_position: int | None
    events: tuple[str, ...] = ()
    unplaced_replicas: int = 0
    """Admitted replicas without a pod and without room (see `Reason.REPLICAS_UNPLACED`)."""
    frozen: bool = False
    """The workload cannot be planned (see `reason`): its Deployments are left as they are."""
    provisioning_replicas: int = 0
    """Admitted replicas placed on potential nodes: they wait for an autoscaler's launch."""


def _slot_setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """The `__set__` of each field's slot descriptor, in field order."""
    return tuple(vars(cls)[f.name].__set__ for f in fields(cls))


(
    _KEY,
    _BUDGET,
    _ADMITTED_REPLICAS,
    _ADMITTED_CORES,
    _REQUESTED_CORES,
    _ASSIGNMENTS,
    _PLACEMENTS,
    _STATE,
    _REASON,
    _MESSAGE,
    _QUEUE_POSITION,
    _EVENTS,
    _UNPLACED_REPLICAS,
    _FROZEN,
    _PROVISIONING_REPLICAS,
) = _slot_setters(WorkloadDecision)
_new = object.__new__


def new_decision(
    key: str,
    budget: str | None,
    admitted_replicas: int,
    admitted_cores: int,
    requested_cores: int,
    assignments: PoolReplicas,
    placements: NodeReplicas,
    state: State,
    reason: Reason,
    message: str,
    queue_position: int | None,
    events: tuple[str, ...],
    unplaced_replicas: int,
    frozen: bool,
    provisioning_replicas: int,
) -> WorkloadDecision:
    """A `WorkloadDecision` from positional values, every field given, in field order.

    Why: a cycle makes one per workload (15,000 at the benchmark's scale), and the generated
    keyword-only `__init__` (keyword matching, then `object.__setattr__` per field, which looks
    the slot up by name) took a tenth of a cycle. This stores through the slots' own
    descriptors, which is what that lookup ends in: the same frozen object, about three times
    sooner. A unit test keeps the parameters equal to the fields and the result equal.
    """
    d = _new(WorkloadDecision)
    _KEY(d, key)
    _BUDGET(d, budget)
    _ADMITTED_REPLICAS(d, admitted_replicas)
    _ADMITTED_CORES(d, admitted_cores)
    _REQUESTED_CORES(d, requested_cores)
    _ASSIGNMENTS(d, assignments)
    _PLACEMENTS(d, placements)
    _STATE(d, state)
    _REASON(d, reason)
    _MESSAGE(d, message)
    _QUEUE_POSITION(d, queue_position)
    _EVENTS(d, events)
    _UNPLACED_REPLICAS(d, unplaced_replicas)
    _FROZEN(d, frozen)
    _PROVISIONING_REPLICAS(d, provisioning_replicas)
    return d


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetUsage:
    """A budget's status after the plan. `used_cores` counts admitted cores (placed or not);
    `borrowed_cores` is usage above nominal; `lent_cores` the part of this budget's unused
    nominal that other cohort members are using; `pending_cores` what its queue still asks for."""

    name: str
    used_cores: int
    borrowed_cores: int
    lent_cores: int
    pending_cores: int
    admitted_workloads: int
    pending_workloads: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolUsage:
    """A pool's status after the plan.

    `free_cores_after_plan` and `largest_free_block_after_plan` count schedulable arm64 nodes
    after the new placements; cores of pods that the plan removes (shrinks, evictions) are still
    counted as used, because they are only free once those pods are gone. `paddock_cores` is the
    admitted cores assigned to the pool.
    """

    name: str
    nodes: int
    schedulable_nodes: int
    free_cores_after_plan: int
    largest_free_block_after_plan: int
    paddock_cores: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Victim:
    """One preemption: `victim` goes from `from_replicas` to `to_replicas` (0: evicted) so that
    `preemptor` can be admitted in a following cycle."""

    preemptor: str
    victim: str
    from_replicas: int
    to_replicas: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The whole outcome of one cycle. Equal snapshots give equal plans (`==`)."""

    workloads: Mapping[str, WorkloadDecision]
    budgets: Mapping[str, BudgetUsage]
    pools: Mapping[str, PoolUsage]
    victims: tuple[Victim, ...] = ()
