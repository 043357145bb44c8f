"""The in-process ApiClient over FakeApiServer.handle."""

from __future__ import annotations

import pytest
from apiserver_harness import new_server

from kubeplan.adapters import errors
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.testkit.apiserver import Fault


async def test_crud_through_the_client() -> None:
    server = new_server()
    client = server.client()
    created = await client.create(
        core_v1.ConfigMap, {"metadata": {"name": "a", "namespace": "default"}, "data": {"x": "1"}}
    )
    assert created["metadata"]["resourceVersion"]
    got = await client.get(core_v1.ConfigMap, "a", "default")
    assert got == created
    got["data"] = {"x": "2"}
    replaced = await client.replace(core_v1.ConfigMap, got)
    assert replaced["data"] == {"x": "2"}
    with pytest.raises(errors.Conflict):
        await client.replace(core_v1.ConfigMap, got)
    patched = await client.patch(core_v1.ConfigMap, "a", {"data": {"y": "3"}}, namespace="default")
    assert patched["data"] == {"x": "2", "y": "3"}
    listing = await client.list(core_v1.ConfigMap, "default")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a"]
    deleted = await client.delete(core_v1.ConfigMap, "a", "default")
    assert deleted["status"] == "Success"
    with pytest.raises(errors.NotFound):
        await client.get(core_v1.ConfigMap, "a", "default")
    with pytest.raises(errors.AlreadyExists):
        await client.create(core_v1.Namespace, {"metadata": {"name": "default"}})
    await client.close()


async def test_apply_status_and_watch_through_the_client() -> None:
    server = new_server()
    client = server.client()
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    applied = await client.apply(apps_v1.Deployment, dep, field_manager="op")
    assert applied["metadata"]["managedFields"][0]["manager"] == "op"
    applied["status"] = {"replicas": 1}
    status = await client.replace_status(apps_v1.Deployment, applied)
    assert status["status"] == {"replicas": 1}
    events = client.watch(apps_v1.Deployment, "default", resource_version="0", timeout_seconds=5)
    first = await events.__anext__()
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "d"
    await events.aclose()


async def test_faults_raise_typed_errors() -> None:
    server = new_server()
    client = server.client()
    server.faults.add(Fault.too_many_requests(retry_after=3))
    with pytest.raises(errors.TooManyRequests) as info:
        await client.list(core_v1.ConfigMap, "default")
    assert info.value.retry_after == 3.0
    server.faults.add(Fault.error(503, verb="get"))
    with pytest.raises(errors.ServerError):
        await client.get(core_v1.Namespace, "default")
    with pytest.raises(errors.Invalid) as invalid:
        await client.create(core_v1.ConfigMap, {"metadata": {"namespace": "default"}})
    assert invalid.value.causes[0]["field"] == "metadata.name"


async def test_delete_with_uid_precondition() -> None:
    server = new_server()
    client = server.client()
    created = await client.create(
        core_v1.ConfigMap, {"metadata": {"name": "a"}}, namespace="default"
    )
    with pytest.raises(errors.Conflict):
        await client.delete(core_v1.ConfigMap, "a", "default", uid="wrong")
    await client.delete(
        core_v1.ConfigMap,
        "a",
        "default",
        uid=created["metadata"]["uid"],
        propagation_policy="Foreground",
    )
