"""A parent whose sync fails keeps failing quietly: backoff applies, its own status writes
do not bypass it, and the status written after a failure is stable. Also: a child our
sync deleted is not deleted again before the watch reports it."""

from __future__ import annotations

import asyncio
import itertools

from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually

from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.faults import Fault

CM = core_v1.ConfigMap


def _operator_writes(fake, resource: str | None = None) -> list:
    """Writes only the operator makes: children, and the parent's status (the test itself
    writes only the parent's spec)."""
    return [r for r in fake.requests
            if r.verb in ("create", "update", "patch", "delete")
            and (r.resource == "configmaps" or r.subresource == "status")
            and (resource is None or r.resource == resource)]


async def test_rejected_child_backs_off_and_reports_why(fake, kube, start_operator):
    # the fake rejects the name with 422: the create fails on every sync
    await start_operator(BUNDLE_CONFIG, BundleHandler(), backoff_base=0.2, backoff_cap=5.0)
    await kube.create(Bundle, bundle("b", [configmap("bad:name")]))

    async def reported():
        parent = await kube.get(Bundle, "b", "default")
        conditions = (parent.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "Synced"), None)

    synced = await eventually(reported)
    assert synced["status"] == "False"
    assert "bad:name" in synced["message"]
    mark = len(_operator_writes(fake))
    await asyncio.sleep(2.0)
    writes = _operator_writes(fake)[mark:]
    # backoff 0.2, 0.4, 0.8 (±20 %) in 2 s: at most 4 create attempts and no status flips
    assert len(writes) <= 5, [f"{w.verb} {w.resource} {w.subresource}" for w in writes]
    assert not [w for w in writes if w.resource == "bundles"], "status flips between syncs"
    synced = await reported()
    assert synced["status"] == "False" and "bad:name" in synced["message"]
    # In virtual time the attempts can be timed exactly: the k-th retry comes after
    # min(cap, 0.2 * 2**(k-1)) seconds, jittered by at most 20 %, never sooner.
    await asyncio.sleep(10.0)
    attempts = [w.time for w in _operator_writes(fake, "configmaps") if w.status == 422]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert len(gaps) >= 5, gaps
    for k, gap in enumerate(gaps, 1):
        delay = min(5.0, 0.2 * 2 ** (k - 1))
        assert 0.8 * delay <= gap <= 1.2 * delay, (k, gaps)
    assert not [w for w in _operator_writes(fake)[mark:] if w.resource == "bundles"]


async def test_deleted_child_is_deleted_once(fake, kube, start_operator):
    # the ConfigMap watch stays silent: the runtime knows its children only from its own
    # writes, so the sync after a delete runs before any DELETED event could arrive
    fake.faults.add(Fault.watch_stall(after_events=0, resource="configmaps", count=10))
    operator = await start_operator(BUNDLE_CONFIG, BundleHandler(),
                                    watch_inactivity_timeout=60.0)
    await kube.create(Bundle, bundle("b", [configmap("one"), configmap("two")]))

    async def children() -> int:
        return len((await kube.list(CM, "default"))["items"])

    await eventually(lambda: _equals(children(), 2))
    await operator.settle()
    await kube.patch(Bundle, "b", {"spec": {"children": [configmap("one")]}},
                     namespace="default", patch_type="merge")
    await eventually(lambda: _equals(children(), 1))
    await operator.settle()
    deletes = [w for w in _operator_writes(fake, "configmaps") if w.verb == "delete"]
    assert [(w.name, w.status) for w in deletes] == [("two", 200)]
    assert operator.child_caches[CM].get("two", "default") is None


async def _equals(value, expected) -> bool:
    return await value == expected
