"""Resolve image references off the scheduling loop, with a bounded pool of workers.

The scheduling loop never waits on a registry: `lookup()` answers from the cache at once
(a miss says "pending" and queues a resolution), and a finished resolution pokes the loop so
the next cycle sees it. At most `concurrency` resolutions run at once, each with its
registry's timeout; one reference is never resolved twice at the same time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from . import metrics
from .cache import TtlCache
from .credentials import AuthScope
from .platforms import WANTED, Platform, offers
from .reference import BadReference, parse
from .registry import Credentials, RegistryClient, RegistryError

log = logging.getLogger("paddock.images")

CredentialSource = Callable[[AuthScope, str], Credentials | None]


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What one reference resolved to, or why it could not be (`error` non-empty)."""

    image: str
    registry: str
    platforms: tuple[Platform, ...] = ()
    digest: str | None = None
    offers_wanted: bool = False
    error: str = ""
    error_kind: str = ""
    checked_at: float = 0.0
    """Wall-clock time the registry first gave this answer (re-checks that find the same
    answer keep it): shown in status.images and by `kubectl paddock explain`."""

    @property
    def answered(self) -> bool:
        return not self.error


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cache answer: the result (None: never resolved yet), whether it is within its TTL,
    and its age in seconds."""

    result: ImageResult | None
    fresh: bool
    age: float


CacheKey = tuple[str, str]
REFRESH_AHEAD = 0.75
"""An entry looked up after this fraction of its TTL is resolved again in the background."""


class ImageChecker:
    def __init__(
        self,
        client: RegistryClient,
        *,
        ttl: float = 300.0,
        error_ttl: float = 30.0,
        digest_ttl: float = 86400.0,
        max_entries: int = 10000,
        concurrency: int = 8,
        wanted: Platform = WANTED,
        credentials: CredentialSource | None = None,
        poke: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.digest_ttl = digest_ttl
        self.wanted = wanted
        self.credentials = credentials
        self.poke = poke
        self.cache: TtlCache[CacheKey, ImageResult] = TtlCache(max_entries)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="paddock-image")
        self._inflight: set[CacheKey] = set()
        self._lock = threading.Lock()

    def key(self, image: str, scope: AuthScope | None) -> CacheKey:
        """By reference as written, and by whose credentials (when pull secrets are read)."""
        return (image, scope.key if scope is not None and self.credentials else "")

    def lookup(self, image: str, scope: AuthScope | None = None) -> Lookup:
        """The cached result now (never blocks); a miss or a stale entry queues a resolution."""
        key = self.key(image, scope)
        cached = self.cache.get(key)
        now = self.cache.clock()
        if cached is None:
            metrics.CACHE_LOOKUPS.labels(result="miss").inc()
            self._schedule(key, image, scope)
            return Lookup(None, False, 0.0)
        fresh = cached.fresh(now)
        metrics.CACHE_LOOKUPS.labels(result="hit" if fresh else "stale").inc()
        if not fresh or cached.age(now) >= REFRESH_AHEAD * cached.ttl:
            # Refreshed ahead of expiry: an image in use is re-resolved while its answer is
            # still fresh, so a queued workload never flips to "pending" and back (two status
            # writes) when the TTL runs out, and a moved tag is still caught within the TTL.
            self._schedule(key, image, scope)
        return Lookup(cached.value, fresh, cached.age(now))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, key: CacheKey, image: str, scope: AuthScope | None) -> None:
        with self._lock:
            if key in self._inflight:
                return
            self._inflight.add(key)
        try:
            self._pool.submit(self._run, key, image, scope)
        except RuntimeError:  # shut down
            with self._lock:
                self._inflight.discard(key)

    def _run(self, key: CacheKey, image: str, scope: AuthScope | None) -> None:
        try:
            result = self.check(image, scope)
            before = self.cache.get(key)
            if before is not None and _same_answer(before.value, result):
                # Unchanged: keep when it was first seen so, so the status does not change
                # (and cost a write) on every re-check.
                result = replace(result, checked_at=before.value.checked_at)
            ttl = self.error_ttl
            if result.answered:
                ttl = self.digest_ttl if "@" in image else self.ttl
            self.cache.put(key, result, ttl)
            metrics.CACHE_ENTRIES.set(len(self.cache))
        except Exception:  # a bug must not kill the worker: the entry stays a miss, retried
            log.exception("image check of %s failed unexpectedly", image)
        finally:
            with self._lock:
                self._inflight.discard(key)
        self.poke("image checked")

    def check(self, image: str, scope: AuthScope | None = None) -> ImageResult:
        """Resolve one reference now (blocking; in a worker thread, or from a benchmark)."""
        started = time.perf_counter()
        try:
            ref = parse(image)
        except BadReference as error:
            metrics.REGISTRY_ERRORS.labels(registry="", kind="BadReference").inc()
            metrics.CHECKS.labels(result="error").inc()
            return ImageResult(
                image, "", error=str(error), error_kind="BadReference", checked_at=time.time()
            )
        try:
            credentials = None
            if self.credentials is not None and scope is not None:
                credentials = self.credentials(scope, ref.registry)
            resolution = self.client.resolve(ref, credentials)
        except RegistryError as error:
            metrics.REGISTRY_ERRORS.labels(registry=ref.registry, kind=error.kind).inc()
            metrics.CHECKS.labels(result="error").inc()
            log.warning("image %s: %s", image, error)
            return ImageResult(
                image,
                ref.registry,
                error=str(error),
                error_kind=error.kind,
                checked_at=time.time(),
            )
        finally:
            metrics.CHECK_DURATION.observe(time.perf_counter() - started)
        ok = offers(resolution.platforms, self.wanted)
        metrics.CHECKS.labels(result="offered" if ok else "missing").inc()
        return ImageResult(
            image,
            ref.registry,
            platforms=resolution.platforms,
            digest=resolution.digest,
            offers_wanted=ok,
            checked_at=time.time(),
        )


def _same_answer(a: ImageResult, b: ImageResult) -> bool:
    return (a.platforms, a.digest, a.error_kind) == (b.platforms, b.digest, b.error_kind)
