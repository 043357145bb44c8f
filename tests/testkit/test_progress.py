"""The progress guard: a step that stops making progress fails, naming the step, the
requests, the virtual time and the busiest request kinds, instead of growing without bound."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kubeplan.adapters.errors import NotFound
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.progress import NoProgress, ProgressBudget, ProgressGuard
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import Advance, CreateParent, Scenario
from kubeplan.testkit.vtime import LoopClock, VirtualTimeLoop, virtual_time

CM = core_v1.ConfigMap


def _cm(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}}


@contextlib.asynccontextmanager
async def _running(coro: object) -> AsyncIterator[asyncio.Task[None]]:
    task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _storm(server: FakeApiServer) -> None:
    """A deliberately busy-looping "operator": it creates a child and deletes it again,
    forever, and every request takes no virtual time (the stale-cache storm's shape)."""
    client = InProcessClient(server, user="busy", read_attempts=1, write_attempts=1)
    while True:
        await client.create(CM, _cm("p-1-a"))
        with contextlib.suppress(NotFound):
            await client.delete(CM, "p-1-a", "default")


@virtual_time
async def test_a_request_storm_fails_the_step_it_happens_in() -> None:
    async with FakeApiServer(clock=LoopClock()) as server:
        with ProgressGuard(server, ProgressBudget(requests=2_000)) as guard:
            async with guard.step("step 3 (create parent p-1)"):
                await asyncio.sleep(1.5)  # a step that finishes is not touched
            async with _running(_storm(server)):
                with pytest.raises(NoProgress) as caught:
                    async with guard.step("step 4 (delete parent p-1)", allow_seconds=20):
                        await asyncio.sleep(20)  # never reached: the storm freezes the clock
        assert str(caught.value) == (
            "step 4 (delete parent p-1): 2,000 requests in 0 virtual s without finishing "
            "(budget 2,000) -- busiest: create configmaps 1,000, delete configmaps 1,000"
        )
        assert caught.value.step == "step 4 (delete parent p-1)"
        assert caught.value.requests == 2_000
        assert caught.value.virtual_seconds == 0.0
        assert caught.value.busiest == (("create configmaps", 1_000),
                                        ("delete configmaps", 1_000))
        assert asyncio.get_running_loop().time() == pytest.approx(1.5)  # the clock froze
        assert guard.peak_virtual_seconds == pytest.approx(1.5)
        assert server.request_observers == []  # detached


@virtual_time
async def test_a_busy_loop_without_requests_fails_on_loop_turns() -> None:
    async def spin() -> None:
        while True:
            await asyncio.sleep(0)

    async with FakeApiServer(clock=LoopClock()) as server:
        with ProgressGuard(server, ProgressBudget(turns_at_one_instant=5_000)) as guard:
            await asyncio.sleep(7)
            async with _running(spin()):
                with pytest.raises(NoProgress, match=r"^step 2 \(advance 3 s\): 5,000 "
                                   r"event-loop turns at virtual 7 s without the clock moving "
                                   r"\(a busy loop; budget 5,000\) and 0 requests -- busiest: "
                                   r"none$"):
                    async with guard.step("step 2 (advance 3 s)", allow_seconds=3):
                        await asyncio.sleep(3)
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        # the alarm is removed with the guard: the loop may spin again
        for _ in range(6_000):
            await asyncio.sleep(0)


@virtual_time
async def test_a_wait_that_never_ends_fails_on_virtual_time() -> None:
    async def renew_a_lease(client: InProcessClient) -> None:
        while True:  # time keeps moving, so the clock alone is no sign of progress
            await asyncio.sleep(2)
            with contextlib.suppress(NotFound):
                await client.get(CM, "lease", "default")

    async with FakeApiServer(clock=LoopClock()) as server:
        client = InProcessClient(server, user="renewer", read_attempts=1)
        with ProgressGuard(server, ProgressBudget(virtual_seconds=60)) as guard:
            async with _running(renew_a_lease(client)):
                # allowed its own 10 s: 69.9 s is within budget ...
                async with guard.step("step 1 (advance 10 s)", allow_seconds=10):
                    await asyncio.sleep(69.9)
                never = asyncio.Event()
                started = asyncio.get_running_loop().time()
                with pytest.raises(NoProgress) as caught:
                    async with guard.step("settle after the faults stopped"):
                        await never.wait()
                took = asyncio.get_running_loop().time() - started
        assert took == pytest.approx(60)  # ... and a wait ends exactly at its budget
        assert str(caught.value) == (
            "settle after the faults stopped: 60 virtual s without finishing (budget 60 s) "
            "and 30 requests -- busiest: get configmaps 30"
        )


@virtual_time
async def test_a_step_that_swallows_the_cancellation_still_fails() -> None:
    async with FakeApiServer(clock=LoopClock()) as server:
        with ProgressGuard(server, ProgressBudget(requests=100)) as guard:
            async with _running(_storm(server)):
                with pytest.raises(NoProgress, match="100 requests"):
                    async with guard.step("kill replica 1"):
                        with contextlib.suppress(asyncio.CancelledError):
                            await asyncio.sleep(5)
                assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
                with pytest.raises(NoProgress, match="kill replica 1"):  # tripped stays tripped
                    async with guard.step("the next step"):
                        pass


def test_budgets_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"ProgressBudget.requests must be positive, got 0"):
        ProgressBudget(requests=0)
    with pytest.raises(ValueError, match="virtual_seconds"):
        ProgressBudget(virtual_seconds=-1)


Flip = K8sType("flip.kubeplan.dev/v1", "Flip", "flips")
FLIP = OperatorConfig("flips", Flip).with_child(CM, ChildConfig.replace())


def test_the_scenario_runner_stops_a_storm_the_handler_counter_does_not_see() -> None:
    """An operator whose every sync wants the other child of two never settles; with the
    handler-call alarms out of the way the progress budget stops the run."""
    calls = 0

    def flip(request: SyncRequest) -> SyncResponse:
        nonlocal calls
        calls += 1
        name = f"{request.name}-{'a' if calls % 2 else 'b'}"
        return SyncResponse(children=[{"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": name}, "data": {"v": "1"}}])

    scenario = Scenario(steps=[CreateParent("p-1", {}), Advance(20)])
    trace = run_scenario((FLIP, flip), scenario, same_instant_limit=10**9,
                         step_limit=10**9, budget=ProgressBudget(requests=2_000))
    assert trace.hot_loop is not None
    assert trace.hot_loop.startswith(
        "step 2 (advance 20s): 2,000 requests in 0 virtual s without finishing "
        "(budget 2,000) -- busiest: "
    ), trace.hot_loop
    assert "create configmaps" in trace.hot_loop
    assert f"stopped: {trace.hot_loop}" in str(trace)
