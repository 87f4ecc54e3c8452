"""Core-hour budgets and cost on the real control plane, with the real operator.

Usage is checked against an integral computed independently, from the API's pods: each pod
counts from its PodScheduled time until a poller of this test saw it gone, with its CPU
requests. Windows are short (a day for accuracy, two minutes for exhaustion) so the tests run
in minutes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from paddock.api.common import parse_cpu_millicores
from tests.integration.test_plugin import run_plugin
from tests.support.cluster import REPO_ROOT
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("operator")

DASHBOARD = REPO_ROOT / "charts" / "paddock" / "dashboards" / "paddock-cost.json"
CHECKPOINT_SECONDS = 30.0
"""The operator's default checkpoint interval: the most a crash may lose per ended pod."""


def epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class PodLives:
    """Polls the namespace's pods: when each was bound, its cores, when it was seen gone."""

    api: client.ApiClient
    namespace: str
    bound: dict[str, tuple[float, float]] = field(default_factory=dict)
    """uid -> (bound at, cores)."""
    gone: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        core = client.CoreV1Api(self.api)
        while not self._stop.is_set():
            try:
                pods = core.list_namespaced_pod(self.namespace).items
            except Exception:  # a busy API server: poll again
                time.sleep(0.2)
                continue
            now = time.time()
            present = set()
            for pod in pods:
                uid = pod.metadata.uid
                present.add(uid)
                scheduled = next(
                    (
                        c.last_transition_time.timestamp()
                        for c in pod.status.conditions or ()
                        if c.type == "PodScheduled" and c.status == "True"
                    ),
                    None,
                )
                if scheduled is not None and uid not in self.bound:
                    cores = sum(
                        parse_cpu_millicores((c.resources.requests or {}).get("cpu", "0"))
                        for c in pod.spec.containers
                    )
                    self.bound[uid] = (scheduled, cores / 1000.0)
            for uid in self.bound:
                if uid not in present and uid not in self.gone:
                    self.gone[uid] = now
            self._stop.wait(0.25)

    def core_hours(self, until: float) -> float:
        """The integral of the pods' cores up to `until`, in core-hours."""
        total = 0.0
        for uid, (start, cores) in self.bound.items():
            end = min(self.gone.get(uid, until), until)
            total += max(0.0, end - start) * cores
        return total / 3600.0

    def ended_between(self, start: float, end: float) -> list[tuple[str, float]]:
        return [(uid, t) for uid, t in self.gone.items() if start <= t <= end]


@pytest.fixture
def lives(api_client: client.ApiClient, namespace: str) -> Iterator[PodLives]:
    watcher = PodLives(api_client, namespace)
    watcher.start()
    yield watcher
    watcher.stop()


def core_hours_status(ground: Ground, budget: str) -> dict[str, Any]:
    status = ground.cluster.get_json("cbudget", budget).get("status") or {}
    found: dict[str, Any] = status.get("coreHours") or {}
    return found


def next_checkpoint(ground: Ground, budget: str, after: float, timeout: float = 90) -> Any:
    """The budget's status.coreHours once its checkpointTime is later than `after`."""

    def probe() -> dict[str, Any] | None:
        found = core_hours_status(ground, budget)
        at = found.get("checkpointTime")
        return found if at and epoch(at) > after else None

    return wait_for(probe, timeout=timeout, interval=1.0, what=f"{budget}: a checkpoint")


def assert_matches(found: dict[str, Any], lives: PodLives, slack: float = 0.0) -> float:
    """Used in the status within 2 % (+ `slack` core-hours) of the pods' integral."""
    at = epoch(found["checkpointTime"])
    truth = lives.core_hours(at)
    used = float(found["used"])
    assert truth > 0
    # Shown with -s: the figure the issue asks for (within 2 %).
    print(f"core-hours: status {used:.5f}, pods {truth:.5f}, {100 * (used / truth - 1):+.2f} %")
    assert abs(used - truth) <= 0.02 * truth + slack, (used, truth, slack, found)
    return truth


