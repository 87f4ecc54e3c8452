"""Holding what is admitted, admitting what is queued, and saying why the rest waits.

Three steps, in this order, each for a reason:

1. `hold_committed`: admissions are commitments. In priority order, each admitted workload keeps
   its replicas; those already placed on usable nodes cost nothing (their cores are already
   subtracted), the rest (pods not bound yet, or bound to a node that vanished, is cordoned or
   left the pool) are fitted again: first into the pools the workload uses, then into its other
   allowed pools ("moved"). What cannot be fitted shrinks the workload, never below
   minReplicas; below that it loses its admission. Going in priority order means that after a
   node loss the lowest priority shrinks first. Committed work goes before any queued work, so
   a workload admitted last cycle whose pods are not bound yet cannot lose its room.
2. `admit_queue`: queued work in queue order (priority desc, growth after fresh work of the
   same priority, creation, key), work within its own budget's nominal before work that must
   borrow. Each gets the largest replica count in [minReplicas, replicas] (for growth: whatever
   more fits) that both its budget and a node-level placement allow, so a cycle admits
   everything that fits. StrictFIFO budgets stop at the first fresh workload that does not fit;
   BestEffortFIFO budgets skip it.
3. `explain`: reasons and messages are computed once all admissions are made, against the state
   the plan leaves. That makes them true when the user reads them, and identical when the same
   state is planned again.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import messages as msg
from .decisions import Reason
from .snapshot import NodeReplicas, Workload
from .work import Cycle, Entry, QueueKey


def hold_committed(cycle: Cycle, committed: Sequence[Entry]) -> None:
    """Step 1: keep, re-place, move, shrink or drop current admissions (in priority order).

    Running pods keep their place (rule 8 of the design): a pod bound to a node that still
    exists keeps its replica whatever the node's state (cordoned, NotReady, tainted, no longer
    in the pool). Only replicas without a pod are fitted again. Those that cannot be fitted stay
    admitted, `unplaced` (the workload is Degraded and its Deployments keep their replicas, so
    the pods start once cores free up); an elastic workload gives them up, down to minReplicas,
    once they have been unplaced for `Cycle.shrink_grace`. The admission is withdrawn only when
    the spec asks for it (replicas 0, minReplicas raised) or nothing of it runs any more.
    """
    for e in committed:
        _hold(cycle, e)
        _keep_releasing(cycle, e)
    for e in cycle.entries.values():
        if e.start == 0 and e.w.releasing > 0:
            _keep_releasing(cycle, e)  # withdrawn earlier, its pods still going


def _keep_releasing(cycle: Cycle, e: Entry) -> None:
    """Free before use: replicas given up (now, or earlier but still running) keep their cores
    counted in the budget until the watch shows them gone, so no other workload is admitted
    against them meanwhile (a crash between the two writes would over-commit the budget)."""
    if e.budget is None:
        return
    given_up = e.start - e.admitted
    if given_up > e.running:
        given_up = e.running  # only running pods hold cores
    e.released = (given_up if given_up > 0 else 0) * e.w.cores_per_replica
    releasing = e.released
    if e.w.releasing > 0:
        releasing += e.w.releasing * e.w.cores_per_replica
    if releasing:
        cycle.ledger.add(e.budget, releasing)


def _hold(cycle: Cycle, e: Entry) -> None:
    """Step 1 for one committed workload (see `hold_committed`)."""
    cap = cycle.capacity
    ledger = cycle.ledger
    w = e.w
    if not e.queued:
        if w.replicas == 0:
            e.running = sum(_keep_pods(cycle, e, _current(w))[0].values())
            e.pinned.clear()
            e.events.append(f"scaled down from {e.start} to 0 replicas")
        elif not _freeze(cycle, e):
            e.events.append(f"admission withdrawn: {e.message}")
        return
    current = _current(w)
    allowed = e.pools  # a handful of pools: a tuple is as quick to search as a set
    known = cycle.pools
    # Pools of the admission the workload may still use, or that no longer exist (their
    # pods keep running; nothing new goes there). A pool dropped from the spec is a move.
    room = {p: r for p, r in current.items() if p in allowed or p not in known}
    kept, as_listed = _keep_pods(cycle, e, room)
    e.running = sum(kept.values())
    target = min(e.start, w.replicas)
    policy = cycle.budgets.get(e.budget or "")
    if (
        policy is not None
        and policy.scale_to_min
        and policy.core_hours_exhausted
        and target > e.min
    ):
        e.events.append(
            f"shrunk from {target} to {e.min} replicas: {policy.core_hours_exhausted} "
            "(onExhausted ScaleToMin)"
        )
        target = e.min
    if target < e.min:
        e.events.append(
            f"admission withdrawn: {e.start} admitted replicas are below minReplicas "
            f"{w.min_replicas}; queued again"
        )
        e.pinned.clear()
        return
    held = e.running  # sum(kept.values()), unchanged since
    if held > target:
        _trim(cycle, e, kept, held - target)
        held = target
        as_listed = None
    missing = target - held
    got = 0
    mark = len(cap.journal)  # cap.mark()
    if w.provisioning_since is None and w.provisioning_timed_out is None and not e.timed_out:
        expired = False  # never waited for a launch: no_launch stays as it is, as below
    else:
        expired = _launch_expired(cycle, e)
        e.no_launch = expired or not launch_allowed(cycle, e)
    if missing:
        order = [p for p in e.pools if p in current] + [p for p in e.pools if p not in current]
        fitted = cap.place(
            order,
            w.cores_per_replica,
            w.memory_per_replica,
            missing,
            w.spread,
            kept,
            launch=not e.no_launch,
        )
        got = sum(fitted.values())
        for node, replicas in fitted.items():
            kept[node] = kept.get(node, 0) + replicas
        if got:
            as_listed = None
    if expired and held + got < target:
        # Waited for a launch past the deadline: give up the replicas still waiting (keep
        # those that run or fit existing nodes now), and ask for no launch for a while.
        e.timed_out = target - held - got
        e.events.append(f"provisioning timed out: {_timeout_words(cycle, e, e.timed_out)}")
        if held + got < e.min:
            cap.rollback(mark)
            e.pinned.clear()
            e.events[-1] += "; admission withdrawn, queued again"
            return
        target = held + got
    if held == 0 and got < e.min:
        # Nothing of it runs: queue it again rather than hold cores for pods that do not exist.
        # Its Deployments still ask for them (pods may be Pending, about to bind) until the
        # delete lands, so its budget keeps them this cycle (free before use).
        cap.rollback(mark)
        e.pinned.clear()
        e.running = e.start
        e.events.append(
            f"admission lost: only {got} of minReplicas {e.min} replicas can be placed "
            "(nodes gone, unschedulable or full) and none is running; queued again"
        )
        return
    e.nodes = kept
    e.per_pool = None
    e.placements = as_listed
    unplaced = target - held - got
    if unplaced and w.min_replicas < w.replicas and _grace_over(cycle, w):
        keep = max(e.min, held + got)
        e.events.append(
            f"shrunk from {target} to {keep} replicas: {target - keep} lost replicas found "
            f"no room for {msg.plural(int(cycle.shrink_grace), 'second')}"
        )
        target, unplaced = keep, keep - held - got
    if unplaced > 0:  # else it stays the entry's own empty dict
        e.unplaced = _unplaced_pools(cycle, e, current, unplaced)
    if as_listed is not None and not e.unplaced and e.running == sum(room.values()):
        e.per_pool = _room_assignments(e, room)
    e.admitted = target
    e.state = "Admitted"
    assert e.budget is not None  # queued entries have one
    ledger.add(e.budget, e.admitted * w.cores_per_replica)
    if got or target < e.start:
        _note_changes(cycle, e, current, min(e.start, w.replicas))


def _room_assignments(e: Entry, room: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """What `assignments` gives when every listed pod is kept where it is and they fill each
    pool's room exactly (nothing pinned, moved or unplaced): the room, in preference order.
    Most held admissions are this, and it spares counting their pods per pool again."""
    pools = e.pools
    out = [(p, room[p]) for p in pools if p in room]
    if len(out) != len(room):
        out += [(p, room[p]) for p in sorted(room) if p not in pools]
    return tuple(out)


def _timeout(cycle: Cycle, e: Entry) -> float:
    """The provisioning timeout of the workload's autoscaled pools (the shortest)."""
    pools = cycle.pools
    found = [pools[p].provisioning_timeout for p in e.pools if p in pools and pools[p].node_pool]
    return min(found, default=300.0)


