"""Kueue's scheduler performance harness, the pure parts: its generator config, its outputs,
and the side-by-side table.

Kueue's own benchmark (`test/performance/scheduler` in the sigs.k8s.io/kueue module) is a
`runner` that generates ClusterQueues, LocalQueues and Workloads from a generator config,
marks each admitted Workload finished after its class's runtime, and records what happened,
plus `minimalkueue`, Kueue's core controllers and scheduler alone. The runner writes
`summary.yaml` (per workload class: count, average time to admission and to finish,
evictions; per ClusterQueue class: the first and last ClusterQueue event), `wlStates.csv`
(per workload: ms to admitted, ms to finish, evictions) and `cqStates.csv`.

Nothing here starts a process: `kueue_baseline` does. Kept apart so the unit tests can check
the config we hand Kueue and the way we read its answers without a cluster or a Go build.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import yaml

from e2elib.report import percentile, rounded

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class WorkloadClass(Protocol):
    """One workload class of the Kueue-shaped scenario (`scenarios.SizeClass`)."""

    @property
    def name(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def interval_s(self) -> float: ...
    @property
    def runtime_s(self) -> float: ...
    @property
    def priority(self) -> int: ...
    @property
    def cores(self) -> int: ...


@dataclass(frozen=True)
class QueueShape:
    """The queues of the Kueue-shaped scenario, in Kueue's terms."""

    cohorts: int
    queues_per_cohort: int
    nominal_cores: int
    borrowing_limit: int


def generator_config(shape: QueueShape, classes: Sequence[WorkloadClass]) -> dict[str, Any]:
    """Kueue's baseline generator config (`configs/baseline/generator.yaml`) with our scenario's
    numbers: the same cohorts, queues, quotas, preemption, and per queue one workload set per
    class (count, creation interval, runtime, priority, cores). With 500 per queue it is
    Kueue's baseline exactly; smaller sizes scale every class's count alike."""
    return {
        "cohorts": [
            {
                "className": "cohort",
                "count": shape.cohorts,
                "queuesSets": [
                    {
                        "className": "cq",
                        "count": shape.queues_per_cohort,
                        "nominalQuota": shape.nominal_cores,
                        "borrowingLimit": shape.borrowing_limit,
                        "reclaimWithinCohort": "Any",
                        "withinClusterQueue": "LowerPriority",
                        "workloadsSets": [
                            {
                                "count": k.count,
                                "creationIntervalMs": round(k.interval_s * 1000),
                                "workloads": [
                                    {
                                        "className": k.name,
                                        "runtimeMs": round(k.runtime_s * 1000),
                                        "priority": k.priority,
                                        "request": k.cores,
                                    }
                                ],
                            }
                            for k in classes
                        ],
                    }
                ],
            }
        ]
    }


def workload_count(config: Mapping[str, Any]) -> int:
    """How many Workloads a generator config creates (what the runner will wait for)."""
    total = 0
    for cohort in config["cohorts"]:
        for queues in cohort["queuesSets"]:
            per_queue = sum(s["count"] * len(s["workloads"]) for s in queues["workloadsSets"])
            total += cohort["count"] * queues["count"] * per_queue
    return total


@dataclass(frozen=True)
class WorkloadState:
    """One row of the runner's `wlStates.csv`."""

    klass: str
    namespace: str
    name: str
    ms_to_admitted: int
    ms_to_finish: int
    evictions: int

    @property
    def admitted(self) -> bool:
        """The recorder leaves both times at 0 for a workload it never saw admitted."""
        return self.ms_to_admitted > 0 or self.ms_to_finish > 0


def parse_wl_states(text: str) -> list[WorkloadState]:
    """`wlStates.csv`: id, class name, namespace, name, ms to admitted, ms to finish, evictions."""
    rows = csv.DictReader(io.StringIO(text))
    return [
        WorkloadState(
            klass=row["class name"],
            namespace=row["namespace"],
            name=row["name"],
            ms_to_admitted=int(row["ms to admitted"]),
            ms_to_finish=int(row["ms to finish"]),
            evictions=int(row["num evictions"]),
        )
        for row in rows
    ]


def _as_datetime(value: Any) -> datetime:
    """A time of `summary.yaml`: PyYAML may already have made it a datetime; Go writes
    RFC 3339 with nanoseconds, which `fromisoformat` reads once cut to microseconds."""
    if isinstance(value, datetime):
        return value
    text = str(value).replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Summary:
    """What the figures need from the runner's `summary.yaml`."""

    classes: dict[str, dict[str, float]]
    """Per workload class: count, averageTimeToAdmissionMs, averageTimeToFinishMs, evictions."""
    monitored_s: float
    """First to last ClusterQueue event: generation start to the last workload finished."""
    dropped_events: int


