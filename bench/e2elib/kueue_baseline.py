"""Kueue's own scheduler benchmark, run on the bench control plane next to Paddock's
Kueue-shaped run, so the two are measured on the same machine, minutes apart.

The programs are Kueue's, unchanged, built by `bench/kueue/build.sh` from the sigs.k8s.io/kueue
module pinned in `bench/kueue/go.mod`. They are run as Kueue's own Makefile runs its
"in cluster" variant (`run-performance-scheduler-in-cluster`: `runner --qps=1000 --burst=2000`
against an existing cluster), with `minimalkueue` (Kueue's core controllers and scheduler, at
its own client limits of 50 QPS / 100 burst) started beside it against the same API server, as
the runner itself starts it in its envtest variant. Kueue creates no pods in this benchmark:
its "finished" is a status condition the runner sets, where Paddock's workloads run pods on
kwok nodes and are deleted.

What is measured here and not by Kueue's runner: minimalkueue's CPU (from /proc/<pid>/stat
through psutil, as the operator's) and peak RSS (`VmHWM`), the control plane's CPU over the
same window, and minimalkueue's writes (its client-go request counter on its /metrics).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.operator import free_port

from e2elib.cluster import REPO_ROOT, BenchCluster, log
from e2elib.kueue_harness import (
    QueueShape,
    admission_spread,
    client_writes,
    generator_config,
    parse_summary,
    parse_wl_states,
    vm_hwm_mib,
    workload_count,
)
from e2elib.report import load_average, rounded
from e2elib.scenarios import KueueConfig
from e2elib.under_test import CpuMeter, RssSampler, parse_metrics

BUILD_SCRIPT = REPO_ROOT / "bench" / "kueue" / "build.sh"
RUNNER_QPS = ("--qps=1000", "--burst=2000")  # Kueue's Makefile, in-cluster variant


@dataclass(frozen=True)
class Harness:
    """The built programs and the module's source, in the version-keyed cache folder."""

    directory: Path

    @property
    def version(self) -> str:
        return self.directory.name.removeprefix("kueue-")

    @property
    def minimalkueue(self) -> Path:
        return self.directory / "minimalkueue"

    @property
    def runner(self) -> Path:
        return self.directory / "runner"

    @property
    def source(self) -> Path:
        """The sigs.k8s.io/kueue module: the runner's PROJECT_DIR (it panics without it)."""
        return self.directory / "src"

    @property
    def crds(self) -> Path:
        return self.source / "config" / "components" / "crd" / "bases"


def build() -> Harness:
    """Build (or find built) Kueue's harness; the script is idempotent and keyed by version."""
    log("kueue baseline: building Kueue's scheduler harness (cached after the first time)")
    done = subprocess.run(
        [str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True, check=True, timeout=3600
    )
    return Harness(Path(done.stdout.strip().splitlines()[-1]))


def install_kueue_crds(cluster: BenchCluster, harness: Harness) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(harness.crds))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=120s", "-f", str(harness.crds)
    )


