"""Fixtures for the Helm chart tests: the local control plane, helm, namespaces.

Rendering and linting need only the helm binary; installing, dry-run validation
and the RBAC checks need the local control plane (`hack/cluster.sh up`). Like the
integration suite, a missing cluster fails loudly instead of skipping.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.helm.chart import Helm, find_helm
from tests.support.cluster import Cluster


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm with its own cache/config/data folders, so tests leave the user's alone."""
    return find_helm(tmp_path_factory.mktemp("helm-home"))


NamespaceFactory = Callable[..., str]


@pytest.fixture
def make_namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[NamespaceFactory]:
    """Create namespaces named after the test; all are deleted (without waiting) afterwards.

    `restricted=True` makes the namespace enforce the restricted Pod Security Standard,
    so the API server rejects any pod of ours that does not comply.
    """
    created: list[str] = []
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:30].strip("-")

    def make(*, restricted: bool = False, labels: dict[str, str] | None = None) -> str:
        name = f"t-{base}-{uuid.uuid4().hex[:5]}"
        cluster.kubectl("create", "namespace", name)
        created.append(name)
        all_labels = dict(labels or {})
        if restricted:
            all_labels["pod-security.kubernetes.io/enforce"] = "restricted"
            all_labels["pod-security.kubernetes.io/warn"] = "restricted"
        if all_labels:
            cluster.kubectl(
                "label", "namespace", name, *(f"{k}={v}" for k, v in all_labels.items())
            )
        return name

    yield make
    for name in created:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
