"""Run the real operator (`paddock run`) as a subprocess against the test cluster.

Integration tests prove features through the same process users run: no
in-process shortcuts. The process can be stopped and started again to test
restarts, and its log is kept in a file that failing tests can show.

Each OperatorProcess has a stable identity (`PADDOCK_IDENTITY`), as a pod has
its name: a restarted process renews its own Lease at once. With
`restart_on_exit` it is restarted whenever it exits by itself, as the kubelet
restarts a container (a fenced leader exits non-zero on purpose); `exits`
records the exit statuses.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.waiting import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class OperatorProcess:
    kubeconfig: Path
    log_path: Path
    lease_namespace: str = "default"
    extra_env: dict[str, str] = field(default_factory=dict)
    metrics_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    identity: str = field(default_factory=lambda: f"test-operator-{uuid.uuid4().hex[:6]}")
    restart_on_exit: bool = False
    exits: list[tuple[float, int]] = field(default_factory=list)
    """(monotonic time seen, exit status) of every exit the process made by itself."""
    process: subprocess.Popen[bytes] | None = None
    _stopping: bool = False
    _keeper: threading.Thread | None = None

    def start(self, timeout: float = 60) -> None:
        self._stopping = False
        self._spawn()
        if self.restart_on_exit:
            self._keeper = threading.Thread(target=self._keep_running, daemon=True)
            self._keeper.start()
        try:
            wait_for(self.ready, timeout=timeout, what=f"operator readiness (log: {self.log_path})")
        except BaseException:
            self.stop()  # an operator that never became ready must not outlive the test run
            raise

    def _keep_running(self) -> None:
        """What the kubelet does for a container that exits: start it again."""
        while not self._stopping:
            process = self.process
            if process is None:
                return
            status = process.wait()
            if self._stopping:
                return
            self.exits.append((time.monotonic(), status))
            time.sleep(1.0)  # the kubelet's first restart back-off is 10 s; 1 s keeps tests short
            if not self._stopping:
                self._spawn()

    def _spawn(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "PADDOCK_NAMESPACE": self.lease_namespace,
            "PADDOCK_IDENTITY": self.identity,
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "paddock.cli",
                "run",
                f"--metrics-port={self.metrics_port}",
                f"--health-port={self.health_port}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own copy

    def ready(self) -> bool:
        """/readyz answers 200: listed, as leader or standby."""
        if self.process is None or (self.process.poll() is not None and not self.restart_on_exit):
            raise RuntimeError(f"operator exited; log tail:\n{self.log_tail()}")
        return self.role() in ("leader", "standby")

    def role(self) -> str:
        """What /readyz says: "leader" or "standby" (raises while not ready or not running)."""
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            return str(response.read().decode())

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            text: str = response.read().decode()
            return text

    def stop(self, kill: bool = False) -> None:
        self._stopping = True
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
