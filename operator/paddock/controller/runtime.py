"""Everything one operator process holds: clients, indexes, the loop and the Lease."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from paddock.controller import metrics
from paddock.controller.applier import Applier, Clients
from paddock.controller.leadership import LeaseElector
from paddock.controller.loop import SchedulingLoop
from paddock.controller.snapshot import ClusterState, SnapshotBuilder
from paddock.planner import Plan, plan

log = logging.getLogger("paddock.runtime")

INDEX_NAMES = {
    "paddock_nodes": "nodes",
    "paddock_pod_usage": "pod_usage",
    "paddock_agent_pods": "agent_pods",
    "paddock_deployments": "deployments",
    "paddock_namespaces": "namespaces",
    "paddock_pools": "pools",
    "paddock_budgets": "budgets",
    "paddock_workloads": "workloads",
}
"""kopf index function name -> SnapshotBuilder attribute."""


def plan_state(state: ClusterState) -> Plan:
    return plan(state.snapshot)


@dataclass
class Runtime:
    builder: SnapshotBuilder
    applier: Applier
    elector: LeaseElector
    loop: SchedulingLoop[ClusterState, Plan]

    @classmethod
    def create(cls, api: client.ApiClient, lease_namespace: str) -> Runtime:
        memory: dict[str, tuple[tuple[str, int], ...]] = {}
        builder = SnapshotBuilder(admitted_override=memory)
        applier = Applier(Clients.from_api_client(api), admitted_memory=memory)
        elector = LeaseElector(client.CoordinationV1Api(api), namespace=lease_namespace)
        loop: SchedulingLoop[ClusterState, Plan] = SchedulingLoop(
            snapshot=builder.build,
            plan=plan_state,
            apply=applier.apply,
            is_leader=lambda: elector.is_leader,
        )
        return cls(builder=builder, applier=applier, elector=elector, loop=loop)

    def bind_indexes(self, kwargs: Mapping[str, Any]) -> None:
        """Give the builder kopf's live index objects (passed to startup handlers by name)."""
        for index_name, attribute in INDEX_NAMES.items():
            setattr(self.builder, attribute, kwargs[index_name])

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
                ):
                    gauge.clear()
            await asyncio.sleep(every)
