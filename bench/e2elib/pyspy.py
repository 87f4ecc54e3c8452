"""Optional CPU profile of the operator with py-spy (sampling; the operator is not changed).

`py-spy record --format raw` writes collapsed stacks; `summarize` turns them
into the share of samples in which each function was on the stack (inclusive),
which is what says where a cycle's time goes.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"^(?P<function>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")


@dataclass
class PySpy:
    """`py-spy record` attached to a running process until `stop()`."""

    executable: str
    pid: int
    output: Path
    rate: int = 50
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--nonblocking",
                "--threads",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "operator/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


INTERESTING = ("kopf/", "paddock/", "json/", "copy.py", "kubernetes/", "urllib3/", "pydantic/")


def _thread_group(frame: str) -> str:
    if "MainThread" in frame:
        return "main thread (asyncio: kopf and the scheduling loop)"
    if "paddock-write" in frame:
        return "writer threads (the applier)"
    return "other threads"


WAITING = re.compile(
    r"^(SSLSocket\.(read|recv_into|send|sendall|do_handshake)|socket\.\w+"
    r"|Condition\.wait|Event\.wait|_wait_for_tstate_lock|\w*Selector\.select"
    r"|poll_wait_for_socket\.<locals>\.do_poll|sleep) "
)
"""Leaf frames of a thread blocked, not running: `--nonblocking` sampling records them too
(160 writer threads waiting on their sockets were half the samples), so they are left out."""


def _waiting(leaf: str) -> bool:
    leaf = leaf.strip()
    if WAITING.match(leaf):
        return True
    # An idle worker of a ThreadPoolExecutor blocks in the C queue's get, inside `_worker`.
    return leaf.startswith("_worker (") and "concurrent/futures/thread.py" in leaf


def summarize(collapsed: Path, top: int = 25) -> list[tuple[str, float]]:
    """Per thread group: its share of the busy samples (threads blocked on a socket, a lock or
    a queue left out, and their share said first), then the functions of kopf, Paddock, json,
    copy, the kubernetes client, urllib3 and pydantic by inclusive share of that group."""
    groups: Counter[str] = Counter()
    inclusive: dict[str, Counter[str]] = {}
    waiting = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        count = int(count_text)
        if _waiting(frames[-1]):
            waiting += count
            continue
        group = _thread_group(frames[0])
        groups[group] += count
        names = {_short(f) for f in frames[1:] if any(m in f for m in INTERESTING)}
        for name in names:
            inclusive.setdefault(group, Counter())[name] += count
    total = sum(groups.values())
    out: list[tuple[str, float]] = []
    if total + waiting:
        out.append(("== waiting (left out)", round(100 * waiting / (total + waiting), 1)))
    for group, samples in groups.most_common():
        out.append((f"== {group}", round(100 * samples / total, 1)))
        for name, n in inclusive.get(group, Counter()).most_common(top):
            out.append((f"   {name}", round(100 * n / samples, 1)))
    return out
