"""Tenant and fault safety on the real control plane (issues: tenant-safe, fault-safe).

Running pods keep their place whatever happens to their node; one team's object never stops,
slows or confuses anyone else's scheduling; Paddock only touches what it owns.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("operator")


# ------------------------------------------------------------------ helpers
def pod_uids(ground: Ground, workload: str) -> set[str]:
    return {p["metadata"]["uid"] for p in ground.running_pods(workload)}


def pool_ready_nodes(ground: Ground, pool: str) -> int | None:
    status = ground.cluster.get_json("cpool", pool).get("status") or {}
    value = status.get("readyNodes")
    return int(value) if value is not None else None


def deployment_generations(ground: Ground, workload: str) -> dict[str, int]:
    return {
        d["metadata"]["name"]: d["metadata"]["generation"] for d in ground.deployments(workload)
    }


def running(ground: Ground, workload: str, replicas: int, timeout: float = 60) -> set[str]:
    ground.wait_status(
        workload, "Running", phase="Running", admittedReplicas=replicas, timeout=timeout
    )

    def all_running() -> set[str] | None:
        uids = pod_uids(ground, workload)
        return uids if len(uids) == replicas else None

    found: set[str] = wait_for(all_running, timeout=timeout, what=f"{replicas} pods of {workload}")
    return found


@contextlib.contextmanager
def schema_bypassed(cluster: Cluster) -> Iterator[None]:
    """The AgentWorkload CRD with an unchecked pod template for a moment, as an older CRD
    version would have it: objects written meanwhile bypass the template schema."""
    crd = cluster.get_json("crd", "agentworkloads.paddock.dev")
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"]["template"] = {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
    for key in ("resourceVersion", "managedFields", "uid", "creationTimestamp", "generation"):
        crd["metadata"].pop(key, None)
    crd.pop("status", None)
    try:
        cluster.kubectl("replace", "-f", "-", input=json.dumps(crd))
        yield
    finally:
        path = REPO_ROOT / "crds" / "paddock.dev_agentworkloads.yaml"
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(path))


def second_team(ground: Ground, cores: int) -> tuple[str, str]:
    """Another team: its own namespace and budget over this test's pools."""
    namespace = f"{ground.namespace}-b"[:63]
    ground.cluster.kubectl("create", "namespace", namespace)
    ground.cluster_objects.append(("namespace", namespace))
    name = ground.name("other-team")
    ground.create(
        "CoreBudget",
        name,
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "cores": cores,
            "pools": list(ground.pools),
        },
    )
    return namespace, name


