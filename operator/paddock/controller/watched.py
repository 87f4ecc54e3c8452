"""What the list-watches keep: Paddock's objects, nodes, pods and Deployments, compactly.

A cluster of 5,000 nodes and 50,000 pods is the normal case, so nothing here
holds a whole object: a node is its `NodeFacts`, a pod its `PodRecord`, a
Deployment its `DeploymentFacts`, and the CPU and memory requested on each node
are kept as running sums, updated per event, so a scheduling cycle reads 5,000
sums instead of adding up 50,000 pods. Pure data and no I/O: `listwatch.py`
feeds it from the API server, the kubectl plugin from one list, the unit tests
from dicts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from paddock.controller.observed import AgentPod, DeploymentFacts, NodeFacts, PodRecord

V = TypeVar("V")


class Records(dict[str, V]):
    """Records by key, as one list-watch keeps them (nodes by name, Paddock's objects by
    `object_key`). Mutated in place, so whoever holds the dict sees every change."""

    def put(self, key: str, record: V | None) -> None:
        """An object added or changed; None forgets it."""
        if record is None:
            self.pop(key, None)
        else:
            self[key] = record

    def replace(self, records: Mapping[str, V]) -> None:
        """A fresh list: what it lacks was deleted while the watch was away."""
        self.clear()
        self.update(records)


MAX_ENDED = 100_000
"""Bound on remembered pod ends between two cycles (beyond it, ends count to the cycle)."""


@dataclass
class NodesAndPods:
    nodes: Records[NodeFacts] = field(default_factory=Records)
    pods: dict[str, PodRecord] = field(default_factory=dict)
    """Bound, non-terminal pods by uid."""
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Node name -> (CPU millicores, memory bytes) requested by the pods bound to it."""
    agent_pods: dict[str, dict[str, AgentPod]] = field(default_factory=dict)
    """"namespace/workload" -> uid -> Paddock's own pods of that workload."""
    agent_pods_ended: dict[str, float] = field(default_factory=dict)
    """uid -> when the watch saw a Paddock pod go (epoch seconds): core-hours count it up to
    then, not up to the next cycle (the accountant takes them, `take_ended`)."""

    def put_pod(self, uid: str, record: PodRecord | None) -> None:
        """A pod added or changed; None removes it (deleted, finished or never bound)."""
        old = self.pods.pop(uid, None)
        if old is not None:
            self._count(old, -1)
            if old.workload is not None:
                agents = self.agent_pods.get(old.workload)
                if agents is not None:
                    gone = agents.pop(uid, None) is not None and record is None
                    if gone and len(self.agent_pods_ended) < MAX_ENDED:
                        self.agent_pods_ended[uid] = time.time()
                    if not agents:
                        del self.agent_pods[old.workload]
        if record is not None:
            self.pods[uid] = record
            self._count(record, +1)
            if record.workload is not None and record.agent is not None:
                self.agent_pods.setdefault(record.workload, {})[uid] = record.agent

    def take_ended(self) -> dict[str, float]:
        """The Paddock pods seen gone since the last call, with when (under the store lock)."""
        ended, self.agent_pods_ended = self.agent_pods_ended, {}
        return ended

    def replace_pods(self, pods: Mapping[str, PodRecord]) -> None:
        self.pods, self.usage, self.agent_pods = {}, {}, {}
        for uid, record in pods.items():
            self.put_pod(uid, record)

    def _count(self, record: PodRecord, sign: int) -> None:
        cpu, memory = self.usage.get(record.node, (0, 0))
        cpu += sign * record.cpu_millicores
        memory += sign * record.memory
        if cpu == 0 and memory == 0 and sign < 0:
            self.usage.pop(record.node, None)
        else:
            self.usage[record.node] = (cpu, memory)


@dataclass
class DeploymentsByWorkload:
    """Paddock's Deployments (one per workload and pool), by "namespace/workload"."""

    by_workload: dict[str, dict[str, DeploymentFacts]] = field(default_factory=dict)
    _workload_of: dict[str, str] = field(default_factory=dict)
    """uid -> the workload it was filed under (a DELETED event may carry an older body)."""

    def put(self, uid: str, facts: DeploymentFacts | None) -> None:
        """A Deployment added or changed; None removes it."""
        old = self._workload_of.pop(uid, None)
        if old is not None:
            group = self.by_workload.get(old, {})
            group.pop(uid, None)
            if not group:
                self.by_workload.pop(old, None)
        if facts is not None:
            self._workload_of[uid] = facts.workload
            self.by_workload.setdefault(facts.workload, {})[uid] = facts

    def get(self, uid: str) -> DeploymentFacts | None:
        """The Deployment with this uid, as last seen (None: not listed)."""
        workload = self._workload_of.get(uid)
        return None if workload is None else self.by_workload[workload].get(uid)

    def replace(self, deployments: Mapping[str, DeploymentFacts]) -> None:
        self.by_workload, self._workload_of = {}, {}
        for uid, facts in deployments.items():
            self.put(uid, facts)
