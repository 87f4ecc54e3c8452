"""Admission against an autoscaled pool's potential nodes: Provisioning, preference for existing
nodes, the deadline, and the NodePool's limit in the reasons."""

from __future__ import annotations

from dataclasses import replace

from paddock.planner import Node, Pool, Reason, Snapshot, plan

from .builders import GI, budget, node, snapshot, workload

HEADROOM = "NodePool np: limits.cpu 64, 0 cores in use or launching, headroom 64 cores"


def potential(name: str, cores: int, pool: str = "auto") -> Node:
    return Node(
        name=name,
        pool=pool,
        zone="",
        arch="arm64",
        schedulable=True,
        free_cores=cores,
        free_memory=100 * GI,
        potential=True,
    )


def auto_pool(timeout: float = 120.0) -> Pool:
    return Pool(name="auto", node_pool="np", provisioning_timeout=timeout, headroom=HEADROOM)


def test_empty_autoscaled_pool_admits_as_provisioning() -> None:
    snap = snapshot(
        nodes=[potential("auto/np/launchable-0", 63)],
        pools=[auto_pool()],
        workloads=[workload("agent", cores=8, replicas=4)],
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.state, d.reason, d.admitted_replicas) == ("Admitted", Reason.PROVISIONING, 4)
    assert d.provisioning_replicas == 4
    assert d.assignments == (("auto", 4),)
    assert "wait for a node launch" in d.message and "NodePool np" in d.message
    assert plan(snap).pools["auto"].free_cores_after_plan == 0  # potential cores are not free


def test_existing_nodes_are_preferred_to_a_launch() -> None:
    snap = snapshot(
        nodes=[potential("auto/np/launchable-0", 63), node("real", 16, pool="auto")],
        pools=[auto_pool()],
        workloads=[workload("agent", cores=8, replicas=3)],
    )
    d = plan(snap).workloads["ns/agent"]
    assert dict(d.placements) == {"real": 2, "auto/np/launchable-0": 1}
    assert d.provisioning_replicas == 1


def test_a_replica_that_fits_another_pool_now_never_waits_for_a_launch() -> None:
    snap = snapshot(
        nodes=[potential("auto/np/launchable-0", 63), node("g4-0", 16, pool="g4")],
        pools=[auto_pool(), Pool(name="g4")],
        workloads=[workload("agent", cores=8, replicas=2, pools=("auto", "g4"))],
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.reason, d.provisioning_replicas, d.assignments) == (
        Reason.ADMITTED,
        0,
        (("g4", 2),),
    )


def test_beyond_the_headroom_waits_naming_the_node_pool() -> None:
    snap = snapshot(
        nodes=[potential("auto/np/launchable-0", 15)],
        pools=[auto_pool()],
        workloads=[workload("agent", cores=8, replicas=4)],
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.state, d.reason) == ("Queued", Reason.NO_CAPACITY)
    assert "NodePool np: limits.cpu 64" in d.message


def test_admitted_replicas_keep_waiting_for_their_launch_before_the_deadline() -> None:
    w = replace(
        workload("agent", cores=8, replicas=4, current=(("auto", 4),)),
        provisioning_since=1000.0,
    )
    snap = replace(
        snapshot(
            nodes=[potential("c", 31), potential("d", 31)], pools=[auto_pool()], workloads=[w]
        ),
        now=1100.0,
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.reason, d.admitted_replicas, d.provisioning_replicas) == (
        Reason.PROVISIONING,
        4,
        4,
    )


def test_the_deadline_withdraws_and_requeues_with_numbers() -> None:
    w = replace(
        workload("agent", cores=8, replicas=4, current=(("auto", 4),)),
        provisioning_since=1000.0,
    )
    snap = replace(
        snapshot(nodes=[potential("c", 63)], pools=[auto_pool(120)], workloads=[w]),
        now=1121.0,
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.state, d.reason, d.admitted_replicas) == ("Queued", Reason.PROVISIONING_TIMEOUT, 0)
    assert "4 replicas (32 cores) waited 121 seconds" in d.message
    assert "provisioningTimeout of 120 seconds" in d.message
    assert any("provisioning timed out" in e for e in d.events)


def test_after_a_timeout_no_launch_is_asked_for_one_more_timeout() -> None:
    w = replace(workload("agent", cores=8, replicas=4), provisioning_timed_out=1000.0)
    snap = replace(
        snapshot(nodes=[potential("c", 63)], pools=[auto_pool(120)], workloads=[w]), now=1060.0
    )
    assert plan(snap).workloads["ns/agent"].reason == Reason.PROVISIONING_TIMEOUT
    later = replace(snap, now=1130.0)
    assert plan(later).workloads["ns/agent"].reason == Reason.PROVISIONING


def test_running_pods_keep_their_place_and_only_the_rest_waits_for_a_launch() -> None:
    w = replace(
        workload("agent", cores=8, replicas=4, current=(("auto", 4),), placed=(("real", 1),)),
        provisioning_since=1000.0,
    )
    snap = replace(
        snapshot(
            nodes=[node("real", 7, pool="auto"), potential("c", 31)],
            pools=[auto_pool()],
            budgets=[budget(cores=32)],
            workloads=[w],
        ),
        now=1010.0,
    )
    d = plan(snap).workloads["ns/agent"]
    assert (d.admitted_replicas, d.provisioning_replicas) == (4, 3)
    assert d.reason == Reason.PROVISIONING


def test_a_snapshot_without_potential_nodes_plans_as_before() -> None:
    snap: Snapshot = snapshot(nodes=[node("n", 16)], workloads=[workload("a", cores=8)])
    d = plan(snap).workloads["ns/a"]
    assert (d.reason, d.provisioning_replicas) == (Reason.ADMITTED, 0)
