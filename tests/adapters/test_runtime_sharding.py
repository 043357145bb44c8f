"""Three replicas sharing parents through member Leases: each syncs only the parents it
owns, every parent is synced by exactly one; kill one and the others take its parents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually
from scaleout_testing import Replicas

from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse

PARENTS = 24
CM = core_v1.ConfigMap


class RecordingHandler(BundleHandler):
    """Remembers which parents this replica synced."""

    def __init__(self) -> None:
        super().__init__()
        self.parents: set[str] = set()

    def sync(self, request: SyncRequest) -> SyncResponse:
        self.parents.add(request.name)
        return super().sync(request)


@pytest.fixture
async def replicas(http, crds) -> AsyncIterator[Replicas]:
    group = Replicas(http.url)
    yield group
    await group.stop_all()


async def _all_converged(kube: Any, value: str) -> bool:
    items = (await kube.list(Bundle, "default"))["items"]
    cms = {c["metadata"]["name"]: c for c in (await kube.list(CM, "default"))["items"]}
    return len(items) == PARENTS and all(
        (p.get("status") or {}).get("children") == 1
        and cms.get(f"cm-{p['metadata']['name']}", {}).get("data", {}).get("v") == value
        for p in items
    )


async def test_replicas_split_the_parents_and_survive_a_kill(kube, replicas):
    handlers = {i: RecordingHandler() for i in "abc"}
    ops = {i: await replicas.start(i, BUNDLE_CONFIG, handlers[i], shards=True) for i in "abc"}

    async def views_agree() -> bool:
        return all(op.membership.published_view == frozenset("abc") for op in ops.values())

    await eventually(views_agree, timeout=5)
    for n in range(PARENTS):
        await kube.create(Bundle, bundle(f"p{n}", [configmap(f"cm-p{n}", v="1")]))
    await eventually(lambda: _all_converged(kube, "1"), timeout=10)
    synced = [handlers[i].parents for i in "abc"]
    assert set().union(*synced) == {f"p{n}" for n in range(PARENTS)}
    assert all(not (x & y) for x, y in [(synced[0], synced[1]), (synced[0], synced[2]),
                                         (synced[1], synced[2])]), synced
    assert all(synced), "every replica got a share"
    by_uid = {p["metadata"]["name"]: p["metadata"]["uid"]
              for p in (await kube.list(Bundle, "default"))["items"]}
    for i in "abc":
        assert all(ops[i].membership.owner_of(by_uid[name]) == i for name in handlers[i].parents)

    await replicas.kill("c")
    for n in range(PARENTS):
        await kube.patch(Bundle, f"p{n}", {"spec": {"children": [configmap(f"cm-p{n}", v="2")]}},
                         namespace="default", patch_type="merge")
    await eventually(lambda: _all_converged(kube, "2"), timeout=10)
    for i in "ab":
        assert ops[i].membership.published_view == frozenset("ab")
