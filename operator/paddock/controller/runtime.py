"""Everything one operator process holds: clients, indexes, watches, the loop and the Lease."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from paddock import GROUP, VERSION
from paddock.autoscaling.nodepool import (
    KARPENTER_GROUP,
    KARPENTER_VERSION,
    NodeClaimFacts,
    NodePoolFacts,
    node_claim_facts,
    node_pool_facts,
)
from paddock.controller import metrics
from paddock.controller.applier import Applier, Clients
from paddock.controller.cluster_state import ClusterState, SnapshotBuilder
from paddock.controller.incremental import Incremental, Step
from paddock.controller.labels import WORKLOAD_LABEL
from paddock.controller.leadership import LeaderElectionConfig, LeaseElector
from paddock.controller.listwatch import ListWatch
from paddock.controller.loop import SchedulingLoop
from paddock.controller.observed import (
    DeploymentFacts,
    NodeFacts,
    ObjectFacts,
    PdbFacts,
    PodRecord,
    deployment_facts,
    node_facts,
    object_facts,
    object_key,
    pdb_facts,
    pod_record,
)
from paddock.controller.usage import Accountant, account, gate, remember
from paddock.controller.watched import Records
from paddock.controller.writer import ApiClientWithTimeout
from paddock.images.credentials import PullSecretCredentials
from paddock.images.gate import from_env as images_from_env
from paddock.planner import Plan, plan

log = logging.getLogger("paddock.runtime")

POD_SELECTOR = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
"""Only pods that hold resources on a node; a pod that finishes leaves it (a DELETED event)."""


def plan_state(state: ClusterState) -> Plan:
    return plan(state.snapshot)


EXIT_FENCED = 3
"""Exit status of a leader that could not renew within the renew deadline, or lost the Lease."""
EXIT_LEASE_TASK_ENDED = 4
"""Exit status when the lease task ended: without it this replica can never lead again."""


def hard_exit(status: int) -> None:
    """Leave now, without kopf's cleanup (which would call an API that may be unreachable):
    flush the logs first, so the reason is on record."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(status)


