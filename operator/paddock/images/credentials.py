"""Registry credentials from a workload's pull secrets, only when the chart enables it.

Off by default: reading Secrets is a privilege a cluster operator grants on purpose
(`imageCheck.pullSecrets.enabled` adds `get` on secrets and serviceaccounts to the
operator's ClusterRole, and nothing else). When on, the secrets named in the pod template's
`imagePullSecrets` and in its ServiceAccount's are read at check time, in the checker's
worker threads, and only the entry for the image's registry is used. Neither a secret's
content nor a credential ever reaches a log line, an event, a status or a metric label.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .reference import DOCKER_HUB
from .registry import Credentials, RegistryError

DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True, slots=True)
class AuthScope:
    """Where a workload's credentials come from: its namespace, ServiceAccount and secrets."""

    namespace: str
    service_account: str
    secrets: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.service_account}/{','.join(self.secrets)}"


def registry_host(key: str) -> str:
    """The host of a .dockerconfigjson `auths` key (`https://index.docker.io/v1/` and
    `ghcr.io` both occur)."""
    host = key.split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def credentials_for(config: Mapping[str, Any], registry: str) -> Credentials | None:
    """The entry of a docker config (`{"auths": {...}}` or the older bare mapping) for a host."""
    auths = config.get("auths", config)
    if not isinstance(auths, Mapping):
        return None
    wanted = DOCKER_HUB if registry in DOCKER_HUB_ALIASES else registry.lower()
    for key, entry in auths.items():
        if not isinstance(entry, Mapping) or registry_host(str(key)) != wanted:
            continue
        username, password = entry.get("username"), entry.get("password")
        if not (isinstance(username, str) and isinstance(password, str)):
            try:
                username, _, password = (
                    base64.b64decode(str(entry.get("auth", ""))).decode().partition(":")
                )
            except (ValueError, UnicodeDecodeError):
                continue
        if username and password:
            return Credentials(username, password)
    return None


class PullSecretCredentials:
    """Reads pull secrets with the operator's ServiceAccount (get secrets, serviceaccounts)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)

    def __call__(self, scope: AuthScope, registry: str) -> Credentials | None:
        names = list(scope.secrets)
        for name in self._service_account_secrets(scope):
            if name not in names:
                names.append(name)
        for name in names:
            config = self._docker_config(scope.namespace, name)
            found = credentials_for(config, registry) if config else None
            if found is not None:
                return found
        return None

    def _service_account_secrets(self, scope: AuthScope) -> list[str]:
        try:
            account = self.core.read_namespaced_service_account(
                scope.service_account, scope.namespace, _request_timeout=10
            )
        except ApiException as error:
            if error.status == 404:
                return []
            what = f"serviceaccount {scope.namespace}/{scope.service_account}"
            raise _unreadable(what, error) from None
        return [ref.name for ref in account.image_pull_secrets or () if ref.name]

    def _docker_config(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            secret = self.core.read_namespaced_secret(name, namespace, _request_timeout=10)
        except ApiException as error:
            if error.status == 404:
                return None
            raise _unreadable(f"secret {namespace}/{name}", error) from None
        data = secret.data or {}
        raw = data.get(".dockerconfigjson") or data.get(".dockercfg")
        if not raw:
            return None
        try:
            value = json.loads(base64.b64decode(raw))
        except ValueError:
            return None  # not a docker config: ignored, as the kubelet ignores it
        return value if isinstance(value, Mapping) else None


def _unreadable(what: str, error: ApiException) -> RegistryError:
    return RegistryError(
        "Unauthorized", f"cannot read {what} for registry credentials: HTTP {error.status}"
    )
