"""The client side of a request: KubeClient's two transports, CPU per request.

``KubeClient`` sends requests through ``adapters.http1`` (our keep-alive HTTP/1.1 client)
wherever the configuration allows, and through aiohttp otherwise. This measures what each
costs the *client* process: CPU of this process per request, JSON encoding and decoding
included, against ``kubeplan fake-apiserver`` in its own process (whose CPU is not counted).
Requests are sent one after another, so the figures do not depend on concurrency.

    python bench/transport_bench.py                 # 3,000 creates and 3,000 GETs each
    python bench/transport_bench.py --requests 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "suite"))
from harness import FakeApiProcess

from kubeplan.adapters.client import KubeClient
from kubeplan.core.k8s import core_v1


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": {"bench": "t"}},
            "data": {"payload": "x" * 1000}}


async def _measure(url: str, transport: str, count: int, prefix: str) -> dict[str, float]:
    client = KubeClient.for_url(url, transport=transport)  # type: ignore[arg-type]
    try:
        await client.get(core_v1.Namespace, "default")  # connect and warm up
        started = _cpu()
        for i in range(count):
            await client.create(core_v1.ConfigMap, _configmap(f"{prefix}-{i}"),
                                field_manager="bench")
        created = _cpu()
        for i in range(count):
            await client.get(core_v1.ConfigMap, f"{prefix}-{i}", "default")
        done = _cpu()
    finally:
        await client.close()
    return {"create_us": round((created - started) / count * 1e6, 1),
            "get_us": round((done - created) / count * 1e6, 1)}


async def main(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"requests": count}
    async with FakeApiProcess() as fake:
        for round_, transport in enumerate(("http1", "aiohttp", "http1", "aiohttp")):
            # each twice, the best kept; fresh names each round
            figures = await _measure(fake.url, transport, count, f"{transport}-{round_}")
            best = results.setdefault(transport, figures)
            for key, value in figures.items():
                best[key] = min(best[key], value)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    out = asyncio.run(main(args.requests))
    print(f"client CPU per request, best of 2 ({args.requests} each, 1 KB ConfigMaps):")
    for transport in ("http1", "aiohttp"):
        print(f"  {transport:8} create {out[transport]['create_us']:6.1f} us   "
              f"get {out[transport]['get_us']:6.1f} us")
    ratio = out["aiohttp"]["create_us"] / out["http1"]["create_us"]
    print(f"  aiohttp / http1 (create): {ratio:.1f}x")
    print(json.dumps(out, sort_keys=True))
