"""One planning cycle, end to end, and a cheap path for one new workload between cycles.

`plan(snapshot)` is the whole contract: a pure function from a Snapshot to a Plan. `Planner`
exposes the same cycle plus `add()`, which decides one new workload against what the cycle left
(see its docstring for when it declines), so that a workload created between cycles can get its
Deployments in milliseconds instead of waiting for the next full cycle.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import TypeVar

from . import messages as msg
from .admission import (
    FAILED,
    admit_queue,
    assignments,
    describe,
    explain,
    hold_committed,
    placements,
    try_admit,
)
from .budgets import Ledger
from .capacity import Capacity
from .decisions import (
    BudgetUsage,
    Plan,
    PoolUsage,
    Reason,
    Victim,
    WorkloadDecision,
    new_decision,
)
from .preemption import preempt
from .snapshot import Snapshot, Workload
from .work import Cycle, Entry, QueueKey, resolve

T = TypeVar("T")


def plan(snapshot: Snapshot) -> Plan:
    """Plan one cycle: admissions, placements, preemptions and the reasons for everything."""
    with _collector_paused():  # until the cycle's working state is freed too
        return Planner(snapshot, incremental=False).plan


def _unique(items: Iterable[T], what: str, name: Callable[[T], str]) -> dict[str, T]:
    """Index by name, sorted, refusing duplicates: a duplicate is an operator bug, and silently
    keeping one of them would make the plan depend on input order."""
    ordered = sorted(items, key=name)
    out = dict(zip(map(name, ordered), ordered, strict=True))
    if len(out) != len(ordered):
        seen: set[str] = set()
        for key in map(name, ordered):
            if key in seen:
                raise ValueError(f"duplicate {what} {key!r} in snapshot")
            seen.add(key)
    return out


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while `plan()` runs a cycle and frees it.

    Why: a cycle allocates about 300,000 objects (entries, their dicts, tuples, decisions),
    so the collector would run a few hundred times during it, its older-generation passes
    walking every tracked object of the process, the snapshot included. The cycle creates no
    reference cycles (its working state is freed by reference counting), so pausing loses
    nothing, and once the state is freed the one pass after resuming walks only the Plan.
    Only `plan()` pauses: a kept `Planner` (the operator's, for `add`/`release`) would leave
    its whole state young, and the passes would only move to whoever allocates next. Left as
    it is when the caller had paused it already.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Planner:
    """A planning cycle over one snapshot; `plan` is its result."""

    def __init__(self, snapshot: Snapshot, *, incremental: bool = True) -> None:
        """Run the cycle. `incremental=False` (what `plan()` uses) skips indexing the queue
        for `add` and `release` until they are first called."""
        self._run(snapshot)
        if incremental:
            self._index_queue()

    def _run(self, snapshot: Snapshot) -> None:
        pools = _unique(snapshot.pools, "pool", attrgetter("name"))
        budgets = _unique(snapshot.budgets, "budget", attrgetter("name"))
        nodes = _unique(snapshot.nodes, "node", attrgetter("name"))
        workloads = _unique(snapshot.workloads, "workload", attrgetter("key"))
        capacity = Capacity(tuple(nodes.values()), pools)
        self._cycle = cycle = Cycle(
            budgets,
            pools,
            capacity,
            Ledger(budgets.values()),
            now=snapshot.now,
            shrink_grace=snapshot.shrink_grace,
        )
        for w in workloads.values():
            cycle.entries[w.key] = resolve(w, cycle)
        entries = list(cycle.entries.values())
        # Priority order, once: the held admissions, the queue and the victims all follow it.
        cycle.ranked = ranked = sorted(entries, key=attrgetter("rank"))

        # 1. Admissions are commitments: hold them (re-place, move, shrink) in priority order.
        hold_committed(cycle, [e for e in ranked if e.start > 0])
        # 2. Queued work and growth, in queue order; 3. reasons against the resulting state.
        # (Built in priority order, the queue is sorted already but for growth: a cheap sort.)
        queue = [
            (e.queue_key(e.admitted > 0), e)
            for e in ranked
            if e.queued and e.admitted < e.w.replicas
        ]
        queue.sort(key=itemgetter(0))
        admit_queue(cycle, queue)
        explain(cycle, entries)
        pools_after = self._pool_free()
        # 4. Preemption for fresh work that did not fit (victims' cores free up next cycle).
        failed = [
            e
            for key, e in queue
            if key[1] == 0
            and e.admitted == 0
            and e.blocked_by is None
            and e.failed != Reason.CORE_HOURS_EXHAUSTED  # preempting would not admit it
        ]
        victims = preempt(cycle, failed)
        self.plan = self._build(entries, pools_after, victims)
        self._victims = {v.victim for v in victims}
        # What `add` and `release` work with, indexed on their first call (`plan()` alone
        # never needs it): nothing changes the entries before that.
        self._cycle_queue: list[tuple[QueueKey, Entry]] | None = queue
        self._cycle_failed = failed
        self._heads: dict[str, Entry] = {}
        self._waiting: dict[str, list[QueueKey]] = {}
        self._queued: dict[str, list[tuple[QueueKey, Entry]]] = {}
        """Per budget, the queue of this cycle and of `add`: what `release` may admit."""
        self._lowest: dict[str, int] | None = None
        """Per budget, the lowest priority among its admitted workloads (None: to compute)."""

    def _index_queue(self) -> None:
        """StrictFIFO heads, waiting queue keys and queued entries per budget, as the cycle
        left them (once, before the first incremental step)."""
        queue = self._cycle_queue
        if queue is None:
            return
        self._cycle_queue = None
        budgets = self._cycle.budgets
        self._heads = {
            e.budget: e
            for e in reversed(self._cycle_failed)
            if e.budget is not None and budgets[e.budget].queueing == "StrictFIFO"
        }
        for key, e in queue:
            if e.admitted < e.w.replicas and e.budget is not None:
                self._waiting.setdefault(e.budget, []).append(key)
        for key, e in queue:
            if e.budget is not None:
                self._queued.setdefault(e.budget, []).append((key, e))

    # -- output --------------------------------------------------------------------------

    def _pool_free(self) -> dict[str, tuple[int, int]]:
        cap = self._cycle.capacity
        free = dict.fromkeys(self._cycle.pools, 0)
        for node, eligible in enumerate(cap.eligible):
            if eligible and cap.cores[node] > 0 and not cap.potential[node]:
                pool = cap.pool[node]
                assert pool is not None
                free[pool] += cap.cores[node]
        return {p: (free[p], cap.largest_block((p,), launch=False)) for p in free}

    def _build(
        self,
        entries: list[Entry],
        pools_after: dict[str, tuple[int, int]],
        victims: list[Victim],
    ) -> Plan:
        cycle = self._cycle
        positions: dict[str, int] = {}
        waiting: dict[str, list[tuple[QueueKey, str]]] = {}
        # Budget usage, counted on the way: pending here, used and admitted below.
        used = dict.fromkeys(cycle.budgets, 0)
        pending_cores = dict.fromkeys(cycle.budgets, 0)
        admitted_workloads = dict.fromkeys(cycle.budgets, 0)
        pending = dict.fromkeys(cycle.budgets, 0)
        for e in entries:
            if e.queued and e.admitted < e.w.replicas and e.budget is not None:
                waiting.setdefault(e.budget, []).append((e.queue_key(e.admitted > 0), e.w.key))
                pending[e.budget] += 1
                pending_cores[e.budget] += (e.w.replicas - e.admitted) * e.w.cores_per_replica
        for items in waiting.values():
            items.sort()
            for position, (_, key) in enumerate(items, 1):
                positions[key] = position

        decisions: dict[str, WorkloadDecision] = {}
        paddock = dict.fromkeys(cycle.pools, 0)
        launching = cycle.capacity.launching
        potential = cycle.capacity.any_potential
        for e in entries:
            w = e.w
            nodes = e.nodes
            cores = w.cores_per_replica
            per_pool: tuple[tuple[str, int], ...] = ()
            placed: tuple[tuple[str, int], ...] = ()
            if nodes or e.unplaced or e.frozen:
                per_pool = e.per_pool if e.per_pool is not None else assignments(cycle, e)
                for pool, replicas in per_pool:
                    if pool in paddock:  # not a pool that was deleted under running pods
                        paddock[pool] += replicas * cores
                placed = e.placements if e.placements is not None else placements(cycle, e)
            admitted = e.admitted
            if e.budget is not None:
                used[e.budget] += admitted * cores
                if admitted > 0:
                    admitted_workloads[e.budget] += 1
            state = e.state
            if admitted > 0:
                state = "Admitted"
            elif state == "Admitted" and w.replicas > 0:
                state = "Queued"
            assert e.reason is not None
            decisions[w.key] = new_decision(
                w.key,
                e.budget,
                admitted,
                admitted * cores,
                (w.replicas if w.replicas > 0 else 0) * (cores if cores > 0 else 0),
                per_pool,
                placed,
                state,
                e.reason,
                e.message,
                positions.get(w.key),
                tuple(e.events) if e.events else (),
                sum(e.unplaced.values()) if e.unplaced else 0,
                e.frozen,
                launching(nodes) if potential else 0,
            )
        return Plan(
            workloads=MappingProxyType(decisions),
            budgets=MappingProxyType(
                self._budget_usage(used, pending_cores, admitted_workloads, pending)
            ),
            pools=MappingProxyType(
                {
                    p: PoolUsage(
                        name=p,
                        nodes=cycle.capacity.node_count[p],
                        schedulable_nodes=cycle.capacity.eligible_count[p],
                        free_cores_after_plan=pools_after[p][0],
                        largest_free_block_after_plan=pools_after[p][1],
                        paddock_cores=paddock[p],
                    )
                    for p in cycle.pools
                }
            ),
            victims=tuple(victims),
        )

    def _budget_usage(
        self,
        used: dict[str, int],
        pending_cores: dict[str, int],
        admitted: dict[str, int],
        pending: dict[str, int],
    ) -> dict[str, BudgetUsage]:
        """Per budget: admitted cores, pending cores, admitted and pending workloads (as
        `_build` counted them), plus borrowed and lent cores."""
        ledger = self._cycle.ledger
        # Lent cores: what the cohort borrows, attributed to lenders in name order.
        borrowed = {b: max(0, used[b] - ledger.nominal[b]) for b in used}
        owed: dict[str, int] = {}
        for b in used:
            owed[ledger.cohort[b]] = owed.get(ledger.cohort[b], 0) + borrowed[b]
        lent: dict[str, int] = {}
        for b in used:
            cohort = ledger.cohort[b]
            guaranteed = ledger.guaranteed[b]
            spare = max(0, ledger.lendable[b] - max(0, used[b] - guaranteed))
            lent[b] = min(spare, owed[cohort])
            owed[cohort] -= lent[b]
        return {
            b: BudgetUsage(
                name=b,
                used_cores=used[b],
                borrowed_cores=borrowed[b],
                lent_cores=lent[b],
                pending_cores=pending_cores[b],
                admitted_workloads=admitted[b],
                pending_workloads=pending[b],
            )
            for b in used
        }

    # -- incremental ---------------------------------------------------------------------

    def add(self, workload: Workload) -> WorkloadDecision | None:
        """Decide one workload created since the snapshot, against what the cycle left.

        It is placed as if it came last in the queue: it only takes cores nobody planned for,
        so nothing already decided changes and the next full cycle agrees (it will hold the
        admission like any other). Returns None, meaning "wait for a full cycle", when a
        shortcut could be wrong: the key was already planned or holds an admission, or it does
        not fit but its budget may preempt for it. Cores that preemptors of this cycle count on
        are held (see `preemption`), so additions cannot take them.
        """
        self._index_queue()
        cycle = self._cycle
        holds = any(r > 0 for _, r in workload.current)
        if holds or workload.key in cycle.entries:
            return None
        e = resolve(workload, cycle)
        if not e.queued:
            cycle.entries[workload.key] = e
            return self._single(e, None)
        budget = e.budget
        assert budget is not None
        cycle.entries[workload.key] = e
        key = e.queue_key(False)
        head = self._heads.get(budget)
        if head is not None and head.queue_key(False) < key:
            e.blocked_by = head
        elif try_admit(cycle, e, False) != FAILED:
            e.events.append(msg.admitted_event(e.admitted, workload.replicas))
            if self._lowest is not None:
                _note_lower(self._lowest, budget, workload.priority)
        else:
            policy = cycle.budgets[budget]
            if self._may_preempt(e):
                del cycle.entries[workload.key]  # a full cycle may preempt for it
                return None
            if policy.queueing == "StrictFIFO":
                self._heads[budget] = e  # no head, or it was behind this one
        e.reason, e.message = describe(cycle, e)
        if e.admitted >= workload.replicas:
            return self._single(e, None)
        queue_key = e.queue_key(e.admitted > 0)
        bisect.insort(self._queued.setdefault(budget, []), (queue_key, e), key=lambda i: i[0])
        return self._single(e, self._enqueue(budget, queue_key))

    def _may_preempt(self, e: Entry) -> bool:
        """Whether a full cycle could find victims for `e`, which does not fit: a necessary
        condition of `preemption`, on what this planner holds now. Within the budget it needs an
        admitted workload of lower priority there; reclaiming needs the budget under its nominal
        and a cohort member borrowing. Without either, a full cycle would only queue it too, so
        `add` queues it at once instead of asking for a full cycle (at thousands of queued
        workloads, a full cycle takes a second; the lowest priority class would ask for one with
        every workload that does not fit)."""
        budget = e.budget
        assert budget is not None
        cycle = self._cycle
        policy = cycle.budgets[budget]
        priority = e.w.priority
        if (
            policy.preempt_within_budget == "LowerPriority"
            and self._lowest_admitted().get(budget, priority) < priority
        ):
            return True
        if policy.cohort is None or policy.reclaim_from_cohort == "Never":
            return False
        ledger = cycle.ledger
        if ledger.nominal[budget] - ledger.used[budget] < e.min * e.cores:
            return False  # reclaiming serves only a preemptor that fits its own nominal
        cohort = ledger.cohort[budget]
        return any(
            ledger.cohort[other] == cohort and other != budget and ledger.is_borrowing(other)
            for other in cycle.budgets
        )

    def _lowest_admitted(self) -> dict[str, int]:
        """Per budget, the lowest priority among its admitted workloads (frozen ones are never
        victims), computed on first use after a release; `add` keeps it current."""
        lowest = self._lowest
        if lowest is None:
            lowest = self._lowest = {}
            for holder in self._cycle.entries.values():
                if holder.budget is not None and holder.admitted > 0 and not holder.frozen:
                    _note_lower(lowest, holder.budget, holder.w.priority)
        return lowest

    def release(self, key: str) -> dict[str, WorkloadDecision] | None:
        """One workload deleted since the snapshot (see `release_many`). Returns the decisions
        that changed, or None, meaning "wait for a full cycle", when a shortcut could be wrong
        (see `_releasable`)."""
        changed, declined = self.release_many((key,))
        return None if declined else changed

    def release_many(self, keys: Iterable[str]) -> tuple[dict[str, WorkloadDecision], list[str]]:
        """Workloads deleted since the snapshot: give their budget cores back, then admit, in
        queue order, the waiting work of each cohort concerned that now fits, once per cohort.
        Returns the decisions that changed (workloads newly admitted or grown) and the keys
        declined: those for which a shortcut could be wrong (see `_releasable`), left held for
        a full cycle to decide.

        All at once, because a step sees deletions in batches (dozens per step at 15,000
        workloads): admitting a cohort's queue costs a walk of that queue, so one walk per
        cohort instead of one per deletion. It is also what a full cycle does, which sees the
        deletions together: a bigger workload higher in the queue gets the cores several
        deletions free together, instead of smaller ones taking each as it comes.

        Free before use: only budget cores are given back. Node cores stay taken, because the
        deleted workloads' pods run until the garbage collector and the kubelet remove them; a
        full cycle counts them free once the pod watch shows them gone. So, like `add`, this
        takes only what a full cycle on the same state would also find free, never more.
        """
        self._index_queue()
        cycle = self._cycle
        declined: list[str] = []
        removed: dict[str, set[str]] = {}
        freed: dict[str, str] = {}  # cohort -> a budget of it that got cores back
        for key in keys:
            e = cycle.entries.get(key)
            if e is None:
                continue  # never planned (or already released): nothing held
            if not self._releasable(e):
                declined.append(key)
                continue
            del cycle.entries[key]
            budget = e.budget
            if budget is None:
                continue
            removed.setdefault(budget, set()).add(key)
            held = e.admitted * e.cores
            if held:
                cycle.ledger.add(budget, -held)
                freed.setdefault(cycle.ledger.cohort[budget], budget)
        for budget, gone in removed.items():
            queue = self._queued.get(budget)
            if queue is not None:
                self._queued[budget] = [(k, q) for k, q in queue if q.w.key not in gone]
            waiting = self._waiting.get(budget)
            if waiting is not None:
                self._waiting[budget] = [k for k in waiting if k[3] not in gone]
        changed: dict[str, WorkloadDecision] = {}
        if removed:
            self._lowest = None  # a holder of the lowest priority may be gone
        for budget in freed.values():
            changed.update(self._admit_cohort(budget))
        return changed, declined

    def _releasable(self, e: Entry) -> bool:
        """Whether releasing this entry alone is exactly what a full cycle would do: it holds
        plain admitted replicas (nothing frozen, unplaced, pinned, released or in preemption),
        and its cohort has no StrictFIFO budget (whose head rules are a full cycle's)."""
        if e.frozen or e.unplaced or e.pinned or e.released or e.w.releasing:
            return False
        if e.w.key in self._victims:
            return False
        if e.budget is None:
            return True
        cohort = self._cycle.ledger.cohort[e.budget]
        return not any(
            b.queueing == "StrictFIFO"
            for name, b in self._cycle.budgets.items()
            if self._cycle.ledger.cohort[name] == cohort
        )

    def _admit_cohort(self, budget: str) -> dict[str, WorkloadDecision]:
        """Admit what now fits of the waiting work of `budget`'s cohort, in queue order, with
        the full cycle's own `admit_queue` (owners before borrowers). Preemptors keep waiting:
        their claim is already held and a full cycle admits them once their victims are gone."""
        cycle = self._cycle
        cohort = cycle.ledger.cohort[budget]
        queue = sorted(
            (
                item
                for name, items in self._queued.items()
                if cycle.ledger.cohort[name] == cohort
                for item in items
                if item[1].admitted < item[1].w.replicas and item[1].reason != Reason.PREEMPTING
            ),
            key=lambda item: item[0],
        )
        before = {id(e): e.admitted for _, e in queue}
        admit_queue(cycle, queue)
        changed: dict[str, WorkloadDecision] = {}
        for _, e in queue:
            if e.admitted == before[id(e)]:
                continue
            e.reason, e.message = describe(cycle, e)
            assert e.budget is not None
            waiting = self._waiting.get(e.budget, [])
            self._waiting[e.budget] = [k for k in waiting if k[3] != e.w.key]
            position = None
            if e.admitted < e.w.replicas:  # elastic, partly admitted: it waits to grow
                growth = e.queue_key(True)
                position = self._enqueue(e.budget, growth)
                items = [i for i in self._queued[e.budget] if i[1] is not e]
                bisect.insort(items, (growth, e), key=lambda i: i[0])
                self._queued[e.budget] = items
            changed[e.w.key] = self._single(e, position)
        return changed

    def _enqueue(self, budget: str, key: QueueKey) -> int:
        waiting = self._waiting.setdefault(budget, [])
        bisect.insort(waiting, key)
        return bisect.bisect_left(waiting, key) + 1

    def _single(self, e: Entry, position: int | None) -> WorkloadDecision:
        w = e.w
        cycle = self._cycle
        assert e.reason is not None
        return WorkloadDecision(
            key=w.key,
            budget=e.budget,
            admitted_replicas=e.admitted,
            admitted_cores=e.admitted * w.cores_per_replica,
            requested_cores=max(0, w.replicas) * max(0, w.cores_per_replica),
            assignments=assignments(cycle, e),
            placements=placements(cycle, e),
            state="Admitted"
            if e.admitted > 0 or e.reason in (Reason.ADMITTED, Reason.SCALED_TO_ZERO)
            else "Queued",
            reason=e.reason,
            message=e.message,
            queue_position=position,
            events=tuple(e.events),
            provisioning_replicas=cycle.capacity.launching(e.nodes),
        )


def _note_lower(lowest: dict[str, int], budget: str, priority: int) -> None:
    """Record an admitted workload's priority in a budget's lowest (see `_lowest_admitted`)."""
    if priority < lowest.get(budget, priority + 1):
        lowest[budget] = priority
