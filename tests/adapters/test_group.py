"""OperatorGroup: two operators in one process, on the fake API server over HTTP.

Both read Namespaces (a related type, cluster-wide, no label selector): in a group that is
one cache, one LIST and one WATCH, and each operator still hears every change; apart,
it is two of each. One metrics registry carries both operators' series; one operator
failing stops the other and the group says which failed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from adapter_testing import FAST, Bundle, Tenant, bundle, eventually, tenant
from prometheus_client.parser import text_string_to_metric_families

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.group import OperatorGroup
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.sharedcache import SharedWatchCache
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.k8s import core_v1
from kubeplan.core.related import RelatedSelector
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.testkit.vtime import LoopClock

pytestmark = pytest.mark.usefixtures("crds")

LABEL = "test.kubeplan.dev/team"


def _team(parent: dict[str, Any]) -> RelatedSelector:
    return RelatedSelector(label_selector={LABEL: "blue"})


#: both operators read the team's namespaces; each writes one ConfigMap listing them
BUNDLES = (OperatorConfig("bundles", Bundle).with_child(core_v1.ConfigMap, ChildConfig.replace())
           .with_related(core_v1.Namespace, _team))
TENANTS = (OperatorConfig("tenants", Tenant).with_child(core_v1.ConfigMap, ChildConfig.replace())
           .with_related(core_v1.Namespace, _team))


def _listing(request: SyncRequest, namespace: str) -> SyncResponse:
    names = sorted(request.related.of(core_v1.Namespace))
    return SyncResponse(
        children=[{"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": f"{request.name}-teams", "namespace": namespace},
                   "data": {"namespaces": ",".join(names)}}],
        status={"namespaces": names})


def bundles_sync(request: SyncRequest) -> SyncResponse:
    return _listing(request, request.namespace or "default")


def tenants_sync(request: SyncRequest) -> SyncResponse:
    return _listing(request, "default")


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {LABEL: "blue"}}}


def _requests(fake: Any, resource: str, verb: str) -> list[Any]:
    return [r for r in fake.requests
            if r.resource == resource and r.verb == verb and not r.query.get("labelSelector")]


async def _listed(kube: KubeClient, name: str, expected: str) -> bool:
    found = await kube.get(core_v1.ConfigMap, name, "default")
    return found["data"]["namespaces"] == expected


@contextlib.asynccontextmanager
async def _running(group: OperatorGroup) -> Any:
    task = asyncio.create_task(group.run())
    try:
        async with asyncio.timeout(10):
            for op in group.operators:
                await op.wait_synced()
        yield task
    finally:
        await group.stop()
        with contextlib.suppress(RuntimeError):
            await task


def _group(url: str, **settings: Any) -> OperatorGroup:
    import attrs

    group = OperatorGroup(KubeClient.for_url(url), settings=attrs.evolve(FAST, **settings),
                          owns_client=True, clock=LoopClock())
    group.add(BUNDLES, bundles_sync)
    group.add(TENANTS, tenants_sync)
    return group


async def test_two_operators_share_one_namespace_watch_and_both_hear_every_change(
        fake, kube, http) -> None:
    await kube.create(core_v1.Namespace, _namespace("blue-1"))
    await kube.create(Bundle, bundle("b", []))
    await kube.create(Tenant, tenant("t"))
    group = _group(http.url)
    bundles, tenants = group.operators
    [shared] = bundles.related_caches[core_v1.Namespace]
    assert tenants.related_caches[core_v1.Namespace] == [shared]
    assert isinstance(shared, SharedWatchCache) and shared.readers == ["bundles", "tenants"]
    # each operator's children are found under its own label selector: caches of their own
    assert bundles.child_caches[core_v1.ConfigMap] is not tenants.child_caches[core_v1.ConfigMap]
    async with _running(group):
        await eventually(lambda: _listed(kube, "b-teams", "blue-1"))
        await eventually(lambda: _listed(kube, "t-teams", "blue-1"))
        await kube.create(core_v1.Namespace, _namespace("blue-2"))
        await eventually(lambda: _listed(kube, "b-teams", "blue-1,blue-2"))
        await eventually(lambda: _listed(kube, "t-teams", "blue-1,blue-2"))
        assert len(_requests(fake, "namespaces", "list")) == 1
        assert len(_requests(fake, "namespaces", "watch")) == 1
        stored = (await kube.list(core_v1.Namespace, None))["items"]
        assert len(shared) == len(stored)  # one copy of each namespace for both operators
    assert all(not op.is_ready() for op in group.operators)


async def test_apart_the_same_two_operators_list_and_watch_namespaces_twice(
        fake, kube, http, start_operator) -> None:
    """The control for the test above: without a group, each operator has its cache."""
    await kube.create(core_v1.Namespace, _namespace("blue-1"))
    await kube.create(Bundle, bundle("b", []))
    await kube.create(Tenant, tenant("t"))
    await start_operator(BUNDLES, bundles_sync)
    await start_operator(TENANTS, tenants_sync)
    await eventually(lambda: _listed(kube, "t-teams", "blue-1"))
    assert len(_requests(fake, "namespaces", "list")) == 2
    assert len(_requests(fake, "namespaces", "watch")) == 2


async def test_one_registry_serves_both_operators_series(kube, http) -> None:
    await kube.create(core_v1.Namespace, _namespace("blue-1"))
    await kube.create(Bundle, bundle("b", []))
    await kube.create(Tenant, tenant("t"))
    group = _group(http.url)
    async with _running(group):
        await eventually(lambda: _listed(kube, "b-teams", "blue-1"))
        await eventually(lambda: _listed(kube, "t-teams", "blue-1"))
        text = group.render_metrics().decode()
        namespaces = len((await kube.list(core_v1.Namespace, None))["items"])
    samples = [(sample.name, sample.labels, sample.value)
               for family in text_string_to_metric_families(text) for sample in family.samples]

    def value(name: str, **labels: str) -> float:
        return sum(v for n, found, v in samples
                   if n == name and all(found.get(k) == want for k, want in labels.items()))

    for name in ("bundles", "tenants"):
        assert value("kubeplan_syncs_total", operator=name, outcome="ok") >= 1
        # the shared cache is reported under each reader: the objects each one reads
        assert value("kubeplan_cached_objects", operator=name,
                     resource="namespaces") == namespaces
    # every cache LISTs once: its requests are its first reader's, so none counts twice
    assert value("kubeplan_rest_client_requests_total", operator="bundles", verb="list") == 3
    assert value("kubeplan_rest_client_requests_total", operator="tenants", verb="list") == 2
    assert text.count("# TYPE kubeplan_syncs_total counter") == 1  # one family, two labels


async def test_each_request_is_counted_once_for_the_operator_that_made_it(kube, http) -> None:
    await kube.create(core_v1.Namespace, _namespace("blue-1"))
    await kube.create(Bundle, bundle("b", []))
    group = _group(http.url)
    bundles, tenants = group.operators
    async with _running(group):
        await eventually(lambda: _listed(kube, "b-teams", "blue-1"))

        def creates(op: Operator) -> float:
            return sum(sample.value for metric in op.metrics.api_requests.collect()
                       for sample in metric.samples
                       if sample.name.endswith("_total")
                       and sample.labels["operator"] == op.config.name
                       and sample.labels["verb"] not in ("list", "watch"))

        # only the Bundle has a parent: only "bundles" wrote anything (its ConfigMap)
        assert creates(bundles) >= 1
        assert creates(tenants) == 0


async def test_names_must_be_unique_in_a_group(http) -> None:
    group = OperatorGroup(KubeClient.for_url(http.url), owns_client=True)
    group.add(BUNDLES, bundles_sync)
    with pytest.raises(ValueError, match="two operators are named 'bundles'"):
        group.add(BUNDLES, tenants_sync)
    await group.client.close()


async def test_an_empty_group_refuses_to_run(http) -> None:
    group = OperatorGroup(KubeClient.for_url(http.url), owns_client=True)
    with pytest.raises(ValueError, match="at least one operator"):
        await group.run()
    await group.client.close()


async def test_one_operator_failing_stops_the_other_and_names_it(kube, http) -> None:
    await kube.create(Bundle, bundle("b", []))
    group = _group(http.url)
    bundles, tenants = group.operators
    task = asyncio.create_task(group.run())
    async with asyncio.timeout(10):
        for op in group.operators:
            await op.wait_synced()
        await eventually(lambda: asyncio.sleep(0, bool(tenants._workers)))
    tenants._workers[0].cancel()  # a worker dying is what only a bug does
    with pytest.raises(RuntimeError, match="tenants failed"):
        await task
    assert not bundles.is_ready() and not tenants.is_ready()
    assert not group._cache_tasks  # every shared watch was stopped


async def test_the_group_serves_one_health_endpoint_ready_when_all_are(kube, http) -> None:
    import aiohttp

    await kube.create(Bundle, bundle("b", []))
    group = _group(http.url, health_port=0, health_host="127.0.0.1")
    async with _running(group):
        assert group.health is not None
        url = f"http://127.0.0.1:{group.health.port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/readyz") as response:
                body = await response.text()
                assert response.status == 200, body
                assert "bundles: mode: single" in body and "tenants: mode: single" in body
            async with session.get(f"{url}/metrics") as response:
                text = await response.text()
                assert 'operator="bundles"' in text and 'operator="tenants"' in text
        assert all(op.health is None for op in group.operators)  # none serves its own


#: reads the Bundles (the first operator's parents) as a related type: their cache is shared
WATCHER = (OperatorConfig("watcher", Tenant).with_child(core_v1.ConfigMap, ChildConfig.replace())
           .with_related(Bundle, lambda parent: RelatedSelector()))


def watcher_sync(request: SyncRequest) -> SyncResponse:
    seen = sorted(f"{b['metadata']['name']}={(b.get('status') or {}).get('children')}"
                  for b in request.related.of(Bundle).values())
    return SyncResponse(children=[{"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": "watched", "namespace": "default"},
                                   "data": {"bundles": ",".join(seen)}}])


def counting_bundles_sync(request: SyncRequest) -> SyncResponse:
    children = request.spec.get("children") or []
    return SyncResponse(children=[{**c, "metadata": {**c["metadata"], "namespace": "default"}}
                                  for c in children], status={"children": len(children)})


async def test_one_operator_s_own_writes_reach_the_other_readers_of_a_shared_cache(
        kube, http) -> None:
    """The Bundle operator's status writes enter the shared Bundle cache as the answer to
    its write (no listener call for the writer); the watch event that follows carries
    that same resourceVersion and is not reported again. The other reader must hear of
    the change anyway."""
    import attrs

    await kube.create(Bundle, bundle("b", []))
    await kube.create(Tenant, tenant("t"))
    group = OperatorGroup(KubeClient.for_url(http.url), settings=attrs.evolve(FAST),
                          owns_client=True, clock=LoopClock())
    bundles = group.add(OperatorConfig("bundles", Bundle).with_child(
        core_v1.ConfigMap, ChildConfig.replace()), counting_bundles_sync)
    watcher = group.add(WATCHER, watcher_sync)
    assert watcher.related_caches[Bundle] == bundles.parent_caches

    async def watched(expected: str) -> bool:
        found = await kube.get(core_v1.ConfigMap, "watched", "default")
        return found["data"]["bundles"] == expected

    async with _running(group):
        await eventually(lambda: watched("b=0"))
        await kube.patch(Bundle, "b", {"spec": {"children": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}]}},
            namespace="default")
        await eventually(lambda: watched("b=1"))


async def test_each_operator_of_a_group_holds_its_own_lease(kube, http) -> None:
    from kubeplan.core.k8s.coordination_v1 import Lease

    await kube.create(Bundle, bundle("b", []))
    group = _group(http.url, leader_election=True, lease_namespace="default")

    async def leases() -> list[dict[str, Any]]:
        found = (await kube.list(Lease, "default"))["items"]
        return found if len(found) == 2 else []

    async with _running(group):
        await eventually(lambda: _listed(kube, "b-teams", ""))
        held = await eventually(leases)
        assert sorted(lease["metadata"]["name"] for lease in held) == ["bundles-leader",
                                                                   "tenants-leader"]
        assert {lease["spec"]["holderIdentity"] for lease in held} == {group.identity}
        assert all(op.is_leader for op in group.operators)


async def test_a_shared_watch_dying_stops_every_operator(kube, http) -> None:
    group = _group(http.url)
    task = asyncio.create_task(group.run())
    async with asyncio.timeout(10):
        for op in group.operators:
            await op.wait_synced()
    [namespace_watch] = [t for t in group._cache_tasks if "Namespace" in t.get_name()]
    namespace_watch.cancel()
    with pytest.raises(RuntimeError, match="the shared watch of v1/Namespace failed"):
        await task
    assert all(not op.is_ready() for op in group.operators)


async def test_operators_sharing_caches_must_share_their_client(http) -> None:
    group = OperatorGroup(KubeClient.for_url(http.url), owns_client=True)
    group.add(BUNDLES, bundles_sync)
    other = KubeClient.for_url(http.url)
    with pytest.raises(ValueError, match="must share one client"):
        Operator(TENANTS, tenants_sync, other, shared_caches=group.caches)
    await other.close()
    await group.client.close()
