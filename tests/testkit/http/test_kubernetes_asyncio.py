"""kubernetes_asyncio (what kubeplan's adapters use) against the fake over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.rest import ApiException
from kubernetes_asyncio.dynamic import DynamicClient
from kubernetes_asyncio.dynamic.exceptions import ResourceNotFoundError

from kubeplan.testkit.apiserver.http import FakeApiHttpServer, write_kubeconfig


@pytest.fixture
async def api(http: FakeApiHttpServer, tmp_path: Path) -> AsyncIterator[client.ApiClient]:
    path = write_kubeconfig(tmp_path / "kubeconfig", http.url)
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(path), client_configuration=configuration)
    async with client.ApiClient(configuration) as api_client:
        yield api_client


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def test_crud_and_merge_patch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = await core.create_namespaced_config_map("default", cm("c1", a="1"))
    assert created.metadata.uid
    assert (await core.read_namespaced_config_map("c1", "default")).data == {"a": "1"}
    current = await core.read_namespaced_config_map("c1", "default")
    current.data = {"a": "2"}
    replaced = await core.replace_namespaced_config_map("c1", "default", current)
    assert replaced.data == {"a": "2"}
    patched = await core.patch_namespaced_config_map(
        "c1",
        "default",
        {"data": {"a": None, "b": "1"}},
        _content_type="application/merge-patch+json",
    )
    assert patched.data == {"b": "1"}
    listed = await core.list_namespaced_config_map("default")
    assert [i.metadata.name for i in listed.items] == ["c1"]
    await core.delete_namespaced_config_map("c1", "default")
    with pytest.raises(ApiException) as err:
        await core.read_namespaced_config_map("c1", "default")
    assert err.value.status == 404


async def test_watch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    rv = (await core.list_namespaced_config_map("default")).metadata.resource_version

    async def writer() -> None:
        await asyncio.sleep(0.1)
        await core.create_namespaced_config_map("default", cm("w1", k="1"))
        await core.delete_namespaced_config_map("w1", "default")

    task = asyncio.create_task(writer())
    seen = []
    async with watch.Watch() as w:
        async for event in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                w.stop()
    await task
    assert seen == [("ADDED", "w1"), ("DELETED", "w1")]


async def test_dynamic_client_discovery(api: client.ApiClient, tmp_path: Path) -> None:
    async with DynamicClient(api, cache_file=str(tmp_path / "discovery.json")) as dyn:
        deployments = await dyn.resources.get(api_version="apps/v1", kind="Deployment")
        assert deployments.namespaced and "status" in deployments.subresources
        crds = await dyn.resources.get(
            api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
        )
        await dyn.create(
            crds,
            body={
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": "gizmos.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": "Namespaced",
                    "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
                    "versions": [
                        {
                            "name": "v1",
                            "served": True,
                            "storage": True,
                            "subresources": {"status": {}},
                            "schema": {
                                "openAPIV3Schema": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                }
                            },
                        }
                    ],
                },
            },
        )
        for _ in range(200):  # established asynchronously, like upstream
            try:
                await dyn.resources.invalidate_cache()
                gizmos = await dyn.resources.get(api_version="example.com/v1", kind="Gizmo")
                break
            except ResourceNotFoundError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("Gizmo never appeared in discovery")
        assert "status" in gizmos.subresources
        await dyn.create(
            gizmos,
            namespace="default",
            body={"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g1"}},
        )
        got = await dyn.get(gizmos, name="g1", namespace="default")
        assert got.metadata.name == "g1"
