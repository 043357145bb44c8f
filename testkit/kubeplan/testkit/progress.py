"""A progress guard for runs in virtual time: a step that never ends fails, and says why.

In virtual time an operator stuck in a loop does not just make a test slow, it makes it
unbounded: a storm of requests that each take no virtual time keeps the loop busy, so the
clock never reaches the step's next deadline and the fake's request log grows until the
process runs out of memory; a wait that is never satisfied lets timers fire forever, so
virtual time grows without bound. ``ProgressGuard`` gives every step a budget:

- ``requests``: requests the fake API server answers during the step;
- ``virtual_seconds``: virtual time the step may take (beyond the time it asks for, such
  as an ``Advance`` step's own seconds);
- ``turns_at_one_instant``: event-loop turns without the clock moving (tasks that never
  let the loop go idle, whether or not they send requests).

When one runs out, the guard builds a ``NoProgress`` naming the step, the number of
requests, the virtual time reached and the busiest request kinds, e.g.::

    step 4 (delete parent p1): 50,000 requests in 0.3 virtual s without finishing
    (budget 50,000) -- busiest: create configmaps 24,990, delete configmaps 24,990

and either hands it to ``on_trip`` (the scenario runner turns it into its hot-loop alarm)
or, inside ``async with guard.step(label):``, cancels the step and raises it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from types import TracebackType

import attrs

from kubeplan.core.errors import InvalidArgument, KubeplanError, UsageError
from kubeplan.testkit.apiserver.request import RequestRecord
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.vtime import VirtualTimeLoop

__all__ = ["DEFAULT_BUDGET", "NoProgress", "ProgressBudget", "ProgressGuard"]


@attrs.frozen
class ProgressBudget:
    """What one step may use before it counts as making no progress (see the module)."""

    requests: int = 50_000
    virtual_seconds: float = 6 * 3600.0
    turns_at_one_instant: int = 1_000_000

    def __attrs_post_init__(self) -> None:
        for field in ("requests", "virtual_seconds", "turns_at_one_instant"):
            value = getattr(self, field)
            if not value > 0:
                raise InvalidArgument(f"ProgressBudget.{field} must be positive, got {value!r}")


DEFAULT_BUDGET = ProgressBudget()
"""Generous: the scenarios and the chaos suite stay far below it (see docs/testing.md)."""


class NoProgress(KubeplanError, AssertionError):
    """A step used up its progress budget; the message says which step and how."""

    def __init__(self, message: str, *, step: str, requests: int, virtual_seconds: float,
                 busiest: tuple[tuple[str, int], ...]) -> None:
        super().__init__(message)
        self.step = step
        self.requests = requests
        self.virtual_seconds = virtual_seconds
        self.busiest = busiest


def _kind(record: RequestRecord) -> str:
    resource = record.resource or record.path
    if record.subresource:
        resource = f"{resource}/{record.subresource}"
    return f"{record.verb} {resource}"


class ProgressGuard:
    """Counts a fake API server's requests and a ``VirtualTimeLoop``'s turns per step.

    ``start()`` (on the running loop) attaches it, ``close()`` detaches it; it is also a
    context manager doing both. ``begin(label)`` opens a new step window; the first budget
    that runs out in a window trips the guard once: ``tripped`` holds the ``NoProgress``,
    ``on_trip`` (if given) is called with it, and a step opened with ``step(label)`` is
    cancelled and raises it.
    """

    def __init__(self, server: FakeApiServer, budget: ProgressBudget = DEFAULT_BUDGET, *,
                 on_trip: Callable[[NoProgress], None] | None = None) -> None:
        self.server = server
        self.budget = budget
        self._on_trip = on_trip
        self.tripped: NoProgress | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._label = "start-up"
        self._started_at = 0.0
        self._requests = 0
        self._kinds: Counter[str] = Counter()
        self._deadline: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._cancelled = False
        #: the most any finished window used: (requests, virtual seconds, turns at one
        #: instant), for choosing budgets
        self.peak_requests = 0
        self.peak_virtual_seconds = 0.0
        self.peak_turns = 0

    # -- attaching -------------------------------------------------------------------------

    def start(self) -> None:
        """Attach to the server and the running loop (on an ordinary loop, which has no
        virtual clock to freeze, only the request and time budgets apply)."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.server.request_observers.append(self._observe)
        if isinstance(loop, VirtualTimeLoop):
            loop.set_spin_alarm(self.budget.turns_at_one_instant, self._spun)
        self.begin(self._label)

    def close(self) -> None:
        self._end_window()
        if self._observe in self.server.request_observers:
            self.server.request_observers.remove(self._observe)
        if isinstance(self._loop, VirtualTimeLoop):
            self._loop.set_spin_alarm(0, None)
        self._loop = None

    def _turns(self) -> int:
        loop = self._loop
        return loop.turns_at_this_instant if isinstance(loop, VirtualTimeLoop) else 0

    def __enter__(self) -> ProgressGuard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- windows ---------------------------------------------------------------------------

    def begin(self, label: str, *, allow_seconds: float = 0.0) -> None:
        """Open the window of step ``label``; it may take ``allow_seconds`` of virtual
        time on top of the budget (the step's own waiting, such as an ``Advance``)."""
        loop = self._loop
        if loop is None:
            raise UsageError("ProgressGuard.begin() before start()")
        self._end_window()
        self._label = label
        self._started_at = loop.time()
        self._requests = 0
        self._kinds.clear()
        self._deadline = loop.call_at(
            self._started_at + allow_seconds + self.budget.virtual_seconds, self._timed_out
        )

    def _end_window(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._loop is not None:
            self.peak_requests = max(self.peak_requests, self._requests)
            self.peak_virtual_seconds = max(self.peak_virtual_seconds, self._elapsed())
            self.peak_turns = max(self.peak_turns, self._turns())

    def _elapsed(self) -> float:
        return 0.0 if self._loop is None else self._loop.time() - self._started_at

    def step(self, label: str, *, allow_seconds: float = 0.0) -> _GuardedStep:
        """``async with guard.step(label):`` -- the body is cancelled, and ``NoProgress``
        raised, if the step runs out of budget."""
        return _GuardedStep(self, label, allow_seconds)

    # -- the budgets -----------------------------------------------------------------------

    def _observe(self, record: RequestRecord) -> None:
        self._requests += 1
        self._kinds[_kind(record)] += 1
        self.peak_turns = max(self.peak_turns, self._turns())
        if self._requests == self.budget.requests:
            self._trip(f"{self._requests:,} requests in {self._elapsed():.6g} virtual s "
                       f"without finishing (budget {self.budget.requests:,})")

    def _timed_out(self) -> None:
        self._deadline = None
        self._trip(f"{self._elapsed():,.6g} virtual s without finishing "
                   f"(budget {self.budget.virtual_seconds:,.6g} s) and "
                   f"{self._requests:,} requests")

    def _spun(self, turns: int) -> None:
        self.peak_turns = max(self.peak_turns, turns)
        self._trip(f"{turns:,} event-loop turns at virtual {self._now():.6g} s without the "
                   f"clock moving (a busy loop; budget {self.budget.turns_at_one_instant:,}) "
                   f"and {self._requests:,} requests")

    def _now(self) -> float:
        return 0.0 if self._loop is None else self._loop.time()

    def _trip(self, what: str) -> None:
        if self.tripped is not None:
            return
        busiest = tuple(self._kinds.most_common(3))
        shown = ", ".join(f"{kind} {count:,}" for kind, count in busiest) or "none"
        self.tripped = NoProgress(
            f"{self._label}: {what} -- busiest: {shown}",
            step=self._label, requests=self._requests, virtual_seconds=self._elapsed(),
            busiest=busiest,
        )
        if self._on_trip is not None:
            self._on_trip(self.tripped)
        if self._task is not None and self._loop is not None:
            # Between two task steps, never in the middle of one: the step's task is then
            # either waiting (its wait is cancelled) or about to resume inside the step.
            self._loop.call_soon(self._cancel_step, self._task)

    def _cancel_step(self, task: asyncio.Task[object]) -> None:
        if self._task is task and not task.done():
            self._cancelled = True
            task.cancel()


class _GuardedStep:
    """The async context manager of ``ProgressGuard.step`` (like ``asyncio.timeout``)."""

    def __init__(self, guard: ProgressGuard, label: str, allow_seconds: float) -> None:
        self._guard, self._label, self._allow = guard, label, allow_seconds

    async def __aenter__(self) -> ProgressGuard:
        guard = self._guard
        if guard.tripped is not None:
            raise guard.tripped
        guard.begin(self._label, allow_seconds=self._allow)
        guard._task = asyncio.current_task()
        guard._cancelled = False
        return guard

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        guard = self._guard
        task, guard._task = guard._task, None
        if guard.tripped is None:
            return
        if guard._cancelled and task is not None:
            task.uncancel()  # the cancellation was the guard's own, not the caller's
        if exc is None or isinstance(exc, asyncio.CancelledError):
            raise guard.tripped from None
        if isinstance(exc, Exception):  # a consequence of the cancellation, most likely
            raise guard.tripped from exc
