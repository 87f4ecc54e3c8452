"""`kubectl paddock explain`: the planner's decision for one workload, walked with its numbers.

The answer to "why is it Queued, and what would fix it": the budget math, each pool's fit, what
blocks it, and the single changes that would admit it (see `whatif`). Pure: built from a `View`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from paddock.planner import Reason, Workload, WorkloadDecision
from paddock.planner import messages as msg

from .images import ImageLine, image_lines
from .scaling import Scaling
from .view import STATIC_REASONS, BudgetMath, PoolFit, Room, View, budget_math
from .whatif import WhatIf, what_ifs


@dataclass(frozen=True)
class Holder:
    """An admitted workload holding cores of the budget (or its cohort)."""

    workload: str
    budget: str
    priority: int
    replicas: int
    cores: int


@dataclass(frozen=True)
class OperatorStatus:
    """What the operator last wrote to the workload's status."""

    phase: str | None
    reason: str | None
    message: str | None
    admitted_replicas: int
    queue_position: int | None
    agrees: bool
    """Its reason and admitted replicas match a plan of the cluster as it is now."""
    stale: bool
    """status.observedGeneration is behind the spec: the operator has not seen the last edit."""


@dataclass(frozen=True)
class EventLine:
    time: str
    type: str
    reason: str
    message: str
    count: int = 1


@dataclass(frozen=True)
class Explanation:
    workload: str
    namespace: str
    name: str
    found: bool = True
    errors: tuple[str, ...] = ()
    """Spec validation errors: the operator cannot use the workload at all."""
    budget: str | None = None
    replicas: int = 0
    min_replicas: int = 0
    cores_per_replica: int = 0
    memory_per_replica: int = 0
    priority: int = 0
    placement_pools: tuple[str, ...] = ()
    spread: str = "None"
    state: str = "Queued"
    reason: str = ""
    message: str = ""
    admitted_replicas: int = 0
    admitted_cores: int = 0
    requested_cores: int = 0
    queue_position: int | None = None
    assignments: tuple[tuple[str, int], ...] = ()
    needs: str = ""
    """"needs 16 cores (1 replica × 16)": the cores the next step takes."""
    operator: OperatorStatus | None = None
    budget_math: BudgetMath | None = None
    cohort: tuple[BudgetMath, ...] = ()
    budget_verdict: str = ""
    holders: tuple[Holder, ...] = ()
    pools: tuple[PoolFit, ...] = ()
    blockers: tuple[str, ...] = ()
    what_ifs: tuple[WhatIf, ...] = ()
    victims: tuple[str, ...] = ()
    events: tuple[EventLine, ...] = field(default=())
    node_pools: tuple[str, ...] = ()
    """Its autoscaled pools' NodePools: limit, usage and headroom (potential capacity)."""
    scaling: Scaling | None = None
    """Who set spec.replicas, the HPAs targeting it, what the budget allows (`scaling`)."""
    images: tuple[ImageLine, ...] = ()
    """Each image of the template as the operator's image check saw it (status.images)."""


