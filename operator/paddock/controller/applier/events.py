"""Kubernetes Events on AgentWorkloads: the transitions a user must see happen."""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

from paddock import GROUP, VERSION
from paddock.controller.applier.clients import API_TIMEOUT, Clients
from paddock.controller.observed import ObjectFacts
from paddock.controller.status import now_iso
from paddock.controller.writer import Write

log = logging.getLogger("paddock.applier")


def event_write(
    clients: Clients, facts: ObjectFacts, type_: str, reason: str, message: str
) -> Write:
    """One Event on the workload, logged too. Events are for people, not for the cluster to
    converge: they go in a low-priority lane of their own."""
    timestamp = now_iso()
    body = {
        "metadata": {
            "name": f"{facts.name}.{uuid.uuid4().hex[:12]}",
            "namespace": facts.namespace,
        },
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AgentWorkload",
            "name": facts.name,
            "namespace": facts.namespace,
            "uid": facts.uid,
        },
        "reason": reason,
        "message": message[:1024],
        "type": type_,
        "source": {"component": "paddock"},
        "reportingComponent": "paddock.dev/operator",
        "reportingInstance": "paddock",
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
    log.info(
        "%s: %s",
        reason,
        message,
        extra={"workload": f"{facts.namespace}/{facts.name}", "reason": reason},
    )
    return Write(
        lane=("events", f"{facts.namespace}/{facts.name}"),
        target=None,
        kind="event",
        call=lambda: clients.core.create_namespaced_event(
            facts.namespace or "default",
            cast(Any, body),
            _preload_content=False,
            _request_timeout=API_TIMEOUT,
        ),
        low_priority=True,
    )
