"""kopf wiring: indexes that observe, events that poke, and the loop's start and stop.

Handlers stay thin: an index function turns one object into a small tuple;
an event handler pokes the scheduling loop. No handler makes a decision.
kopf watches Paddock's own objects and namespaces; nodes, pods and Paddock's
Deployments, the kinds with many objects or many events, are list-watched
compactly (`listwatch.py`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from paddock import GROUP, VERSION
from paddock.controller import observed
from paddock.controller.runtime import Runtime

log = logging.getLogger("paddock.handlers")


def _runtime(memo: Any) -> Runtime:
    runtime: Runtime = memo["runtime"]
    return runtime


# ------------------------------------------------------------------ indexes
@kopf.index("namespaces")
async def paddock_namespaces(name: str, labels: kopf.Labels, memo: kopf.Memo, **_: Any) -> Any:
    _runtime(memo).loop.poke("namespace")
    return {name: dict(labels)}


@kopf.index(GROUP, VERSION, "corepools")
async def paddock_pools(body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> Any:
    _runtime(memo).loop.poke("corepool")
    return {name: observed.object_facts(body)}


@kopf.index(GROUP, VERSION, "corebudgets")
async def paddock_budgets(body: kopf.Body, name: str, memo: kopf.Memo, **_: Any) -> Any:
    _runtime(memo).loop.poke("corebudget")
    return {name: observed.object_facts(body)}


@kopf.index(GROUP, VERSION, "agentworkloads")
async def paddock_workloads(
    body: kopf.Body, namespace: str | None, name: str, memo: kopf.Memo, **_: Any
) -> Any:
    _runtime(memo).loop.poke("agentworkload")
    return {f"{namespace}/{name}": observed.object_facts(body)}


# ------------------------------------------------------------------ triggers
# Indexes see creations and changes; deletions only reach event handlers.
# kopf calls event handlers only once every index is fully listed, so the
# first call also says that kopf's part of the snapshot is complete. Namespaces
# are watched for that too: every cluster has some, even with no Paddock object.
async def _poke(memo: kopf.Memo, resource: kopf.Resource, **_: Any) -> None:
    runtime = _runtime(memo)
    runtime.kopf_listed.set()
    runtime.loop.poke(resource.plural)


for _args in (
    (GROUP, VERSION, "agentworkloads"),
    (GROUP, VERSION, "corebudgets"),
    (GROUP, VERSION, "corepools"),
    ("namespaces",),
):
    kopf.on.event(*_args, id=f"poke-{_args[-1]}")(_poke)


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
    # No settings.batching.worker_limit: kopf parks one worker per listed object
    # until every index is filled, so a limit below the object count deadlocks the
    # start (bench/e2e.py found it at 1,000 nodes).


@kopf.on.startup()
async def start_loop(memo: kopf.Memo, **kwargs: Any) -> None:
    runtime = _runtime(memo)
    runtime.bind_indexes(kwargs)
    memo["loop_task"] = asyncio.create_task(runtime.loop.run(), name="paddock-scheduling-loop")
    memo["lease_task"] = asyncio.create_task(runtime.keep_lease(), name="paddock-lease")
    memo["watch_task"] = asyncio.create_task(runtime.start_watches(), name="paddock-watches")


@kopf.on.cleanup()
async def stop_loop(memo: kopf.Memo, **_: Any) -> None:
    for name in ("loop_task", "lease_task", "watch_task"):
        task = memo.get(name)
        if task is not None:
            task.cancel()
    _runtime(memo).stop_watches()
    await asyncio.to_thread(_runtime(memo).elector.release)
