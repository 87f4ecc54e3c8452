"""Plain text (aligned tables, like kubectl) and JSON for the plugin's answers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from paddock.planner import messages as msg

from .explain import Explanation, budget_line
from .images import age_text
from .view import BudgetMath, PoolRow, Problem, QueueRow

NONE = "-"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last column is not padded."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return NONE
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or NONE
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in ("can_borrow",):
            if hasattr(value, name):
                out[name] = getattr(value, name)
        return out
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# -- status -------------------------------------------------------------------------------


def budgets_table(budgets: Iterable[BudgetMath]) -> str:
    return table(
        (
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
        ),
        (
            (
                b.name,
                b.cohort,
                b.queueing,
                b.nominal,
                b.used,
                b.borrowed,
                b.lent,
                b.free,
                b.available,
                b.pending_cores,
                b.admitted_workloads,
                b.pending_workloads,
            )
            for b in budgets
        ),
    )


def pools_table(pools: Iterable[PoolRow]) -> str:
    return table(
        (
            "POOL",
            "GEN",
            "NODES",
            "SCHEDULABLE",
            "ALLOCATABLE",
            "USED",
            "PADDOCK",
            "FREE",
            "LARGEST-FREE-BLOCK",
            "MAX",
            "WEIGHT",
            "ZONES",
            "POTENTIAL",
            "NODEPOOL",
        ),
        (
            (
                p.name,
                p.generation,
                p.nodes,
                p.schedulable_nodes,
                p.allocatable_cores,
                p.used_cores,
                p.paddock_cores,
                p.free_cores,
                p.largest_free_block,
                p.max_cores,
                p.weight,
                p.zones,
                p.potential_cores,
                p.node_pool,
            )
            for p in pools
        ),
    )


def queue_table(rows: Iterable[QueueRow]) -> str:
    return table(
        ("BUDGET", "POS", "WORKLOAD", "PRIORITY", "ADMITTED", "CORES/REPLICA", "PENDING", "REASON"),
        (
            (
                r.budget,
                r.position,
                r.workload,
                r.priority,
                f"{r.admitted_replicas}/{r.replicas}"
                + (f" (min {r.min_replicas})" if r.min_replicas < r.replicas else ""),
                r.cores_per_replica,
                r.pending_cores,
                r.reason,
            )
            for r in rows
        ),
    )


def status_text(
    budgets: Sequence[BudgetMath],
    pools: Sequence[PoolRow],
    queue: Sequence[QueueRow],
    problems: Sequence[Problem],
) -> str:
    parts = [
        "BUDGETS (cores)",
        budgets_table(budgets) if budgets else "  no CoreBudgets",
        "",
        "POOLS (cores; free and largest free block on schedulable arm64 nodes)",
        pools_table(pools) if pools else "  no CorePools",
        "",
        "QUEUE (workloads not fully admitted; `kubectl paddock explain <workload>` says why)",
        queue_table(queue) if queue else "  nothing waits",
    ]
    if problems:
        parts += ["", "INVALID OBJECTS (the operator ignores them)"]
        parts += [f"  {p.kind} {p.name}: {'; '.join(p.errors)}" for p in problems]
    return "\n".join(parts) + "\n"


# -- explain ------------------------------------------------------------------------------


def explain_text(e: Explanation) -> str:
    out: list[str] = []
    add = out.append
    add(f"AgentWorkload {e.workload}")
    if e.errors:
        add(f"  InvalidSpec: the operator cannot use this spec: {'; '.join(e.errors)}")
        add("  Fix the spec; see docs/troubleshooting.md#invalidspec")
        return "\n".join(out) + "\n"
    shape = msg.shape(e.replicas, e.cores_per_replica, e.memory_per_replica)
    asks = f"  asks      {shape} = {msg.plural(e.requested_cores, 'core')}"
    if e.min_replicas < e.replicas:
        asks += f" (elastic: at least {e.min_replicas})"
    add(asks)
    add(
        f"  budget    {e.budget or NONE}    priority {e.priority}    "
        f"placement.pools {msg.pool_list(e.placement_pools) if e.placement_pools else '(all)'}"
        f"    spread {e.spread}"
    )
    state = f"  decision  {e.state}" + (f": {e.reason}" if e.reason != e.state else "")
    if e.admitted_replicas:
        state += (
            f", {e.admitted_replicas} of {e.replicas} replicas admitted "
            f"({e.admitted_cores} of {e.requested_cores} cores) in "
            f"{msg.placements(e.assignments)}"
        )
    if e.queue_position is not None:
        state += f", queue position {e.queue_position} in budget {e.budget}"
    add(state)
    add(f"  message   {e.message}")
    if e.needs:
        add(f"  needs     {e.needs.removeprefix('needs ')}")
    if e.operator is not None:
        o = e.operator
        line = f"  operator  phase {o.phase or NONE}, reason {o.reason or NONE}"
        if o.agrees:
            line += " (agrees with a plan of the cluster now)"
        else:
            line += (
                f", {o.admitted_replicas} admitted: differs from a plan of the cluster now "
                "(the operator may be mid-cycle, preempting, or not running)"
            )
        add(line)
        if o.stale:
            add("  operator  has not observed the latest spec yet (status.observedGeneration)")
    else:
        add("  operator  no status written yet (is the operator running?)")

    out.extend(scaling_lines(e))

    if e.budget_math is not None:
        m = e.budget_math
        add("")
        kind = f"cohort {m.cohort}" if m.cohort else "no cohort"
        add(f"BUDGET {m.name} ({kind}, {m.queueing})")
        add(f"  {budget_line(m)}")
        limits = []
        if m.cohort is not None:
            limits.append(
                "borrowingLimit "
                + (str(m.borrowing_limit) if m.borrowing_limit is not None else "none")
            )
            limits.append(
                "lendingLimit " + (str(m.lending_limit) if m.lending_limit is not None else "none")
            )
        limits.append(f"preemption withinBudget {m.preempt_within_budget}")
        if m.cohort is not None:
            limits.append(f"reclaimFromCohort {m.reclaim_from_cohort}")
        add("  " + ", ".join(limits))
        if e.budget_verdict:
            add(f"  for this workload: {e.budget_verdict}")
        if e.cohort:
            add("  cohort members:")
            for c in e.cohort:
                add(f"    {budget_line(c)}")
        if e.holders:
            add("  cores held by:")
            for h in e.holders[:8]:
                add(
                    f"    {h.workload} (budget {h.budget}, priority {h.priority}): "
                    f"{msg.plural(h.replicas, 'replica')}, {h.cores} cores"
                )
            if len(e.holders) > 8:
                add(f"    ... and {len(e.holders) - 8} more")

    if e.pools and e.admitted_replicas < e.replicas:
        add("")
        add("POOLS (in the order the planner tries them; free cores after the plan)")
        rows = []
        for f in e.pools:
            rows.append(
                (
                    f.pool,
                    "yes" if f.usable else f"no: {f.note}",
                    f.schedulable_nodes,
                    f.free_cores,
                    f.largest_free_block,
                    f.cores_per_replica,
                    f"{f.fits_replicas} of {f.wanted_replicas}",
                )
            )
        table_text = table(
            (
                "POOL",
                "USABLE",
                "SCHEDULABLE-NODES",
                "FREE",
                "LARGEST-FREE-BLOCK",
                "CORES/REPLICA",
                "FITS",
            ),
            rows,
        )
        out.extend("  " + line for line in table_text.splitlines())

    if e.node_pools:
        add("")
        add("AUTOSCALING (Karpenter NodePools: FREE above counts nodes they can still launch)")
        out.extend(f"  {line}" for line in e.node_pools)

    if e.blockers or e.victims:
        add("")
        add("WHAT BLOCKS IT")
        out.extend(f"  - {b}" for b in e.blockers)
        if e.victims:
            add(f"  - preempting: {', '.join(e.victims)}")

    helps = [w for w in e.what_ifs if w.helps]
    others = [w for w in e.what_ifs if not w.helps]
    if helps:
        add("")
        add("WHAT WOULD ADMIT IT (each change alone, planned against the cluster now)")
        for w in helps:
            add(f"  - {w.change}: would be {w.outcome}")
            add(f"      {w.message}")
            if w.detail:
                add(f"      {w.detail}")
    elif e.reason not in ("Admitted", "Preempting", "ScaledToZero", ""):
        add("")
        add("WHAT WOULD ADMIT IT")
        add("  - no single change to this workload's replicas, cores, pools or priority")
        add("    admits it now; it waits for cores to free up (or for more nodes)")
    if others:
        add("")
        add("WOULD NOT HELP")
        for w in others:
            add(f"  - {w.change}: would still wait ({w.reason})")
            add(f"      {w.message}")
    if e.images:
        add("")
        add("IMAGES (linux/arm64 check; age: since the registry first gave this answer)")
        add(
            table(
                ("CONTAINER", "IMAGE", "CHECK", "PLATFORMS", "AGE"),
                (
                    (
                        i.container if i.kind == "container" else f"{i.container} ({i.kind})",
                        i.image,
                        i.outcome,
                        i.platforms or i.detail or "-",
                        age_text(i.age),
                    )
                    for i in e.images
                ),
            ).rstrip("\n")
        )
    if e.events:
        add("")
        add("RECENT EVENTS")
        for ev in e.events:
            count = f" (x{ev.count})" if ev.count > 1 else ""
            add(f"  {ev.time}  {ev.type}  {ev.reason}{count}: {ev.message}")
    return "\n".join(out) + "\n"


def scaling_lines(e: Explanation) -> list[str]:
    """The SCALING section: who set spec.replicas, how far the budget lets it go, and the
    HorizontalPodAutoscalers that drive it (empty when the plugin could not read them)."""
    sc = e.scaling
    if sc is None:
        return []
    lines = ["", "SCALING"]
    who = "nobody recorded (no managedFields)"
    if sc.owner is not None:
        via = f" via /{sc.owner.subresource}" if sc.owner.subresource else ""
        when = f", {sc.owner.time}" if sc.owner.time else ""
        who = f"{sc.owner.manager} ({sc.owner.operation}{via}{when})"
    lines.append(f"  replicas    {sc.replicas}, last set by {who}")
    if sc.budget_allows is not None and e.budget:
        cores = e.cores_per_replica
        text = (
            f"  budget      {e.budget} allows {msg.plural(sc.budget_allows, 'replica')} of "
            f"{msg.plural(cores, 'core')} now ({e.admitted_replicas} admitted"
            f" + {max(0, sc.budget_allows - e.admitted_replicas)} more)"
        )
        if sc.replicas > sc.budget_allows:
            text += f"; {sc.replicas - sc.budget_allows} of {sc.replicas} wait for budget"
        lines.append(text)
    for a in sc.autoscalers:
        desired = f", desired {a.desired_replicas}" if a.desired_replicas is not None else ""
        able = f", AbleToScale {a.able_to_scale}" if a.able_to_scale else ""
        if a.scaling_active:
            able += f", ScalingActive {a.scaling_active}"
        lines.append(
            f"  autoscaler  HorizontalPodAutoscaler {a.name}: min {a.min_replicas}, "
            f"max {a.max_replicas}{desired}{able}"
        )
        if sc.budget_allows is not None and a.max_replicas > sc.budget_allows:
            lines.append(
                f"              its maxReplicas {a.max_replicas} is above what the budget allows "
                f"now ({sc.budget_allows}): replicas above that wait (PartiallyAdmitted)"
            )
    if sc.autoscalers and 0 < e.replicas <= e.min_replicas:
        lines.append(
            "  warning     minReplicas follows replicas: admitted all or nothing from zero and "
            "evicted whole by preemption; set spec.minReplicas to the autoscaler's minReplicas"
        )
    return lines