def _launch_expired(cycle: Cycle, e: Entry) -> bool:
    since = e.w.provisioning_since
    return since is not None and cycle.now - since >= _timeout(cycle, e)


def launch_allowed(cycle: Cycle, e: Entry) -> bool:
    """False for one provisioning timeout after the workload's last launch timed out."""
    if e.no_launch or e.timed_out:
        return False
    last = e.w.provisioning_timed_out
    return last is None or cycle.now - last >= _timeout(cycle, e)


def _node_pools(cycle: Cycle, pools: Sequence[str]) -> list[str]:
    """What the autoscaled pools among these say about their NodePools' limits."""
    known = cycle.pools
    return [known[p].headroom for p in pools if p in known and known[p].headroom]


def _timeout_words(cycle: Cycle, e: Entry, replicas: int) -> str:
    waited = cycle.now - (e.w.provisioning_since or cycle.now)
    where = "; ".join(_node_pools(cycle, e.pools)) or "the autoscaler"
    return (
        f"{msg.plural(replicas, 'replica')} ({replicas * e.cores} cores) waited "
        f"{msg.plural(int(waited), 'second')} for a node launch, more than the "
        f"provisioningTimeout of {msg.plural(int(_timeout(cycle, e)), 'second')} ({where})"
    )


def _current(w: Workload) -> dict[str, int]:
    current: dict[str, int] = {}
    for pool, replicas in w.current:
        if replicas > 0:
            current[pool] = current.get(pool, 0) + replicas
    return current


