"""The requeue limit: client-go's default controller rate limiter, per parent streaks."""

from __future__ import annotations

import asyncio

import pytest

from kubeplan.adapters.backoff import RequeueLimiter
from kubeplan.adapters.queue import WorkQueue
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.testkit.vtime import LoopClock


class _Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_streak_doubles_from_5ms_and_is_capped_at_1000s() -> None:
    now = _Now()
    limiter = RequeueLimiter(qps=None, clock=now)
    assert limiter.delay("a") == 0  # never requeued: at once
    delays = []
    for _ in range(20):
        limiter.requeued("a")
        delays.append(limiter.delay("a"))
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert limiter.delay("b") == 0  # per key


def test_a_streak_ends_once_the_key_stayed_settled_long_enough() -> None:
    now = _Now()
    limiter = RequeueLimiter(qps=None, quiet=10.0, clock=now)
    for _ in range(3):
        limiter.requeued("a")
    assert limiter.delay("a") == 0.02
    now.t = 2 * 0.02 + 10.0  # exactly twice its delay plus quiet: still counts
    assert limiter.streak("a") == 3
    now.t += 0.001
    assert limiter.streak("a") == 0 and limiter.delay("a") == 0
    limiter.requeued("a")
    assert limiter.delay("a") == 0.005
    limiter.reset("a")
    assert limiter.delay("a") == 0


def test_the_bucket_is_shared_and_taken_from_the_second_requeue_in_a_row() -> None:
    now = _Now()
    limiter = RequeueLimiter(qps=10.0, burst=2, clock=now)
    limiter.requeued("a")
    assert [limiter.delay("a") for _ in range(5)] == [0.005] * 5  # first requeue: no token
    for key in "abc":
        limiter.requeued(key)
    limiter.requeued("c")
    # a and c are on their second requeue: two tokens (the burst), then 0.1 s apart
    assert limiter.delay("a") == 0.01
    assert limiter.delay("c") == 0.01
    assert limiter.delay("a") == pytest.approx(0.1)
    assert limiter.delay("c") == pytest.approx(0.2)
    now.t = 0.3  # the debt of two tokens paid, and one token back
    assert limiter.delay("a") == pytest.approx(0.01)
    assert limiter.delay("b") == 0.005  # b's first requeue takes none


async def test_the_queue_applies_the_limit_and_coalesces_without_taking_tokens() -> None:
    loop = asyncio.get_running_loop()
    queue: WorkQueue[str] = WorkQueue(clock=LoopClock())
    assert queue.add_limited("a") == 0  # a child changed: at once
    assert await queue.get() == "a"
    assert queue.requeue("a") == 0.005  # handed out after done and 5 ms
    queue.done("a")
    started = loop.time()
    assert await queue.get() == "a"
    assert loop.time() - started == pytest.approx(0.005)
    queue.done("a")
    assert queue.requeue("a") == 0.01
    assert queue.add_limited("a") == 0  # waiting already: coalesced
    queue.drop("a")  # the parent is gone: nothing pending, no streak
    assert queue.delayed == 0 and queue.requeues("a") == 0


async def test_a_child_change_does_not_wait_behind_a_later_resync() -> None:
    loop = asyncio.get_running_loop()
    queue: WorkQueue[str] = WorkQueue(clock=LoopClock())
    queue.add_after("a", 600)  # resync_after
    queue.add_limited("a")
    started = loop.time()
    assert await queue.get() == "a"
    assert loop.time() == started


def test_the_limit_can_be_turned_off_and_is_validated() -> None:
    assert RuntimeSettings(requeue_base=0, requeue_qps=None).requeue_base == 0
    limiter = RequeueLimiter(base=0.0, qps=None)
    for _ in range(100):
        limiter.requeued("a")
    assert limiter.delay("a") == 0
    with pytest.raises(ValueError, match="requeue_base must be >= 0"):
        RuntimeSettings(requeue_base=-1)
    with pytest.raises(ValueError, match="requeue_qps must be > 0"):
        RuntimeSettings(requeue_qps=0)
