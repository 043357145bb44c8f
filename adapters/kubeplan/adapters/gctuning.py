"""Garbage-collector settings for a process that holds large JSON caches.

CPython's default thresholds (700, 10, 10) start a young collection every 700 container
allocations. An operator allocates thousands of containers per watch event (every
object is a tree of dicts and lists) and keeps tens of thousands of them in its caches,
so the collector ran over and over while parents converged and took a large share of
the operator's CPU (and more of the fake API server's). None of that work finds
anything: cached objects are plain JSON trees, which have no reference cycles.

``tune_gc()`` raises the young threshold to 10,000 allocations and collects the middle
generation half as often; the oldest generation keeps CPython's own rule (a full
collection only once the long-lived objects grew by a quarter), so full collections stay
proportional to the heap's growth and cyclic garbage is still reclaimed. On the
convergence benchmark this cut collector time by about a factor of five in both the
operator and the fake API server (bench/NOTES.md).

``FreezeWhileBusy`` goes one step further during bursts of growth (see its docstring):
``kubeplan fake-apiserver`` runs it on the store's commits, ``kubeplan run`` and
``run_operator`` on the operator's syncs (``serve(..., collect_between_bursts=True)``).

Both change process-wide state, so only the entry points that own their process use them
(``kubeplan run``, ``run_operator``, ``kubeplan fake-apiserver``, ``kubeplan demo``); a
program that embeds an ``Operator`` may call them itself.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

__all__ = ["FreezeWhileBusy", "tune_gc"]

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 10


def tune_gc(young: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Set the collector's thresholds for a cache-heavy process; returns the old ones.

    Never lowers a threshold someone already raised (``young`` only if larger)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], young), max(before[1], MIDDLE_THRESHOLD),
                     max(before[2], OLD_THRESHOLD))
    return before


class FreezeWhileBusy:
    """Keep a growing long-lived heap out of the collector's way during a burst of work.

    While a cache-heavy process takes in thousands of objects (the fake API server's store,
    an operator's caches), each of them is examined by the middle generation's collections
    again and again as it ages, for nothing: they are acyclic JSON. ``gc.freeze()`` every
    ``every`` units of ``progress`` moves everything alive into the permanent generation,
    which the collector skips. Once ``progress`` has stood still for ``idle`` seconds,
    ``gc.unfreeze()`` and one full collection reclaim any reference cycle that was frozen
    while alive and died since, so nothing leaks for longer than a burst.

    On the fake API server converging 5,000 parents the middle generation's collections
    nearly vanished (bench/NOTES.md).
    ``run()`` is a task of the process that owns the loop (like ``tune_gc``).
    """

    def __init__(self, progress: Callable[[], int], *, every: int = 2000, idle: float = 2.0,
                 poll: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self.progress = progress
        self.every = every
        self.idle = idle
        self.poll = poll
        self.clock = clock
        self.freezes = 0
        self.thaws = 0
        self._frozen = False
        self._mark = progress()  # the progress at the last freeze (or start, or thaw)
        self._seen = self._mark
        self._seen_at = clock()

    def step(self) -> None:
        """One look at the progress (``run`` calls it every ``poll`` seconds)."""
        now, current = self.clock(), self.progress()
        if current != self._seen:
            self._seen, self._seen_at = current, now
        if current - self._mark >= self.every:
            gc.freeze()
            self._frozen, self._mark = True, current
            self.freezes += 1
        elif self._frozen and now - self._seen_at >= self.idle:
            gc.unfreeze()
            gc.collect()
            self._frozen, self._mark = False, current
            self.thaws += 1

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.poll)
                self.step()
        finally:
            if self._frozen:
                gc.unfreeze()