def _keep_pods(
    cycle: Cycle, e: Entry, room: dict[str, int]
) -> tuple[dict[int, int], NodeReplicas | None]:
    """node -> replicas whose pods exist and keep their place, at most `room` per pool.

    A pod counts in its node's pool first; pods on nodes outside the pools of `room` (the node
    left the pool, or the pool was deleted) fill what those pools have left, and are `pinned`.
    Second: when every listed pod is kept as listed (each node once), the same (node name,
    replicas) pairs sorted by name, which is what `placements` would build from the result.
    """
    cap = cycle.capacity
    index = cap.index
    pool_of = cap.pool
    # Pods are taken in node name order. The operator lists them so, each node once: walk
    # them as listed, and sort (and walk again) only when a name is out of order.
    placed = e.w.placed
    listed: Sequence[tuple[str, int]] = placed
    while True:
        left = dict(room)
        kept: dict[int, int] = {}
        strays: list[tuple[int, int]] = []
        as_listed = True
        previous = None
        for node_name, replicas in listed:
            again = False
            if previous is not None and node_name <= previous:
                if listed is placed:
                    break  # not in order: sort them
                again = node_name == previous  # listed twice (sorted: adjacent)
                as_listed = False
            previous = node_name
            node = index.get(node_name)
            if node is None or replicas <= 0:
                as_listed = False
                continue  # the node is gone, and its pods with it
            pool = pool_of[node]
            room_left = left.get(pool, 0) if pool is not None else 0
            take = replicas if replicas < room_left else room_left
            if take:
                left[pool] = room_left - take  # type: ignore[index]
                kept[node] = kept.get(node, 0) + take if again else take
            if replicas > take:
                strays.append((node, replicas - take))
        else:
            break
        listed = sorted(placed)
    if not strays:
        if not as_listed:
            return kept, None
        return kept, placed if listed is placed else tuple(listed)
    for node, replicas in strays:
        for pool in sorted(left, key=lambda p: (p in cycle.pools, p)):
            take = min(replicas, left[pool])
            if take <= 0:
                continue
            left[pool] -= take
            replicas -= take
            kept[node] = kept.get(node, 0) + take
            if cap.pool[node] != pool:
                e.pinned[node] = pool
            if not replicas:
                break
    return kept, None


