"""Serve /metrics, optionally only to callers Kubernetes RBAC lets read it.

Metrics tell anyone who reads them every team's budget, usage and queue: who
may read them is a choice the operator's installer makes (`--metrics-auth`,
env `PADDOCK_METRICS_AUTH`):

- `none`: anyone who reaches the port reads /metrics (the default of
  `paddock run` outside a cluster; limit reach with a NetworkPolicy).
- `kubernetes` (the chart's default): as controller-runtime's secure metrics
  do, the caller sends `Authorization: Bearer <token>`; the API server says
  who the token is (TokenReview) and whether that identity may `get` the
  non-resource URL `/metrics` (SubjectAccessReview). No token: 401; a token
  the API server rejects: 401; a valid identity without the right: 403. Bind
  the chart's `paddock-metrics-reader` ClusterRole to Prometheus'
  ServiceAccount to let it scrape.

Answers are cached by a hash of the token (never the token itself) for a short
while, so a scrape every 15 s costs two API calls a minute, not four per scrape,
and a revoked right stops working within `allowed_ttl`.

TLS (`--metrics-cert-dir`, env `PADDOCK_METRICS_CERT_DIR`): a folder holding
`tls.crt` and `tls.key`, the layout of a mounted `kubernetes.io/tls` Secret (e.g.
from cert-manager), so a bearer token never crosses the pod network in clear. The
files are read again when they change (checked at most every 10 s), so a renewed
certificate is served without a restart. Without a folder, plain HTTP.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger("paddock.metrics")

METRICS_PATH = "/metrics"


class MetricsAuth(enum.StrEnum):
    """Who may read /metrics: everyone who reaches the port, or whom RBAC allows."""

    NONE = "none"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class Verdict:
    """An HTTP status for the caller (200, 401 or 403) and why, for the log."""

    status: int
    reason: str


Review = Callable[[str], Verdict]
"""Token in, verdict out: the API calls, swappable so the cache can be unit-tested."""


def kubernetes_review(api: client.ApiClient) -> Review:
    """TokenReview, then SubjectAccessReview of `get /metrics` for the token's identity.

    Needs `create` on tokenreviews and subjectaccessreviews (the chart grants both
    only when metrics.auth is `kubernetes`).
    """
    authentication = client.AuthenticationV1Api(api)
    authorization = client.AuthorizationV1Api(api)

    def review(token: str) -> Verdict:
        token_review = authentication.create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token))
        )
        status = token_review.status
        if status is None or not status.authenticated or status.user is None:
            return Verdict(401, "token not authenticated")
        user = status.user
        access = authorization.create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user=user.username,
                    groups=user.groups,
                    uid=user.uid,
                    extra=user.extra,
                    non_resource_attributes=client.V1NonResourceAttributes(
                        path=METRICS_PATH, verb="get"
                    ),
                )
            )
        )
        if access.status is not None and access.status.allowed:
            return Verdict(200, f"{user.username} may get {METRICS_PATH}")
        return Verdict(403, f"{user.username} may not get {METRICS_PATH}")

    return review


@dataclass
class CachedReview:
    """A `Review` whose answers are kept for a while, keyed by the token's SHA-256.

    Allowed answers live `allowed_ttl` seconds, refusals `denied_ttl` (shorter, so a
    freshly bound reader is let in soon). The cache holds at most `max_entries`;
    when full, expired entries go first, then everything (scrapers are few).
    Errors of the API server are never cached: the caller gets 503 and retries.
    """

    review: Review
    allowed_ttl: float = 60.0
    denied_ttl: float = 10.0
    max_entries: int = 256
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, tuple[float, Verdict]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, token: str) -> Verdict:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        verdict = self.review(token)
        ttl = self.allowed_ttl if verdict.status == 200 else self.denied_ttl
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now + ttl, verdict)
        return verdict


def check(authorization_header: str | None, review: Review | None) -> Verdict:
    """The verdict for one request's Authorization header (None review: no auth)."""
    if review is None:
        return Verdict(200, "metrics auth is off")
    if not authorization_header:
        return Verdict(401, "no bearer token")
    scheme, _, token = authorization_header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return Verdict(401, "not a bearer token")
    try:
        return review(token)
    except Exception as error:  # the API server is unreachable or answered an error
        log.warning("metrics auth: review failed: %s", type(error).__name__)
        return Verdict(503, "cannot review the token now")


