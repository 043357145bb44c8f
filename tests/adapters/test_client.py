"""KubeClient over HTTP against the fake API server: verbs, content types, errors, retries."""

from __future__ import annotations

import asyncio

import pytest
from adapter_testing import Bundle, bundle, configmap

from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.errors import (
    AlreadyExists,
    Conflict,
    ConnectionFailed,
    NotFound,
    ServerError,
)
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.apiserver.http import write_kubeconfig

CM = core_v1.ConfigMap


@pytest.fixture(params=["http1", "aiohttp"])
async def kube(http, request):
    """Every test here runs over both transports: they must behave the same."""
    client = KubeClient.for_url(http.url, transport=request.param)
    yield client
    await client.close()


def _cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "t"}},
            "data": dict(data)}


async def test_create_get_list_patch_replace_delete(kube: KubeClient):
    created = await kube.create(CM, _cm("a", x="1"))
    assert created["metadata"]["uid"]
    assert (await kube.get(CM, "a", "default"))["data"] == {"x": "1"}
    await kube.create(CM, {**_cm("b"), "metadata": {"name": "b", "namespace": "default"}})
    listed = await kube.list(CM, "default", label_selector="app=t")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    assert listed["metadata"]["resourceVersion"]

    patched = await kube.patch(CM, "a", {"data": {"y": "2"}}, namespace="default")
    assert patched["data"] == {"x": "1", "y": "2"}  # a merge patch, not strategic or JSON
    patched["data"] = {"z": "3"}
    replaced = await kube.replace(CM, patched)
    assert replaced["data"] == {"z": "3"}
    with pytest.raises(Conflict):  # the resourceVersion in a PUT is a precondition
        await kube.replace(CM, patched)

    with pytest.raises(Conflict):  # a uid precondition that does not match
        await kube.delete(CM, "a", "default", uid="not-the-uid")
    await kube.delete(CM, "a", "default", uid=created["metadata"]["uid"],
                      propagation_policy="Background")
    with pytest.raises(NotFound):
        await kube.get(CM, "a", "default")


async def test_create_of_an_existing_name_is_already_exists(kube: KubeClient):
    await kube.create(CM, _cm("a"))
    with pytest.raises(AlreadyExists):
        await kube.create(CM, _cm("a"))


async def test_server_side_apply_uses_the_field_manager_and_removes_dropped_fields(kube):
    await kube.apply(CM, _cm("a", x="1", y="2"), field_manager="kubeplan-test")
    await kube.patch(CM, "a", {"data": {"other": "theirs"}}, namespace="default",
                     field_manager="someone-else")
    applied = await kube.apply(CM, _cm("a", x="1"), field_manager="kubeplan-test")
    assert applied["data"] == {"x": "1", "other": "theirs"}
    managers = {m["manager"] for m in applied["metadata"].get("managedFields") or ()}
    assert "kubeplan-test" in managers


async def test_status_subresource_merge_patch(kube, crds):
    await kube.create(Bundle, bundle("b", [configmap("c")]))
    patched = await kube.patch(Bundle, "b", {"status": {"children": 1}}, namespace="default",
                               subresource="status")
    assert patched["status"] == {"children": 1}
    patched["status"] = {"children": 2}
    replaced = await kube.replace_status(Bundle, patched)
    assert replaced["status"] == {"children": 2}


async def test_watch_streams_raw_events_from_a_resource_version(kube: KubeClient):
    listed = await kube.list(CM, "default")
    rv = listed["metadata"]["resourceVersion"]
    events: list[tuple[str, str]] = []

    async def consume() -> None:
        async for event in kube.watch(CM, "default", resource_version=rv, timeout_seconds=5):
            events.append((event["type"], event["object"]["metadata"]["name"]))
            if event["type"] == "DELETED":
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    await kube.create(CM, _cm("w"))
    await kube.patch(CM, "w", {"data": {"k": "v"}}, namespace="default")
    await kube.delete(CM, "w", "default")
    await asyncio.wait_for(task, 5)
    assert [e for e in events if e[0] != "BOOKMARK"] == [
        ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")
    ]


async def test_reads_are_retried_after_429_honouring_retry_after(fake, kube):
    await kube.create(CM, _cm("a"))
    fake.faults.add(Fault.too_many_requests(retry_after=1, verb="get"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await kube.get(CM, "a", "default"))["metadata"]["name"] == "a"
    assert loop.time() - started == pytest.approx(1.0)  # virtual time: Retry-After, exactly


async def test_reads_are_retried_after_server_errors(fake, kube):
    fake.faults.add(Fault.error(500, verb="list", count=2))
    assert (await kube.list(CM, "default"))["kind"] == "ConfigMapList"


async def test_writes_are_not_retried_after_server_errors(fake, kube):
    codes: list[tuple[str, int]] = []
    kube.observers.append(lambda verb, code: codes.append((verb, code)))
    fake.faults.add(Fault.error(500, verb="create"))
    with pytest.raises(ServerError):
        await kube.create(CM, _cm("a"))
    assert codes == [("create", 500)]


async def test_writes_are_retried_after_429(fake, kube):
    fake.faults.add(Fault.too_many_requests(retry_after=0, verb="create"))
    codes: list[tuple[str, int]] = []
    kube.observers.append(lambda verb, code: codes.append((verb, code)))
    await kube.create(CM, _cm("a"))
    assert codes == [("create", 429), ("create", 201)]


async def test_from_kubeconfig_with_a_context(http, tmp_path):
    path = write_kubeconfig(tmp_path / "kubeconfig", http.url, context="here")
    client = await KubeClient.from_kubeconfig(path, context="here")
    try:
        assert (await client.list(CM, "default"))["items"] == []
    finally:
        await client.close()
    client = await KubeClient.from_config(kubeconfig=path)
    await client.close()


async def test_an_unreachable_server_fails_reads_with_connection_failed():
    client = KubeClient.for_url("http://127.0.0.1:9", read_attempts=2)
    try:
        with pytest.raises(ConnectionFailed):
            await client.get(CM, "a", "default")
    finally:
        await client.close()
