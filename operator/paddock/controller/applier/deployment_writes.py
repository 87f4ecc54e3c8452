"""Deployment writes: one Deployment per (workload, pool), created, resized or deleted.

A Deployment carries a hash of what Paddock rendered, so an unchanged plan costs no write; a
changed replica count or template is one server-side apply onto a Deployment the workload owns.
A Deployment the workload does not own is never applied over (`owned_write`) nor deleted (the
snapshot only lists owned ones; deletes carry a uid precondition). What was queued is
remembered (`written`) until the watch echoes it, so an in-flight write is never repeated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paddock.api import AgentWorkloadSpec, CorePoolSpec
from paddock.controller.applier.clients import API_TIMEOUT, Clients, owned_delete, owned_write
from paddock.controller.cluster_state import ClusterState, Parsed
from paddock.controller.deployments import PoolPlacement, WorkloadRef, render_deployment
from paddock.controller.labels import FIELD_MANAGER
from paddock.controller.observed import SPEC_HASH_ANNOTATION, DeploymentFacts
from paddock.controller.writer import Write
from paddock.planner import WorkloadDecision

DELETED = ("", -1)
"""`written` value of a Deployment whose delete is queued."""
Rendered = tuple[tuple[Any, ...], str, list[str], str]
"""(what it was rendered from, spec hash, overrides, Deployment name): not the manifest, which
is rendered again only when a write needs it (10,000 kept manifests were 55 MiB)."""


def spec_hash(manifest: Mapping[str, Any]) -> str:
    """Hash of everything Paddock renders except the replica count."""
    trimmed = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}}
    return hashlib.sha256(json.dumps(trimmed, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class DeploymentWrites:
    clients: Clients
    admitted_memory: dict[str, tuple[tuple[str, int], ...]]
    """Shared with the SnapshotBuilder: a failed write makes it fall back to what exists."""
    reject: Callable[[str, int, str], None]
    """(workload, generation, reason): this generation cannot be carried out."""
    written: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    """(workload, pool) -> (spec hash, replicas) queued, or DELETED."""
    rendered: dict[tuple[str, str], Rendered] = field(default_factory=dict)
    """(workload, pool) -> its last rendering (see `_render`)."""

    def writes(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        decision: WorkloadDecision,
        state: ClusterState,
    ) -> tuple[list[Write], list[str], bool]:
        """Create, resize or delete the workload's own Deployments to match its assignments;
        also whether any of the writes frees replicas.

        Free before use: deletes and scale-downs are queued before creates and scale-ups (the
        workload's Deployment writes run in order in one lane), and creates and scale-ups wait
        while any of its Deployments still runs pods or replicas beyond what is now wanted in
        its pool (a later cycle, poked by the watch, queues them). So a move never runs more
        pods than admitted, not even for a moment, and not if the process dies in between.
        """
        namespace = parsed.facts.namespace or ""
        existing = {d.pool: d for d in state.deployments.get(key, ())}
        desired = dict(decision.assignments)
        freeing: list[Write] = []
        using: list[Write] = []
        overrides: list[str] = []
        for pool_name, deployment in existing.items():
            if pool_name in desired or deployment.replicas < 0 or deployment.deleting:
                continue
            if self.written.get((key, pool_name)) == DELETED:
                continue  # its delete is queued or in flight
            freeing.append(
                self._delete_write(
                    key, pool_name, namespace, deployment.name, deployment.uid, parsed
                )
            )
        unseen = self._unseen(key, state, existing, desired)
        for pool_name in unseen:
            # Created (or queued) by this replica, not yet seen by the watch, and no longer
            # wanted: a queued create is replaced by the delete; one in flight is followed by it.
            name = self.rendered[(key, pool_name)][3]
            freeing.append(self._delete_write(key, pool_name, namespace, name, None, parsed))
        # Still freeing: grow only once the cluster shows the pods gone (a later cycle).
        may_grow = not unseen and all(
            not d.deleting and d.occupying <= desired.get(d.pool, 0) for d in existing.values()
        )
        for pool_name, replicas in decision.assignments:
            pool = state.pools.get(pool_name)
            found = existing.get(pool_name)
            queue = freeing if found is not None and replicas < found.replicas else using
            if (queue is using and not may_grow) or (found is not None and found.deleting):
                continue
            if pool is None or pool.spec is None or parsed.spec is None:
                # The pool was deleted under running pods: its Deployment stays as rendered;
                # only its replica count follows the admission.
                if (
                    found is not None
                    and found.spec_hash is not None
                    and not self.current(key, pool_name, found, found.spec_hash, replicas)
                ):
                    queue.append(self._scale_write(key, found, replicas))
                continue
            owned, pins = found.name if found else None, _pins(key, parsed, state)
            manifest, digest, overrides = self._render(key, parsed, pool_name, pool, owned, pins)
            if self.current(key, pool_name, found, digest, replicas):
                continue
            if manifest is None:  # the rendering is cached without it: render it again
                manifest, _, _ = self._render(key, parsed, pool_name, pool, owned, pins, True)
                assert manifest is not None
            manifest["spec"]["replicas"] = replicas
            queue.append(
                self._apply_write(
                    key, pool_name, manifest, digest, replicas, decision.assignments, found, parsed
                )
            )
        return freeing + using, overrides, bool(freeing)

    def _render(
        self,
        key: str,
        parsed: Parsed[AgentWorkloadSpec],
        pool_name: str,
        pool: Parsed[CorePoolSpec],
        name: str | None = None,
        pins: tuple[tuple[str, str], ...] = (),
        fresh: bool = False,
    ) -> tuple[dict[str, Any] | None, str, list[str]]:
        """The workload's Deployment in a pool (replicas aside), its spec hash and overrides.
        `name` is the name of the Deployment it already owns there, kept across upgrades.

        Rendered once per workload and pool generation, not every cycle: rendering and
        hashing were a third of the event loop's time with 10,000 workloads. Only the hash is
        kept, so a cached rendering comes without its manifest (None): with `fresh`, it is
        rendered again (a write needs it), the same as the first time.
        """
        made_from = (
            parsed.facts.uid,
            parsed.facts.generation,
            pool.facts.uid,
            pool.facts.generation,
            name,
            pins,
        )
        cached = None if fresh else self.rendered.get((key, pool_name))
        if cached is not None and cached[0] == made_from:
            return None, cached[1], cached[2]
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
            pin_images(spec.template.model_dump(by_alias=True, exclude_none=True), dict(pins)),
            placement,
            0,
            spec.cores_per_replica,
            spec.memory_per_replica,
            spec.placement.spread,
            name=name,
        )
        digest = spec_hash(rendered.manifest)
        rendered.manifest["metadata"]["annotations"] = {SPEC_HASH_ANNOTATION: digest}
        self.rendered[(key, pool_name)] = (
            made_from,
            digest,
            rendered.overrides,
            rendered.manifest["metadata"]["name"],
        )
        return rendered.manifest, digest, rendered.overrides

    def current(
        self, key: str, pool: str, found: DeploymentFacts | None, digest: str, replicas: int
    ) -> bool:
        # What is queued is the newest intent; the index only counts when nothing is.
        written = self.written.get((key, pool))
        if written is not None:
            return written == (digest, replicas)
        return found is not None and found.spec_hash == digest and found.replicas == replicas

    def _apply_write(
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
        known = found is not None or (key, pool) in self.written
        self.written[(key, pool)] = memory
        apps = self.clients.apps
        owner = parsed.facts.uid

        def failed() -> None:
            if self.written.get((key, pool)) == memory:
                del self.written[(key, pool)]
            if self.admitted_memory.get(key) == assignments:
                # The snapshot falls back to the Deployments that really exist.
                del self.admitted_memory[key]

        # Queued as its JSON text, decoded when sent: in a burst thousands of Deployment writes
        # wait in the writer's queue, and the text is a third of the manifest's size as dicts.
        packed = json.dumps(manifest, separators=(",", ":"))
        create_or_apply = owned_write(
            patch=apps.patch_namespaced_deployment,
            create=apps.create_namespaced_deployment,
            read=apps.read_namespaced_deployment,
            name=meta["name"],
            namespace=meta["namespace"],
            manifest=lambda: json.loads(packed),
            known=known,
            owner_uid=owner,
            what="Deployment",
        )

        return Write(
            lane=("deployments", key),
            target=("deployment", key, pool),
            kind="deployment",
            call=create_or_apply,
            on_failure=failed,
            on_rejected=lambda reason: self.reject(key, parsed.facts.generation, reason),
        )

    def _scale_write(self, key: str, found: DeploymentFacts, replicas: int) -> Write:
        """Only the replica count of an owned Deployment (its pool is gone: nothing to render)."""
        memory = (found.spec_hash or "", replicas)
        self.written[(key, found.pool)] = memory
        namespace = key.split("/", 1)[0]

        def failed() -> None:
            if self.written.get((key, found.pool)) == memory:
                del self.written[(key, found.pool)]

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

    def _unseen(
        self,
        key: str,
        state: ClusterState,
        existing: Mapping[str, DeploymentFacts],
        desired: Mapping[str, int],
    ) -> list[str]:
        """Pools where this replica queued a create or apply the watch has not shown yet."""
        return [
            pool
            for pool in state.pools
            if pool not in existing
            and pool not in desired
            and self.written.get((key, pool)) not in (None, DELETED)
            and (key, pool) in self.rendered
        ]

    def _delete_write(
        self,
        key: str,
        pool: str,
        namespace: str,
        name: str,
        uid: str | None,
        parsed: Parsed[AgentWorkloadSpec],
    ) -> Write:
        """Delete an owned Deployment: the same object (uid precondition) when listed, or by
        name after checking the workload owns it when this replica created it unseen."""
        self.written[(key, pool)] = DELETED

        def failed() -> None:
            if self.written.get((key, pool)) == DELETED:
                del self.written[(key, pool)]

        apps = self.clients.apps
        return Write(
            lane=("deployments", key),
            target=("deployment", key, pool),
            kind="deployment-delete",
            call=owned_delete(
                delete=apps.delete_namespaced_deployment,
                read=apps.read_namespaced_deployment,
                name=name,
                namespace=namespace,
                uid=uid,
                owner_uid=parsed.facts.uid,
                # The Deployment stays listed until its pods are gone: free before use.
                propagation="Foreground",
            ),
            on_failure=failed,
            missing_ok=True,
        )

    def forget(self, state: ClusterState) -> None:
        """Drop memories the watch has confirmed, or whose workload is gone."""
        for (key, pool), written in list(self.written.items()):
            found = next((d for d in state.deployments.get(key, ()) if d.pool == pool), None)
            if written == DELETED:
                echoed = found is None
            else:
                echoed = found is not None and (found.spec_hash, found.replicas) == written
            if key not in state.workloads or echoed:
                del self.written[(key, pool)]
        for key, pool in [k for k in self.rendered if k[0] not in state.workloads]:
            del self.rendered[(key, pool)]


def _pins(
    key: str, parsed: Parsed[AgentWorkloadSpec], state: ClusterState
) -> tuple[tuple[str, str], ...]:
    """image -> checked digest, when the workload asks for `imagePolicy: PinDigest`."""
    verdict = state.images.get(key)
    if verdict is None or parsed.spec is None or parsed.spec.image_policy != "PinDigest":
        return ()
    return tuple(sorted(verdict.pins.items()))


def pin_images(template: dict[str, Any], pins: Mapping[str, str]) -> dict[str, Any]:
    """The template with each checked image replaced by `image@digest` (PinDigest), so every
    replica runs exactly what was checked for arm64. An image without a digest is kept."""
    if not pins:
        return template
    spec = template.get("spec") or {}
    for field_name in ("initContainers", "containers"):
        for container in spec.get(field_name) or ():
            image = container.get("image")
            if isinstance(image, str) and image in pins:
                container["image"] = pinned(image, pins[image])
    return template


def pinned(image: str, digest: str) -> str:
    """`repo:tag` -> `repo:tag@sha256:...` (a reference already by digest is kept)."""
    return image if "@" in image else f"{image}@{digest}"
