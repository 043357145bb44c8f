"""Virtual time for asyncio: timers fire in order, instantly, on a deterministic clock.

Operators are full of waits — requeue after 30 s, backoff up to 5 minutes, lease renewals,
watch timeouts — and a test that really waits for them is slow and flaky. Following the
idea of ``looptime`` in kopf's tests, ``VirtualTimeLoop`` keeps its own clock: whenever the
loop has nothing ready to run and would sleep until its next timer, it jumps the clock
straight to that timer instead. ``await asyncio.sleep(3600)`` returns at once in real
time, ``loop.time()`` has advanced by exactly 3600, and every ``call_later``,
``asyncio.timeout`` and ``wait_for`` deadline fires in the same order as it would in real
time.

Guarantees:

- Determinism. The clock only moves when the loop is idle, by the distance to the next
  timer (or when a test steps it with ``advance``), so the same program gives the same
  order of callbacks and the same virtual timestamps on every run (ties between timers
  are broken by asyncio's heap, which is itself deterministic for the same sequence of
  calls).
- One clock. ``LoopClock`` reads this loop: it is the virtual ``Clock`` the runtime, the
  fake API server and the scenario runner share.
- Real I/O is still seen. Before each jump the loop polls its selector with a zero
  timeout, so data already waiting on a socket, a thread's ``call_soon_threadsafe`` and
  signal wake-ups are processed first. When nothing at all is scheduled, the loop blocks
  on real I/O as usual; it never busy-spins.
- Threads take no virtual time. While a call submitted with ``run_in_executor`` (and so
  ``asyncio.to_thread`` and ``getaddrinfo``) is running, the clock does not jump: the loop
  waits in real time for the thread, then carries on at the same virtual instant.

Caveats:

- Real sockets to anything slower than loopback must not be used under virtual time: if a
  reply is not already readable when the loop polls, the clock jumps to the next timer
  (a client timeout, say) before the reply arrives. Loopback I/O between two parts of the
  same loop (the fake API server's HTTP face and a client) is fine because the kernel
  delivers it within the sending call.
- Threads started by hand (not through ``run_in_executor``) are invisible to the loop; a
  timer may fire before such a thread calls back. Use ``run_in_executor``/``to_thread``.
- Time spent running callbacks is not counted: code that busy-loops on ``loop.time()``
  without awaiting never sees the clock move, and tasks that always have something ready
  keep the loop from ever being idle, which freezes the clock (``set_spin_alarm`` and
  ``kubeplan.testkit.progress`` turn that into a failure).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import selectors
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, TypeVarTuple, overload

from kubeplan.core.errors import InvalidArgument, UsageError, WrongArgumentType

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: The wall-clock instant that virtual time 0.0 stands for. Fixed, so that timestamps a
#: test produces (creationTimestamp, condition times, lease renewals) are the same on
#: every run and every machine.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# While a thread started by run_in_executor is running, the loop waits for it in slices
# of this many real seconds, so a lost wake-up can never hang the loop.
_THREAD_WAIT_SLICE = 0.05


class _VirtualSelector(selectors.BaseSelector):
    """A selector that turns "wait ``timeout`` seconds for I/O" into a clock jump.

    The event loop computes ``timeout`` as the distance to its next timer (0 when callbacks
    are ready, None when nothing is scheduled) and calls ``select(timeout)``. This is the
    one place where the loop would sleep, so it is the one place where virtual time moves.
    Wrapping the selector, rather than overriding the loop's private ``_run_once``, keeps
    asyncio's own scheduling code in charge of ordering.
    """

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self._loop._turned()
        if timeout is None:
            # Nothing is scheduled: only real I/O (or a thread) can wake the loop.
            return self._inner.select(None)
        ready = self._inner.select(0)
        if ready or timeout <= 0:
            return ready
        if self._loop._threads_in_flight():
            # A thread's work takes no virtual time: wait for it in real time.
            return self._inner.select(min(timeout, _THREAD_WAIT_SLICE))
        self._loop._advance(timeout)
        return []

    # Everything else is plain delegation to the real selector.
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose ``time()`` is virtual and jumps over idle waits.

    ``start`` is the virtual time at which the loop begins (seconds; ``LoopClock`` maps
    0.0 to ``EPOCH``). See the module docstring for the guarantees and the limits.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        self._threads_lock = threading.Lock()
        self._threads_running = 0
        self._turns = 0
        self._spin_limit = 0
        self._on_spin: Callable[[int], None] | None = None
        super().__init__(_VirtualSelector(selectors.DefaultSelector(), self))

    def time(self) -> float:
        """The virtual time in seconds; moves only when the loop is idle."""
        return self._virtual_now

    def _advance(self, seconds: float) -> None:
        if seconds > 0:
            self._virtual_now += seconds
            self._turns = 0

    def _turned(self) -> None:
        self._turns += 1
        if self._turns == self._spin_limit and self._on_spin is not None:
            self._on_spin(self._turns)

    @property
    def turns_at_this_instant(self) -> int:
        """How many times the loop has turned since its clock last moved."""
        return self._turns

    def set_spin_alarm(self, limit: int, callback: Callable[[int], None] | None) -> None:
        """Call ``callback(turns)`` once the loop has turned ``limit`` times without its
        clock moving; ``callback=None`` removes the alarm.

        A busy loop in virtual time (tasks that always have something ready, so the loop
        is never idle) freezes the clock: no timer, timeout or deadline ever fires, and
        the run grows without bound. The callback runs inside the loop's turn, so it must
        only schedule (cancel a task, set an event), never block or raise.
        """
        if callback is not None and limit < 1:
            raise InvalidArgument(f"a spin alarm needs a limit of at least 1 turn, got {limit}")
        self._spin_limit, self._on_spin = (limit, callback) if callback is not None else (0, None)

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by hand, without waiting for the loop to be idle.

        Every timer that is now due (``asyncio.sleep``, ``call_later``, timeouts) fires at
        the loop's next turn, in deadline order: ``await asyncio.sleep(0)`` after advancing
        lets the woken coroutines run. For tests that step time themselves (a lease test
        advancing a quarter second at a time and checking an invariant at every instant).
        """
        if seconds < 0:
            raise InvalidArgument(f"virtual time cannot go backwards (advance({seconds}))")
        self._advance(float(seconds))

    def _threads_in_flight(self) -> bool:
        with self._threads_lock:
            return self._threads_running > 0

    def run_in_executor(
        self, executor: concurrent.futures.Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        """Run ``func`` in a thread; virtual time stands still until it finishes."""
        with self._threads_lock:
            self._threads_running += 1
        try:
            future = super().run_in_executor(executor, func, *args)
        except BaseException:
            self._thread_done()
            raise
        # The callback runs on the loop once the thread's result has been delivered (a
        # cancelled awaiter releases the hold early: nobody waits for that thread any more).
        future.add_done_callback(lambda _f: self._thread_done())
        return future

    def _thread_done(self) -> None:
        with self._threads_lock:
            self._threads_running -= 1


class VirtualTimeLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy that makes ``VirtualTimeLoop``s.

    For pytest-asyncio: override its ``event_loop_policy`` fixture to return an instance,
    and every ``async def`` test in scope runs on virtual time.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._start = start

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return VirtualTimeLoop(start=self._start)


def run_virtual(coro: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run ``coro`` to completion on a fresh ``VirtualTimeLoop``, like ``asyncio.run``.

    Leftover tasks are cancelled and async generators closed on the way out, exactly as
    ``asyncio.run`` does, because it is ``asyncio.Runner`` underneath.
    """
    with asyncio.Runner(loop_factory=functools.partial(VirtualTimeLoop, start=start)) as runner:
        return runner.run(coro)


AsyncTest = Callable[..., Awaitable[Any]]


@overload
def virtual_time(func: AsyncTest, /) -> Callable[..., Any]: ...
@overload
def virtual_time(*, start: float = 0.0) -> Callable[[AsyncTest], Callable[..., Any]]: ...


def virtual_time(
    func: AsyncTest | None = None, /, *, start: float = 0.0
) -> Callable[..., Any] | Callable[[AsyncTest], Callable[..., Any]]:
    """Decorate an ``async def`` test so it runs on its own ``VirtualTimeLoop``.

    ``@virtual_time`` or ``@virtual_time(start=100.0)``. The result is a plain function, so
    pytest (and pytest-asyncio in auto mode) calls it like any synchronous test; its
    signature is the wrapped function's, so fixtures and hypothesis ``@given`` arguments
    are passed through.
    """

    def decorate(test: AsyncTest) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(test):
            raise WrongArgumentType(f"@virtual_time needs an async def function, got {test!r}")

        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            return run_virtual(test(*args, **kwargs), start=start)

        return run

    return decorate(func) if func is not None else decorate


class LoopClock:
    """A clock read from an event loop: ``EPOCH + loop.time()``; the one virtual ``Clock``.

    The runtime, the fake API server's store and the scenario runner take a ``Clock``
    (``now()``, ``monotonic()``, ``async sleep(seconds)``); on a ``VirtualTimeLoop`` this
    one makes every timestamp deterministic, and on an ordinary loop it still works (with
    real, monotonic time). With ``loop=None`` the clock reads whichever loop is running
    when it is asked.

    Time normally moves by itself, whenever the loop is idle. A test that wants to step
    time by hand calls ``advance(seconds)`` or ``set(when)`` (on a ``VirtualTimeLoop``
    only): the loop's own clock moves, so every sleeper and timeout that is due fires.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *, epoch: datetime = EPOCH
    ) -> None:
        if epoch.tzinfo is None:
            raise InvalidArgument("LoopClock epoch must be timezone-aware (use UTC)")
        self._loop = loop
        self.epoch = epoch

    def _current_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None:
            return self._loop
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            raise UsageError(
                "LoopClock(loop=None) reads the running event loop; call it from inside "
                "the loop, or pass loop= explicitly"
            ) from None

    def monotonic(self) -> float:
        """Seconds on the loop's clock (virtual seconds on a ``VirtualTimeLoop``)."""
        return self._current_loop().time()

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime, ``epoch + monotonic()``."""
        return self.epoch + timedelta(seconds=self.monotonic())

    async def sleep(self, seconds: float) -> None:
        """Sleep on the loop's clock (instant in real time on a ``VirtualTimeLoop``)."""
        await asyncio.sleep(max(0.0, seconds))

    def _virtual_loop(self, what: str) -> VirtualTimeLoop:
        loop = self._current_loop()
        if not isinstance(loop, VirtualTimeLoop):
            raise WrongArgumentType(
                f"LoopClock.{what} moves virtual time, so it needs a VirtualTimeLoop, but the "
                f"loop is a {type(loop).__name__} (run the test with @virtual_time, "
                "run_virtual() or a VirtualTimeLoop loop factory)"
            )
        return loop

    def advance(self, seconds: float) -> None:
        """Move the loop's virtual time forward by ``seconds``; due timers fire next turn.

        ``await asyncio.sleep(0)`` (or ``await server.settle()``) after advancing lets the
        woken coroutines react.
        """
        self._virtual_loop("advance()").advance(seconds)

    def set(self, when: datetime) -> None:
        """Jump to the absolute instant ``when`` (not earlier than ``now()``)."""
        if when.tzinfo is None:
            raise InvalidArgument(f"LoopClock.set() needs a timezone-aware instant, got {when!r}")
        loop = self._virtual_loop("set()")
        seconds = (when - self.now()).total_seconds()
        if seconds < 0:
            raise InvalidArgument(
                f"virtual time cannot go backwards: set({when.isoformat()}) is before "
                f"now ({self.now().isoformat()})"
            )
        loop.advance(seconds)

    def __repr__(self) -> str:
        return f"LoopClock(epoch={self.epoch.isoformat()})"


__all__ = [
    "EPOCH",
    "LoopClock",
    "VirtualTimeLoop",
    "VirtualTimeLoopPolicy",
    "run_virtual",
    "virtual_time",
]
