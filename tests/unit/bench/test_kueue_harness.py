"""The pieces of the Kueue side-by-side benchmark that need no cluster: the generator config we
hand Kueue's runner, and how its outputs and minimalkueue's metrics are read."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from e2elib.kueue_harness import (
    QueueShape,
    Row,
    admission_spread,
    client_writes,
    format_table,
    generator_config,
    parse_summary,
    parse_wl_states,
    side_by_side,
    vm_hwm_mib,
    workload_count,
)
from e2elib.scenarios import KueueConfig
from e2elib.under_test import parse_metrics

# test/performance/scheduler/configs/baseline/generator.yaml of sigs.k8s.io/kueue v0.17.0.
KUEUE_BASELINE = """
cohorts:
  - className: cohort
    count: 5
    queuesSets:
    - className: cq
      count: 6
      nominalQuota: 20
      borrowingLimit: 100
      reclaimWithinCohort: Any
      withinClusterQueue: LowerPriority
      workloadsSets:
      - count: 350
        creationIntervalMs: 100
        workloads:
        - className: small
          runtimeMs: 200
          priority: 50
          request: 1
      - count: 100
        creationIntervalMs: 500
        workloads:
        - className: medium
          runtimeMs: 500
          priority: 100
          request: 5
      - count: 50
        creationIntervalMs: 1200
        workloads:
        - className: large
          runtimeMs: 1000
          priority: 200
          request: 20
"""


def config_for(per_budget: int) -> dict[str, object]:
    cfg = KueueConfig(per_budget=per_budget)
    shape = QueueShape(cfg.cohorts, cfg.budgets_per_cohort, cfg.nominal_cores, cfg.borrowing_limit)
    return generator_config(shape, cfg.classes())


def test_full_size_is_kueues_baseline_exactly() -> None:
    assert config_for(500) == yaml.safe_load(KUEUE_BASELINE)
    assert workload_count(config_for(500)) == 15_000


@pytest.mark.parametrize(
    ("per_budget", "small", "medium", "large"), [(100, 70, 20, 10), (20, 14, 4, 2)]
)
def test_scaled_like_our_scenario(per_budget: int, small: int, medium: int, large: int) -> None:
    config = config_for(per_budget)
    sets = config["cohorts"][0]["queuesSets"][0]["workloadsSets"]  # type: ignore[index]
    assert [s["count"] for s in sets] == [small, medium, large]
    # Intervals, runtimes, priorities and cores do not scale: only the counts do.
    assert sets == [
        {**full, "count": s["count"]}
        for full, s in zip(
            yaml.safe_load(KUEUE_BASELINE)["cohorts"][0]["queuesSets"][0]["workloadsSets"],
            sets,
            strict=True,
        )
    ]
    assert workload_count(config) == 30 * per_budget


WL_STATES = """id,class name,namespace,name,ms to admitted,ms to finish,num evictions
0,small,cq-0-0-cohort-0,small-0-0-0,100,320,0
1,small,cq-0-0-cohort-0,small-0-1-0,300,520,1
2,small,cq-0-0-cohort-0,small-0-2-0,200,410,0
3,large,cq-0-1-cohort-0,large-2-0-0,4000,5000,0
4,medium,cq-0-1-cohort-0,medium-1-0-0,0,0,0
"""


def test_wl_states_and_spread_per_class() -> None:
    states = parse_wl_states(WL_STATES)
    assert len(states) == 5
    assert [s.admitted for s in states] == [True, True, True, True, False]
    assert states[1].evictions == 1
    small = admission_spread(states, "small")
    assert small["p50_s"] == 0.2
    assert small["max_s"] == 0.3
    assert small["count"] == 3
    assert admission_spread(states, "large")["p50_s"] == 4.0
    # A class the recorder never saw admitted has no figures, not zeros.
    assert admission_spread(states, "medium") == {
        "p50_s": None,
        "p99_s": None,
        "mean_s": None,
        "max_s": None,
        "count": 0,
    }


@pytest.mark.parametrize("quote", ["", '"'])
def test_summary_monitored_span(quote: str) -> None:
    text = f"""clusterQueueClasses:
  cq:
    cpuAverageUsage: 11750
    cpuUsed: 881250000
    firstEventTime: {quote}2026-11-30T15:00:00.123456789Z{quote}
    lastEventTime: {quote}2026-11-30T15:01:13.623456789Z{quote}
    nominalQuota: 600000
