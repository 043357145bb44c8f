"""The work queue: which parent to sync next, and the only place with concurrency control.

Semantics follow client-go's workqueue, the shape every controller relies on:

* ``add(key)`` coalesces: a key already waiting is not queued twice, however many
  events arrive for it (a parent and its three children changing is one sync).
* one sync in flight per key: a key added while it is being processed is remembered
  ("dirty") and handed out again only after ``done(key)``, so a parent is never synced
  by two workers at once and no event is lost.
* ``add_after(key, delay)`` schedules an add (``resync_after``, backoff); an earlier
  schedule for the same key wins.
* ``add_rate_limited(key)`` schedules after the key's exponential backoff;
  ``forget(key)`` resets it after a success.
* ``requeue(key)`` (a sync asked for another: it wrote children, or met a 409) and
  ``add_limited(key)`` (a child changed) go through the ``RequeueLimiter``: at once for a
  parent that has settled, then after a growing delay while the parent keeps coming back.

An event for a key in backoff is handed out at once (as in client-go): a user fixing a
broken parent should not wait for the backoff to expire.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from kubeplan.adapters.backoff import Backoff, KeyedBackoff, RequeueLimiter
from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.settings import RuntimeSettings

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Coalescing queue of keys with delayed adds and per-key backoff.

    ``on_depth(n)`` and ``on_latency(seconds)`` are optional observers (metrics):
    depth after every change, and for every key handed out the time it waited on
    ``clock`` (monotonic). Delayed adds are timers of the running event loop.
    """

    def __init__(
        self,
        backoff: Backoff | None = None,
        *,
        limiter: RequeueLimiter | None = None,
        clock: Clock | None = None,
        on_depth: Callable[[int], None] | None = None,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self._backoff = KeyedBackoff(backoff or Backoff())
        self._clock = (clock or SystemClock()).monotonic
        self._limiter = limiter if limiter is not None else RequeueLimiter(clock=self._clock)
        self._on_depth = on_depth
        self._on_latency = on_latency
        self._ready: deque[K] = deque()
        self._queued: dict[K, float] = {}  # key -> time it was first added (waiting keys)
        self._processing: set[K] = set()
        self._delayed: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._watchers: list[asyncio.Future[None]] = []
        self._shutdown = False

    @classmethod
    def from_settings(
        cls, settings: RuntimeSettings, *, rng: random.Random, clock: Clock,
        on_depth: Callable[[int], None] | None = None,
        on_latency: Callable[[float], None] | None = None,
    ) -> WorkQueue[K]:
        """A queue whose failure backoff (``settings.backoff_*``, jittered by ``rng``) and
        requeue limit (``settings.requeue_*``) the settings give."""
        return cls(
            Backoff(base=settings.backoff_base, cap=settings.backoff_cap,
                    jitter=settings.backoff_jitter, rng=rng),
            limiter=RequeueLimiter(
                base=settings.requeue_base, cap=settings.requeue_cap, qps=settings.requeue_qps,
                burst=settings.requeue_burst, quiet=settings.requeue_quiet,
                clock=clock.monotonic),
            clock=clock, on_depth=on_depth, on_latency=on_latency,
        )

    # -- adding ---------------------------------------------------------------------------

    def add(self, key: K) -> None:
        """Queue ``key`` now unless it is already waiting (coalescing)."""
        if self._shutdown or key in self._queued:
            return
        self._queued[key] = self._clock()
        if key not in self._processing:
            self._ready.append(key)
            self._wake_one()
        self._changed()

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` after ``delay`` seconds; an earlier pending schedule wins."""
        if self._shutdown:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._delayed[key] = (when, loop.call_at(when, self._fire, key))

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its next backoff delay; returns the delay."""
        delay = self._backoff.failure(key)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset ``key``'s backoff (after a successful sync)."""
        self._backoff.reset(key)

    def requeue(self, key: K) -> float:
        """A sync of ``key`` asked for another: queue it after the requeue limit (the
        streak grows); returns the delay."""
        self._limiter.requeued(key)
        return self.add_limited(key)

    def add_limited(self, key: K) -> float:
        """Queue ``key`` after its requeue delay (at once unless it keeps coming back);
        nothing is taken from the limit when it is waiting already. Returns the delay."""
        if self._shutdown or key in self._queued:
            return 0.0
        pending = self._delayed.get(key)
        if pending is not None and pending[0] <= (
                asyncio.get_running_loop().time() + self._limiter.per_key(key)):
            return 0.0  # due sooner anyway
        delay = self._limiter.delay(key)
        self.add_after(key, delay)
        return delay

    def reset_requeues(self, key: K) -> None:
        """End ``key``'s requeue streak (new input: its next requeue is not delayed)."""
        self._limiter.reset(key)

    def requeues(self, key: K) -> int:
        """``key``'s requeues in a row (see ``RequeueLimiter``)."""
        return self._limiter.streak(key)

    def drop(self, key: K) -> None:
        """Forget everything about ``key`` (its parent is gone): a pending delayed add,
        its backoff and its requeue streak."""
        self.cancel_delayed(key)
        self._backoff.reset(key)
        self._limiter.reset(key)

    def failures(self, key: K) -> int:
        return self._backoff.failures(key)

    def is_processing(self, key: K) -> bool:
        """``key`` is being synced right now (handed out, ``done`` not called yet)."""
        return key in self._processing

    def processing(self) -> frozenset[K]:
        """The keys in flight (the runtime cancels those it may no longer sync)."""
        return frozenset(self._processing)

    def cancel_delayed(self, key: K) -> None:
        """Drop a pending delayed add (the parent is gone)."""
        pending = self._delayed.pop(key, None)
        if pending is not None:
            pending[1].cancel()

    def _fire(self, key: K) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    # -- taking ---------------------------------------------------------------------------

    async def get(self) -> K | None:
        """The next key to process, or None once the queue is shut down."""
        while not self._ready:
            if self._shutdown:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                # woken and cancelled in the same tick: pass the wake-up on, or a key
                # could sit in the queue with every other worker still asleep
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        if self._shutdown:
            return None
        key = self._ready.popleft()
        added = self._queued.pop(key)
        self._processing.add(key)
        if self._on_latency is not None:
            self._on_latency(self._clock() - added)
        self._changed()
        return key

    def done(self, key: K) -> None:
        """Mark ``key`` processed; if it was added meanwhile it is handed out again."""
        self._processing.discard(key)
        if key in self._queued and not self._shutdown:
            self._ready.append(key)
            self._wake_one()
        self._changed()

    def shutdown(self) -> None:
        """Stop handing out keys: every ``get()`` returns None, delayed adds are dropped."""
        self._shutdown = True
        for _, handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self._changed()

    # -- observing ------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Keys waiting to be handed out (not counting those in flight)."""
        return len(self._queued)

    @property
    def in_flight(self) -> int:
        return len(self._processing)

    @property
    def delayed(self) -> int:
        return len(self._delayed)

    def is_idle(self) -> bool:
        """Nothing waiting and nothing in flight (delayed adds do not count)."""
        return not self._queued and not self._processing

    async def wait_idle(self) -> None:
        """Return once the queue is idle (used by tests and graceful stop)."""
        while not self.is_idle():
            watcher = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            await watcher

    async def wait_no_processing(self, which: Callable[[K], bool] | None = None) -> None:
        """Return once no key is in flight (graceful stop waits for this); with ``which``,
        once no key for which it is True is in flight (a shard handoff drains this way)."""
        while any(which is None or which(key) for key in self._processing):
            watcher = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            await watcher

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _changed(self) -> None:
        if self._on_depth is not None:
            self._on_depth(len(self._queued))
        if self._watchers:
            watchers, self._watchers = self._watchers, []
            for watcher in watchers:
                if not watcher.done():
                    watcher.set_result(None)
