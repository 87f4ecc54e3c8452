"""Everything one operator process holds: clients, indexes, watches, the loop and the Lease."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from paddock import GROUP, VERSION
from paddock.controller import metrics
from paddock.controller.applier import Applier, Clients
from paddock.controller.labels import WORKLOAD_LABEL
from paddock.controller.leadership import LeaseElector
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
from paddock.controller.snapshot import ClusterState, SnapshotBuilder
from paddock.controller.watched import Records
from paddock.planner import Plan, plan

log = logging.getLogger("paddock.runtime")

POD_SELECTOR = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
"""Only pods that hold resources on a node; a pod that finishes leaves it (a DELETED event)."""


def plan_state(state: ClusterState) -> Plan:
    return plan(state.snapshot)


@dataclass
class Runtime:
    builder: SnapshotBuilder
    applier: Applier
    elector: LeaseElector
    loop: SchedulingLoop[ClusterState, Plan]
    watches: tuple[ListWatch[Any], ...]
    kopf_listed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by the first kopf event handler call: kopf has filled its indexes."""

    @classmethod
    def create(cls, api: client.ApiClient, lease_namespace: str) -> Runtime:
        memory: dict[str, tuple[tuple[str, int], ...]] = {}
        rejected: dict[str, tuple[int, str]] = {}
        builder = SnapshotBuilder(
            admitted_override=memory,
            rejected=rejected,
            shrink_grace=float(os.environ.get("PADDOCK_SHRINK_GRACE_SECONDS", "300")),
        )
        elector = LeaseElector(client.CoordinationV1Api(api), namespace=lease_namespace)
        # The applier's writer drops its queued writes once this replica stops leading.
        applier = Applier(
            Clients.from_api_client(api),
            admitted_memory=memory,
            rejected=rejected,
            is_leader=lambda: elector.is_leader,
        )
        loop: SchedulingLoop[ClusterState, Plan] = SchedulingLoop(
            snapshot=builder.build,
            plan=plan_state,
            apply=applier.apply,
            is_leader=lambda: elector.is_leader,
        )
        applier.poke = loop.poke  # retries of failed writes, held-back status writes
        return cls(
            builder=builder,
            applier=applier,
            elector=elector,
            loop=loop,
            watches=list_watches(builder, loop.poke, api),
        )

    async def start_watches(self) -> None:
        """Start the list-watches; the loop runs once they and kopf have listed."""
        running = asyncio.get_running_loop()
        for watch in self.watches:
            watch.start(running)
        await self.kopf_listed.wait()
        for watch in self.watches:
            await watch.listed.wait()
        self.loop.indexes_ready.set()

    def stop_watches(self) -> None:
        for watch in self.watches:
            watch.stop()

    def bind_indexes(self, kwargs: Mapping[str, Any]) -> None:
        """Give the builder kopf's live namespace index (passed to startup handlers by name)."""
        self.builder.namespaces = kwargs["paddock_namespaces"]

    async def keep_lease(self, every: float = 5.0) -> None:
        """Acquire or renew the Lease forever; a lost Lease drops this replica's write memory."""
        while True:
            was_leader = self.elector.is_leader
            leader = await asyncio.to_thread(self.elector.step)
            metrics.IS_LEADER.set(1 if leader else 0)
            if leader and not was_leader:
                self.loop.poke("became leader")
            if was_leader and not leader:
                log.warning("lost the scheduling Lease; standing by")
                self.builder.admitted_override.clear()
                # Only the leader's figures are true; a standby exports none.
                for gauge in (
                    metrics.BUDGET_CORES,
                    metrics.POOL_CORES,
                    metrics.PENDING_WORKLOADS,
                    metrics.ADMITTED_WORKLOADS,
                    metrics.INVALID_WORKLOADS,
                ):
                    gauge.clear()
            await asyncio.sleep(every)


def list_watches(
    builder: SnapshotBuilder, poke: Callable[[str], None], api: client.ApiClient
) -> tuple[ListWatch[Any], ...]:
    """The list-watches that fill the builder: Paddock's objects, nodes, pods, Deployments and
    PodDisruptionBudgets.

    Everything pokes the loop on every change, except pods: they poke it when
    they are Paddock's own or when they leave (freed cores); other pods arriving
    are read by the next cycle anyway.
    """
    store, deployments = builder.nodes_and_pods, builder.deployments
    # A client of their own: long watches must not take connections from the writers' pool.
    watching = client.ApiClient(api.configuration)
    core, apps = client.CoreV1Api(watching), client.AppsV1Api(watching)
    policy = client.PolicyV1Api(watching)
    custom = client.CustomObjectsApi(watching)

    def then_poke(change: Callable[..., None], reason: str) -> Callable[..., None]:
        def change_and_poke(*args: Any) -> None:
            change(*args)
            poke(reason)

        return change_and_poke

    def by_uid(body: Mapping[str, Any]) -> str:
        return str(body["metadata"]["uid"])

    def put_pod(uid: str, record: PodRecord | None) -> None:
        store.put_pod(uid, record)
        if record is None or record.workload is not None:
            poke("pod")

    def paddock_objects(plural: str, kept: Records[ObjectFacts]) -> ListWatch[ObjectFacts]:
        return ListWatch[ObjectFacts](
            kind=plural,
            call=functools.partial(custom.list_cluster_custom_object, GROUP, VERSION, plural),
            key=object_key,
            record=object_facts,
            replace=then_poke(kept.replace, f"{plural} listed"),
            put=then_poke(kept.put, plural),
        )

    return (
        paddock_objects("corepools", builder.pools),
        paddock_objects("corebudgets", builder.budgets),
        paddock_objects("agentworkloads", builder.workloads),
        ListWatch[NodeFacts](
            kind="nodes",
            call=core.list_node,
            key=lambda body: body["metadata"]["name"],
            record=node_facts,
            replace=then_poke(store.nodes.replace, "nodes listed"),
            put=then_poke(store.nodes.put, "node"),
        ),
        ListWatch[PodRecord](
            kind="pods",
            call=core.list_pod_for_all_namespaces,
            key=by_uid,
            record=pod_record,
            replace=then_poke(store.replace_pods, "pods listed"),
            put=put_pod,
            field_selector=POD_SELECTOR,
        ),
        ListWatch[DeploymentFacts](
            kind="deployments",
            call=apps.list_deployment_for_all_namespaces,
            key=by_uid,
            record=deployment_facts,
            replace=then_poke(deployments.replace, "deployments listed"),
            put=then_poke(deployments.put, "deployment"),
            label_selector=WORKLOAD_LABEL,
        ),
        ListWatch[PdbFacts](
            kind="poddisruptionbudgets",
            call=policy.list_pod_disruption_budget_for_all_namespaces,
            key=by_uid,
            record=pdb_facts,
            replace=then_poke(builder.pdbs.replace, "poddisruptionbudgets listed"),
            put=then_poke(builder.pdbs.put, "poddisruptionbudget"),
            label_selector=WORKLOAD_LABEL,
        ),
    )
