"""The work queue: coalescing, one key in flight, delayed adds and per-key backoff."""

from __future__ import annotations

import asyncio
import random

import pytest

from kubeplan.adapters.backoff import Backoff, KeyedBackoff
from kubeplan.adapters.queue import WorkQueue
from kubeplan.testkit.vtime import LoopClock


async def _get(queue: WorkQueue, timeout: float = 1.0):
    async with asyncio.timeout(timeout):
        return await queue.get()


async def test_duplicate_adds_coalesce():
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(5):
        queue.add("a")
    queue.add("b")
    assert queue.depth == 2
    assert await _get(queue) == "a"
    assert await _get(queue) == "b"
    assert queue.depth == 0


async def test_a_key_added_while_in_flight_is_handed_out_only_after_done():
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await _get(queue) == "a"
    queue.add("a")
    queue.add("a")
    with pytest.raises(TimeoutError):
        await _get(queue, timeout=3600)  # never twice in flight (for a virtual hour)
    queue.done("a")
    assert await _get(queue) == "a"  # the adds while in flight coalesced into one
    queue.done("a")
    assert queue.is_idle()


async def test_add_after_hands_the_key_out_later_and_the_earliest_schedule_wins():
    queue: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue.add_after("a", 5.0)
    queue.add_after("a", 0.05)
    queue.add_after("a", 3.0)  # later than the pending one: ignored
    assert await _get(queue) == "a"
    elapsed = loop.time() - start
    assert elapsed == pytest.approx(0.05)  # virtual time: the earliest schedule, exactly
    assert queue.delayed == 0


async def test_rate_limited_adds_back_off_exponentially_and_forget_resets():
    backoff = Backoff(base=0.01, cap=1.0, jitter=0.0)
    queue: WorkQueue[str] = WorkQueue(backoff)
    delays = [queue.add_rate_limited("a") for _ in range(4)]
    assert delays == [0.01, 0.02, 0.04, 0.08]
    queue.forget("a")
    assert queue.add_rate_limited("a") == 0.01
    assert await _get(queue) == "a"


async def test_shutdown_wakes_waiting_workers_and_stops_handing_out_keys():
    queue: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add_after("later", 10)
    queue.shutdown()
    assert await asyncio.wait_for(waiter, 1) is None
    queue.add("a")
    assert await _get(queue) is None
    assert queue.delayed == 0


async def test_workers_share_keys_without_running_one_key_twice():
    queue: WorkQueue[int] = WorkQueue()
    running: set[int] = set()
    seen: list[int] = []

    async def worker() -> None:
        while (key := await queue.get()) is not None:
            assert key not in running
            running.add(key)
            await asyncio.sleep(0.001)
            seen.append(key)
            running.discard(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(3):
        for key in range(20):
            queue.add(key)
        await asyncio.sleep(0.002 * round_)
    async with asyncio.timeout(2):
        await queue.wait_idle()
    queue.shutdown()
    await asyncio.gather(*workers)
    assert set(seen) == set(range(20))


async def test_depth_and_latency_are_observed():
    depths: list[int] = []
    latencies: list[float] = []
    queue: WorkQueue[str] = WorkQueue(on_depth=depths.append, on_latency=latencies.append,
                                      clock=LoopClock())
    queue.add("a")
    queue.add("b")
    await asyncio.sleep(1.5)
    await _get(queue)
    assert depths[:3] == [1, 2, 1]
    assert latencies == [pytest.approx(1.5)]  # queued for 1.5 virtual seconds, exactly


def test_backoff_is_capped_and_jittered_within_bounds():
    backoff = Backoff(base=1.0, cap=10.0, jitter=0.2, rng=random.Random(7))
    for failures in range(1, 200):
        delay = backoff.delay(failures)
        expected = min(10.0, 2.0 ** (failures - 1))
        assert expected * 0.8 - 1e-9 <= delay <= min(10.0, expected * 1.2) + 1e-9
    assert backoff.delay(0) == 0.0


def test_keyed_backoff_counts_per_key():
    keyed = KeyedBackoff(Backoff(base=1.0, cap=100.0, jitter=0.0))
    assert keyed.failure("a") == 1.0
    assert keyed.failure("a") == 2.0
    assert keyed.failure("b") == 1.0
    keyed.reset("a")
    assert keyed.failures("a") == 0
    assert keyed.failure("a") == 1.0
