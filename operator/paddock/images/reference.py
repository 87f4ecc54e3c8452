"""Image references, parsed the way Docker and containerd read them.

Why our own parser: the rules are short and well known (the first path component is a
registry host only if it has a dot or a colon or is `localhost`; Docker Hub names get
`library/`; no tag means `latest`), and a dependency for them would be larger than this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


class BadReference(ValueError):
    """The string is not an image reference a kubelet could pull."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image reference: registry host (with port), repository, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest when given (it wins), else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """The host that serves the Distribution API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def pinned(self, digest: str) -> str:
        """The same image by digest (the tag kept for readers: `repo:tag@sha256:...`)."""
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.registry}/{self.repository}{tag}@{digest}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def parse(image: str) -> ImageRef:
    """Parse an image reference; raises BadReference with the reason."""
    text = image.strip()
    if not text or text != image or any(c.isspace() for c in text):
        raise BadReference(f"image {image!r} is empty or has white space")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise BadReference(f"image {image!r}: {digest!r} is not a digest")
    registry = DOCKER_HUB
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    tag = None
    name, colon, maybe_tag = rest.rpartition(":")
    if colon and "/" not in maybe_tag:
        if not _TAG.match(maybe_tag):
            raise BadReference(f"image {image!r}: {maybe_tag!r} is not a valid tag")
        rest, tag = name, maybe_tag
    if registry == DOCKER_HUB and "/" not in rest:
        rest = f"library/{rest}"
    if not _REPOSITORY.match(rest):
        raise BadReference(f"image {image!r}: {rest!r} is not a valid repository name")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry=registry, repository=rest, tag=tag, digest=digest)
