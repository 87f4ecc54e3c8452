"""kopf wiring: the operator's life cycle, settings, and the namespace index.

kopf runs the process (startup, cleanup, login, signals) and watches
namespaces. Everything Paddock schedules from (its own objects, nodes, pods,
its Deployments) is list-watched compactly by `listwatch.py` instead: kopf's
per-object machinery (a worker, causes and handler kwargs per event, every
body queued until its indexes are full) fell behind at 10,000 AgentWorkloads
and never finished listing 50,000 pods (docs/benchmarks.md). No handler makes
a decision; the scheduling loop does.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from paddock.controller.runtime import Runtime

log = logging.getLogger("paddock.handlers")


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


# ------------------------------------------------------------------ namespaces
# Namespace labels decide which budgets select a workload. kopf calls event
# handlers only once its indexes are listed, so the first call also says that
# kopf's part of the snapshot is complete (every cluster has namespaces).
@kopf.index("namespaces")
async def paddock_namespaces(name: str, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> Any:
    _runtime(memo).loop.poke("namespace")
    return {name: dict(labels)}


@kopf.on.event("namespaces", id="poke-namespaces")
async def namespace_changed(memo: kopf.Memo, **_: Any) -> None:
    """Deletions reach only event handlers, not indexes."""
    runtime = _runtime(memo)
    runtime.kopf_listed.set()
    runtime.loop.poke("namespace")


# ------------------------------------------------------------------ life cycle
class NoDiffBase(kopf.DiffBaseStorage):
    """A diff base that keeps and builds nothing.

    kopf builds one (a deep copy of the body) on every event, for on.create/update
    handlers to diff against; Paddock has none, and the copies were 17% of the
    operator's main thread under load (docs/benchmarks.md, finding 3).
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> Any:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Our own Lease decides who schedules (see leadership.py); kopf's peering is off.
    settings.peering.standalone = True
    # Resources are named exactly above: no cluster-wide CRD scanning, less RBAC.
    settings.scanning.disabled = True
    # Paddock posts its own Events; kopf's per-handler events would be noise.
    settings.posting.level = logging.ERROR
    settings.watching.server_timeout = 300
    # Initial lists in pages, never one giant response.
    settings.watching.chunk_size = 500
    # kopf deep-copies every body into a diff base for change handlers; Paddock has none.
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.watching.client_timeout = 330
    # Every API call carries a timeout: kopf's own requests too (its namespace watch above).
    settings.networking.connect_timeout = 10
    settings.networking.request_timeout = 60
    # No settings.batching.worker_limit: kopf parks one worker per listed object
    # until every index is filled, so a limit below the object count deadlocks the
    # start (bench/e2e.py found it at 1,000 nodes).


@kopf.on.startup()
async def start_loop(memo: kopf.Memo, **kwargs: Any) -> None:
    runtime = _runtime(memo)
    runtime.bind_indexes(kwargs)
    runtime.start()  # the loop, the supervised lease task, the watches


@kopf.on.cleanup()
async def stop_loop(memo: kopf.Memo, **_: Any) -> None:
    await _runtime(memo).stop()
