"""The long-lived writer: API writes run in the background, in order per lane.

Why threads and the official client, not async: every write Paddock makes waits
on the API server (about 0.4 s under load), not on the CPU, so what matters is
how many are in flight. The official client is synchronous; 160 threads blocked
on sockets cost little, reuse the client's authentication, TLS and connection
pool (sized to the same 160 in `main.py`), and keep the writes off kopf's event
loop entirely: a worker takes the next write itself when it finishes one, so a
busy event loop (kopf's per-event machinery) never leaves writers idle. An
async client would need a second HTTP stack and configuration beside kopf's.

Ordering: each write belongs to a *lane* (e.g. one workload's Deployments, or
one object's status). Writes of one lane run one at a time, in the order they
were submitted, so a resize submitted while the admission is still in flight
lands after it; different lanes run concurrently. A queued (not yet started)
write is replaced by a newer write for the same *target*, in place: only the
latest desired state of an object is worth sending. Low-priority lanes (Events)
are served only when no normal lane is waiting.

Failures: a failed write is logged and counted (`paddock_api_errors_total`)
and its `on_failure` callback runs on the event loop, where the applier clears
its memory of that write so a later cycle retries it. Nothing a write raises
stops a worker.

Leadership: before starting each write a worker asks `gate()` (does this replica
still hold the Lease, on its local clock? see leadership.py). When it says no,
every queued write is dropped (their `on_failure` callbacks run, so the memories
forget them); writes already in flight finish or time out.

Timeouts: every call goes through `ApiClientWithTimeout`, which gives any call
made without `_request_timeout` a default one (`WRITE_TIMEOUT`), so a write to
an API server that stopped answering fails in bounded time instead of holding
its lane (and a pooled connection) forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock.controller import metrics

log = logging.getLogger("paddock.writer")

WRITES_IN_FLIGHT = 160
"""Default number of writer threads (and of pooled connections, see main.py).

By Little's law, writes per second = writes in flight / write latency. An admission costs two
writes (its Deployment and its status), and a custom-resource write takes 0.6-0.7 s on an API
server under load: with 64 in flight admissions capped at about 50 per second while the
budgets had room, and the writes queued behind each other for seconds (Kueue-shaped run at
15,000 workloads). The API server's own limits (max-requests-inflight, priority and fairness)
still protect it from this one client."""


WRITE_TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds for a call made without a timeout of its own: the writes."""


class ApiClientWithTimeout(client.ApiClient):
    """The official client, with a default timeout for every call that sets none."""

    default_timeout: tuple[float, float] = WRITE_TIMEOUT

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        return super().call_api(
            method,
            url,
            header_params=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout or self.default_timeout,
        )


@dataclass(eq=False)
class Write:
    """One API call to make: `call` is blocking and its answer is thrown away."""

    lane: Hashable
    target: Hashable | None
    """A queued write with the same target is replaced by this one (None: never replaced)."""
    kind: str
    """Label of paddock_api_writes_total / paddock_api_errors_total."""
    call: Callable[[], Any]
    on_failure: Callable[[], None] | None = None
    """Run on the event loop when the write fails or is dropped."""
    low_priority: bool = False
    missing_ok: bool = False
    """A 404 means the object is gone: nothing to do, not an error."""
    on_rejected: Callable[[str], None] | None = None
    """Run on the event loop, with the reason, when the API server refuses the write as
    invalid (400, 422) or it raised `Rejected`: retrying the same write cannot help."""


class Rejected(Exception):
    """A write that must not be retried as it is, e.g. the object's name is taken by an object
    Paddock does not own. The message says what the user can do."""


def status_body(error: ApiException) -> dict[str, Any]:
    """The API server's Status object in `error`'s body ({} when there is none to read)."""
    try:
        body = json.loads(error.body or "{}")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def rejection(error: ApiException) -> str | None:
    """The API server's reason when `error` refuses the request's content, else None."""
    if error.status not in (400, 422):
        return None
    return str(status_body(error).get("message") or error.reason)


def namespace_terminating(error: ApiException) -> bool:
    """The API server refuses new objects in a namespace being deleted (403, cause
    NamespaceTerminating): the workload goes with its namespace, so the write is moot."""
    if error.status != 403:
        return False
    details = status_body(error).get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    return any(
        isinstance(c, dict) and c.get("reason") == "NamespaceTerminating" for c in causes or ()
    )


def discard(response: Any) -> None:
    """Release an undecoded answer (`_preload_content=False`) back to the connection pool."""
    drain = getattr(response, "drain_conn", None)
    if drain is not None:
        with contextlib.suppress(Exception):
            drain()
    release = getattr(response, "release_conn", None)
    if release is not None:
        release()


