"""Core-hour accounting: integrate the cores of every budget's running pods over time.

What counts: from the moment a Paddock pod is bound to a node (its PodScheduled condition)
until it is gone, its whole CPU request (every container), charged to the budget its workload
is admitted against, in the pool its Deployment targets, at that pool's pricePerCoreHour.
Admitted replicas without a pod hold no node and cost nothing.

How: every scheduling cycle (`tick`, at least once per resync, and at once when a Paddock pod
appears or goes) adds, for each running pod, its cores x the time since the last tick (or
since it was bound, for a new one) to its budget's `UsageLedger`; a pod that vanished is
counted up to when the watch saw it go (or up to this tick, when that is not known): full
cycles can be seconds apart. Prometheus counters get the same increments.

Surviving restarts: the figures are checkpointed into CoreBudget.status.coreHours at most once
per `checkpoint_interval` per budget (and at once when the budget becomes exhausted or frees),
with `checkpointTime`. A new process (or a new leader) starts from that checkpoint and counts
every pod that runs now from max(its bind time, checkpointTime): a crash or an outage of any
length loses only the usage of pods that ended after the last checkpoint, at most
`checkpoint_interval` (plus one write) of theirs; pods that started and ended wholly inside
an outage are not seen at all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from prometheus_client import Counter, Gauge

from paddock.controller.metrics import REGISTRY
from paddock.controller.observed import AgentPod
from paddock.controller.usage.ledger import Figures, UsageLedger
from paddock.controller.usage.windows import (
    DEFAULT_WINDOW,
    WindowSpec,
    iso,
    parse_iso,
    parse_window,
    window_bounds,
)

log = logging.getLogger("paddock.usage")

CORE_SECONDS = Counter(
    "paddock_budget_core_seconds_total",
    "Cores x seconds of the running pods of each budget's workloads, by budget and pool.",
    ["budget", "pool"],
    registry=REGISTRY,
)
COST = Counter(
    "paddock_budget_cost_total",
    "Cost of those core-seconds at the pool's pricePerCoreHour, by budget, pool and currency.",
    ["budget", "pool", "currency"],
    registry=REGISTRY,
)
CORE_HOURS = Gauge(
    "paddock_budget_core_hours",
    "Core-hours of each budget's window, by kind: used, limit, projected.",
    ["budget", "kind"],
    registry=REGISTRY,
)
WINDOW_COST = Gauge(
    "paddock_budget_window_cost",
    "Cost in each budget's current window.",
    ["budget", "currency"],
    registry=REGISTRY,
)
HELD_CORES = Gauge(
    "paddock_budget_running_cores",
    "Cores of each budget's running pods, by pool: what core-hours are burning at.",
    ["budget", "pool"],
    registry=REGISTRY,
)
EXHAUSTED = Gauge(
    "paddock_budget_core_hours_exhausted",
    "1 while a budget's core-hours in the window are used up.",
    ["budget"],
    registry=REGISTRY,
)
USAGE_GAUGES = (CORE_HOURS, WINDOW_COST, HELD_CORES, EXHAUSTED)

CONDITION = "CoreHoursAvailable"
EXHAUSTED_REASON = "CoreHoursExhausted"


@dataclass(frozen=True)
class BudgetTerms:
    """What the accountant needs of a CoreBudget spec, plus its last status."""

    window: WindowSpec
    limit: float | None
    on_exhausted: str
    status: Mapping[str, Any]


def budget_terms(spec: Any, status: Mapping[str, Any]) -> BudgetTerms:
    """From a parsed CoreBudgetSpec (None-safe: no coreHours means a calendar month, no cap)."""
    core_hours = getattr(spec, "core_hours", None)
    if core_hours is None:
        return BudgetTerms(parse_window(DEFAULT_WINDOW), None, "Queue", status)
    return BudgetTerms(
        parse_window(core_hours.window, core_hours.window_type),
        float(core_hours.limit),
        core_hours.on_exhausted,
        status,
    )


def price_of(value: str | None) -> float:
    """A pricePerCoreHour string as a number (0 when unset or unreadable)."""
    if not value:
        return 0.0
    try:
        return float(Decimal(value))
    except InvalidOperation:
        return 0.0


@dataclass
class Account:
    """One budget's accounting in this process."""

    terms: BudgetTerms
    ledger: UsageLedger
    floor: float
    """New pods count from max(bound, floor): the checkpoint this process resumed from, or the
    window start when there was none."""
    checkpointed_at: float = -math.inf
    view: dict[str, Any] | None = None
    """What the status shows: refreshed on the checkpoint clock, not every cycle."""
    exhausted: bool = False
    figures: Figures | None = None


@dataclass
class OpenPod:
    budget: str
    pool: str
    namespace: str
    cores: float


