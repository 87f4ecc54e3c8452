"""Human wording for decisions. Kept in one place so the docs and the status agree.

Messages always carry the numbers a user needs to act ("needs 16 cores, budget team-a has 12 of
256 free"), because a reason code alone does not say whether to wait, shrink, or ask for budget.

The phrases a cycle formats thousands of times over a handful of distinct inputs (shapes,
per-pool assignments, budget rooms) are memoized: they are pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

TIMES = "\u00d7"
"""The multiplication sign of '2 replicas x 16 cores' (escaped: linters flag it as look-alike)."""

_GI = 1 << 30
_MI = 1 << 20


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def memory(amount: int) -> str:
    """Bytes in the Kubernetes quantity style a user typed them in (Gi, Mi)."""
    if amount % _GI == 0:
        return f"{amount // _GI}Gi"
    if amount % _MI == 0:
        return f"{amount // _MI}Mi"
    return f"{amount} bytes"


@lru_cache(maxsize=4096)
def shape(replicas: int, cores: int, memory_bytes: int) -> str:
    """'2 replicas x 16 cores' (+ memory when the workload asks for any)."""
    text = f"{plural(replicas, 'replica')} {TIMES} {plural(cores, 'core')}"
    if memory_bytes:
        text += f" and {memory(memory_bytes)}"
    return text


def pool_list(pools: Iterable[str]) -> str:
    return "[" + ", ".join(pools) + "]"


@lru_cache(maxsize=4096)
def needs(replicas: int, cores: int, elastic: bool) -> str:
    at_least = "at least " if elastic else ""
    return (
        f"needs {at_least}{plural(replicas * cores, 'core')} "
        f"({plural(replicas, 'replica')} {TIMES} {cores})"
    )


@lru_cache(maxsize=4096)
def budget_room(budget: str, nominal: int, own_free: int, headroom: int, cohort: str | None) -> str:
    """'budget team-a has 12 of 256 free and can borrow 0 from cohort ml'."""
    text = f"budget {budget} has {own_free} of {nominal} free"
    if cohort is None:
        return text
    if headroom >= own_free:
        return f"{text} and can borrow {headroom - own_free} from cohort {cohort}"
    return f"{text}, of which {own_free - headroom} are lent within cohort {cohort}"


@lru_cache(maxsize=4096)
def placements(assignments: tuple[tuple[str, int], ...]) -> str:
    """'c7g (3), c8g (1)' (a tuple, as `assignments` returns it: hashable, so memoized)."""
    return ", ".join([f"{pool} ({replicas})" for pool, replicas in assignments])


@lru_cache(maxsize=4096)
def admitted(
    replicas: int, cores: int, memory_bytes: int, assignments: tuple[tuple[str, int], ...]
) -> str:
    """'admitted 2 replicas x 16 cores in c7g (2)': the message of most workloads, each cycle."""
    return f"admitted {shape(replicas, cores, memory_bytes)} in {placements(assignments)}"


@lru_cache(maxsize=4096)
def admitted_event(admitted: int, replicas: int) -> str:
    """'admitted 2 replicas of 3': the event of every workload a cycle admits."""
    return f"admitted {plural(admitted, 'replica')} of {replicas}"
