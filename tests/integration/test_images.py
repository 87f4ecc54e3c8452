"""The image architecture check against a real registry (CNCF Distribution on loopback).

Each test pushes its own images (tests/support/registry.py) and creates AgentWorkloads that
use them; the operator resolves them off its scheduling loop. The operator of this module has
the check enabled with a short cache TTL (so a moved tag is caught within seconds); the
session's operator, which runs without it, is stopped meanwhile and started again after.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground
from tests.support.registry import Registry, crane
from tests.support.waiting import wait_for

TTL = 3.0
IMAGE_ENV = {
    "PADDOCK_IMAGE_CHECK": "Enabled",
    "PADDOCK_IMAGE_CHECK_POLICY": "FailOpen",
    "PADDOCK_IMAGE_CACHE_TTL_SECONDS": str(TTL),
    "PADDOCK_IMAGE_ERROR_TTL_SECONDS": "2",
    "PADDOCK_IMAGE_REGISTRY_TIMEOUT_SECONDS": "3",
}


def _image_operator(
    cluster: Cluster, operator: OperatorProcess, path: Any, **extra: str
) -> OperatorProcess:
    process = OperatorProcess(
        kubeconfig=cluster.kubeconfig,
        log_path=path / f"paddock-images-{uuid.uuid4().hex[:4]}.log",
        extra_env={**IMAGE_ENV, **extra},
        identity=operator.identity,  # the same Lease holder: it takes over at once
        restart_on_exit=True,  # as the kubelet would: a leader fenced under load exits
    )
    process.start()
    return process


@pytest.fixture(scope="module")
def image_operator(
    cluster: Cluster, operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """An operator with the image check on (anonymous registry access), instead of the
    session's for this module."""
    operator.stop()
    process = _image_operator(cluster, operator, tmp_path_factory.mktemp("images"))
    yield process
    process.stop()
    operator.start()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_env()


@pytest.fixture
def arm_ground(ground: Ground) -> Ground:
    ground.add_nodes("g4", "c8g.4xlarge", 1)
    ground.pool("g4")
    return ground


def repo() -> str:
    return f"paddock-test/{uuid.uuid4().hex[:8]}"


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions") or () if c["type"] == kind)