def explain(
    view: View, namespace: str, name: str, errors: tuple[str, ...] = (), suggest: bool = True
) -> Explanation:
    """Explain workload `namespace/name`. `errors`: its spec errors when the operator cannot
    parse it (it is then absent from the snapshot)."""
    key = f"{namespace}/{name}"
    w = view.workload(key)
    d = view.plan.workloads.get(key)
    if w is None or d is None:
        return Explanation(
            workload=key,
            namespace=namespace,
            name=name,
            found=bool(errors),
            errors=errors,
            reason=str(Reason.INVALID_SPEC) if errors else "",
            message="; ".join(errors),
            operator=_operator(view, key, None),
        )
    budgets = budget_math(view)
    room = Room(view)
    budget = view.budget(d.budget)
    math = budgets.get(d.budget) if d.budget else None
    pools = view.effective_pools(w, budget)
    queued = d.admitted_replicas == 0
    cores = max(0, w.cores_per_replica)
    least = max(1, w.min_replicas)
    elastic = least < w.replicas
    if queued:
        needs = msg.needs(least, cores, elastic)
    else:
        more = max(0, w.replicas - d.admitted_replicas)
        needs = (
            f"needs {msg.plural(more * cores, 'more core')} ({msg.plural(more, 'replica')} "
            f"{msg.TIMES} {cores}) to reach {w.replicas} replicas"
            if more
            else ""
        )
    wanted = least if queued else max(0, w.replicas - d.admitted_replicas)

    fits: list[PoolFit] = []
    if budget is not None:
        for pool in pools:
            fits.append(room.pool_fit(pool, True, "", cores, w.memory_per_replica, wanted))
        for pool in view.pool_names():
            if pool in pools:
                continue
            if budget.pools and pool not in budget.pools:
                note = f"not allowed by budget {budget.name}"
            else:
                note = "not in placement.pools"
            fits.append(room.pool_fit(pool, False, note, cores, w.memory_per_replica, wanted))

    cohort: tuple[BudgetMath, ...] = ()
    if math is not None and math.cohort is not None:
        cohort = tuple(
            m for m in budgets.values() if m.cohort == math.cohort and m.name != math.name
        )
    sharing = {math.name, *(m.name for m in cohort)} if math else set()
    holders = tuple(
        sorted(
            (
                Holder(
                    workload=other.key,
                    budget=od.budget or "",
                    priority=other.priority,
                    replicas=od.admitted_replicas,
                    cores=od.admitted_cores,
                )
                for other in view.snapshot.workloads
                if other.key != key
                and (od := view.plan.workloads.get(other.key)) is not None
                and od.budget in sharing
                and od.admitted_cores > 0
            ),
            key=lambda h: (h.budget != (math.name if math else ""), -h.cores, h.workload),
        )
    )
    victims = tuple(
        f"{v.victim} ({v.from_replicas}→{v.to_replicas} replicas)"
        if v.to_replicas
        else f"{v.victim} (evicted)"
        for v in view.plan.victims
        if v.preemptor == key
    )
    return Explanation(
        workload=key,
        namespace=namespace,
        name=name,
        budget=d.budget,
        replicas=w.replicas,
        min_replicas=w.min_replicas,
        cores_per_replica=w.cores_per_replica,
        memory_per_replica=w.memory_per_replica,
        priority=w.priority,
        placement_pools=w.pools,
        spread=w.spread,
        state=d.state,
        reason=str(d.reason),
        message=d.message,
        admitted_replicas=d.admitted_replicas,
        admitted_cores=d.admitted_cores,
        requested_cores=d.requested_cores,
        queue_position=d.queue_position,
        assignments=d.assignments,
        needs=needs,
        operator=_operator(view, key, d),
        budget_math=math,
        cohort=cohort,
        budget_verdict=_budget_verdict(math, w, d) if math else "",
        holders=holders,
        pools=tuple(fits),
        blockers=tuple(_blockers(view, w, d, math, fits, pools, room)),
        what_ifs=tuple(what_ifs(view, key)) if suggest else (),
        victims=victims,
        node_pools=tuple(
            f"{p}: {view.headrooms[p].describe()}, potential "
            f"{view.headrooms[p].potential_cores} cores"
            for p in pools
            if p in view.headrooms
        ),
        images=image_lines(view.statuses.get(key) or {}, time.time()),
    )


def _operator(view: View, key: str, d: WorkloadDecision | None) -> OperatorStatus | None:
    status: Mapping[str, Any] = view.statuses.get(key) or {}
    if not status:
        return None
    admitted = int(status.get("admittedReplicas") or 0)
    position = status.get("queuePosition")
    agrees = (
        d is not None and status.get("reason") == str(d.reason) and admitted == d.admitted_replicas
    )
    return OperatorStatus(
        phase=status.get("phase"),
        reason=status.get("reason"),
        message=status.get("message"),
        admitted_replicas=admitted,
        queue_position=int(position) if position is not None else None,
        agrees=agrees,
        stale=bool(view.stale.get(key)),
    )


def budget_line(m: BudgetMath) -> str:
    """'budget team-a: 8 of 8 used (0 borrowed), 0 lent, 0 free; can admit 0 more now'."""
    text = f"budget {m.name}: {m.used} of {m.nominal} used"
    if m.borrowed:
        text += f" ({m.borrowed} borrowed from cohort {m.cohort})"
    if m.cohort is not None:
        text += f", {m.lent} lent to cohort {m.cohort}"
    text += f", {m.free} free; can admit {m.available} more now"
    if m.can_borrow:
        text += f" ({m.can_borrow} of them borrowed)"
    return text


