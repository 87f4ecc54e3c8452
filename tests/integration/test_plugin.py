"""`kubectl paddock` against the real control plane, with the real operator deciding.

Each scenario lets the operator settle, then runs the installed plugin as a user would and
checks that the explanation names the figure that really blocks the workload (and that a change
it proposes is one the planner would admit).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.paddock import Ground

pytestmark = pytest.mark.usefixtures("operator")

PLUGIN = "kubectl-paddock"


def plugin_path() -> str:
    """The console script installed with the package (next to this Python)."""
    beside = Path(sys.executable).parent / PLUGIN
    if beside.exists():
        return str(beside)
    found = shutil.which(PLUGIN)
    assert found, f"{PLUGIN} is not installed (pip install -e .)"
    return found


def run_plugin(
    cluster: Cluster, *args: str, expect: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [plugin_path(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig), **(env or {})},
    )
    assert result.returncode == expect, (
        f"{PLUGIN} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
    return result


def explain(cluster: Cluster, namespace: str, name: str) -> tuple[str, dict[str, Any]]:
    text = run_plugin(cluster, "explain", name, "-n", namespace).stdout
    data = json.loads(run_plugin(cluster, "explain", name, "-n", namespace, "-o", "json").stdout)
    return text, data


def test_explain_a_workload_queued_for_capacity(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)  # 15 whole cores each, never 16
    pool = ground.pool("g4")
    budget = ground.budget("team", 64)
    ground.workload("huge", budget=budget, replicas=1, cores=16)
    ground.wait_status("huge", "NoCapacity", phase="Queued", reason="NoCapacity")

    text, data = explain(ground.cluster, ground.namespace, "huge")
    assert "needs 16 cores" in text, text
    assert "largest free block 15" in text, text
    assert f"budget {budget}: 0 of 64 used" in text, text
    assert data["reason"] == "NoCapacity"
    assert data["operator"]["agrees"] is True
    (fit,) = [p for p in data["pools"] if p["pool"] == pool]
    assert (fit["largest_free_block"], fit["free_cores"], fit["fits_replicas"]) == (15, 30, 0)
    helps = {w["change"]: w for w in data["what_ifs"] if w["helps"]}
    assert helps["coresPerReplica: 15"]["outcome"] == "admitted", helps
    assert any(c.startswith("replicas: 2, coresPerReplica: 8") for c in helps), helps


def test_explain_a_workload_queued_for_budget_and_status_tables(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("small", 8)
    ground.workload("first", budget=budget, replicas=2, cores=4)
    ground.wait_status("first", "Running", phase="Running")
    ground.workload("second", budget=budget, replicas=1, cores=4)
    ground.wait_status("second", "queued", phase="Queued", reason="BudgetExhausted")

    text, data = explain(ground.cluster, ground.namespace, "second")
    assert f"budget {budget}: 8 of 8 used" in text, text
    assert "needs 4 cores" in text, text
    assert f"{ground.namespace}/first" in text, text  # who holds the cores
    assert f"budget {budget} cores: 8 → 12: would be admitted" in text, text
    assert data["budget_math"]["used"] == data["budget_math"]["nominal"] == 8
    assert data["budget_math"]["available"] == 0

    # The same through kubectl's plugin mechanism, with the kubeconfig as a flag.
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not on PATH"
    path = f"{Path(plugin_path()).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    via_kubectl = subprocess.run(
        [kubectl, "paddock", "status", "-n", ground.namespace],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": path, "KUBECONFIG": str(ground.cluster.kubeconfig)},
    )
    assert via_kubectl.returncode == 0, via_kubectl.stderr
    budgets, _pools, queue = via_kubectl.stdout.split("\n\n")[:3]
    (budget_row,) = [r for r in budgets.splitlines() if r.startswith(budget + " ")]
    # BUDGET COHORT QUEUEING NOMINAL USED BORROWED LENT FREE AVAILABLE PENDING ...
    assert budget_row.split()[3:10] == ["8", "8", "0", "0", "0", "0", "4"], budget_row
    (queued,) = [r for r in queue.splitlines() if f"{ground.namespace}/second" in r]
    assert "BudgetExhausted" in queued and queued.split()[1] == "1", queued

    status = json.loads(
        run_plugin(
            ground.cluster,
            "status",
            "--kubeconfig",
            str(ground.cluster.kubeconfig),
            "-o",
            "json",
        ).stdout
    )
    (row,) = [b for b in status["budgets"] if b["name"] == budget]
    assert (row["used"], row["free"], row["pending_cores"]) == (8, 0, 4)


def test_explain_a_partly_admitted_workload(ground: Ground) -> None:
    ground.add_nodes("g3", "c7g.2xlarge", 1)  # 7 whole cores
    ground.pool("g3")
    budget = ground.budget("team", 100)
    ground.workload("elastic", budget=budget, replicas=4, minReplicas=2, cores=2)
    ground.wait_status("elastic", "partly admitted", admittedReplicas=3, phase="Running")

    text, data = explain(ground.cluster, ground.namespace, "elastic")
    assert "3 of 4 replicas admitted" in text, text
    assert "largest free block 1 < 2 cores per replica" in text, text
    assert data["reason"] == "PartiallyAdmitted"
    assert data["admitted_replicas"] == 3
    (fit,) = [p for p in data["pools"] if p["usable"]]
    assert (fit["free_cores"], fit["largest_free_block"], fit["fits_replicas"]) == (1, 1, 0)
    helps = {w["change"]: w for w in data["what_ifs"] if w["helps"]}
    assert helps["coresPerReplica: 1"]["admitted_replicas"] == 4, helps


def test_explain_a_preempted_workload(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 8, preemption={"withinBudget": "LowerPriority"})
    ground.workload("batch", budget=budget, replicas=2, cores=4, priority=0)  # all or nothing
    ground.wait_status("batch", "Running", phase="Running", admittedReplicas=2)
    ground.workload("urgent", budget=budget, replicas=1, cores=4, priority=100)
    ground.wait_status("urgent", "Running", phase="Running", timeout=45)
    ground.wait_status("batch", "evicted and queued", phase="Queued", reason="BudgetExhausted")

    text, data = explain(ground.cluster, ground.namespace, "batch")
    assert "needs 8 cores" in text, text
    assert f"budget {budget}: 4 of 8 used" in text, text
    assert f"{ground.namespace}/urgent (budget {budget}, priority 100)" in text, text
    # Its history says who preempted it; the what-ifs say what admits it now.
    preempted = [e for e in data["events"] if e["reason"] == "Preempted"]
    assert preempted and "urgent" in preempted[-1]["message"], data["events"]
    helps = {w["change"]: w for w in data["what_ifs"] if w["helps"]}
    assert helps["replicas: 1"]["outcome"] == "admitted", helps
    assert f"budget {budget} can admit 4 now" in helps["replicas: 1"]["detail"], helps
    assert helps["priority: 101 (above every other workload of budget " + budget + ")"][
        "victims"
    ] == [f"{ground.namespace}/urgent (evicted)"], helps


def test_explain_a_missing_workload_fails_clearly(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    budget = ground.budget("team", 8)
    ground.workload("present", budget=budget, replicas=1, cores=1)
    ground.wait_status("present", "Running", phase="Running")
    result = run_plugin(ground.cluster, "explain", "absent", "-n", ground.namespace, expect=1)
    assert f'agentworkload "absent" not found in namespace "{ground.namespace}"' in result.stderr
    assert "present" in result.stderr  # what is there instead
    assert result.stdout == ""