@dataclass
class CertificateFiles:
    """`tls.crt` and `tls.key` in a folder, as an SSLContext that follows file changes."""

    folder: Path
    check_every: float = 10.0
    clock: Callable[[], float] = time.monotonic
    _context: ssl.SSLContext | None = None
    _stamp: tuple[float, float] | None = None
    _checked: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _files(self) -> tuple[Path, Path]:
        return self.folder / "tls.crt", self.folder / "tls.key"

    def context(self) -> ssl.SSLContext:
        """The current context; the first call fails loudly if the files are unusable."""
        with self._lock:
            now = self.clock()
            if self._context is not None and now - self._checked < self.check_every:
                return self._context
            self._checked = now
            cert, key = self._files()
            try:
                stamp = (cert.stat().st_mtime, key.stat().st_mtime)
                if stamp != self._stamp:
                    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    context.minimum_version = ssl.TLSVersion.TLSv1_2
                    context.load_cert_chain(cert, key)
                    self._context, self._stamp = context, stamp
                    log.info("metrics TLS certificate loaded from %s", self.folder)
            except (OSError, ssl.SSLError) as error:
                if self._context is None:
                    raise
                # A renewal half-written: keep serving the last good certificate.
                log.warning("metrics TLS certificate not reloaded: %s", error)
            assert self._context is not None
            return self._context


class _Server(ThreadingHTTPServer):
    """A threading HTTP server, over TLS when it has certificates."""

    daemon_threads = True
    certificates: CertificateFiles | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.certificates is None:
            return connection, address
        # The handshake runs in the request's own thread (MetricsHandler.setup), so a
        # slow or silent client never blocks the accept loop.
        wrapped = self.certificates.context().wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        )
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("metrics: connection from %s failed", client_address, exc_info=True)


def _handler(registry: CollectorRegistry, review: Review | None) -> type[BaseHTTPRequestHandler]:
    class MetricsHandler(BaseHTTPRequestHandler):
        timeout = 10  # seconds for the handshake and each read: no idle connection lingers

        def setup(self) -> None:
            super().setup()
            if isinstance(self.request, ssl.SSLSocket):
                self.request.do_handshake()

        def do_GET(self) -> None:  # the name http.server calls
            if self.path.split("?", 1)[0] != METRICS_PATH:
                self._answer(404, b"only /metrics is served here\n")
                return
            verdict = check(self.headers.get("Authorization"), review)
            if verdict.status != 200:
                log.debug("metrics: %d (%s)", verdict.status, verdict.reason)
                extra = {"WWW-Authenticate": 'Bearer realm="paddock"'}
                self._answer(verdict.status, f"{verdict.reason}\n".encode(), extra)
                return
            self._answer(200, generate_latest(registry), {"Content-Type": CONTENT_TYPE_LATEST})

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per scrape is noise; refusals are logged at DEBUG above

    return MetricsHandler


def serve(
    port: int,
    registry: CollectorRegistry,
    review: Review | None,
    address: str = "0.0.0.0",  # a pod serves on its own IP
    certificates: CertificateFiles | None = None,
) -> ThreadingHTTPServer:
    """Serve /metrics in a daemon thread; `review` None serves everyone, `certificates`
    None serves plain HTTP."""
    if certificates is not None:
        certificates.context()  # unusable files stop the start, not the first scrape
    server = _Server((address, port), _handler(registry, review))
    server.certificates = certificates
    thread = threading.Thread(target=server.serve_forever, name="paddock-metrics", daemon=True)
    thread.start()
    return server


def start(
    port: int,
    registry: CollectorRegistry,
    auth: MetricsAuth,
    api: client.ApiClient,
    cert_dir: str = "",
) -> ThreadingHTTPServer:
    """Start the metrics server with the chosen auth and TLS (the operator's entry point)."""
    review: Review | None = None
    if auth is MetricsAuth.KUBERNETES:
        # Its own client: a slow review must not take a connection from the writers' pool.
        review = CachedReview(kubernetes_review(client.ApiClient(api.configuration)))
    certificates = CertificateFiles(Path(cert_dir)) if cert_dir else None
    return serve(port, registry, review, certificates=certificates)
