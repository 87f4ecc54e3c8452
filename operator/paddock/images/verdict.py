"""From a workload's images and their check results to what the planner and status need.

Pure functions over plain data, so the rules read in one place and are unit-tested alone:

- a known mismatch (the registry answered, no linux/arm64): never admitted,
  reason `ImageArchMismatch`, the message names the image, what it offers and the fix;
- not checked yet (or, for a workload that holds nothing, checked longer ago than the TTL):
  not admitted yet, reason `ImageCheckPending`;
- the registry could not be asked or refused: the policy decides. `FailClosed`: not
  admitted, reason `ImageCheckFailed`. `FailOpen`: admitted as if the images ran, and the
  `ImagesChecked` condition says which could not be checked and why (never a silent pass);
- every image offers linux/arm64: admitted, condition `ImagesChecked` True.

A workload that already holds replicas keeps them whatever the verdict (the planner freezes
it): a tag that moved to amd64-only stops it from growing and says so, it never kills pods
that run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias

from .checker import Lookup
from .platforms import WANTED, describe

Policy: TypeAlias = Literal["FailOpen", "FailClosed"]
CONDITION = "ImagesChecked"

ARCH_MISMATCH = "ImageArchMismatch"
CHECK_PENDING = "ImageCheckPending"
CHECK_FAILED = "ImageCheckFailed"


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """One image of the pod template: container name, image and kind (container, init
    container or sidecar, i.e. an init container with restartPolicy Always)."""

    container: str
    image: str
    kind: str = "container"


@dataclass(frozen=True, slots=True)
class ImageReport:
    """One image as the user sees it in status.images and `kubectl paddock explain`."""

    container: str
    image: str
    kind: str
    outcome: str
    """Offered, Missing, Unchecked (registry error) or Pending."""
    platforms: str
    digest: str | None
    detail: str
    checked_at: float | None
    """When the registry first gave this answer (wall clock)."""

    def as_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "container": self.container,
            "image": self.image,
            "outcome": self.outcome,
            "platforms": self.platforms,
        }
        if self.kind != "container":
            out["kind"] = self.kind
        if self.digest:
            out["digest"] = self.digest
        if self.detail:
            out["detail"] = self.detail
        if self.checked_at:
            out["checkedAt"] = datetime.fromtimestamp(self.checked_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        return out


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """`block` is (planner reason, message) when the workload may not be admitted now."""

    block: tuple[str, str] | None
    condition: tuple[bool, str, str]
    reports: tuple[ImageReport, ...]

    @property
    def pins(self) -> Mapping[str, str]:
        """image -> resolved digest, for `imagePolicy: PinDigest`."""
        return {r.image: r.digest for r in self.reports if r.digest and r.outcome == "Offered"}


def fix_hint(image: str) -> str:
    return (
        f"rebuild and push it for arm64, e.g. `docker buildx build --platform "
        f"linux/arm64,linux/amd64 -t {image} --push .`"
    )


def images_of(pod: Mapping[str, Any]) -> tuple[ContainerImage, ...]:
    """Every image a replica's pod runs: containers, init containers and native sidecars."""
    out: list[ContainerImage] = []
    for field, kind in (("initContainers", "init container"), ("containers", "container")):
        for c in pod.get(field) or ():
            if not isinstance(c, Mapping) or not isinstance(c.get("image"), str):
                continue
            this = "sidecar" if kind != "container" and c.get("restartPolicy") == "Always" else kind
            out.append(ContainerImage(str(c.get("name", "")), c["image"], this))
    return tuple(out)


def _report(image: ContainerImage, found: Lookup, stale_pending: bool) -> ImageReport:
    r = found.result
    # A stale answer is re-checked before new work relies on it; a stale error stays the
    # verdict meanwhile (flipping to Pending and back would cost a status write each time).
    if r is None or (stale_pending and not found.fresh and r.answered):
        return ImageReport(
            image.container,
            image.image,
            image.kind,
            "Pending",
            describe(r.platforms) if r is not None else "",
            None,
            "being checked",
            r.checked_at if r is not None else None,
        )
    if not r.answered:
        outcome, detail = "Unchecked", f"{r.error_kind}: {r.error}"
    elif r.offers_wanted:
        outcome, detail = "Offered", ""
    else:
        outcome, detail = "Missing", f"no {WANTED.os}/{WANTED.architecture}"
    return ImageReport(
        image.container,
        image.image,
        image.kind,
        outcome,
        describe(r.platforms) if r.answered else "",
        r.digest,
        detail,
        r.checked_at,
    )


def judge(
    images: Sequence[ContainerImage],
    lookups: Sequence[Lookup],
    policy: Policy,
    holds: bool,
) -> ImageVerdict:
    """The verdict for one workload (`holds`: it has admitted replicas now)."""
    reports = tuple(_report(i, f, not holds) for i, f in zip(images, lookups, strict=True))
    missing = [r for r in reports if r.outcome == "Missing"]
    pending = [r for r in reports if r.outcome == "Pending"]
    failed = [r for r in reports if r.outcome == "Unchecked"]
    if missing:
        first = missing[0]
        others = "" if len(missing) == 1 else f" (and {len(missing) - 1} more image(s))"
        message = (
            f"image {first.image} of {first.kind} {first.container} offers "
            f"{first.platforms} but not {WANTED.os}/{WANTED.architecture}{others}: "
            f"{fix_hint(first.image)}"
        )
        return ImageVerdict((ARCH_MISMATCH, message), (False, ARCH_MISMATCH, message), reports)
    if pending:
        names = ", ".join(sorted({r.image for r in pending}))
        message = f"checking that {names} offer {WANTED.os}/{WANTED.architecture}"
        return ImageVerdict((CHECK_PENDING, message), (False, CHECK_PENDING, message), reports)
    if failed:
        why = "; ".join(f"{r.image}: {r.detail}" for r in failed)
        if policy == "FailClosed":
            message = (
                f"could not check {why}; imageCheck is FailClosed, so it is not admitted until "
                "the registry answers (or the CoreBudget sets imageCheck: FailOpen)"
            )
            return ImageVerdict((CHECK_FAILED, message), (False, CHECK_FAILED, message), reports)
        message = f"admitted without a check under imageCheck FailOpen: could not check {why}"
        return ImageVerdict(None, (False, CHECK_FAILED, message), reports)
    summary = "; ".join(f"{r.image} ({r.platforms})" for r in reports)
    return ImageVerdict(
        None,
        (True, "Arm64Offered", f"every image offers {WANTED.os}/{WANTED.architecture}: {summary}"),
        reports,
    )
