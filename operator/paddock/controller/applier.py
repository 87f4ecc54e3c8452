"""Make the cluster match a plan: Deployments, status subresources, Events.

Only what differs is written. A Deployment carries a hash of what Paddock
rendered, so an unchanged plan costs no write; a changed replica count or
template is one server-side apply.

`apply` does not wait for the writes: it hands them to the long-lived
`Writer` (see writer.py) and returns, so the loop plans again at the next poke
while the writes are in flight. What this replica has *queued* is remembered
(`_written_deployments`, `_written_status`, `admitted_memory`) until the watch
echoes it back, so a later cycle never repeats an in-flight write nor admits
twice; a write that fails clears its memory and pokes the loop, so the next
cycle retries it. Each workload is applied independently: one failing write is
logged and counted, and the rest of the plan still lands.

Write rules (at most 3 writes for a workload admitted at once: its Deployment,
its status when admitted, its status when Running):

- Deployments and status: only when the desired state differs from both the
  cluster and what is already queued. A workload's Deployment writes run in
  order, its status writes run in order, the two concurrently.
- Events: only for transitions a user must see (`status.transition_events`):
  no Event for a routine first admission, whose `Admitted` condition records it.
- Workload status drift: a change that is only `queuePosition`, the numbers in
  a message (free cores move every cycle), or `readyReplicas` while the phase
  stays is written at most once per `queue_refresh_interval` (positions and
  messages) or `progress_interval` (ready counts) per workload; reaching queue
  position 1 is written at once. Anything else (phase, reason, the wording of
  the message, admitted replicas, conditions) is written at once.
- CoreBudget and CorePool status are aggregates: at most one write per object
  per `aggregate_interval`, except a change of their condition, written at once.
- A write held back by those intervals is not lost: the applier pokes the loop
  when the interval ends, so the last value lands once things settle.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock import GROUP, VERSION
from paddock.api import AgentWorkloadSpec, CorePoolSpec
from paddock.controller import metrics
from paddock.controller.deployments import (
    PoolPlacement,
    WorkloadRef,
    render_deployment,
    render_pdb,
)
from paddock.controller.labels import FIELD_MANAGER
from paddock.controller.observed import SPEC_HASH_ANNOTATION, DeploymentFacts
from paddock.controller.snapshot import ClusterState, Parsed, parse_timestamp
from paddock.controller.status import (
    PoolMeasures,
    budget_status,
    now_iso,
    pool_status,
    transition_events,
    workload_status,
)
from paddock.controller.writer import WRITES_IN_FLIGHT, Rejected, Write, Writer
from paddock.planner import Plan, Reason, WorkloadDecision

log = logging.getLogger("paddock.applier")

API_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for every write: a hung connection never holds a writer forever."""

NO_NODES = PoolMeasures(0, 0, (), (), (), 0, 0, 0)
"""What an invalid pool (one the snapshot could not measure) reports."""


@dataclass
class Clients:
    apps: client.AppsV1Api
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    policy: client.PolicyV1Api | None = None

    @classmethod
    def from_api_client(cls, api: client.ApiClient) -> Clients:
        return cls(
            client.AppsV1Api(api),
            client.CoreV1Api(api),
            client.CustomObjectsApi(api),
            client.PolicyV1Api(api),
        )


def create_owned(
    create: Callable[[], Any],
    read: Callable[[], Any],
    apply: Callable[[], Any],
    what: str,
    owner_uid: str,
) -> Any:
    """Create an object; if its name is taken, apply over it only when the workload owns it.

    Paddock never takes over an object it does not own: a taken name raises `Rejected`, which
    makes the workload Invalid with the reason instead."""
    try:
        return create()
    except ApiException as error:
        if error.status != 409:
            raise
    taken = read()
    owners = (taken.metadata.owner_references if taken.metadata else None) or []
    if not any(o.controller and o.uid == owner_uid for o in owners):
        raise Rejected(
            f"{what} exists and is not owned by this AgentWorkload; Paddock never changes it: "
            "delete or rename it"
        )
    return apply()


