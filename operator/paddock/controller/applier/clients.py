"""The API clients the applier writes with, and the one rule for creating what Paddock owns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock.controller.writer import Rejected

API_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for every write: a hung connection never holds a writer forever."""


@dataclass
class Clients:
    apps: client.AppsV1Api
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    policy: client.PolicyV1Api | None = None

    @classmethod
    def from_api_client(cls, api: client.ApiClient) -> Clients:
        return cls(
            client.AppsV1Api(api),
            client.CoreV1Api(api),
            client.CustomObjectsApi(api),
            client.PolicyV1Api(api),
        )


def create_owned(
    create: Callable[[], Any],
    read: Callable[[], Any],
    apply: Callable[[], Any],
    what: str,
    owner_uid: str,
) -> Any:
    """Create an object; if its name is taken, apply over it only when the workload owns it.

    Paddock never takes over an object it does not own: a taken name raises `Rejected`, which
    makes the workload Invalid with the reason instead."""
    try:
        return create()
    except ApiException as error:
        if error.status != 409:
            raise
    taken = read()
    owners = (taken.metadata.owner_references if taken.metadata else None) or []
    if not any(o.controller and o.uid == owner_uid for o in owners):
        raise Rejected(
            f"{what} exists and is not owned by this AgentWorkload; Paddock never changes it: "
            "delete or rename it"
        )
    return apply()
