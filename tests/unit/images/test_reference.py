"""Image references are read as the kubelet reads them (Docker's normalisation rules)."""

from __future__ import annotations

import pytest

from paddock.images.reference import BadReference, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("busybox:1.36", "docker.io", "library/busybox", "1.36", None),
        ("team/agent:2", "docker.io", "team/agent", "2", None),
        ("ghcr.io/org/agent:v1.2.3", "ghcr.io", "org/agent", "v1.2.3", None),
        ("127.0.0.1:5000/agent", "127.0.0.1:5000", "agent", "latest", None),
        ("localhost/agent:x", "localhost", "agent", "x", None),
        (f"reg.example/a/b/c@{DIGEST}", "reg.example", "a/b/c", None, DIGEST),
        (f"reg.example:443/a:1@{DIGEST}", "reg.example:443", "a", "1", DIGEST),
    ],
)
def test_parse(image: str, registry: str, repository: str, tag: str, digest: str | None) -> None:
    ref = parse(image)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


def test_the_digest_wins_over_the_tag_and_docker_hub_has_its_own_api_host() -> None:
    ref = parse(f"agent:1@{DIGEST}")
    assert ref.reference == DIGEST
    assert ref.api_host == "registry-1.docker.io"
    assert parse("ghcr.io/a:1").api_host == "ghcr.io"


def test_pinned_keeps_the_tag_for_readers() -> None:
    assert parse("ghcr.io/a:1").pinned(DIGEST) == f"ghcr.io/a:1@{DIGEST}"


@pytest.mark.parametrize("image", ["", " busybox", "Upper/Case", "a:b:c:d@x", "a@sha256:zz"])
def test_bad_references_are_refused_with_a_reason(image: str) -> None:
    with pytest.raises(BadReference):
        parse(image)
