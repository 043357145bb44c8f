"""Recording an example operator at work on the in-process fake, in virtual time (shared
by the replay tests and bench/record_bench.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.simulation import install_crd
from kubeplan.testkit.vtime import LoopClock, run_virtual

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "echo-server"))

import echo_server_operator as echo  # noqa: E402

ECHO: OperatorDefinition = echo.operator


def echo_server(name: str, greeting: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": echo.EchoServer.api_version, "kind": echo.EchoServer.kind,
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"greeting": greeting, "replicas": replicas}}


async def arecord_echo(path: Path, parents: int = 3, *, workers: int = 4,
                       settings: RuntimeSettings | None = None) -> Operator:
    """Run echo-server with ``settings.record = path``: ``parents`` EchoServers created,
    settled, the first one's greeting and replicas changed, one deleted, settled, stopped."""
    settings = settings or RuntimeSettings(
        workers=workers, handler_threads=False, seed=1, record=str(path))
    async with FakeApiServer(clock=LoopClock(), seed=3) as server:
        await install_crd(server, crd_of(ECHO))
        user = InProcessClient(server, user="user")
        operator = Operator(ECHO.config, ECHO.handler, InProcessClient(server, user="kubeplan"),
                            settings=settings, clock=LoopClock())
        task = asyncio.create_task(operator.run())
        await operator.wait_synced()
        for i in range(parents):
            await user.create(echo.EchoServer, echo_server(f"echo-{i}", "hello", 2))
        await operator.settle(timeout=600)
        first = await user.get(echo.EchoServer, "echo-0", "default")
        first["spec"] = {"greeting": "bonjour", "replicas": 3}
        await user.replace(echo.EchoServer, first)
        if parents > 1:
            await user.delete(echo.EchoServer, "echo-1", "default")
        await operator.settle(timeout=600)
        await operator.stop()
        await task
        return operator


def record_echo(path: Path, parents: int = 3, **kw: Any) -> Operator:
    return run_virtual(arecord_echo(path, parents, **kw))
