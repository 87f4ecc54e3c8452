"""`paddock run`: configure logging, metrics and health, then hand over to kopf."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import kopf
from aiohttp import web
from kubernetes import client, config
from urllib3.util import Retry

from paddock.controller import logs, metrics
from paddock.controller.leadership import LeaderElectionConfig
from paddock.controller.runtime import Runtime
from paddock.controller.writer import WRITES_IN_FLIGHT, ApiClientWithTimeout

log = logging.getLogger("paddock")


def load_kube_config() -> client.ApiClient:
    """In-cluster config inside a pod, otherwise the current kubeconfig context."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    configuration = client.Configuration.get_default_copy()
    # Many writes in flight at once: one pooled connection per writer thread, and a few more
    # for the Lease and the node and pod watches that share this client.
    configuration.connection_pool_maxsize = WRITES_IN_FLIGHT + 8
    # The HTTP library never re-sends a request by itself (its default re-sends idempotent
    # ones after a read timeout): a write is sent once, when the writer's gate said it may,
    # and Paddock's own retries decide what happens after a failure.
    configuration.retries = Retry(total=0)
    # Every call without a timeout of its own (the writes) gets one: see writer.py.
    return ApiClientWithTimeout(configuration)


ROLE_HEADER = "X-Paddock-Role"
"""/readyz's answer says which role this replica has: "leader" or "standby"."""


async def serve_health(runtime: Runtime, port: int) -> web.AppRunner:
    """The probes; both handlers only read a few fields, so they answer while a cycle runs.

    /healthz (liveness): 503 with the reason when the lease task, the loop or a
    watch thread died, or when the leader finished no scheduling cycle within
    `Runtime.stall_bound` (3 resyncs + 15 s); a standby is healthy while its
    lease task runs. /readyz (readiness): 503 until the watches have listed,
    then 200 with body and `X-Paddock-Role` header "leader" or "standby".
    """

    async def healthz(_: web.Request) -> web.Response:
        problem = runtime.health()
        if problem is not None:
            return web.Response(status=503, text=problem)
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if not runtime.loop.indexes_ready.is_set():
            return web.Response(status=503, text="watches are still listing")
        role = "leader" if runtime.elector.is_leader else "standby"
        return web.Response(text=role, headers={ROLE_HEADER: role})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # probes reach the pod IP
    return runner


def run(
    lease_namespace: str,
    metrics_port: int,
    health_port: int,
    log_level: str,
    json_logs: bool,
    election: LeaderElectionConfig | None = None,
    watch_timeout: int = 300,
    metrics_auth: str = "none",
    metrics_cert_dir: str = "",
) -> int:
    logs.configure(log_level, json_logs)
    from paddock.controller import handlers  # noqa: F401 - registers the kopf handlers

    api = load_kube_config()
    runtime = Runtime.create(api, lease_namespace, election, watch_timeout)
    metrics.serve(metrics_port, metrics_auth, api, metrics_cert_dir)
    log.info(
        "paddock starting (metrics :%d, auth %s; health :%d)",
        metrics_port,
        metrics_auth,
        health_port,
    )

    async def main() -> None:
        runner = await serve_health(runtime, health_port)
        try:
            await kopf.operator(clusterwide=True, memo=kopf.Memo(runtime=runtime), standalone=True)
        finally:
            await runner.cleanup()

    stop = threading.Event()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        stop.set()
    return 0
