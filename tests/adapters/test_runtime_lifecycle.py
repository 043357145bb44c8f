"""Finalizers, restarts, full resyncs and graceful stop."""

from __future__ import annotations

import asyncio
import contextlib

from adapter_testing import (
    BUNDLE_CONFIG,
    FAST,
    FINALIZED,
    Bundle,
    BundleHandler,
    BundleWithFinalizer,
    bundle,
    configmap,
    eventually,
    get_or_none,
)

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.runtime import Operator
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.vtime import LoopClock

CM = core_v1.ConfigMap
WRITES = {"create", "update", "patch", "apply", "delete"}


async def test_finalize_blocks_deletion_until_finalized_then_children_are_collected(
    kube, start_operator
):
    handler = BundleWithFinalizer()
    operator = await start_operator(BUNDLE_CONFIG, handler)
    children = [configmap("one"), configmap("two")]
    await kube.create(Bundle, bundle("b", children, teardownChildren=children))

    async def finalizer_added():
        parent = await kube.get(Bundle, "b", "default")
        return operator.config.finalizer in (parent["metadata"].get("finalizers") or [])

    await eventually(finalizer_added)
    await eventually(lambda: get_or_none(kube, CM, "two", "default"))
    await kube.delete(Bundle, "b", "default")

    async def finalizing():
        parent = await kube.get(Bundle, "b", "default")
        return (parent.get("status") or {}).get("phase") == "finalizing"

    await eventually(finalizing)
    assert handler.finalize_calls >= 1
    # finalize has not said finalized: the parent and its children stay (for a whole
    # virtual minute of syncs and retries)
    await asyncio.sleep(60)
    assert await get_or_none(kube, Bundle, "b", "default") is not None
    assert await get_or_none(kube, CM, "one", "default") is not None
    assert await get_or_none(kube, CM, "two", "default") is not None

    await kube.patch(Bundle, "b", {"metadata": {"annotations": {FINALIZED: "true"}}},
                     namespace="default")

    async def everything_gone():
        return all([
            await get_or_none(kube, Bundle, "b", "default") is None,
            await get_or_none(kube, CM, "one", "default") is None,
            await get_or_none(kube, CM, "two", "default") is None,
        ])

    await eventually(everything_gone)


async def test_full_resync_with_nothing_changed_makes_no_write_request(kube, start_operator):
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler(), resync_period=0.1)
    for i in range(3):
        await kube.create(Bundle, bundle(f"b{i}", [configmap(f"c{i}-a"), configmap(f"c{i}-b")]))
    for i in range(3):
        await eventually(lambda i=i: get_or_none(kube, CM, f"c{i}-b", "default"))
    await operator.settle()
    requests: list[str] = []
    operator.client.observers.append(lambda verb, _code: requests.append(verb))
    syncs = operator.syncs
    await eventually(lambda: asyncio.sleep(0, operator.syncs >= syncs + 6))  # two resyncs
    await operator.settle()
    assert [verb for verb in requests if verb in WRITES] == []


async def test_stopping_changing_the_world_and_starting_again_converges(
    http, kube, start_operator
):
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("one", x="1"), configmap("two")]))
    await eventually(lambda: get_or_none(kube, CM, "two", "default"))
    await operator.stop()

    # while it is down: a child is edited, one deleted, the parent changes, a parent appears
    await kube.patch(CM, "one", {"data": {"x": "tampered"}}, namespace="default")
    await kube.delete(CM, "two", "default")
    await kube.patch(Bundle, "b", {"spec": {"children": [configmap("one", x="1"),
                                                          configmap("two"),
                                                          configmap("three")]}},
                     namespace="default")
    await kube.create(Bundle, bundle("new", [configmap("four")]))

    await start_operator(BUNDLE_CONFIG, BundleHandler())

    async def converged():
        one = await get_or_none(kube, CM, "one", "default")
        others = [await get_or_none(kube, CM, n, "default") for n in ("two", "three", "four")]
        return one is not None and one["data"] == {"x": "1"} and all(others)

    await eventually(converged)


async def test_stop_lets_the_running_sync_finish_within_the_grace_period(http, crds, kube):
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    class Slow(BundleHandler):
        async def sync(self, request):  # type: ignore[override]
            started.set()
            await release.wait()
            finished.append(request.name)
            return super().sync(request)

    client = KubeClient.for_url(http.url)
    operator = Operator(BUNDLE_CONFIG, Slow(), client, settings=FAST, owns_client=True,
                        clock=LoopClock())
    task = asyncio.create_task(operator.run())
    await kube.create(Bundle, bundle("b", [configmap("one")]))
    await asyncio.wait_for(started.wait(), 5)
    stopping = asyncio.create_task(operator.stop())
    await asyncio.sleep(FAST.grace_period - 0.1)
    assert not stopping.done()  # waiting for the in-flight sync, nearly all its grace period
    release.set()
    await asyncio.wait_for(stopping, 0.1)  # and done as soon as the sync is
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert finished == ["b"]
    assert client.closed and client._http.pool.connections == 0


async def test_health_endpoints_report_readiness_and_metrics(http, crds, kube):
    import aiohttp
    import attrs

    client = KubeClient.for_url(http.url)
    settings = attrs.evolve(FAST, health_port=0, health_host="127.0.0.1")
    operator = Operator(BUNDLE_CONFIG, BundleHandler(), client, settings=settings,
                        owns_client=True, clock=LoopClock())
    task = asyncio.create_task(operator.run())
    try:
        await asyncio.wait_for(operator.wait_synced(), 5)
        await eventually(lambda: asyncio.sleep(0, operator.is_ready()))
        base = f"http://127.0.0.1:{operator.health.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with session.get(f"{base}/readyz") as r:
                assert r.status == 200
            await kube.create(Bundle, bundle("b", [configmap("one")]))
            await eventually(lambda: get_or_none(kube, CM, "one", "default"))
            async with session.get(f"{base}/metrics") as r:
                text = await r.text()
        assert 'kubeplan_syncs_total{operator="bundles",outcome="ok"}' in text
        assert 'kubeplan_rest_client_requests_total{code="201",operator="bundles",verb="create"}' \
            in text
        assert "kubeplan_cached_objects" in text
    finally:
        await operator.stop()
        await task


async def test_two_operators_run_side_by_side_in_one_process(kube, start_operator):
    from adapter_testing import TENANT_CONFIG, Tenant, tenant, tenant_sync

    bundles = await start_operator(BUNDLE_CONFIG, BundleHandler())
    tenants = await start_operator(TENANT_CONFIG, tenant_sync)
    await kube.create(Bundle, bundle("b", [configmap("from-bundle")]))
    await kube.create(Tenant, tenant("t", **{"from-tenant": "x"}))
    await eventually(lambda: get_or_none(kube, CM, "from-bundle", "default"))
    await eventually(lambda: get_or_none(kube, CM, "from-tenant", "tenant-t"))
    # each sees only its own children (label selector per operator)
    assert len(bundles.child_caches[CM]) == 1
    assert len(tenants.child_caches[CM]) == 1
    assert bundles.metrics.registry is not tenants.metrics.registry