def create_workload(ground: Ground, namespace: str, name: str, spec: dict[str, Any]) -> None:
    manifest = {
        "apiVersion": "paddock.dev/v1alpha1",
        "kind": "AgentWorkload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    ground.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def workload_spec(budget: str, replicas: int, cores: int, **extra: Any) -> dict[str, Any]:
    return {
        "budget": budget,
        "replicas": replicas,
        "coresPerReplica": cores,
        "memoryPerReplica": "1Gi",
        "template": {"spec": {"containers": [{"name": "agent", "image": "agent:1"}]}},
        **extra,
    }


# ------------------------------------------------------------------ node events (rule 8)
def test_cordon_of_one_node_keeps_both_pods_and_the_admission(ground: Ground) -> None:
    """The reported incident: 2 x 7 cores on two 7-core nodes; cordoning one killed both."""
    first, _ = ground.add_nodes("c", "c8g.2xlarge", 2)
    pool = ground.pool("c")
    budget = ground.budget("team", 32)
    ground.workload("agent", budget=budget, replicas=2, cores=7)
    before = running(ground, "agent", 2)
    generations = deployment_generations(ground, "agent")

    ground.cluster.kubectl("cordon", first)
    # The operator has seen the cordon once the pool reports one schedulable node.
    wait_for(lambda: pool_ready_nodes(ground, pool) == 1, timeout=30, what="the cordon seen")
    status = ground.wait_status("agent", "still Running", phase="Running", admittedReplicas=2)
    assert status["reason"] == "Admitted"
    assert pod_uids(ground, "agent") == before
    assert deployment_generations(ground, "agent") == generations


def test_a_not_ready_node_makes_paddock_delete_nothing(ground: Ground) -> None:
    first, _ = ground.add_nodes("nr", "c8g.2xlarge", 2)
    pool = ground.pool("nr")
    budget = ground.budget("team", 32)
    ground.workload("agent", budget=budget, replicas=2, cores=7)
    before = running(ground, "agent", 2)
    generations = deployment_generations(ground, "agent")

    # kwok stops heartbeating a node without its label: the node lifecycle controller marks
    # it NotReady (Unknown) and taints it unreachable, as when a kubelet is lost.
    ground.cluster.kubectl("label", "node", first, "type-")
    wait_for(lambda: not ground.node_ready(first), timeout=90, what=f"{first} NotReady")
    wait_for(lambda: pool_ready_nodes(ground, pool) == 1, timeout=30, what="NotReady seen")
    ground.wait_status("agent", "still admitted", admittedReplicas=2, reason="Admitted")
    assert {p["metadata"]["uid"] for p in ground.pods("agent")} >= before
    assert deployment_generations(ground, "agent") == generations


def test_drain_keeps_min_replicas_running_and_places_the_evicted_replica_again(
    ground: Ground,
) -> None:
    ground.add_nodes("dr", "c8g.2xlarge", 3)
    ground.pool("dr")
    budget = ground.budget("team", 32)
    ground.workload(
        "agent", budget=budget, replicas=2, cores=7, minReplicas=1, placement={"spread": "Node"}
    )
    running(ground, "agent", 2)
    (pdb,) = ground.cluster.get_json(
        "pdb", "-n", ground.namespace, "-l", "paddock.dev/workload=agent"
    )["items"]
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["metadata"]["ownerReferences"][0]["kind"] == "AgentWorkload"

    victim = ground.running_pods("agent")[0]["spec"]["nodeName"]
    ground.cluster.kubectl(
        "drain",
        victim,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=60s",
        timeout=90,
    )
    assert len(ground.running_pods("agent")) >= 1

    def moved() -> bool:
        pods = ground.running_pods("agent")
        return len(pods) == 2 and all(p["spec"]["nodeName"] != victim for p in pods)

    wait_for(moved, timeout=90, what="the evicted replica running on another node")
    ground.wait_status("agent", "Running", phase="Running", admittedReplicas=2)


def test_a_fixed_workload_that_loses_a_node_keeps_its_survivor_and_says_why(
    ground: Ground,
) -> None:
    first, second = ground.add_nodes("lost", "c8g.2xlarge", 2)
    ground.pool("lost")
    budget = ground.budget("team", 32)
    ground.workload("agent", budget=budget, replicas=2, cores=7)
    running(ground, "agent", 2)
    survivor = {
        p["metadata"]["uid"]
        for p in ground.running_pods("agent")
        if p["spec"]["nodeName"] == second
    }

    ground.cluster.kubectl("delete", "node", first)
    status = ground.wait_status(
        "agent", "Degraded", phase="Degraded", reason="ReplicasUnplaced", timeout=90
    )
    assert status["admittedReplicas"] == 2
    assert "1 of 2 admitted replicas lost their pods" in status["message"]
    assert survivor <= pod_uids(ground, "agent")
    (deployment,) = ground.deployments("agent")
    assert deployment["spec"]["replicas"] == 2  # the lost replica's pod waits to start
    assert "ReplicasUnplaced" in [e["reason"] for e in ground.events("agent")]


# ------------------------------------------------------------------ one team's object
def test_a_poison_object_is_invalid_and_another_team_is_admitted_at_once(
    ground: Ground, operator: OperatorProcess
) -> None:
    ground.add_nodes("p", "c8g.4xlarge", 2)
    ground.pool("p")
    budget = ground.budget("team", 32)
    other_namespace, other_budget = second_team(ground, 32)
    cycles_failed_before = operator.log_tail(100000).count("scheduling cycle failed")
    with schema_bypassed(ground.cluster):
        poison = workload_spec(budget, 1, 2)
        poison["template"]["spec"]["containers"][0]["env"] = 5
        create_workload(ground, ground.namespace, "poison", poison)
    create_workload(ground, other_namespace, "innocent", workload_spec(other_budget, 2, 4))

    def innocent_admitted() -> bool:
        found = ground.cluster.get_json("aw", "innocent", "-n", other_namespace)
        return (found.get("status") or {}).get("admittedReplicas") == 2

    wait_for(innocent_admitted, timeout=20, what="the other team's workload admitted")
    status = ground.wait_status("poison", "Invalid", phase="Invalid", reason="InvalidSpec")
    assert "containers[0].env" in status["message"], status["message"]
    assert "InvalidSpec" in [e["reason"] for e in ground.events("poison")]
    assert ground.deployments("poison") == []
    assert operator.process is not None and operator.process.poll() is None
    assert operator.log_tail(100000).count("scheduling cycle failed") == cycles_failed_before


def test_a_spec_that_turns_invalid_keeps_its_running_pods_counted(ground: Ground) -> None:
    ground.add_nodes("inv", "c8g.4xlarge", 2)
    ground.pool("inv")
    budget = ground.budget("team", 32)
    ground.workload("agent", budget=budget, replicas=2, cores=4)
    before = running(ground, "agent", 2)
    generations = deployment_generations(ground, "agent")

    with schema_bypassed(ground.cluster):
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "env": 5}]}}}}
        ground.cluster.kubectl(
            "patch", "aw", "agent", "-n", ground.namespace, "--type=merge", "-p", json.dumps(patch)
        )
    status = ground.wait_status("agent", "Invalid", phase="Invalid", reason="InvalidSpec")
    assert status["admittedReplicas"] == 2 and status["admittedCores"] == 8
    assert "keep running (counted in budget" in status["message"]

    def budget_counts_them() -> bool:
        found = ground.cluster.get_json("cbudget", budget).get("status") or {}
        return found.get("usedCores") == 8

    wait_for(budget_counts_them, timeout=20, what="the budget still counting 8 cores")
    assert pod_uids(ground, "agent") == before
    assert deployment_generations(ground, "agent") == generations

    ground.workload("agent", budget=budget, replicas=2, cores=4)  # fixed again
    ground.wait_status("agent", "Running again", phase="Running", reason="Admitted")


