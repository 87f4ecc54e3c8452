"""Core-hour budgets and cost: usage accounting per budget, pool and namespace.

- `windows`: calendar and rolling windows, and the steps usage is kept in (pure);
- `ledger`: one budget's usage in its window, and the figures derived from it (pure);
- `accountant`: integrates the running pods' cores every cycle, checkpoints, Prometheus;
- `cycle`: the glue to the scheduling cycle (count, gate the planner, remember budgets);
- `status`: what it adds to CoreBudget.status.

See docs/concepts.md (Core-hours and cost) for what counts and the loss bound of a crash.
"""

from paddock.controller.usage.accountant import Accountant
from paddock.controller.usage.cycle import account, gate, remember
from paddock.controller.usage.status import with_core_hours

__all__ = ["Accountant", "account", "gate", "remember", "with_core_hours"]
