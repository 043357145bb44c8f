"""The measurements, each on a fresh API server (fake or real) in its own process.

``converge``: N parents exist, the operator starts; the clock runs from the operator's
process start until the harness has seen every child and every status. Then, on the
same converged world and depending on the arguments:

* steady state: a full resync pass (SIGUSR1 to the kubeplan or controller-runtime
  peer), and for every framework a restart pass (the operator restarted over the converged world:
  kopf's only full pass, since it has no periodic resync) - writes made and CPU used;
* change latency: 100 parents' ``spec.image`` changed one by one; each latency runs
  from sending the parent's PATCH to the harness seeing the Deployment with the new
  image.

``memory``: RSS growth of the kubeplan operator per cached Deployment, at 10,000
Deployments (two runs of the operator on one server: with none, then with 10,000).
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
from typing import Any

from harness import (
    ApiServerProcess,
    Observer,
    OperatorProcess,
    check_children,
    request_delta,
    until_idle,
    workload,
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def converge(framework: str, parents: int, *, workers: int = 8, steady: bool = False,
                   restart: bool = False, changes: int = 0, timeout: float = 300.0,
                   server: str = "fake") -> dict[str, Any]:
    """One convergence run of ``framework`` (``kubeplan``, ``kopf`` or
    ``controller-runtime``) with ``parents``, on a fresh ``server`` (``fake`` or
    ``real``)."""
    result: dict[str, Any] = {"framework": framework, "parents": parents, "workers": workers,
                              "children": parents * workload.CHILDREN, "server": server}
    async with ApiServerProcess(server) as fake:
        version = await fake.request("GET", "/version", expect=(200, 404))
        result["server_version"] = version.get("gitVersion")
        await fake.install_crd()
        await fake.create_parents(parents)
        observer = Observer(fake, parents)
        await observer.start()
        op = OperatorProcess(framework, fake.operator_kubeconfig, workers=workers)
        try:
            before = await fake.request_counts()
            fake_cpu, parts = fake.cpu(), fake.cpu_parts()
            await op.start()
            try:
                await asyncio.wait_for(observer.converged.wait(), timeout)
            except TimeoutError:
                result["error"] = (f"not converged in {timeout}s: "
                                   f"{len(observer.status_ok)} statuses, "
                                   f"{ {k: len(v) for k, v in observer.children.items()} }")
                return result
            result["converge_seconds"] = round(observer.converged_at - op.started, 3)
            converged_cpu = op.cpu()
            fake_converged_cpu = fake.cpu()
            result["operator_cpu_to_converge"] = round(converged_cpu, 2)
            result["server_cpu_to_converge"] = round(fake_converged_cpu - fake_cpu, 2)
            # on the real server, until the controller manager is done too (ReplicaSets
            # and Pods of every Deployment): the steady state starts from a world at rest
            result["idle_after_seconds"] = round(await until_idle(
                fake, op, cluster=True, quiet=2.0 if server == "real" else 1.0,
                limit=600 if server == "real" else 60), 2)
            result["requests"] = request_delta(await fake.request_counts(), before)
            result["operator_cpu"] = round(op.cpu(), 2)
            result["server_cpu"] = round(fake.cpu() - fake_cpu, 2)
            result["server_cpu_parts"] = {name: round(cpu - parts.get(name, 0.0), 2)
                                          for name, cpu in fake.cpu_parts().items()}
            result["peak_rss_mib"] = round(op.memory().get("VmHWM", 0) / 1024, 1)
            result["children_check"] = await check_children(fake, parents)

            if steady and framework in ("kubeplan", "controller-runtime"):
                result["resync"] = await _resync(fake, op)
            if changes:
                result["change_latency"] = await _changes(fake, observer, op, changes)
            if restart:
                await op.stop()
                op = OperatorProcess(framework, fake.operator_kubeconfig, workers=workers)
                result["restart"] = await _restart(fake, op)
        finally:
            await op.stop()
            await observer.stop()
    return result


async def _resync(fake: ApiServerProcess, op: OperatorProcess) -> dict[str, Any]:
    """A full resync pass over the converged world (SIGUSR1: kubeplan's peer and the
    controller-runtime peer queue every cached parent again)."""
    before = await fake.request_counts()
    cpu, fake_cpu = op.cpu(), fake.cpu()
    op.signal(signal.SIGUSR1)
    done = await op.next_event("resync", timeout=120)
    requests = request_delta(await fake.request_counts(), before)
    return {"syncs": done["syncs"], "seconds": done["seconds"],
            "operator_cpu": round(op.cpu() - cpu, 2),
            "server_cpu": round(fake.cpu() - fake_cpu, 2),
            "writes": requests["writes"], "requests": requests["total"],
            "by_verb": requests["by_verb"],
            "writes_by_resource": requests["writes_by_resource"]}


async def _restart(fake: ApiServerProcess, op: OperatorProcess) -> dict[str, Any]:
    """The operator started again over the converged world, until it is idle."""
    before = await fake.request_counts()
    fake_cpu = fake.cpu()
    await op.start()
    await asyncio.sleep(1.0)  # at least its start-up and first list
    waited = await until_idle(fake, op, quiet=1.5)
    requests = request_delta(await fake.request_counts(), before)
    return {"seconds_to_idle": round(1.0 + waited, 2), "operator_cpu": round(op.cpu(), 2),
            "server_cpu": round(fake.cpu() - fake_cpu, 2), "writes": requests["writes"],
            "requests": requests["total"], "writes_by_resource":
            requests["writes_by_resource"]}


async def _changes(fake: ApiServerProcess, observer: Observer, op: OperatorProcess,
                   count: int) -> dict[str, Any]:
    """``count`` parents' images changed one by one; latency to the child's change."""
    path = (f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/{workload.NAMESPACE}/"
            f"{workload.PLURAL}")
    before = await fake.request_counts()
    cpu = op.cpu()
    latencies: list[float] = []
    missed = 0
    for i in range(count):
        name = workload.parent(i)["metadata"]["name"]
        image = f"ghcr.io/example/echo:2.0.{i}"
        seen = observer.expect_image(name, image)
        sent = time.perf_counter()
        await fake.request("PATCH", f"{path}/{name}", {"spec": {"image": image}},
                           content_type="application/merge-patch+json")
        try:
            latencies.append(await asyncio.wait_for(seen, 10.0) - sent)
        except TimeoutError:
            missed += 1
    await until_idle(fake, op, quiet=0.5, cluster=True, limit=300)
    requests = request_delta(await fake.request_counts(), before)
    if fake.counts_harness:
        requests["writes"] -= count  # the harness's own parent patches
    ms = [x * 1000 for x in latencies]
    return {"changes": count, "missed": missed,
            "p50_ms": round(_percentile(ms, 50), 1), "p99_ms": round(_percentile(ms, 99), 1),
            "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
            "operator_writes": requests["writes"],
            "operator_cpu": round(op.cpu() - cpu, 2)}


async def memory(children: int = 10_000, repeat: int = 2) -> dict[str, Any]:
    """RSS growth of the kubeplan operator per cached Deployment: the operator started
    on no Deployment, then ``repeat`` times on ``children`` (the lowest RSS counts)."""
    from kubeplan.core.config import LABEL_OPERATOR, LABEL_PARENT_UID

    async with ApiServerProcess("fake") as fake:
        await fake.install_crd()
        runs: list[dict[str, Any]] = []
        for phase in ("empty", *["full"] * repeat):
            if phase == "full" and len(runs) == 1:
                await _create_deployments(fake, children, LABEL_OPERATOR, LABEL_PARENT_UID)
            op = OperatorProcess("kubeplan", fake.kubeconfig, workers=2)
            await op.start()
            try:
                runs.append(await op.next_event("synced", timeout=120))
            finally:
                await op.stop()
    empty, full = runs[0], min(runs[1:], key=lambda r: r["rss_kib"])
    growth = (full["rss_kib"] - empty["rss_kib"]) * 1024
    cached = full["children"] - empty["children"]
    return {"runs_full_rss_kib": [r["rss_kib"] for r in runs[1:]],
            "cached_deployments": cached, "rss_empty_mib": round(empty["rss_kib"] / 1024, 1),
            "rss_full_mib": round(full["rss_kib"] / 1024, 1),
            "bytes_per_child": round(growth / max(cached, 1)),
            "kib_per_child": round(growth / max(cached, 1) / 1024, 2)}


async def _create_deployments(fake: ApiServerProcess, count: int, label_operator: str,
                              label_parent: str, concurrency: int = 32) -> None:
    """``count`` Deployments as the kubeplan peer writes them (its labels, a controller
    owner reference): cached, never synced. Their owner is a ConfigMap that is no
    parent (an owner that does not exist would have them garbage-collected)."""
    path = f"/apis/apps/v1/namespaces/{workload.NAMESPACE}/deployments"
    owner = await fake.request("POST", f"/api/v1/namespaces/{workload.NAMESPACE}/configmaps",
                               {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "mem-owner"}})
    owner_uid = owner["metadata"]["uid"]
    indexes = iter(range(count))

    async def worker() -> None:
        for i in indexes:
            name = f"mem-{i:05d}"
            deployment = workload.children(name, workload.parent(i)["spec"])[0]
            meta = deployment["metadata"]
            meta["namespace"] = workload.NAMESPACE
            meta["labels"].update({label_operator: "trio", label_parent: owner_uid})
            meta["ownerReferences"] = [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "mem-owner",
                "uid": owner_uid, "controller": True,
                "blockOwnerDeletion": True,
            }]
            await fake.request("POST", f"{path}?fieldManager=trio", deployment)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
