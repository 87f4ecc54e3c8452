"""Who may read /metrics, proven on the local control plane.

With the chart's default `metrics.auth: kubernetes`, the real operator (under the
chart's ServiceAccount, sa_operator.py) answers /metrics only to a bearer token
whose identity RBAC allows `get` on the non-resource URL /metrics: the `scraper`
ServiceAccount the chart binds to `<release>-metrics-reader` (values
`metrics.readers`) gets 200, any other ServiceAccount 403, no or a bad token 401.
The chart's RBAC lets the operator make the TokenReview and SubjectAccessReview.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge

from paddock.controller.metrics_server import CachedReview, Verdict, check, serve
from tests.helm.chart import Helm
from tests.helm.sa_operator import Ground, Operator, free_port, install_ground, run_operator
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def ground(cluster: Cluster, helm: Helm, tmp_path: Path) -> Iterator[Ground]:
    with install_ground(cluster, helm, tmp_path, "metrics-auth") as made:
        yield made


@pytest.fixture
def operator(ground: Ground, tmp_path: Path) -> Iterator[Operator]:
    with run_operator(ground, tmp_path) as running:
        wait_for(running.ready, timeout=90, what="paddock run /readyz")
        yield running


def test_only_a_bound_reader_reads_metrics(
    cluster: Cluster, ground: Ground, operator: Operator
) -> None:
    port = operator.metrics_port
    status, body = operator.get(port, "/metrics", ground.scraper_token)
    assert status == 200, body
    assert "paddock_leader" in body

    cluster.kubectl("create", "serviceaccount", "nobody", "-n", ground.release_namespace)
    other = cluster.kubectl(
        "create", "token", "nobody", "-n", ground.release_namespace, "--duration=10m"
    ).stdout.strip()
    status, body = operator.get(port, "/metrics", other)
    assert status == 403, body
    assert "may not get /metrics" in body and "paddock_leader" not in body

    status, body = operator.get(port, "/metrics")
    assert status == 401, body
    status, body = operator.get(port, "/metrics", "not-a-token")
    assert status == 401, body
    assert "paddock_leader" not in body

    # The operator's own token is no reader either: the chart does not bind it.
    kubeconfig = yaml.safe_load(ground.token_cluster.kubeconfig.read_text())
    operator_token = kubeconfig["users"][0]["user"]["token"]
    assert operator.get(port, "/metrics", operator_token)[0] == 403
    # And no secret in the log: refusals are logged without the token.
    assert other not in operator.stderr() and ground.scraper_token not in operator.stderr()


# ------------------------------------------------------------------ the verdict logic alone
def test_check_wants_a_bearer_token() -> None:
    def allow(token: str) -> Verdict:
        return Verdict(200, "ok")

    assert check(None, None).status == 200  # auth off: everyone
    assert check(None, allow).status == 401
    assert check("Basic dXNlcjpwdw==", allow).status == 401
    assert check("Bearer ", allow).status == 401
    assert check("Bearer abc", allow).status == 200
    assert check("bearer abc", allow).status == 200


def test_check_answers_503_when_the_review_fails() -> None:
    def broken(token: str) -> Verdict:
        raise ConnectionError("API server unreachable")

    assert check("Bearer abc", broken).status == 503


def test_cached_review_keeps_answers_briefly_and_refusals_shorter() -> None:
    now = [0.0]
    asked: list[str] = []

    def review(token: str) -> Verdict:
        asked.append(token)
        return Verdict(200 if token == "reader" else 403, token)

    cached = CachedReview(review, allowed_ttl=60, denied_ttl=10, clock=lambda: now[0])
    assert cached("reader").status == 200 and cached("other").status == 403
    assert cached("reader").status == 200 and cached("other").status == 403
    assert asked == ["reader", "other"]
    now[0] = 11  # the refusal expired, the permission did not
    cached("reader"), cached("other")
    assert asked == ["reader", "other", "other"]
    now[0] = 61
    cached("reader")
    assert asked == ["reader", "other", "other", "reader"]


def test_cached_review_never_keeps_more_than_its_bound() -> None:
    cached = CachedReview(lambda token: Verdict(403, token), max_entries=3, clock=lambda: 0.0)
    for n in range(10):
        cached(f"token-{n}")
    assert len(cached._entries) <= 3


def test_the_server_serves_only_metrics_and_asks_the_review() -> None:
    """The HTTP layer on loopback: auth off serves everyone; with a review, its verdict
    decides; any other path is 404 either way."""
    registry = CollectorRegistry()
    Gauge("paddock_probe", "A sample.", registry=registry).set(1)
    seen: list[str] = []

    def review(token: str) -> Verdict:
        seen.append(token)
        return Verdict(200 if token == "reader" else 403, "decided")

    for chosen in (None, review):
        server = serve(free_port(), registry, chosen, address="127.0.0.1")
        try:
            port = server.server_address[1]

            def get(path: str, token: str | None = None, port: int = port) -> int:
                request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
                if token:
                    request.add_header("Authorization", f"Bearer {token}")
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        assert b"paddock_probe 1.0" in response.read()
                        return int(response.status)
                except urllib.error.HTTPError as error:
                    return error.code

            assert get("/other", "reader") == 404
            if chosen is None:
                assert get("/metrics") == 200
            else:
                assert (get("/metrics"), get("/metrics", "reader"), get("/metrics", "x")) == (
                    401, 200, 403,
                )  # fmt: skip
        finally:
            server.shutdown()
            server.server_close()
    assert seen == ["reader", "x"]
