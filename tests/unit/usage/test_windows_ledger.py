"""Windows and the ledger: where windows start, how usage is kept, freed and carried over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddock.controller.usage.ledger import UsageLedger
from paddock.controller.usage.windows import (
    iso,
    parse_iso,
    parse_window,
    split,
    window_bounds,
)

DAY = 86400.0
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()


def test_parse_window() -> None:
    assert parse_window("10m").seconds == 600
    assert parse_window("30d", "Rolling").kind == "Rolling"
    assert parse_window("month").monthly
    for bad in ("", "10", "1y", "0m", "-1h"):
        with pytest.raises(ValueError):
            parse_window(bad)
    with pytest.raises(ValueError):
        parse_window("month", "Rolling")


def test_calendar_windows_are_epoch_aligned_and_months_are_calendar_months() -> None:
    day = parse_window("1d")
    assert window_bounds(day, T0) == (T0 - 12 * 3600, T0 + 12 * 3600)
    start, end = window_bounds(parse_window("month"), T0)
    assert iso(start) == "2026-11-01T00:00:00Z" and iso(end) == "2026-12-01T00:00:00Z"
    december = window_bounds(parse_window("month"), end + 1)
    assert iso(december[1]) == "2027-01-01T00:00:00Z"


def test_rolling_window_ends_now() -> None:
    spec = parse_window("10m", "Rolling")
    assert window_bounds(spec, T0) == (T0 - 600, T0)
    assert spec.step == 25


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["Calendar", "Rolling"]),
    seconds=st.integers(1, 10 * 86400),
    start=st.floats(0, 5 * DAY),
    length=st.floats(0, 3 * DAY),
)
def test_split_covers_the_interval_exactly(
    kind: str, seconds: int, start: float, length: float
) -> None:
    spec = parse_window(f"{seconds}s", kind)
    pieces = split(spec, T0 + start, T0 + start + length)
    assert sum(s for _, s in pieces) == pytest.approx(length, abs=1e-6)
    assert all(s > 0 for _, s in pieces)


def test_iso_round_trips() -> None:
    assert parse_iso(iso(T0)) == T0
    assert parse_iso(iso(T0 + 0.25)) == pytest.approx(T0 + 0.25)
    assert parse_iso("garbage") is None


def test_calendar_usage_resets_at_the_window_end_and_is_summarised() -> None:
    ledger = UsageLedger(parse_window("1h"))
    start = window_bounds(ledger.spec, T0)[0]
    ledger.add(start, start + 1800, "g4", "ns", 4.0, 0.04)  # 2 core-hours
    figures = ledger.figures(start + 1800, held_cores=4.0, limit=3.0)
    assert figures.used == pytest.approx(2.0)
    assert figures.cost == pytest.approx(0.08)
    assert figures.projected == pytest.approx(4.0)  # 2 + 4 cores x 0.5 h left
    assert figures.exhausts_at == pytest.approx(start + 2700)
    assert not figures.exhausted
    ledger.add(start + 1800, start + 3000, "g4", "ns", 4.0, 0.04)
    figures = ledger.figures(start + 3000, held_cores=4.0, limit=3.0)
    assert figures.exhausted and figures.frees_at == start + 3600
    ledger.prune(start + 3601)
    assert ledger.figures(start + 3601, 0.0, 3.0).used == 0.0
    assert ledger.previous is not None and ledger.previous["used"] == "3.3333"


def test_rolling_usage_frees_step_by_step() -> None:
    spec = parse_window("240s", "Rolling")  # steps of 10 s
    ledger = UsageLedger(spec)
    ledger.add(T0, T0 + 60, "g4", "ns", 60.0, 0.0)  # 1 core-hour in the first minute
    figures = ledger.figures(T0 + 60, held_cores=0.0, limit=0.5)
    assert figures.exhausted
    # A step counts until its end leaves the window: [T0+30, T0+40) goes at T0+40+240, and
    # the 20 s left (1/3 core-hour) are below the limit.
    assert figures.frees_at == pytest.approx(T0 + 40 + 240)
    assert ledger.figures(T0 + 270, 0.0, 0.5).exhausted
    assert ledger.figures(T0 + 280, 0.0, 0.5).used == pytest.approx(1 / 3)
    assert ledger.figures(T0 + 300, 0.0, 0.5).used == 0.0
    # Running pods that alone fill the window never free it.
    assert ledger.frees_at(T0 + 60, held_cores=60.0, limit=0.5) is None


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["Calendar", "Rolling"]),
    intervals=st.lists(
        st.tuples(st.floats(0, 3000), st.floats(0, 600), st.integers(1, 16)), max_size=12
    ),
)
def test_rows_survive_a_status_round_trip(
    kind: str, intervals: list[tuple[float, float, int]]
) -> None:
    spec = parse_window("1h", kind)
    ledger = UsageLedger(spec)
    now = T0 + 3600
    for start, length, cores in intervals:
        ledger.add(T0 + start, min(now, T0 + start + length), "g4", "ns", float(cores), 0.036)
    copy = UsageLedger(spec)
    copy.load_rows(ledger.to_rows(now), now)
    a, b = ledger.figures(now, 0.0, None), copy.figures(now, 0.0, None)
    assert b.used == pytest.approx(a.used, abs=1e-3)
    assert b.cost == pytest.approx(a.cost, abs=1e-5)
