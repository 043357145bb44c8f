"""Throughput of the fake API server: over HTTP on loopback, and in-process.

Measures requests per second for GET, create, merge patch and server-side apply of a
ConfigMap at concurrency 1 and 10, over HTTP (aiohttp client) and through the
in-process client (``server.client()``), plus the time one watch takes to receive
10,000 events.

Where the server runs (``--server``):

* ``same`` (default): server and benchmark client share one process and one event
  loop - the setup of a test suite using the HTTP face. Client and server compete for
  the same core, so these are lower bounds.
* ``subprocess``: the server runs as ``kubeplan fake-apiserver`` in another process;
  the client's CPU cost is then not charged to the server.

    python bench/apiserver_bench.py [--seconds 2] [--server same|subprocess] [--profile]

``--profile`` runs the HTTP GET and merge-patch loops under cProfile and prints the
top functions by cumulative time, to see whether the store or the HTTP layer costs.

Every figure starts with a full garbage collection. Without it, a figure paid for the
garbage earlier figures left pending: CPython collects everything once the objects that
survived since the last full collection reach a quarter of the heap, so whether a 0.2-0.5 s
collection of the whole store fell into the watch's single second depended on the rows
before it (one tree's watch figure split between 6,300 and 11,800 events/s from run to
run). The full collections a figure still meets are its own objects'; the watch line
prints those it met.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.http import FakeApiHttpServer

CONFIGMAP = K8sType("v1", "ConfigMap", "configmaps")
NS = "default"
CMS = f"/api/v1/namespaces/{NS}/configmaps"
Op = Callable[[int], Awaitable[Any]]


def configmap(name: str, value: str = "v") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS}, "data": {"k": value}}


class FullCollections:
    """The full (generation 2) garbage collections while installed, and their time; a
    full collection first, so that the count starts clean (see the module's docstring)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._started = 0.0

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> FullCollections:
        gc.collect()
        gc.callbacks.append(self._observe)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._observe)

    def __str__(self) -> str:
        return f"{self.count} full collection(s), {self.seconds:.2f}s"


async def rate(op: Op, concurrency: int, seconds: float) -> float:
    """Requests per second of ``op`` run by ``concurrency`` workers for ``seconds``."""
    gc.collect()  # start clean: see the module's docstring
    counter = itertools.count()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await op(next(counter))
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def http_ops(session: aiohttp.ClientSession, run_id: str) -> dict[str, Op]:
    json_headers = {"Content-Type": "application/json"}
    merge_headers = {"Content-Type": "application/merge-patch+json"}
    apply_headers = {"Content-Type": "application/apply-patch+yaml"}

    async def expect(resp_cm: Any, codes: tuple[int, ...]) -> None:
        async with resp_cm as resp:
            await resp.read()
            if resp.status not in codes:
                raise RuntimeError(f"unexpected {resp.status}: {await resp.text()}")

    async def get(i: int) -> None:
        await expect(session.get(f"{CMS}/bench-get"), (200,))

    names = itertools.count()  # unique across runs at every concurrency

    async def create(i: int) -> None:
        body = orjson.dumps(configmap(f"http-{run_id}-{next(names)}"))
        await expect(session.post(CMS, data=body, headers=json_headers), (201,))

    async def merge(i: int) -> None:
        body = orjson.dumps({"data": {"k": str(i)}})
        await expect(session.patch(f"{CMS}/bench-patch", data=body, headers=merge_headers),
                     (200,))

    async def apply(i: int) -> None:
        body = orjson.dumps(configmap("bench-apply", str(i)))  # JSON is valid YAML
        await expect(session.patch(f"{CMS}/bench-apply?fieldManager=bench&force=true",
                                   data=body, headers=apply_headers), (200, 201))

    return {"GET": get, "create": create, "merge patch": merge, "server-side apply": apply}


def inproc_ops(client: Any, run_id: str) -> dict[str, Op]:
    async def get(i: int) -> None:
        await client.get(CONFIGMAP, "bench-get", NS)

    names = itertools.count()

    async def create(i: int) -> None:
        await client.create(CONFIGMAP, configmap(f"inproc-{run_id}-{next(names)}"), namespace=NS)

    async def merge(i: int) -> None:
        await client.patch(CONFIGMAP, "bench-patch", {"data": {"k": str(i)}}, namespace=NS)

    async def apply(i: int) -> None:
        await client.apply(CONFIGMAP, configmap("bench-apply", str(i)), field_manager="bench")

    return {"GET": get, "create": create, "merge patch": merge, "server-side apply": apply}


async def seed(session: aiohttp.ClientSession) -> None:
    for name in ("bench-get", "bench-patch"):
        async with session.post(CMS, data=orjson.dumps(configmap(name)),
                                headers={"Content-Type": "application/json"}) as resp:
            await resp.read()