@dataclass
class Writer:
    workers: int = WRITES_IN_FLIGHT
    gate: Callable[[], bool] = lambda: True
    on_failure: Callable[[Write, int], None] | None = None
    """Called on the event loop after any failed write with the number of consecutive failures
    of its target (e.g. to poke the loop for a retry, backing off)."""
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _lanes: dict[Hashable, list[Write]] = field(default_factory=dict)
    """Queued writes per lane, in order. Lists, not deques: a lane holds one write or a few,
    and in a burst 20,000 lanes wait at once (an empty deque takes 600 bytes, a list 56)."""
    _busy: set[Hashable] = field(default_factory=set)
    _ready: deque[Hashable] = field(default_factory=deque)
    _ready_low: deque[Hashable] = field(default_factory=deque)
    _threads: list[threading.Thread] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _stopped: bool = False
    _queued: int = 0
    _in_flight: int = 0
    _failures: dict[Hashable, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ event-loop side
    def submit(self, writes: Iterable[Write]) -> None:
        """Queue writes; returns at once. Call from the event loop."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        with self._cv:
            for write in writes:
                queue = self._lanes.get(write.lane)
                if queue is None:
                    queue = self._lanes[write.lane] = []
                if write.target is not None:
                    index = next((i for i, w in enumerate(queue) if w.target == write.target), None)
                    if index is not None:
                        queue[index] = write  # the superseded write never runs
                        continue
                queue.append(write)
                self._queued += 1
                if len(queue) == 1 and write.lane not in self._busy:
                    (self._ready_low if write.low_priority else self._ready).append(write.lane)
                    self._cv.notify()
            self._start_threads()

    def drop_pending(self) -> int:
        """Drop every queued write (in-flight writes finish); returns how many were dropped."""
        with self._cv:
            dropped = [w for queue in self._lanes.values() for w in queue]
            self._lanes = {lane: [] for lane in self._busy}
            self._ready.clear()
            self._ready_low.clear()
            self._queued = 0
        for write in dropped:
            self._post(write.on_failure)
        if dropped:
            log.warning("dropped %d queued writes: this replica no longer leads", len(dropped))
        return len(dropped)

    def idle(self) -> bool:
        with self._cv:
            return self._queued == 0 and self._in_flight == 0

    @property
    def queued(self) -> int:
        return self._queued

    def close(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()

    # ------------------------------------------------------------------ worker side
    def _start_threads(self) -> None:
        while len(self._threads) < self.workers:
            thread = threading.Thread(
                target=self._work, name=f"paddock-write-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _next(self) -> Write | None:
        with self._cv:
            while not self._stopped and not (self._ready or self._ready_low):
                self._cv.wait()
            if self._stopped:
                return None
            lane = (self._ready or self._ready_low).popleft()
            write = self._lanes[lane].pop(0)
            self._busy.add(lane)
            self._queued -= 1
            self._in_flight += 1
            return write

    def _done(self, write: Write) -> None:
        with self._cv:
            self._in_flight -= 1
            self._busy.discard(write.lane)
            queue = self._lanes.get(write.lane)
            if queue:
                (self._ready_low if queue[0].low_priority else self._ready).append(write.lane)
                self._cv.notify()
            elif queue is not None:
                del self._lanes[write.lane]

    def _work(self) -> None:
        while (write := self._next()) is not None:
            try:
                if not self.gate():
                    self._post(write.on_failure)
                    self.drop_pending()
                    continue
                self._run(write)
            finally:
                self._done(write)

    def _run(self, write: Write) -> None:
        try:
            discard(write.call())
        except Rejected as error:
            metrics.API_ERRORS.labels(kind=write.kind).inc()
            log.warning("%s write refused: %s", write.kind, error, extra={"lane": str(write.lane)})
            self._rejected(write, str(error))
        except ApiException as error:
            if write.missing_ok and error.status == 404:
                metrics.API_WRITES.labels(kind=write.kind).inc()
                return
            if namespace_terminating(error):
                # Not an error, nor a permission problem: dropped, never retried (a retry
                # would only meet the same answer until the namespace is gone).
                log.info(
                    "%s write dropped: its namespace is being deleted",
                    write.kind,
                    extra={"lane": str(write.lane)},
                )
                self._post(write.on_failure)
                return
            metrics.API_ERRORS.labels(kind=write.kind).inc()
            refused = rejection(error)
            if refused is not None and write.on_rejected is not None:
                log.warning(
                    "%s write refused by the API server: %s",
                    write.kind,
                    refused,
                    extra={"lane": str(write.lane)},
                )
                self._rejected(write, refused)
                return
            log.warning(
                "%s write failed (%s %s); a later cycle retries it",
                write.kind,
                error.status,
                error.reason,
                extra={"lane": str(write.lane)},
            )
            self._failed(write)
        except Exception:
            metrics.API_ERRORS.labels(kind=write.kind).inc()
            log.exception("%s write failed; a later cycle retries it", write.kind)
            self._failed(write)
        else:
            metrics.API_WRITES.labels(kind=write.kind).inc()
            if self._failures:
                with self._cv:
                    self._failures.pop(write.target or write.lane, None)

    def _rejected(self, write: Write, reason: str) -> None:
        self._post(write.on_failure)
        on_rejected = write.on_rejected
        if on_rejected is not None:
            self._post(lambda: on_rejected(reason))

    def _failed(self, write: Write) -> None:
        with self._cv:
            key = write.target or write.lane
            attempts = self._failures[key] = self._failures.get(key, 0) + 1
        self._post(write.on_failure)
        if self.on_failure is not None:
            on_failure = self.on_failure
            self._post(lambda: on_failure(write, attempts))

    def _post(self, callback: Callable[[], None] | None) -> None:
        """Run a callback on the event loop, where the applier's memories live."""
        if callback is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            self._loop.call_soon_threadsafe(callback)
