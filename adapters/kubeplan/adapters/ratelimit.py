"""A client-side limit on API requests: a token bucket (requests per second with bursts, as
client-go's QPS/burst and kopf's throttling), one per operator, shared by all its requests.

``TokenBucket(qps, burst)`` holds up to ``burst`` tokens and gains ``qps`` a second; each
request takes one, and a request that finds none waits until its token is due (tokens are
reserved in arrival order, so waiting requests are served first come, first served, as
``golang.org/x/time/rate`` reserves them). ``RateLimitedClient`` puts one in front of an
``ApiClient``: every call takes one token before it is sent (get, list pages, each
write, and the start of each watch; a watch's stream, once open, takes none). The client's
own retries after a 429 wait the server's ``Retry-After`` instead.

The limit is off unless ``RuntimeSettings.qps`` is set (``kubeplan run --qps/--burst``):
the API server's own flow control (API Priority and Fairness) answers an overloaded
client with 429 and ``Retry-After``, which the client honours.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.core.errors import InvalidArgument

__all__ = ["RateLimitedClient", "TokenBucket"]

#: observer of each throttled request: the seconds it waits for its token
WaitObserver = Callable[[float], None]


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up; ``acquire()`` takes one."""

    def __init__(self, qps: float, burst: int, *, clock: Clock | None = None,
                 on_wait: WaitObserver | None = None) -> None:
        if isinstance(qps, bool) or not isinstance(qps, int | float) or not (
                math.isfinite(qps) and qps > 0):
            raise InvalidArgument(f"TokenBucket: qps must be a finite number > 0, got {qps!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise InvalidArgument(f"TokenBucket: burst must be an integer >= 1, got {burst!r}")
        self.qps = float(qps)
        self.burst = burst
        self._clock = clock or SystemClock()
        self._on_wait = on_wait
        self._tokens = float(burst)
        self._last = self._clock.monotonic()
        #: requests that had to wait, and the seconds they waited in all
        self.throttled = 0
        self.waited = 0.0

    def reserve(self) -> float:
        """Take a token now or in the future; the seconds until it is due (0: at once)."""
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> None:
        """Wait for a token (no wait, and no suspension, while the bucket holds one)."""
        delay = self.reserve()
        if delay > 0:
            self.throttled += 1
            self.waited += delay
            if self._on_wait is not None:
                self._on_wait(delay)
            await self._clock.sleep(delay)


class RateLimitedClient:
    """An ``ApiClient`` whose calls each take a token of ``bucket`` first; everything else
    (``observers``, ``close()``, a ``KubeClient``'s attributes) is the wrapped client's."""

    def __init__(self, client: ApiClient, bucket: TokenBucket) -> None:
        self.client = client
        self.bucket = bucket

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def __repr__(self) -> str:
        return (f"<RateLimitedClient {self.bucket.qps:g}/s burst {self.bucket.burst}: "
                f"{self.client!r}>")

    async def get(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.get(*args, **kwargs)

    async def list(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.list(*args, **kwargs)

    async def watch(self, *args: Any, **kwargs: Any) -> AsyncIterator[RawObject]:
        await self.bucket.acquire()  # once: the stream itself is one long request
        stream = self.client.watch(*args, **kwargs)
        try:
            async for event in stream:
                yield event
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def create(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.create(*args, **kwargs)

    async def replace(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.replace(*args, **kwargs)

    async def apply(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.apply(*args, **kwargs)

    async def patch(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.patch(*args, **kwargs)

    async def replace_status(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.replace_status(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> RawObject:
        await self.bucket.acquire()
        return await self.client.delete(*args, **kwargs)

    async def close(self) -> None:
        await self.client.close()
