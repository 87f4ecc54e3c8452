"""The API clients the applier writes with, and the one rule for creating what Paddock owns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock.controller.labels import FIELD_MANAGER
from paddock.controller.writer import Rejected

API_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for every write: a hung connection never holds a writer forever."""


class ManifestAppsV1Api(client.AppsV1Api):
    """The official AppsV1Api, except that a Deployment is created from its manifest as it is.

    The generated `create_namespaced_deployment` validates the body into the client's OpenAPI
    models (pydantic) and dumps it back to a dict before sending it: at 10,000 workloads that
    round trip was about a seventh of the operator's CPU (py-spy, throughput run), for a
    manifest Paddock renders itself and the API server validates anyway. Same request (path,
    fieldManager, headers, authentication, timeout), same errors (ApiException), same answer
    (the undecoded response, as with `_preload_content=False`)."""

    def create_namespaced_deployment(  # type: ignore[override]
        self,
        namespace: str,
        body: dict[str, Any],
        *,
        field_manager: str | None = None,
        _request_timeout: Any = None,
        **_ignored: Any,
    ) -> Any:
        api = self.api_client
        method, url, headers, _, _ = api.param_serialize(
            method="POST",
            resource_path="/apis/apps/v1/namespaces/{namespace}/deployments",
            path_params={"namespace": namespace},
            query_params=[("fieldManager", field_manager)] if field_manager else [],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=_request_timeout
        )
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response


@dataclass
class Clients:
    apps: client.AppsV1Api
    core: client.CoreV1Api
    custom: client.CustomObjectsApi
    policy: client.PolicyV1Api | None = None

    @classmethod
    def from_api_client(cls, api: client.ApiClient) -> Clients:
        return cls(
            ManifestAppsV1Api(api),
            client.CoreV1Api(api),
            client.CustomObjectsApi(api),
            client.PolicyV1Api(api),
        )


def owned_write(
    *,
    patch: Callable[..., Any],
    create: Callable[..., Any],
    read: Callable[..., Any],
    name: str,
    namespace: str,
    manifest: dict[str, Any] | Callable[[], dict[str, Any]],
    known: bool,
    owner_uid: str,
    what: str,
) -> Callable[[], Any]:
    """The blocking call that writes an object the workload owns.

    Server-side apply when the object is known to be the workload's (listed as owned, or
    written before by this replica); otherwise create it, and if the name is taken, apply over
    it only when the workload owns it. Paddock never takes over an object it does not own: a
    taken name raises `Rejected`, which makes the workload Invalid with the reason instead.
    """

    def body() -> dict[str, Any]:
        return manifest() if callable(manifest) else manifest

    def apply() -> Any:
        return patch(
            name,
            namespace,
            body(),
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
            _preload_content=False,
            _request_timeout=API_TIMEOUT,
        )

    def call() -> Any:
        if known:
            return apply()
        try:
            return create(
                namespace,
                cast(Any, body()),
                field_manager=FIELD_MANAGER,
                _preload_content=False,
                _request_timeout=API_TIMEOUT,
            )
        except ApiException as error:
            if error.status != 409:
                raise
        taken = read(name, namespace, _request_timeout=API_TIMEOUT)
        owners = (taken.metadata.owner_references if taken.metadata else None) or []
        if not any(o.controller and o.uid == owner_uid for o in owners):
            raise Rejected(
                f"{what} {namespace}/{name} exists and is not owned by this AgentWorkload; "
                "Paddock never changes it: delete or rename it"
            )
        return apply()

    return call


def owned_delete(
    *,
    delete: Callable[..., Any],
    read: Callable[..., Any],
    name: str,
    namespace: str,
    uid: str | None,
    owner_uid: str,
    propagation: str | None = None,
) -> Callable[[], Any]:
    """The blocking call that deletes an object the workload owns, and nothing else.

    `uid` is the listed object's uid (it was listed as owned): a uid precondition makes the
    delete miss a newer object of the same name. None means not listed (created by this
    replica, not yet seen by the watch): the object is read first and deleted, with its uid as
    precondition, only when the workload is its controller. A missing object is the caller's
    `missing_ok` (a 404).
    """

    def options(of: str) -> client.V1DeleteOptions:
        return client.V1DeleteOptions(
            propagation_policy=propagation,
            preconditions=client.V1Preconditions(uid=of) if of else None,
        )

    def call() -> Any:
        target = uid
        if target is None:
            found = read(name, namespace, _request_timeout=API_TIMEOUT)
            owners = (found.metadata.owner_references if found.metadata else None) or []
            if not any(o.controller and o.uid == owner_uid for o in owners):
                return None  # not the workload's: never deleted
            target = found.metadata.uid
        return delete(
            name,
            namespace,
            body=options(target),
            _preload_content=False,
            _request_timeout=API_TIMEOUT,
        )

    return call