@dataclass
class Runtime:
    builder: SnapshotBuilder
    applier: Applier
    elector: LeaseElector
    loop: SchedulingLoop[ClusterState, Plan]
    watches: tuple[ListWatch[Any], ...]
    store_lock: threading.Lock
    """Held by the watch threads while they apply an event, and by the snapshot build."""
    kopf_listed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by the first kopf event handler call: kopf has filled its indexes."""
    kopf_namespaces: Mapping[str, Any] = field(default_factory=dict)
    """kopf's live namespace index; mutated on the event loop, copied there per cycle."""
    exit: Callable[[int], None] = hard_exit
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _watch_threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        api: client.ApiClient,
        lease_namespace: str,
        election: LeaderElectionConfig | None = None,
        watch_timeout: int = 300,
    ) -> Runtime:
        memory: dict[str, tuple[tuple[str, int], ...]] = {}
        rejected: dict[str, tuple[int, str]] = {}
        builder = SnapshotBuilder(
            admitted_override=memory,
            rejected=rejected,
            shrink_grace=float(os.environ.get("PADDOCK_SHRINK_GRACE_SECONDS", "300")),
        )
        elector = LeaseElector(
            client.CoordinationV1Api(api),
            namespace=lease_namespace,
            config=election or LeaderElectionConfig(),
        )
        # The writer asks before every write: a replica past its renew deadline writes nothing.
        applier = Applier(
            Clients.from_api_client(api),
            admitted_memory=memory,
            rejected=rejected,
            is_leader=lambda: elector.is_leader,
        )
        lock = threading.Lock()
        accountant = Accountant(
            checkpoint_interval=float(os.environ.get("PADDOCK_USAGE_CHECKPOINT_SECONDS", "30")),
            currency=os.environ.get("PADDOCK_CURRENCY", "USD"),
        )
        applier.core_hours = accountant.status_of

        def build() -> ClusterState:
            """A full snapshot (under the store lock), with core-hours counted and gated."""
            state = builder.build()
            nodes_and_pods = builder.nodes_and_pods
            account(
                accountant,
                state,
                nodes_and_pods.agent_pods,
                time.time(),
                nodes_and_pods.take_ended(),
            )
            return gate(accountant, state)

        async def apply(state: ClusterState, plan: Plan) -> bool:
            remember(accountant, plan)
            return await applier.apply(state, plan)

        incremental = Incremental(builder, lock, build=build)

        async def apply_step(step: Step) -> None:
            if incremental.state is not None:  # None: the last full cycle failed
                await applier.apply_decisions(incremental.state, step.decisions, step.workloads)
            if step.needs_full_cycle:
                loop.want_full("a change only a full cycle may decide")

        loop: SchedulingLoop[ClusterState, Plan] = SchedulingLoop(
            snapshot=incremental.snapshot,
            plan=incremental.plan,
            apply=apply,
            is_leader=lambda: elector.is_leader,
            step=incremental.step,
            apply_step=apply_step,
            pending=incremental.pending,
        )
        # Retries of failed writes, held-back status writes: the next full cycle does them.
        applier.poke = functools.partial(loop.poke, urgent=False)
        # The image architecture check (chart: imageCheck): resolutions run in its own
        # workers and poke the loop when done; the builder only reads its cache.
        builder.images = images_from_env(
            os.environ,
            loop.poke,
            lambda: PullSecretCredentials(client.ApiClient(api.configuration)),
        )
        runtime = cls(
            builder=builder,
            applier=applier,
            elector=elector,
            loop=loop,
            watches=list_watches(
                builder,
                loop.poke,
                api,
                lock,
                watch_timeout,
                note_workload=incremental.note,
                want_full=loop.want_full,
            ),
            store_lock=lock,
        )
        loop.prepare = runtime.copy_namespaces
        return runtime

    # ------------------------------------------------------------------ tasks
    def start(self) -> None:
        """Start the loop, the supervised lease task and the watches (from kopf's startup)."""
        self.loop.bind()
        for name, coroutine in (
            ("loop", self.loop.run()),
            ("lease", self.supervise_lease()),
            ("watches", self.start_watches()),
        ):
            self.tasks[name] = asyncio.create_task(coroutine, name=f"paddock-{name}")

    async def stop(self) -> None:
        """Clean shutdown: stop the tasks and the watches, give the Lease up."""
        for task in self.tasks.values():
            task.cancel()
        self.stop_watches()
        if self.builder.images is not None:
            self.builder.images.close()
        await asyncio.to_thread(self.elector.release)

    async def start_watches(self) -> None:
        """Start the list-watches; the loop runs once they and kopf have listed."""
        running = asyncio.get_running_loop()
        for watch in self.watches:
            self._watch_threads.append(watch.start(running))
        await self.kopf_listed.wait()
        for watch in self.watches:
            await watch.listed.wait()
        self.loop.indexes_ready.set()

    def stop_watches(self) -> None:
        for watch in self.watches:
            watch.stop()

    def bind_indexes(self, kwargs: Mapping[str, Any]) -> None:
        """Keep kopf's live namespace index (passed to startup handlers by name)."""
        self.kopf_namespaces = kwargs["paddock_namespaces"]
        self.copy_namespaces()

    def copy_namespaces(self) -> None:
        """On the event loop, before each snapshot: the builder reads a copy, in its thread."""
        self.builder.namespaces = {
            name: tuple(store) for name, store in list(self.kopf_namespaces.items())
        }

    # ------------------------------------------------------------------ the Lease
    async def supervise_lease(self) -> None:
        """Run `keep_lease`; it never ends on its own, so if it does, exit (the kubelet
        restarts the process): a replica without a lease task would never lead again."""
        try:
            await self.keep_lease()
        except asyncio.CancelledError:
            raise  # a clean shutdown
        except BaseException:
            log.critical("the lease task died; exiting", exc_info=True)
        else:
            log.critical("the lease task ended; exiting")
        self.exit(EXIT_LEASE_TASK_ENDED)

    async def keep_lease(self) -> None:
        """Acquire or renew the Lease every retry period, forever.

        Any error of an attempt (API error, timeout, refused connection) is
        logged and the attempt retried; it never ends the task. While an attempt
        is in flight the renew deadline is watched too: a leader that passes it
        is fenced at that moment, not when a hung call returns.
        """
        elector, period = self.elector, self.elector.config.retry_period
        while True:
            if elector.fenced:
                self.fence()
                return
            was_leader = elector.is_leader
            attempt = asyncio.ensure_future(asyncio.to_thread(elector.step))
            while not attempt.done():
                wait = max(0.0, elector.deadline - time.monotonic()) if was_leader else None
                await asyncio.wait({attempt}, timeout=wait)
                if elector.fenced:
                    self.fence()
                    return
            try:
                leader = attempt.result()
            except Exception as error:
                metrics.API_ERRORS.labels(kind="lease").inc()
                log.warning("lease %s/%s: %s", elector.namespace, elector.name, error)
                leader = elector.is_leader
            if elector.fenced:
                self.fence()
                return
            metrics.IS_LEADER.set(1 if leader else 0)
            if leader and not was_leader:
                self.loop.poke("became leader")
            await self._sleep_until_next_try(period)

    async def _sleep_until_next_try(self, period: float) -> None:
        """Sleep a retry period, waking at the renew deadline if it comes first."""
        elector = self.elector
        if not elector.is_leader:
            await asyncio.sleep(period)
            return
        left = elector.deadline - time.monotonic()
        await asyncio.sleep(max(0.0, min(period, left)))

    def fence(self) -> None:
        """This replica led and must not any more: stop writing, say why, exit non-zero.

        The writer's gate is already closed (`is_leader` is false on the local
        clock); queued writes are dropped here, and the exit ends the ones in
        flight. Restarting gives the process empty memories, as a standby has.
        """
        elector = self.elector
        metrics.IS_LEADER.set(0)
        if elector.lost_to is not None:
            why = f"the Lease is held by {elector.lost_to!r}"
        else:
            why = f"no renewal within the renew deadline ({elector.config.renew_deadline:g} s)"
        dropped = self.applier.writer.drop_pending() if self.applier.writer else 0
        # The deadline on this host's monotonic clock: fault tests line it up with what a
        # proxy saw this process send (tests/integration/test_faults.py).
        log.error(
            "lost the scheduling Lease: %s; stopped writing at monotonic %.3f, dropped %d "
            "queued writes; exiting so the process restarts",
            why,
            min(elector.deadline, time.monotonic()),
            dropped,
        )
        self.exit(EXIT_FENCED)

    # ------------------------------------------------------------------ health
    def health(self, now: float | None = None) -> str | None:
        """Why this replica is unhealthy (for /healthz), or None when it is healthy."""
        now = time.monotonic() if now is None else now
        for name, task in self.tasks.items():
            # The watches task ends once everything has listed; only its failure counts.
            if task.done() and (name != "watches" or task.cancelled() or task.exception()):
                return f"the {name} task ended"
        for thread in self._watch_threads:
            if not thread.is_alive():
                return f"watch thread {thread.name} died"
        running_since = self.loop.running_since
        if self.elector.is_leader and running_since is not None:
            # Counted from when this replica both led and had its indexes (a long first list
            # is the startup probe's business, not a stalled loop).
            since = max(self.elector.leading_since or now, running_since)
            bound = self.stall_bound
            if self.loop.stale(bound, now, since):
                return f"the leader completed no scheduling cycle in {bound:g} s"
        return None

    @property
    def stall_bound(self) -> float:
        """How long a leader may go without finishing a cycle: three resyncs and some slack."""
        return 3 * self.loop.resync + 15.0