droppedWorkloadEvents: 2
workloadClasses:
  large:
    averageTimeToAdmissionMs: 4512
    averageTimeToFinishMs: 5600
    count: 300
    totalEvictions: 3
"""
    summary = parse_summary(text)
    assert summary.monitored_s == pytest.approx(73.5)
    assert summary.dropped_events == 2
    assert summary.classes["large"]["average_time_to_admission_ms"] == 4512
    assert summary.classes["large"]["evictions"] == 3


def test_summary_without_queues_has_no_span() -> None:
    assert math.isnan(parse_summary("workloadClasses: {}\n").monitored_s)


METRICS = """# HELP rest_client_requests_total Number of HTTP requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:42443",method="GET"} 40
rest_client_requests_total{code="200",host="127.0.0.1:42443",method="PUT"} 3000
rest_client_requests_total{code="409",host="127.0.0.1:42443",method="PUT"} 12
rest_client_requests_total{code="201",host="127.0.0.1:42443",method="POST"} 6100
rest_client_requests_total{code="200",host="127.0.0.1:42443",method="PATCH"} 2
kueue_admitted_workloads_total{cluster_queue="cq-0-0-cohort-0"} 100
"""


def test_client_writes_count_every_mutating_method() -> None:
    assert client_writes(parse_metrics(METRICS)) == {"POST": 6100, "PUT": 3012, "PATCH": 2}
    assert client_writes(parse_metrics("")) == {}


def test_vm_hwm() -> None:
    status = "Name:\tminimalkueue\nVmPeak:\t 2000000 kB\nVmHWM:\t  147456 kB\nVmRSS:\t 100000 kB\n"
    assert vm_hwm_mib(status) == 144.0
    assert math.isnan(vm_hwm_mib("Name:\tgone\n"))


def test_side_by_side_ratios_and_table() -> None:
    kueue = {
        "total_s": 73.0,
        "admitted": 3000,
        "time_to_admission": {"small": {"p50_s": 43.0}, "large": {"p50_s": 4.5}},
        "cpu_seconds": {"minimalkueue": 17.4, "kube-apiserver": 98.0},
        "minimalkueue_peak_rss_mib": 140.0,
        "writes_per_admission": 1.0,
    }
    paddock = {
        "total_s": 207.0,
        "admitted": 3000,
        "time_to_admission": {"small": {"p50_s": 158.0}, "medium": {"p50_s": 128.0}},
        "cpu_seconds": {"operator": 102.0, "kube-apiserver": 220.0},
        "operator_peak_rss_mib": 200.0,
        "writes_per_admission": 11.2,
    }
    rows = {row.figure: row for row in side_by_side(kueue, paddock)}
    assert rows["total time"].ratio == 2.84
    assert rows["scheduler CPU per admission"].kueue == pytest.approx(5.8)
    assert rows["scheduler CPU per admission"].paddock == pytest.approx(34.0)
    assert rows["kube-apiserver CPU in the run"].ratio == 2.24
    # Missing on one side: no ratio, never a zero.
    assert rows["time to admission p50, medium"].ratio is None
    table = format_table(list(rows.values()), "Kueue v0.17.0", "Paddock")
    assert "| total time | 73.0 s | 207 s | 2.84 |" in table
    assert "| time to admission p50, medium | n/a | 128 s | n/a |" in table


def test_ratio_of_zero_kueue_figure_is_undefined() -> None:
    assert Row("x", 0.0, 3.0, "").ratio is None
