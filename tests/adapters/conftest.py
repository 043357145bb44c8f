"""Shared fixtures: the fake API server over HTTP, KubeClients pointed at it, operators.

Every adapter test talks HTTP to the testkit's fake API server through the real
``KubeClient`` (kubernetes_asyncio's connection pool, our raw-JSON requests): no mocks.
``kube`` is "someone else" (the test, kubectl); each operator gets its own client so the
requests it makes can be told apart.

Every async test here runs on virtual time (``kubeplan.testkit.vtime.VirtualTimeLoop``):
the fake, the operators and the tests all read one ``LoopClock``, a sleep costs no real
time, and "nothing happened" is asserted at an exact virtual instant. The HTTP faces talk
over loopback inside the same loop, which the virtual loop sees before it moves the
clock. A test that talks to another process (``@pytest.mark.real_time``) runs on an
ordinary loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from adapter_testing import BUNDLE_CRD, FAST, TENANT_CRD

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import OperatorConfig
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition
from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.vtime import LoopClock, VirtualTimeLoop


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_time: runs on an ordinary event loop (it waits on another process)"
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.get_closest_marker("real_time") is not None:
        return {"real": asyncio.SelectorEventLoop}
    return {"virtual": VirtualTimeLoop}


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with FakeApiServer(clock=LoopClock()) as server:
        yield server


@pytest.fixture
async def http(fake: FakeApiServer) -> AsyncIterator[FakeApiHttpServer]:
    async with FakeApiHttpServer(fake) as server:
        yield server


@pytest.fixture
async def kube(http: FakeApiHttpServer) -> AsyncIterator[KubeClient]:
    client = KubeClient.for_url(http.url)
    yield client
    await client.close()


@pytest.fixture
async def crds(kube: KubeClient) -> None:
    for crd in (BUNDLE_CRD, TENANT_CRD):
        await kube.create(CustomResourceDefinition, crd)


@pytest.fixture
async def start_operator(
    http: FakeApiHttpServer, crds: None
) -> AsyncIterator[Callable[..., Awaitable[Operator]]]:
    """``await start_operator(config, handler, **settings)``: a running, synced operator
    with its own client; stopped (and its client closed) at the end of the test."""
    running: list[tuple[Operator, asyncio.Task[None]]] = []

    async def start(config: OperatorConfig, handler: Any, **overrides: Any) -> Operator:
        settings = FAST if not overrides else _evolve(FAST, overrides)
        client = KubeClient.for_url(http.url)
        operator = Operator(config, handler, client, settings=settings, owns_client=True,
                            clock=LoopClock())
        task = asyncio.create_task(operator.run())
        running.append((operator, task))
        async with asyncio.timeout(10):
            await operator.wait_synced()
        return operator

    yield start
    for operator, task in running:
        await operator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _evolve(settings: RuntimeSettings, overrides: dict[str, Any]) -> RuntimeSettings:
    import attrs

    return attrs.evolve(settings, **overrides)