def parse_summary(text: str) -> Summary:
    data = yaml.safe_load(text) or {}
    spans = [
        (_as_datetime(group["firstEventTime"]), _as_datetime(group["lastEventTime"]))
        for group in (data.get("clusterQueueClasses") or {}).values()
    ]
    monitored = (
        (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()
        if spans
        else math.nan
    )
    classes = {
        name: {
            "count": float(figures.get("count", 0)),
            "average_time_to_admission_ms": float(figures.get("averageTimeToAdmissionMs", 0)),
            "average_time_to_finish_ms": float(figures.get("averageTimeToFinishMs", 0)),
            "evictions": float(figures.get("totalEvictions", 0)),
        }
        for name, figures in (data.get("workloadClasses") or {}).items()
    }
    return Summary(classes, monitored, int(data.get("droppedWorkloadEvents") or 0))


def admission_spread(states: Iterable[WorkloadState], klass: str) -> dict[str, float | None]:
    """p50 / p99 / mean / max of the time to admission of one class, in seconds (as `spread`
    in scenarios.py), over the workloads the recorder saw admitted."""
    waits = [s.ms_to_admitted / 1000 for s in states if s.klass == klass and s.admitted]
    mean = sum(waits) / len(waits) if waits else math.nan
    return {
        "p50_s": rounded(percentile(waits, 50)),
        "p99_s": rounded(percentile(waits, 99)),
        "mean_s": rounded(mean),
        "max_s": rounded(max(waits, default=math.nan)),
        "count": len(waits),
    }


def client_writes(
    metrics: Mapping[str, Mapping[tuple[tuple[str, str], ...], float]],
) -> dict[str, int]:
    """Writes a Go process sent to the API server, by HTTP method, from its client-go counter
    `rest_client_requests_total{code, host, method}` (parsed by `under_test.parse_metrics`):
    every status update, patch, Event and delete of minimalkueue, whatever its object."""
    writes: dict[str, int] = dict.fromkeys(WRITE_METHODS, 0)
    for labels, value in metrics.get("rest_client_requests_total", {}).items():
        method = dict(labels).get("method", "")
        if method in writes:
            writes[method] += int(value)
    return {method: count for method, count in writes.items() if count}


def vm_hwm_mib(status_text: str) -> float:
    """Peak resident set (`VmHWM`) from a /proc/<pid>/status text, in MiB."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


# ---------------------------------------------------------------------- side by side
@dataclass(frozen=True)
class Row:
    figure: str
    kueue: float | None
    paddock: float | None
    unit: str

    @property
    def ratio(self) -> float | None:
        """Paddock / Kueue: above 1, Paddock takes longer or uses more."""
        if self.kueue is None or self.paddock is None or self.kueue == 0:
            return None
        return round(self.paddock / self.kueue, 2)


def _per(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator * scale / denominator


def side_by_side(kueue: Mapping[str, Any], paddock: Mapping[str, Any]) -> list[Row]:
    """The comparable figures of one Kueue run and one Paddock run of the same shape."""
    rows = [Row("total time", kueue.get("total_s"), paddock.get("total_s"), "s")]
    for klass in ("small", "medium", "large"):
        rows.append(
            Row(
                f"time to admission p50, {klass}",
                (kueue.get("time_to_admission") or {}).get(klass, {}).get("p50_s"),
                (paddock.get("time_to_admission") or {}).get(klass, {}).get("p50_s"),
                "s",
            )
        )
    k_cpu = kueue.get("cpu_seconds") or {}
    p_cpu = paddock.get("cpu_seconds") or {}
    rows += [
        Row(
            "scheduler CPU per admission",
            _per(k_cpu.get("minimalkueue"), kueue.get("admitted"), 1000),
            _per(p_cpu.get("operator"), paddock.get("admitted"), 1000),
            "ms",
        ),
        Row(
            "scheduler peak RSS",
            kueue.get("minimalkueue_peak_rss_mib"),
            paddock.get("operator_peak_rss_mib"),
            "MiB",
        ),
        Row(
            "kube-apiserver CPU in the run",
            k_cpu.get("kube-apiserver"),
            p_cpu.get("kube-apiserver"),
            "s",
        ),
        Row(
            "scheduler writes per admission",
            kueue.get("writes_per_admission"),
            paddock.get("writes_per_admission"),
            "",
        ),
        Row("workloads admitted", kueue.get("admitted"), paddock.get("admitted"), ""),
        Row("workloads finished", kueue.get("finished"), paddock.get("finished"), ""),
    ]
    return rows


def _cell(value: float | None, unit: str) -> str:
    if value is None or value != value:
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def format_table(rows: Sequence[Row], kueue_label: str, paddock_label: str) -> str:
    """A Markdown table: figure | Kueue | Paddock | Paddock / Kueue."""
    lines = [
        f"| figure | {kueue_label} | {paddock_label} | Paddock / Kueue |",
        "|---|---|---|---|",
    ]
    for row in rows:
        ratio = "n/a" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.figure} | {_cell(row.kueue, row.unit)} | {_cell(row.paddock, row.unit)} "
            f"| {ratio} |"
        )
    return "\n".join(lines)


def rows_json(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {
            "figure": r.figure,
            "unit": r.unit,
            "kueue": None if r.kueue is None else rounded(float(r.kueue)),
            "paddock": None if r.paddock is None else rounded(float(r.paddock)),
            "paddock_over_kueue": r.ratio,
        }
        for r in rows
    ]