@dataclass
class Accountant:
    checkpoint_interval: float = 30.0
    currency: str = "USD"
    accounts: dict[str, Account] = field(default_factory=dict)
    open: dict[str, OpenPod] = field(default_factory=dict)
    """Pods counted so far, by uid."""
    last_tick: float | None = None
    budget_of: dict[str, str] = field(default_factory=dict)
    """Workload key -> the budget its last decision names (set after each plan)."""

    # ------------------------------------------------------------------ accounting
    def tick(
        self,
        now: float,
        agent_pods: Mapping[str, Mapping[str, AgentPod]],
        budgets: Mapping[str, BudgetTerms],
        prices: Mapping[str, float],
        workload_budget: Callable[[str], str | None] = lambda _key: None,
        ended: Mapping[str, float] | None = None,
    ) -> None:
        """Count what ran since the last tick. `workload_budget` names the budget of a
        workload that no plan of this process decided yet (its status says); `ended` says
        when the watch saw pods go (uid -> epoch seconds), so they count up to then."""
        self._sync_accounts(now, budgets)
        since = self.last_tick if self.last_tick is not None else now
        self.last_tick = now
        running: dict[tuple[str, str, str], float] = {}
        seen: set[str] = set()
        for key, pods in agent_pods.items():
            budget = self.budget_of.get(key) or workload_budget(key)
            if budget is None or budget not in self.accounts:
                continue
            namespace = key.split("/", 1)[0]
            for uid, pod in pods.items():
                seen.add(uid)
                known = self.open.get(uid)
                if known is None or known.budget != budget:
                    cores = (pod.pod_millicores or pod.cpu_millicores) / 1000.0
                    account = self.accounts[budget]
                    start = max(pod.bound or now, account.floor)
                    if known is not None:  # moved to another budget: counted until the last tick
                        start = max(start, since)
                    known = self.open[uid] = OpenPod(budget, pod.pool or "", namespace, cores)
                    if start < since:
                        # New to this process: count it from when it was bound (or the
                        # checkpoint) up to the last tick; from there on with the others.
                        self._add(budget, known.pool, namespace, known.cores, start, since, prices)
                    else:
                        self._add(budget, known.pool, namespace, known.cores, start, now, prices)
                        continue
                group = (known.budget, known.pool, known.namespace)
                running[group] = running.get(group, 0.0) + known.cores
        for uid in [u for u in self.open if u not in seen]:
            gone = self.open.pop(uid)
            if gone.budget not in self.accounts:
                continue
            end = (ended or {}).get(uid)
            if end is not None:  # it was there at the last tick: counted until it went
                self._add(gone.budget, gone.pool, gone.namespace, gone.cores, since,
                          min(now, max(since, end)), prices)  # fmt: skip
                continue
            group = (gone.budget, gone.pool, gone.namespace)  # when unknown: up to this tick
            running[group] = running.get(group, 0.0) + gone.cores
        for (budget, pool, namespace), cores in running.items():
            self._add(budget, pool, namespace, cores, since, now, prices)
        self._refresh(now)

    def _add(
        self,
        budget: str,
        pool: str,
        namespace: str,
        cores: float,
        start: float,
        end: float,
        prices: Mapping[str, float],
    ) -> None:
        price = prices.get(pool, 0.0)
        pieces = self.accounts[budget].ledger.add(start, end, pool, namespace, cores, price)
        core_seconds = sum(p[0] for p in pieces)
        if core_seconds:
            CORE_SECONDS.labels(budget=budget, pool=pool).inc(core_seconds)
            COST.labels(budget=budget, pool=pool, currency=self.currency).inc(
                sum(p[1] for p in pieces)
            )

    def _sync_accounts(self, now: float, budgets: Mapping[str, BudgetTerms]) -> None:
        for name in [n for n in self.accounts if n not in budgets]:
            del self.accounts[name]  # its counters stay until restart, as counters do
        for name, terms in budgets.items():
            account = self.accounts.get(name)
            if account is None:
                self.accounts[name] = self._resume(name, terms, now)
            elif account.terms.window != terms.window:
                ledger = UsageLedger(terms.window)
                ledger.load_rows(account.ledger.to_rows(now), now)
                account.ledger = ledger
                account.checkpointed_at = -math.inf  # the status shows the new window at once
            account = self.accounts[name]
            if (account.terms.limit, account.terms.on_exhausted) != (
                terms.limit,
                terms.on_exhausted,
            ):
                account.checkpointed_at = -math.inf  # a new limit shows at once
            account.terms = terms

    def _resume(self, name: str, terms: BudgetTerms, now: float) -> Account:
        """Start a budget's account from its checkpoint in the status (if any)."""
        ledger = UsageLedger(terms.window)
        saved = terms.status.get("coreHours") if isinstance(terms.status, Mapping) else None
        floor = window_bounds(terms.window, now)[0]
        if isinstance(saved, Mapping):
            at = parse_iso(str(saved.get("checkpointTime") or ""))
            if at is not None and at <= now:
                ledger.load_rows(saved.get("usage") or (), now)
                floor = max(floor, at)
                previous = saved.get("previousWindow")
                if isinstance(previous, Mapping):
                    ledger.previous = {k: str(v) for k, v in previous.items()}
                log.info(
                    "budget %s: core-hours resumed from the checkpoint of %s",
                    name,
                    saved.get("checkpointTime"),
                )
        return Account(terms=terms, ledger=ledger, floor=floor)

    # ------------------------------------------------------------------ what is shown
    def _refresh(self, now: float) -> None:
        held: dict[str, float] = {}
        held_pool: dict[tuple[str, str], float] = {}
        for pod in self.open.values():
            held[pod.budget] = held.get(pod.budget, 0.0) + pod.cores
            held_pool[(pod.budget, pod.pool)] = held_pool.get((pod.budget, pod.pool), 0.0) + (
                pod.cores
            )
        for gauge in USAGE_GAUGES:
            gauge.clear()
        for name, account in self.accounts.items():
            terms = account.terms
            account.ledger.prune(now)
            figures = account.ledger.figures(now, held.get(name, 0.0), terms.limit)
            account.figures = figures
            due = now - account.checkpointed_at >= self.checkpoint_interval
            if due or figures.exhausted != account.exhausted or account.view is None:
                account.exhausted = figures.exhausted
                account.checkpointed_at = now
                view = self._view(account, figures, now)
                if not _same_but_time(account.view, view):
                    # Nothing runs and nothing changed: the old checkpoint is still exact, and
                    # rewriting it would only cost an API write.
                    account.view = view
            CORE_HOURS.labels(budget=name, kind="used").set(figures.used)
            CORE_HOURS.labels(budget=name, kind="projected").set(figures.projected)
            if terms.limit is not None:
                CORE_HOURS.labels(budget=name, kind="limit").set(terms.limit)
            WINDOW_COST.labels(budget=name, currency=self.currency).set(figures.cost)
            EXHAUSTED.labels(budget=name).set(1 if figures.exhausted else 0)
        for (budget, pool), cores in held_pool.items():
            HELD_CORES.labels(budget=budget, pool=pool).set(cores)

    def _view(self, account: Account, figures: Figures, now: float) -> dict[str, Any]:
        """status.coreHours as of `now` (the checkpoint)."""
        view = {
            "windowStart": iso(figures.window_start),
            "windowEnd": iso(figures.window_end) if figures.window_end is not None else None,
            "used": round(figures.used, 4),
            "limit": account.terms.limit,
            "cost": f"{figures.cost:.2f} {self.currency}",
            "heldCores": round(figures.held_cores),
            "projected": round(figures.projected, 4),
            "exhaustsAt": iso(figures.exhausts_at) if figures.exhausts_at is not None else None,
            "freesAt": iso(figures.frees_at) if figures.frees_at is not None else None,
            "checkpointTime": iso(now, exact=True),
            "usage": account.ledger.to_rows(now),
            "previousWindow": account.ledger.previous,
        }
        # Unset fields are left out: the status read back has no nulls to compare with.
        return {k: v for k, v in view.items() if v is not None}

    # ------------------------------------------------------------------ read by others
    def status_of(self, budget: str) -> dict[str, Any] | None:
        account = self.accounts.get(budget)
        return account.view if account is not None else None

    def exhaustion(self, budget: str) -> tuple[str, bool] | None:
        """(message, scale to min) while the budget's core-hours are used up, else None."""
        account = self.accounts.get(budget)
        if account is None or account.figures is None or not account.figures.exhausted:
            return None
        return exhausted_message(budget, account.figures, account.terms), (
            account.terms.on_exhausted == "ScaleToMin"
        )

    def forget_leadership(self) -> None:
        """A replica that stops leading starts again from the checkpoints when it leads again."""
        self.accounts.clear()
        self.open.clear()
        self.last_tick = None
        for gauge in USAGE_GAUGES:
            gauge.clear()


def _same_but_time(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    if before is None or after.get("heldCores"):
        return False
    moving = ("checkpointTime", "windowStart")
    return {k: v for k, v in before.items() if k not in moving} == {
        k: v for k, v in after.items() if k not in moving
    }


def exhausted_message(budget: str, figures: Figures, terms: BudgetTerms) -> str:
    """'budget team-a used 10.02 of 10 core-hours in its window ...; frees at ...'."""
    limit = terms.limit or 0.0
    text = f"budget {budget} used {figures.used:.2f} of {limit:g} core-hours in its window"
    if figures.frees_at is not None:
        text += f"; enough frees at {iso(round(figures.frees_at))}"
    else:
        text += (
            f"; its running pods ({figures.held_cores:g} cores) alone fill the rolling window: "
            "it frees once they stop"
        )
    return text