def _grace_over(cycle: Cycle, w: Workload) -> bool:
    since = w.unplaced_since
    return since is not None and cycle.now - since >= cycle.shrink_grace


def _unplaced_pools(cycle: Cycle, e: Entry, current: dict[str, int], count: int) -> dict[str, int]:
    """Which pools' Deployments the unplaced replicas stay in: where the admission is short."""
    if count <= 0:
        return {}
    have = dict(_pool_counts(cycle, e))
    out: dict[str, int] = {}
    order = [p for p in e.pools if p in current] + [p for p in current if p not in e.pools]
    for pool in order:
        short = current[pool] - have.get(pool, 0)
        take = min(max(0, short), count)
        if take:
            out[pool] = take
            count -= take
    if count and order:
        out[order[0]] = out.get(order[0], 0) + count
    elif count and e.pools:
        out[e.pools[0]] = count
    return out


def _freeze(cycle: Cycle, e: Entry) -> bool:
    """Keep what a workload that cannot be planned holds, if any of its pods runs: its
    Deployments stay as they are. False (nothing kept) when none of its pods exists.

    Its running pods stay, count on their nodes (they always do) and in its budget when it has
    one, until the spec is fixed, the budget restored, or the workload deleted.
    """
    current = _current(e.w)
    kept, as_listed = _keep_pods(cycle, e, current)
    e.running = sum(kept.values())
    if not kept:
        e.pinned.clear()
        return False
    e.frozen = True
    e.nodes = kept
    e.placements = as_listed
    e.per_pool = tuple(current.items())
    e.admitted = e.start
    e.state = "Admitted"
    where = f"counted in budget {e.budget}" if e.budget else "counted in no budget"
    e.message += (
        f"; its {msg.plural(e.start, 'admitted replica')} keep running ({where}) and are "
        "left as they are until this is fixed or the workload is deleted"
    )
    if e.budget is not None:
        cycle.ledger.add(e.budget, e.admitted * e.w.cores_per_replica)
    return True


def _trim(cycle: Cycle, e: Entry, kept: dict[int, int], excess: int) -> None:
    """Drop replicas from the least preferred pools first (the spec asked for fewer)."""
    rank = {p: i for i, p in enumerate(e.pools)}
    pool_of = cycle.capacity.pool
    for node in sorted(kept, key=lambda n: (-rank.get(e.pinned.get(n) or pool_of[n] or "", 0), -n)):
        if excess <= 0:
            break
        drop = min(kept[node], excess)
        kept[node] -= drop
        excess -= drop
        if not kept[node]:
            del kept[node]


def _note_changes(cycle: Cycle, e: Entry, current: dict[str, int], asked: int) -> None:
    if asked < e.start:
        e.events.append(f"scaled down from {e.start} to {asked} replicas")
    now = assignments(cycle, e)
    new = dict(now)
    gained = [p for p, r in now if r > current.get(p, 0)]
    moved = sum(r - current.get(p, 0) for p, r in now if r > current.get(p, 0))
    if moved:
        lost = [p for p in sorted(current) if new.get(p, 0) < current[p]]
        e.events.append(
            f"moved {msg.plural(moved, 'replica')} from {msg.pool_list(lost)} to "
            f"{msg.pool_list(gained)}: their pods are gone and their pools are full or no "
            "longer allowed"
        )