def list_watches(
    builder: SnapshotBuilder,
    poke: Callable[..., None],
    api: client.ApiClient,
    lock: threading.Lock | None = None,
    watch_timeout: int = 300,
    note_workload: Callable[[str], None] | None = None,
    want_full: Callable[[str], None] | None = None,
) -> tuple[ListWatch[Any], ...]:
    """The list-watches that fill the builder: Paddock's objects, nodes, pods, Deployments and
    PodDisruptionBudgets.

    Each applies its events in its own thread, holding `lock` (the snapshot
    build holds it too). Everything pokes the loop on every change, except pods:
    they poke it when they are Paddock's own or when they leave (freed cores);
    other pods arriving are read by the next cycle anyway. With `note_workload`
    (the incremental step, incremental.py), AgentWorkload changes are noted by key
    and, like nodes, pods, Deployments and PodDisruptionBudgets, poke without
    urgency; relists and new or respecified pools and budgets ask for a full cycle
    at once (a status-only change of a pool or budget, Paddock's own write, does not).
    A Deployment that starts being deleted calls `want_full` (when given): its budget
    cores are free from now on (cluster_state `_releasing`), typically a preemption
    victim's, and the preemptor waits for the full cycle that admits it.
    """
    urgent = note_workload is None

    def poke_(reason: str, now: bool) -> None:
        if now:
            poke(reason)
        else:
            poke(reason, urgent=False)

    lock = lock or threading.Lock()
    store, deployments = builder.nodes_and_pods, builder.deployments
    # A client of their own: long watches must not take connections from the writers' pool.
    watching = ApiClientWithTimeout(api.configuration)
    core, apps = client.CoreV1Api(watching), client.AppsV1Api(watching)
    policy = client.PolicyV1Api(watching)
    custom = client.CustomObjectsApi(watching)

    def then_poke(
        change: Callable[..., None], reason: str, now: bool = True
    ) -> Callable[..., None]:
        def change_and_poke(*args: Any) -> None:
            change(*args)
            poke_(reason, now)

        return change_and_poke

    def noted(kept: Records[ObjectFacts]) -> Callable[[str, ObjectFacts | None], None]:
        def put_and_note(key: str, record: ObjectFacts | None) -> None:
            kept.put(key, record)
            if note_workload is not None:
                note_workload(key)
            poke_("agentworkloads", urgent)

        return put_and_note

    def put_and_poke(kept: Records[ObjectFacts], plural: str) -> Callable[..., None]:
        """A pool or budget: a new object or a new spec asks for a full cycle at once; the
        echo of a status Paddock wrote itself (every 15 s per budget) waits for the next one."""

        def put(key: str, record: ObjectFacts | None) -> None:
            old = kept.get(key)
            kept.put(key, record)
            same_spec = (
                old is not None
                and record is not None
                and (old.uid, old.generation) == (record.uid, record.generation)
            )
            poke_(plural, not same_spec)

        return put

    def by_uid(body: Mapping[str, Any]) -> str:
        return str(body["metadata"]["uid"])

    def put_deployment(uid: str, facts: DeploymentFacts | None) -> None:
        was = deployments.get(uid)
        deployments.put(uid, facts)
        newly_deleting = facts is not None and facts.deleting and not (was and was.deleting)
        if want_full is not None and newly_deleting:
            want_full("a Deployment is being deleted: its budget cores are free")
        else:
            poke_("deployment", urgent)

    def put_pod(uid: str, record: PodRecord | None) -> None:
        store.put_pod(uid, record)
        if record is None or record.workload is not None:
            poke_("pod", urgent)

    def paddock_objects(plural: str, kept: Records[ObjectFacts]) -> ListWatch[ObjectFacts]:
        return ListWatch[ObjectFacts](
            kind=plural,
            call=functools.partial(custom.list_cluster_custom_object, GROUP, VERSION, plural),
            key=object_key,
            record=object_facts,
            replace=then_poke(kept.replace, f"{plural} listed"),
            put=noted(kept) if plural == "agentworkloads" else put_and_poke(kept, plural),
            lock=lock,
            watch_timeout=watch_timeout,
        )

    return (
        *karpenter_watches(builder, custom, then_poke, lock, watch_timeout, api),
        paddock_objects("corepools", builder.pools),
        paddock_objects("corebudgets", builder.budgets),
        paddock_objects("agentworkloads", builder.workloads),
        ListWatch[NodeFacts](
            kind="nodes",
            call=core.list_node,
            key=lambda body: body["metadata"]["name"],
            record=node_facts,
            replace=then_poke(store.nodes.replace, "nodes listed"),
            put=then_poke(store.nodes.put, "node", urgent),
            lock=lock,
            watch_timeout=watch_timeout,
        ),
        ListWatch[PodRecord](
            kind="pods",
            call=core.list_pod_for_all_namespaces,
            key=by_uid,
            record=pod_record,
            replace=then_poke(store.replace_pods, "pods listed"),
            put=put_pod,
            field_selector=POD_SELECTOR,
            lock=lock,
            watch_timeout=watch_timeout,
        ),
        ListWatch[DeploymentFacts](
            kind="deployments",
            call=apps.list_deployment_for_all_namespaces,
            key=by_uid,
            record=deployment_facts,
            replace=then_poke(deployments.replace, "deployments listed"),
            put=put_deployment,
            lock=lock,
            watch_timeout=watch_timeout,
            label_selector=WORKLOAD_LABEL,
        ),
        ListWatch[PdbFacts](
            kind="poddisruptionbudgets",
            call=policy.list_pod_disruption_budget_for_all_namespaces,
            key=by_uid,
            record=pdb_facts,
            replace=then_poke(builder.pdbs.replace, "poddisruptionbudgets listed"),
            put=then_poke(builder.pdbs.put, "poddisruptionbudget", urgent),
            label_selector=WORKLOAD_LABEL,
            lock=lock,
            watch_timeout=watch_timeout,
        ),
    )


