"""Platforms (os/architecture/variant) and which of them run on Graviton.

Graviton2 is Armv8.2, Graviton3 Armv8.4 (and SVE), Graviton4 Armv9: all run `linux/arm64`
images. OCI's convention for arm64 is variant `v8` or none; an entry that names another
variant (e.g. `v9`) only runs where the node offers it, so the wanted variant is configurable
(`PADDOCK_IMAGE_PLATFORM=linux/arm64/v8`, the default) and an entry without a variant matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        tail = f"/{self.variant}" if self.variant else ""
        return f"{self.os}/{self.architecture}{tail}"

    @property
    def is_attestation(self) -> bool:
        """BuildKit's provenance/SBOM entries in an index: `unknown/unknown`, not an image."""
        return self.os == "unknown" and self.architecture == "unknown"


WANTED = Platform("linux", "arm64", "v8")


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]`, e.g. linux/arm64/v8."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"{text!r} is not os/architecture[/variant]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def from_json(value: Mapping[str, Any] | None) -> Platform:
    """A platform object of an index entry or an image config (missing fields are empty)."""
    value = value or {}
    return Platform(
        str(value.get("os") or ""),
        str(value.get("architecture") or ""),
        str(value.get("variant") or ""),
    )


def runs_on(offered: Platform, wanted: Platform = WANTED) -> bool:
    """Whether an image built for `offered` runs on a node of `wanted`.

    The variant counts only when both name one (an arm64 image without a variant is v8).
    """
    if offered.os != wanted.os or offered.architecture != wanted.architecture:
        return False
    return not (offered.variant and wanted.variant and offered.variant != wanted.variant)


def offers(platforms: Iterable[Platform], wanted: Platform = WANTED) -> bool:
    return any(runs_on(p, wanted) for p in platforms)


def describe(platforms: Iterable[Platform]) -> str:
    """`linux/amd64, linux/s390x` (attestation entries left out), or `none`."""
    names = sorted({str(p) for p in platforms if not p.is_attestation})
    return ", ".join(names) or "none"