def wait_images_checked(
    ground: Ground, workload: str, reason: str, timeout: float = 30
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        status = ground.status(workload)
        found = [c for c in status.get("conditions") or () if c["type"] == "ImagesChecked"]
        return status if found and found[0]["reason"] == reason else None

    return wait_for(probe, timeout=timeout, what=f"{workload}: ImagesChecked {reason}")


pytestmark = pytest.mark.usefixtures("image_operator")


def test_arm64_only_image_is_admitted_with_its_platforms_in_status(
    arm_ground: Ground, registry: Registry
) -> None:
    image = registry.image(repo(), "1", "linux/arm64").reference
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("arm", budget=budget, replicas=1, cores=2, image=image)
    status = arm_ground.wait_status("arm", "Running", phase="Running")
    checked = condition(status, "ImagesChecked")
    assert (checked["status"], checked["reason"]) == ("True", "Arm64Offered")
    (entry,) = status["images"]
    assert entry["image"] == image and entry["outcome"] == "Offered"
    assert entry["platforms"] == "linux/arm64"
    assert entry["digest"].startswith("sha256:") and entry["checkedAt"]


def test_amd64_only_image_is_never_admitted_and_says_how_to_fix_it(
    arm_ground: Ground, registry: Registry
) -> None:
    image = registry.image(repo(), "1", "linux/amd64").reference
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("amd", budget=budget, replicas=1, cores=2, image=image)
    status = arm_ground.wait_status("amd", "refused", reason="ImageArchMismatch")
    assert status["phase"] == "Queued" and not status.get("admittedReplicas")
    message = status["message"]
    assert image in message and "linux/amd64" in message
    assert "docker buildx build --platform linux/arm64" in message
    assert status["images"][0]["outcome"] == "Missing"
    # One Warning Event, and no Deployment ever.
    events = wait_for(
        lambda: [e for e in arm_ground.events("amd") if e["reason"] == "ImageArchMismatch"],
        timeout=15,
        what="the ImageArchMismatch Event",
    )
    assert len(events) == 1 and events[0]["type"] == "Warning"
    assert arm_ground.deployments("amd") == []


@pytest.mark.parametrize(
    ("docker", "attestations"),
    [(False, False), (False, True), (True, False)],
    ids=["oci-index", "oci-index-with-attestations", "docker-manifest-list"],
)
def test_multi_arch_images_are_admitted(
    arm_ground: Ground, registry: Registry, docker: bool, attestations: bool
) -> None:
    pushed = registry.index(
        repo(), "1", ["linux/amd64", "linux/arm64/v8"], docker=docker, attestations=attestations
    )
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("multi", budget=budget, replicas=1, cores=2, image=pushed.reference)
    status = arm_ground.wait_status("multi", "Running", phase="Running")
    (entry,) = status["images"]
    # Attestation entries (unknown/unknown) are not platforms.
    assert entry["platforms"] == "linux/amd64, linux/arm64/v8"
    assert entry["digest"] == pushed.digest


def test_attestation_entries_do_not_count_as_arm64(arm_ground: Ground, registry: Registry) -> None:
    pushed = registry.index(repo(), "1", ["linux/amd64"], attestations=True)
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("att", budget=budget, replicas=1, cores=2, image=pushed.reference)
    status = arm_ground.wait_status("att", "refused", reason="ImageArchMismatch")
    assert status["images"][0]["platforms"] == "linux/amd64"


def test_amd64_only_sidecar_blocks_a_workload_whose_main_image_is_fine(
    arm_ground: Ground, registry: Registry
) -> None:
    main = registry.index(repo(), "1", ["linux/amd64", "linux/arm64"]).reference
    sidecar = registry.image(repo(), "1", "linux/amd64").reference
    budget = arm_ground.budget("team", 8)
    arm_ground.workload(
        "sidecar",
        budget=budget,
        replicas=1,
        cores=2,
        image=main,
        template={
            "spec": {
                "initContainers": [{"name": "logs", "image": sidecar, "restartPolicy": "Always"}],
                "containers": [{"name": "agent", "image": main}],
            }
        },
    )
    status = arm_ground.wait_status("sidecar", "refused", reason="ImageArchMismatch")
    assert "sidecar logs" in status["message"] and sidecar in status["message"]
    outcomes = {e["container"]: e["outcome"] for e in status["images"]}
    assert outcomes == {"logs": "Missing", "agent": "Offered"}
    assert arm_ground.deployments("sidecar") == []


def _dead_registry() -> str:
    """A loopback address where no registry listens (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_registry_down_follows_the_budget_policy_and_says_so(arm_ground: Ground) -> None:
    image = f"{_dead_registry()}/agent:1"
    opened = arm_ground.budget("open", 4, imageCheck="FailOpen")
    closed = arm_ground.budget("closed", 4, imageCheck="FailClosed")
    arm_ground.workload("open", budget=opened, replicas=1, cores=2, image=image)
    arm_ground.workload("closed", budget=closed, replicas=1, cores=2, image=image)

    status = arm_ground.wait_status("open", "admitted under FailOpen", phase="Running")
    checked = condition(status, "ImagesChecked")
    assert (checked["status"], checked["reason"]) == ("False", "ImageCheckFailed")
    assert "FailOpen" in checked["message"] and "Unreachable" in checked["message"]

    status = arm_ground.wait_status("closed", "refused under FailClosed", reason="ImageCheckFailed")
    assert status["phase"] == "Queued" and "FailClosed" in status["message"]
    assert status["images"][0]["outcome"] == "Unchecked"
    assert arm_ground.deployments("closed") == []


def _cluster_script(*args: str) -> None:
    subprocess.run([str(REPO_ROOT / "hack" / "cluster.sh"), *args], check=True, timeout=120)


def test_a_registry_that_stops_and_comes_back(arm_ground: Ground, registry: Registry) -> None:
    """The real registry process stopped (hack/cluster.sh stop registry): FailClosed holds the
    workload with the reason; once the registry is back it is checked and admitted."""
    image = registry.image(repo(), "1", "linux/arm64").reference
    closed = arm_ground.budget("closed", 4, imageCheck="FailClosed")
    _cluster_script("stop", "registry")
    try:
        arm_ground.workload("waits", budget=closed, replicas=1, cores=2, image=image)
        status = arm_ground.wait_status("waits", "refused", reason="ImageCheckFailed")
        assert "Unreachable" in status["message"]
        assert arm_ground.deployments("waits") == []
    finally:
        _cluster_script("start", "registry")
    arm_ground.wait_status("waits", "admitted once the registry is back", phase="Running")


def test_a_tag_moved_to_amd64_only_is_caught_after_the_ttl(
    arm_ground: Ground, registry: Registry
) -> None:
    name = repo()
    multi = registry.index(name, "1", ["linux/amd64", "linux/arm64"])
    amd64 = registry.image(name, "amd64-only", "linux/amd64")
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("first", budget=budget, replicas=1, cores=2, image=multi.reference)
    arm_ground.wait_status("first", "Running", phase="Running")

    crane("copy", amd64.reference, multi.reference)  # the tag moves, as a careless push does
    assert crane("digest", multi.reference) == amd64.digest

    # After the TTL the running workload's verdict changes: it keeps its pods (frozen), says
    # why, and a new workload with the same tag is refused.
    status = wait_images_checked(arm_ground, "first", "ImageArchMismatch", timeout=TTL + 30)
    assert status["admittedReplicas"] == 1
    assert len(arm_ground.running_pods("first")) == 1
    arm_ground.workload("second", budget=budget, replicas=1, cores=2, image=multi.reference)
    arm_ground.wait_status("second", "refused", reason="ImageArchMismatch")


def test_pin_digest_runs_the_digest_that_was_checked(
    arm_ground: Ground, registry: Registry
) -> None:
    pushed = registry.index(repo(), "1", ["linux/amd64", "linux/arm64"])
    budget = arm_ground.budget("team", 8)
    arm_ground.workload(
        "pinned",
        budget=budget,
        replicas=1,
        cores=2,
        image=pushed.reference,
        imagePolicy="PinDigest",
    )
    arm_ground.wait_status("pinned", "Running", phase="Running")
    (deployment,) = arm_ground.deployments("pinned")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{pushed.reference}@{pushed.digest}"


def test_metrics_count_checks_cache_lookups_and_registry_errors(
    image_operator: OperatorProcess, arm_ground: Ground, registry: Registry
) -> None:
    image = registry.image(repo(), "1", "linux/arm64").reference
    budget = arm_ground.budget("team", 8)
    arm_ground.workload("m", budget=budget, replicas=1, cores=2, image=image)
    arm_ground.wait_status("m", "Running", phase="Running")
    text = image_operator.metrics()
    assert 'paddock_image_checks_total{result="offered"}' in text
    assert 'paddock_image_cache_lookups_total{result="hit"}' in text
    assert "paddock_image_check_duration_seconds_bucket" in text


# ------------------------------------------------------------------ private registries


def _pull_secret(ground: Ground, name: str, host: str, user: str, password: str) -> None:
    config = {"auths": {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}
    ground.cluster.kubectl(
        "create",
        "secret",
        "generic",
        name,
        "-n",
        ground.namespace,
        "--type=kubernetes.io/dockerconfigjson",
        f"--from-literal=.dockerconfigjson={json.dumps(config)}",
    )


def _private_workloads(ground: Ground, private: Registry) -> tuple[str, str]:
    """An arm64 image and an amd64 image behind a password, and their pull secret."""
    name = repo()
    arm = private.image(name, "arm", "linux/arm64").reference
    amd = private.image(name, "amd", "linux/amd64").reference
    assert private.auth is not None
    _pull_secret(ground, "regcred", private.host, *private.auth)
    return arm, amd


def test_a_private_registry_without_the_pull_secret_option_is_refused_not_passed(
    arm_ground: Ground,
) -> None:
    private = Registry.with_password_from_env()
    arm, _ = _private_workloads(arm_ground, private)
    closed = arm_ground.budget("closed", 8, imageCheck="FailClosed")
    arm_ground.workload(
        "private",
        budget=closed,
        replicas=1,
        cores=2,
        image=arm,
        template={
            "spec": {
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [{"name": "agent", "image": arm}],
            }
        },
    )
    status = arm_ground.wait_status("private", "refused", reason="ImageCheckFailed")
    assert "Unauthorized" in status["message"] and "without credentials" in status["message"]


@pytest.fixture
def secrets_operator(
    cluster: Cluster,
    image_operator: OperatorProcess,
    operator: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorProcess]:
    """The image operator with imageCheck.pullSecrets enabled (PADDOCK_IMAGE_PULL_SECRETS)."""
    image_operator.stop()
    process = _image_operator(
        cluster, operator, tmp_path_factory.mktemp("secrets"), PADDOCK_IMAGE_PULL_SECRETS="Enabled"
    )
    yield process
    process.stop()
    image_operator.start()


def test_pull_secrets_of_the_template_and_service_account_open_a_private_registry(
    secrets_operator: OperatorProcess, arm_ground: Ground
) -> None:
    private = Registry.with_password_from_env()
    arm, amd = _private_workloads(arm_ground, private)
    closed = arm_ground.budget("closed", 8, imageCheck="FailClosed")
    arm_ground.workload(
        "private-arm",
        budget=closed,
        replicas=1,
        cores=2,
        image=arm,
        template={
            "spec": {
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [{"name": "agent", "image": arm}],
            }
        },
    )
    arm_ground.wait_status("private-arm", "Running", phase="Running")
    # The ServiceAccount's imagePullSecrets count too; an amd64 image behind the password
    # is a real mismatch (the registry answered), not a registry error.
    arm_ground.cluster.kubectl("create", "serviceaccount", "puller", "-n", arm_ground.namespace)
    arm_ground.cluster.kubectl(
        "patch",
        "serviceaccount",
        "puller",
        "-n",
        arm_ground.namespace,
        "-p",
        json.dumps({"imagePullSecrets": [{"name": "regcred"}]}),
    )
    arm_ground.workload(
        "private-amd",
        budget=closed,
        replicas=1,
        cores=2,
        image=amd,
        template={
            "spec": {
                "serviceAccountName": "puller",
                "containers": [{"name": "agent", "image": amd}],
            }
        },
    )
    arm_ground.wait_status("private-amd", "refused", reason="ImageArchMismatch")
    # The password never reaches the operator's log.
    assert private.auth is not None
    assert private.auth[1] not in secrets_operator.log_path.read_text(errors="replace")
