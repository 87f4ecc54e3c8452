"""Autoscaled pools with real Karpenter (its kwok cloud provider) on the local control plane.

From an empty NodePool with limits.cpu 64: a 4 x 8-core workload goes Provisioning, then Running
on arm64 nodes Karpenter launched for that NodePool; a second one that would pass the limit
waits, naming the NodePool and its limit; the NodePool's cores never pass its limit; a launch
that cannot succeed ends in ProvisioningTimeout; deleting the workloads lets Karpenter
consolidate the nodes away.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.support.cluster import Cluster
from tests.support.karpenter import LimitSampler, NodePools, ensure_karpenter
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

LIMIT = 64


@pytest.fixture(scope="module")
def karpenter(cluster: Cluster, operator: OperatorProcess) -> Iterator[None]:
    """Karpenter running; the operator restarted so it discovers Karpenter's API."""
    ensure_karpenter(cluster)
    operator.stop()
    operator.start()
    yield


@pytest.fixture
def node_pools(cluster: Cluster, api_client: client.ApiClient) -> Iterator[NodePools]:
    made = NodePools(cluster, api_client)
    yield made
    made.cleanup()


def autoscaled_pool(ground: Ground, base: str, node_pool: str, timeout: str) -> str:
    name = ground.name(base)
    ground.create(
        "CorePool",
        name,
        {
            "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": node_pool}},
            "tolerations": [
                {"key": "kubernetes.io/arch", "operator": "Equal", "value": "arm64",
                 "effect": "NoSchedule"}
            ],
            "autoscaling": {"nodePool": node_pool, "provisioningTimeout": timeout},
        },
    )  # fmt: skip
    ground.pools.append(name)
    return name


def test_provisioning_running_limit_and_consolidation(
    karpenter: None, ground: Ground, node_pools: NodePools, cluster: Cluster
) -> None:
    np = node_pools.create(ground.name("np"), limit_cpu=LIMIT)
    node_pools.wait_ready(np)
    pool = autoscaled_pool(ground, "auto", np, "3m")
    budget = ground.budget("team", 1000)
    sampler = LimitSampler(node_pools, np).start()
    try:
        start = time.monotonic()
        ground.workload("first", budget=budget, replicas=4, cores=8)
        provisioning = ground.wait_status("first", "Provisioning", timeout=60, phase="Provisioning")
        assert provisioning["admittedReplicas"] == 4
        assert f"NodePool {np}" in provisioning["message"], provisioning["message"]
        assert "wait for a node launch" in provisioning["message"]
        ground.wait_status("first", "Running on launched nodes", timeout=240, phase="Running")
        print(f"first: create -> Running through a launch in {time.monotonic() - start:.1f} s")

        pods = ground.running_pods("first")
        assert len(pods) == 4
        launched = {n["metadata"]["name"]: n["metadata"]["labels"] for n in node_pools.nodes(np)}
        for pod in pods:
            labels = launched[pod["spec"]["nodeName"]]  # on a node Karpenter launched for np
            assert labels["kubernetes.io/arch"] == "arm64"
            assert labels["karpenter.sh/nodepool"] == np
            assert labels["node.kubernetes.io/instance-type"].startswith("c7g.")
            assert labels["karpenter.k8s.aws/instance-family"] == "c7g"

        ground.workload("second", budget=budget, replicas=4, cores=8)
        waiting = ground.wait_status(
            "second", "waiting for the NodePool's limit", timeout=60, phase="Queued"
        )
        assert f"NodePool {np}: limits.cpu {LIMIT}" in waiting["message"], waiting["message"]
        assert waiting["reason"] == "NoCapacity"

        status = cluster.get_json("corepool", pool)["status"]
        assert status["nodePoolLimitCores"] == LIMIT
        assert status["nodePoolCores"] <= LIMIT
        assert status["headroomCores"] == LIMIT - status["nodePoolCores"]
    finally:
        most = sampler.stop()
    assert sampler.samples, "the NodePool was never sampled"
    assert most <= LIMIT * 1000, f"NodePool {np} reached {most}m CPU, above its limit"

    for name in ("first", "second"):
        cluster.kubectl("delete", "aw", name, "-n", ground.namespace, "--wait=false")
    wait_for(
        lambda: not node_pools.claims(np) and not node_pools.nodes(np),
        timeout=240,
        interval=2,
        what=f"Karpenter to consolidate NodePool {np}'s nodes away",
    )


def test_a_launch_that_cannot_succeed_ends_in_provisioning_timeout(
    karpenter: None, ground: Ground, node_pools: NodePools
) -> None:
    # Karpenter's cloud offers no zone us-west-2d: no instance type can be launched for the
    # replica, which Paddock (knowing instance types, not the cloud's offerings) cannot see.
    np = node_pools.create(ground.name("nozone"), limit_cpu=LIMIT, zones=("us-west-2d",))
    node_pools.wait_ready(np)
    autoscaled_pool(ground, "nozone", np, "20s")
    budget = ground.budget("team", 100)
    ground.workload("stuck", budget=budget, replicas=1, cores=4)
    ground.wait_status("stuck", "Provisioning", timeout=60, phase="Provisioning")
    started = time.monotonic()
    timed_out = ground.wait_status(
        "stuck", "ProvisioningTimeout", timeout=90, reason="ProvisioningTimeout", phase="Queued"
    )
    assert time.monotonic() - started < 90
    assert "provisioningTimeout of 20 seconds" in timed_out["message"], timed_out["message"]
    assert timed_out["admittedReplicas"] == 0
    assert not ground.deployments("stuck") or all(
        (d["spec"].get("replicas") or 0) == 0 for d in ground.deployments("stuck")
    )


def test_consolidation_and_replacement_never_withdraw_an_admission(
    karpenter: None, ground: Ground, node_pools: NodePools, cluster: Cluster
) -> None:
    """Karpenter takes a node away under running replicas (deleting its NodeClaim: drain,
    terminate, as consolidation or drift do): the workload keeps its admission throughout, its
    replicas are re-placed (on the replacement Karpenter launches) and it is Running again."""
    np = node_pools.create(ground.name("churn"), limit_cpu=LIMIT)
    node_pools.wait_ready(np)
    autoscaled_pool(ground, "churn", np, "3m")
    budget = ground.budget("team", 1000)
    # Elastic (minReplicas 1): Paddock's PodDisruptionBudget (minAvailable = minReplicas) lets
    # Karpenter drain one replica at a time. A fixed-size workload's budget blocks the drain.
    ground.workload("steady", budget=budget, replicas=2, cores=8, minReplicas=1)
    ground.wait_status("steady", "Running", timeout=240, phase="Running")
    (claim,) = node_pools.claims(np)

    admitted: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a slow API server: the next sample counts
                admitted.append(int(ground.status("steady").get("admittedReplicas") or 0))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        cluster.kubectl("delete", "nodeclaim", claim["metadata"]["name"], "--wait=false")
        wait_for(
            lambda: (
                claim["metadata"]["name"]
                not in {c["metadata"]["name"] for c in node_pools.claims(np)}
            ),
            timeout=180,
            interval=1,
            what="the NodeClaim to be gone",
        )
        ground.wait_status("steady", "Running again", timeout=240, phase="Running")
    finally:
        stop.set()
        sampler.join(timeout=10)
    assert admitted and min(admitted) == 2, f"admission dropped: {sorted(set(admitted))}"
    assert len(ground.running_pods("steady")) == 2
