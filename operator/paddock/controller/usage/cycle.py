"""Core-hour accounting in the scheduling cycle: count, then tell the planner.

`account` runs right after the snapshot is built, under the same lock (it reads the pod
store); `gate` hands the planner, as plain data on each `Budget`, which budgets have used up
their core-hours; `remember` notes after each plan which budget each workload draws on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

from paddock.controller.cluster_state import ClusterState
from paddock.controller.observed import AgentPod
from paddock.controller.usage.accountant import Accountant, BudgetTerms, budget_terms, price_of
from paddock.planner import Plan

log = logging.getLogger("paddock.usage")


def account(
    accountant: Accountant,
    state: ClusterState,
    agent_pods: Mapping[str, Mapping[str, AgentPod]],
    now: float,
    ended: Mapping[str, float] | None = None,
) -> None:
    """Count the usage since the last cycle (never fails the cycle: usage is reported, not
    load-bearing for anything but the core-hour gate)."""
    terms: dict[str, BudgetTerms] = {}
    for name, parsed in state.budgets.items():
        if parsed.spec is None:
            continue
        try:
            terms[name] = budget_terms(parsed.spec, parsed.facts.status)
        except ValueError as error:  # a window the schema let through but we cannot read
            log.warning("budget %s: core-hours not counted: %s", name, error)
    prices = {
        name: price_of(parsed.spec.price_per_core_hour)
        for name, parsed in state.pools.items()
        if parsed.spec is not None
    }

    def workload_budget(key: str) -> str | None:
        parsed = state.workloads.get(key)
        if parsed is None:
            return None
        named = parsed.facts.status.get("budget") or (parsed.spec.budget if parsed.spec else None)
        return named if isinstance(named, str) else None

    accountant.tick(now, agent_pods, terms, prices, workload_budget, ended)


def gate(accountant: Accountant, state: ClusterState) -> ClusterState:
    """The state with each exhausted budget marked for the planner (plain data)."""
    return _marked(state, accountant.exhaustion)


def gate_from_statuses(state: ClusterState) -> ClusterState:
    """What `gate` does, from the budgets' checkpointed status.coreHours instead of a live
    accountant: for `kubectl paddock`, which plans the cluster once, as the operator would."""

    def exhaustion(name: str) -> tuple[str, bool] | None:
        parsed = state.budgets.get(name)
        core_hours = getattr(parsed.spec, "core_hours", None) if parsed is not None else None
        saved = parsed.facts.status.get("coreHours") if parsed is not None else None
        if core_hours is None or not isinstance(saved, Mapping):
            return None
        used = float(saved.get("used") or 0.0)
        if used < core_hours.limit:
            return None
        frees = saved.get("freesAt")
        message = (
            f"budget {name} used {used:.2f} of {core_hours.limit:g} core-hours in its window"
            + (f"; enough frees at {frees}" if frees else "; it frees once its pods stop")
        )
        return message, core_hours.on_exhausted == "ScaleToMin"

    return _marked(state, exhaustion)


def _marked(
    state: ClusterState, exhaustion: Callable[[str], tuple[str, bool] | None]
) -> ClusterState:
    """The state with each budget `exhaustion` names (message, scale to min) marked."""
    budgets = []
    changed = False
    for budget in state.snapshot.budgets:
        found = exhaustion(budget.name)
        if found is not None:
            message, scale_to_min = found
            budget = dataclasses.replace(
                budget, core_hours_exhausted=message, scale_to_min=scale_to_min
            )
            changed = True
        budgets.append(budget)
    if not changed:
        return state
    snapshot = dataclasses.replace(state.snapshot, budgets=tuple(budgets))
    return dataclasses.replace(state, snapshot=snapshot)


def remember(accountant: Accountant, plan: Plan) -> None:
    """Which budget each workload draws on, as the plan decided."""
    accountant.budget_of = {
        key: decision.budget
        for key, decision in plan.workloads.items()
        if decision.budget is not None
    }
