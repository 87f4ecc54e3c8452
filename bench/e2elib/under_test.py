"""The operator under test: the real `paddock run` subprocess, its /metrics and its RSS."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from tests.support.operator import OperatorProcess

from e2elib.cluster import log

WHATIF = Path(__file__).resolve().parent / "whatif"
SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_metrics(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Prometheus text -> {metric name: {sorted label pairs: value}}."""
    parsed: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for line in text.splitlines():
        match = SAMPLE_LINE.match(line)
        if not match or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        pairs = tuple(sorted(LABEL.findall(labels or "")))
        parsed[name][pairs] = float(value)
    return parsed


@dataclass(frozen=True)
class MetricsSample:
    """The counters the benchmark reads from one scrape."""

    writes: dict[str, float]
    cycles: float
    stage_seconds: dict[str, float]
    stage_counts: dict[str, float]

    @property
    def total_writes(self) -> float:
        return sum(self.writes.values())

    @classmethod
    def parse(cls, text: str) -> MetricsSample:
        metrics = parse_metrics(text)
        writes = {
            dict(k).get("kind", "?"): v for k, v in metrics["paddock_api_writes_total"].items()
        }
        stage_sum = {
            dict(k)["stage"]: v for k, v in metrics["paddock_plan_duration_seconds_sum"].items()
        }
        stage_count = {
            dict(k)["stage"]: v for k, v in metrics["paddock_plan_duration_seconds_count"].items()
        }
        cycles = sum(metrics["paddock_cycles_total"].values())
        return cls(writes, cycles, stage_sum, stage_count)

    def minus(self, before: MetricsSample) -> MetricsSample:
        kinds = set(self.writes) | set(before.writes)
        return MetricsSample(
            writes={k: self.writes.get(k, 0) - before.writes.get(k, 0) for k in kinds},
            cycles=self.cycles - before.cycles,
            stage_seconds={
                k: v - before.stage_seconds.get(k, 0) for k, v in self.stage_seconds.items()
            },
            stage_counts={
                k: v - before.stage_counts.get(k, 0) for k, v in self.stage_counts.items()
            },
        )