def watch_writer(client: Any, run_id: str) -> Op:
    """The watch row's writes: a ConfigMap the watch selects, created in process."""

    async def write(i: int) -> None:
        obj = configmap(f"watch-{run_id}-{i}")
        obj["metadata"]["labels"] = {"watch": "bench"}
        await client.create(CONFIGMAP, obj, namespace=NS)

    return write


async def watch_time(session: aiohttp.ClientSession, write: Callable[[int], Awaitable[Any]],
                     events: int) -> float:
    """Seconds from the first write until one HTTP watch has read ``events`` events."""
    async with session.get(CMS, params={"labelSelector": "watch=bench"}) as resp:
        rv = (await resp.json())["metadata"]["resourceVersion"]
    async with session.get(CMS, params={"watch": "true", "resourceVersion": rv,
                                        "labelSelector": "watch=bench"}) as resp:
        started = time.perf_counter()

        async def writer() -> None:
            for i in range(events):
                await write(i)

        task = asyncio.create_task(writer())
        seen = 0
        while seen < events:
            line = await resp.content.readline()
            if not line:
                raise RuntimeError(f"watch ended after {seen} events")
            seen += 1
        elapsed = time.perf_counter() - started
        await task
        return elapsed


def table(title: str, rows: dict[str, dict[int, float]]) -> str:
    lines = [title, f"  {'operation':<20}{'c=1':>12}{'c=10':>12}"]
    for op, by_c in rows.items():
        lines.append(f"  {op:<20}{by_c[1]:>10.0f}/s{by_c[10]:>10.0f}/s")
    return "\n".join(lines)


def profile_print(profile: cProfile.Profile, limit: int = 25) -> None:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(limit)
    print(out.getvalue())


async def start_subprocess_server(folder: Path) -> tuple[subprocess.Popen[str], str]:
    exe = Path(sys.executable).parent / "kubeplan"
    proc = subprocess.Popen(
        [str(exe), "fake-apiserver", "--port", "0", "--kubeconfig", str(folder / "k.yaml")],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = await asyncio.to_thread(proc.stdout.readline)
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.terminate()
        raise RuntimeError(f"fake-apiserver did not print its URL: {line!r}")
    return proc, match.group(0)


async def main(args: argparse.Namespace) -> None:
    seconds = args.seconds
    run_id = str(os.getpid())
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), {seconds}s per figure, "
          f"server: {args.server}")
    async with FakeApiServer() as server:
        proc = None
        http: FakeApiHttpServer | None = None
        if args.server == "subprocess":
            folder = Path(tempfile.mkdtemp(prefix="kubeplan-bench-"))
            proc, url = await start_subprocess_server(folder)
        else:
            http = FakeApiHttpServer(server)
            url = await http.start()
        try:
            connector = aiohttp.TCPConnector(limit=100)
            async with aiohttp.ClientSession(base_url=url, connector=connector) as session:
                await seed(session)
                ops = http_ops(session, run_id)
                http_rows: dict[str, dict[int, float]] = {}
                for name, op in ops.items():
                    http_rows[name] = {c: await rate(op, c, seconds) for c in (1, 10)}
                print(table("HTTP (aiohttp client, loopback)", http_rows))

                client = server.client()  # same store: the seeded objects are there
                if args.server == "subprocess":
                    await client.create(CONFIGMAP, configmap("bench-get"), namespace=NS)
                    await client.create(CONFIGMAP, configmap("bench-patch"), namespace=NS)
                inproc_rows: dict[str, dict[int, float]] = {}
                for name, op in inproc_ops(client, run_id).items():
                    inproc_rows[name] = {c: await rate(op, c, seconds) for c in (1, 10)}
                print(table("in-process client (server.client())", inproc_rows))
                print("  in-process / HTTP speed-up (c=1): " + ", ".join(
                    f"{name} {inproc_rows[name][1] / http_rows[name][1]:.1f}x"
                    for name in http_rows))

                if args.server == "same":
                    with FullCollections() as collections:
                        elapsed = await watch_time(session, watch_writer(client, run_id),
                                                   args.events)
                    print(f"watch over HTTP: {args.events} events (written in-process) in "
                          f"{elapsed:.2f}s = {args.events / elapsed:.0f} events/s "
                          f"({collections} during it)")

                if args.profile and http is not None:
                    for name in ("GET", "merge patch"):
                        profile = cProfile.Profile()
                        profile.enable()
                        await rate(ops[name], 10, seconds)
                        profile.disable()
                        print(f"--- cProfile, HTTP {name}, c=10 (same process) ---")
                        profile_print(profile)
                await client.close()
        finally:
            if http is not None:
                await http.stop()
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--server", choices=("same", "subprocess"), default="same")
    parser.add_argument("--profile", action="store_true")
    asyncio.run(main(parser.parse_args()))
