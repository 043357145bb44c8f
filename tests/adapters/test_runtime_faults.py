"""Under injected faults (409, 500, 429, dropped and stalled watches, 410) the operator
still converges, and it never retries a write blindly."""

from __future__ import annotations

import asyncio

import pytest
from adapter_testing import (
    BUNDLE_CONFIG,
    Bundle,
    BundleHandler,
    bundle,
    configmap,
    eventually,
    get_or_none,
)

from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.faults import Fault

CM = core_v1.ConfigMap


async def _converged(kube, name: str = "b", children: tuple[str, ...] = ("one", "two")):
    async def check():
        for child in children:
            if await get_or_none(kube, CM, child, "default") is None:
                return False
        parent = await kube.get(Bundle, name, "default")
        return (parent.get("status") or {}).get("children") == len(children)

    await eventually(check)


async def test_conflicts_on_writes_requeue_and_converge(fake, kube, start_operator):
    # children are created by POST (and updated by server-side apply), status by merge PATCH
    fake.faults.add(Fault.error(409, reason="Conflict", verb="create", resource="configmaps",
                                count=2))
    fake.faults.add(Fault.error(409, reason="Conflict", verb="patch", resource="bundles",
                                subresource="status"))
    await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))
    await _converged(kube)
    assert not fake.faults.active


async def test_server_errors_on_reads_and_writes_converge(fake, kube, start_operator):
    fake.faults.add(Fault.error(500, verb="list", resource="configmaps", count=2))
    fake.faults.add(Fault.error(503, verb="create", resource="configmaps", count=2))
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))
    await _converged(kube)
    assert not fake.faults.active
    assert operator.metrics.syncs.labels("bundles", "failed_actions")._value.get() >= 1


async def test_too_many_requests_waits_for_retry_after(fake, kube, start_operator):
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    creates: list[float] = []
    loop = asyncio.get_running_loop()
    operator.client.observers.append(
        lambda verb, code: creates.append(loop.time()) if verb == "create" else None
    )
    fake.faults.add(Fault.too_many_requests(retry_after=1, verb="create", resource="configmaps"))
    await kube.create(Bundle, bundle("b", [configmap("one")]))
    await _converged(kube, children=("one",))
    # the 429 and its retry, a Retry-After (1 s) apart
    assert len(creates) >= 2
    assert creates[1] - creates[0] == pytest.approx(1.0)  # virtual time: exactly


async def test_dropped_watches_are_resumed(fake, kube, start_operator):
    fake.faults.add(Fault.watch_drop(after_events=1, resource="configmaps", count=5))
    fake.faults.add(Fault.watch_drop(after_events=1, resource="bundles", count=5))
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler())
    await kube.create(Bundle, bundle("b", [configmap("one", x="1"), configmap("two")]))
    await _converged(kube)
    # someone else edits a child: the resumed watch still sees it
    await kube.patch(CM, "one", {"data": {"x": "tampered"}}, namespace="default")

    async def restored():
        return (await kube.get(CM, "one", "default"))["data"] == {"x": "1"}

    await eventually(restored)
    restarts = sum(c.restarts.get("closed", 0) for c in operator.caches)
    assert restarts >= 1


async def test_stalled_watch_is_detected_and_restarted(fake, kube, start_operator):
    fake.faults.add(Fault.watch_stall(after_events=0, resource="bundles"))
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler(),
                                    watch_inactivity_timeout=0.5)
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))
    await _converged(kube)
    assert operator.parent_caches[0].restarts.get("stalled", 0) >= 1


async def test_expired_resource_version_relists(fake, kube, start_operator):
    fake.faults.add(Fault.watch_stall(after_events=0, resource="bundles"))
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler(),
                                    watch_inactivity_timeout=0.5)
    # while the parent watch hangs, a parent appears and the history is compacted:
    # resuming from the old resourceVersion answers 410 Expired, so the cache relists
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))
    fake.truncate_event_log()
    await _converged(kube)
    assert operator.parent_caches[0].restarts.get("expired", 0) >= 1
