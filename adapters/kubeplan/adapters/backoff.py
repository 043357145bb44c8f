"""Exponential backoff with jitter and a cap, and its per-key bookkeeping.

One shape serves three places: the work queue (per-parent backoff after a failed sync),
the watch cache (reconnects) and the client (retried reads). Jitter keeps many parents
that failed together (an API outage) from retrying in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

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
