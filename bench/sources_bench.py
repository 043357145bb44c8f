"""What an external source's poller costs and how fast it follows a change.

A flag service on 127.0.0.1 (aiohttp, ETag and Last-Modified) serves the external-http
example's flags; the real runtime polls it (``HttpSource``, ``interval`` seconds, the
default 10 % jitter) against the fake API server in this process. It prints:

1. while nothing changes: requests per poll interval, how many were answered 304 and the
   body bytes sent, against a peer poller that sends plain GETs (what a loop around
   ``requests.get`` does: no validators), over the same number of intervals;
2. the time from a change at the service to the child ConfigMap updated: p50 and max over
   ``--changes`` changes, each made at a random moment within an interval, with the poll
   interval for scale (the wait for the next poll dominates: on average half of it).

    python bench/sources_bench.py [--interval 0.5] [--intervals 20] [--changes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "external-http"))

from external_http_operator import FlagSet, FlagSetSpec, config_for, sync

from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import crd_of
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.simulation import install_crd

FLAGS = [{"id": f"flag-{i}", "value": f"v{i}"} for i in range(200)]
PARENT = {"apiVersion": "example.kubeplan.dev/v1", "kind": "FlagSet",
          "metadata": {"name": "web", "namespace": "default"}, "spec": {}}


class Service:
    def __init__(self) -> None:
        self.flags = list(FLAGS)
        self.version = 1
        self.by_status: dict[int, int] = {}
        self.body_bytes = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        etag = f'"{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            self.by_status[304] = self.by_status.get(304, 0) + 1
            return web.Response(status=304, headers={"ETag": etag})
        response = web.json_response(self.flags, headers={"ETag": etag})
        self.by_status[200] = self.by_status.get(200, 0) + 1
        self.body_bytes += len(response.body)  # type: ignore[arg-type]
        return response

    def change(self, index: int) -> str:
        value = f"changed-{self.version}"
        self.flags = [dict(f) for f in self.flags]
        self.flags[index]["value"] = value
        self.version += 1
        return value

    def reset_counts(self) -> None:
        self.by_status, self.body_bytes = {}, 0


async def _serve(service: Service) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/flags", service.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/flags"


async def _peer(url: str, interval: float, intervals: int) -> None:
    """The peer: a plain GET every interval, its body parsed, no validators."""
    async with ClientSession() as session:
        for _ in range(intervals):
            async with session.get(url) as response:
                await response.json()
            await asyncio.sleep(interval)


async def main(interval: float, intervals: int, changes: int) -> None:
    service = Service()
    runner, url = await _serve(service)
    definition = OperatorDefinition(config_for(url, interval=interval), sync)
    rng = random.Random(7)
    try:
        # the peer first, alone: a plain GET every interval
        await _peer(url, interval, intervals)
        polls = sum(service.by_status.values())
        print(f"unchanged, {intervals} intervals of {interval:g}s: peer (plain GET) "
              f"{polls / intervals:.2f} requests per interval, "
              f"{service.by_status.get(304, 0)} of {polls} answered 304, "
              f"{service.body_bytes} body bytes ({len(FLAGS)} items)")
        service.reset_counts()
        async with FakeApiServer() as server:
            await install_crd(server, crd_of(OperatorDefinition(
                definition.config, sync, spec_class=FlagSetSpec)))
            client = server.client()
            await client.create(FlagSet, PARENT)
            operator = Operator(definition.config, sync, server.client(),
                                settings=RuntimeSettings(resync_period=None))
            task = asyncio.create_task(operator.run())
            try:
                await operator.settle(timeout=30)
                service.reset_counts()
                syncs = operator.syncs
                await asyncio.sleep(interval * intervals)
                polls = sum(service.by_status.values())
                print(f"unchanged, {intervals} intervals of {interval:g}s: kubeplan "
                      f"{polls / intervals:.2f} requests per interval, "
                      f"{service.by_status.get(304, 0)} of {polls} answered 304, "
                      f"{service.body_bytes} body bytes, {operator.syncs - syncs} syncs")

                latencies = []
                for i in range(changes):
                    await asyncio.sleep(rng.uniform(0, interval))
                    value = service.change(i % len(FLAGS))
                    started = time.perf_counter()
                    key = f"flag-{i % len(FLAGS)}"
                    while True:
                        child = await client.get(core_v1.ConfigMap, "web-flags", "default")
                        if (child.get("data") or {}).get(key) == value:
                            break
                        await asyncio.sleep(0.002)
                    latencies.append(time.perf_counter() - started)
                print(f"change at the source -> child updated, {changes} changes: "
                      f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                      f"max {max(latencies) * 1000:.0f} ms "
                      f"(poll interval {interval * 1000:.0f} ms, jitter 10%)")
            finally:
                await operator.stop()
                await task
    finally:
        await runner.cleanup()


def _args() -> Any:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--intervals", type=int, default=20)
    parser.add_argument("--changes", type=int, default=10)
    return parser.parse_args()


if __name__ == "__main__":
    args = _args()
    asyncio.run(main(args.interval, args.intervals, args.changes))
