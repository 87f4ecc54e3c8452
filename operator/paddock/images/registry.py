"""A small client for the Distribution API (OCI distribution-spec v1): just enough to learn
which platforms an image reference offers, and its digest.

Why not a library: on PyPI, `docker-registry-client` is unmaintained since 2017,
`docker-registry-client-async` brings aiohttp for a few GETs, and `oras` is built around
pushing and pulling artifacts (its manifest handling validates against the OCI artifact
schemas and does not read Docker manifest lists as such). This needs two GETs and the token
dance, on `requests`, which the Kubernetes client already installs.

Supported: OCI image index, Docker manifest list (v2.2), OCI image manifest and Docker image
manifest v2 (read through their config blob). Auth: anonymous, Basic, and Bearer tokens from
the `WWW-Authenticate` challenge (Docker Hub, GHCR, ECR, GCR, Harbor, Distribution's token
server), each with the optional username/password of a pull secret.

Credentials are never put into an exception message or a log line; errors name the registry,
the repository and the HTTP status only.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from .platforms import Platform, from_json
from .reference import ImageRef

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
MAX_BODY = 4 * 1024 * 1024
"""Manifests and configs are kilobytes; a larger answer is refused, not read."""

ErrorKind = Literal["Unreachable", "Unauthorized", "NotFound", "BadResponse"]


class RegistryError(Exception):
    """The registry could not be asked, refused, or answered something unusable.

    `kind` says which (the policy applies to all of them; the message says which it was).
    """

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password (or token) from a pull secret. `repr` hides the secret."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"

    @property
    def fingerprint(self) -> str:
        """Identifies the credentials in cache keys without holding them."""
        digest = hashlib.sha256(f"{self.username}\0{self.password}".encode()).hexdigest()
        return digest[:16]


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a reference resolves to: its digest, media type and the platforms it offers."""

    digest: str
    media_type: str
    platforms: tuple[Platform, ...]


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryClient:
    """Resolves references with per-registry timeouts; one HTTP session per thread.

    `insecure` lists hosts reached over plain HTTP (as containerd's and Docker's insecure
    registries); loopback hosts always are, as Docker treats 127.0.0.0/8.
    """

    def __init__(
        self,
        timeout: float = 10.0,
        timeouts: Mapping[str, float] | None = None,
        insecure: frozenset[str] = frozenset(),
    ) -> None:
        self.timeout = timeout
        self.timeouts = dict(timeouts or {})
        self.insecure = insecure
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy or .netrc surprises: what the pod sees differs
            self._local.session = session
        return session

    def timeout_for(self, host: str) -> float:
        return self.timeouts.get(host, self.timeout)

    def base_url(self, ref: ImageRef) -> str:
        host = ref.api_host
        scheme = "http" if host in self.insecure or is_loopback(host) else "https"
        return f"{scheme}://{host}/v2/{ref.repository}"

    def resolve(self, ref: ImageRef, credentials: Credentials | None = None) -> Resolution:
        """The reference's digest and platforms; raises RegistryError."""
        base = self.base_url(ref)
        auth = _Auth(self, ref, credentials)
        response = auth.get(f"{base}/manifests/{ref.reference}", {"Accept": ACCEPT})
        body = _json(response, ref)
        media_type = _media_type(response, body)
        digest = response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(response.content).hexdigest()
        )
        if media_type in INDEXES:
            entries = body.get("manifests") or []
            platforms = tuple(
                from_json(m.get("platform"))
                for m in entries
                if isinstance(m, Mapping) and not _is_attestation(m)
            )
            return Resolution(digest, media_type, platforms)
        if media_type in MANIFESTS:
            config = body.get("config") or {}
            config_digest = config.get("digest") if isinstance(config, Mapping) else None
            if not isinstance(config_digest, str):
                raise RegistryError("BadResponse", f"{ref}: manifest without a config digest")
            blob = auth.get(f"{base}/blobs/{config_digest}", {})
            return Resolution(digest, media_type, (from_json(_json(blob, ref)),))
        raise RegistryError("BadResponse", f"{ref}: unsupported manifest type {media_type!r}")


def _is_attestation(entry: Mapping[str, Any]) -> bool:
    annotations = entry.get("annotations") or {}
    if isinstance(annotations, Mapping) and "vnd.docker.reference.type" in annotations:
        return True
    return from_json(entry.get("platform")).is_attestation


