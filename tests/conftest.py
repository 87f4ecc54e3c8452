"""Root test configuration: marks tests by folder, and the `cluster` fixture every
suite that needs the local control plane shares (it fails loudly, never skips,
when the control plane is missing: a skipped integration suite proves nothing)."""

from __future__ import annotations

import pytest

from tests.support.cluster import Cluster, find_cluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.integration)
        elif "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)


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
