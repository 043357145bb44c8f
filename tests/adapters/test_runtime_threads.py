"""A synchronous handler runs off the event loop: a slow one holds up neither the other
parents nor the health probes and watches, and the sync's timeout holds for it."""

from __future__ import annotations

import threading
from typing import Any

import aiohttp
import pytest
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually

from kubeplan.adapters.errors import NotFound
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest

CM = core_v1.ConfigMap


class Blocking(BundleHandler):
    """Blocks every sync of the parent ``slow`` until ``release`` is set (or ``limit``
    real seconds passed, so that a handler run on the loop cannot hang the test)."""

    def __init__(self, limit: float) -> None:
        super().__init__()
        self.limit = limit
        self.release = threading.Event()
        self.blocking = threading.Event()
        self.slow_calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.timed_out = False
        self.seen_while_blocked: set[str] = set()

    def sync(self, request: SyncRequest) -> Any:
        if request.name == "slow":
            with self.lock:
                self.slow_calls += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.blocking.set()
            try:
                self.timed_out |= not self.release.wait(self.limit)
            finally:
                with self.lock:
                    self.in_flight -= 1
        elif self.blocking.is_set() and not self.release.is_set():
            self.seen_while_blocked.add(request.name)
        return super().sync(request)


async def _exists(kube: Any, name: str) -> bool:
    try:
        await kube.get(CM, name, "default")
    except NotFound:
        return False
    return True


@pytest.mark.real_time  # virtual time stands still while a handler thread runs
async def test_a_slow_handler_holds_up_neither_other_parents_nor_the_probes(
        kube: Any, start_operator: Any) -> None:
    handler = Blocking(limit=5.0)
    operator = await start_operator(BUNDLE_CONFIG, handler, health_port=0,
                                    health_host="127.0.0.1")
    await kube.create(Bundle, bundle("slow", [configmap("slow-child")]))
    await eventually(lambda: _async(handler.blocking.is_set()))
    # while the slow parent's handler is blocked: another parent converges (its watch
    # events arrive, its handler runs) and the probes answer
    await kube.create(Bundle, bundle("fast", [configmap("fast-child")]))
    await eventually(lambda: _exists(kube, "fast-child"))
    assert operator.health is not None
    async with aiohttp.ClientSession() as session:
        for probe in ("healthz", "readyz"):
            url = f"http://127.0.0.1:{operator.health.port}/{probe}"
            async with session.get(url) as response:
                assert response.status == 200, probe
    assert "fast" in handler.seen_while_blocked
    assert not handler.release.is_set()
    handler.release.set()
    await eventually(lambda: _exists(kube, "slow-child"))
    assert not handler.timed_out


@pytest.mark.real_time
async def test_a_handler_past_the_sync_timeout_counts_as_timed_out_and_is_not_doubled(
        kube: Any, start_operator: Any) -> None:
    # a thread cannot be killed: the call runs on, and the retries of its parent wait
    # for it instead of starting a second one
    handler = Blocking(limit=30.0)
    operator = await start_operator(BUNDLE_CONFIG, handler, sync_timeout=0.2)
    await kube.create(Bundle, bundle("slow", [configmap("slow-child")]))

    def timeouts() -> float:
        return operator.metrics.syncs.labels("bundles", "timeout")._value.get()

    await eventually(lambda: _async(timeouts() >= 3))
    assert handler.slow_calls == 1 and handler.most_in_flight == 1
    handler.release.set()
    await eventually(lambda: _exists(kube, "slow-child"))
    assert handler.most_in_flight == 1 and handler.slow_calls >= 2


async def test_handlers_on_the_loop_when_asked(kube: Any, start_operator: Any) -> None:
    seen: list[bool] = []

    class OnLoop(BundleHandler):
        def sync(self, request: SyncRequest) -> Any:
            seen.append(threading.current_thread() is threading.main_thread())
            return super().sync(request)

    await start_operator(BUNDLE_CONFIG, OnLoop(), handler_threads=False)
    await kube.create(Bundle, bundle("b", [configmap("one")]))
    await eventually(lambda: _exists(kube, "one"))
    assert seen and all(seen)


async def _async(value: Any) -> Any:
    return value
