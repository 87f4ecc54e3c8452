"""Leader election on a coordination.k8s.io Lease, as client-go does it: one writer at a time.

Every replica watches and keeps its indexes warm; only the holder of the Lease
plans and writes. Three durations (`LeaderElectionConfig`), as in client-go:

- lease duration (15 s): how long a standby waits, after it last *saw* the Lease
  change, before it may take the Lease over;
- renew deadline (10 s, shorter): how long the leader may go without a
  successful renewal before it stops writing;
- retry period (2 s): how often the leader renews and a standby tries.

Why this cannot produce two writers. Time is only ever compared on one clock:
this process's monotonic clock, never with another replica's `renewTime`.

- The leader counts from the *start* of its last successful renewal attempt
  (`renewed_at`): it leads only until `renewed_at + renew_deadline`
  (`is_leader`), which gates every write (writer.py). The renewal it counts
  from reached the API server after `renewed_at`.
- A standby counts from when it *observed* the Lease change (holder,
  renewTime or resourceVersion differ from its last read): that observation
  happened after the renewal was stored, so after `renewed_at`. It takes the
  Lease only at `observed_at + lease_duration`, which is later than the
  leader's `renewed_at + renew_deadline` by at least lease duration minus renew
  deadline (5 s), whatever the two clocks say.
- A take-over and a renewal both replace the Lease with the resourceVersion
  they read (optimistic concurrency): of two racing replicas one gets 409.

What a fenced leader does (runtime.py): it drops its queued writes and exits
non-zero, so the kubelet restarts it with empty memories.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("paddock.leadership")


@dataclass(frozen=True)
class LeaderElectionConfig:
    """client-go's three durations, in seconds (same defaults as kube-controller-manager)."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration; got "
                f"{self.retry_period} / {self.renew_deadline} / {self.lease_duration}"
            )

    @property
    def request_timeout(self) -> float:
        """Timeout of one Lease call: an attempt (read + replace) fits in the renew deadline,
        leaving time for another try."""
        return max(0.5, min(5.0, self.renew_deadline / 4))


def default_identity() -> str:
    """`PADDOCK_IDENTITY`, else the pod name inside a pod (a restarted container of the same pod
    renews its own Lease at once; the old process is dead), else host name and pid."""
    explicit = os.environ.get("PADDOCK_IDENTITY")
    if explicit:
        return explicit
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return socket.gethostname()
    return f"{socket.gethostname()}-{os.getpid()}"


def _wall(now: float | None = None) -> datetime:
    """For the Lease's human-readable timestamps only; no decision reads them."""
    return datetime.fromtimestamp(time.time() if now is None else now, UTC)


@dataclass
class LeaseElector:
    """Acquire or renew the Lease, one attempt per `step()`; `is_leader` gates the writes."""

    api: client.CoordinationV1Api
    namespace: str
    name: str = "paddock-scheduler"
    identity: str = field(default_factory=default_identity)
    config: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    clock: Callable[[], float] = time.monotonic
    renewed_at: float | None = None
    """Monotonic start of the last successful acquire or renew attempt (None: never led)."""
    leading_since: float | None = None
    """Monotonic time this replica last became leader."""
    lost_to: str | None = None
    """Set when a read showed another holder while this replica believed it led."""
    _observed: tuple[str, str, str] | None = None
    """(holder, renewTime, resourceVersion) of the Lease at its last change seen."""
    _observed_at: float = 0.0
    _observed_duration: float = 0.0

    @property
    def is_leader(self) -> bool:
        """Leads until `renew_deadline` after the last successful renewal, on the local clock,
        unless it has seen another holder."""
        return self.renewed_at is not None and self.lost_to is None and self.clock() < self.deadline

    @property
    def deadline(self) -> float:
        """When this replica stops leading unless it renews first (monotonic)."""
        if self.renewed_at is None:
            return float("-inf")
        return self.renewed_at + self.config.renew_deadline

    @property
    def fenced(self) -> bool:
        """It led, and now must not: the renew deadline passed or another replica holds it."""
        return self.renewed_at is not None and not self.is_leader

    def step(self) -> bool:
        """One acquire-or-renew attempt; returns whether this replica leads now.

        A 409 (another replica won the race) is a normal "no"; any other error
        (API errors, timeouts, refused connections) is raised for the caller to
        log and retry. A replica already fenced makes no call at all.
        """
        if self.fenced:
            return False
        started = self.clock()
        try:
            won = self._try(started)
        except ApiException as error:
            if error.status != 409:
                raise
            won = False
        if won:
            if self.renewed_at is None or not self.is_leader:
                self.leading_since = started
            self.renewed_at = started
        return self.is_leader

    def _timeout(self) -> tuple[float, float]:
        timeout = self.config.request_timeout
        return (timeout, timeout)

    def _try(self, started: float) -> bool:
        try:
            lease = self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout()
            )
        except ApiException as error:
            if error.status != 404:
                raise
            return self._create()
        spec = lease.spec or client.V1LeaseSpec()
        lease.spec = spec
        holder = spec.holder_identity or ""
        self._observe(lease, holder)
        if holder and holder != self.identity:
            if self.renewed_at is not None and self.lost_to is None:
                self.lost_to = holder
                return False
            expires = self._observed_at + self._observed_duration
            if self.clock() < expires:
                return False  # another replica holds a valid Lease
        now = _wall()
        spec.renew_time = now
        spec.lease_duration_seconds = max(1, round(self.config.lease_duration))
        if holder != self.identity:
            spec.holder_identity = self.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        # replace carries metadata.resourceVersion: a concurrent take-over gets 409.
        updated = self.api.replace_namespaced_lease(
            self.name, self.namespace, lease, _request_timeout=self._timeout()
        )
        self._observe(updated, self.identity)
        if holder != self.identity:
            log.info(
                "took over lease %s/%s as %s (previous holder %r)",
                self.namespace,
                self.name,
                self.identity,
                holder,
            )
        return True

    def _create(self) -> bool:
        now = _wall()
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=max(1, round(self.config.lease_duration)),
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        created = self.api.create_namespaced_lease(
            self.namespace, body, _request_timeout=self._timeout()
        )
        self._observe(created, self.identity)
        log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def _observe(self, lease: Any, holder: str) -> None:
        """Remember when the Lease last changed, on this replica's clock."""
        spec = lease.spec
        record = (
            holder,
            str(spec.renew_time if spec is not None else ""),
            str(lease.metadata.resource_version if lease.metadata is not None else ""),
        )
        if record != self._observed:
            self._observed = record
            self._observed_at = self.clock()
            seconds = spec.lease_duration_seconds if spec is not None else None
            self._observed_duration = float(seconds or self.config.lease_duration)

    def release(self) -> None:
        """Give the Lease up on a clean shutdown, so a standby takes it at its next try.

        As client-go's ReleaseOnCancel: empty holder, 1 s duration. Only while
        still leading: a fenced replica may no longer touch it.
        """
        if not self.is_leader:
            return
        self.renewed_at = None  # nothing is written from here on
        try:
            lease = self.api.read_namespaced_lease(
                self.name, self.namespace, _request_timeout=self._timeout()
            )
            if lease.spec is not None and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.lease_duration_seconds = 1
                lease.spec.renew_time = _wall()
                self.api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _request_timeout=self._timeout()
                )
                log.info("released lease %s/%s", self.namespace, self.name)
        except Exception as error:  # shutting down: the Lease expires by itself
            log.warning("releasing lease: %s", error)
