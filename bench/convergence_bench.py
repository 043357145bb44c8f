"""Cold convergence: N parents x K children against the fake API server over HTTP.

What it measures (benchmark 3 and 2 of the performance notes):

1. cold convergence: the parents exist before the operator starts; the clock runs from
   ``Operator.run()`` until every child exists and every parent's status is written
   (checked in the operator's caches, then verified with a LIST through HTTP);
2. a full resync with nothing changed: every parent synced again; it must make no write.

It prints seconds and the operator's API requests by verb (from the client's own request
observer, so the test's setup requests are not counted), as text and one JSON line.

    python bench/convergence_bench.py                 # 1000 parents x 3 children
    python bench/convergence_bench.py --parents 200 --workers 8 --no-events
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import sys
import time
from typing import Any

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.server import FakeApiServer

Trio = K8sType("bench.kubeplan.dev/v1", "Trio", "trios")
WRITES = ("create", "update", "patch", "apply", "delete")

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "trios.bench.kubeplan.dev"},
    "spec": {
        "group": "bench.kubeplan.dev",
        "scope": "Namespaced",
        "names": {"kind": "Trio", "plural": "trios", "singular": "trio", "listKind": "TrioList"},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            }}},
        }],
    },
}


def make_sync(children: int):
    def sync(request: SyncRequest) -> SyncResponse:
        size = request.spec.get("size", "small")
        return SyncResponse(
            children=[
                {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"{request.name}-{i}", "namespace": request.namespace},
                 "data": {"size": size, "index": str(i)}}
                for i in range(children)
            ],
            status={"children": children},
        )
    return sync


async def bench(parents: int, children: int, workers: int, events: bool) -> dict[str, Any]:
    config = OperatorConfig("bench", Trio).with_child(core_v1.ConfigMap, ChildConfig.replace())
    settings = RuntimeSettings(workers=workers, resync_period=None, post_events=events,
                               sync_timeout=120.0)
    async with FakeApiServer() as server, FakeApiHttpServer(server) as http:
        setup = KubeClient.for_url(http.url)
        await setup.create(CustomResourceDefinition, CRD)
        sem = asyncio.Semaphore(16)

        async def create(i: int) -> None:
            async with sem:
                await setup.create(Trio, {
                    "apiVersion": Trio.api_version, "kind": "Trio",
                    "metadata": {"name": f"p{i:05d}", "namespace": "default"},
                    "spec": {"size": "small"},
                })

        await asyncio.gather(*(create(i) for i in range(parents)))

        client = KubeClient.for_url(http.url)
        requests: collections.Counter[str] = collections.Counter()
        client.observers.append(lambda verb, _code: requests.update([verb]))
        operator = Operator(config, make_sync(children), client, settings=settings,
                            owns_client=True)
        started = time.perf_counter()
        task = asyncio.create_task(operator.run())
        cache = operator.child_caches[core_v1.ConfigMap]
        parent_cache = operator.parent_caches[0]

        def converged() -> bool:
            return len(cache) >= parents * children and all(
                (p.get("status") or {}).get("children") == children for p in parent_cache
            )

        while not (operator.is_ready() and converged()):
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        await operator.settle(timeout=120)
        settled = time.perf_counter() - started
        converge_requests = dict(requests)

        listed = await setup.list(core_v1.ConfigMap, "default",
                                  label_selector=config.child_label_selector)
        assert len(listed["items"]) == parents * children, len(listed["items"])

        # full resync, nothing changed
        requests.clear()
        syncs = operator.syncs
        resync_started = time.perf_counter()
        for parent in parent_cache:
            operator.queue.add((parent["metadata"]["namespace"], parent["metadata"]["name"]))
        await operator.settle(timeout=120)
        resync_elapsed = time.perf_counter() - resync_started
        resync_requests = dict(requests)
        resync_syncs = operator.syncs - syncs

        await operator.stop()
        await task
        await setup.close()
    return {
        "parents": parents,
        "children_per_parent": children,
        "workers": workers,
        "events": events,
        "converge_seconds": round(elapsed, 3),
        "settled_seconds": round(settled, 3),
        "converge_requests": converge_requests,
        "converge_requests_total": sum(converge_requests.values()),
        "converge_writes": sum(converge_requests.get(v, 0) for v in WRITES),
        "resync_seconds": round(resync_elapsed, 3),
        "resync_syncs": resync_syncs,
        "resync_requests": resync_requests,
        "resync_writes": sum(resync_requests.get(v, 0) for v in WRITES),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--children", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-events", action="store_true", help="do not post Events")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(bench(args.parents, args.children, args.workers, not args.no_events))
    print(f"{result['parents']} parents x {result['children_per_parent']} children, "
          f"{result['workers']} workers, events {'on' if result['events'] else 'off'}")
    print(f"  converged in {result['converge_seconds']} s "
          f"(queue settled at {result['settled_seconds']} s)")
    print(f"  API requests: {result['converge_requests_total']} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(result['converge_requests'].items()))}); "
          f"writes {result['converge_writes']}")
    print(f"  full resync: {result['resync_syncs']} syncs in {result['resync_seconds']} s, "
          f"requests {result['resync_requests'] or 0}, writes {result['resync_writes']}")
    print(json.dumps(result, sort_keys=True))
    return 0 if result["resync_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