def _media_type(response: requests.Response, body: Mapping[str, Any]) -> str:
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    header = response.headers.get("Content-Type", "").split(";")[0].strip()
    if header in INDEXES + MANIFESTS:
        return header
    # An OCI manifest or index may omit mediaType: tell them apart by their fields.
    return OCI_INDEX if "manifests" in body else OCI_MANIFEST


def _json(response: requests.Response, ref: ImageRef) -> dict[str, Any]:
    if len(response.content) > MAX_BODY:
        raise RegistryError("BadResponse", f"{ref}: answer larger than {MAX_BODY} bytes")
    try:
        value = json.loads(response.content)
    except ValueError:
        raise RegistryError("BadResponse", f"{ref}: the registry did not answer JSON") from None
    if not isinstance(value, dict):
        raise RegistryError("BadResponse", f"{ref}: the registry answered a non-object")
    return value


class _Auth:
    """GETs with the auth dance: try, and on 401 answer the challenge (Basic or Bearer)."""

    def __init__(
        self, client: RegistryClient, ref: ImageRef, credentials: Credentials | None
    ) -> None:
        self.client = client
        self.ref = ref
        self.credentials = credentials
        self.header: str | None = None
        self.timeout = client.timeout_for(ref.api_host)

    def get(self, url: str, headers: Mapping[str, str]) -> requests.Response:
        response = self._send(url, headers)
        if response.status_code == 401 and self.header is None:
            self.header = self._answer(response.headers.get("WWW-Authenticate", ""))
            if self.header is not None:
                response = self._send(url, headers)
        self._raise_for(response)
        return response

    def _send(self, url: str, headers: Mapping[str, str]) -> requests.Response:
        sent = dict(headers)
        if self.header is not None:
            sent["Authorization"] = self.header
        try:
            return self.client._session().get(url, headers=sent, timeout=self.timeout)
        except requests.Timeout:
            raise RegistryError(
                "Unreachable", f"{self.ref.api_host}: no answer within {self.timeout:g} s"
            ) from None
        except requests.RequestException as error:
            raise RegistryError(
                "Unreachable", f"{self.ref.api_host}: {type(error).__name__}: {_short(error)}"
            ) from None

    def _answer(self, challenge: str) -> str | None:
        scheme = challenge.split(" ", 1)[0].lower()
        creds = self.credentials
        if scheme == "basic":
            if creds is None:
                return None
            return _basic(creds)
        if scheme != "bearer":
            return None
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return None
        query = {"service": params.get("service", "")}
        query["scope"] = params.get("scope") or f"repository:{self.ref.repository}:pull"
        headers = {"Authorization": _basic(creds)} if creds is not None else {}
        try:
            answer = self.client._session().get(
                realm, params=query, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise RegistryError(
                "Unreachable", f"token service of {self.ref.api_host}: {type(error).__name__}"
            ) from None
        if answer.status_code in (401, 403):
            raise RegistryError(
                "Unauthorized",
                f"{self.ref.api_host} refused a pull token for {self.ref.repository} "
                f"(HTTP {answer.status_code})",
            )
        try:
            token = answer.json().get("token") or answer.json().get("access_token")
        except ValueError:
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError("BadResponse", f"token service of {self.ref.api_host}: no token")
        return f"Bearer {token}"

    def _raise_for(self, response: requests.Response) -> None:
        code = response.status_code
        where = f"{self.ref.api_host}/{self.ref.repository}"
        if code < 300:
            return
        if code in (401, 403):
            had = "with" if self.credentials is not None else "without"
            raise RegistryError(
                "Unauthorized", f"{where}: HTTP {code}, access refused ({had} credentials)"
            )
        if code == 404:
            raise RegistryError("NotFound", f"{self.ref}: not found (HTTP 404)")
        if code == 429 or code >= 500:
            raise RegistryError("Unreachable", f"{where}: HTTP {code}")
        raise RegistryError("BadResponse", f"{where}: HTTP {code}")


def _basic(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _short(error: Exception) -> str:
    """The end of a requests error: the cause without the pool's long preamble."""
    text = str(error)
    for marker in ("Failed to establish a new connection: ", "NameResolutionError"):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    return text[:160].rstrip("')\"")
