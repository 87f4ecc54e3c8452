"""Budget and cohort accounting: how many more cores a budget may admit right now.

The model is Kueue's, in whole cores. A budget with nominal N and lending limit L keeps
G = N - min(L, N) cores for itself alone; the other min(L, N) go into its cohort's shared pool.
Each budget may use its own G plus whatever is left of the shared pool, up to N + borrowing
limit. So for a budget using U cores:

    shared_free = sum(lendable of members) - sum(max(0, U_m - G_m) over members)
    headroom    = min(max(0, G - U) + shared_free,  N + borrowing_limit - U)

A budget without a cohort is a cohort of one, where this reduces to N - U. Usage is admitted
cores, whether or not the pods are placed yet.

Every change is journaled so preemption what-ifs can be undone exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from .snapshot import Budget


class Ledger:
    """Mutable per-cycle core usage of every budget and cohort."""

    def __init__(self, budgets: Iterable[Budget]) -> None:
        self.nominal: dict[str, int] = {}
        self.ceiling: dict[str, int | None] = {}
        self.guaranteed: dict[str, int] = {}
        self.lendable: dict[str, int] = {}
        self.cohort: dict[str, str] = {}
        self.cohort_name: dict[str, str | None] = {}
        self.used: dict[str, int] = {}
        self.shared: dict[str, int] = {}
        self.consumed: dict[str, int] = {}
        self.journal: list[tuple[str, int]] = []
        for budget in budgets:
            name = budget.name
            nominal = max(0, budget.cores)
            if budget.cohort is None:
                # A cohort of one: private key, nothing to lend, nothing to borrow.
                cohort = "\0" + name
                ceiling: int | None = nominal
                lendable = nominal
            else:
                cohort = "cohort:" + budget.cohort
                ceiling = None
                if budget.borrowing_limit is not None:
                    ceiling = nominal + max(0, budget.borrowing_limit)
                lendable = nominal
                if budget.lending_limit is not None:
                    lendable = min(nominal, max(0, budget.lending_limit))
            self.nominal[name] = nominal
            self.ceiling[name] = ceiling
            self.lendable[name] = lendable
            self.guaranteed[name] = nominal - lendable
            self.cohort[name] = cohort
            self.cohort_name[name] = budget.cohort
            self.used[name] = 0
            self.shared[cohort] = self.shared.get(cohort, 0) + lendable
            self.consumed.setdefault(cohort, 0)

    def headroom(self, budget: str) -> int:
        """Cores this budget may still admit, own and borrowed together."""
        used = self.used[budget]
        cohort = self.cohort[budget]
        shared_free = self.shared[cohort] - self.consumed[cohort]
        own = self.guaranteed[budget] - used
        room = (own if own > 0 else 0) + (shared_free if shared_free > 0 else 0)
        ceiling = self.ceiling[budget]
        if ceiling is not None and ceiling - used < room:
            room = ceiling - used
        return room if room > 0 else 0

    def add(self, budget: str, cores: int) -> None:
        """Count `cores` more admitted cores (negative: fewer)."""
        self.journal.append((budget, cores))
        self._apply(budget, cores)

    def _apply(self, budget: str, cores: int) -> None:
        guaranteed = self.guaranteed[budget]
        old = self.used[budget]
        new = old + cores
        self.used[budget] = new
        # Cores beyond the guaranteed part come out of the cohort's shared pool.
        beyond_new = new - guaranteed if new > guaranteed else 0
        beyond_old = old - guaranteed if old > guaranteed else 0
        if beyond_new != beyond_old:
            self.consumed[self.cohort[budget]] += beyond_new - beyond_old

    def mark(self) -> int:
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        journal = self.journal
        while len(journal) > mark:
            budget, cores = journal.pop()
            self._apply(budget, -cores)

    # -- reporting -----------------------------------------------------------------------

    def own_free(self, budget: str) -> int:
        return max(0, self.nominal[budget] - self.used[budget])

    def borrowed(self, budget: str) -> int:
        return max(0, self.used[budget] - self.nominal[budget])

    def is_borrowing(self, budget: str) -> bool:
        return self.used[budget] > self.nominal[budget]
