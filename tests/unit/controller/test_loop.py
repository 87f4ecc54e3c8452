"""The scheduling loop survives a failing cycle and coalesces bursts of pokes."""

from __future__ import annotations

import asyncio

from paddock.controller.loop import SchedulingLoop


def test_a_failing_cycle_never_stops_the_loop() -> None:
    applied: list[int] = []
    calls = 0

    def snapshot() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bad object")
        return calls

    async def apply(state: int, plan: int) -> None:
        applied.append(plan)

    async def scenario() -> None:
        loop: SchedulingLoop[int, int] = SchedulingLoop(
            snapshot=snapshot, plan=lambda s: s * 10, apply=apply, debounce=0.01, resync=0.05
        )
        loop.indexes_ready.set()
        task = asyncio.create_task(loop.run())
        for _ in range(200):
            if applied:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert applied and applied[0] == 20


def test_many_pokes_make_one_cycle() -> None:
    cycles: list[int] = []

    async def apply(state: int, plan: int) -> None:
        cycles.append(plan)

    async def scenario() -> None:
        loop: SchedulingLoop[int, int] = SchedulingLoop(
            snapshot=lambda: 1, plan=lambda s: s, apply=apply, debounce=0.05, resync=60
        )
        loop.indexes_ready.set()
        task = asyncio.create_task(loop.run())
        for _ in range(100):
            loop.poke("pod")
        for _ in range(100):
            if cycles:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()

    asyncio.run(scenario())
    assert cycles == [1]
