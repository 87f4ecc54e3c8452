"""Bench-only "what if": change kopf settings of the operator under test without editing it.

`bench/e2e.py --kopf SETTING=VALUE` puts this folder on the operator's
PYTHONPATH and the overrides in PADDOCK_BENCH_KOPF (";"-separated, e.g.
"queueing.worker_limit=none;watching.chunk_size=500"). Python imports this
module at start-up; it wraps `kopf.operator` so that, when Paddock starts kopf,
one more startup handler runs after Paddock's own `configure` and applies the
overrides. It measures what a proposed change to operator/ would do; the
operator's code is never touched.
"""

from __future__ import annotations

import logging
import os
from typing import Any

OVERRIDES = os.environ.get("PADDOCK_BENCH_KOPF", "")


def _value(text: str) -> Any:
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _install() -> None:
    import kopf

    original = kopf.operator

    async def operator(*args: Any, **kwargs: Any) -> Any:
        @kopf.on.startup(id="bench-whatif")
        async def bench_overrides(settings: kopf.OperatorSettings, **_: Any) -> None:
            for item in filter(None, OVERRIDES.split(";")):
                path, _sep, text = item.partition("=")
                *parents, leaf = path.strip().split(".")
                target: Any = settings
                for part in parents:
                    target = getattr(target, part)
                setattr(target, leaf, _value(text.strip()))
                logging.getLogger("paddock.bench").warning(
                    "bench what-if: kopf settings.%s = %r", path, getattr(target, leaf)
                )

        return await original(*args, **kwargs)

    kopf.operator = operator


if OVERRIDES:
    _install()
