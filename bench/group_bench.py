"""Memory of two operators that read one type: one OperatorGroup against the alternatives.

Two operators (parents of two custom types, no parents created) both read every ConfigMap
of the cluster as a related type. ``kubeplan fake-apiserver`` runs in its own process,
holding N ConfigMaps of about 1 KB. Each arrangement runs in fresh processes, and reports
the resident memory its operator processes gained from start-up (after imports) to the
moment every cache has listed, their resident memory then, and the ConfigMaps they hold:

* ``group``: one process, one ``OperatorGroup`` (one shared ConfigMap cache);
* ``apart``: one process, two ``Operator``s on one client (a cache each);
* ``two processes``: one operator per process (the sum of both).

    python bench/group_bench.py                  # 3,000 ConfigMaps
    python bench/group_bench.py --configmaps 10000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "suite"))

GROUP = "bench.kubeplan.dev"
KINDS = ("Alpha", "Beta")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _crd(kind: str) -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                           "listKind": f"{kind}List"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def _configs(kinds: tuple[str, ...]) -> list[Any]:
    from kubeplan.core.config import ChildConfig, OperatorConfig
    from kubeplan.core.k8s import core_v1
    from kubeplan.core.related import RelatedSelector
    from kubeplan.core.types import K8sType

    return [
        OperatorConfig(kind.lower(), K8sType(f"{GROUP}/v1", kind, kind.lower() + "s"))
        .with_child(core_v1.Secret, ChildConfig.replace())
        .with_related(core_v1.ConfigMap, lambda _parent: RelatedSelector(namespace="default"))
        for kind in kinds
    ]


def _sync(request: Any) -> Any:
    from kubeplan.core.response import SyncResponse

    return SyncResponse(children=[])


async def _child(url: str, mode: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    """In a fresh process: start the operators, wait for their caches, measure."""
    from kubeplan.adapters.client import KubeClient
    from kubeplan.adapters.group import OperatorGroup
    from kubeplan.adapters.runtime import Operator
    from kubeplan.adapters.settings import RuntimeSettings

    settings = RuntimeSettings(resync_period=None)
    client = KubeClient.for_url(url)
    from kubeplan.core.k8s import core_v1

    await client.get(core_v1.Namespace, "default")  # connected, every module imported
    gc.collect()
    before = _rss_mib()
    operators: list[Operator]
    if mode == "group":
        group = OperatorGroup(client, settings=settings)
        operators = [group.add(config, _sync) for config in _configs(kinds)]
        task = asyncio.create_task(group.run())
    else:
        operators = [Operator(config, _sync, client, settings=settings)
                     for config in _configs(kinds)]
        task = asyncio.gather(*(op.run() for op in operators))
    async with asyncio.timeout(300):
        for op in operators:
            await op.wait_synced()
    gc.collect()
    after = _rss_mib()
    caches = {id(cache): len(cache) for op in operators
              for cache in op.related_caches[core_v1.ConfigMap]}
    cached = sum(caches.values())  # each cache once: a shared one is one copy
    if mode == "group":
        await group.stop()
    else:
        await asyncio.gather(*(op.stop() for op in operators))
    await task
    await client.close()
    return {"rss_gain_mib": round(after - before, 1), "rss_mib": round(after, 1),
            "cached_configmaps": cached}


def _run_child(url: str, mode: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--kinds", ",".join(kinds)],
        check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def main(count: int) -> dict[str, Any]:
    from harness import FakeApiProcess

    from kubeplan.adapters.client import KubeClient
    from kubeplan.core.k8s import core_v1
    from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition

    results: dict[str, Any] = {"configmaps": count}
    async with FakeApiProcess() as fake:
        client = KubeClient.for_url(fake.url)
        try:
            for kind in KINDS:
                await client.create(CustomResourceDefinition, _crd(kind))
            for i in range(count):
                await client.create(core_v1.ConfigMap, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": f"cm-{i}", "namespace": "default"},
                    "data": {"payload": f"{i:08d}" + "x" * 1000}})
        finally:
            await client.close()
        loop = asyncio.get_running_loop()
        results["group"] = await loop.run_in_executor(None, _run_child, fake.url, "group",
                                                      KINDS)
        results["apart"] = await loop.run_in_executor(None, _run_child, fake.url, "apart",
                                                      KINDS)
        single = [await loop.run_in_executor(None, _run_child, fake.url, "apart", (kind,))
                  for kind in KINDS]
        results["two processes"] = {
            "rss_gain_mib": round(sum(r["rss_gain_mib"] for r in single), 1),
            "rss_mib": round(sum(r["rss_mib"] for r in single), 1),
            "cached_configmaps": sum(r["cached_configmaps"] for r in single)}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configmaps", type=int, default=3000)
    parser.add_argument("--child", choices=("group", "apart"))
    parser.add_argument("--url")
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.url, args.child,
                                            tuple(args.kinds.split(","))))))
        sys.exit(0)
    out = asyncio.run(main(args.configmaps))
    print(f"two operators reading {args.configmaps} ConfigMaps of ~1 KB each "
          "(memory gained by the operator processes until their caches listed):")
    for mode in ("group", "apart", "two processes"):
        r = out[mode]
        print(f"  {mode:14} +{r['rss_gain_mib']:6.1f} MiB (RSS {r['rss_mib']:6.1f} MiB)   "
              f"{r['cached_configmaps']:6d} ConfigMaps held")
    print(json.dumps(out, sort_keys=True))
