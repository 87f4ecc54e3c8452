"""A workload's cores given up, as the snapshot counts them: in its budget until the delete has
landed, on its nodes until its pods are gone (cluster_state `_releasing`, "free before use")."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from paddock.controller.cluster_state import SnapshotBuilder
from paddock.controller.labels import POOL_LABEL, WORKLOAD_LABEL
from paddock.controller.observed import DeploymentFacts, pod_record
from paddock.controller.runtime import list_watches
from paddock.planner import plan
from tests.unit.controller.test_isolation import GOOD_SPEC, builder, workload


def agent_pod(node: str, deployment: str, cores: int) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "good",
            "name": f"{deployment}-x-{node}",
            "labels": {WORKLOAD_LABEL: "victim", POOL_LABEL: "g4"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": f"{deployment}-x", "controller": True}
            ],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "agent", "resources": {"requests": {"cpu": str(cores)}}}],
        },
        "status": {"phase": "Running"},
    }


def evicted_victim(deleting: bool) -> SnapshotBuilder:
    """good/victim (2 x 12 cores) was evicted: the applier's memory says it holds nothing, its
    Deployment still lists 2 replicas (being deleted or not yet), its pods still run on n0, n1."""
    made = builder(None)  # good/agent holds 2 x 4 of team-good's 32 cores
    spec = {**GOOD_SPEC, "replicas": 2, "minReplicas": 2, "coresPerReplica": 12, "priority": -1}
    made.workloads.put("good/victim", workload("good", "victim", spec))
    name = "victim-g4"
    made.deployments.put(
        "uid-d",
        DeploymentFacts(
            name, "good/victim", "g4", 2, 2, None, "uid-d", "uid-good-victim", 12, 2, deleting
        ),
    )
    for node in ("n0", "n1"):
        made.nodes_and_pods.put_pod(f"pod-{node}", pod_record(agent_pod(node, name, 12)))
    made.admitted_override["good/victim"] = ()
    return made


@pytest.mark.parametrize("deleting", [False, True])
def test_a_landed_delete_frees_budget_cores_while_pods_keep_node_cores(deleting: bool) -> None:
    made = evicted_victim(deleting)
    # A higher-priority workload of 12 cores: it fits only once the victim's 24 are given back.
    spec = {**GOOD_SPEC, "replicas": 1, "minReplicas": 1, "coresPerReplica": 12, "priority": 5}
    made.workloads.put("good/next", workload("good", "next", spec))
    state = made.build()
    victim = next(w for w in state.snapshot.workloads if w.key == "good/victim")
    assert victim.releasing == (0 if deleting else 2)
    free = {n.name: n.free_cores for n in state.snapshot.nodes}
    assert free["n0"] == free["n1"] == 16 - 12  # the pods still take their node cores

    decided = plan(state.snapshot).workloads["good/next"]
    # 32 cores: agent 8 + the victim's 24 still counted leave 0; once the delete landed, 24.
    assert decided.admitted_replicas == (1 if deleting else 0)
    if deleting:
        assert {node for node, _ in decided.placements} <= {"n2", "n3"}


def test_a_deployment_that_starts_being_deleted_asks_for_a_full_cycle() -> None:
    """Its budget cores are free from that event on: the preemptor waiting for them is admitted
    by the next full cycle, which the watch asks for once per Deployment (runtime.list_watches)."""
    made = builder(None)
    pokes: list[tuple[str, bool]] = []
    wanted: list[str] = []
    watches = list_watches(
        made,
        lambda reason, urgent=True: pokes.append((reason, urgent)),
        client.ApiClient(client.Configuration(host="http://127.0.0.1:9")),  # nothing listens
        note_workload=lambda key: None,
        want_full=wanted.append,
    )
    put = next(w for w in watches if w.kind == "deployments").put

    def facts(replicas: int, deleting: bool) -> DeploymentFacts:
        name, uids = "v-g4", ("uid-d", "uid-v")
        return DeploymentFacts(
            name, "good/v", "g4", replicas, replicas, None, *uids, 4, replicas, deleting
        )

    put("uid-d", facts(2, deleting=False))
    put("uid-d", facts(1, deleting=False))
    assert wanted == [] and pokes == [("deployment", False)] * 2
    put("uid-d", facts(1, deleting=True))
    assert len(wanted) == 1
    put("uid-d", facts(0, deleting=True))  # its pods going: an ordinary change again
    put("uid-d", None)
    assert len(wanted) == 1 and len(pokes) == 4