@dataclass
class RssSampler:
    """RSS of one process every `every` seconds (a child's ru_maxrss is not available)."""

    pid: int
    every: float = 0.5
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._thread.start()

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), process.memory_info().rss))
            except psutil.Error:
                return
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def peak_mib(self) -> float:
        return max((rss for _, rss in self.samples), default=0) / 2**20

    def last_mib(self, seconds: float = 5.0) -> float:
        """Median RSS over the last `seconds` of samples: the settled size."""
        if not self.samples:
            return 0.0
        end = self.samples[-1][0]
        recent = sorted(rss for at, rss in self.samples if at >= end - seconds)
        return recent[len(recent) // 2] / 2**20


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User+system CPU seconds used so far by each named process (0 when it is gone)."""
    used = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
            used[name] = times.user + times.system
        except psutil.Error:
            used[name] = 0.0
    return used


@dataclass
class CpuMeter:
    """CPU seconds of the operator and the control plane over a window: what an admission
    costs each process, independent of how busy the rest of the machine is."""

    pids: dict[str, int]
    start: dict[str, float] = field(default_factory=dict)
    started_at: float = 0.0

    def begin(self) -> None:
        self.start, self.started_at = cpu_seconds(self.pids), time.monotonic()

    def seconds(self) -> tuple[dict[str, float], float]:
        """(CPU seconds per process since begin(), wall seconds since begin())."""
        now = cpu_seconds(self.pids)
        return (
            {k: round(now[k] - self.start.get(k, 0.0), 1) for k in now},
            round(time.monotonic() - self.started_at, 1),
        )


class OperatorStalled(RuntimeError):
    """The operator is alive, idle, and not ready: it will not become ready by waiting."""


@dataclass
class Operator:
    """`paddock run` against the bench cluster, with an RSS sampler from its first moment."""

    kubeconfig: Path
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    kopf_overrides: tuple[str, ...] = ()
    """What-if kopf settings ("queueing.worker_limit=none"), applied by whatif/sitecustomize.py."""
    process: OperatorProcess | None = None
    rss: RssSampler | None = None
    started_at: float = 0.0
    ready_after: float = 0.0

    def start(self, timeout: float = 600, stall_after: float = 60) -> None:
        """Start; wait for /readyz (indexes listed) and one finished scheduling cycle.

        Raises OperatorStalled when the process sits idle (under 1 s of CPU in
        `stall_after` seconds) without becoming ready: it is waiting for
        something that will never come, and waiting longer measures nothing.
        """
        level = os.environ.get("PADDOCK_BENCH_LOG_LEVEL", "INFO")  # DEBUG: steps and cycles
        env = {
            "PADDOCK_LOG_LEVEL": level,
            # One replica and no kubelet to restart it: on two saturated cores the API server
            # can leave a Lease renewal unanswered past the default 10 s renew deadline, and
            # the operator then exits by design (a Deployment would restart it; here the run
            # would stall). The bench measures scheduling, not that restart.
            "PADDOCK_LEASE_DURATION": os.environ.get("PADDOCK_LEASE_DURATION", "60"),
            "PADDOCK_RENEW_DEADLINE": os.environ.get("PADDOCK_RENEW_DEADLINE", "45"),
            **self.extra_env,
        }
        if self.kopf_overrides:
            env["PYTHONPATH"] = str(WHATIF)
            env["PADDOCK_BENCH_KOPF"] = ";".join(self.kopf_overrides)
        self.process = OperatorProcess(
            kubeconfig=self.kubeconfig, log_path=self.log_path, extra_env=env
        )
        self.started_at = time.monotonic()
        errors: list[BaseException] = []

        def start_quietly() -> None:
            try:
                assert self.process is not None
                self.process.start(timeout=timeout)
            except BaseException as error:  # reported by the waiting loop below
                errors.append(error)

        # OperatorProcess.start blocks until ready; sample RSS from the first moment instead.
        starter = threading.Thread(target=start_quietly, daemon=True, name="operator-start")
        starter.start()
        while self.process.process is None:
            time.sleep(0.01)
        self.rss = RssSampler(self.process.process.pid)
        self.rss.start()
        self._wait_started(starter, errors, stall_after)
        while self.metrics().cycles < 1:
            if time.monotonic() - self.started_at > timeout:
                raise TimeoutError("no scheduling cycle finished")
            time.sleep(0.2)
        self.ready_after = time.monotonic() - self.started_at
        log(f"operator ready and one cycle done after {self.ready_after:.1f}s")

    def _wait_started(
        self, starter: threading.Thread, errors: list[BaseException], stall_after: float
    ) -> None:
        assert self.process is not None and self.process.process is not None
        cpu = psutil.Process(self.process.process.pid)
        busy_at, last_cpu = time.monotonic(), 0.0
        while starter.is_alive():
            starter.join(1.0)
            try:
                times = cpu.cpu_times()
            except psutil.Error:
                break
            used = times.user + times.system
            if used - last_cpu > 1.0:
                busy_at, last_cpu = time.monotonic(), used
            elif time.monotonic() - busy_at > stall_after:
                raise OperatorStalled(
                    f"not ready after {time.monotonic() - self.started_at:.0f}s and idle for "
                    f"{stall_after:.0f}s (CPU {used:.1f}s in all); log: {self.log_path}"
                )
        if errors:
            raise RuntimeError(f"operator did not start: {errors[0]}")

    def metrics(self) -> MetricsSample:
        return MetricsSample.parse(self.metrics_text())

    def metrics_text(self) -> str:
        """One scrape of the operator's /metrics, as Prometheus text."""
        assert self.process is not None
        return self.process.metrics()

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.process is not None
        pid: int = self.process.process.pid
        return pid

    def stop(self) -> None:
        if self.rss is not None:
            self.rss.stop()
        if self.process is not None:
            self.process.stop()
