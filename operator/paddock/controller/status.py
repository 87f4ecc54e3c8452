"""Desired status of each kind, and the Events a transition deserves. Pure functions.

Kept apart from the applier so the rules ("Running means every admitted replica
is ready") read in one place and are unit-tested without a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paddock.autoscaling.headroom import Headroom
from paddock.images.verdict import CONDITION as IMAGES_CONDITION
from paddock.images.verdict import ImageVerdict
from paddock.planner import BudgetUsage, PoolUsage, Reason, WorkloadDecision

_formatted: tuple[int, str] = (0, "")
"""The last second `now_iso` formatted, and its text: statuses are built by the thousand."""


def now_iso() -> str:
    """The time now, to the second, as Kubernetes writes it (each second formatted once)."""
    global _formatted
    second = int(time.time())
    if _formatted[0] != second:
        _formatted = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _formatted[1]


def condition(
    type_: str,
    ok: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """A metav1.Condition; lastTransitionTime moves only when the status flips."""
    status = "True" if ok else "False"
    before = next((c for c in previous or () if c.get("type") == type_), None)
    changed = before is None or before.get("status") != status
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": (
            now_iso() if changed else before.get("lastTransitionTime") or now_iso()  # type: ignore[union-attr]
        ),
    }


IMAGE_REFUSALS = (Reason.IMAGE_ARCH_MISMATCH, Reason.IMAGE_CHECK_FAILED)
"""Image-check outcomes that keep a workload out: one Warning Event when they start."""


def add_image_status(
    status: dict[str, Any],
    verdict: ImageVerdict | None,
    generation: int,
    previous: Mapping[str, Any],
) -> None:
    """The ImagesChecked condition and status.images, while the image check is enabled."""
    if verdict is None:
        status["images"] = None
        return
    ok, reason, message = verdict.condition
    status["conditions"].append(
        condition(IMAGES_CONDITION, ok, reason, message, generation, previous.get("conditions"))
    )
    status["images"] = [report.as_status() for report in verdict.reports]


UNPLACED_CONDITION = "ReplicasPlaced"
"""False while admitted replicas wait without a pod; its lastTransitionTime starts the shrink
grace period (read back by the snapshot, so an operator restart does not reset it)."""


def phase_of(decision: WorkloadDecision, ready: int, previous_phase: str | None) -> str:
    if decision.reason == Reason.INVALID_SPEC:
        return "Invalid"
    if decision.state == "Preempted":
        return "Preempted"
    if decision.unplaced_replicas:
        return "Degraded"
    if decision.reason == Reason.SCALED_TO_ZERO:
        return "Running"  # every one of its 0 replicas runs: nothing waits
    if decision.admitted_replicas == 0:
        return "Queued"
    if ready >= decision.admitted_replicas:
        return "Running"
    if decision.provisioning_replicas:
        return "Provisioning"
    if previous_phase in ("Running", "Degraded"):
        return "Degraded"
    return "Admitted"


def workload_status(
    decision: WorkloadDecision,
    ready: int,
    generation: int,
    previous: Mapping[str, Any],
    overrides: Sequence[str] = (),
    selector: str | None = None,
) -> dict[str, Any]:
    """The status of a workload; `selector` is its pods' label selector, read by the /scale
    subresource (HPA and KEDA find the pods with it)."""
    phase = phase_of(decision, ready, previous.get("phase"))
    conditions = previous.get("conditions")
    zero = decision.reason == Reason.SCALED_TO_ZERO
    admitted = decision.admitted_replicas > 0 or zero
    all_ready = admitted and ready >= decision.admitted_replicas
    ready_reason = (
        "ReplicasReady" if all_ready else ("ReplicasNotReady" if admitted else "NotAdmitted")
    )
    if zero:
        ready_reason = str(Reason.SCALED_TO_ZERO)
    status_conditions = [
        condition(
            "Admitted", admitted, str(decision.reason), decision.message, generation, conditions
        ),
        condition(
            "Ready",
            all_ready,
            ready_reason,
            f"{ready} of {decision.admitted_replicas} admitted replicas ready",
            generation,
            conditions,
        ),
    ]
    if decision.unplaced_replicas or decision.admitted_replicas:
        status_conditions.append(
            condition(
                UNPLACED_CONDITION,
                not decision.unplaced_replicas,
                str(Reason.REPLICAS_UNPLACED) if decision.unplaced_replicas else "AllPlaced",
                decision.message
                if decision.unplaced_replicas
                else "every admitted replica has a pod or room for one",
                generation,
                conditions,
            )
        )
    provisioning = provisioning_condition(decision, generation, conditions)
    if provisioning is not None:
        status_conditions.append(provisioning)
    if overrides:
        status_conditions.append(
            condition(
                "TemplateOverridden",
                True,
                "PaddockOwnsField",
                "Paddock replaced: " + "; ".join(overrides),
                generation,
                conditions,
            )
        )
    return {
        "phase": phase,
        "observedGeneration": generation,
        "budget": decision.budget,
        "reason": str(decision.reason),
        "message": decision.message,
        "requestedCores": decision.requested_cores,
        "admittedCores": decision.admitted_cores,
        "admittedReplicas": decision.admitted_replicas,
        "readyReplicas": ready,
        "assignments": [{"pool": p, "replicas": r} for p, r in decision.assignments],
        "pools": ",".join(f"{p}:{r}" for p, r in decision.assignments) or None,
        "queuePosition": decision.queue_position,
        "conditions": status_conditions,
        "selector": selector,
    }


PROVISIONING_CONDITION = "Provisioning"


def provisioning_condition(
    decision: WorkloadDecision, generation: int, previous: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any] | None:
    """True while replicas wait for a node launch; False (ProvisioningTimeout) after a wait
    timed out, kept while the planner still reports the timeout; False (NodesLaunched) once the
    nodes came up. Absent for a workload that never waited for a launch. Its
    lastTransitionTime is the clock of the deadline and of the pause after a timeout."""
    before = next((c for c in previous or () if c.get("type") == PROVISIONING_CONDITION), None)
    if decision.provisioning_replicas:
        return condition(
            PROVISIONING_CONDITION, True, "Provisioning", decision.message, generation, previous
        )
    if decision.reason == Reason.PROVISIONING_TIMEOUT or any(
        "provisioning timed out" in event for event in decision.events
    ):
        if before is not None and before.get("reason") == "ProvisioningTimeout":
            return dict(before, message=decision.message, observedGeneration=generation)
        return dict(
            condition(
                PROVISIONING_CONDITION,
                False,
                "ProvisioningTimeout",
                decision.message,
                generation,
                None,
            )
        )
    if before is None:
        return None
    if before.get("status") == "False" and before.get("reason") == "ProvisioningTimeout":
        return dict(before)  # the pause before the next launch runs from its transition
    return condition(
        PROVISIONING_CONDITION,
        False,
        "NodesLaunched",
        "no admitted replica waits for a node launch",
        generation,
        previous,
    )


def provisioning_ended(
    previous: Mapping[str, Any], status: Mapping[str, Any]
) -> tuple[str, float] | None:
    """("launched" | "timeout", seconds waited) when this status ends a wait for a launch."""
    before = next(
        (c for c in previous.get("conditions") or () if c.get("type") == PROVISIONING_CONDITION),
        None,
    )
    after = next(
        (c for c in status.get("conditions") or () if c.get("type") == PROVISIONING_CONDITION),
        None,
    )
    if before is None or after is None or before.get("status") != "True":
        return None
    if after.get("status") != "False":
        return None
    started = _seconds(str(before.get("lastTransitionTime") or ""))
    ended = _seconds(str(after.get("lastTransitionTime") or ""))
    waited = max(0.0, ended - started) if started and ended else 0.0
    return ("timeout" if after.get("reason") == "ProvisioningTimeout" else "launched"), waited


def _seconds(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def budget_status(
    usage: BudgetUsage | None,
    generation: int,
    previous: Mapping[str, Any],
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    if usage is None:
        ok, reason = not errors, "InvalidSpec" if errors else "Active"
        message = "; ".join(errors) if errors else "no workloads"
        figures: dict[str, Any] = {
            k: 0
            for k in (
                "usedCores",
                "borrowedCores",
                "lentCores",
                "pendingCores",
                "admittedWorkloads",
                "pendingWorkloads",
            )
        }
    else:
        ok, reason = True, "Active"
        message = (
            f"{usage.used_cores} cores used ({usage.borrowed_cores} borrowed, "
            f"{usage.lent_cores} lent), "
            f"{usage.pending_workloads} workloads waiting for {usage.pending_cores} cores"
        )
        figures = {
            "usedCores": usage.used_cores,
            "borrowedCores": usage.borrowed_cores,
            "lentCores": usage.lent_cores,
            "pendingCores": usage.pending_cores,
            "admittedWorkloads": usage.admitted_workloads,
            "pendingWorkloads": usage.pending_workloads,
        }
    return {
        **figures,
        "conditions": [
            condition("Active", ok, reason, message, generation, previous.get("conditions"))
        ],
    }


@dataclass(frozen=True)
class PoolMeasures:
    nodes: int
    ready_nodes: int
    architectures: tuple[str, ...]
    generations: tuple[str, ...]
    zones: tuple[str, ...]
    allocatable_cores: int
    used_cores: int
    paddock_cores: int


def pool_status(
    measures: PoolMeasures,
    usage: PoolUsage | None,
    generation: int,
    previous: Mapping[str, Any],
    errors: Sequence[str] = (),
    room: Headroom | None = None,
) -> dict[str, Any]:
    if errors:
        ok, reason, message = False, "InvalidSpec", "; ".join(errors)
    elif measures.ready_nodes == 0 and room is not None and room.nodes:
        ok, reason = True, "CanLaunch"
        message = f"no node yet; {room.describe()}"
    elif measures.ready_nodes == 0:
        ok, reason, message = (
            False,
            "NoReadyNodes",
            "no Ready, schedulable node matches spec.nodeSelector",
        )
    elif any(arch != "arm64" for arch in measures.architectures):
        ok, reason = False, "NonArm64Nodes"
        archs = "/".join(measures.architectures)
        message = f"spec.nodeSelector matches {archs} nodes; only arm64 nodes are used"
    else:
        ok, reason = True, "Ready"
        message = f"{measures.ready_nodes} of {measures.nodes} nodes ready"
    return {
        "nodes": measures.nodes,
        "readyNodes": measures.ready_nodes,
        "architecture": "/".join(measures.architectures) or None,
        # A pool of one Graviton generation reports it; a mixed pool reports none.
        "generation": int(measures.generations[0]) if len(measures.generations) == 1 else None,
        "zones": list(measures.zones),
        "allocatableCores": measures.allocatable_cores,
        "usedCores": measures.used_cores,
        "paddockCores": usage.paddock_cores if usage else measures.paddock_cores,
        "freeCores": usage.free_cores_after_plan if usage else 0,
        "largestFreeBlock": usage.largest_free_block_after_plan if usage else 0,
        **_autoscaling_figures(room),
        "conditions": [
            condition("Ready", ok, reason, message, generation, previous.get("conditions")),
            *_autoscaling_condition(room, generation, previous),
        ],
    }


def _autoscaling_figures(room: Headroom | None) -> dict[str, Any]:
    if room is None:
        return {}
    return {
        "potentialCores": room.potential_cores,
        "nodePoolLimitCores": room.limit_cores,
        "nodePoolCores": room.used_cores,
        "headroomCores": room.headroom_cores,
    }


def _autoscaling_condition(
    room: Headroom | None, generation: int, previous: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Autoscaling: True while the NodePool can launch nodes for the pool, with the numbers."""
    if room is None:
        return []
    if room.problem:
        ok, reason = False, "NodePoolUnusable"
    elif room.nodes:
        ok, reason = True, "Headroom"
    else:
        ok, reason = False, "LimitReached"
    message = f"{room.describe()}; potential {room.potential_cores} cores"
    return [condition("Autoscaling", ok, reason, message, generation, previous.get("conditions"))]


