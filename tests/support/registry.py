"""Push test images to the local CNCF Distribution registry with plain HTTP calls.

Why not only crane: the image-check tests need exact shapes (an OCI index with BuildKit's
`unknown/unknown` attestation entries, a Docker v2 manifest list, single-platform OCI and
Docker manifests), and the Distribution API makes each one two or three requests. crane (on
the PATH after `eval "$(hack/cluster.sh env)"`) moves tags between them, as a user would.

Every image gets a small random layer, so two pushes never share a digest by accident.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


@dataclass(frozen=True)
class Pushed:
    """A pushed manifest: where it is and what a descriptor of it says."""

    reference: str
    """host:port/repository:tag"""
    digest: str
    size: int
    media_type: str
    platform: tuple[str, str, str] | None = None


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Registry:
    host: str
    """host:port of a registry on loopback (plain HTTP)."""
    auth: tuple[str, str] | None = None

    @classmethod
    def from_env(cls) -> Registry:
        host = os.environ.get("PADDOCK_REGISTRY")
        if not host:
            raise RuntimeError('PADDOCK_REGISTRY is not set: run eval "$(hack/cluster.sh env)"')
        return cls(host)

    @classmethod
    def with_password_from_env(cls) -> Registry:
        host = os.environ.get("PADDOCK_REGISTRY_AUTH")
        password_file = os.environ.get("PADDOCK_REGISTRY_AUTH_PASSWORD_FILE")
        if not host or not password_file:
            raise RuntimeError("PADDOCK_REGISTRY_AUTH* are not set: run hack/cluster.sh env")
        user = os.environ.get("PADDOCK_REGISTRY_AUTH_USER", "paddock")
        return cls(host, (user, Path(password_file).read_text().strip()))

    def _url(self, path: str) -> str:
        return f"http://{self.host}/v2/{path}"

    def blob(self, repository: str, data: bytes) -> str:
        digest = _digest(data)
        started = requests.post(
            self._url(f"{repository}/blobs/uploads/"), auth=self.auth, timeout=10
        )
        started.raise_for_status()
        location = started.headers["Location"]
        if location.startswith("/"):
            location = f"http://{self.host}{location}"
        joiner = "&" if "?" in location else "?"
        done = requests.put(
            f"{location}{joiner}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            auth=self.auth,
            timeout=10,
        )
        done.raise_for_status()
        return digest

    def manifest(self, repository: str, tag: str, body: dict[str, Any], media_type: str) -> Pushed:
        data = json.dumps(body).encode()
        response = requests.put(
            self._url(f"{repository}/manifests/{tag}"),
            data=data,
            headers={"Content-Type": media_type},
            auth=self.auth,
            timeout=10,
        )
        response.raise_for_status()
        return Pushed(f"{self.host}/{repository}:{tag}", _digest(data), len(data), media_type)

    def image(
        self,
        repository: str,
        tag: str,
        platform: str = "linux/arm64",
        docker: bool = False,
    ) -> Pushed:
        """A single-platform image (OCI, or Docker v2 with `docker`)."""
        os_, arch, *rest = platform.split("/")
        variant = rest[0] if rest else ""
        layer = os.urandom(64)
        layer_digest = self.blob(repository, layer)
        config: dict[str, Any] = {
            "architecture": arch,
            "os": os_,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {},
        }
        if variant:
            config["variant"] = variant
        config_data = json.dumps(config).encode()
        config_digest = self.blob(repository, config_data)
        body = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": config_digest,
                "size": len(config_data),
            },
            "layers": [
                {
                    "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
        pushed = self.manifest(repository, tag, body, body["mediaType"])
        return Pushed(
            pushed.reference, pushed.digest, pushed.size, pushed.media_type, (os_, arch, variant)
        )

    def attestation(self, repository: str, subject: Pushed) -> tuple[Pushed, dict[str, Any]]:
        """A BuildKit-style provenance manifest for `subject`, and its index entry."""
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode()
        layer_digest = self.blob(repository, statement)
        config = b"{}"
        config_digest = self.blob(repository, config)
        body = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": layer_digest,
                    "size": len(statement),
                }
            ],
        }
        pushed = self.manifest(repository, f"att-{uuid.uuid4().hex[:8]}", body, OCI_MANIFEST)
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": pushed.digest,
            "size": pushed.size,
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.digest": subject.digest,
                "vnd.docker.reference.type": "attestation-manifest",
            },
        }
        return pushed, entry

    def index(
        self,
        repository: str,
        tag: str,
        platforms: list[str],
        docker: bool = False,
        attestations: bool = False,
    ) -> Pushed:
        """A multi-platform image: an OCI index (or a Docker manifest list with `docker`) of one
        image per platform, with BuildKit's unknown/unknown attestation entries if asked."""
        entries: list[dict[str, Any]] = []
        for i, platform in enumerate(platforms):
            child = self.image(repository, f"{tag}-part{i}", platform, docker=docker)
            assert child.platform is not None
            os_, arch, variant = child.platform
            described: dict[str, Any] = {"os": os_, "architecture": arch}
            if variant:
                described["variant"] = variant
            entries.append(
                {
                    "mediaType": child.media_type,
                    "digest": child.digest,
                    "size": child.size,
                    "platform": described,
                }
            )
            if attestations:
                entries.append(self.attestation(repository, child)[1])
        media_type = DOCKER_LIST if docker else OCI_INDEX
        body = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
        return self.manifest(repository, tag, body, media_type)


def crane(*args: str) -> str:
    """Run crane (plain HTTP to the loopback registry) and return its stdout."""
    path = shutil.which("crane")
    if path is None:
        raise RuntimeError('crane is not on PATH: run eval "$(hack/cluster.sh env)"')
    done = subprocess.run(
        [path, *args, "--insecure"], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"crane {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()
