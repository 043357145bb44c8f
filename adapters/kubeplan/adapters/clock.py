"""Time, as everything that waits or stamps reads it: one protocol, one system clock.

The runtime's leases, the fake API server and the testkit's virtual time all take a
``Clock``; ``kubeplan.testkit.vtime.LoopClock`` is the virtual one (time read from a
``VirtualTimeLoop``), ``SystemClock`` the production one.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """The current UTC instant, a monotonic reading and a delay, all on one clock."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """System time and ``asyncio.sleep`` (the production clock)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
