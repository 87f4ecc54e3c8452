"""Preemption: making room for a queued workload by shrinking or evicting others.

Runs after admission, on the state the cycle leaves, for each fresh workload that did not fit
(StrictFIFO heads included, workloads blocked behind them not), in queue order. Running it last
means a plan that preempts nobody is stable: planning its result again finds the same state and
again preempts nobody.

Who may be a victim, per the preemptor's budget policy:
- preemption.withinBudget LowerPriority: admitted workloads of the same budget with lower
  priority.
- preemption.reclaimFromCohort LowerPriority / Any: admitted workloads of other budgets of the
  cohort while those budgets borrow (use more than nominal), of lower / any priority. Reclaiming
  takes back lent cores, so it only serves a preemptor that fits within its own nominal.

How victims are chosen: borrowers before owners, then lowest priority, newest first. First
candidates shrink to minReplicas one by one, and only if that is not enough are they evicted
whole, until the preemptor fits at full size (or, failing that, at the most it can get); then
victims that turn out not to be needed are spared again, and the rest keep as many replicas as
can be spared (the smallest set, greedily). Nobody is preempted unless that really makes the
preemptor fit at least at minReplicas.

The preemptor aims at its full replica count, not just minReplicas: priority is meant to win,
and growth never preempts, so an elastic workload admitted at its floor by preemption would stay
there.

Freed cores are only usable once the victims' pods are gone, so the preemptor is not admitted in
this cycle: it is reported as Preempting, and its claim is simulated so that a second preemptor
cannot count the same cores. Next cycle it comes first (higher priority) and takes the room.
The claim stays on the residual state that `Planner.add` works with, so a workload added between
cycles cannot take the room either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter

from . import messages as msg
from .decisions import Reason, Victim
from .work import Cycle, Entry

UNPLACED = -1
"""Stands for a victim's admitted replicas that have no pod (see `Entry.unplaced`)."""

Targets = dict[Entry, int]
"""Victim -> the replicas it keeps."""

Signature = tuple[int, int, int, int]
"""(priority, cores, memory, minReplicas) of a preemptor, for the hopeless-shape memo."""


def preempt(cycle: Cycle, failed: Sequence[Entry]) -> list[Victim]:
    """Choose victims for the workloads in `failed` (queue order).

    Only the entries' decisions change for good. Capacity and ledger are put back as they were,
    plus the preemptors' claims (see `_Preemption.keep_claims`).
    """
    run = _Preemption(cycle)
    cap_mark = cycle.capacity.mark()
    ledger_mark = cycle.ledger.mark()
    for p in failed:
        run.consider(p)
    cycle.capacity.rollback(cap_mark)
    cycle.ledger.rollback(ledger_mark)
    run.keep_claims()
    return run.victims


