"""From API objects to the answer: the operator's observed facts and SnapshotBuilder, then the
command line (arguments, exit codes, text and JSON), without a cluster."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from paddock.controller.cluster_state import ClusterState
from paddock.kubectl_plugin import cli, main
from paddock.kubectl_plugin.cluster import Connection, PluginError, state_from_objects
from paddock.kubectl_plugin.view import View

TAINT = {"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"}


def node(name: str, cpu: str, pool: str = "g4") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/arch": "arm64",
                "node.kubernetes.io/instance-type": "c8g.4xlarge",
                "topology.kubernetes.io/zone": "us-west-2a",
                "karpenter.sh/nodepool": pool,
            },
        },
        "spec": {"taints": [TAINT]},
        "status": {
            "allocatable": {"cpu": cpu, "memory": "30Gi"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str, node_name: str, cpu: str, workload: str | None = None) -> dict[str, Any]:
    labels = {"paddock.dev/workload": workload, "paddock.dev/pool": "g4"} if workload else {}
    # Paddock's pods belong to a ReplicaSet of the workload's own Deployment.
    owners = (
        [{"kind": "ReplicaSet", "name": f"{workload}-g4-5d8f", "controller": True}]
        if workload
        else []
    )
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "labels": labels,
            "ownerReferences": owners,
        },
        "spec": {
            "nodeName": node_name,
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def objects() -> dict[str, list[dict[str, Any]]]:
    meta = {"uid": "u", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"}
    template = {"spec": {"containers": [{"name": "agent", "image": "agent:1"}]}}
    return {
        "nodes": [node("n1", "15900m"), node("n2", "15900m")],
        "pods": [
            pod("daemon", "n1", "500m"),
            pod("first-0", "n1", "4", workload="first"),
            pod("first-1", "n2", "4", workload="first"),
        ],
        "deployments": [
            {
                "metadata": {
                    "name": "first-g4",
                    "namespace": "team",
                    "uid": "d1",
                    "labels": {"paddock.dev/workload": "first", "paddock.dev/pool": "g4"},
                    "ownerReferences": [
                        {"kind": "AgentWorkload", "name": "first", "uid": "w1", "controller": True}
                    ],
                },
                "spec": {"replicas": 2},
                "status": {"readyReplicas": 2},
            }
        ],
        "namespaces": [{"metadata": {"name": "team", "labels": {"team": "a"}}}],
        "pools": [
            {
                "metadata": {"name": "g4", **meta, "uid": "p"},
                "spec": {
                    "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": "g4"}},
                    "tolerations": [{**TAINT, "operator": "Equal"}],
                },
            }
        ],
        "budgets": [
            {
                "metadata": {"name": "small", **meta, "uid": "b"},
                "spec": {"namespaceSelector": {"matchLabels": {"team": "a"}}, "cores": 8},
            }
        ],
        "workloads": [
            {
                "metadata": {"name": "first", "namespace": "team", **meta, "uid": "w1"},
                "spec": {
                    "replicas": 2,
                    "coresPerReplica": 4,
                    "memoryPerReplica": "1Gi",
                    "template": template,
                },
                "status": {
                    "phase": "Running",
                    "reason": "Admitted",
                    "admittedReplicas": 2,
                    "observedGeneration": 1,
                },
            },
            {
                "metadata": {
                    "name": "second",
                    "namespace": "team",
                    **meta,
                    "uid": "w2",
                    "creationTimestamp": "2026-01-01T00:01:00Z",
                },
                "spec": {
                    "replicas": 1,
                    "coresPerReplica": 4,
                    "memoryPerReplica": "1Gi",
                    "template": template,
                },
            },
            {
                "metadata": {"name": "broken", "namespace": "team", **meta, "uid": "w3"},
                "spec": {"replicas": 0, "coresPerReplica": 4, "template": template},
            },
        ],
    }


def state() -> ClusterState:
    return state_from_objects(**objects())


def test_objects_go_through_the_operators_facts_and_snapshot() -> None:
    s = state()
    nodes = {n.name: n for n in s.snapshot.nodes}
    # floor(15.9 - 0.5 - 4) = 11 on n1, floor(15.9 - 4) = 11 on n2.
    assert (nodes["n1"].free_cores, nodes["n2"].free_cores, nodes["n1"].pool) == (11, 11, "g4")
    workloads = {w.key: w for w in s.snapshot.workloads}
    assert workloads["team/first"].current == (("g4", 2),)
    assert workloads["team/first"].placed == (("n1", 1), ("n2", 1))
    assert workloads["team/second"].budget_candidates == ("small",)
    # An unreadable workload is still planned (as invalid), so what it runs stays counted.
    assert workloads["team/broken"].invalid and s.workloads["team/broken"].errors


def test_view_carries_statuses_staleness_and_problems() -> None:
    v = View.from_state(state())
    assert v.plan.workloads["team/second"].reason == "BudgetExhausted"
    assert v.statuses["team/first"]["phase"] == "Running"
    assert v.stale == {"team/first": False, "team/second": True, "team/broken": True}
    assert [(p.kind, p.name) for p in v.problems] == [("AgentWorkload", "team/broken")]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str | None, str | None]]]:
    """main() against `objects()` instead of a cluster; records the kubeconfig/context used."""
    seen: list[tuple[str | None, str | None]] = []

    def connect(kubeconfig: str | None, context: str | None) -> Connection:
        seen.append((kubeconfig, context))
        return Connection(api=None, namespace="team")  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "connect", connect)
    monkeypatch.setattr(cli, "read_cluster", lambda api: state())
    monkeypatch.setattr(cli, "read_events", lambda api, namespace, name: [])
    monkeypatch.setattr(cli, "read_scaling", lambda *args: None)
    yield seen


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_explain_text_uses_the_contexts_namespace(offline: list[Any]) -> None:
    code, text = run("explain", "second")
    assert code == 0
    assert "AgentWorkload team/second" in text
    assert "budget small: 8 of 8 used" in text
    assert "team/first (budget small, priority 0): 2 replicas, 8 cores" in text
    assert "operator  no status written yet" in text


def test_options_before_or_after_the_subcommand(offline: list[Any]) -> None:
    code, out = run("--context", "ctx", "explain", "aw/second", "-o", "json", "-n", "team")
    assert code == 0
    data = json.loads(out)
    assert (data["workload"], data["reason"]) == ("team/second", "BudgetExhausted")
    code, _ = run("status", "--kubeconfig", "/tmp/k")
    assert offline == [(None, "ctx"), ("/tmp/k", None)]


def test_status_json_and_text(offline: list[Any]) -> None:
    code, out = run("status", "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert data["budgets"][0]["used"] == 8
    assert [q["workload"] for q in data["queue"]] == ["team/second"]
    assert data["invalid"][0]["name"] == "team/broken"
    code, text = run("status", "-n", "elsewhere")
    assert code == 0 and "nothing waits" in text


def test_invalid_workload_is_explained_by_its_errors(offline: list[Any]) -> None:
    code, text = run("explain", "broken", "-n", "team")
    assert code == 0
    assert "InvalidSpec" in text and "memoryPerReplica" in text


def test_missing_workload_exits_1_with_a_clear_error(
    offline: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run("explain", "absent")
    assert (code, out) == (1, "")
    err = capsys.readouterr().err
    assert 'agentworkload "absent" not found in namespace "team"' in err
    assert "broken, first, second" in err


def test_cluster_errors_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(kubeconfig: str | None, context: str | None) -> Connection:
        raise PluginError("cannot load kubeconfig: no such file")

    monkeypatch.setattr(cli, "connect", refuse)
    assert run("status") == (1, "")
    assert "error: cannot load kubeconfig" in capsys.readouterr().err