def karpenter_served(api: client.ApiClient) -> bool:
    """Whether the API server serves Karpenter's API (karpenter.sh/v1).

    PADDOCK_KARPENTER=true|false overrides the discovery; with "auto" (the default) a cluster
    without Karpenter costs nothing, and CorePools that name a NodePool report it missing.
    Karpenter installed after the operator started is seen at the operator's next start.
    """
    setting = os.environ.get("PADDOCK_KARPENTER", "auto").lower()
    if setting in ("true", "1", "on"):
        return True
    if setting in ("false", "0", "off"):
        return False
    try:
        groups = client.ApisApi(api).get_api_versions().groups or ()
    except Exception as error:
        log.warning("cannot discover API groups, assuming no Karpenter: %s", error)
        return False
    served = any(
        g.name == KARPENTER_GROUP and any(v.version == KARPENTER_VERSION for v in g.versions)
        for g in groups
    )
    if not served:
        return False
    try:  # served, but may this identity read it? A watch refused forever would stall start-up.
        client.CustomObjectsApi(api).list_cluster_custom_object(
            KARPENTER_GROUP, KARPENTER_VERSION, "nodepools", limit=1
        )
    except Exception as error:
        log.warning(
            "Karpenter's API is served but cannot be read (%s): autoscaled pools offer no "
            "potential capacity; grant list/watch on nodepools and nodeclaims (chart value "
            "karpenter.enabled) or set PADDOCK_KARPENTER=false",
            getattr(error, "reason", error),
        )
        return False
    return True


