"""Node faults under full pools, in bulk: how many running pods does Paddock delete? None.

Issue #14 item 5. test_safety.py proves each node event on one workload; this suite runs them
one after the other over a pool filled by several fixed and elastic workloads (plus one that
queues because the pool is full), and counts every running pod that disappears, classified by
tests/support/podwatch.py: gone with its deleted node, evicted by the test's own drain, gone
after a spec change, or else deleted by Paddock. The last count must be 0; the figures are
printed for docs/reliability.md.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from kubernetes import client

from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.podwatch import PodWatch
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("operator")

# name: (replicas, coresPerReplica, minReplicas); 7-core nodes: 5 x 7 + 6 x 3 + 3 x 1 = 56 cores
FILL: dict[str, tuple[int, int, int | None]] = {
    "elastic-a": (3, 7, 1),
    "fixed-b": (2, 7, None),
    "elastic-c": (4, 3, 2),
    "fixed-d": (2, 3, None),
    "fixed-e": (3, 1, None),
}
NODES = 8


def pool_status(ground: Ground, pool: str) -> dict[str, Any]:
    found: dict[str, Any] = ground.cluster.get_json("cpool", pool).get("status") or {}
    return found


def wait_ready_nodes(ground: Ground, pool: str, count: int, timeout: float = 60) -> None:
    wait_for(
        lambda: pool_status(ground, pool).get("readyNodes") == count,
        timeout=timeout,
        what=f"pool {pool} reporting {count} ready nodes",
    )


def wait_node(ground: Ground, node: str, *, ready: bool) -> None:
    wait_for(
        lambda: ground.node_ready(node) == ready,
        timeout=120,
        what=f"{node} {'Ready' if ready else 'NotReady'}",
    )


def hold(watch: PodWatch, seconds: float) -> None:
    """Let the operator run some cycles over the fault while the poller watches (a deadline
    on observation, not a wait for a condition: nothing is supposed to happen)."""
    polls = watch.polls
    deadline = time.monotonic() + seconds
    wait_for(
        lambda: time.monotonic() >= deadline and watch.polls > polls + 3,
        timeout=seconds + 60,
        what="the hold to pass",
    )


def nodes_with_pods(watch: PodWatch, nodes: list[str]) -> list[str]:
    return [n for n in nodes if watch.running_on(n)]


def test_node_faults_under_full_pools_delete_no_running_pod(
    ground: Ground, api_client: client.ApiClient, operator: OperatorProcess
) -> None:
    started = time.monotonic()
    nodes = ground.add_nodes("nf", "c8g.2xlarge", NODES)
    pool = ground.pool("nf")
    budget = ground.budget("team", 200)
    for name, (replicas, cores, floor) in FILL.items():
        extra: dict[str, Any] = {"minReplicas": floor} if floor else {}
        ground.workload(name, budget=budget, replicas=replicas, cores=cores, **extra)
    for name in FILL:
        ground.wait_status(name, "Running", phase="Running", timeout=120)
    ground.workload("queued", budget=budget, replicas=1, cores=4)
    ground.wait_status("queued", "queued: the pool is full", reason="NoCapacity", timeout=60)
    wait_for(
        lambda: pool_status(ground, pool).get("freeCores") == 0,
        timeout=60,
        what="the pool full",
    )
    watch = PodWatch(api_client, ground.namespace)
    watch.start()
    pods = {name: watch.running_count(name) for name in FILL}
    assert sum(pods.values()) == sum(r for r, _, _ in FILL.values()), pods
    figures: dict[str, Any] = {"pods": sum(pods.values()), "nodes": NODES}
    try:
        # Cordon three nodes that run pods: nothing may go.
        cordoned = nodes_with_pods(watch, nodes)[:3]
        ground.cluster.kubectl("cordon", *cordoned)
        wait_ready_nodes(ground, pool, NODES - 3)
        hold(watch, 10)
        ground.cluster.kubectl("uncordon", *cordoned)
        wait_ready_nodes(ground, pool, NODES)
        figures["cordon"] = dict(watch.counts())
        assert not watch.gone, watch.gone

        # NotReady: kwok stops heartbeating two nodes without its `type` label.
        lost = nodes_with_pods(watch, nodes)[3:5]
        for node in lost:
            ground.cluster.kubectl("label", "node", node, "type-")
        for node in lost:
            wait_node(ground, node, ready=False)
        wait_ready_nodes(ground, pool, NODES - 2)
        hold(watch, 20)
        for node in lost:
            ground.cluster.kubectl("label", "node", node, "type=kwok")
        for node in lost:
            wait_node(ground, node, ready=True)
        wait_ready_nodes(ground, pool, NODES)
        figures["not_ready"] = dict(watch.counts())
        assert not watch.gone, watch.gone

        # Drain two nodes with Paddock's PodDisruptionBudgets: fixed workloads block it (their
        # floor is every replica), elastic ones give up at most down to minReplicas.
        # Two nodes of the elastic workload with the lowest floor, and one of a fixed one.
        elastic = [n for n in nodes if "elastic-a" in watch.running_on(n)][:2]
        fixed = [n for n in nodes if "fixed-b" in watch.running_on(n) and n not in elastic][:1]
        drained = elastic + fixed
        floors = {n: f for n, (_, _, f) in FILL.items() if f}
        lowest = dict(pods)
        outcomes = []
        for node in drained:
            watch.drain(node)
            result = ground.cluster.kubectl(
                "drain",
                node,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--timeout=30s",
                check=False,
                timeout=90,
            )
            outcomes.append(result.returncode)
            for name in FILL:
                lowest[name] = min(lowest[name], watch.running_count(name))
        hold(watch, 10)
        for name in FILL:
            lowest[name] = min(lowest[name], watch.running_count(name))
        ground.cluster.kubectl("uncordon", *drained)
        figures["drain"] = {
            "nodes": len(drained),
            "exit codes": outcomes,
            "evicted": watch.counts()["drained"],
            "lowest running": lowest,
        }
        if fixed:  # the fixed workload's PodDisruptionBudget refuses every eviction
            assert outcomes[-1] != 0, "draining a node of a fixed workload succeeded"
        for name, floor in floors.items():
            assert lowest[name] >= floor, (name, lowest[name], floor)
        for name in FILL:
            if name not in floors:  # fixed: the PodDisruptionBudget protects every replica
                assert lowest[name] == pods[name], (name, lowest[name])
        # The evicted replicas come back where the drain made room again. (Pod phase, not
        # readiness: kwok does not mark the pods of a node that was NotReady ready again.)
        wait_for(
            lambda: all(watch.running_count(n) == r for n, (r, _, _) in FILL.items()),
            timeout=120,
            what="every replica running again after the drain",
        )

        # Delete two nodes that run pods: their pods go with them, nothing else may.
        doomed = nodes_with_pods(watch, nodes)[-2:]
        on_doomed = sum(len(watch.running_on(n)) for n in doomed)
        ground.cluster.kubectl("delete", "node", *doomed)
        wait_ready_nodes(ground, pool, NODES - 2)
        wait_for(
            lambda: watch.counts()["node gone"] >= on_doomed,
            timeout=120,
            what="the deleted nodes' pods gone",
        )
        hold(watch, 20)
        figures["node deletion"] = {"pods on deleted nodes": on_doomed}
    finally:
        watch.stop()
    figures["gone"] = dict(watch.counts())
    figures["deleted by paddock"] = len(watch.by_paddock())
    figures["seconds"] = round(time.monotonic() - started)
    figures["load"] = [round(x, 2) for x in os.getloadavg()]
    print(f"\nnode faults: {figures}")
    assert watch.by_paddock() == [], watch.by_paddock()
    assert operator.process is not None and operator.process.poll() is None
