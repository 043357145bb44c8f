"""Helpers for the leader-election and sharding tests: stepping a virtual clock and a client
that can be cut off from the API server (a network partition of one replica)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubeplan.adapters.errors import ConnectionFailed
from kubeplan.testkit.vtime import LoopClock

#: Loop turns given to the replicas after each clock step: enough for a few in-process
#: requests each (an in-process request never waits on real time).
TURNS = 60


async def settle(turns: int = TURNS) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


async def step(
    clock: LoopClock,
    seconds: float,
    *,
    dt: float = 0.25,
    check: Callable[[], None] | None = None,
    until: Callable[[], bool] | None = None,
) -> float:
    """Advance ``seconds`` of clock time in ``dt`` steps, letting tasks run after each and
    calling ``check`` at every instant; stop early when ``until()`` holds. Returns the
    clock seconds actually advanced."""
    elapsed = 0.0
    while elapsed < seconds - 1e-9:
        clock.advance(dt)
        elapsed += dt
        await settle()
        if check is not None:
            check()
        if until is not None and until():
            break
    return elapsed


class PartitionableClient:
    """Delegates to a real client; while ``partitioned`` every call fails as if the network
    to the API server were down (the request never arrives)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.partitioned = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "watch":
            return self._watch
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.partitioned:
                raise ConnectionFailed("partitioned (test)", sent=False)
            return await attr(*args, **kwargs)

        return call

    async def _watch(self, *args: Any, **kwargs: Any) -> Any:
        if self.partitioned:
            raise ConnectionFailed("partitioned (test)", sent=False)
        async for event in self._inner.watch(*args, **kwargs):
            if self.partitioned:
                raise ConnectionFailed("partitioned (test)", sent=True)
            yield event
