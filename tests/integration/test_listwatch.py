"""The operator's list-watches against the real API server.

The same functions `paddock run` uses (`runtime.list_watches`) fill a
SnapshotBuilder's nodes, pods and Deployments from the local control plane:
listed in pages, then followed through bind, finish and delete, with the
per-node sums the snapshot reads.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from paddock.controller.cluster_state import SnapshotBuilder
from paddock.controller.runtime import list_watches
from paddock.controller.watched import NodesAndPods
from tests.support.cluster import Cluster
from tests.support.paddock import Ground
from tests.support.waiting import wait_for

GIB = 2**30


@pytest.fixture
def watched(api_client: client.ApiClient) -> Iterator[tuple[NodesAndPods, list[str]]]:
    """A NodesAndPods kept current by the operator's watches, on an event loop of its own."""
    builder, pokes = SnapshotBuilder(), []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    watches = list_watches(builder, pokes.append, api_client)
    for watch in watches:
        watch.page_size = 3  # several pages even on a small cluster
        watch.start(loop)
    wait_for(lambda: all(w.listed.is_set() for w in watches), timeout=30, what="first lists")
    yield builder.nodes_and_pods, pokes
    for watch in watches:
        watch.stop()
    loop.call_soon_threadsafe(loop.stop)


def bound_pod(namespace: str, name: str, node: str, cpu: str, labels: dict[str, str]) -> str:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "c",
                    "image": "agent",
                    "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}},
                }
            ],
        },
    }
    return json.dumps(pod)


def test_pods_bound_finished_and_deleted_move_the_node_sums(
    cluster: Cluster, ground: Ground, namespace: str, watched: tuple[NodesAndPods, list[str]]
) -> None:
    store, pokes = watched
    node, other = ground.add_nodes("lw", "c8g.4xlarge", 2)
    wait_for(lambda: node in store.nodes and other in store.nodes, what="nodes watched")
    assert store.nodes[node].allocatable_millicores >= 15000
    assert "node" in pokes

    cluster.kubectl("apply", "-f", "-", input=bound_pod(namespace, "a", node, "2", {}))
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=bound_pod(namespace, "b", node, "500m", {"paddock.dev/workload": "agent"}),
    )
    wait_for(lambda: store.usage.get(node) == (2500, 2 * GIB), what=f"usage of {node}")
    assert [p.node for p in store.agent_pods[f"{namespace}/agent"].values()] == [node]

    # A pod that finishes leaves the field selector: the watch says DELETED.
    cluster.kubectl(
        "patch",
        "pod",
        "a",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status": {"phase": "Succeeded"}}',
    )
    wait_for(lambda: store.usage.get(node) == (500, GIB), what="the finished pod forgotten")

    cluster.kubectl("delete", "pod", "b", "-n", namespace, "--grace-period=0", "--force")
    wait_for(lambda: node not in store.usage, what="the deleted pod forgotten")
    assert f"{namespace}/agent" not in store.agent_pods

    cluster.kubectl("delete", "node", other)
    wait_for(lambda: other not in store.nodes, what="the deleted node forgotten")
