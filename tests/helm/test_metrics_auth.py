"""Who may read /metrics, proven on the local control plane.

With the chart's default `metrics.auth: kubernetes`, the real operator (under the
chart's ServiceAccount, sa_operator.py) answers /metrics only to a bearer token
whose identity RBAC allows `get` on the non-resource URL /metrics: the `scraper`
ServiceAccount the chart binds to `<release>-metrics-reader` (values
`metrics.readers`) gets 200, any other ServiceAccount 403, no or a bad token 401.
The chart's RBAC lets the operator make the TokenReview and SubjectAccessReview.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, Gauge

from paddock.controller.metrics_server import (
    CachedReview,
    CertificateFiles,
    Verdict,
    check,
    serve,
)
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


# ------------------------------------------------------------------ TLS
def _self_signed(folder: Path, name: str) -> Path:
    """tls.crt and tls.key for `localhost` in `folder` (as a kubernetes.io/tls Secret)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(folder / "tls.key"), "-out", str(folder / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder / "tls.crt"


def _served_certificate(port: int, ca: Path, token: str | None = None) -> tuple[bytes, int]:
    """The certificate the server presents (DER) and the /metrics status, verified by `ca`."""
    authorization = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    context = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        tls.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            + authorization
            + b"\r\n"
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    assert der is not None
    return der, int(answer.split(b" ", 2)[1])


def test_tls_serves_the_certificate_and_follows_its_renewal(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    Gauge("paddock_probe", "A sample.", registry=registry).set(1)
    first = _self_signed(tmp_path / "first", "first")
    folder = tmp_path / "mounted"
    folder.mkdir()
    for name in ("tls.crt", "tls.key"):
        (folder / name).write_bytes((tmp_path / "first" / name).read_bytes())
    now = [0.0]
    certificates = CertificateFiles(folder, check_every=10, clock=lambda: now[0])
    server = serve(free_port(), registry, None, address="127.0.0.1", certificates=certificates)
    try:
        port = server.server_address[1]
        der, status = _served_certificate(port, first)
        assert status == 200
        # Plain HTTP on the TLS port gets no metrics.
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()

        second = _self_signed(tmp_path / "second", "second")
        for name in ("tls.crt", "tls.key"):  # as the kubelet updates a mounted Secret
            (folder / name).write_bytes((tmp_path / "second" / name).read_bytes())
        os.utime(folder / "tls.crt", (time.time() + 5, time.time() + 5))
        assert _served_certificate(port, first)[0] == der  # not re-read before check_every
        now[0] = 11
        renewed, status = _served_certificate(port, second)
        assert renewed != der and status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_unusable_certificate_files_stop_the_start(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("not a certificate")
    (tmp_path / "tls.key").write_text("not a key")
    with pytest.raises(ssl.SSLError):
        serve(free_port(), CollectorRegistry(), None, certificates=CertificateFiles(tmp_path))


def test_the_operator_serves_authenticated_metrics_over_tls(
    cluster: Cluster, ground: Ground, tmp_path: Path
) -> None:
    """The real `paddock run` with the chart's settings and a certificate folder: the
    reader's token travels encrypted and is still reviewed (200; another token 403)."""
    ca = _self_signed(tmp_path / "tls", "paddock-metrics")
    env = {"PADDOCK_METRICS_CERT_DIR": str(tmp_path / "tls")}
    with run_operator(ground, tmp_path, env) as operator:
        wait_for(operator.ready, timeout=90, what="paddock run /readyz")
        port = operator.metrics_port
        assert _served_certificate(port, ca, ground.scraper_token)[1] == 200
        assert _served_certificate(port, ca, "not-a-token")[1] == 401
        assert "metrics TLS certificate loaded" in operator.stderr()
