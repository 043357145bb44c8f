"""What the client-side rate limit (``kubeplan.adapters.ratelimit``) costs when it does not
throttle: the price every request pays for ``--qps`` set high enough never to wait.

It prints:

1. microseconds per ``TokenBucket.acquire()`` that finds a token (the common path), against
   awaiting an empty coroutine (the least any async step costs);
2. microseconds per GET of one ConfigMap from the fake API server in this process
   (``InProcessClient``: the whole client path, no sockets), without a limit and through a
   ``RateLimitedClient`` whose bucket never runs dry, and the difference per request.

    python bench/ratelimit_bench.py [--requests 20000] [--repeat 5]

Timings are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from kubeplan.adapters.ratelimit import RateLimitedClient, TokenBucket
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer


async def _nothing() -> None:
    return None


async def _per_call(step: object, count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(count):
            await step()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best / count * 1e6


async def main(requests: int, repeat: int) -> None:
    bucket = TokenBucket(1e12, 1_000_000)  # never waits
    empty = await _per_call(_nothing, requests * 5, repeat)
    acquire = await _per_call(bucket.acquire, requests * 5, repeat)
    print(f"TokenBucket.acquire (a token there): {acquire:.3f} us; "
          f"awaiting an empty coroutine: {empty:.3f} us")

    async with FakeApiServer() as server:
        client = InProcessClient(server)
        await client.create(core_v1.ConfigMap, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"}, "data": {"k": "v"}})
        limited = RateLimitedClient(client, TokenBucket(1e12, 1_000_000))

        async def plain() -> None:
            await client.get(core_v1.ConfigMap, "c", "default")

        async def through_limit() -> None:
            await limited.get(core_v1.ConfigMap, "c", "default")

        base = await _per_call(plain, requests, repeat)
        with_limit = await _per_call(through_limit, requests, repeat)
        await client.close()
    print(f"GET from the in-process fake: {base:.2f} us without a limit, "
          f"{with_limit:.2f} us through RateLimitedClient "
          f"({with_limit - base:+.2f} us, {100 * (with_limit - base) / base:+.1f} %)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeat))
