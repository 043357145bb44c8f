"""Exponential backoff with jitter and a cap, its per-key bookkeeping, and the rate
limit of requeues.

One backoff shape serves three places: the work queue (per-parent backoff after a failed
sync), the watch cache (reconnects) and the client (retried reads). Jitter keeps many
parents that failed together (an API outage) from retrying in lock-step.
``RequeueLimiter`` bounds how fast a parent that keeps asking for another sync (and the
changes of its children) can be synced again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable

import attrs


@attrs.frozen
class Backoff:
    """``delay(n)`` for the n-th consecutive failure (n >= 1): ``base * factor**(n-1)``,
    capped at ``cap``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]``
    (the jittered value never exceeds ``cap``)."""

    base: float = 0.5
    cap: float = 300.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        # the exponent is bounded so a long outage cannot overflow a float
        raw = min(self.cap, self.base * self.factor ** min(failures - 1, 64))
        if self.jitter:
            raw *= self.rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return min(raw, self.cap)


@attrs.define
class KeyedBackoff:
    """Consecutive failures per key; ``failure(key)`` returns the next delay and
    ``reset(key)`` forgets the key after a success."""

    backoff: Backoff
    _failures: dict[Hashable, int] = attrs.field(factory=dict, init=False)

    def failure(self, key: Hashable) -> float:
        count = self._failures.get(key, 0) + 1
        self._failures[key] = count
        return self.backoff.delay(count)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def reset(self, key: Hashable) -> None:
        self._failures.pop(key, None)


@attrs.define
class RequeueLimiter:
    """How soon a parent may be synced again after a sync that asked for it (it wrote
    children, or met a 409), and after the changes of its children: client-go's default
    controller rate limiter (``workqueue.DefaultControllerRateLimiter``), the larger of

    * a per-key exponential delay, ``base * 2**(n-1)`` capped at ``cap``, where ``n``
      counts the key's requeues in a row (``requeued``), and
    * an overall token bucket (``qps`` tokens a second, ``burst`` at most) shared by all
      keys, taken from the second requeue in a row on (client-go takes it for every
      rate-limited add; here a parent that converges after one write round never waits
      for other parents' requeues);

    so a parent its children keep pulling back (a garbage collector deleting each child
    it creates, another controller reverting its writes) slows down instead of spinning.

    A streak ends when the parent stayed settled for longer than twice its last delay
    plus ``quiet`` seconds (``reset`` ends it at once: new input, or the parent is gone).
    A parent whose streak ended is synced at once again, as before any requeue.
    """

    base: float = 0.005
    cap: float = 1000.0
    qps: float | None = 10.0
    burst: int = 100
    quiet: float = 10.0
    clock: Callable[[], float] = attrs.field(factory=lambda: time.monotonic)
    _streaks: dict[Hashable, tuple[int, float]] = attrs.field(factory=dict, init=False)
    _tokens: float | None = attrs.field(default=None, init=False)
    _stamp: float = attrs.field(default=0.0, init=False)

    def _per_key(self, streak: int) -> float:
        return min(self.cap, self.base * 2.0 ** min(streak - 1, 64)) if streak > 0 else 0.0

    def streak(self, key: Hashable) -> int:
        """The key's requeues in a row (0 once it has stayed settled long enough)."""
        found = self._streaks.get(key)
        if found is None:
            return 0
        count, at = found
        if self.clock() - at > 2 * self._per_key(count) + self.quiet:
            del self._streaks[key]
            return 0
        return count

    def per_key(self, key: Hashable) -> float:
        """The key's own delay now (the bucket aside; nothing is taken)."""
        return self._per_key(self.streak(key))

    def requeued(self, key: Hashable) -> None:
        """A sync of ``key`` asked to be synced again: the streak grows."""
        self._streaks[key] = (self.streak(key) + 1, self.clock())

    def delay(self, key: Hashable) -> float:
        """Seconds until ``key`` may be synced again (0: now); takes a bucket token when
        the key is on its second requeue in a row or later."""
        count = self.streak(key)
        if count == 0:
            return 0.0
        delay = self._per_key(count)
        if count >= 2 and self.qps:
            delay = max(delay, self._reserve(self.qps))
        return delay

    def reset(self, key: Hashable) -> None:
        self._streaks.pop(key, None)

    def _reserve(self, qps: float) -> float:
        """One token from the bucket, as ``rate.Limiter.Reserve().Delay()``: the wait
        until the token is there (the bucket may go into debt)."""
        now = self.clock()
        tokens = float(self.burst) if self._tokens is None else self._tokens
        tokens = min(float(self.burst), tokens + (now - self._stamp) * qps)
        self._stamp = now
        self._tokens = tokens - 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / qps