@dataclass
class MinimalKueue:
    """Kueue's minimal manager against the bench cluster, with its metrics on a local port."""

    binary: Path
    kubeconfig: Path
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    rss: RssSampler | None = None

    def start(self, timeout: float = 120) -> None:
        """Start it and wait until its metrics answer (its manager and caches are up)."""
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--metricsPort",
                    str(self.metrics_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.rss = RssSampler(self.process.pid)
        self.rss.start()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"minimalkueue exited with {self.process.returncode}")
            try:
                self.metrics_text()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"minimalkueue's metrics did not answer in {timeout}s"
                    ) from None
                time.sleep(0.2)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text: str = answer.read().decode()
            return text

    def metrics(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        return parse_metrics(self.metrics_text())

    def peak_rss_mib(self) -> float:
        """The kernel's high-water mark of its resident set since it started."""
        try:
            return vm_hwm_mib(Path(f"/proc/{self.pid}/status").read_text())
        except OSError:
            return self.rss.peak_mib if self.rss else float("nan")

    def stop(self) -> None:
        """SIGINT, as Kueue's runner stops it; killed if it lingers. Never left running."""
        if self.rss is not None:
            self.rss.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def admitted_total(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
    """Kueue's own count of admissions (`kueue_admitted_workloads_total`), a cross-check."""
    return sum(metrics.get("kueue_admitted_workloads_total", {}).values())


def runner_timeout_s(cfg: KueueConfig) -> int:
    """Kueue's Makefile gives the in-cluster run 15 minutes for 15,000 workloads on a big
    machine; two shared cores get more, growing with the size."""
    return 900 + 4 * cfg.per_budget


def run(cluster: BenchCluster, cfg: KueueConfig, logs: Path, harness: Harness) -> dict[str, Any]:
    """Kueue's baseline, scaled as `cfg`, on `cluster`; its figures next to Paddock's keys."""
    out = logs / "kueue-harness"
    out.mkdir(parents=True, exist_ok=True)
    shape = QueueShape(cfg.cohorts, cfg.budgets_per_cohort, cfg.nominal_cores, cfg.borrowing_limit)
    config = generator_config(shape, cfg.classes())
    generator = out / "generator.yaml"
    generator.write_text(json.dumps(config, indent=2) + "\n")  # YAML is a superset of JSON
    expected = workload_count(config)
    log(f"kueue baseline: Kueue {harness.version}, {expected} workloads ({generator})")
    install_kueue_crds(cluster, harness)
    kueue = MinimalKueue(harness.minimalkueue, cluster.kubeconfig, out / "minimalkueue.log")
    runner: subprocess.Popen[bytes] | None = None
    load_start = load_average()
    try:
        kueue.start()
        meter = CpuMeter({"minimalkueue": kueue.pid, **cluster.component_pids()})
        before = kueue.metrics()
        meter.begin()
        started = time.monotonic()
        with (out / "runner.log").open("ab") as runner_log:
            runner = subprocess.Popen(
                [
                    str(harness.runner),
                    "--o",
                    str(out),
                    "--generatorConfig",
                    str(generator),
                    *RUNNER_QPS,
                    f"--timeout={runner_timeout_s(cfg)}s",
                ],
                env={
                    **os.environ,
                    "KUBECONFIG": str(cluster.kubeconfig),
                    # Kueue's test helpers take filepath.Dir of it: its Makefile passes "dir/".
                    "PROJECT_DIR": f"{harness.source}/",
                },
                stdout=runner_log,
                stderr=subprocess.STDOUT,
            )
        ended = wait_summary(runner, out / "summary.yaml", runner_timeout_s(cfg) + 120)
        # Taken when the recorder is done, before the runner's clean-up deletes everything.
        cpu, wall = meter.seconds()
        after = kueue.metrics()
        peak_rss = kueue.peak_rss_mib()
        load_end = load_average()
        runner_wall = ended - started
        code = runner.wait(600)
        log(f"kueue baseline: runner exited with {code} after {time.monotonic() - started:.0f}s")
    finally:
        if runner is not None and runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            try:
                runner.wait(30)
            except subprocess.TimeoutExpired:
                runner.kill()
        kueue.stop()
    if not (out / "wlStates.csv").exists():
        return {
            "ok": False,
            "error": f"the runner wrote no results (exit {code}); see {out / 'runner.log'}",
            "load_average_start": load_start,
            "load_average_end": load_end,
        }
    figures = baseline_figures(cfg, harness, out, expected)
    writes_before = client_writes(before)
    writes = {m: n - writes_before.get(m, 0) for m, n in client_writes(after).items()}
    admitted = figures["admitted"] or 1
    figures.update(
        {
            "runner_wall_s": rounded(runner_wall, 1),
            "runner_exit_code": code,
            "kueue_admitted_workloads_total": admitted_total(after) - admitted_total(before),
            "cpu_seconds": cpu,
            "cpu_window_s": wall,
            "cpu_ms_per_admission": {k: round(1000 * v / admitted, 1) for k, v in cpu.items()},
            "minimalkueue_peak_rss_mib": rounded(peak_rss, 1),
            "writes": writes,
            "writes_per_admission": rounded(sum(writes.values()) / admitted, 2),
            "load_average_start": load_start,
            "load_average_end": load_end,
        }
    )
    return figures


def wait_summary(runner: subprocess.Popen[bytes], summary: Path, timeout: float) -> float:
    """Until the runner has written summary.yaml (its recorder saw every workload finish) or
    exited; returns that moment (monotonic)."""
    deadline = time.monotonic() + timeout
    while runner.poll() is None and not summary.exists():
        if time.monotonic() > deadline:
            log("kueue baseline: the runner did not finish in time; stopping it")
            break
        time.sleep(0.2)
    return time.monotonic()


def baseline_figures(
    cfg: KueueConfig, harness: Harness, out: Path, expected: int
) -> dict[str, Any]:
    """Figures from the runner's own outputs (wlStates.csv, summary.yaml)."""
    states = parse_wl_states((out / "wlStates.csv").read_text())
    summary = parse_summary((out / "summary.yaml").read_text())
    finished = sum(1 for s in states if s.ms_to_finish > 0)
    if finished < expected:
        log(
            f"kueue baseline: the runner stopped with {finished} of {expected} workloads "
            "finished (its recorder stops when every ClusterQueue's last status shows nothing "
            "pending; at small sizes that status can lag behind the last creations)"
        )
    return {
        "ok": True,
        "complete": finished == expected,
        "kueue_version": harness.version,
        "workloads": expected,
        "recorded": len(states),
        "admitted": sum(1 for s in states if s.admitted),
        "finished": finished,
        "evictions": sum(s.evictions for s in states),
        "total_s": rounded(summary.monitored_s, 1),
        "time_to_admission": {
            k.name: {"cores": k.cores, **admission_spread(states, k.name)} for k in cfg.classes()
        },
        "summary_classes": summary.classes,
        "dropped_workload_events": summary.dropped_events,
        "output": str(out),
    }
