"""`kubectl paddock explain`'s IMAGES section: each image, its platforms and the answer's age.

The operator's image check keeps its cache in memory; what it found is in the workload's
`status.images` (outcome, platforms, digest, and `checkedAt`: when the registry first gave
this answer). The plugin reads that, so it needs no access to the registries itself.
Its planner also takes the image verdict from the status: a workload the operator holds back
for its images is planned as held back (`image_block`), so explain agrees with the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

IMAGE_REASONS = ("ImageArchMismatch", "ImageCheckPending", "ImageCheckFailed")


@dataclass(frozen=True)
class ImageLine:
    container: str
    image: str
    kind: str
    outcome: str
    platforms: str
    digest: str
    detail: str
    age: float | None
    """Seconds since the registry first gave this answer (None: unknown)."""


def image_lines(status: Mapping[str, Any], now: float) -> tuple[ImageLine, ...]:
    out = []
    for entry in status.get("images") or ():
        if not isinstance(entry, Mapping):
            continue
        age = None
        checked = entry.get("checkedAt")
        if isinstance(checked, str) and checked:
            try:
                stamp = datetime.fromisoformat(checked.replace("Z", "+00:00")).timestamp()
                age = max(0.0, now - stamp)
            except ValueError:
                age = None
        out.append(
            ImageLine(
                container=str(entry.get("container", "")),
                image=str(entry.get("image", "")),
                kind=str(entry.get("kind") or "container"),
                outcome=str(entry.get("outcome", "")),
                platforms=str(entry.get("platforms") or ""),
                digest=str(entry.get("digest") or ""),
                detail=str(entry.get("detail") or ""),
                age=age,
            )
        )
    return tuple(out)


def image_block(status: Mapping[str, Any], current: bool) -> tuple[str, str] | None:
    """The operator's image verdict as the planner's `image_block` (None: not held back).
    Only a status of the current generation counts."""
    reason = status.get("reason")
    if not current or reason not in IMAGE_REASONS:
        return None
    return str(reason), str(status.get("message") or "")


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
