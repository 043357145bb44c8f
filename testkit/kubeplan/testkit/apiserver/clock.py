"""Clocks for the fake API server: real time, or virtual time that tests drive.

Timestamps, watch timeouts, bookmark periods, fault latency and the emulated
controllers all read time through a ``Clock`` so that a test can run hours of
operator behaviour in milliseconds: ``VirtualClock`` never sleeps for real, its
timers fire when the test calls ``advance``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

from kubeplan.adapters.clock import Clock, SystemClock

__all__ = ["Clock", "SystemClock", "VirtualClock", "format_time", "parse_time"]


class VirtualClock:
    """Time that only moves when ``advance`` is called.

    ``sleep(s)`` parks the caller on a timer at ``now + s``; ``advance(s)`` moves time
    forward and wakes every timer that is due, in deadline order. Nothing ever waits
    on real time, so tests stay fast and deterministic.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._now = self._start = start
        self._timers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        """Seconds since the clock's start (it only moves on ``advance``)."""
        return (self._now - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self._now + timedelta(seconds=seconds)
        heapq.heappush(self._timers, (deadline, next(self._seq), future))
        await future

    @property
    def pending_timers(self) -> int:
        """How many sleepers are still waiting (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._timers if not f.done())

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper that is now due.

        Woken coroutines run at the event loop's next turn: ``await asyncio.sleep(0)``
        (or ``await server.settle()``) after advancing lets them react.
        """
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds}))")
        self._now += timedelta(seconds=seconds)
        while self._timers and self._timers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._timers)
            if not future.done():
                future.set_result(None)

    def set(self, when: datetime) -> None:
        """Jump to an absolute instant (not earlier than now)."""
        self.advance((when - self._now).total_seconds())


def format_time(when: datetime) -> str:
    """RFC 3339 with seconds precision in UTC, as Kubernetes renders ``metav1.Time``."""
    # A write formats "now" several times, and every write in a second gives the same
    # text: remember the last second (the text depends on nothing else).
    global _last_formatted
    second = when.timestamp() // 1
    if _last_formatted[0] != second:
        _last_formatted = (second, when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _last_formatted[1]


_last_formatted: tuple[float, str] = (float("nan"), "")


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time`` (accepts fractional seconds too)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