def test_usage_matches_the_pods_and_survives_a_sigkill(
    operator: OperatorProcess, ground: Ground, lives: PodLives
) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    pool = ground.pool("g4", pricePerCoreHour="0.0399")
    budget = ground.budget("team", 32, coreHours={"limit": 1000, "window": "1d"})
    ground.workload("steady", budget=budget, replicas=2, cores=2)
    ground.workload("brief", budget=budget, replicas=1, cores=3)
    ground.wait_status("steady", "Running", phase="Running")
    ground.wait_status("brief", "Running", phase="Running")
    started = time.time()

    # Churn: one more replica, and one workload deleted, while usage accrues.
    wait_for(lambda: time.time() > started + 15, timeout=30, what="15 s of usage")
    ground.cluster.kubectl(
        "patch", "aw", "steady", "-n", ground.namespace, "--type=merge",
        "-p", '{"spec":{"replicas":3}}',
    )  # fmt: skip
    ground.wait_status("steady", "3 running", phase="Running", readyReplicas=3)
    ground.cluster.kubectl("delete", "aw", "brief", "-n", ground.namespace)
    wait_for(lambda: not ground.pods("brief"), timeout=30, what="brief's pods gone")

    found = next_checkpoint(ground, budget, after=time.time() + 1)
    truth = assert_matches(found, lives)
    cost = float(found["cost"].split()[0])
    assert found["cost"].endswith(" USD")
    assert cost == pytest.approx(truth * 0.0399, abs=0.01)
    assert found["heldCores"] == 6 and found["limit"] == 1000
    pools = {row["pool"] for row in found["usage"]}
    assert pools == {pool} and {row["namespace"] for row in found["usage"]} == {ground.namespace}

    # What a user sees: printer columns, the plugin, the metrics and the dashboard's queries.
    table = ground.cluster.kubectl("get", "cbudget", budget).stdout
    header, line = table.splitlines()[:2]
    assert re.split(r"\s{2,}", header)[7:10] == ["CORE-H", "LIMIT-H", "COST"], header
    assert "1000" in line and " USD" in line, line
    rows = list(csv.DictReader(io.StringIO(run_plugin(ground.cluster, "cost", "-o", "csv").stdout)))
    mine = [r for r in rows if r["budget"] == budget]
    assert [(r["pool"], r["namespace"], r["currency"]) for r in mine] == [
        (pool, ground.namespace, "USD")
    ]
    assert float(mine[0]["core_hours"]) > 0
    report = json.loads(run_plugin(ground.cluster, "cost", "-o", "json").stdout)
    entry = next(b for b in report["budgets"] if b["budget"] == budget)
    assert entry["limit"] == 1000 and entry["rows"][0]["pool"] == pool
    assert budget in run_plugin(ground.cluster, "cost").stdout
    assert_dashboard_queries_name_served_metrics(operator.metrics(), budget, pool)

    # SIGKILL mid-window, right after a checkpoint and a pod ending; down for 20 s.
    last = next_checkpoint(ground, budget, after=time.time())
    ground.cluster.kubectl(
        "patch", "aw", "steady", "-n", ground.namespace, "--type=merge",
        "-p", '{"spec":{"replicas":2}}',
    )  # fmt: skip
    ground.wait_status("steady", "2 admitted", admittedReplicas=2)
    operator.stop(kill=True)
    killed = time.time()
    wait_for(lambda: time.time() > killed + 20, timeout=30, what="a 20 s outage")
    operator.start()
    restarted = time.time()
    after = next_checkpoint(ground, budget, after=restarted + 1)
    # Lost at most: what pods that ended after the last checkpoint ran after it, each at most
    # one checkpoint interval plus the outage (here: one replica of 2 cores).
    checkpoint = epoch(last["checkpointTime"])
    ended = lives.ended_between(checkpoint, restarted)
    bound = sum(lives.bound[uid][1] * (t - checkpoint) for uid, t in ended) / 3600.0
    assert (
        bound
        <= sum(lives.bound[uid][1] for uid, _ in ended)
        * (CHECKPOINT_SECONDS + restarted - killed + 5)
        / 3600.0
    )
    assert_matches(after, lives, slack=bound)
    assert float(after["used"]) <= lives.core_hours(epoch(after["checkpointTime"])) * 1.02