def test_names_that_used_to_collide_get_their_own_deployments(ground: Ground) -> None:
    ground.add_nodes("c", "c8g.4xlarge", 1)
    ground.add_nodes("b-c", "c8g.4xlarge", 1)
    pool_c, pool_bc = ground.pool("c"), ground.pool("b-c")
    budget = ground.budget("team", 32)
    # Once named "<workload>-<pool>": both were "a-b-c-<tag>".
    ground.workload("a-b", budget=budget, replicas=1, cores=2, placement={"pools": [pool_c]})
    ground.workload("a", budget=budget, replicas=1, cores=2, placement={"pools": [pool_bc]})
    ground.wait_status("a-b", "Running", phase="Running")
    ground.wait_status("a", "Running", phase="Running")
    (first,) = ground.deployments("a-b")
    (second,) = ground.deployments("a")
    assert first["metadata"]["name"] != second["metadata"]["name"]
    for deployment, owner in ((first, "a-b"), (second, "a")):
        (ref,) = deployment["metadata"]["ownerReferences"]
        assert ref["name"] == owner and ref["controller"] is True


def test_a_deployment_with_paddocks_labels_that_it_does_not_own_is_left_alone(
    ground: Ground,
) -> None:
    ground.add_nodes("own", "c8g.4xlarge", 1)
    pool = ground.pool("own")
    budget = ground.budget("team", 32)
    labels = {"paddock.dev/workload": "agent", "paddock.dev/pool": pool}
    impostor = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "impostor", "namespace": ground.namespace, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "impostor"}},
            "template": {
                "metadata": {"labels": {"app": "impostor"}},
                "spec": {"containers": [{"name": "c", "image": "other:1"}]},
            },
        },
    }
    ground.cluster.kubectl("apply", "-f", "-", input=json.dumps(impostor))
    before = ground.cluster.get_json("deployment", "impostor", "-n", ground.namespace)

    ground.workload("agent", budget=budget, replicas=1, cores=2)
    ground.wait_status("agent", "Running", phase="Running", admittedReplicas=1)
    ground.workload("agent", budget=budget, replicas=2, cores=2)
    ground.wait_status("agent", "resized", phase="Running", admittedReplicas=2)
    ground.cluster.kubectl("delete", "aw", "agent", "-n", ground.namespace)
    wait_for(
        lambda: all(d["metadata"]["name"] == "impostor" for d in ground.deployments("agent")),
        timeout=60,
        what="the workload's own Deployment gone",
    )
    after = ground.cluster.get_json("deployment", "impostor", "-n", ground.namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 0


def test_a_sidecar_requesting_cpu_counts_and_is_never_admitted_pending(ground: Ground) -> None:
    ground.add_nodes("sc", "c8g.2xlarge", 1)  # 7 whole cores
    ground.pool("sc")
    budget = ground.budget("team", 32)
    sidecar = {"name": "logs", "image": "logs:1", "resources": {"requests": {"cpu": "500m"}}}
    containers = [{"name": "agent", "image": "agent:1"}, sidecar]
    spec = workload_spec(budget, 1, 7)
    spec["template"]["spec"]["containers"] = containers
    create_workload(ground, ground.namespace, "too-big", spec)
    status = ground.wait_status("too-big", "waiting", reason="NoCapacity")
    assert status["requestedCores"] == 8  # 7 + ceil(0.5)
    assert ground.deployments("too-big") == []

    spec = workload_spec(budget, 1, 6)
    spec["template"]["spec"]["containers"] = containers
    create_workload(ground, ground.namespace, "fits", spec)
    status = ground.wait_status("fits", "Running", phase="Running", admittedReplicas=1)
    assert status["admittedCores"] == 7
    (pod,) = ground.running_pods("fits")
    assert pod["status"]["phase"] == "Running"
