"""AgentWorkloads admitted and placed by the in-cluster operator.

- Onto simulated Graviton capacity: kwok nodes inside the kind cluster, labelled
  as EKS/Karpenter label arm64 nodes. kube-scheduler binds the pods, kwok marks
  them Running; Paddock sees them Ready and reports the workload Running.
- Onto real kubelets: the pod template Paddock generated, started as real
  containers of the tiny agent image by the kind workers' kubelets (amd64, so
  with Paddock's arm64 affinity taken out: a real amd64 kubelet always reports
  kubernetes.io/arch=amd64).
- Onto the emulated arm64 kind worker hack/kind-e2e.sh joins (always, unless
  PADDOCK_KIND_ARM64=0, and then the script deselects this test and says so): its
  kubelet is the arm64 build, running under qemu, so the node's
  kubernetes.io/arch=arm64 comes from the kubelet itself; the agent's arm64 busybox
  runs through binfmt_misc. Paddock's own placement, unchanged.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Release, arm64_worker_pool, dump, on_a_real_amd64_worker
from tests.support.cluster import Cluster
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

AGENT_COMMAND = [
    "sh",
    "-c",
    'echo "agent up: cores=$PADDOCK_CORES threads=$OMP_NUM_THREADS arch=$(uname -m)"; '
    "exec sleep 3600",
]


def agent_template(image: str) -> dict[str, Any]:
    return {
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "agent",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": AGENT_COMMAND,
                }
            ],
        }
    }


def test_workload_admitted_and_placed_on_simulated_graviton_nodes(
    ground: Ground, paddock_release: Release, agent_image: str
) -> None:
    nodes = ground.add_nodes("graviton4", "c8g.4xlarge", 3)  # 15 whole cores each
    pool = ground.pool("graviton4")
    budget = ground.budget("team", cores=24)
    name = ground.workload(
        "agents",
        budget=budget,
        replicas=4,
        cores=4,
        memory="2Gi",
        template=agent_template(agent_image),
    )

    status = ground.wait_status(name, "admitted and Running", timeout=120, phase="Running")
    assert status["admittedReplicas"] == 4 and status["admittedCores"] == 16, dump(status)
    assert status["assignments"] == [{"pool": pool, "replicas": 4}], dump(status)
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions.get("Admitted") == "True", dump(status)

    (deployment,) = ground.deployments(name)
    assert deployment["metadata"]["labels"]["paddock.dev/pool"] == pool
    assert deployment["spec"]["replicas"] == 4
    pods = ground.running_pods(name)
    assert len(pods) == 4, dump([p["status"] for p in pods])
    for pod in pods:
        assert pod["spec"]["nodeName"] in nodes, pod["spec"]["nodeName"]
        assert pod["status"]["qosClass"] == "Guaranteed"
        (container,) = pod["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"] == "4"
        assert container["resources"]["limits"]["cpu"] == "4"
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env.get("PADDOCK_CORES") == "4", env

    # The scheduling loop ran in the pod and counted it.
    metrics = paddock_release.metrics()
    assert f'paddock_admitted_workloads{{budget="{budget}"}} 1.0' in metrics


def _pod_log(cluster: Cluster, namespace: str, pod: str) -> str:
    return cluster.kubectl("logs", "-n", namespace, pod, check=False).stdout


def test_paddock_pod_template_runs_as_real_containers_on_kind_workers(
    kind_cluster: Cluster, ground: Ground, agent_image: str
) -> None:
    ground.add_nodes("graviton3", "c7g.2xlarge", 2)
    ground.pool("graviton3")
    budget = ground.budget("team", cores=4)
    name = ground.workload(
        "real",
        budget=budget,
        replicas=2,
        cores=1,
        memory="64Mi",
        template=agent_template(agent_image),
    )
    ground.wait_status(name, "admitted", timeout=120, phase="Running")
    (placed,) = ground.deployments(name)

    # Paddock's pod template, re-targeted at the amd64 kind workers.
    template = copy.deepcopy(placed["spec"]["template"])
    spec = template["spec"]
    spec.pop("affinity", None)
    spec.pop("tolerations", None)
    spec.pop("topologySpreadConstraints", None)
    spec.update(on_a_real_amd64_worker())
    selector = {"e2e.paddock.dev/copy": uuid.uuid4().hex[:8]}
    template["metadata"] = {"labels": selector}
    copy_name = f"{name}-on-kind"
    kind_cluster.apply(
        json.dumps(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": copy_name},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": selector},
                    "template": template,
                },
            }
        ),
        namespace=ground.namespace,
    )

    label = ",".join(f"{k}={v}" for k, v in selector.items())

    def ready_pods() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = kind_cluster.get_json(
            "pods", "-n", ground.namespace, "-l", label
        )["items"]
        ready = [
            p
            for p in items
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]
        return ready if len(ready) == 2 else None

    try:
        pods = wait_for(ready_pods, timeout=180, what="2 agent containers Ready on kind workers")
    except AssertionError as error:
        described = kind_cluster.kubectl(
            "describe", "pods", "-n", ground.namespace, "-l", label, check=False
        ).stdout
        raise AssertionError(f"{error}\n{described[-4000:]}") from None

    for pod in pods:
        node = kind_cluster.get_json("node", pod["spec"]["nodeName"])
        assert node["metadata"].get("annotations", {}).get("kwok.x-k8s.io/node") != "fake"
        assert pod["status"]["qosClass"] == "Guaranteed"
        (status,) = pod["status"]["containerStatuses"]
        assert status["state"].get("running"), status
        assert status["containerID"].startswith("containerd://")
        log = wait_for(
            lambda p=pod: _pod_log(kind_cluster, ground.namespace, p["metadata"]["name"]),
            timeout=30,
            what="the agent's first log line",
        )
        assert "agent up: cores=1 threads=1 arch=x86_64" in log, log


@pytest.mark.skipif(
    not os.environ.get("PADDOCK_E2E_ARM64_NODE"),
    reason="no emulated arm64 kind worker joined (hack/kind-e2e.sh joins one)",
)
def test_real_arm64_agent_on_emulated_arm64_worker(
    kind_cluster: Cluster, ground: Ground, agent_image: str
) -> None:
    node = os.environ["PADDOCK_E2E_ARM64_NODE"]
    found = kind_cluster.get_json("node", node)
    # Both set by the kubelet itself, from its GOARCH.
    assert found["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert found["status"]["nodeInfo"]["architecture"] == "arm64"
    arm64_worker_pool(ground, node, "real-arm64")
    budget = ground.budget("team", cores=1)
    name = ground.workload(
        "arm",
        budget=budget,
        replicas=1,
        cores=1,
        memory="64Mi",
        template=agent_template(agent_image),
    )
    ground.wait_status(name, "Running on the arm64 worker", timeout=300, phase="Running")
    (pod,) = ground.running_pods(name)
    assert pod["spec"]["nodeName"] == node
    log = wait_for(
        lambda: _pod_log(kind_cluster, ground.namespace, pod["metadata"]["name"]),
        timeout=60,
        what="the arm64 agent's log",
    )
    assert "arch=aarch64" in log, log
