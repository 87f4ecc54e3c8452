"""The PodDisruptionBudget of each admitted workload: minAvailable = minReplicas.

So `kubectl drain`, node upgrades and Karpenter's disruption never take a workload below its
floor. Created once the workload first has that floor ready (never applied over one Paddock
does not own): a budget over pods that never became ready would only block drains (the
classic stuck drain of a crash-looping Deployment) and protects no running agent, and a
workload that ends or is preempted before it runs costs no write for it (issue #15). Then
kept, while spec.podDisruptionBudget is Enabled, until the workload is deleted (its
ownerReference lets the garbage collector remove it): a workload preempted to zero replicas
keeps it, since a budget selecting no pod blocks nothing, and its re-admission then costs no
write for it. Disabling it deletes it with a uid precondition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paddock.api import AgentWorkloadSpec
from paddock.controller.applier.clients import Clients, owned_delete, owned_write
from paddock.controller.cluster_state import ClusterState, Parsed
from paddock.controller.deployments import WorkloadRef, render_pdb
from paddock.controller.writer import Write
from paddock.planner import WorkloadDecision

DELETED_PDB = -1
"""`written` value of a PodDisruptionBudget whose delete is queued."""


@dataclass
class PdbWrites:
    clients: Clients
    reject: Callable[[str, int, str], None]
    written: dict[str, int] = field(default_factory=dict)
    """workload -> the minAvailable queued for its PodDisruptionBudget, or DELETED_PDB."""

    def writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
        ready: int,
    ) -> list[Write]:
        """Keep the workload's PodDisruptionBudget (minAvailable = minReplicas) while admitted,
        from when `ready` (its ready admitted replicas) first reaches that floor."""
        spec, facts = parsed.spec, parsed.facts
        policy = self.clients.policy
        if policy is None:
            return []
        found = state.pdbs.get(key)
        want: int | None = None
        written = self.written.get(key)
        have = written if written is not None else (found.min_available if found else None)
        if spec is not None and spec.pod_disruption_budget == "Enabled":
            if decision.admitted_replicas:
                want = min(spec.effective_min_replicas, decision.admitted_replicas)
                if have is None and ready < want:
                    want = None  # not yet: its floor is not ready (see the module's docstring)
            elif isinstance(have, int) and have != DELETED_PDB:
                want = have  # holds nothing now: keep it as it is, it protects no pod
        in_flight = found is None and written not in (None, DELETED_PDB)
        if have == (want if want is not None else DELETED_PDB) or (
            want is None and found is None and not in_flight
        ):
            return []
        namespace = facts.namespace or ""

        def failed(memory: int = want if want is not None else DELETED_PDB) -> None:
            if self.written.get(key) == memory:
                del self.written[key]

        ref = WorkloadRef(namespace=namespace, name=facts.name, uid=facts.uid)
        if want is None:
            # Created by this replica but not seen by the watch yet: deleted by name, if owned.
            name = found.name if found is not None else render_pdb(ref, 0)["metadata"]["name"]
            self.written[key] = DELETED_PDB
            return [
                Write(
                    lane=("pdb", key),
                    target=("pdb", key),
                    kind="pdb-delete",
                    call=owned_delete(
                        delete=policy.delete_namespaced_pod_disruption_budget,
                        read=policy.read_namespaced_pod_disruption_budget,
                        name=name,
                        namespace=namespace,
                        uid=found.uid if found is not None else None,
                        owner_uid=facts.uid,
                    ),
                    on_failure=failed,
                    missing_ok=True,
                )
            ]
        manifest = render_pdb(ref, want)
        name = found.name if found is not None else manifest["metadata"]["name"]
        manifest["metadata"]["name"] = name
        known = found is not None or written is not None
        self.written[key] = want

        create_or_apply = owned_write(
            patch=policy.patch_namespaced_pod_disruption_budget,
            create=policy.create_namespaced_pod_disruption_budget,
            read=policy.read_namespaced_pod_disruption_budget,
            name=name,
            namespace=namespace,
            manifest=manifest,
            known=known,
            owner_uid=facts.uid,
            what="PodDisruptionBudget",
        )

        return [
            Write(
                lane=("pdb", key),
                target=("pdb", key),
                kind="pdb",
                call=create_or_apply,
                on_failure=failed,
                on_rejected=lambda reason: self.reject(key, facts.generation, reason),
            )
        ]

    def forget(self, state: ClusterState) -> None:
        """Drop memories the watch has confirmed, or whose workload is gone."""
        for key, minimum in list(self.written.items()):
            pdb = state.pdbs.get(key)
            if minimum == DELETED_PDB:
                echoed = pdb is None
            else:
                echoed = pdb is not None and pdb.min_available == minimum
            if key not in state.workloads or echoed:
                del self.written[key]