def karpenter_watches(
    builder: SnapshotBuilder,
    custom: client.CustomObjectsApi,
    then_poke: Callable[[Callable[..., None], str], Callable[..., None]],
    lock: threading.Lock,
    watch_timeout: int,
    api: client.ApiClient,
) -> tuple[ListWatch[Any], ...]:
    """NodePools and NodeClaims, list-watched like nodes (only when Karpenter is served): a
    NodePool's limit or usage changing, or a launch starting or ending, moves potential
    capacity, so each pokes the loop."""
    if not karpenter_served(api):
        return ()

    def watch(plural: str, record: Callable[[Any], Any], kept: Records[Any]) -> ListWatch[Any]:
        return ListWatch[Any](
            kind=plural,
            call=functools.partial(
                custom.list_cluster_custom_object, KARPENTER_GROUP, KARPENTER_VERSION, plural
            ),
            key=lambda body: str(body["metadata"]["name"]),
            record=record,
            replace=then_poke(kept.replace, f"{plural} listed"),
            put=then_poke(kept.put, plural),
            lock=lock,
            watch_timeout=watch_timeout,
        )

    pools: Records[NodePoolFacts] = builder.node_pools
    claims: Records[NodeClaimFacts] = builder.node_claims
    return (
        watch("nodepools", node_pool_facts, pools),
        watch("nodeclaims", node_claim_facts, claims),
    )
