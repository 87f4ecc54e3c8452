"""The py-spy summary counts running threads only: `--nonblocking` sampling also records threads
blocked on a socket, a lock or a queue, which made 160 idle writer threads look like half the
operator's CPU."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from e2elib.pyspy import summarize

WRITER = (
    "thread (11): paddock-write-3;Thread.run (threading.py:982);"
    "Writer._work (paddock/controller/writer.py:251)"
)
LOOP = (
    "thread (10): MainThread;run (paddock/controller/main.py:90);"
    "Applier.apply (paddock/controller/applier/applier.py:150)"
)


def test_blocked_threads_are_left_out_and_their_share_said(tmp_path: Path) -> None:
    collapsed = tmp_path / "profile.txt"
    collapsed.write_text(
        "\n".join(
            [
                f"{WRITER};SSLSocket.read (ssl.py:1167) 70",
                f"{WRITER};Condition.wait (threading.py:324) 10",
                f"{WRITER};JSONEncoder.iterencode (json/encoder.py:258) 5",
                f"{LOOP};json.dumps (json/__init__.py:231) 15",
                "thread (12): asyncio_0;_worker (concurrent/futures/thread.py:81) 100",
            ]
        )
        + "\n"
    )
    shares = dict(summarize(collapsed))
    assert shares["== waiting (left out)"] == 90.0  # 180 of 200 samples
    assert shares["== main thread (asyncio: kopf and the scheduling loop)"] == 75.0
    assert shares["== writer threads (the applier)"] == 25.0
