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

from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.operator import OperatorProcess
from tests.support.paddock import Ground

pytestmark = pytest.mark.integration


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


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """The generated CRDs installed and Established (idempotent: server-side apply)."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    cluster.wait_established(
        "corepools.paddock.dev", "corebudgets.paddock.dev", "agentworkloads.paddock.dev"
    )


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The real operator process, shared by the session; tests may stop and start it."""
    log_path = tmp_path_factory.mktemp("operator") / "paddock.log"
    process = OperatorProcess(kubeconfig=cluster.kubeconfig, log_path=log_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def ground(cluster: Cluster, namespace: str, request: pytest.FixtureRequest) -> Iterator[Ground]:
    """This test's private nodes, pools and budgets, deleted afterwards."""
    made = Ground(cluster=cluster, namespace=namespace)
    yield made
    made.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach the operator's log tail: it usually says why."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "operator" in getattr(item, "fixturenames", ()):
        process = item.funcargs.get("operator")  # type: ignore[attr-defined]
        if isinstance(process, OperatorProcess):
            report.sections.append(("operator log (tail)", process.log_tail(60)))
