"""The accountant: usage is the integral of the running pods' cores, and survives restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddock.controller.observed import AgentPod
from paddock.controller.usage.accountant import Accountant, BudgetTerms
from paddock.controller.usage.windows import parse_window

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
HOUR_WINDOW = BudgetTerms(parse_window("1d"), 100.0, "Queue", {})

Pod = tuple[float, float, int]
"""(bound, ended, cores) of one pod, relative to T0."""


def pods_at(t: float, pods: list[Pod]) -> dict[str, dict[str, AgentPod]]:
    running = {
        f"uid-{i}": AgentPod(
            node="n",
            pool="g4",
            ready=True,
            terminating=False,
            cpu_millicores=cores * 1000,
            bound=T0 + bound,
            pod_millicores=cores * 1000,
        )
        for i, (bound, ended, cores) in enumerate(pods)
        if T0 + bound <= t < T0 + ended
    }
    return {"ns/agent": running} if running else {}


def exact(pods: list[Pod], until: float) -> float:
    """Core-hours of the pods up to `until`, computed independently."""
    return (
        sum(max(0.0, min(T0 + ended, until) - (T0 + bound)) * cores for bound, ended, cores in pods)
        / 3600.0
    )


def run(accountant: Accountant, pods: list[Pod], ticks: list[float], terms: BudgetTerms) -> None:
    for t in ticks:
        accountant.tick(t, pods_at(t, pods), {"team": terms}, {"g4": 0.036}, lambda _key: "team")


schedules = st.lists(
    st.tuples(st.floats(0, 3000), st.floats(1, 3000), st.integers(1, 8)).map(
        lambda p: (p[0], p[0] + p[1], p[2])
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(pods=schedules, gaps=st.lists(st.floats(0.5, 30), min_size=1, max_size=400))
def test_usage_is_the_integral_of_running_cores(pods: list[Pod], gaps: list[float]) -> None:
    """With ticks at every pod start and end (the loop is poked then), usage is exact."""
    events = sorted({T0 + b for b, _, _ in pods} | {T0 + e for _, e, _ in pods})
    ticks = sorted(set(events) | {T0 + sum(gaps[: i + 1]) for i in range(len(gaps))})
    accountant = Accountant(checkpoint_interval=30)
    run(accountant, pods, ticks, HOUR_WINDOW)
    end = ticks[-1]
    figures = accountant.accounts["team"].figures
    assert figures is not None
    assert figures.used == pytest.approx(exact(pods, end), abs=1e-6)
    assert figures.cost == pytest.approx(exact(pods, end) * 0.036, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(pods=schedules, gaps=st.lists(st.floats(0.5, 30), min_size=1, max_size=400))
def test_usage_is_exact_with_cycles_seconds_apart(pods: list[Pod], gaps: list[float]) -> None:
    """Full cycles can be seconds apart (steps decide in between): a pod counts from its bind
    time, and up to when the watch saw it go (`ended`), not up to the next tick."""
    ticks = [T0 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    ends = {f"uid-{i}": T0 + ended for i, (_, ended, _) in enumerate(pods)}
    accountant = Accountant(checkpoint_interval=30)
    last = T0
    for t in ticks:
        ended = {uid: e for uid, e in ends.items() if last < e <= t}
        accountant.tick(
            t, pods_at(t, pods), {"team": HOUR_WINDOW}, {"g4": 0.036}, lambda _k: "team", ended
        )
        last = t
    # A pod that started and ended between two ticks is never seen (as in an outage).
    seen = [p for p in pods if any(T0 + p[0] <= t < T0 + p[1] for t in ticks)]
    figures = accountant.accounts["team"].figures
    assert figures is not None
    assert figures.used == pytest.approx(exact(seen, ticks[-1]), abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    pods=schedules,
    crash=st.floats(100, 3000),
    outage=st.floats(0, 600),
    interval=st.sampled_from([5.0, 30.0, 60.0]),
)
def test_a_crash_loses_at_most_the_checkpoint_interval_of_ended_pods(
    pods: list[Pod], crash: float, outage: float, interval: float
) -> None:
    """Kill after the last tick, restart from the checkpoint in the status: usage of pods still
    running is recovered from their bind times; only pods that ended after the checkpoint lose
    what they ran after it (at most the interval plus the outage each, and never more)."""
    first = Accountant(checkpoint_interval=interval)
    # A tick at least every resync (10 s), and when a pod starts or ends (the loop is poked).
    events = {T0 + b for b, _, _ in pods} | {T0 + e for _, e, _ in pods}
    ticks = sorted({T0 + t for t in range(0, int(crash) + 1, 10)} | events)
    ticks = [t for t in ticks if t <= T0 + crash]
    run(first, pods, ticks, HOUR_WINDOW)
    view = first.status_of("team")
    assert view is not None
    restart = ticks[-1] + outage
    second = Accountant(checkpoint_interval=interval)
    terms = BudgetTerms(HOUR_WINDOW.window, 100.0, "Queue", {"coreHours": view})
    later = sorted({restart + t for t in range(0, 5)} | {t for t in events if restart < t})
    run(second, pods, later, terms)
    figures = second.accounts["team"].figures
    assert figures is not None
    truth = exact(pods, later[-1])
    checkpoint = datetime.fromisoformat(view["checkpointTime"].replace("Z", "+00:00")).timestamp()
    # The checkpoint is at most one interval old, unless nothing ran since (then still exact).
    assert checkpoint >= ticks[-1] - interval - 10 or not view.get("heldCores")
    lost = (
        sum(
            max(0.0, min(T0 + e, restart) - max(T0 + b, checkpoint)) * c
            for b, e, c in pods
            if T0 + e <= restart  # ended before the restart: invisible to the new process
        )
        / 3600.0
    )
    assert figures.used <= truth + 1e-6
    assert figures.used == pytest.approx(truth - lost, abs=1e-6)
    assert (
        truth - figures.used
        <= sum(c for _, _, c in pods) * (interval + 10 + outage) / 3600.0 + 1e-6
    )


def test_checkpoint_changes_on_the_slow_clock_only() -> None:
    accountant = Accountant(checkpoint_interval=30)
    pods: list[Pod] = [(0, 10_000, 2)]
    run(accountant, pods, [T0 + t for t in range(0, 29)], HOUR_WINDOW)
    first = accountant.status_of("team")
    assert first is not None and first["checkpointTime"].startswith("2026-11-30T12:00:00")
    run(accountant, pods, [T0 + 29.5], HOUR_WINDOW)
    assert accountant.status_of("team") is first
    run(accountant, pods, [T0 + 30], HOUR_WINDOW)
    assert accountant.status_of("team") is not first


def test_exhaustion_is_immediate_and_named() -> None:
    accountant = Accountant(checkpoint_interval=3600)
    terms = BudgetTerms(parse_window("1d"), 0.01, "ScaleToMin", {})  # 36 core-seconds
    run(accountant, [(0, 10_000, 4)], [T0 + t for t in range(0, 12)], terms)
    found = accountant.exhaustion("team")
    assert found is not None
    message, scale = found
    assert scale and "of 0.01 core-hours" in message and "frees at" in message
    view = accountant.status_of("team")
    assert view is not None and view["used"] >= 0.01 and "freesAt" in view


def test_budget_without_price_costs_nothing_and_idle_budget_is_not_rewritten() -> None:
    accountant = Accountant(checkpoint_interval=1)
    terms = BudgetTerms(parse_window("1d"), None, "Queue", {})
    accountant.tick(T0, {}, {"team": terms}, {}, lambda _k: None)
    first = accountant.status_of("team")
    accountant.tick(T0 + 5, {}, {"team": terms}, {}, lambda _k: None)
    assert accountant.status_of("team") is first
    assert first is not None and first["cost"] == "0.00 USD" and "limit" not in first


def test_a_pod_whose_budget_changes_is_not_counted_twice() -> None:
    accountant = Accountant(checkpoint_interval=30)
    pods: list[Pod] = [(0, 10_000, 2)]
    budgets = {"team": HOUR_WINDOW, "other": HOUR_WINDOW}
    for t in range(0, 61, 10):
        accountant.tick(T0 + t, pods_at(T0 + t, pods), budgets, {}, lambda _key: "team")
    for t in range(70, 121, 10):
        accountant.tick(T0 + t, pods_at(T0 + t, pods), budgets, {}, lambda _key: "other")
    team, other = accountant.accounts["team"].figures, accountant.accounts["other"].figures
    assert team is not None and other is not None
    assert team.used * 3600 == pytest.approx(2 * 60)
    assert other.used * 3600 == pytest.approx(2 * 60)


def test_a_new_limit_is_shown_at_once() -> None:
    accountant = Accountant(checkpoint_interval=3600)
    run(accountant, [(0, 10_000, 1)], [T0, T0 + 1], HOUR_WINDOW)
    raised = BudgetTerms(HOUR_WINDOW.window, 200.0, "Queue", {})
    run(accountant, [(0, 10_000, 1)], [T0 + 2], raised)
    view = accountant.status_of("team")
    assert view is not None and view["limit"] == 200.0