def _budget_verdict(m: BudgetMath, w: Workload, d: WorkloadDecision) -> str:
    cores = max(0, w.cores_per_replica)
    if d.reason in STATIC_REASONS:
        return ""
    if d.reason is Reason.SCALED_TO_ZERO:
        return "holds no cores (scaled to zero)"
    if d.admitted_replicas == 0:
        need = max(1, w.min_replicas) * cores
        if m.available >= need:
            return f"the budget has room: needs {need}, can admit {m.available}"
        return f"short by {need - m.available} cores: needs {need}, can admit {m.available}"
    more = max(0, w.replicas - d.admitted_replicas)
    if not more:
        return f"holds {d.admitted_cores} cores"
    if m.available >= cores:
        grow = min(more, m.available // cores)
        return f"room for {msg.plural(grow, 'more replica')} ({m.available} cores)"
    return f"no room for one more replica: needs {cores}, can admit {m.available}"


def _blockers(
    view: View,
    w: Workload,
    d: WorkloadDecision,
    m: BudgetMath | None,
    fits: list[PoolFit],
    pools: tuple[str, ...],
    room: Room,
) -> list[str]:
    out: list[str] = []
    reason = d.reason
    cores = max(0, w.cores_per_replica)
    if reason in (Reason.ADMITTED, Reason.SCALED_TO_ZERO):
        return out
    if reason in STATIC_REASONS:
        return [f"{reason}: {d.message}"]
    if reason is Reason.PREEMPTING:
        return [f"{d.message}"]
    if reason is Reason.PREEMPTED:
        out.append(f"preempted this cycle: {d.message}")
    if reason is Reason.BLOCKED_BY_QUEUE_HEAD or (
        reason is Reason.PARTIALLY_ADMITTED and "StrictFIFO" in d.message
    ):
        head = _queue_head(view, d)
        if head is not None:
            hd = view.plan.workloads[head.key]
            out.append(
                f"budget {d.budget} is StrictFIFO: its queue head {head.key} "
                f"(position {hd.queue_position}, priority {head.priority}) does not fit: "
                f"{hd.reason}: {hd.message}"
            )
        else:
            out.append(d.message)
        return out
    queued = d.admitted_replicas == 0
    step = max(1, w.min_replicas) * cores if queued else cores
    if m is not None and m.available < step:
        out.append(
            f"{budget_line(m)}; {msg.needs(max(1, w.min_replicas) if queued else 1, cores, False)}"
        )
    usable = [f for f in fits if f.usable]
    wanted = max(1, w.min_replicas) if queued else 1
    fit = room.fits(pools, cores, w.memory_per_replica, wanted)
    if usable and fit < wanted:
        largest = room.largest_block(pools)
        if largest < cores:
            out.append(
                f"no node has {msg.plural(cores, 'free core')}: largest free block {largest} "
                f"< {cores} cores per replica in pools {msg.pool_list(pools)}"
            )
        else:
            out.append(
                f"pools {msg.pool_list(pools)} fit {fit} of {wanted} replicas of "
                f"{msg.plural(cores, 'core')} (largest free block {largest}"
                + ("; memory counts too)" if w.memory_per_replica else ")")
            )
    if not out and reason is not Reason.PARTIALLY_ADMITTED:
        out.append(f"{reason}: {d.message}")
    elif not out:
        out.append(d.message)
    return out


def _queue_head(view: View, d: WorkloadDecision) -> Workload | None:
    """The first fresh workload of the budget's queue that does not fit."""
    best: tuple[int, str] | None = None
    for key, other in view.plan.workloads.items():
        if (
            other.budget == d.budget
            and other.admitted_replicas == 0
            and other.queue_position is not None
            and other.reason is not Reason.BLOCKED_BY_QUEUE_HEAD
            and (d.queue_position is None or other.queue_position < d.queue_position)
            and (best is None or other.queue_position < best[0])
        ):
            best = (other.queue_position, key)
    return view.workload(best[1]) if best else None
