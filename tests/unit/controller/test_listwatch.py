"""The list-watch protocol: pages, watch events, resuming, and listing again on 410.

A scripted stand-in for the client's list function plays the API server here;
tests/integration proves the same code against the real one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from paddock.controller.listwatch import ListWatch, response_lines


@dataclass
class Response:
    data: bytes = b""
    chunks: list[bytes] = field(default_factory=list)

    def stream(self, amt: int, decode_content: bool) -> Iterator[bytes]:
        yield from self.chunks

    def release_conn(self) -> None:
        pass


def page(names: list[str], version: str, token: str = "") -> Response:
    body = {
        "metadata": {"resourceVersion": version, "continue": token},
        "items": [{"metadata": {"name": n}} for n in names],
    }
    return Response(data=json.dumps(body).encode())


def events(*items: tuple[str, str, str]) -> Response:
    lines = [
        json.dumps({"type": kind, "object": {"metadata": {"name": n, "resourceVersion": v}}})
        for kind, n, v in items
    ]
    text = ("\n".join(lines) + "\n").encode()
    return Response(chunks=[text[:7], text[7:]])  # a line split across chunks


@dataclass
class Server:
    script: list[Response | ApiException]
    calls: list[dict[str, Any]] = field(default_factory=list)
    watch: ListWatch[str] | None = None

    def __call__(self, **kwargs: Any) -> Response:
        self.calls.append(kwargs)
        if not self.script:
            assert self.watch is not None
            self.watch.stop()
            return Response()
        answer = self.script.pop(0)
        if isinstance(answer, ApiException):
            raise answer
        return answer


def run(server: Server, explode_on: str = "") -> tuple[dict[str, str], list[str]]:
    """Runs the watch until the script is played; returns the kept records and the history."""
    kept: dict[str, str] = {}
    history: list[str] = []

    def replace(records: dict[str, str]) -> None:
        kept.clear()
        kept.update(records)
        history.append(f"list {sorted(records)}")

    def put(key: str, value: str | None) -> None:
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = value
        history.append(f"{'del' if value is None else 'put'} {key}")

    def record(body: Mapping[str, Any]) -> str | None:
        name: str = body["metadata"]["name"]
        if name == explode_on:
            raise ValueError("an unreadable object")
        return None if name.startswith("skip") else name.upper()

    watch = ListWatch[str](
        kind="things",
        call=server,
        key=lambda body: body["metadata"]["name"],
        record=record,
        replace=replace,
        put=put,
        page_size=2,
    )
    server.watch = watch

    async def scenario() -> None:
        thread = watch.start(asyncio.get_running_loop())
        for _ in range(500):
            if not thread.is_alive():
                break
            await asyncio.sleep(0.01)
        assert not thread.is_alive(), "the watch did not finish its script"
        await asyncio.sleep(0)  # let the last handed-over callbacks run

    asyncio.run(scenario())
    return kept, history


def test_lists_in_pages_then_follows_the_watch_from_the_list_version() -> None:
    server = Server(
        [
            page(["a", "b"], "10", token="t1"),
            page(["c", "skip-me"], "11"),
            events(("ADDED", "d", "12"), ("BOOKMARK", "", "13"), ("DELETED", "a", "14")),
            events(("MODIFIED", "b", "15")),
        ]
    )
    kept, history = run(server)
    assert history == ["list ['a', 'b', 'c']", "put d", "del a", "put b"]
    assert kept == {"b": "B", "c": "C", "d": "D"}
    first, second, watch1, watch2 = server.calls[:4]
    assert first["limit"] == 2 and "_continue" not in first
    assert second["_continue"] == "t1"
    assert watch1["watch"] and watch1["resource_version"] == "11"
    assert watch2["resource_version"] == "14"  # resumes after the last event seen


def test_an_expired_version_lists_again_and_the_list_replaces_what_was_kept() -> None:
    server = Server(
        [
            page(["a", "b"], "10"),
            events(("ADDED", "c", "11")),
            ApiException(status=410, reason="Gone"),
            page(["b"], "20"),  # a and c were deleted while the watch was away
            events(("ERROR", "", "")),  # an error event also ends in a new list
            page(["b", "e"], "30"),
        ]
    )
    kept, history = run(server)
    assert history[:3] == ["list ['a', 'b']", "put c", "list ['b']"]
    assert kept == {"b": "B", "e": "E"}


def test_response_lines_joins_split_lines_and_skips_blank_ones() -> None:
    response = Response(chunks=[b'{"a":', b' 1}\n\n{"b"', b": 2}"])
    assert list(response_lines(response)) == [b'{"a": 1}', b'{"b": 2}']


def test_an_object_that_cannot_be_read_is_skipped_not_fatal() -> None:
    server = Server([page(["a", "boom", "b"], "10"), events(("ADDED", "boom", "11"))])
    kept, history = run(server, explode_on="boom")
    assert history == ["list ['a', 'b']", "del boom"]  # a change to it: forgotten, not kept stale
    assert kept == {"a": "A", "b": "B"}
