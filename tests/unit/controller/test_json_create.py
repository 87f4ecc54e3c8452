"""The Deployment create that skips the client's OpenAPI models sends the same request as the
generated one and fails the same way (applier/clients.py `ManifestAppsV1Api`). A local HTTP server
stands in for the API server: this checks one function's request, not the feature."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock.controller.applier.clients import ManifestAppsV1Api
from paddock.controller.writer import discard, status_body

MANIFEST: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "agent-g4-1a2b", "namespace": "team", "labels": {"a": "b"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"a": "b"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "agent", "image": "x", "futureField": 1}]},
        },
    },
}


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []
    answer: ClassVar[tuple[int, dict[str, Any]]] = (201, {})

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Recorder.seen.append(
            {
                "path": self.path,
                "headers": dict(self.headers),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        status, body = Recorder.answer
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def apps() -> Iterator[ManifestAppsV1Api]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = client.Configuration()
    config.host = f"http://127.0.0.1:{server.server_address[1]}"
    config.api_key = {"BearerToken": "Bearer secret-token"}
    Recorder.seen, Recorder.answer = [], (201, {})
    yield ManifestAppsV1Api(client.ApiClient(config))
    server.shutdown()


def test_the_manifest_is_sent_as_it_is_with_the_field_manager_and_the_token(
    apps: ManifestAppsV1Api,
) -> None:
    response = apps.create_namespaced_deployment(
        "team", MANIFEST, field_manager="paddock", _preload_content=False, _request_timeout=5
    )
    discard(response)
    (request,) = Recorder.seen
    assert request["path"] == "/apis/apps/v1/namespaces/team/deployments?fieldManager=paddock"
    assert request["body"] == MANIFEST  # no field dropped, renamed or added by a model
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["authorization"] == "Bearer secret-token"


def test_a_refusal_raises_the_api_servers_status_like_the_generated_client(
    apps: ManifestAppsV1Api,
) -> None:
    Recorder.answer = (409, {"kind": "Status", "reason": "AlreadyExists", "code": 409})
    with pytest.raises(ApiException) as raised:
        apps.create_namespaced_deployment("team", MANIFEST, field_manager="paddock")
    assert raised.value.status == 409
    assert status_body(raised.value)["reason"] == "AlreadyExists"