def assignments(cycle: Cycle, e: Entry) -> tuple[tuple[str, int], ...]:
    """Replicas per pool (placed and unplaced), in the workload's pool preference order; pools
    it may no longer use but still has replicas in come last."""
    if e.per_pool is not None:
        return e.per_pool
    per_pool = _pool_counts(cycle, e)
    for pool, replicas in e.unplaced.items():
        per_pool[pool] = per_pool.get(pool, 0) + replicas
    pools = e.pools
    out = [(p, per_pool[p]) for p in pools if per_pool.get(p)]
    if len(out) != len(per_pool):  # pools it may no longer use (or empty counts)
        out += [(p, per_pool[p]) for p in sorted(per_pool) if p not in pools and per_pool[p]]
    e.per_pool = tuple(out)
    return e.per_pool


def placements(cycle: Cycle, e: Entry) -> NodeReplicas:
    """(node name, replicas) for every node with replicas, sorted by node name (node indexes
    follow name order). Built once per change of `e.nodes`; an admission held as its pods are
    listed reuses the snapshot's own pairs."""
    if e.placements is None:
        names = cycle.capacity.names
        nodes = e.nodes
        e.placements = tuple([(names[n], nodes[n]) for n in sorted(nodes)])
    return e.placements


def _pool_counts(cycle: Cycle, e: Entry) -> dict[str, int]:
    """Placed replicas per pool (a pinned node counts in the pool its pods belong to)."""
    per_pool: dict[str, int] = {}
    pool_of = cycle.capacity.pool
    pinned = e.pinned
    for node, replicas in e.nodes.items():
        pool = (pinned.get(node) if pinned else None) or pool_of[node]
        if pool is not None:
            per_pool[pool] = per_pool.get(pool, 0) + replicas
    return per_pool


ADMITTED, FAILED, DEFERRED = "admitted", "failed", "deferred"


def admit_queue(cycle: Cycle, queue: Sequence[tuple[QueueKey, Entry]]) -> None:
    """Step 2: admit queued work in queue order, owners before borrowers.

    Two passes. In the first, work is admitted only within its budget's own nominal cores; a
    budget whose next workload would have to borrow pauses there, so its own order is never
    inverted. The second pass resumes the paused budgets, borrowing allowed. That is Kueue's
    "fit without borrowing first": a budget gets its own cores back before anyone borrows them,
    so a borrower never takes, in queue order, what an owner would reclaim the next moment
    (which would make the two take turns forever).
    """
    budgets = cycle.budgets
    held = [e.admitted for _, e in queue]  # before this pass, in queue order
    paused: set[str] = set()
    blocked: dict[str, Entry] = {}
    later: list[tuple[QueueKey, Entry, int]] = []
    for (key, e), before in zip(queue, held, strict=True):
        budget = e.budget
        assert budget is not None
        if budget in paused:
            later.append((key, e, before))
            continue
        head = blocked.get(budget)
        if head is not None:
            e.blocked_by = head
            continue
        outcome = try_admit(cycle, e, key[1] == 1, True)
        if outcome == DEFERRED:
            paused.add(budget)
            later.append((key, e, before))
        elif outcome == FAILED and key[1] == 0 and budgets[budget].queueing == "StrictFIFO":
            blocked[budget] = e
    # Only growth asks (rarely): found on first use. Admissions in between change nothing,
    # since _may_be_reclaimed skips reclaimers admitted by then.
    reclaimers: dict[str, list[Entry]] | None = None
    for key, e, before in later:
        budget = e.budget
        assert budget is not None
        head = blocked.get(budget)
        if head is not None:
            e.blocked_by = head
            continue
        growth = key[1] == 1 or e.admitted > before
        # Growth never borrows what a waiting cohort member may reclaim: it would be preempted
        # in the same cycle, and grow back the next, while the reclaimer starves.
        own_only = False
        if growth:
            if reclaimers is None:
                reclaimers = _waiting_reclaimers(cycle, queue)
            own_only = _may_be_reclaimed(cycle, e, reclaimers)
        outcome = try_admit(cycle, e, growth, own_only)
        if outcome == FAILED and not growth and budgets[budget].queueing == "StrictFIFO":
            blocked[budget] = e
    for (_, e), before in zip(queue, held, strict=True):
        if e.admitted > before:
            if before:
                e.events.append(f"grew from {before} to {e.admitted} replicas")
            else:
                e.events.append(msg.admitted_event(e.admitted, e.w.replicas))


