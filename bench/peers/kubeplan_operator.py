"""The benchmark workload as a kubeplan operator (the peer of ``kopf_operator.py``).

``operator`` is an ordinary ``OperatorDefinition``: ``kubeplan run
bench/peers/kubeplan_operator.py:operator --kubeconfig K`` runs it. The benchmark runs
this file as a script instead, which adds three hooks the harness needs and a user
never does:

* one JSON line on stdout when the caches are synced (``{"event": "synced", ...}``,
  with the RSS and the number of cached objects),
* SIGUSR1: a full resync pass (every parent queued again); when the queue has settled
  it prints ``{"event": "resync", "syncs": N, "seconds": S}``,
* SIGTERM: a clean stop.

    python bench/peers/kubeplan_operator.py --kubeconfig K [--workers 8] [--no-events]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.gctuning import tune_gc
from kubeplan.adapters.process import burst_collector
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload

Trio = K8sType(f"{workload.GROUP}/{workload.VERSION}", workload.KIND, workload.PLURAL)

config = (
    OperatorConfig("trio", Trio)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.replace())
)


def sync(request: SyncRequest) -> SyncResponse:
    """The same three children and status as the kopf operator."""
    spec = request.spec
    children = workload.children(request.name, spec)
    for child in children:
        child["metadata"]["namespace"] = request.namespace
    return SyncResponse(children=children, status=workload.status(spec))


operator = OperatorDefinition(config, sync)


def rss_kib() -> int:
    """Resident set size now (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def main(args: argparse.Namespace) -> None:
    settings = RuntimeSettings(workers=args.workers, resync_period=None,
                               post_events=not args.no_events, grace_period=5.0)
    client = await KubeClient.from_kubeconfig(args.kubeconfig)
    op = Operator(config, sync, client, settings=settings, owns_client=True)
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def resync() -> None:
        started = time.perf_counter()
        before = op.syncs
        for cache in op.parent_caches:
            for parent in cache:
                meta = parent["metadata"]
                op.queue.add((meta.get("namespace") or "", meta["name"]))
        await op.settle(timeout=120.0, quiet=0.2)
        emit("resync", syncs=op.syncs - before,
             seconds=round(time.perf_counter() - started, 3))

    def spawn(coro: Any) -> None:
        task = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_signal_handler(signal.SIGUSR1, lambda: spawn(resync()))
    loop.add_signal_handler(signal.SIGTERM, lambda: spawn(op.stop()))
    loop.add_signal_handler(signal.SIGINT, lambda: spawn(op.stop()))

    async def report_synced() -> None:
        await op.wait_synced()
        gc.collect()
        emit("synced", rss_kib=rss_kib(), cached=sum(len(c) for c in op.caches),
             children=sum(len(c) for c in op.child_caches.values()))

    spawn(report_synced())
    spawn(burst_collector([op]).run())  # as `kubeplan run` does
    await op.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-events", action="store_true")
    logging.basicConfig(level=logging.WARNING)
    tune_gc()  # as `kubeplan run` does
    asyncio.run(main(parser.parse_args()))
