"""`paddock run`: configure logging, metrics and health, then hand over to kopf."""

from __future__ import annotations

import asyncio
import logging
import os
import threading

import kopf
from aiohttp import web
from kubernetes import client, config

from paddock.controller import logs, metrics
from paddock.controller.runtime import Runtime
from paddock.controller.writer import WRITES_IN_FLIGHT

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
    return client.ApiClient(configuration)


async def serve_health(runtime: Runtime, port: int) -> web.AppRunner:
    """/healthz: the process and its loop are alive. /readyz: indexes are listed."""

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if runtime.loop.indexes_ready.is_set():
            return web.Response(text="ready")
        return web.Response(status=503, text="watches are still listing")

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
    metrics_auth: str = "none",
    metrics_cert_dir: str = "",
) -> int:
    logs.configure(log_level, json_logs)
    from paddock.controller import handlers  # noqa: F401 - registers the kopf handlers

    api = load_kube_config()
    runtime = Runtime.create(api, lease_namespace)
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