class _Preemption:
    """One cycle's preemption decisions, with the bookkeeping they share."""

    def __init__(self, cycle: Cycle) -> None:
        self.cycle = cycle
        self.cap = cycle.capacity
        self.ledger = cycle.ledger
        self.members: dict[str, list[str]] = {}
        for name in sorted(cycle.budgets):
            self.members.setdefault(self.ledger.cohort[name], []).append(name)
        self.holders: dict[str, list[Entry]] | None = None
        # Shapes that could not preempt, per (budget, pools): anything needing as much or more
        # at no higher priority cannot either, until a preemption changes the state.
        self.hopeless: dict[tuple[str, tuple[str, ...]], list[Signature]] = {}
        self.order: dict[Entry, list[int]] = {}
        self.victims: list[Victim] = []
        self.freed: dict[int, list[int]] = {}
        self.claims: list[tuple[Entry, dict[int, int]]] = []

    # -- the decision for one preemptor --------------------------------------------------

    def consider(self, p: Entry) -> None:
        budget_name = p.budget
        assert budget_name is not None
        budget = self.cycle.budgets[budget_name]
        within = budget.preempt_within_budget == "LowerPriority"
        reclaim = budget.reclaim_from_cohort if budget.cohort is not None else "Never"
        if not within and reclaim == "Never":
            return
        w = p.w
        signature = (w.priority, w.cores_per_replica, w.memory_per_replica, p.min)
        known = self.hopeless.setdefault((budget_name, p.pools), [])
        if any(_dominates(f, signature) for f in known):
            return
        if self.holders is None:
            self.holders = _holders(self.cycle)
        cores = w.cores_per_replica
        limit = w.replicas
        candidates: list[Entry] = []
        nominal_room = self.ledger.nominal[budget_name] - self.ledger.used[budget_name]
        if reclaim != "Never" and nominal_room >= p.min * cores:
            # Reclaiming takes back lent cores: only up to the preemptor's own nominal.
            limit = min(limit, nominal_room // cores)
            for other in self.members[self.ledger.cohort[budget_name]]:
                if other != budget_name:
                    held = self.holders.get(other, ())
                    if reclaim == "Any":
                        candidates.extend(v for v in held if v.admitted > 0)
                    else:
                        candidates.extend(_below(held, w.priority))
            candidates.sort(key=attrgetter("rank"), reverse=True)  # victim order
        if within:
            candidates.extend(_below(self.holders.get(budget_name, ()), w.priority))
        chosen = self.choose(p, candidates, limit) if candidates else None
        if chosen is None:
            known.append(signature)
            return
        targets, count = chosen
        self.commit(p, targets, count)
        self.hopeless.clear()

    def choose(
        self, p: Entry, candidates: Sequence[Entry], limit: int
    ) -> tuple[Targets, int] | None:
        """The victims and the replica count the preemptor would get, or None if not worth it."""
        budget = p.budget
        assert budget is not None
        cores = p.cores
        # Cheap bound first: even with every candidate gone, would the budget allow minReplicas?
        freeable = sum(v.admitted * v.cores for v in candidates)
        if self.ledger.headroom(budget) + freeable < p.min * cores:
            return None
        ledger = self.ledger

        def eligible(v: Entry) -> bool:
            assert v.budget is not None
            return v.budget == budget or ledger.is_borrowing(v.budget)

        cap_mark = self.cap.mark()
        ledger_mark = ledger.mark()
        targets: Targets = {}
        reached = False
        for v in candidates:  # shrink toward minReplicas first
            if v.admitted > v.min and eligible(v):
                self.release(v, v.admitted, v.min)
                targets[v] = v.min
                if self.fits(p, limit):
                    reached = True
                    break
        if not reached:
            for v in candidates:  # then evict whole
                keep = targets.get(v, v.admitted)
                if keep > 0 and eligible(v):
                    self.release(v, keep, 0)
                    targets[v] = 0
                    if self.fits(p, limit):
                        reached = True
                        break
        count = limit
        if not reached:
            most = min(limit, ledger.headroom(budget) // cores)
            count = 0
            if most >= p.min:
                count = self.cap.count_fit(p.pools, cores, p.w.memory_per_replica, most)
        if count < p.min:
            self.cap.rollback(cap_mark)
            ledger.rollback(ledger_mark)
            return None
        # Spare whoever is not needed after all, last chosen first, and let the rest keep as
        # many replicas as the preemptor can spare. A fit only gets harder as a victim keeps
        # more, so a binary search finds the most it may keep. Done on the live state: each
        # step moves one victim between two replica counts.
        for v in reversed(list(targets)):
            keep = targets[v]
            self.shift(v, keep, v.admitted)
            if self.fits(p, count):
                del targets[v]
                continue
            low, high = max(keep, v.min), v.admitted - 1
            at = v.admitted
            while low <= high:
                middle = (low + high) // 2
                self.shift(v, at, middle)
                at = middle
                if self.fits(p, count):
                    keep, low = middle, middle + 1
                else:
                    high = middle - 1
            self.shift(v, at, keep)
            targets[v] = keep
        self.cap.rollback(cap_mark)
        ledger.rollback(ledger_mark)
        return targets, count

    def fits(self, p: Entry, count: int) -> bool:
        assert p.budget is not None
        cores = p.cores
        return (
            self.ledger.headroom(p.budget) >= count * cores
            and self.cap.count_fit(p.pools, cores, p.w.memory_per_replica, count) >= count
        )

    # -- releasing a victim's replicas ---------------------------------------------------

    def removal(self, v: Entry, keep_now: int, keep: int) -> list[tuple[int, int]]:
        """(node, replicas) that go when `v`, holding `keep_now` of its admitted replicas after
        earlier releases, keeps `keep`: least preferred pool first, then highest node index."""
        order = self.order.get(v)
        if order is None:
            rank = {p: i for i, p in enumerate(v.pools)}
            pool_of = self.cap.pool
            order = sorted(v.nodes, key=lambda n: (-rank.get(pool_of[n] or "", -1), -n))
            if v.unplaced:
                order.insert(0, UNPLACED)  # replicas without a pod go first: they free no node
            self.order[v] = order
        skip = v.admitted - keep_now
        excess = keep_now - keep
        out: list[tuple[int, int]] = []
        for node in order:
            if excess <= 0:
                break
            replicas = sum(v.unplaced.values()) if node == UNPLACED else v.nodes[node]
            if skip >= replicas:
                skip -= replicas
                continue
            drop = min(replicas - skip, excess)
            skip = 0
            out.append((node, drop))
            excess -= drop
        return out

    def release(self, v: Entry, keep_now: int, keep: int) -> None:
        """Give back the cores of `v` between `keep_now` and `keep` (journaled)."""
        self.shift(v, keep_now, keep)

    def shift(self, v: Entry, keep_now: int, keep: int) -> None:
        """Move `v` from holding `keep_now` replicas to `keep`, either way (journaled)."""
        if keep == keep_now:
            return
        sign = 1 if keep > keep_now else -1
        low, high = min(keep, keep_now), max(keep, keep_now)
        cores = v.w.cores_per_replica
        memory = v.w.memory_per_replica
        take = self.cap.take
        for node, replicas in self.removal(v, high, low):
            if node != UNPLACED:
                take(node, sign * replicas * cores, sign * replicas * memory)
        assert v.budget is not None
        self.ledger.add(v.budget, (keep - keep_now) * cores)

    # -- making it so ----------------------------------------------------------------------

    def commit(self, p: Entry, targets: Targets, count: int) -> None:
        """Make the choice part of the plan and simulate the preemptor's claim on the room."""
        w = p.w
        who = f"{w.key} (priority {w.priority}, budget {p.budget})"
        notes: list[str] = []
        freed = 0
        for v, keep in targets.items():
            before = v.admitted
            removal = self.removal(v, before, keep)
            self.release(v, before, keep)
            for node, replicas in removal:
                if node == UNPLACED:
                    _drop_unplaced(v, replicas)
                    continue
                back = self.freed.setdefault(node, [0, 0])
                back[0] += replicas * v.cores
                back[1] += replicas * v.w.memory_per_replica
                left = v.nodes[node] - replicas
                if left:
                    v.nodes[node] = left
                else:
                    del v.nodes[node]
            self.order.pop(v, None)
            v.per_pool = None
            v.placements = None
            v.admitted = keep
            freed += (before - keep) * v.cores
            self.victims.append(
                Victim(preemptor=w.key, victim=v.w.key, from_replicas=before, to_replicas=keep)
            )
            v.reason = Reason.PREEMPTED
            if keep:
                v.message = f"shrunk from {before} to {keep} replicas to make room for {who}"
                v.events.append(
                    f"shrunk from {before} to {keep} replicas by preemption for {w.key}"
                )
                notes.append(f"{v.w.key} ({before}\u2192{keep} replicas)")
            else:
                v.message = f"evicted to make room for {who}"
                v.events.append(f"evicted by preemption for {w.key}")
                v.state = "Preempted" if v.start > 0 else "Queued"
                notes.append(f"{v.w.key} (evicted)")
        # The claim, so that later preemptors do not count the same cores.
        placed = self.cap.place(p.pools, p.cores, w.memory_per_replica, count, "None", {})
        self.claims.append((p, placed))
        assert p.budget is not None
        self.ledger.add(p.budget, count * p.cores)
        p.reason = Reason.PREEMPTING
        p.message = (
            f"preempting {', '.join(notes)} to free {msg.plural(freed, 'core')} for "
            f"{msg.shape(count, p.cores, w.memory_per_replica)}; "
            "admitted once they have let them go"
        )
        p.events.append(f"preempting {', '.join(notes)}")

    def keep_claims(self) -> None:
        """Leave the preemptors' claims on the residual state, minus what victims will free.

        After the rollback the victims' pods count again (they are still running), so only the
        part of a claim that does not come out of a victim's cores is taken: what is left is
        truly free for `Planner.add`. The preemptors' cores are also counted in their budgets
        (the victims' too: conservative, until the next full cycle).
        """
        wanted: dict[int, list[int]] = {}
        for p, placed in self.claims:
            assert p.budget is not None
            self.ledger.add(p.budget, sum(placed.values()) * p.cores)
            for node, replicas in placed.items():
                need = wanted.setdefault(node, [0, 0])
                need[0] += replicas * p.cores
                need[1] += replicas * p.w.memory_per_replica
        for node, (cores, memory) in wanted.items():
            back = self.freed.get(node, [0, 0])
            self.cap.take(node, max(0, cores - back[0]), max(0, memory - back[1]))


def _drop_unplaced(v: Entry, replicas: int) -> None:
    """Give up `replicas` of the victim's unplaced replicas, least preferred pool first."""
    rank = {p: i for i, p in enumerate(v.pools)}
    for pool in sorted(v.unplaced, key=lambda p: -rank.get(p, len(rank))):
        take = min(replicas, v.unplaced[pool])
        v.unplaced[pool] -= take
        replicas -= take
        if not v.unplaced[pool]:
            del v.unplaced[pool]
        if not replicas:
            break


def _dominates(failed: Signature, wanted: Signature) -> bool:
    """A workload that needs no less than one that could not preempt, with no higher priority
    (so no more candidates), cannot preempt either."""
    return (
        failed[0] >= wanted[0]
        and failed[1] <= wanted[1]
        and failed[2] <= wanted[2]
        and failed[3] <= wanted[3]
    )


def _below(holders: Sequence[Entry], priority: int) -> Iterator[Entry]:
    """The admitted holders with a priority below `priority`. Holders come in victim order,
    lowest priority first, so they are a prefix: the walk stops at the first that is not."""
    for v in holders:
        if v.w.priority >= priority:
            return
        if v.admitted > 0:
            yield v


def _holders(cycle: Cycle) -> dict[str, list[Entry]]:
    """Admitted workloads per budget, in victim order: lowest priority, then newest, then key
    descending. That is exactly the queue order reversed, and a total order, so choices never
    depend on input order."""
    # A frozen workload is never a victim: its Deployments are left as they are (rule 9).
    ranked = cycle.ranked
    if ranked is None or len(ranked) != len(cycle.entries):  # not the cycle's own entries
        ranked = sorted(cycle.entries.values(), key=attrgetter("rank"))
    # Ranks are unique (the key is in them): reversed priority order is the descending sort.
    holders: dict[str, list[Entry]] = {}
    for e in reversed(ranked):
        if e.admitted > 0 and e.budget is not None and not e.frozen:
            holders.setdefault(e.budget, []).append(e)
    return holders
