"""Leader election on a coordination.k8s.io Lease: one replica schedules at a time.

Every replica watches and keeps its indexes warm; only the holder of the Lease
plans and writes. A holder renews every `renew_every` seconds; a standby takes
the Lease over when it has not been renewed for `lease_seconds`. Writes use
the Lease's resourceVersion, so two replicas can never both win a take-over.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("paddock.leadership")


def _now() -> datetime:
    return datetime.now(UTC)


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class LeaseElector:
    """Try to acquire or renew the Lease; `is_leader` is the latest verdict."""

    api: client.CoordinationV1Api
    namespace: str
    name: str = "paddock-scheduler"
    identity: str = f"{socket.gethostname()}-{os.getpid()}"
    lease_seconds: int = 15
    is_leader: bool = False

    def step(self) -> bool:
        """One acquire-or-renew attempt; returns whether this replica leads now."""
        try:
            self.is_leader = self._try()
        except ApiException as error:
            if error.status != 409:  # 409: another replica won the race this round
                log.warning("lease %s/%s: %s", self.namespace, self.name, error.reason)
            self.is_leader = False
        return self.is_leader

    def _try(self) -> bool:
        now = _now()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
                spec=client.V1LeaseSpec(
                    holder_identity=self.identity,
                    lease_duration_seconds=self.lease_seconds,
                    acquire_time=now,
                    renew_time=now,
                    lease_transitions=0,
                ),
            )
            self.api.create_namespaced_lease(self.namespace, body)
            log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
            return True
        spec = lease.spec
        assert spec is not None, "a Lease always has a spec"
        renewed = _parse(spec.renew_time) or datetime.fromtimestamp(0, UTC)
        expired = (now - renewed).total_seconds() > (
            spec.lease_duration_seconds or self.lease_seconds
        )
        mine = spec.holder_identity == self.identity
        if not mine and not expired:
            return False
        spec.renew_time = now
        spec.lease_duration_seconds = self.lease_seconds
        if not mine:
            spec.holder_identity = self.identity
            spec.acquire_time = now
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        # replace carries metadata.resourceVersion: a concurrent take-over gets 409.
        self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        if not mine:
            log.info("took over lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def release(self) -> None:
        """Give the Lease up on shutdown so a standby takes over at once."""
        if not self.is_leader:
            return
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is not None and lease.spec.holder_identity == self.identity:
                lease.spec.renew_time = datetime.fromtimestamp(time.time() - 3600, UTC)
                self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as error:
            log.warning("releasing lease: %s", error.reason)
        self.is_leader = False