def spec_hash(manifest: Mapping[str, Any]) -> str:
    """Hash of everything Paddock renders except the replica count."""
    trimmed = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}}
    return hashlib.sha256(json.dumps(trimmed, sort_keys=True).encode()).hexdigest()[:16]


DELETED_PDB = -1
"""`_written_pdbs` value of a PodDisruptionBudget whose delete is queued."""
DELETED = ("", -1)
"""`_written_deployments` value of a Deployment whose delete is queued."""
_NUMBER = re.compile(r"\d+")


def _strip_volatile(status: Mapping[str, Any]) -> dict[str, Any]:
    """Status without timestamps, for "did anything change" comparisons."""
    out = {k: v for k, v in status.items() if v is not None}
    if "conditions" in out:
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in out["conditions"]
        ]
    return out


def _wording(status: Mapping[str, Any]) -> dict[str, Any]:
    """A stripped status without what drifts: queuePosition, readyReplicas, and the numbers in
    messages ("budget team-a has 12 of 256 free" changes whenever anything is admitted)."""
    out = {k: v for k, v in status.items() if k not in ("queuePosition", "readyReplicas")}
    if isinstance(out.get("message"), str):
        out["message"] = _NUMBER.sub("#", out["message"])
    if "conditions" in out:
        out["conditions"] = [
            {**c, "message": _NUMBER.sub("#", str(c.get("message", "")))} for c in out["conditions"]
        ]
    return out


def _condition_states(status: Mapping[str, Any]) -> list[tuple[Any, Any, Any]]:
    return [
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or ()
    ]


def export_gauges(state: ClusterState, plan: Plan) -> None:
    """Budget and pool figures for Prometheus, rebuilt each cycle so deleted objects vanish."""
    for gauge in (
        metrics.BUDGET_CORES,
        metrics.POOL_CORES,
        metrics.PENDING_WORKLOADS,
        metrics.ADMITTED_WORKLOADS,
        metrics.INVALID_WORKLOADS,
    ):
        gauge.clear()
    invalid: Counter[str] = Counter(
        key.split("/", 1)[0]
        for key, decision in plan.workloads.items()
        if decision.reason == Reason.INVALID_SPEC
    )
    for namespace, count in invalid.items():
        metrics.INVALID_WORKLOADS.labels(namespace=namespace).set(count)
    for name, usage in plan.budgets.items():
        budget = state.budgets.get(name)
        if budget is not None and budget.spec is not None:
            metrics.BUDGET_CORES.labels(budget=name, kind="nominal").set(budget.spec.cores)
        for kind, value in (
            ("used", usage.used_cores),
            ("borrowed", usage.borrowed_cores),
            ("lent", usage.lent_cores),
            ("pending", usage.pending_cores),
        ):
            metrics.BUDGET_CORES.labels(budget=name, kind=kind).set(value)
        metrics.PENDING_WORKLOADS.labels(budget=name).set(usage.pending_workloads)
        metrics.ADMITTED_WORKLOADS.labels(budget=name).set(usage.admitted_workloads)
    for name, pool in plan.pools.items():
        measures = state.pool_facts.get(name)
        for kind, value in (
            ("allocatable", measures.allocatable_cores if measures else 0),
            ("used", measures.used_cores if measures else 0),
            ("paddock", pool.paddock_cores),
            ("free", pool.free_cores_after_plan),
            ("largest_free_block", pool.largest_free_block_after_plan),
        ):
            metrics.POOL_CORES.labels(pool=name, kind=kind).set(value)


