"""The applier against a fake client: what it writes, in which order, and what it never repeats.

The fake records every call and can hold a call (to keep a write in flight) or fail it. Tests
wait on conditions with deadlines, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kubernetes.client.exceptions import ApiException

from paddock.api import AgentWorkloadSpec, CorePoolSpec
from paddock.controller.applier import Applier, Clients
from paddock.controller.cluster_state import ClusterState, Parsed
from paddock.controller.observed import SPEC_HASH_ANNOTATION, DeploymentFacts, ObjectFacts
from paddock.controller.status import PoolMeasures
from paddock.controller.writer import Writer
from paddock.planner import BudgetUsage, Plan, PoolUsage, Reason, WorkloadDecision


# ------------------------------------------------------------------ a fake API
@dataclass
class Call:
    kind: str  # deployment, deployment-delete, status, event
    target: str  # "ns/name" for workloads, the name for cluster-scoped objects
    body: Any


@dataclass
class FakeApi:
    """Stands in for AppsV1Api, CoreV1Api and CustomObjectsApi at once."""

    calls: list[Call] = field(default_factory=list)
    holds: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    preload: list[bool] = field(default_factory=list)

    def hold(self, kind: str, target: str) -> threading.Event:
        """The next calls of this kind and target block until the returned event is set."""
        release = threading.Event()
        self.holds[(kind, target)] = release
        return release

    def fail(self, kind: str, target: str, times: int = 1) -> None:
        self.failures[(kind, target)] = times

    def _call(self, kind: str, target: str, body: Any, kwargs: Mapping[str, Any]) -> None:
        self.preload.append(kwargs.get("_preload_content", True))
        release = self.holds.get((kind, target))
        if release is not None:
            assert release.wait(10), f"{kind} {target} held for too long"
        with self.lock:
            if self.failures.get((kind, target), 0) > 0:
                self.failures[(kind, target)] -= 1
                raise ApiException(status=500, reason="Internal Server Error")
            self.calls.append(Call(kind, target, body))

    def of(self, kind: str, target: str | None = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.kind == kind and target in (None, c.target)]

    # AppsV1Api
    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any, **kw: Any) -> None:
        workload = body["metadata"]["labels"]["paddock.dev/workload"]
        self._call("deployment", f"{namespace}/{workload}", body, kw)

    def create_namespaced_deployment(self, namespace: str, body: Any, **kw: Any) -> None:
        workload = body["metadata"]["labels"]["paddock.dev/workload"]
        self._call("deployment", f"{namespace}/{workload}", body, kw)

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> Any:
        """The last Deployment written under that name (a 404 if none)."""
        with self.lock:
            bodies = [
                c.body
                for c in self.calls
                if c.kind == "deployment" and c.body["metadata"]["name"] == name
            ]
        if not bodies:
            raise ApiException(status=404, reason="Not Found")
        owners = [
            SimpleNamespace(controller=o.get("controller"), uid=o["uid"])
            for o in bodies[-1]["metadata"].get("ownerReferences", ())
        ]
        return SimpleNamespace(metadata=SimpleNamespace(uid=f"uid-{name}", owner_references=owners))

    def delete_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> None:
        self._call("deployment-delete", f"{namespace}/{name}", None, kw)

    # CustomObjectsApi
    def patch_namespaced_custom_object_status(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **kw: Any
    ) -> None:
        self._call("status", f"{namespace}/{name}", body["status"], kw)

    def patch_cluster_custom_object_status(
        self, group: str, version: str, plural: str, name: str, body: Any, **kw: Any
    ) -> None:
        self._call("status", name, body["status"], kw)

    # CoreV1Api
    def create_namespaced_event(self, namespace: str, body: Any, **kw: Any) -> None:
        self._call("event", f"{namespace}/{body['involvedObject']['name']}", body, kw)


def wait_until(probe: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


async def settle(applier: Applier, timeout: float = 5.0) -> None:
    """Wait (on the event loop, so failure callbacks run) until the writer is idle."""
    writer = applier.writer
    assert writer is not None
    deadline = time.monotonic() + timeout
    while not writer.idle():
        assert time.monotonic() < deadline, "writes did not finish"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0)  # let posted failure callbacks run


# ------------------------------------------------------------------ building states and plans
NS = "team"
POOL = Parsed(
    ObjectFacts(None, "g4", "uid-g4", 1, "2026-01-01T00:00:00Z", {}, {}),
    CorePoolSpec.model_validate({"nodeSelector": {}}),
)
SPEC = {
    "budget": "team",
    "replicas": 2,
    "coresPerReplica": 4,
    "memoryPerReplica": "1Gi",
    "template": {"spec": {"containers": [{"name": "main", "image": "agent:1"}]}},
}


def workload(name: str, status: Mapping[str, Any] | None = None, **spec: Any) -> Parsed[Any]:
    facts = ObjectFacts(
        NS, name, f"uid-{name}", 1, "2026-01-01T00:00:00Z", {**SPEC, **spec}, status or {}
    )
    return Parsed(facts, AgentWorkloadSpec.model_validate(dict(facts.spec)))


def admitted(name: str, replicas: int = 2, pool: str = "g4") -> WorkloadDecision:
    return WorkloadDecision(
        key=f"{NS}/{name}",
        budget="team",
        admitted_replicas=replicas,
        admitted_cores=replicas * 4,
        requested_cores=8,
        assignments=((pool, replicas),),
        placements=(("n1", replicas),),
        state="Admitted",
        reason=Reason.ADMITTED,
        message=f"admitted {replicas} replicas",
        queue_position=None,
    )


def queued(name: str, position: int, free: int = 3) -> WorkloadDecision:
    return replace(
        admitted(name),
        admitted_replicas=0,
        admitted_cores=0,
        assignments=(),
        placements=(),
        state="Queued",
        reason=Reason.BUDGET_EXHAUSTED,
        message=f"needs 8 cores (2 replicas x 4), budget team has {free} of 16 free",
        queue_position=position,
    )


def state(
    workloads: Iterable[Parsed[Any]],
    deployments: Mapping[str, tuple[DeploymentFacts, ...]] | None = None,
    budgets: Mapping[str, Parsed[Any]] | None = None,
) -> ClusterState:
    return ClusterState(
        snapshot=cast(Any, None),
        pools={"g4": POOL},
        budgets=budgets or {},
        workloads={f"{NS}/{w.facts.name}": w for w in workloads},
        deployments=deployments or {},
        ready_replicas={},
        pool_facts={"g4": PoolMeasures(2, 2, ("arm64",), ("4",), ("z1",), 32, 0, 0)},
    )


def plan(*decisions: WorkloadDecision, free: int = 32) -> Plan:
    return Plan(
        workloads={d.key: d for d in decisions},
        budgets={},
        pools={
            "g4": PoolUsage(
                name="g4",
                nodes=2,
                schedulable_nodes=2,
                free_cores_after_plan=free,
                largest_free_block_after_plan=free,
                paddock_cores=32 - free,
            )
        },
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(api: FakeApi, **kw: Any) -> Applier:
    fake = cast(Any, api)
    return Applier(Clients(apps=fake, core=fake, custom=fake), admitted_memory={}, **kw)


def run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


# ------------------------------------------------------------------ tests
def test_an_admission_at_once_is_three_writes_and_no_event() -> None:
    api = FakeApi()

    async def scenario() -> None:
        applier = make(api)
        w = workload("agent")
        await applier.apply(state([w]), plan(admitted("agent")))
        await settle(applier)
        assert [c.kind for c in api.calls if c.target == "team/agent"].count("deployment") == 1
        (written,) = api.of("status", "team/agent")
        assert written.body["phase"] == "Admitted"
        # The watch echoes the Deployment and the status; its pods become Ready.
        digest = api.of("deployment")[0].body["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
        name = api.of("deployment")[0].body["metadata"]["name"]
        deployment = DeploymentFacts(name, "team/agent", "g4", 2, 2, digest)
        echoed = workload("agent", status=written.body)
        deployments = {"team/agent": (deployment,)}
        for _ in range(3):  # level-triggered: more cycles change nothing
            await applier.apply(state([echoed], deployments), plan(admitted("agent")))
        await settle(applier)
        statuses = api.of("status", "team/agent")
        assert [s.body["phase"] for s in statuses] == ["Admitted", "Running"]
        assert api.of("event") == []
        assert len([c for c in api.calls if c.target == "team/agent"]) == 3
        assert set(api.preload) == {False}, "answers are never decoded"
        applier.close()

    run(scenario)


def test_apply_returns_while_writes_are_in_flight_and_never_repeats_them() -> None:
    api = FakeApi()
    release = api.hold("deployment", "team/slow")

    async def scenario() -> None:
        applier = make(api)
        w = workload("slow")
        started = time.monotonic()
        await applier.apply(state([w]), plan(admitted("slow")))
        assert time.monotonic() - started < 5.0  # the held write takes 10 s if awaited
        wait_until(lambda: api.preload, what="the Deployment write to start")
        # Cycles while the write is in flight (the index has not seen anything yet).
        for _ in range(5):
            await applier.apply(state([w]), plan(admitted("slow")))
        assert applier.admitted_memory["team/slow"] == (("g4", 2),)
        release.set()
        await settle(applier)
        assert len(api.of("deployment")) == 1
        assert len(api.of("status", "team/slow")) == 1
        applier.close()

    run(scenario)


def test_a_resize_queued_behind_an_in_flight_admission_lands_after_it() -> None:
    api = FakeApi()
    release = api.hold("deployment", "team/grow")

    async def scenario() -> None:
        applier = make(api)
        w = workload("grow", replicas=4)
        await applier.apply(state([w]), plan(admitted("grow", 2)))
        wait_until(lambda: api.preload, what="the admission to be in flight")
        await applier.apply(state([w]), plan(admitted("grow", 3)))
        await applier.apply(state([w]), plan(admitted("grow", 4)))  # replaces the queued 3
        release.set()
        await settle(applier)
        replicas = [c.body["spec"]["replicas"] for c in api.of("deployment")]
        assert replicas == [2, 4]
        assert [s.body["admittedReplicas"] for s in api.of("status", "team/grow")][-1] == 4
        applier.close()

    run(scenario)


def test_status_and_deployment_of_one_workload_go_concurrently() -> None:
    api = FakeApi()
    release = api.hold("deployment", "team/both")

    async def scenario() -> None:
        applier = make(api)
        await applier.apply(state([workload("both")]), plan(admitted("both")))
        # The status lands while the Deployment apply is still held.
        wait_until(lambda: api.of("status", "team/both"), what="the status write")
        assert api.of("deployment") == []
        release.set()
        await settle(applier)
        assert len(api.of("deployment")) == 1
        applier.close()

    run(scenario)


def test_a_failed_write_is_counted_forgotten_retried_and_pokes_the_loop() -> None:
    api = FakeApi()
    api.fail("deployment", "team/flaky")
    api.fail("status", "team/flaky")
    pokes: list[str] = []

    async def scenario() -> None:
        applier = make(api, retry_delay=0.01)
        applier.poke = pokes.append
        w = workload("flaky")
        await applier.apply(state([w]), plan(admitted("flaky")))
        await settle(applier)
        assert api.of("deployment") == [] and api.of("status", "team/flaky") == []
        assert "team/flaky" not in applier.admitted_memory, "the snapshot must not trust it"
        deadline = time.monotonic() + 5
        while not pokes:
            assert time.monotonic() < deadline, "no poke after a failure"
            await asyncio.sleep(0.005)
        await applier.apply(state([w]), plan(admitted("flaky")))  # the poked cycle
        await settle(applier)
        assert len(api.of("deployment")) == 1 and len(api.of("status", "team/flaky")) == 1
        applier.close()

    run(scenario)


def test_losing_the_lease_drops_queued_writes_but_not_in_flight_ones() -> None:
    api = FakeApi()
    leader = True
    release = api.hold("deployment", "team/w0")

    async def scenario() -> None:
        nonlocal leader
        applier = make(api, is_leader=lambda: leader, writer=Writer(workers=1))
        ws = [workload(f"w{i}") for i in range(5)]
        await applier.apply(state(ws), plan(*(admitted(f"w{i}") for i in range(5))))
        wait_until(lambda: api.preload, what="the first write to be in flight")
        leader = False
        release.set()
        await settle(applier)
        assert [c.target for c in api.calls] == ["team/w0"], "only the in-flight write landed"
        # Dropped writes are forgotten: a new leader's cycle writes them again.
        assert set(applier.admitted_memory) <= {"team/w0"}
        leader = True
        await applier.apply(state(ws), plan(*(admitted(f"w{i}") for i in range(5))))
        await settle(applier)
        for i in range(1, 5):
            assert len(api.of("deployment", f"team/w{i}")) == 1
            assert len(api.of("status", f"team/w{i}")) == 1
        applier.close()

    run(scenario)


def test_events_only_for_transitions_a_user_must_see() -> None:
    """A wait someone must act on (here: no such budget) is an Event, and so is its end."""
    api = FakeApi()

    async def scenario() -> None:
        applier = make(api)
        orphan = replace(
            queued("late", 0),
            budget=None,
            reason=Reason.UNKNOWN_BUDGET,
            message="budget team does not exist",
            queue_position=None,
        )
        await applier.apply(state([workload("late")]), plan(orphan))
        await settle(applier)
        queued_status = api.of("status", "team/late")[-1].body
        assert queued_status["reason"] == "UnknownBudget"
        late = workload("late", status=queued_status)
        await applier.apply(state([late]), plan(admitted("late")))
        await settle(applier)
        assert [e.body["reason"] for e in api.of("event")] == ["Queued", "Admitted"]
        applier.close()

    run(scenario)


def test_a_short_routine_wait_at_any_depth_costs_one_status_write_its_admission() -> None:
    """Issue #15: a short wait behind others in a queue is written nowhere (no status, no
    Event) until the workload is admitted: positions are computed on demand."""
    api = FakeApi()
    clock = Clock()

    async def scenario() -> None:
        applier = make(api, clock=clock)
        w = workload("deep")
        for position, free in [(40, 3), (31, 2), (12, 0), (2, 1)]:
            clock.now += 5
            await applier.apply(state([w]), plan(queued("deep", position, free=free)))
        await settle(applier)
        assert api.of("status", "team/deep") == [] and api.of("event") == []
        await applier.apply(state([w]), plan(admitted("deep")))
        await settle(applier)
        assert [s.body["phase"] for s in api.of("status", "team/deep")] == ["Admitted"]
        assert api.of("event") == []
        assert len([c for c in api.calls if c.target == "team/deep"]) == 2  # + its Deployment
        applier.close()

    run(scenario)


def test_a_long_wait_deep_in_a_queue_is_never_written_until_it_nears_the_head() -> None:
    """Issue #15: a deep position costs no write however long it waits (`kubectl get aw` shows
    the CRD's default phase Queued, read back here as the API server fills it in; `kubectl
    paddock` computes the position); at the head it is written once it has waited
    head_status_delay there, counted from reaching the head, not from its creation."""
    api = FakeApi()
    clock = Clock()

    async def scenario() -> None:
        applier = make(api, clock=clock, head_status_delay=5.0)
        w = workload("deep", status={"phase": "Queued"})  # the API server's default
        for position in (40, 30, 20, 10, 2):
            clock.now += 60
            await applier.apply(state([w]), plan(queued("deep", position, free=1)))
        await settle(applier)
        assert api.of("status", "team/deep") == [] and api.of("event") == []
        await applier.apply(state([w]), plan(queued("deep", 1, free=1)))
        await settle(applier)
        assert api.of("status", "team/deep") == []  # at the head for 0 s
        clock.now += 5
        await applier.apply(state([w]), plan(queued("deep", 1, free=1)))
        await settle(applier)
        written = api.of("status", "team/deep")
        assert [(s.body["phase"], s.body["reason"]) for s in written] == [
            ("Queued", "BudgetExhausted")
        ]
        applier.close()

    run(scenario)


def test_queue_position_and_message_numbers_are_refreshed_at_a_bounded_rate() -> None:
    api = FakeApi()
    clock = Clock()
    pokes: list[str] = []

    async def scenario() -> None:
        applier = make(api, clock=clock, queue_refresh_interval=30.0, head_status_delay=5.0)
        applier.poke = pokes.append
        await applier.apply(state([workload("q")]), plan(queued("q", 1, free=3)))
        await settle(applier)
        # The head of a routine queue is written once it has waited head_status_delay.
        assert api.of("status", "team/q") == [] and applier._wake_at is not None
        clock.now += 5
        await applier.apply(state([workload("q")]), plan(queued("q", 1, free=3)))
        await settle(applier)
        assert [s.body["queuePosition"] for s in api.of("status", "team/q")] == [1]
        current = workload("q", status=api.of("status", "team/q")[-1].body)
        # Each cycle the position and the free cores move: nothing is written for 30 s.
        for position, free in [(2, 2), (3, 1), (3, 0), (2, 3)]:
            clock.now += 5
            await applier.apply(state([current]), plan(queued("q", position, free=free)))
        await settle(applier)
        assert len(api.of("status", "team/q")) == 1
        # A held-back value is not lost: the loop is poked when the interval ends, and then
        # the latest value lands.
        clock.now += 15
        await applier.apply(state([current]), plan(queued("q", 2, free=3)))
        await settle(applier)
        assert [s.body["queuePosition"] for s in api.of("status", "team/q")] == [1, 2]
        # A deep position is never refreshed (computed on demand) ...
        current = workload("q", status=api.of("status", "team/q")[-1].body)
        clock.now += 60
        await applier.apply(state([current]), plan(queued("q", 4, free=3)))
        await settle(applier)
        assert [s.body["queuePosition"] for s in api.of("status", "team/q")] == [1, 2]
        # ... reaching the head of the queue is written at once.
        clock.now += 1
        await applier.apply(state([current]), plan(queued("q", 1, free=3)))
        await settle(applier)
        assert [s.body["queuePosition"] for s in api.of("status", "team/q")] == [1, 2, 1]
        # A change of reason is written at once, whatever the interval.
        current = workload("q", status=api.of("status", "team/q")[-1].body)
        clock.now += 1
        no_room = replace(queued("q", 1), reason=Reason.NO_CAPACITY, message="no room")
        await applier.apply(state([current]), plan(no_room))
        await settle(applier)
        assert api.of("status", "team/q")[-1].body["reason"] == "NoCapacity"
        assert api.of("event") == []  # a routine wait: no Event
        applier.close()

    run(scenario)


def test_held_back_status_pokes_the_loop_when_its_interval_ends() -> None:
    api = FakeApi()
    pokes: list[str] = []

    async def scenario() -> None:
        clock = Clock()  # the hold is measured on it; the poke timer runs on the event loop
        applier = make(api, clock=clock, queue_refresh_interval=0.05, head_status_delay=0.0)
        applier.poke = pokes.append
        await applier.apply(state([workload("q")]), plan(queued("q", 1)))
        await settle(applier)
        current = workload("q", status=api.of("status", "team/q")[-1].body)
        await applier.apply(state([current]), plan(queued("q", 2)))
        assert len(api.of("status", "team/q")) == 1 and not pokes
        deadline = time.monotonic() + 5
        while not pokes:
            assert time.monotonic() < deadline, "the loop was never poked"
            await asyncio.sleep(0.005)
        clock.now += 1
        await applier.apply(state([current]), plan(queued("q", 2)))
        await settle(applier)
        assert [s.body["queuePosition"] for s in api.of("status", "team/q")] == [1, 2]
        applier.close()

    run(scenario)


def test_budget_and_pool_status_at_most_once_per_interval_and_the_last_value_lands() -> None:
    api = FakeApi()
    clock = Clock()

    async def scenario() -> None:
        applier = make(api, clock=clock, aggregate_interval=5.0)
        budget = Parsed(ObjectFacts(None, "team", "uid-b", 1, "", {}, {}), None)
        budgets = {"team": budget}
        usage = BudgetUsage(
            name="team",
            used_cores=0,
            borrowed_cores=0,
            lent_cores=0,
            pending_cores=0,
            admitted_workloads=0,
            pending_workloads=0,
        )

        def with_budget(used: int) -> Plan:
            return replace(plan(free=32 - used), budgets={"team": replace(usage, used_cores=used)})

        await applier.apply(state([], budgets=budgets), with_budget(0))
        await settle(applier)
        assert len(api.of("status", "team")) == 1 and len(api.of("status", "g4")) == 1
        for used in (4, 8, 12):  # three cycles within the interval
            clock.now += 1
            await applier.apply(state([], budgets=budgets), with_budget(used))
        await settle(applier)
        assert len(api.of("status", "team")) == 1 and len(api.of("status", "g4")) == 1
        clock.now += 5  # the interval has passed: the resync (or the poke) writes the last value
        await applier.apply(state([], budgets=budgets), with_budget(12))
        await settle(applier)
        assert [s.body["usedCores"] for s in api.of("status", "team")] == [0, 12]
        assert [s.body["freeCores"] for s in api.of("status", "g4")] == [32, 20]
        applier.close()

    run(scenario)


def test_a_moved_workload_deletes_its_old_deployment_once() -> None:
    api = FakeApi()
    release = api.hold("deployment-delete", "team/mover-g3")

    async def scenario() -> None:
        applier = make(api)
        running = {"phase": "Running", "admittedReplicas": 2}
        w = workload("mover", status=running)
        old = DeploymentFacts("mover-g3", "team/mover", "g3", 2, 2, "x")
        for _ in range(3):
            await applier.apply(state([w], {"team/mover": (old,)}), plan(admitted("mover")))
        wait_until(lambda: api.preload, what="the delete in flight")
        assert api.of("deployment") == []  # grows only once the old pods are gone
        release.set()
        await settle(applier)
        await applier.apply(state([w]), plan(admitted("mover")))  # the watch saw it go
        await settle(applier)
        assert len(api.of("deployment-delete")) == 1
        assert len(api.of("deployment")) == 1
        applier.close()

    run(scenario)


@pytest.mark.parametrize("workers", [1, 8])
def test_many_workloads_each_get_exactly_their_writes(workers: int) -> None:
    api = FakeApi()

    async def scenario() -> None:
        applier = make(api, writer=Writer(workers=workers))
        ws = [workload(f"w{i}") for i in range(100)]
        decisions = [admitted(f"w{i}") for i in range(100)]
        await applier.apply(state(ws), plan(*decisions))
        await applier.apply(state(ws), plan(*decisions))
        await settle(applier)
        assert len(api.of("deployment")) == 100
        assert len(api.of("status")) == 100 + 1  # and the pool's status
        assert api.of("event") == []
        applier.close()

    run(scenario)


def test_a_settled_workload_is_looked_at_again_when_the_cluster_drifts() -> None:
    api = FakeApi()

    async def scenario() -> None:
        applier = make(api)
        await applier.apply(state([workload("calm")]), plan(admitted("calm")))
        await settle(applier)
        digest = api.of("deployment")[0].body["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
        name = api.of("deployment")[0].body["metadata"]["name"]
        running = {"team/calm": (DeploymentFacts(name, "team/calm", "g4", 2, 2, digest),)}
        await applier.apply(state([workload("calm")], running), plan(admitted("calm")))
        await settle(applier)
        calm = workload("calm", status=api.of("status", "team/calm")[-1].body)
        for _ in range(3):  # settled: nothing to write, cycle after cycle
            await applier.apply(state([calm], running), plan(admitted("calm")))
        await settle(applier)
        assert (
            len([c for c in api.calls if c.target == "team/calm"]) == 3
        )  # Deploy, Admitted, Running
        # Someone deletes the Deployment: the same workload object, a changed index.
        await applier.apply(state([calm], {}), plan(admitted("calm")))
        await settle(applier)
        assert len(api.of("deployment")) == 2
        assert api.of("status", "team/calm")[-1].body["phase"] == "Degraded"  # 0 ready now
        applier.close()

    run(scenario)


def test_a_move_frees_before_it_uses_and_its_status_waits_for_the_freeing() -> None:
    """The old pool's Deployment is deleted first and the new pool's is created only once the
    cluster shows the old one and its pods gone; a status that gives replicas up lands after
    the delete: a crash in between never leaves more pods running than admitted."""
    api = FakeApi()
    other = Parsed(
        ObjectFacts(None, "g3", "uid-g3", 1, "2026-01-01T00:00:00Z", {}, {}),
        CorePoolSpec.model_validate({"nodeSelector": {}}),
    )

    async def scenario() -> None:
        applier = make(api)
        release = api.hold("deployment-delete", "team/mover-old")
        w = workload("mover", status={"phase": "Running", "admittedReplicas": 2})
        old = DeploymentFacts("mover-old", "team/mover", "g3", 2, 2, "x", uid="d1")
        moved = replace(admitted("mover", replicas=1), assignments=(("g4", 1),))
        s = replace(state([w], {"team/mover": (old,)}), pools={"g4": POOL, "g3": other})
        await applier.apply(s, plan(moved))
        wait_until(lambda: applier.writer is not None and applier.writer.queued <= 2, what="busy")
        assert api.of("deployment", "team/mover") == []  # the create waits for the delete
        assert api.of("status", "team/mover") == []  # and so does the status
        release.set()
        await settle(applier)
        assert api.of("deployment", "team/mover") == []  # the old pods may still run
        gone = old._replace(replicas=0, pods=1)  # scaled to nothing, one pod still going
        await applier.apply(replace(s, deployments={"team/mover": (gone,)}), plan(moved))
        await settle(applier)
        assert api.of("deployment", "team/mover") == []
        await applier.apply(replace(s, deployments={}), plan(moved))  # the watch saw it go
        await settle(applier)
        mine = ("team/mover", "team/mover-old")
        kinds = [c.kind for c in api.calls if c.kind != "event" and c.target in mine]
        assert kinds == ["deployment-delete", "status", "deployment"]
        applier.close()

    run(scenario)


def test_a_create_still_unseen_is_deleted_when_the_plan_changes_its_mind() -> None:
    """A Deployment this replica created but the watch has not shown yet is not in the index;
    when the next cycle no longer wants it, it is deleted by name after the create (same lane),
    so the workload never keeps replicas it was not admitted for."""
    api = FakeApi()
    release = api.hold("deployment", "team/fickle")

    async def scenario() -> None:
        applier = make(api)
        w = workload("fickle")
        await applier.apply(state([w]), plan(admitted("fickle")))
        wait_until(lambda: api.preload, what="the create to be in flight")
        await applier.apply(state([w]), plan(queued("fickle", 1)))  # the index saw nothing yet
        release.set()
        await settle(applier)
        created = api.of("deployment", "team/fickle")
        assert len(created) == 1
        name = created[0].body["metadata"]["name"]
        assert [c.target for c in api.of("deployment-delete")] == [f"team/{name}"]
        mine = [c.kind for c in api.calls if c.kind.startswith("deployment")]
        assert mine == ["deployment", "deployment-delete"]
        applier.close()

    run(scenario)


def test_a_write_into_a_namespace_being_deleted_is_dropped_not_called_forbidden() -> None:
    """The API server's answer to a create in a terminating namespace (a 403 whose cause is
    NamespaceTerminating) is not a permission problem; an RBAC 403 is."""
    from paddock.controller.writer import namespace_terminating

    body = json.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "message": 'events "x" is forbidden: unable to create new content in namespace '
            "e2e because it is being terminated",
            "reason": "Forbidden",
            "details": {
                "name": "x",
                "kind": "events",
                "causes": [
                    {
                        "reason": "NamespaceTerminating",
                        "message": "namespace e2e is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            },
            "code": 403,
        }
    )
    terminating = ApiException(status=403, reason="Forbidden")
    terminating.body = body
    assert namespace_terminating(terminating)
    rbac = ApiException(status=403, reason="Forbidden")
    rbac.body = json.dumps({"kind": "Status", "reason": "Forbidden", "code": 403})
    assert not namespace_terminating(rbac)
    assert not namespace_terminating(ApiException(status=500, reason="Internal Server Error"))