def _waiting_reclaimers(
    cycle: Cycle, queue: Sequence[tuple[QueueKey, Entry]]
) -> dict[str, list[Entry]]:
    """Per cohort, fresh work not admitted yet whose budget may reclaim lent cores."""
    out: dict[str, list[Entry]] = {}
    for key, e in queue:
        budget = e.budget
        assert budget is not None
        policy = cycle.budgets[budget]
        if (
            key[1] == 0
            and e.admitted == 0
            and policy.cohort
            and policy.reclaim_from_cohort != "Never"
        ):
            out.setdefault(policy.cohort, []).append(e)
    return out


def _may_be_reclaimed(cycle: Cycle, e: Entry, reclaimers: dict[str, list[Entry]]) -> bool:
    budget = e.budget
    assert budget is not None
    cohort = cycle.budgets[budget].cohort
    for r in reclaimers.get(cohort or "", ()):
        if r.budget == budget or r.admitted:
            continue
        policy = cycle.budgets[r.budget or ""].reclaim_from_cohort
        if policy == "Any" or r.w.priority > e.w.priority:
            return True
    return False


def try_admit(cycle: Cycle, e: Entry, growth: bool, own_only: bool = False) -> str:
    """Admit as many replicas as budget and nodes allow (at least minReplicas, or 1 to grow).

    With `own_only`, only the budget's unused nominal counts; DEFERRED means "would need to
    borrow" (nothing admitted) or "admitted what the nominal allows, wants to borrow more".
    """
    w = e.w
    budget = e.budget
    assert budget is not None
    ledger = cycle.ledger
    cores = w.cores_per_replica
    least = 1 if growth else e.min
    if cycle.budgets[budget].core_hours_exhausted:
        e.failed = Reason.CORE_HOURS_EXHAUSTED
        return FAILED
    if e.released:  # a workload re-admitted at once reuses the cores it gave up
        ledger.add(budget, -e.released)
        outcome = _try_admit(cycle, e, growth, own_only, least)
        e.released = max(0, e.released - e.admitted * cores)
        ledger.add(budget, e.released)
        return outcome
    return _try_admit(cycle, e, growth, own_only, least)


def _try_admit(cycle: Cycle, e: Entry, growth: bool, own_only: bool, least: int) -> str:
    w = e.w
    budget = e.budget
    assert budget is not None
    ledger = cycle.ledger
    cores = w.cores_per_replica
    count = w.replicas - e.admitted
    allowed = ledger.headroom(budget) // cores
    if allowed < count:
        count = allowed
    defer = False
    if own_only:
        own = ledger.own_free(budget) // cores
        if own < count:
            count, defer = own, True
    if count < least:
        if defer:
            return DEFERRED
        e.failed = Reason.BUDGET_EXHAUSTED
        return FAILED
    cap = cycle.capacity
    launch = launch_allowed(cycle, e)
    # No largest-block check first: place() finds nothing at once when no node has room (the
    # pools' masks are empty above the shape), and most tries succeed.
    mark = cap.mark()
    placed = cap.place(
        e.pools, cores, w.memory_per_replica, count, w.spread, e.nodes, launch=launch
    )
    got = sum(placed.values())
    if got < least:
        cap.rollback(mark)
        e.failed = Reason.NO_CAPACITY
        return FAILED
    if e.nodes:
        for node, replicas in placed.items():
            e.nodes[node] = e.nodes.get(node, 0) + replicas
    else:
        e.nodes = placed  # a fresh dict from place(), in the same order
    e.per_pool = None
    e.placements = None
    e.admitted += got
    e.state = "Admitted"
    e.failed = None
    ledger.add(budget, got * cores)
    # Capacity-limited (got < count): borrowing more budget would not help.
    return DEFERRED if defer and got == count else ADMITTED