def _same_inputs(before: tuple[Any, ...] | None, now: tuple[Any, ...]) -> bool:
    """The index facts, the parsed pools and the status memory are the same objects while
    unchanged (the watch and the spec cache replace them on change): compared by identity, which
    is cheap and safe because `before` holds them alive. The rest are small values."""
    if before is None:
        return False
    facts, pools, memory = before[:3]
    return (
        facts is now[0]
        and len(pools) == len(now[1])
        and all(a is b for a, b in zip(pools, now[1], strict=True))
        and memory is now[2]
        and before[3:] == now[3:]
    )


@dataclass
class Applier:
    clients: Clients
    admitted_memory: dict[str, tuple[tuple[str, int], ...]]
    """Shared with the SnapshotBuilder: assignments this replica queued, until the index agrees."""
    rejected: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Shared with the SnapshotBuilder: workload -> (generation, why it cannot be carried out)."""
    is_leader: Callable[[], bool] = lambda: True
    """Asked by the writer before each queued write: a replica that lost the Lease drops them."""
    poke: Callable[[str], None] | None = None
    """The scheduling loop's poke: to retry a failed write, or land a held-back status."""
    workers: int = WRITES_IN_FLIGHT
    queue_refresh_interval: float = 30.0
    """At most one rewrite per workload this often for a moved queuePosition or message numbers."""
    progress_interval: float = 5.0
    """At most one rewrite per workload this often for readyReplicas moving within one phase."""
    aggregate_interval: float = 5.0
    """At most one CoreBudget / CorePool status write per object this often."""
    retry_delay: float = 1.0
    """After a failed write, poke the loop this much later (not at once: the API may be down),
    doubling with each consecutive failure of the same object up to `max_retry_delay`."""
    max_retry_delay: float = 30.0
    clock: Callable[[], float] = time.monotonic
    writer: Writer | None = None
    _written_deployments: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    _written_status: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _written_pdbs: dict[str, int] = field(default_factory=dict)
    """workload -> the minAvailable queued for its PodDisruptionBudget (DELETED_PDB: deleted)."""
    _status_written_at: dict[tuple[str, str], float] = field(default_factory=dict)
    _first_admitted: set[str] = field(default_factory=set)
    _settled: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Per workload, the inputs of the last cycle that found nothing to write (see _inputs)."""
    _rendered: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, Any], str, list[str]]] = (
        field(default_factory=dict)
    )
    """(workload, pool) -> (what it was rendered from, manifest, spec hash, overrides)."""
    _held: bool = False
    _wake_at: float | None = None
    _wake_handle: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = Writer(self.workers)
        self.writer.gate = lambda: self.is_leader()
        self.writer.on_failure = lambda _write, attempts: self._wake(
            min(self.retry_delay * 2 ** min(attempts - 1, 16), self.max_retry_delay),
            "retry a failed write",
        )

    async def apply(self, state: ClusterState, plan: Plan) -> None:
        """Queue what differs and return; the writes land in the background."""
        self._forget_echoed(state)
        writes: list[Write] = []
        for key, parsed in state.workloads.items():
            decision = plan.workloads.get(key)
            try:
                writes.extend(self._workload_writes(key, parsed, decision, state))
            except Exception as error:  # rule 9: one workload never stops the others
                log.exception("cannot apply the plan for workload %s", key)
                self._reject(key, parsed.facts.generation, f"cannot be rendered: {error!r}")
        for name, budget in state.budgets.items():
            status = budget_status(
                plan.budgets.get(name), budget.facts.generation, budget.facts.status, budget.errors
            )
            writes.extend(
                self._status_write("corebudgets", None, name, budget.facts.status, status)
            )
        for name, pool in state.pools.items():
            measures = state.pool_facts.get(name, NO_NODES)
            status = pool_status(
                measures,
                plan.pools.get(name),
                pool.facts.generation,
                pool.facts.status,
                pool.errors,
            )
            writes.extend(self._status_write("corepools", None, name, pool.facts.status, status))
        export_gauges(state, plan)
        if writes:
            assert self.writer is not None
            self.writer.submit(writes)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._wake_handle is not None:
            self._wake_handle.cancel()

    # ------------------------------------------------------------------ planning writes
    def _workload_writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision | None,
        state: ClusterState,
    ) -> list[Write]:
        if decision is None:
            raise LookupError("the planner returned no decision")
        facts = parsed.facts
        namespace, name = facts.namespace or "", facts.name
        previous = self._written_status.get(("agentworkloads", key)) or facts.status
        inputs = self._inputs(key, parsed, decision, state)
        if _same_inputs(self._settled.get(key), inputs):
            # Nothing it depends on changed since a cycle found nothing to write: skip the
            # rendering and status comparisons (most of a cycle's cost with 10,000 workloads).
            self.admitted_memory[key] = decision.assignments
            return []
        self._settled.pop(key, None)
        self._held = False
        writes: list[Write] = []
        overrides: list[str] = []
        if not decision.frozen:  # a frozen workload's Deployments are left as they are
            writes, overrides = self._deployment_writes(key, parsed, decision, state)
            writes.extend(self._pdb_writes(key, parsed, decision, state))
        desired = dict(decision.assignments)
        ready = sum(d.ready_replicas for d in state.deployments.get(key, ()) if d.pool in desired)
        ready = min(ready, decision.admitted_replicas)
        status = workload_status(decision, ready, facts.generation, previous, overrides)
        status_writes = self._status_write(
            "agentworkloads", namespace, name, facts.status, status, key
        )
        if status_writes:
            writes.extend(status_writes)
            writes.extend(
                self._event_write(parsed, kind, reason, message)
                for kind, reason, message in transition_events(previous, decision)
            )
        if (
            decision.admitted_replicas > 0
            and key not in self._first_admitted
            and not previous.get("admittedReplicas")
        ):
            self._first_admitted.add(key)
            created = parse_timestamp(facts.created)
            if created:
                metrics.ADMISSION_LATENCY.observe(max(0.0, time.time() - created))
        self.admitted_memory[key] = decision.assignments
        if not writes and not self._held:
            self._settled[key] = self._inputs(key, parsed, decision, state)
        return writes

    def _deployment_writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
    ) -> tuple[list[Write], list[str]]:
        """Create, resize or delete the workload's own Deployments to match its assignments."""
        namespace = parsed.facts.namespace or ""
        existing = {d.pool: d for d in state.deployments.get(key, ())}
        desired = dict(decision.assignments)
        writes: list[Write] = []
        overrides: list[str] = []
        for pool_name, replicas in decision.assignments:
            pool = state.pools.get(pool_name)
            found = existing.get(pool_name)
            if pool is None or pool.spec is None or parsed.spec is None:
                # The pool was deleted under running pods: its Deployment stays as rendered;
                # only its replica count follows the admission.
                if (
                    found is not None
                    and found.spec_hash is not None
                    and not self._deployment_current(
                        key, pool_name, found, found.spec_hash, replicas
                    )
                ):
                    writes.append(self._scale_deployment_write(key, found, replicas))
                continue
            manifest, digest, overrides = self._render(
                key, parsed, pool_name, pool, found.name if found else None
            )
            if self._deployment_current(key, pool_name, found, digest, replicas):
                continue
            manifest = {**manifest, "spec": {**manifest["spec"], "replicas": replicas}}
            writes.append(
                self._apply_deployment_write(
                    key, pool_name, manifest, digest, replicas, decision.assignments, found, parsed
                )
            )
        for pool_name, deployment in existing.items():
            if pool_name in desired or deployment.replicas < 0:
                continue
            if self._written_deployments.get((key, pool_name)) == DELETED:
                continue  # its delete is queued or in flight
            writes.append(self._delete_deployment_write(key, pool_name, namespace, deployment))
        return writes, overrides

    def _render(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        pool_name: str,
        pool: Parsed[CorePoolSpec],
        name: str | None = None,
    ) -> tuple[dict[str, Any], str, list[str]]:
        """The workload's Deployment in a pool (replicas aside), its spec hash and overrides.
        `name` is the name of the Deployment it already owns there, kept across upgrades.

        Rendered once per workload and pool generation, not every cycle: rendering and
        hashing were a third of the event loop's time with 10,000 workloads.
        """
        made_from = (
            parsed.facts.uid,
            parsed.facts.generation,
            pool.facts.uid,
            pool.facts.generation,
            name,
        )
        cached = self._rendered.get((key, pool_name))
        if cached is not None and cached[0] == made_from:
            return cached[1], cached[2], cached[3]
        spec, pool_spec = parsed.spec, pool.spec
        assert spec is not None and pool_spec is not None
        placement = PoolPlacement(
            name=pool_name,
            node_selector=pool_spec.node_selector.model_dump(by_alias=True, exclude_none=True),
            tolerations=tuple(
                t.model_dump(by_alias=True, exclude_none=True) for t in pool_spec.tolerations or ()
            ),
        )
        rendered = render_deployment(
            WorkloadRef(
                namespace=parsed.facts.namespace or "", name=parsed.facts.name, uid=parsed.facts.uid
            ),
            spec.template.model_dump(by_alias=True, exclude_none=True),
            placement,
            0,
            spec.cores_per_replica,
            spec.memory_per_replica,
            spec.placement.spread,
            name=name,
        )
        digest = spec_hash(rendered.manifest)
        rendered.manifest["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: digest}
        self._rendered[(key, pool_name)] = (
            made_from,
            rendered.manifest,
            digest,
            rendered.overrides,
        )
        return rendered.manifest, digest, rendered.overrides

    def _inputs(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
    ) -> tuple[Any, ...]:
        """Everything `_workload_writes` reads for one workload: a new status or spec from the
        watch, a new Deployment, a changed pool, a new decision or a memory changed by a failed
        write all make it differ. See `_same_inputs`."""
        pools = {p for p, _ in decision.assignments}
        deployments = state.deployments.get(key, ())
        pools.update(d.pool for d in deployments)
        return (
            parsed.facts,
            tuple(state.pools.get(p) for p, _ in decision.assignments),
            self._written_status.get(("agentworkloads", key)),
            # What the writes are made of; not `placements` (the simulated nodes move as
            # others are admitted, and nothing written depends on them) nor `events`.
            (
                decision.budget,
                decision.admitted_replicas,
                decision.admitted_cores,
                decision.requested_cores,
                decision.assignments,
                decision.state,
                decision.reason,
                decision.message,
                decision.queue_position,
            ),
            deployments,
            tuple(sorted((p, self._written_deployments.get((key, p))) for p in pools)),
            state.pdbs.get(key),
            self._written_pdbs.get(key),
        )

    def _deployment_current(
        self, key: str, pool: str, found: DeploymentFacts | None, digest: str, replicas: int
    ) -> bool:
        # What is queued is the newest intent; the index only counts when nothing is.
        written = self._written_deployments.get((key, pool))
        if written is not None:
            return written == (digest, replicas)
        return found is not None and found.spec_hash == digest and found.replicas == replicas

    def _apply_deployment_write(
        self,
        key: str,
        pool: str,
        manifest: dict[str, Any],
        digest: str,
        replicas: int,
        assignments: tuple[tuple[str, int], ...],
        found: DeploymentFacts | None,
        parsed: Parsed[AgentWorkloadSpec],
    ) -> Write:
        """Server-side apply onto a Deployment the workload owns; otherwise create it, so a
        Deployment of that name that is not the workload's is never taken over."""
        meta = manifest["metadata"]
        memory = (digest, replicas)
        known = found is not None or (key, pool) in self._written_deployments
        self._written_deployments[(key, pool)] = memory
        apps = self.clients.apps
        owner = parsed.facts.uid

        def failed() -> None:
            if self._written_deployments.get((key, pool)) == memory:
                del self._written_deployments[(key, pool)]
            if self.admitted_memory.get(key) == assignments:
                # The snapshot falls back to the Deployments that really exist.
                del self.admitted_memory[key]

        def apply() -> Any:
            return apps.patch_namespaced_deployment(
                meta["name"],
                meta["namespace"],
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )

        def create_or_apply() -> Any:
            if known:
                return apply()
            return create_owned(
                lambda: apps.create_namespaced_deployment(
                    meta["namespace"],
                    cast(Any, manifest),
                    field_manager=FIELD_MANAGER,
                    _preload_content=False,
                    _request_timeout=API_TIMEOUT,
                ),
                lambda: apps.read_namespaced_deployment(
                    meta["name"], meta["namespace"], _request_timeout=API_TIMEOUT
                ),
                apply,
                f"Deployment {meta['namespace']}/{meta['name']}",
                owner,
            )

        return Write(
            lane=("deployments", key),
            target=("deployment", key, pool),
            kind="deployment",
            call=create_or_apply,
            on_failure=failed,
            on_rejected=lambda reason: self._reject(key, parsed.facts.generation, reason),
        )

    def _pdb_writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
    ) -> list[Write]:
        """Keep the workload's PodDisruptionBudget (minAvailable = minReplicas) while admitted."""
        spec, facts = parsed.spec, parsed.facts
        policy = self.clients.policy
        if policy is None:
            return []
        found = state.pdbs.get(key)
        want: int | None = None
        if (
            spec is not None
            and decision.admitted_replicas
            and spec.pod_disruption_budget == "Enabled"
        ):
            want = min(spec.effective_min_replicas, decision.admitted_replicas)
        written = self._written_pdbs.get(key)
        have = written if written is not None else (found.min_available if found else None)
        if have == (want if want is not None else DELETED_PDB) or (want is None and found is None):
            return []
        namespace = facts.namespace or ""

        def failed(memory: int = want if want is not None else DELETED_PDB) -> None:
            if self._written_pdbs.get(key) == memory:
                del self._written_pdbs[key]

        if want is None:
            assert found is not None
            self._written_pdbs[key] = DELETED_PDB
            options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid=found.uid))
            return [
                Write(
                    lane=("pdb", key),
                    target=("pdb", key),
                    kind="pdb-delete",
                    call=lambda: policy.delete_namespaced_pod_disruption_budget(
                        found.name,
                        namespace,
                        body=options,
                        _preload_content=False,
                        _request_timeout=API_TIMEOUT,
                    ),
                    on_failure=failed,
                    missing_ok=True,
                )
            ]
        manifest = render_pdb(
            WorkloadRef(namespace=namespace, name=facts.name, uid=facts.uid), want
        )
        name = found.name if found is not None else manifest["metadata"]["name"]
        manifest["metadata"]["name"] = name
        known = found is not None or written is not None
        self._written_pdbs[key] = want

        def apply() -> Any:
            return policy.patch_namespaced_pod_disruption_budget(
                name,
                namespace,
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )

        def create_or_apply() -> Any:
            if known:
                return apply()
            return create_owned(
                lambda: policy.create_namespaced_pod_disruption_budget(
                    namespace,
                    cast(Any, manifest),
                    field_manager=FIELD_MANAGER,
                    _preload_content=False,
                    _request_timeout=API_TIMEOUT,
                ),
                lambda: policy.read_namespaced_pod_disruption_budget(
                    name, namespace, _request_timeout=API_TIMEOUT
                ),
                apply,
                f"PodDisruptionBudget {namespace}/{name}",
                facts.uid,
            )

        return [
            Write(
                lane=("pdb", key),
                target=("pdb", key),
                kind="pdb",
                call=create_or_apply,
                on_failure=failed,
                on_rejected=lambda reason: self._reject(key, facts.generation, reason),
            )
        ]

    def _scale_deployment_write(self, key: str, found: DeploymentFacts, replicas: int) -> Write:
        """Only the replica count of an owned Deployment (its pool is gone: nothing to render)."""
        memory = (found.spec_hash or "", replicas)
        self._written_deployments[(key, found.pool)] = memory
        namespace = key.split("/", 1)[0]

        def failed() -> None:
            if self._written_deployments.get((key, found.pool)) == memory:
                del self._written_deployments[(key, found.pool)]

        return Write(
            lane=("deployments", key),
            target=("deployment", key, found.pool),
            kind="deployment",
            call=lambda: self.clients.apps.patch_namespaced_deployment(
                found.name,
                namespace,
                {"spec": {"replicas": replicas}},
                field_manager=FIELD_MANAGER,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            ),
            on_failure=failed,
            missing_ok=True,
        )

    def _delete_deployment_write(
        self, key: str, pool: str, namespace: str, deployment: DeploymentFacts
    ) -> Write:
        """Delete an owned Deployment, only if it is still the same object (uid precondition)."""
        self._written_deployments[(key, pool)] = DELETED

        def failed() -> None:
            if self._written_deployments.get((key, pool)) == DELETED:
                del self._written_deployments[(key, pool)]

        options = client.V1DeleteOptions(
            propagation_policy="Background",
            preconditions=client.V1Preconditions(uid=deployment.uid) if deployment.uid else None,
        )
        return Write(
            lane=("deployments", key),
            target=("deployment", key, pool),
            kind="deployment-delete",
            call=lambda: self.clients.apps.delete_namespaced_deployment(
                deployment.name,
                namespace,
                body=options,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            ),
            on_failure=failed,
            missing_ok=True,
        )

    def _reject(self, key: str, generation: int, reason: str) -> None:
        """Remember that this generation of the workload cannot be carried out; the snapshot
        then plans it as invalid (status Invalid with the reason) until the spec changes."""
        self.rejected[key] = (generation, reason)
        self._settled.pop(key, None)
        self._wake(0.0, "a workload was rejected")

    def _status_write(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        current: Mapping[str, Any],
        desired: dict[str, Any],
        key: str | None = None,
    ) -> list[Write]:
        memory_key = (plural, key or name)
        written = self._written_status.get(memory_key)
        if written is not None and _strip_volatile(current) == _strip_volatile(written):
            del self._written_status[memory_key]  # the watch echoed it
            written = None
        baseline = written if written is not None else current
        if _strip_volatile(baseline) == _strip_volatile(desired):
            return []
        hold = self._hold(plural, baseline, desired)
        if hold:
            since = self.clock() - self._status_written_at.get(memory_key, float("-inf"))
            if since < hold:
                self._held = True
                self._wake(hold - since, f"{plural} status held back")
                return []
        self._written_status[memory_key] = desired
        self._status_written_at[memory_key] = self.clock()

        def failed() -> None:
            if self._written_status.get(memory_key) is desired:
                del self._written_status[memory_key]
                self._status_written_at.pop(memory_key, None)

        # A merge patch: None removes a field (e.g. queuePosition once admitted).
        body = {"status": desired}
        if namespace is None:
            call = lambda: self.clients.custom.patch_cluster_custom_object_status(  # noqa: E731
                GROUP,
                VERSION,
                plural,
                name,
                body,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )
        else:
            call = lambda: self.clients.custom.patch_namespaced_custom_object_status(  # noqa: E731
                GROUP,
                VERSION,
                namespace,
                plural,
                name,
                body,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )
        return [
            Write(
                lane=("status", memory_key),
                target=("status", memory_key),
                kind="status",
                call=call,
                on_failure=failed,
                missing_ok=True,  # deleted meanwhile: nothing to report on
            )
        ]

    def _hold(self, plural: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> float:
        """How long since the last write of this object a change must wait (0: write now)."""
        if plural != "agentworkloads":
            if not before or _condition_states(before) != _condition_states(after):
                return 0.0
            return self.aggregate_interval
        if _wording(_strip_volatile(before)) != _wording(_strip_volatile(after)):
            return 0.0  # phase, reason, wording, admission, conditions: the user must see it
        if before.get("readyReplicas") != after.get("readyReplicas"):
            return self.progress_interval
        position = after.get("queuePosition")
        if position == 1 and before.get("queuePosition") != 1:
            return 0.0  # reaching the head of the queue is worth telling at once
        return self.queue_refresh_interval

    def _event_write(self, parsed: Parsed[Any], type_: str, reason: str, message: str) -> Write:
        facts = parsed.facts
        timestamp = now_iso()
        body = {
            "metadata": {
                "name": f"{facts.name}.{uuid.uuid4().hex[:12]}",
                "namespace": facts.namespace,
            },
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "AgentWorkload",
                "name": facts.name,
                "namespace": facts.namespace,
                "uid": facts.uid,
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": "paddock"},
            "reportingComponent": "paddock.dev/operator",
            "reportingInstance": "paddock",
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
        }
        log.info(
            "%s: %s",
            reason,
            message,
            extra={"workload": f"{facts.namespace}/{facts.name}", "reason": reason},
        )
        # Events are for people, not for the cluster to converge: their own low-priority lane.
        return Write(
            lane=("events", f"{facts.namespace}/{facts.name}"),
            target=None,
            kind="event",
            call=lambda: self.clients.core.create_namespaced_event(
                facts.namespace or "default",
                cast(Any, body),
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            ),
            low_priority=True,
        )

    # ------------------------------------------------------------------ machinery
    def _wake(self, delay: float, reason: str) -> None:
        """Poke the loop in `delay` seconds (one timer: the earliest wins)."""
        if self.poke is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = now + max(delay, 0.0)
        if self._wake_at is not None and now < self._wake_at <= at:
            return  # an earlier poke is already due
        if self._wake_handle is not None:
            self._wake_handle.cancel()
        poke = self.poke
        self._wake_at = at
        self._wake_handle = loop.call_at(at, lambda: poke(reason))

    def _forget_echoed(self, state: ClusterState) -> None:
        """Drop memories the watch has confirmed, or whose workload is gone."""
        for (key, pool), written in list(self._written_deployments.items()):
            found = next((d for d in state.deployments.get(key, ()) if d.pool == pool), None)
            if written == DELETED:
                echoed = found is None
            else:
                echoed = found is not None and (found.spec_hash, found.replicas) == written
            if key not in state.workloads or echoed:
                del self._written_deployments[(key, pool)]
        for key in list(self.admitted_memory):
            if key not in state.workloads:
                del self.admitted_memory[key]
        for key, minimum in list(self._written_pdbs.items()):
            pdb = state.pdbs.get(key)
            echoed = (
                pdb is None
                if minimum == DELETED_PDB
                else pdb is not None and (pdb.min_available == minimum)
            )
            if key not in state.workloads or echoed:
                del self._written_pdbs[key]
        for key, (generation, _) in list(self.rejected.items()):
            workload = state.workloads.get(key)
            if workload is None or workload.facts.generation != generation:
                del self.rejected[key]
        indexes: dict[str, Mapping[str, Any]] = {
            "agentworkloads": state.workloads,
            "corebudgets": state.budgets,
            "corepools": state.pools,
        }
        for memories in (self._written_status, self._status_written_at):
            for memory_key in list(memories):
                plural, key = memory_key
                if key not in indexes[plural]:
                    del memories[memory_key]
        self._first_admitted &= set(state.workloads)
        for key in [k for k in self._settled if k not in state.workloads]:
            del self._settled[key]
        for key, pool in [k for k in self._rendered if k[0] not in state.workloads]:
            del self._rendered[(key, pool)]
