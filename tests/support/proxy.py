"""A loopback proxy in front of the API server that a test can switch to a black hole.

Partition tests need one operator cut off from the API server the way a
network fault does it: connections stay open, bytes go nowhere, nothing is
refused or reset. The proxy terminates TLS with the API server's own
certificate (from the local cluster's PKI) and opens its own TLS connection
upstream with the admin client certificate, so it sees plain HTTP/1.1 and
records every request the client *sent* (time, method, path), including the
ones it swallows. That record is how a test counts writes a fenced leader
attempted after its renew deadline, independently of the operator's own word.

`blackhole()`: from then on nothing is forwarded in either direction (requests
are read, recorded and dropped; answers are dropped), connections stay open.
`restore()` forwards again on new and existing connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Request:
    at: float
    """time.monotonic() when the proxy had read the whole request (shared by all processes)."""
    method: str
    path: str
    forwarded: bool


@dataclass
class ApiProxy:
    upstream_port: int
    pki: Path
    """The local cluster's pki folder: ca.crt, apiserver.crt/key, admin.crt/key."""
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _blackholed: bool = False
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ test side
    def start(self) -> ApiProxy:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the API proxy did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    def blackhole(self) -> float:
        """Drop everything from now on; returns the monotonic time of the switch."""
        self._blackholed = True
        return time.monotonic()

    def restore(self) -> None:
        self._blackholed = False

    def sent(self, after: float, writes_only: bool = False) -> list[Request]:
        """Requests the client sent after `after` (monotonic), forwarded or not."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.at > after and (not writes_only or r.method in WRITE_METHODS)
            ]

    def kubeconfig(self, admin_kubeconfig: Path, path: Path) -> Path:
        """The admin kubeconfig, pointed at this proxy."""
        config = yaml.safe_load(admin_kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        path.write_text(yaml.safe_dump(config))
        return path

    # ------------------------------------------------------------------ proxy side
    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(self.pki / "apiserver.crt", self.pki / "apiserver.key")
        client_tls = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        client_tls.load_cert_chain(self.pki / "admin.crt", self.pki / "admin.key")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    "127.0.0.1", self.upstream_port, ssl=client_tls
                )
            except OSError:
                writer.close()
                return
            answers = asyncio.ensure_future(self._answers(up_reader, writer))
            try:
                await self._requests(reader, up_writer)
            except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                answers.cancel()
                for w in (writer, up_writer):
                    with contextlib.suppress(Exception):
                        w.close()

        async def start() -> None:
            self._server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        loop.run_until_complete(start())
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _requests(self, reader: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
        """Client -> API server, one HTTP/1.1 request at a time, each recorded."""
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, *_ = [*lines[0].split(" "), "", ""]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                if name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    raise OSError("chunked request bodies are not supported by this test proxy")
            body = await reader.readexactly(length) if length else b""
            forwarded = not self._blackholed
            with self._lock:
                self.requests.append(Request(time.monotonic(), method, path, forwarded))
            if forwarded:
                upstream.write(head + body)
                await upstream.drain()

    async def _answers(self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """API server -> client, byte for byte, unless black-holed."""
        with contextlib.suppress(OSError, ssl.SSLError):
            while data := await upstream.read(65536):
                if self._blackholed:
                    continue
                writer.write(data)
                await writer.drain()
        # The API server closed (or the proxy is black-holed and keeps the client waiting).
        while self._blackholed:
            await asyncio.sleep(0.5)
        with contextlib.suppress(Exception):
            writer.close()
