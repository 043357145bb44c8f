"""Replicas of one operator against one fake API server (over HTTP, virtual time, short
leases): start them, kill one (cancel its task: no release, as a crash), stop the rest."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import attrs
from adapter_testing import FAST

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.runtime import Operator
from kubeplan.core.config import OperatorConfig
from kubeplan.testkit.vtime import LoopClock

#: D = 1.5 s, RD = 1.0 s, R = 0.25 s: a failover takes well under 2 s
LEASES = {"lease_duration": 1.5, "renew_deadline": 1.0, "retry_period": 0.25}


class Replicas:
    def __init__(self, url: str) -> None:
        self.url = url
        self.running: dict[str, tuple[Operator, asyncio.Task[None]]] = {}

    async def start(self, identity: str, config: OperatorConfig, handler: Any,
                    **settings: Any) -> Operator:
        client = KubeClient.for_url(self.url)
        operator = Operator(
            config, handler, client, owns_client=True,
            settings=attrs.evolve(FAST, identity=identity, lease_namespace="default",
                                  **LEASES, **settings),
            clock=LoopClock(),
        )
        task = asyncio.create_task(operator.run(), name=f"replica {identity}")
        self.running[identity] = (operator, task)
        async with asyncio.timeout(10):
            await operator.wait_synced()
        return operator

    async def kill(self, identity: str) -> None:
        _operator, task = self.running.pop(identity)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def stop_all(self) -> None:
        for operator, task in self.running.values():
            await operator.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.running.clear()