ROUTINE_WAITS = frozenset({Reason.BUDGET_EXHAUSTED, Reason.NO_CAPACITY, Reason.PREEMPTING})
"""Reasons to wait that need nobody to act: cores free up as other work ends or is preempted.
Such a wait gets no Event, and its status is written only for the head of a queue (see
`applier.status_writes`); `kubectl paddock` computes the position of anyone else on demand."""


def unwritten(status: Mapping[str, Any]) -> bool:
    """Whether the operator never wrote this workload status: it has no reason. (The API server
    fills in `phase: Queued` by the CRD's default, so a phase alone says nothing.)"""
    return not status.get("reason")


def routine_wait(status: Mapping[str, Any]) -> bool:
    """Whether a (desired or written) workload status is a routine wait, or no status at all."""
    return unwritten(status) or (
        status.get("phase") == "Queued" and status.get("reason") in ROUTINE_WAITS
    )


def transition_events(
    previous: Mapping[str, Any], decision: WorkloadDecision
) -> list[tuple[str, str, str]]:
    """(type, reason, message) Events for what changed between the last status and the decision.

    Events are for transitions a user must see; each costs an API write, so a routine first
    admission has none (its `Admitted` condition and lastTransitionTime record it), and neither
    has a routine wait (`ROUTINE_WAITS`: a queue behind others, nothing for anyone to do):

    - `Queued` (Normal) when a new workload waits for a reason someone must act on (no budget,
      no usable pool, a StrictFIFO head that never fits), with the reason in the message;
    - `InvalidSpec` (Warning) when the spec becomes unusable, with the field and the fix;
    - `Admitted` only after the workload was seen waiting for such a reason, or Invalid;
    - `Preempted` (Warning) when it loses replicas to preemption;
    - `Queued` (Warning) when it loses its whole admission for another reason;
    - `Resized` and `Moved` when an admitted workload changes replicas or pools.
    """
    before = int(previous.get("admittedReplicas") or 0)
    before_pools = {a["pool"]: a["replicas"] for a in previous.get("assignments") or []}
    after = decision.admitted_replicas
    after_pools = dict(decision.assignments)
    where = ", ".join(f"{r} in {p}" for p, r in decision.assignments)
    if decision.reason == Reason.INVALID_SPEC:
        if previous.get("phase") == "Invalid":
            return []
        return [("Warning", "InvalidSpec", decision.message)]
    if decision.reason == Reason.SCALED_TO_ZERO:
        if before > 0:
            return [("Normal", "Resized", f"replicas {before} -> 0: {decision.message}")]
        return []
    if decision.reason in IMAGE_REFUSALS:
        if previous.get("reason") == decision.reason:
            return []
        return [("Warning", str(decision.reason), decision.message)]
    if decision.reason == Reason.IMAGE_CHECK_PENDING:
        return []  # usually milliseconds: the verdict that follows is what deserves an Event
    if unwritten(previous) and after == 0:
        if decision.reason in ROUTINE_WAITS:
            return []
        return [("Normal", "Queued", decision.message)]
    if (decision.state == "Preempted" or decision.reason == Reason.PREEMPTED) and before > after:
        return [("Warning", "Preempted", decision.message)]
    if before == 0 and after > 0:
        if routine_wait(previous) or previous.get("phase") == "Preempted":
            return []  # admitted at once or after a routine wait: the condition says when
        return [("Normal", "Admitted", f"admitted {after} replicas ({where}): {decision.message}")]
    if before > 0 and after == 0:
        return [("Warning", "Queued", decision.message)]
    if before != after:
        return [
            ("Normal", "Resized", f"replicas {before} -> {after} ({where}): {decision.message}")
        ]
    if before_pools != after_pools:
        return [("Normal", "Moved", f"replicas now {where} (were {before_pools})")]
    if decision.unplaced_replicas and previous.get("reason") != Reason.REPLICAS_UNPLACED:
        return [("Warning", str(Reason.REPLICAS_UNPLACED), decision.message)]
    return []
