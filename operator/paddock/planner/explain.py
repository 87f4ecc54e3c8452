"""The planner's arithmetic for tools that explain a plan (the kubectl plugin's `explain`).

A public face over the planner's internals (`Ledger`, `Capacity`, pool order), so a tool that
shows "budget team-a has 12 of 48 free" or "pool graviton4 has room for 3" computes it exactly
as the planner does, without reaching into its modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .budgets import Ledger
from .capacity import Capacity
from .snapshot import Budget, Node, Pool, Workload
from .work import budget_pool_order


@dataclass(frozen=True, slots=True)
class Headroom:
    """A budget after some cores are used: `own_free` unused nominal, `available` what it may
    still admit (its own and what the cohort may lend), as a queued workload is measured."""

    own_free: int
    available: int


def headrooms(budgets: Iterable[Budget], used: Mapping[str, int]) -> dict[str, Headroom]:
    """Every budget's headroom with `used` cores admitted (cohort lending counted)."""
    listed = sorted(budgets, key=lambda b: b.name)
    ledger = Ledger(listed)
    for name, cores in used.items():
        if cores and name in ledger.nominal:
            ledger.add(name, cores)
    return {b.name: Headroom(ledger.own_free(b.name), ledger.headroom(b.name)) for b in listed}


def pool_order(
    budget: Budget, pools: Iterable[Pool], workload: Workload | None = None
) -> tuple[str, ...]:
    """The pools the planner tries for a workload of `budget`, in its order (existing pools the
    budget allows, narrowed and reordered by the workload's placement.pools)."""
    by_name = {p.name: p for p in pools}
    allowed = budget_pool_order(budget, by_name)
    if workload is None or not workload.pools:
        return allowed
    allowed_set = set(allowed)
    return tuple(dict.fromkeys(p for p in workload.pools if p in allowed_set))


class Room:
    """Free whole cores per node, with the planner's fit arithmetic (best fit, whole cores)."""

    def __init__(self, nodes: Sequence[Node], pools: Sequence[str]) -> None:
        self._cap = Capacity(nodes, pools)

    def nodes(self, pool: str) -> int:
        return self._cap.node_count.get(pool, 0)

    def schedulable_nodes(self, pool: str) -> int:
        return self._cap.eligible_count.get(pool, 0)

    def free_cores(self, pool: str) -> int:
        cap = self._cap
        return sum(
            cap.cores[i]
            for i in range(len(cap.cores))
            if cap.eligible[i] and cap.pool[i] == pool and cap.cores[i] > 0
        )

    def largest_block(self, pools: Sequence[str]) -> int:
        return self._cap.largest_block(tuple(pools))

    def fits(self, pools: Sequence[str], cores: int, memory: int, limit: int) -> int:
        """How many replicas of this shape fit now, counting up to `limit`."""
        if cores < 1 or limit < 1:
            return 0
        return self._cap.count_fit(tuple(pools), cores, memory, limit)
