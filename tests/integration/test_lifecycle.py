"""Life cycle: spec edits, node loss, restarts, two replicas, and objects Paddock cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.waiting import wait_for


@pytest.mark.usefixtures("operator")
def test_spec_edits_resize_and_roll_out(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 32)
    ground.workload("editable", budget=budget, replicas=2, cores=2)
    ground.wait_status("editable", "Running", phase="Running", admittedReplicas=2)

    ground.workload(
        "editable", budget=budget, replicas=3, cores=3, image="registry.example/agent:2"
    )
    ground.wait_status("editable", "resized", phase="Running", admittedReplicas=3, admittedCores=9)

    def rolled_out() -> bool:
        pods = ground.running_pods("editable")
        return len(pods) == 3 and all(
            p["spec"]["containers"][0]["image"] == "registry.example/agent:2"
            and p["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "3"
            for p in pods
        )

    wait_for(rolled_out, timeout=60, what="3 pods of the new template")
    assert len(ground.deployments("editable")) == 1


@pytest.mark.usefixtures("operator")
def test_lost_node_moves_replicas_to_a_pool_with_room(ground: Ground) -> None:
    (first,) = ground.add_nodes("a", "c8g.4xlarge", 1)
    ground.add_nodes("b", "c8g.4xlarge", 1)
    pool_a, pool_b = ground.pool("a"), ground.pool("b")
    budget = ground.budget("team", 32)
    ground.workload(
        "mover", budget=budget, replicas=1, cores=8, placement={"pools": [pool_a, pool_b]}
    )
    ground.wait_status("mover", "Running in a", phase="Running", pools=f"{pool_a}:1")

    ground.cluster.kubectl("delete", "node", first)
    status = ground.wait_status("mover", "moved to b", pools=f"{pool_b}:1", timeout=45)
    assert status["admittedReplicas"] == 1
    assert "Moved" in [e["reason"] for e in ground.events("mover")]
    ground.wait_status("mover", "Running in b", phase="Running", timeout=90)


@pytest.mark.usefixtures("operator")
def test_objects_paddock_cannot_use_get_a_reason_and_the_rest_still_runs(ground: Ground) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    pool = ground.pool("g4")
    budget = ground.budget("team", 16)
    ground.workload("orphan", budget="no-such-budget", replicas=1, cores=1)
    ground.workload("nowhere", budget=budget, replicas=1, cores=1, placement={"pools": ["nope"]})
    ground.workload("fine", budget=budget, replicas=1, cores=1)

    orphan = ground.wait_status("orphan", "UnknownBudget", phase="Queued", reason="UnknownBudget")
    assert "no-such-budget" in orphan["message"]
    ground.wait_status("nowhere", "NoMatchingPool", phase="Queued", reason="NoMatchingPool")
    ground.wait_status("fine", "Running", phase="Running")
    assert ground.status("fine")["pools"] == f"{pool}:1"
    assert "Queued" in [e["reason"] for e in ground.events("orphan")]


@pytest.mark.usefixtures("operator")
def test_pool_over_amd64_nodes_is_reported_and_never_used(ground: Ground) -> None:
    ground.add_nodes("x86", "c7i.2xlarge", 2, taint=False)
    pool = ground.pool("x86")
    budget = ground.budget("team", 16)
    ground.workload("intel", budget=budget, replicas=1, cores=1)

    ground.wait_status("intel", "no arm64 node", phase="Queued", reason="NoMatchingPool")
    condition = wait_for(
        lambda: next(
            (
                c
                for c in (ground.cluster.get_json("cpool", pool).get("status") or {}).get(
                    "conditions", []
                )
                if c["type"] == "Ready" and c["status"] == "False"
            ),
            None,
        ),
        timeout=30,
        what="the pool's Ready=False condition",
    )
    assert condition["reason"] == "NonArm64Nodes"
    assert ground.pods("intel") == []


def test_restart_rebuilds_state_without_duplicates(
    operator: OperatorProcess, ground: Ground
) -> None:
    ground.add_nodes("g4", "c8g.4xlarge", 2)
    ground.pool("g4")
    budget = ground.budget("team", 12)
    ground.workload("before", budget=budget, replicas=2, cores=4)
    ground.wait_status("before", "Running", phase="Running")
    (deployment,) = ground.deployments("before")
    generation = deployment["metadata"]["generation"]

    operator.stop(kill=True)  # mid-flight: no clean shutdown, the Lease is left behind
    ground.workload("during", budget=budget, replicas=2, cores=4)  # only 4 cores are left
    operator.start()

    ground.wait_status(
        "during", "queued after restart", phase="Queued", reason="BudgetExhausted", timeout=60
    )
    before = ground.status("before")
    assert before["admittedReplicas"] == 2 and before["phase"] == "Running"
    (again,) = ground.deployments("before")
    assert again["metadata"]["generation"] == generation, (
        "the restart rewrote an unchanged Deployment"
    )
    assert ground.deployments("during") == []


def test_two_replicas_one_schedules_and_the_other_takes_over(
    operator: OperatorProcess, ground: Ground, tmp_path: Path
) -> None:
    standby = OperatorProcess(kubeconfig=operator.kubeconfig, log_path=tmp_path / "standby.log")
    standby.start()
    try:

        def leaders() -> list[OperatorProcess]:
            running = [p for p in (operator, standby) if p.process is not None]
            return [p for p in running if "paddock_leader 1.0" in p.metrics()]

        wait_for(lambda: len(leaders()) == 1, timeout=30, what="exactly one leader")
        assert leaders() == [operator]

        operator.stop()  # clean stop releases the Lease
        wait_for(lambda: leaders() == [standby], timeout=30, what="the standby to take over")
        ground.add_nodes("g4", "c8g.4xlarge", 1)
        ground.pool("g4")
        budget = ground.budget("team", 8)
        ground.workload("handover", budget=budget, replicas=1, cores=2)
        ground.wait_status("handover", "Running under the new leader", phase="Running")
    finally:
        standby.stop()
        if operator.process is None:
            operator.start()
        wait_for(lambda: "paddock_leader 1.0" in operator.metrics(), timeout=30, what="leader back")