def explain(cycle: Cycle, entries: Sequence[Entry]) -> None:
    """Step 3: reason and message for every queued workload, against the final state."""
    for e in entries:
        if e.queued:
            e.reason, e.message = describe(cycle, e)


def describe(cycle: Cycle, e: Entry) -> tuple[Reason, str]:
    """Reason and message for a queued workload, as things stand now."""
    if e.unplaced:
        return Reason.REPLICAS_UNPLACED, _unplaced(cycle, e)
    cap = cycle.capacity
    launching = cap.launching(e.nodes) if cap.any_potential else 0
    if launching and e.admitted > 0:
        return Reason.PROVISIONING, _provisioning(cycle, e, launching)
    if e.admitted == 0 and (e.timed_out or not launch_allowed(cycle, e)):
        return Reason.PROVISIONING_TIMEOUT, _timed_out(cycle, e)
    w = e.w
    if e.admitted >= w.replicas:
        per_pool = e.per_pool if e.per_pool is not None else assignments(cycle, e)
        return Reason.ADMITTED, msg.admitted(
            w.replicas, w.cores_per_replica, w.memory_per_replica, per_pool
        )
    if e.admitted > 0:
        return Reason.PARTIALLY_ADMITTED, _partial(cycle, e)
    if e.blocked_by is not None:
        return Reason.BLOCKED_BY_QUEUE_HEAD, (
            f"budget {e.budget} is StrictFIFO: waiting behind {e.blocked_by.w.key}, "
            "which does not fit yet"
        )
    return _why_waiting(cycle, e)


def _budget_room(cycle: Cycle, budget: str) -> str:
    ledger = cycle.ledger
    return msg.budget_room(
        budget,
        ledger.nominal[budget],
        ledger.own_free(budget),
        ledger.headroom(budget),
        ledger.cohort_name[budget],
    )


def _provisioning(cycle: Cycle, e: Entry, launching: int) -> str:
    w = e.w
    limits = "; ".join(_node_pools(cycle, e.pools)) or "the pool's autoscaler"
    return (
        f"admitted {msg.shape(e.admitted, e.cores, w.memory_per_replica)} "
        f"(of {w.replicas}) in "
        f"{msg.placements(assignments(cycle, e))}; {launching} of them "
        f"({launching * e.cores} cores) wait for a node launch, Pending by design, at most "
        f"{msg.plural(int(_timeout(cycle, e)), 'second')}: {limits}"
    )


def _timed_out(cycle: Cycle, e: Entry) -> str:
    if e.timed_out:
        head = _timeout_words(cycle, e, e.timed_out)
    else:
        head = (
            "its last wait for a node launch passed the provisioningTimeout of "
            f"{msg.plural(int(_timeout(cycle, e)), 'second')}"
        )
    retry = msg.plural(int(_timeout(cycle, e)), "second")
    w = e.w
    return (
        f"{head}; queued again for {msg.shape(e.min, e.cores, w.memory_per_replica)} on "
        f"existing nodes; a new launch is asked for {retry} after the timeout"
    )


