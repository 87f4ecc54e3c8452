"""A thin JSON client over the official client's TLS connection pool.

The benchmark must load the API server, not its own CPU: the typed client
spends milliseconds per call building and parsing model objects, which on a
2-core machine competes with the operator being measured. Here a request is
one `json.dumps` and one urllib3 call; responses are parsed only when needed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client, config

GROUP_PATH = "/apis/paddock.dev/v1alpha1"


class ApiError(RuntimeError):
    """A non-2xx answer, with its status and body."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        super().__init__(f"{method} {path}: {status} {body[:300]!r}")
        self.status = status


@dataclass
class Kube:
    """Raw JSON requests to one API server."""

    host: str
    pool: urllib3.PoolManager

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, connections: int = 32) -> Kube:
        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
        configuration.connection_pool_maxsize = connections
        api = client.ApiClient(configuration)
        return cls(host=configuration.host, pool=api.rest_client.pool_manager)

    def url(self, path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.host}{path}" + (f"?{query}" if query else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (),
        timeout: float = 60,
        **params: Any,
    ) -> Any:
        """One request; returns the parsed JSON answer. Statuses in `ok` are not errors."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        response = self.pool.request(
            method, self.url(path, **params), body=data, headers=headers, timeout=timeout
        )
        if response.status >= 300 and response.status not in ok:
            raise ApiError(method, path, response.status, response.data)
        return json.loads(response.data) if response.data else None

    def exists(self, path: str) -> bool:
        """GET answers 200 (the object exists)."""
        return int(self.pool.request("GET", self.url(path), timeout=30).status) == 200

    def create(self, path: str, body: dict[str, Any], *, exist_ok: bool = False) -> int:
        """POST without parsing the answer (the cheap path for bulk creation); returns status."""
        response = self.pool.request(
            "POST",
            self.url(path),
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            timeout=60,
        )
        if response.status >= 300 and not (exist_ok and response.status == 409):
            raise ApiError("POST", path, response.status, response.data)
        return int(response.status)

    def delete(self, path: str, **params: Any) -> int:
        response = self.pool.request("DELETE", self.url(path, **params), timeout=60)
        if response.status >= 300 and response.status != 404:
            raise ApiError("DELETE", path, response.status, response.data)
        return int(response.status)

    def apply(self, path: str, body: dict[str, Any], manager: str = "paddock-bench") -> Any:
        """Server-side apply."""
        return self.request(
            "PATCH",
            path,
            body,
            content_type="application/apply-patch+yaml",
            fieldManager=manager,
            force="true",
        )

    def resource_version(self, path: str) -> str:
        """The current resourceVersion of a collection (a one-item list)."""
        listed = self.request("GET", path, limit=1)
        return str(listed["metadata"]["resourceVersion"])

    def count(self, path: str, **params: Any) -> int:
        """How many objects a collection holds (paged, so a big one never loads at once)."""
        total, token = 0, ""
        while True:
            extra: dict[str, Any] = {"continue": token} if token else {}
            page = self.request("GET", path, limit=2000, **params, **extra)
            total += len(page["items"])
            token = page["metadata"].get("continue") or ""
            if not token:
                return total

    def watch(
        self, path: str, resource_version: str, stop_at: float, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Watch events from `resource_version` until `stop_at` (a time.time()).

        Re-opens the stream when the server closes it, from the last version
        seen (bookmarks keep it fresh); after a 410 Gone it starts again from
        the collection's current version.
        """
        version = resource_version
        while time.time() < stop_at:
            left = stop_at - time.time()
            url = self.url(
                path,
                watch=1,
                resourceVersion=version,
                allowWatchBookmarks="true",
                timeoutSeconds=300 if left > 300 else max(1, int(left) + 1),
                **params,
            )
            try:
                response = self.pool.request(
                    "GET",
                    url,
                    preload_content=False,
                    timeout=urllib3.Timeout(connect=10, read=330),
                )
            except (urllib3.exceptions.HTTPError, OSError):
                time.sleep(1)  # the server is restarting or overloaded: try again
                continue
            try:
                if response.status == 410:
                    version = self.resource_version(path)
                    continue
                if response.status != 200:
                    raise ApiError("WATCH", path, response.status, response.read())
                buffer = b""
                for chunk in response.stream(65536):
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if not line:
                            continue
                        event = json.loads(line)
                        if event["type"] == "ERROR":
                            version = self.resource_version(path)
                            break
                        meta = event["object"].get("metadata") or {}
                        version = meta.get("resourceVersion", version)
                        yield event
            except (urllib3.exceptions.HTTPError, OSError):
                time.sleep(1)  # the stream broke: resume from the last version seen
            finally:
                response.release_conn()
