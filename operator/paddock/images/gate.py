"""The image check as the snapshot builder sees it: one verdict per workload, never blocking.

`ImageGate.verdict()` runs in the snapshot builder's thread each cycle: it reads the
workload's images (once per generation), looks each up in the checker's cache (a miss queues
a resolution in the checker's workers and answers "pending") and judges. The scheduling loop
therefore never waits on a registry; a finished check pokes it.

Configuration comes from the environment, which the chart sets (see `from_env`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from .checker import CredentialSource, ImageChecker
from .credentials import AuthScope
from .platforms import WANTED, parse_platform
from .registry import RegistryClient
from .verdict import ContainerImage, ImageVerdict, Policy, images_of, judge

log = logging.getLogger("paddock.images")


@dataclass
class ImageGate:
    checker: ImageChecker
    policy: Policy = "FailOpen"
    """The cluster default; a CoreBudget's spec.imageCheck overrides it."""
    pull_secrets: bool = False
    _templates: dict[tuple[str, int], tuple[tuple[ContainerImage, ...], AuthScope | None]] = field(
        default_factory=dict
    )

    def images(
        self, uid: str, generation: int, namespace: str, template: Callable[[], Mapping[str, Any]]
    ) -> tuple[tuple[ContainerImage, ...], AuthScope | None]:
        """The template's images and credential scope, once per workload generation
        (`template` is called only then: dumping 10,000 templates per cycle would cost)."""
        key = (uid, generation)
        found = self._templates.get(key)
        if found is None:
            if len(self._templates) > 50_000:
                self._templates.clear()  # generations of deleted or edited workloads
            pod = template().get("spec") or {}
            scope = None
            if self.pull_secrets:
                secrets = tuple(
                    str(s.get("name"))
                    for s in pod.get("imagePullSecrets") or ()
                    if isinstance(s, Mapping) and s.get("name")
                )
                account = str(pod.get("serviceAccountName") or "default")
                scope = AuthScope(namespace, account, secrets)
            found = self._templates[key] = (images_of(pod), scope)
        return found

    def verdict(
        self,
        uid: str,
        generation: int,
        namespace: str,
        template: Callable[[], Mapping[str, Any]],
        policy: Policy | None,
        holds: bool,
    ) -> ImageVerdict:
        images, scope = self.images(uid, generation, namespace, template)
        lookups = [self.checker.lookup(i.image, scope) for i in images]
        return judge(images, lookups, policy or self.policy, holds)

    def close(self) -> None:
        self.checker.close()


def _pairs(text: str) -> dict[str, float]:
    """`host=seconds,host=seconds` (per-registry timeouts)."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        host, _, value = item.partition("=")
        out[host.strip()] = float(value)
    return out


def from_env(
    env: Mapping[str, str],
    poke: Callable[[str], None],
    credentials: Callable[[], CredentialSource] | None = None,
) -> ImageGate | None:
    """The gate the environment asks for, or None when the check is disabled.

    - PADDOCK_IMAGE_CHECK: Enabled | Disabled (the default when unset: `paddock run` outside
      the chart does not talk to registries unless asked; the chart enables it)
    - PADDOCK_IMAGE_CHECK_POLICY: FailOpen (default) | FailClosed
    - PADDOCK_IMAGE_CACHE_TTL_SECONDS (300), PADDOCK_IMAGE_ERROR_TTL_SECONDS (30),
      PADDOCK_IMAGE_CACHE_SIZE (10000)
    - PADDOCK_IMAGE_CHECK_CONCURRENCY (8), PADDOCK_IMAGE_REGISTRY_TIMEOUT_SECONDS (10),
      PADDOCK_IMAGE_REGISTRY_TIMEOUTS (host=seconds,...)
    - PADDOCK_IMAGE_INSECURE_REGISTRIES (host:port,...: plain HTTP; loopback always is)
    - PADDOCK_IMAGE_PLATFORM (linux/arm64/v8)
    - PADDOCK_IMAGE_PULL_SECRETS: Enabled | Disabled (default): read imagePullSecrets
    """
    if env.get("PADDOCK_IMAGE_CHECK", "Disabled") != "Enabled":
        return None
    policy = env.get("PADDOCK_IMAGE_CHECK_POLICY", "FailOpen")
    if policy not in ("FailOpen", "FailClosed"):
        raise ValueError(f"PADDOCK_IMAGE_CHECK_POLICY={policy!r}: use FailOpen or FailClosed")
    pull_secrets = env.get("PADDOCK_IMAGE_PULL_SECRETS", "Disabled") == "Enabled"
    client = RegistryClient(
        timeout=float(env.get("PADDOCK_IMAGE_REGISTRY_TIMEOUT_SECONDS", "10")),
        timeouts=_pairs(env.get("PADDOCK_IMAGE_REGISTRY_TIMEOUTS", "")),
        insecure=frozenset(
            filter(
                None,
                (h.strip() for h in env.get("PADDOCK_IMAGE_INSECURE_REGISTRIES", "").split(",")),
            )
        ),
    )
    wanted = (
        parse_platform(env["PADDOCK_IMAGE_PLATFORM"]) if "PADDOCK_IMAGE_PLATFORM" in env else WANTED
    )
    checker = ImageChecker(
        client,
        ttl=float(env.get("PADDOCK_IMAGE_CACHE_TTL_SECONDS", "300")),
        error_ttl=float(env.get("PADDOCK_IMAGE_ERROR_TTL_SECONDS", "30")),
        max_entries=int(env.get("PADDOCK_IMAGE_CACHE_SIZE", "10000")),
        concurrency=int(env.get("PADDOCK_IMAGE_CHECK_CONCURRENCY", "8")),
        wanted=wanted,
        credentials=credentials() if pull_secrets and credentials is not None else None,
        poke=poke,
    )
    log.info(
        "image architecture check enabled: %s, policy %s, cache TTL %gs, pull secrets %s",
        wanted,
        policy,
        checker.ttl,
        "read" if pull_secrets else "not read (anonymous)",
    )
    return ImageGate(checker, cast(Policy, policy), pull_secrets)


def environment() -> Mapping[str, str]:
    return os.environ
