"""The verdict rules: mismatch never admitted, pending waits, registry errors follow the policy."""

from __future__ import annotations

from paddock.images.checker import ImageResult, Lookup
from paddock.images.platforms import Platform, describe, offers, parse_platform, runs_on
from paddock.images.verdict import ContainerImage, images_of, judge

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")
ATTESTATION = Platform("unknown", "unknown")
MAIN = ContainerImage("agent", "reg/agent:1")
SIDECAR = ContainerImage("logs", "reg/logs:1", "sidecar")


def answered(image: str, *platforms: Platform) -> Lookup:
    result = ImageResult(
        image,
        "reg",
        platforms=platforms,
        digest="sha256:" + "b" * 64,
        offers_wanted=offers(platforms),
        checked_at=1.0,
    )
    return Lookup(result, True, 1.0)


def failed(image: str) -> Lookup:
    result = ImageResult(image, "reg", error="reg: no answer within 10 s", error_kind="Unreachable")
    return Lookup(result, True, 1.0)


def test_platform_matching_counts_the_variant_only_when_both_name_one() -> None:
    assert runs_on(Platform("linux", "arm64"))
    assert runs_on(Platform("linux", "arm64", "v8"))
    assert not runs_on(Platform("linux", "arm64", "v9"))
    assert runs_on(Platform("linux", "arm64", "v9"), parse_platform("linux/arm64"))
    assert not runs_on(Platform("linux", "arm", "v7"))
    assert not runs_on(Platform("windows", "arm64"))
    assert describe([AMD64, ATTESTATION, ARM64]) == "linux/amd64, linux/arm64/v8"


def test_amd64_only_is_a_mismatch_with_the_fix_and_is_never_admitted() -> None:
    verdict = judge([MAIN], [answered(MAIN.image, AMD64)], "FailOpen", holds=False)
    assert verdict.block is not None
    reason, message = verdict.block
    assert reason == "ImageArchMismatch"
    assert "reg/agent:1" in message and "linux/amd64" in message
    assert "docker buildx build --platform linux/arm64" in message
    assert verdict.condition[:2] == (False, "ImageArchMismatch")
    assert verdict.reports[0].outcome == "Missing"


def test_a_sidecar_without_arm64_blocks_a_workload_whose_main_image_is_fine() -> None:
    lookups = [answered(MAIN.image, AMD64, ARM64), answered(SIDECAR.image, AMD64)]
    verdict = judge([MAIN, SIDECAR], lookups, "FailOpen", holds=False)
    assert verdict.block is not None and "sidecar logs" in verdict.block[1]


def test_unknown_is_pending_and_stale_is_pending_only_for_new_work() -> None:
    verdict = judge([MAIN], [Lookup(None, False, 0.0)], "FailOpen", holds=False)
    assert verdict.block is not None and verdict.block[0] == "ImageCheckPending"
    stale = answered(MAIN.image, ARM64)
    stale = Lookup(stale.result, False, 999.0)
    assert judge([MAIN], [stale], "FailOpen", holds=False).block is not None
    assert judge([MAIN], [stale], "FailOpen", holds=True).block is None
    # A stale error stays the verdict while it is re-checked (no flip to pending and back).
    error = failed(MAIN.image)
    stale_error = Lookup(error.result, False, 999.0)
    closed = judge([MAIN], [stale_error], "FailClosed", holds=False)
    assert closed.block is not None and closed.block[0] == "ImageCheckFailed"


def test_registry_errors_follow_the_policy_and_are_reported_either_way() -> None:
    closed = judge([MAIN], [failed(MAIN.image)], "FailClosed", holds=False)
    assert closed.block is not None and closed.block[0] == "ImageCheckFailed"
    opened = judge([MAIN], [failed(MAIN.image)], "FailOpen", holds=False)
    assert opened.block is None
    ok, reason, message = opened.condition
    assert (ok, reason) == (False, "ImageCheckFailed")
    assert "FailOpen" in message and "Unreachable" in message


def test_all_offered_is_a_true_condition_with_the_platforms_and_pins() -> None:
    verdict = judge([MAIN], [answered(MAIN.image, AMD64, ARM64, ATTESTATION)], "FailClosed", False)
    assert verdict.block is None
    assert verdict.condition[0] is True
    assert verdict.reports[0].platforms == "linux/amd64, linux/arm64/v8"
    assert verdict.pins == {MAIN.image: "sha256:" + "b" * 64}
    assert verdict.reports[0].as_status()["checkedAt"] == "1970-01-01T00:00:01Z"


def test_images_of_reads_containers_init_containers_and_sidecars() -> None:
    pod = {
        "initContainers": [
            {"name": "setup", "image": "a:1"},
            {"name": "logs", "image": "b:1", "restartPolicy": "Always"},
        ],
        "containers": [{"name": "agent", "image": "c:1"}],
    }
    assert [(i.container, i.kind) for i in images_of(pod)] == [
        ("setup", "init container"),
        ("logs", "sidecar"),
        ("agent", "container"),
    ]


def test_pin_digest_replaces_checked_images_only() -> None:
    from paddock.controller.applier.deployment_writes import pin_images

    digest = "sha256:" + "c" * 64
    template = {
        "spec": {
            "initContainers": [{"name": "logs", "image": "r/logs:1"}],
            "containers": [{"name": "agent", "image": "r/a:1"}, {"name": "x", "image": "r/x:1"}],
        }
    }
    pinned = pin_images(template, {"r/a:1": digest, "r/logs:1": digest})
    images = [c["image"] for c in pinned["spec"]["initContainers"] + pinned["spec"]["containers"]]
    assert images == [f"r/logs:1@{digest}", f"r/a:1@{digest}", "r/x:1"]
