"""Leader election: client-go's three durations, fencing on the local clock, supervision.

An in-memory Lease API with real optimistic concurrency (resourceVersion, 409)
plays the API server, and a hand-moved clock plays time, so every rule is
checked at the exact instants that matter. tests/integration/test_faults.py
proves the same code with two real processes and a partitioned leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock.controller.applier import Applier, Clients
from paddock.controller.cluster_state import SnapshotBuilder
from paddock.controller.leadership import LeaderElectionConfig, LeaseElector
from paddock.controller.loop import SchedulingLoop
from paddock.controller.runtime import EXIT_FENCED, EXIT_LEASE_TASK_ENDED, Runtime
from paddock.controller.writer import Write, Writer


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class LeaseServer:
    """One Lease, stored like the API server does: replace only at the current version."""

    lease: client.V1Lease | None = None
    version: int = 0
    calls: list[str] = field(default_factory=list)
    timeouts: list[Any] = field(default_factory=list)


@dataclass
class FakeLeaseApi:
    server: LeaseServer
    down: bool = False

    def _check(self, verb: str, kwargs: dict[str, Any]) -> None:
        self.server.timeouts.append(kwargs.get("_request_timeout"))
        if self.down:
            raise ConnectionRefusedError("the API server is unreachable")
        self.server.calls.append(verb)

    def read_namespaced_lease(self, name: str, namespace: str, **kwargs: Any) -> client.V1Lease:
        self._check("read", kwargs)
        if self.server.lease is None:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.server.lease)

    def create_namespaced_lease(
        self, namespace: str, body: client.V1Lease, **kwargs: Any
    ) -> client.V1Lease:
        self._check("create", kwargs)
        if self.server.lease is not None:
            raise ApiException(status=409, reason="AlreadyExists")
        return self._store(body)

    def replace_namespaced_lease(
        self, name: str, namespace: str, body: client.V1Lease, **kwargs: Any
    ) -> client.V1Lease:
        self._check("replace", kwargs)
        assert self.server.lease is not None
        if body.metadata.resource_version != self.server.lease.metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        return self._store(body)

    def _store(self, body: client.V1Lease) -> client.V1Lease:
        self.server.version += 1
        stored = copy.deepcopy(body)
        stored.metadata.resource_version = str(self.server.version)
        self.server.lease = stored
        return copy.deepcopy(stored)


def elector(
    server: LeaseServer, clock: Clock, identity: str, **config: float
) -> tuple[LeaseElector, FakeLeaseApi]:
    api = FakeLeaseApi(server)
    return (
        LeaseElector(
            api,  # type: ignore[arg-type]
            namespace="default",
            identity=identity,
            config=LeaderElectionConfig(**config),
            clock=clock,
        ),
        api,
    )


def holder(server: LeaseServer) -> str | None:
    assert server.lease is not None and server.lease.spec is not None
    holder_identity: str | None = server.lease.spec.holder_identity
    return holder_identity


def test_the_durations_must_nest_as_in_client_go() -> None:
    LeaderElectionConfig(lease_duration=15, renew_deadline=10, retry_period=2)
    for bad in ((10, 10, 2), (15, 10, 10), (15, 20, 2), (15, 10, 0)):
        with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
            LeaderElectionConfig(lease_duration=bad[0], renew_deadline=bad[1], retry_period=bad[2])


def test_first_replica_acquires_and_leads_only_until_its_renew_deadline() -> None:
    server, clock = LeaseServer(), Clock()
    a, _ = elector(server, clock, "a")
    assert a.step() and a.is_leader and holder(server) == "a"
    clock.now += 9.9
    assert a.is_leader
    clock.now += 0.1  # renew deadline (10 s) after the start of the last successful renewal
    assert not a.is_leader and a.fenced
    assert not a.step(), "a fenced replica makes no more attempts"
    assert server.calls == ["read", "create"]


def test_every_lease_call_carries_a_short_timeout() -> None:
    server, clock = LeaseServer(), Clock()
    a, _ = elector(server, clock, "a")
    a.step()
    a.step()
    assert server.timeouts and all(t == (2.5, 2.5) for t in server.timeouts)


def test_a_standby_waits_a_lease_duration_from_when_it_saw_the_lease_change() -> None:
    server, clock = LeaseServer(), Clock()
    a, a_api = elector(server, clock, "a")
    b, _ = elector(server, clock, "b")
    a.step()
    # The renewTime says the Lease is ancient (another replica's clock is wrong, or ours):
    # b must not care, it counts from its own first sight of this version.
    assert server.lease is not None and server.lease.spec is not None
    server.lease.spec.renew_time = datetime(2001, 1, 1, tzinfo=UTC)
    assert not b.step()
    seen = clock.now
    a_api.down = True  # a can no longer renew
    clock.now = seen + 14.9
    assert not b.step(), "taken over before a lease duration had passed since b saw a change"
    clock.now = seen + 15.0
    assert b.step() and holder(server) == "b"


def test_every_renewal_the_standby_sees_restarts_its_wait() -> None:
    server, clock = LeaseServer(), Clock()
    a, _ = elector(server, clock, "a")
    b, _ = elector(server, clock, "b")
    for _ in range(20):  # 40 s of a healthy leader renewing every retry period
        assert a.step()
        assert not b.step()
        clock.now += 2.0
    assert holder(server) == "a"


def test_the_old_leader_stops_writing_before_anyone_can_take_over() -> None:
    """The fencing invariant, at every instant of a partition, on one shared clock."""
    server, clock = LeaseServer(), Clock()
    a, a_api = elector(server, clock, "a")
    b, _ = elector(server, clock, "b")
    assert a.step()
    assert not b.step()
    clock.now += 1.5
    assert a.step()  # the last renewal that gets through
    a_api.down = True
    a_stopped_at = b_took_at = None
    for _ in range(400):
        clock.now += 0.05
        if a_stopped_at is None and not a.is_leader:
            a_stopped_at = clock.now
        with contextlib.nullcontext() if a.fenced else pytest.raises(ConnectionRefusedError):
            a.step()
        if b.step():
            b_took_at = clock.now
            break
    assert a_stopped_at is not None and b_took_at is not None
    assert b_took_at - a_stopped_at >= 15.0 - 10.0 - 2.0 - 0.05  # lease - deadline - b's lag
    assert a_stopped_at < b_took_at


def test_a_leader_that_reads_another_holder_is_fenced_at_once() -> None:
    server, clock = LeaseServer(), Clock()
    a, _ = elector(server, clock, "a")
    a.step()
    assert server.lease is not None and server.lease.spec is not None
    server.lease.spec.holder_identity = "b"  # e.g. a forced take-over by an admin
    server.version += 1
    server.lease.metadata.resource_version = str(server.version)
    assert not a.step()
    assert a.lost_to == "b" and a.fenced and not a.is_leader


def test_two_racing_take_overs_one_wins_by_resource_version() -> None:
    server, clock = LeaseServer(), Clock()
    b, _ = elector(server, clock, "b")
    c, c_api = elector(server, clock, "c")
    server.lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="paddock-scheduler", resource_version="7"),
        spec=client.V1LeaseSpec(holder_identity="", lease_duration_seconds=15),
    )
    server.version = 7
    stale = c_api.read_namespaced_lease("paddock-scheduler", "default")
    assert b.step()  # an empty holder is free at once
    stale.spec.holder_identity = "c"
    with pytest.raises(ApiException) as conflict:
        c_api.replace_namespaced_lease("paddock-scheduler", "default", stale)
    assert conflict.value.status == 409
    assert not c.step() and holder(server) == "b"


def test_release_lets_a_standby_take_over_at_its_next_try() -> None:
    server, clock = LeaseServer(), Clock()
    a, _ = elector(server, clock, "a")
    b, _ = elector(server, clock, "b")
    a.step()
    assert not b.step()
    a.release()
    assert not a.is_leader and holder(server) is None
    assert b.step() and holder(server) == "b"


def test_a_restarted_process_with_the_same_identity_renews_its_own_lease() -> None:
    server, clock = LeaseServer(), Clock()
    first, _ = elector(server, clock, "pod-0")
    first.step()
    again, _ = elector(server, clock, "pod-0")  # the kubelet restarted the container
    assert again.step() and holder(server) == "pod-0"


# ---------------------------------------------------------------------- the lease task


def runtime(server: LeaseServer, **config: float) -> tuple[Runtime, list[int], FakeLeaseApi]:
    exits: list[int] = []
    api = FakeLeaseApi(server)
    lease = LeaseElector(
        api,  # type: ignore[arg-type]
        namespace="default",
        identity="a",
        config=LeaderElectionConfig(**config),
    )
    builder = SnapshotBuilder()
    clients = Clients(None, None, None)  # type: ignore[arg-type]
    applier = Applier(clients, admitted_memory={}, is_leader=lambda: lease.is_leader)

    async def apply(state: Any, plan: Any) -> None:
        return None

    loop: SchedulingLoop[Any, Any] = SchedulingLoop(
        snapshot=lambda: None, plan=lambda s: s, apply=apply
    )
    rt = Runtime(
        builder=builder,
        applier=applier,
        elector=lease,
        loop=loop,
        watches=(),
        store_lock=threading.Lock(),
        exit=exits.append,
    )
    return rt, exits, api


def test_the_lease_task_survives_connection_errors_and_timeouts() -> None:
    server = LeaseServer()
    rt, exits, api = runtime(server, lease_duration=1.5, renew_deadline=1.0, retry_period=0.05)
    api.down = True  # never led: errors only delay acquiring

    async def scenario() -> None:
        task = asyncio.create_task(rt.keep_lease())
        await asyncio.sleep(0.3)
        assert not task.done(), "a refused connection ended the lease task"
        api.down = False
        for _ in range(100):
            if rt.elector.is_leader:
                break
            await asyncio.sleep(0.02)
        task.cancel()

    asyncio.run(scenario())
    assert rt.elector.is_leader and exits == []


def test_a_leader_that_cannot_renew_drops_its_writes_and_exits_at_the_deadline() -> None:
    server = LeaseServer()
    rt, exits, api = runtime(server, lease_duration=1.5, renew_deadline=0.6, retry_period=0.1)
    assert rt.applier.writer is not None
    writer: Writer = rt.applier.writer

    async def scenario() -> None:
        task = asyncio.create_task(rt.keep_lease())
        while not rt.elector.is_leader:
            await asyncio.sleep(0.01)
        api.down = True
        writer.workers = 0  # keep the write queued, as behind a slow API server
        writer.submit([Write(lane="w", target="w", kind="deployment", call=lambda: None)])
        await asyncio.wait_for(task, timeout=3)

    asyncio.run(scenario())
    assert exits == [EXIT_FENCED]
    assert writer.queued == 0, "queued writes must be dropped when the Lease is lost"
    assert time.monotonic() >= rt.elector.deadline


def test_a_lease_task_that_dies_exits_the_process() -> None:
    server = LeaseServer()
    rt, exits, _ = runtime(server)

    async def broken() -> None:
        raise RuntimeError("a bug")

    rt.keep_lease = broken  # type: ignore[method-assign]
    asyncio.run(rt.supervise_lease())
    assert exits == [EXIT_LEASE_TASK_ENDED]


def test_a_standby_is_healthy_and_a_stalled_leader_is_not() -> None:
    server = LeaseServer()
    rt, _, _ = runtime(server)
    assert rt.health() is None  # standby, nothing started yet
    rt.elector.step()
    assert rt.elector.leading_since is not None
    started = rt.elector.leading_since
    assert rt.health(now=started + 10 * rt.stall_bound) is None, "still listing: not stalled"
    rt.loop.running_since = started - 100  # listed long before it led: count from leading
    assert rt.health(now=started + rt.stall_bound - 1) is None
    rt.elector.renewed_at = started + rt.stall_bound  # still leading, but no cycle since
    assert "no scheduling cycle" in (rt.health(now=started + rt.stall_bound + 1) or "")
    rt.loop.last_cycle_at = started + rt.stall_bound
    assert rt.health(now=started + rt.stall_bound + 1) is None


def test_health_after_start_counts_only_tasks_that_must_run_forever() -> None:
    server = LeaseServer()
    rt, _, _ = runtime(server)

    async def scenario() -> tuple[str | None, str | None]:
        async def listed() -> None:
            return None

        async def forever() -> None:
            await asyncio.Event().wait()

        rt.tasks = {
            "watches": asyncio.create_task(listed()),
            "loop": asyncio.create_task(forever()),
        }
        await asyncio.sleep(0.01)
        healthy = rt.health()
        rt.tasks["loop"].cancel()
        await asyncio.sleep(0.01)
        return healthy, rt.health()

    healthy, dead = asyncio.run(scenario())
    assert healthy is None, "a watches task that finished listing is not a failure"
    assert dead == "the loop task ended"