def assert_dashboard_queries_name_served_metrics(metrics: str, budget: str, pool: str) -> None:
    """The dashboard is valid JSON and every metric its queries use is served, with data for
    this test's budget and pool where the metric is labelled so."""
    dashboard = json.loads(Path(DASHBOARD).read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]
    exprs += [
        v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v["query"], dict)
    ]
    names = {name for expr in exprs for name in re.findall(r"\bpaddock_[a-z_]+\b", expr)}
    assert names, "the dashboard queries no Paddock metric"
    served = {
        line.split("{")[0].split(" ")[0]
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    missing = sorted(names - served)
    assert not missing, f"dashboard metrics the operator does not serve: {missing}"
    for name in ("paddock_budget_core_seconds_total", "paddock_budget_cost_total"):
        assert re.search(rf'^{name}{{budget="{budget}",.*pool="{pool}"', metrics, re.M), name


def test_exhaustion_queues_scale_to_min_shrinks_and_the_window_rolls(
    ground: Ground,
) -> None:
    window = 120
    # Start early in a calendar window so that it is used up well before it ends.
    wait_for(lambda: time.time() % window < 40, timeout=window, interval=0.5, what="window start")
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    # 0.05 core-hours = 180 core-seconds: 8 cores use it up in about 23 s.
    budget = ground.budget(
        "capped",
        32,
        coreHours={"limit": 0.05, "window": "2m", "onExhausted": "ScaleToMin"},
    )
    ground.workload("elastic", budget=budget, replicas=4, minReplicas=1, cores=2)
    ground.wait_status("elastic", "Running", phase="Running", admittedReplicas=4)
    window_start = int(time.time() // window * window)

    shrunk = ground.wait_status("elastic", "shrunk to min", timeout=60, admittedReplicas=1)
    assert time.time() < window_start + window, "the window ended before it was used up"
    assert "core-hours" in shrunk["message"], shrunk["message"]
    found = core_hours_status(ground, budget)
    assert float(found["used"]) >= 0.05
    assert epoch(found["freesAt"]) == window_start + window  # a calendar window frees at its end
    conditions = ground.cluster.get_json("cbudget", budget)["status"]["conditions"]
    available = next(c for c in conditions if c["type"] == "CoreHoursAvailable")
    assert (available["status"], available["reason"]) == ("False", "CoreHoursExhausted")

    ground.workload("late", budget=budget, replicas=1, cores=1)
    late = ground.wait_status("late", "queued", phase="Queued", reason="CoreHoursExhausted")
    assert "0.05 core-hours" in late["message"] and "frees at" in late["message"], late
    assert time.time() < window_start + window

    # The next window: admitted again.
    ground.wait_status("late", "admitted in the next window", timeout=window, phase="Running")
    assert time.time() >= window_start + window
    after = core_hours_status(ground, budget)
    assert epoch(after["windowStart"]) >= window_start + window


def test_rolling_window_frees_as_old_usage_leaves_it(ground: Ground) -> None:
    """Queue on a 2-minute rolling window: used up by a burst, then admitted again once the
    burst's steps (5 s each) have left the window, at the freesAt the status announced."""
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    # 0.02 core-hours = 72 core-seconds: 6 cores use it up in 12 s.
    budget = ground.budget(
        "rolling",
        32,
        coreHours={"limit": 0.02, "window": "2m", "windowType": "Rolling"},
    )
    ground.workload("burst", budget=budget, replicas=3, cores=2)
    ground.wait_status("burst", "Running", phase="Running")

    def exhausted() -> dict[str, Any] | None:
        found = core_hours_status(ground, budget)
        return found if float(found.get("used") or 0) >= 0.02 else None

    # Running pods that alone fill the rolling window: no freesAt until they stop.
    assert "freesAt" not in wait_for(exhausted, timeout=60, interval=1.0, what="exhausted")
    ground.workload("late", budget=budget, replicas=1, cores=1)
    late = ground.wait_status("late", "queued", phase="Queued", reason="CoreHoursExhausted")
    assert "0.02 core-hours" in late["message"], late["message"]
    assert "frees once they stop" in late["message"], late["message"]
    ground.cluster.kubectl("delete", "aw", "burst", "-n", ground.namespace)
    wait_for(lambda: not ground.pods("burst"), timeout=30, what="the burst's pods gone")
    # With nothing running, the status says when enough usage has left the window.
    frees = epoch(
        wait_for(
            lambda: (
                (core_hours_status(ground, budget).get("heldCores") == 0)
                and core_hours_status(ground, budget)
            ),
            timeout=60,
            interval=1.0,
            what="a checkpoint with nothing running",
        )["freesAt"]
    )
    assert frees > time.time()
    ground.wait_status("late", "admitted once the window frees", timeout=180, phase="Running")
    admitted_at = time.time()
    # Not before freesAt (give or take a cycle), and not much after it.
    assert frees - 2 <= admitted_at <= frees + 30, (frees, admitted_at)
    after = core_hours_status(ground, budget)
    assert "windowEnd" not in after and float(after["used"]) < 0.02
