"""The client-side rate limit (``ratelimit.TokenBucket`` / ``RateLimitedClient``) and the 429
handling beneath it, on virtual time: a burst goes at once, then one request per 1/qps
seconds; an operator with ``qps`` set shares one bucket across all its requests and its
metrics count the throttled requests and the time they waited."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually

from kubeplan.adapters.ratelimit import RateLimitedClient, TokenBucket
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core import InvalidArgument
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.vtime import LoopClock

CM = core_v1.ConfigMap


def _cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}}


async def test_a_burst_then_the_rate():
    clock = LoopClock()
    waits: list[float] = []
    bucket = TokenBucket(5, 10, clock=clock, on_wait=waits.append)
    loop = asyncio.get_running_loop()
    started = loop.time()
    times = []
    for _ in range(20):
        await bucket.acquire()
        times.append(loop.time() - started)
    assert times[:10] == [0.0] * 10  # the burst
    assert times[10:] == pytest.approx([0.2 * k for k in range(1, 11)])  # then 5 a second
    assert bucket.throttled == 10 == len(waits)
    assert bucket.waited == pytest.approx(2.0)  # one after the other: 0.2 s each


async def test_tokens_come_back_while_idle_up_to_the_burst():
    clock = LoopClock()
    bucket = TokenBucket(10, 3, clock=clock)
    for _ in range(3):
        assert bucket.reserve() == 0.0
    await asyncio.sleep(100.0)  # idle: the bucket refills, but only to 3
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


async def test_concurrent_requests_are_served_in_order():
    clock = LoopClock()
    bucket = TokenBucket(2, 1, clock=clock)
    loop = asyncio.get_running_loop()
    started = loop.time()
    order: list[tuple[int, float]] = []

    async def request(i: int) -> None:
        await bucket.acquire()
        order.append((i, loop.time() - started))

    await asyncio.gather(*(request(i) for i in range(5)))
    assert [i for i, _ in order] == [0, 1, 2, 3, 4]
    assert [t for _, t in order] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


@pytest.mark.parametrize(("qps", "burst", "message"), [
    (0, 1, "qps must be a finite number > 0"),
    (float("inf"), 1, "qps must be a finite number > 0"),
    (1, 0, "burst must be an integer >= 1"),
    (1, 1.5, "burst must be an integer >= 1"),
])
def test_bad_limits_are_refused(qps, burst, message):
    with pytest.raises(InvalidArgument, match=message):
        TokenBucket(qps, burst)


def test_settings_refuse_bad_limits():
    with pytest.raises(ValueError, match=r"RuntimeSettings\.qps must be > 0"):
        RuntimeSettings(qps=0)
    with pytest.raises(ValueError, match=r"RuntimeSettings\.burst must be > 0"):
        RuntimeSettings(burst=0)
    assert RuntimeSettings().qps is None  # off by default


async def test_every_call_takes_a_token_and_a_watch_only_one(fake, kube):
    bucket = TokenBucket(1, 2, clock=LoopClock())
    limited = RateLimitedClient(kube, bucket)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await limited.create(CM, _cm("a"))
    await limited.get(CM, "a", "default")
    await limited.list(CM, "default")  # the third call waits 1 s
    assert loop.time() - started == pytest.approx(1.0)
    events = []
    async for event in limited.watch(CM, "default", timeout_seconds=2):
        events.append(event["type"])  # the stream's events take no tokens
    assert "ADDED" in events
    assert bucket.throttled == 2  # the list and the watch's start
    assert limited.observers is kube.observers  # everything else is the wrapped client's


async def test_an_operator_with_a_limit_is_throttled_and_counts_it(fake, kube, start_operator):
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler(), qps=2.0, burst=1)
    assert isinstance(operator.client, RateLimitedClient)
    mark = len(fake.requests)
    await kube.create(Bundle, bundle("b", [configmap(f"c{i}") for i in range(6)]))
    await eventually(lambda: _count_children(kube, 6), timeout=60.0)
    await operator.settle(timeout=60.0)
    ours = [r for r in fake.requests[mark:]
            if r.verb in ("create", "update", "patch") and
            (r.resource == "configmaps" or r.subresource == "status")]
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(ours)]
    assert len(ours) >= 7 and min(gaps) >= 0.5 - 1e-6, gaps  # never faster than 2 a second
    registry = operator.metrics.registry
    throttled = registry.get_sample_value(
        "kubeplan_client_rate_limited_requests_total", {"operator": "bundles"})
    waited = registry.get_sample_value(
        "kubeplan_client_rate_limit_wait_seconds_total", {"operator": "bundles"})
    assert throttled is not None and throttled >= 6
    assert waited is not None and waited >= 3.0


async def test_without_a_limit_nothing_waits(fake, kube, start_operator):
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    assert operator.rate_limit is None and not isinstance(operator.client, RateLimitedClient)


async def test_writes_honour_retry_after(fake, kube):
    fake.faults.add(Fault.too_many_requests(retry_after=3, verb="create"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await kube.create(CM, _cm("a"))
    assert loop.time() - started == pytest.approx(3.0)  # the server's Retry-After, exactly


async def _count_children(kube, n: int) -> bool:
    return len((await kube.list(CM, "default"))["items"]) == n