def _capacity_room(cycle: Cycle, e: Entry, count: int) -> str:
    cap = cycle.capacity
    largest = cap.largest_block(e.pools)
    pools = msg.pool_list(e.pools)
    if largest < e.cores:
        text = f"largest free block in pools {pools} is {msg.plural(largest, 'core')}"
        limits = _node_pools(cycle, e.pools)
        if limits:
            text += ", launchable nodes included: " + "; ".join(limits)
        return text
    fit = cap.count_fit(e.pools, e.cores, e.w.memory_per_replica, count)
    text = f"pools {pools} have room for {fit} (largest free block {msg.plural(largest, 'core')}"
    if e.w.memory_per_replica:
        text += "; memory counts too"
    text += ")"
    limits = _node_pools(cycle, e.pools)
    if limits:
        text += " counting nodes their NodePools can still launch: " + "; ".join(limits)
    return text


def _why_waiting(cycle: Cycle, e: Entry) -> tuple[Reason, str]:
    w = e.w
    budget = e.budget
    assert budget is not None
    elastic = e.min < w.replicas
    exhausted = cycle.budgets[budget].core_hours_exhausted
    if exhausted:
        needs = msg.needs(e.min, e.cores, elastic)
        return Reason.CORE_HOURS_EXHAUSTED, f"{needs}, but {exhausted}"
    if cycle.ledger.headroom(budget) < e.min * e.cores:
        needs = msg.needs(e.min, e.cores, elastic)
        return Reason.BUDGET_EXHAUSTED, f"{needs}, {_budget_room(cycle, budget)}"
    fit = cycle.capacity.count_fit(e.pools, e.cores, w.memory_per_replica, e.min)
    at_least = "at least " if elastic else ""
    needs = f"needs {at_least}{msg.shape(e.min, e.cores, w.memory_per_replica)}"
    if fit < e.min:
        return Reason.NO_CAPACITY, f"{needs}; {_capacity_room(cycle, e, e.min)}"
    # It fits now but did not at its turn: cores were taken or held by work ahead of it.
    reason = e.failed or Reason.NO_CAPACITY
    return reason, f"{needs}; cores it could use went to work ahead of it this cycle"


def _unplaced(cycle: Cycle, e: Entry) -> str:
    w = e.w
    count = sum(e.unplaced.values())
    text = (
        f"{count} of {e.admitted} admitted replicas lost their pods (node gone, drained or "
        f"evicted) and wait for room: {_capacity_room(cycle, e, count)}; the running replicas "
        "keep their place"
    )
    if w.min_replicas < w.replicas and e.admitted > e.min:
        text += (
            f"; unless room frees up, the workload shrinks toward minReplicas {e.min} "
            f"{msg.plural(int(cycle.shrink_grace), 'second')} after they were lost"
        )
    return text


def _partial(cycle: Cycle, e: Entry) -> str:
    w = e.w
    budget = e.budget
    assert budget is not None
    text = (
        f"admitted {e.admitted} of {w.replicas} replicas "
        f"({e.admitted * e.cores} of {w.replicas * e.cores} cores) in "
        f"{msg.placements(assignments(cycle, e))}; "
    )
    # Budget and capacity first: they hold whatever the queue order, so planning the same state
    # again (where this growth may sit behind a StrictFIFO head) says the same thing.
    exhausted = cycle.budgets[budget].core_hours_exhausted
    if exhausted:
        return text + f"more wait for core-hours: {exhausted}"
    if cycle.ledger.headroom(budget) < e.cores:
        return text + f"more wait for budget: {_budget_room(cycle, budget)}"
    if cycle.capacity.count_fit(e.pools, e.cores, w.memory_per_replica, 1) < 1:
        return text + f"more wait for capacity: {_capacity_room(cycle, e, 1)}"
    if e.blocked_by is not None:
        return text + f"more wait behind {e.blocked_by.w.key} (budget {budget} is StrictFIFO)"
    return text + "more wait for cores taken by work ahead of it this cycle"
