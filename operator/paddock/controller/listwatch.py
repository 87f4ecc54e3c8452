"""List, then watch, one big kind (nodes, pods, Deployments) compactly, off the event loop.

Why not a kopf index: kopf gives every listed object its own worker and, until
every index is filled, parks each worker on one shared condition, so its start
is quadratic in the objects and holds every body meanwhile (50,000 pods: never
ready, over 2 GiB; docs/benchmarks.md, finding 2). Paddock needs a few numbers
per pod, so for nodes, pods and its own Deployments (several events each per
admission) it runs the plain Kubernetes protocol itself:

- LIST in pages of `page_size` (`limit` + `continue`), each page decoded and
  turned into compact records at once, so no more than one page of JSON lives;
- WATCH from the list's resourceVersion with bookmarks, resuming from the last
  version seen when the server ends a watch;
- LIST again on 410 Gone (the version expired) and after any other failure,
  with a capped backoff: a fresh list replaces what was kept, so nothing
  deleted while the watch was away survives.

The blocking client runs in a daemon thread, which also applies every change
to the records itself, holding `lock`; the snapshot build (in the scheduling
loop's worker thread) holds the same lock, so it reads a consistent state while
the event loop, which serves the probes, never waits on either. Only the
`listed` flag is handed to the event loop (`call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kubernetes.client.exceptions import ApiException

from paddock.controller import metrics

log = logging.getLogger("paddock.listwatch")

V = TypeVar("V")


MAX_BACKOFF = 8.0
"""Longest wait between two failed lists. Short, because the API server coming back after an
outage is the usual end of a failure, and how soon Paddock notices is how soon it schedules
again; six small LISTs per 8 s cost an API server nothing."""


class Gone(Exception):
    """The resourceVersion expired (HTTP 410): only a new LIST can go on."""


class WatchError(Exception):
    """The server ended a watch with an error event other than 410."""


def response_lines(response: Any, chunk: int = 65536) -> Iterator[bytes]:
    """The newline-delimited JSON of a watch response, line by line."""
    pending = b""
    for data in response.stream(chunk, decode_content=False):
        pending += data
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


@dataclass
class ListWatch(Generic[V]):
    kind: str
    """For logs and metrics: "nodes", "pods"."""
    call: Callable[..., Any]
    """The client's list function, e.g. `CoreV1Api.list_pod_for_all_namespaces`."""
    key: Callable[[Mapping[str, Any]], str]
    """Object -> the key it is kept under (name, "namespace/name" or uid)."""
    record: Callable[[Mapping[str, Any]], V | None]
    """Object -> its compact record, or None when Paddock keeps nothing of it."""
    replace: Callable[[dict[str, V]], None]
    """Called in the watch thread, holding `lock`, with everything a LIST returned."""
    put: Callable[[str, V | None], None]
    """Called in the watch thread, holding `lock`, per watch event; None: forget the key."""
    field_selector: str | None = None
    label_selector: str | None = None
    page_size: int = 500
    watch_timeout: int = 300
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Shared with the snapshot build: held while the records change."""
    listed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the first LIST has been handed over."""
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self, loop: asyncio.AbstractEventLoop) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(loop,), name=f"paddock-watch-{self.kind}", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop after the current request (a watch ends within `watch_timeout`)."""
        self._stop.set()

    def run(self, loop: asyncio.AbstractEventLoop) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                version = self.list_all(loop)
                backoff = 1.0
                while not self._stop.is_set():
                    version = self.watch(loop, version)
            except Gone:
                log.info("%s: resourceVersion expired, listing again", self.kind)
            except Exception as error:
                if loop.is_closed():
                    return  # the operator is shutting down
                metrics.API_ERRORS.labels(kind=f"watch-{self.kind}").inc()
                log.warning(
                    "%s: list/watch failed, listing again in %.0f s: %s", self.kind, backoff, error
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _request(self, **kwargs: Any) -> Any:
        if self.field_selector:
            kwargs["field_selector"] = self.field_selector
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        try:
            return self.call(_preload_content=False, **kwargs)
        except ApiException as error:
            if error.status == 410:
                raise Gone() from error
            raise

    def list_all(self, loop: asyncio.AbstractEventLoop) -> str:
        """Every object, page by page; hands the records over and returns the list's version."""
        records: dict[str, V] = {}
        token = ""
        while True:
            page_args: dict[str, Any] = {"limit": self.page_size, "_request_timeout": 120}
            if token:
                page_args["_continue"] = token
            page = json.loads(self._request(**page_args).data)
            for item in page.get("items") or ():
                key, record = self._compact(item)
                if record is not None:
                    records[key] = record
            metadata = page.get("metadata") or {}
            token = metadata.get("continue") or ""
            if not token:
                break
        with self.lock:
            self.replace(records)
        loop.call_soon_threadsafe(self.listed.set)
        log.info("%s: listed %d", self.kind, len(records))
        return str(metadata.get("resourceVersion", ""))

    def _compact(self, body: Mapping[str, Any]) -> tuple[str, V | None]:
        """One object's key and record. An object whose record cannot be made is skipped and
        said, never fatal (a failing list would be retried forever, the operator never ready)."""
        key = self.key(body)
        try:
            return key, self.record(body)
        except Exception as error:
            metrics.API_ERRORS.labels(kind=f"unreadable-{self.kind}").inc()
            log.warning("%s: skipping %s, which cannot be read: %r", self.kind, key, error)
            return key, None

    def watch(self, loop: asyncio.AbstractEventLoop, version: str) -> str:
        """Follow changes from `version` until the server ends the watch; the last version."""
        response = self._request(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_timeout,
            _request_timeout=(10, self.watch_timeout + 30),
        )
        try:
            for line in response_lines(response):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                kind, body = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if body.get("code") == 410:
                        raise Gone()
                    raise WatchError(f"{body.get('code')}: {body.get('message')}")
                version = str((body.get("metadata") or {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                key, record = (self.key(body), None) if kind == "DELETED" else self._compact(body)
                with self.lock:
                    self.put(key, record)
        finally:
            response.release_conn()
        return version
