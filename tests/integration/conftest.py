"""Fixtures for tests against the real local control plane.

`cluster` is session-wide; `namespace` gives each test its own namespace and
deletes it afterwards (without waiting, so the next test is not held up).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from tests.support.cluster import Cluster, find_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    found = find_cluster()
    ready = found.kubectl("get", "--raw", "/readyz", check=False)
    if ready.returncode != 0:
        raise RuntimeError(
            f"the API server at {found.kubeconfig} is not ready ({ready.stderr.strip()}); "
            "run `hack/cluster.sh up`"
        )
    return found


@pytest.fixture(scope="session")
def api_client(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"t-{base}-{uuid.uuid4().hex[:5]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
