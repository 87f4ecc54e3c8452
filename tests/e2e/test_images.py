"""The image architecture check (issue #17) end to end: the nodes pull from the registry
Paddock checks.

hack/kind-e2e.sh starts a CNCF Distribution registry on the kind network's gateway (plain
HTTP), pushes the real agent images to it (busybox, amd64 and arm64: a multi-arch OCI index of
both, and the amd64 image alone) and points every node's containerd at it; the chart's
operator checks the same references (imageCheck.insecureRegistries). The CoreBudgets here
are FailClosed, so an admission proves the registry answered.

- The multi-arch image, admitted, runs its arm64 variant on the emulated arm64 worker: that
  node's containerd is the arm64 build (hack/kind/arm64-worker.sh), whose CRI picks linux/arm64
  from an index, and the container's log says aarch64. On an amd64 worker the same reference
  runs its amd64 variant (x86_64).
- The amd64-only image is refused (ImageArchMismatch, status and Event) before any Deployment,
  ReplicaSet or pod exists for the workload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Release, arm64_worker_pool, dump, on_a_real_amd64_worker
from tests.e2e.test_placement import AGENT_COMMAND
from tests.support.cluster import Cluster
from tests.support.paddock import Ground
from tests.support.waiting import wait_for


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.skip(f"{name} is not set: hack/kind-e2e.sh starts the registry and sets it")
    return value


def _template(image: str) -> dict[str, Any]:
    return {
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "agent",
                    "image": image,
                    # From the registry, every time: the node resolves the tag itself.
                    "imagePullPolicy": "Always",
                    "command": AGENT_COMMAND,
                }
            ],
        }
    }


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions") or () if c["type"] == kind)


def _log(cluster: Cluster, namespace: str, pod: str) -> str:
    return cluster.kubectl("logs", "-n", namespace, pod, check=False).stdout


def _node_image(node: str, image: str) -> dict[str, Any]:
    """What the node's containerd holds for `image` (crictl inspecti: its config)."""
    docker = shutil.which("docker")
    assert docker, "docker is not on PATH (hack/kind-e2e.sh exports the engine's DOCKER_HOST)"
    done = subprocess.run(
        [docker, "exec", node, "crictl", "inspecti", "-o", "json", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_multi_arch_image_runs_its_arm64_variant_on_the_arm64_worker(
    kind_cluster: Cluster, ground: Ground, paddock_release: Release
) -> None:
    image = _env("PADDOCK_E2E_MULTI_ARCH_IMAGE")
    arm64_config = _env("PADDOCK_E2E_MULTI_ARCH_ARM64_CONFIG")
    node = _env("PADDOCK_E2E_ARM64_NODE")
    arm64_worker_pool(ground, node, "arm64-worker")
    budget = ground.budget("team", cores=1, imageCheck="FailClosed")
    name = ground.workload(
        "multi", budget=budget, replicas=1, cores=1, memory="64Mi", template=_template(image)
    )
    status = ground.wait_status(name, "Running on the arm64 worker", timeout=300, phase="Running")

    # Paddock checked it in the registry (FailClosed: no answer, no admission).
    checked = _condition(status, "ImagesChecked")
    assert (checked["status"], checked["reason"]) == ("True", "Arm64Offered"), dump(status)
    (entry,) = status["images"]
    assert entry["image"] == image and entry["outcome"] == "Offered", dump(status)
    assert entry["platforms"].startswith("linux/amd64, linux/arm64"), dump(status)
    index_digest = entry["digest"]

    (pod,) = ground.running_pods(name)
    assert pod["spec"]["nodeName"] == node
    (container,) = pod["status"]["containerStatuses"]
    # The node pulled the index Paddock checked ...
    assert container["imageID"].endswith(f"@{index_digest}"), container
    # ... and its containerd took the arm64 entry: the image it holds (its ID is the
    # config's digest) is the index's arm64 image, and the container's busybox is the
    # arm64 one (the amd64 variant would say x86_64).
    held = _node_image(node, container["imageID"])
    assert held["status"]["id"] == arm64_config, dump(held["status"])
    assert held["info"]["imageSpec"]["architecture"] == "arm64", dump(held["info"]["imageSpec"])
    log = wait_for(
        lambda: _log(kind_cluster, ground.namespace, pod["metadata"]["name"]),
        timeout=60,
        what="the agent's log",
    )
    assert "arch=aarch64" in log, log


def test_multi_arch_image_runs_its_amd64_variant_on_an_amd64_worker(kind_cluster: Cluster) -> None:
    """The other half of the proof: the same reference, pulled by an amd64 worker's
    (native) containerd, runs the amd64 busybox."""
    image = _env("PADDOCK_E2E_MULTI_ARCH_IMAGE")
    namespace = f"e2e-{uuid.uuid4().hex[:6]}"
    kind_cluster.kubectl("create", "namespace", namespace)
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "multi-on-amd64"},
            "spec": {
                **_template(image)["spec"],
                **on_a_real_amd64_worker(),
            },
        }
        kind_cluster.apply(json.dumps(pod), namespace=namespace)
        log = wait_for(
            lambda: "agent up" in (out := _log(kind_cluster, namespace, "multi-on-amd64")) and out,
            timeout=180,
            what="the multi-arch agent's log on an amd64 worker",
        )
        assert "arch=x86_64" in log, log
    finally:
        kind_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_amd64_only_image_is_refused_before_any_pod_exists(
    kind_cluster: Cluster, ground: Ground, paddock_release: Release
) -> None:
    image = _env("PADDOCK_E2E_AMD64_ONLY_IMAGE")
    ground.add_nodes("graviton4", "c8g.4xlarge", 1)  # room enough: only the image can refuse
    ground.pool("graviton4")
    budget = ground.budget("team", cores=8, imageCheck="FailClosed")
    seen: list[str] = []

    def refused() -> dict[str, Any] | None:
        # From creation to the verdict, nothing of the workload may exist in the namespace.
        for kind in ("deployments", "replicasets", "pods"):
            items = kind_cluster.get_json(kind, "-n", ground.namespace)["items"]
            seen.extend(f"{kind}/{i['metadata']['name']}" for i in items)
        status = ground.status(name)
        return status if status.get("reason") == "ImageArchMismatch" else None

    name = ground.workload(
        "amd", budget=budget, replicas=1, cores=2, memory="64Mi", template=_template(image)
    )
    status = wait_for(refused, timeout=120, what="amd: refused with ImageArchMismatch")
    assert seen == [], seen
    assert status["phase"] == "Queued" and not status.get("admittedReplicas"), dump(status)
    assert image in status["message"] and "linux/amd64" in status["message"], dump(status)
    assert "docker buildx build --platform linux/arm64" in status["message"], dump(status)
    (entry,) = status["images"]
    assert (entry["outcome"], entry["platforms"]) == ("Missing", "linux/amd64"), dump(status)
    events = wait_for(
        lambda: [e for e in ground.events(name) if e["reason"] == "ImageArchMismatch"],
        timeout=30,
        what="the ImageArchMismatch Event",
    )
    assert events[0]["type"] == "Warning", dump(events)
    # Nothing was ever made for it: no object, and no Event of a Deployment, ReplicaSet or
    # pod (the namespace is this test's own).
    for kind in ("deployments", "replicasets", "pods"):
        assert kind_cluster.get_json(kind, "-n", ground.namespace)["items"] == [], kind
    others = [
        e
        for e in kind_cluster.get_json("events", "-n", ground.namespace)["items"]
        if e["involvedObject"]["kind"] != "AgentWorkload"
    ]
    assert others == [], dump(others)
