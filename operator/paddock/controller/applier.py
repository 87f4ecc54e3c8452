"""Make the cluster match a plan: Deployments, status subresources, Events.

Only what differs is written. A Deployment carries a hash of what Paddock
rendered, so an unchanged plan costs no write; a changed replica count or
template is one server-side apply. What this replica wrote is remembered until
the watch echoes it back, so a lagging index never causes a double write or a
double admission. Each workload is applied independently: one failing write
is logged and counted, and the rest of the plan still lands.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock import GROUP, VERSION
from paddock.api import AgentWorkloadSpec
from paddock.controller import metrics
from paddock.controller.deployments import PoolPlacement, WorkloadRef, render_deployment
from paddock.controller.labels import FIELD_MANAGER
from paddock.controller.observed import SPEC_HASH_ANNOTATION, DeploymentFacts
from paddock.controller.snapshot import ClusterState, Parsed, parse_timestamp
from paddock.controller.status import (
    PoolMeasures,
    budget_status,
    failed_status,
    now_iso,
    pool_status,
    transition_events,
    workload_status,
)
from paddock.planner import Plan, WorkloadDecision

log = logging.getLogger("paddock.applier")

Writer = Callable[[], None]
NO_NODES = PoolMeasures(0, 0, (), (), (), 0, 0, 0)
"""What an invalid pool (one the snapshot could not measure) reports."""


@dataclass
class Clients:
    apps: client.AppsV1Api
    core: client.CoreV1Api
    custom: client.CustomObjectsApi

    @classmethod
    def from_api_client(cls, api: client.ApiClient) -> Clients:
        return cls(client.AppsV1Api(api), client.CoreV1Api(api), client.CustomObjectsApi(api))


def spec_hash(manifest: Mapping[str, Any]) -> str:
    """Hash of everything Paddock renders except the replica count."""
    trimmed = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}}
    return hashlib.sha256(json.dumps(trimmed, sort_keys=True).encode()).hexdigest()[:16]


def _strip_volatile(status: Mapping[str, Any]) -> dict[str, Any]:
    """Status without timestamps, for "did anything change" comparisons."""
    out = {k: v for k, v in status.items() if v is not None}
    if "conditions" in out:
        out["conditions"] = [
            {k: v for k, v in c.items() if k != "lastTransitionTime"} for c in out["conditions"]
        ]
    return out


def export_gauges(state: ClusterState, plan: Plan) -> None:
    """Budget and pool figures for Prometheus, rebuilt each cycle so deleted objects vanish."""
    for gauge in (
        metrics.BUDGET_CORES,
        metrics.POOL_CORES,
        metrics.PENDING_WORKLOADS,
        metrics.ADMITTED_WORKLOADS,
    ):
        gauge.clear()
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


@dataclass
class Applier:
    clients: Clients
    admitted_memory: dict[str, tuple[tuple[str, int], ...]]
    """Shared with the SnapshotBuilder: assignments this replica wrote, until the index agrees."""
    workers: int = 16
    _written_deployments: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    _written_status: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _executor: ThreadPoolExecutor | None = None
    _first_admitted: set[str] = field(default_factory=set)

    async def apply(self, state: ClusterState, plan: Plan) -> None:
        jobs: list[Writer] = []
        for key, parsed in state.workloads.items():
            decision = plan.workloads.get(key)
            jobs.extend(self._workload_jobs(key, parsed, decision, state))
        for name, budget in state.budgets.items():
            status = budget_status(
                plan.budgets.get(name), budget.facts.generation, budget.facts.status, budget.errors
            )
            jobs.extend(self._status_job("corebudgets", None, name, budget.facts.status, status))
        for name, pool in state.pools.items():
            measures = state.pool_facts.get(name, NO_NODES)
            status = pool_status(
                measures,
                plan.pools.get(name),
                pool.facts.generation,
                pool.facts.status,
                pool.errors,
            )
            jobs.extend(self._status_job("corepools", None, name, pool.facts.status, status))
        self._forget_echoed(state)
        export_gauges(state, plan)
        if jobs:
            await self._run(jobs)

    # ------------------------------------------------------------------ planning writes
    def _workload_jobs(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision | None,
        state: ClusterState,
    ) -> list[Writer]:
        facts = parsed.facts
        namespace, name = facts.namespace or "", facts.name
        previous = self._written_status.get(("agentworkloads", key)) or facts.status
        if parsed.spec is None or decision is None:
            errors = parsed.errors or ("the planner returned no decision",)
            status = failed_status(errors, facts.generation, previous)
            jobs = self._status_job("agentworkloads", namespace, name, facts.status, status, key)
            if jobs and previous.get("phase") != "Failed":
                jobs.append(self._event_job(parsed, "Warning", "InvalidSpec", status["message"]))
            return jobs

        spec = parsed.spec
        ref = WorkloadRef(namespace=namespace, name=name, uid=facts.uid)
        template = spec.template.model_dump(by_alias=True, exclude_none=True)
        existing = {d.pool: d for d in state.deployments.get(key, ())}
        desired = dict(decision.assignments)
        writes: list[Writer] = []
        overrides: list[str] = []
        for pool_name, replicas in decision.assignments:
            pool = state.pools.get(pool_name)
            if pool is None or pool.spec is None:
                continue
            placement = PoolPlacement(
                name=pool_name,
                node_selector=pool.spec.node_selector.model_dump(by_alias=True, exclude_none=True),
                tolerations=tuple(
                    t.model_dump(by_alias=True, exclude_none=True)
                    for t in pool.spec.tolerations or ()
                ),
            )
            rendered = render_deployment(
                ref,
                template,
                placement,
                replicas,
                spec.cores_per_replica,
                spec.memory_per_replica,
                spec.placement.spread,
            )
            overrides = rendered.overrides
            digest = spec_hash(rendered.manifest)
            rendered.manifest["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: digest}
            if self._deployment_current(key, pool_name, existing.get(pool_name), digest, replicas):
                continue
            writes.append(
                self._apply_deployment_job(key, pool_name, rendered.manifest, digest, replicas)
            )
        for pool_name, deployment in existing.items():
            if pool_name not in desired and deployment.replicas >= 0:
                writes.append(
                    self._delete_deployment_job(key, pool_name, namespace, deployment.name)
                )

        ready = sum(d.ready_replicas for d in state.deployments.get(key, ()) if d.pool in desired)
        ready = min(ready, decision.admitted_replicas)
        status = workload_status(decision, ready, facts.generation, previous, overrides)
        status_jobs = self._status_job("agentworkloads", namespace, name, facts.status, status, key)
        event_jobs = (
            [
                self._event_job(parsed, kind, reason, message)
                for kind, reason, message in transition_events(previous, decision)
            ]
            if status_jobs
            else []
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
        # One job per workload keeps its writes in order: Deployments, then status, then Events.
        sequence = writes + status_jobs + event_jobs
        if not sequence:
            return []

        def run_in_order() -> None:
            for job in sequence:
                job()

        return [run_in_order]

    def _deployment_current(
        self, key: str, pool: str, found: DeploymentFacts | None, digest: str, replicas: int
    ) -> bool:
        if found is not None and found.spec_hash == digest and found.replicas == replicas:
            return True
        return self._written_deployments.get((key, pool)) == (digest, replicas)

    def _apply_deployment_job(
        self, key: str, pool: str, manifest: dict[str, Any], digest: str, replicas: int
    ) -> Writer:
        def job() -> None:
            meta = manifest["metadata"]
            self._write(
                "deployment",
                lambda: self.clients.apps.patch_namespaced_deployment(
                    meta["name"],
                    meta["namespace"],
                    manifest,
                    field_manager=FIELD_MANAGER,
                    force=True,
                    _content_type="application/apply-patch+yaml",
                ),
            )
            self._written_deployments[(key, pool)] = (digest, replicas)

        return job

    def _delete_deployment_job(self, key: str, pool: str, namespace: str, name: str) -> Writer:
        def job() -> None:
            try:
                self._write(
                    "deployment-delete",
                    lambda: self.clients.apps.delete_namespaced_deployment(
                        name, namespace, propagation_policy="Background"
                    ),
                )
            except ApiException as error:
                if error.status != 404:
                    raise
            self._written_deployments.pop((key, pool), None)

        return job

    def _status_job(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        current: Mapping[str, Any],
        desired: dict[str, Any],
        key: str | None = None,
    ) -> list[Writer]:
        memory_key = (plural, key or name)
        wanted = _strip_volatile(desired)
        if _strip_volatile(current) == wanted:
            self._written_status.pop(memory_key, None)
            return []
        written = self._written_status.get(memory_key)
        if written is not None and _strip_volatile(written) == wanted:
            return []

        def job() -> None:
            # A merge patch: None removes a field (e.g. queuePosition once admitted).
            body = {"status": desired}
            if namespace is None:
                call = lambda: self.clients.custom.patch_cluster_custom_object_status(  # noqa: E731
                    GROUP, VERSION, plural, name, body
                )
            else:
                call = lambda: self.clients.custom.patch_namespaced_custom_object_status(  # noqa: E731
                    GROUP, VERSION, namespace, plural, name, body
                )
            try:
                self._write("status", call)
            except ApiException as error:
                if error.status == 404:  # deleted meanwhile: nothing to report on
                    return
                raise
            self._written_status[memory_key] = desired

        return [job]

    def _event_job(self, parsed: Parsed[Any], type_: str, reason: str, message: str) -> Writer:
        facts = parsed.facts

        def job() -> None:
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
            self._write(
                "event",
                lambda: self.clients.core.create_namespaced_event(
                    facts.namespace or "default", cast(Any, body)
                ),
            )
            log.info(
                "%s: %s",
                reason,
                message,
                extra={"workload": f"{facts.namespace}/{facts.name}", "reason": reason},
            )

        return job

    # ------------------------------------------------------------------ machinery
    def _write(self, kind: str, call: Callable[[], Any]) -> Any:
        try:
            result = call()
        except ApiException as error:
            metrics.API_ERRORS.labels(kind=kind).inc()
            log.warning("%s write failed: %s %s: %s", kind, error.status, error.reason, error.body)
            raise
        metrics.API_WRITES.labels(kind=kind).inc()
        return result

    def _forget_echoed(self, state: ClusterState) -> None:
        """Drop memories the watch has confirmed, or whose workload is gone."""
        for (key, pool), (digest, replicas) in list(self._written_deployments.items()):
            found = next((d for d in state.deployments.get(key, ()) if d.pool == pool), None)
            if key not in state.workloads or (
                found is not None and found.spec_hash == digest and found.replicas == replicas
            ):
                del self._written_deployments[(key, pool)]
        for key in list(self.admitted_memory):
            if key not in state.workloads:
                del self.admitted_memory[key]
        for memory_key in list(self._written_status):
            plural, key = memory_key
            index = {
                "agentworkloads": state.workloads,
                "corebudgets": state.budgets,
                "corepools": state.pools,
            }[plural]
            if key not in index:
                del self._written_status[memory_key]
        self._first_admitted &= set(state.workloads)

    async def _run(self, jobs: list[Writer]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="paddock-write")
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(self._executor, job) for job in jobs), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            log.warning(
                "%d of %d writes failed this cycle; the next cycle retries",
                len(failures),
                len(jobs),
            )
