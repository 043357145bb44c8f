"""The official (synchronous) `kubernetes` client against the fake, run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeplan.testkit.apiserver.http import ThreadedFakeApiServer

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, dynamic, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[ThreadedFakeApiServer]:
    with ThreadedFakeApiServer(kubeconfig_path=tmp_path / "kubeconfig") as server:
        yield server


@pytest.fixture
def api(fake: ThreadedFakeApiServer) -> Iterator[client.ApiClient]:
    api_client = kubernetes.config.new_client_from_config(config_file=str(fake.kubeconfig_path))
    yield api_client
    api_client.close()


def cm(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)


def test_crud_and_merge_patch(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map("default", cm("c1", a="1"))
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_config_map("c1", "default").data == {"a": "1"}
    listed = core.list_namespaced_config_map("default")
    assert [i.metadata.name for i in listed.items] == ["c1"]
    current = core.read_namespaced_config_map("c1", "default")
    current.data = {"a": "2"}
    assert core.replace_namespaced_config_map("c1", "default", current).data == {"a": "2"}
    patched = core.patch_namespaced_config_map(
        "c1",
        "default",
        {"data": {"b": "3", "a": None}},
        _content_type="application/merge-patch+json",
    )
    assert patched.data == {"b": "3"}
    core.delete_namespaced_config_map("c1", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("c1", "default")
    assert err.value.status == 404


def test_create_existing_is_conflict(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", cm("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", cm("dup"))
    assert err.value.status == 409


def test_watch_sees_live_changes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version

    def writer() -> None:
        time.sleep(0.2)
        writer_core = client.CoreV1Api(api)
        writer_core.create_namespaced_config_map("default", cm("w1", k="1"))
        writer_core.patch_namespaced_config_map("w1", "default", {"data": {"k": "2"}})

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].data))
        if len(seen) == 2:
            w.stop()
    thread.join()
    assert seen == [("ADDED", {"k": "1"}), ("MODIFIED", {"k": "2"})]


def test_dynamic_client_discovery(api: client.ApiClient, tmp_path: Path) -> None:
    dyn = dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments"
    assert "status" in deployments.subresources
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "dyn"},
            "data": {"x": "y"},
        },
        namespace="default",
    )
    assert configmaps.get(name="dyn", namespace="default").data.x == "y"
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(
        body={
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    deadline = time.monotonic() + 10
    while True:  # the CRD is established asynchronously, like upstream
        try:
            dyn.resources.invalidate_cache()
            gadgets = dyn.resources.get(api_version="example.com/v1", kind="Gadget")
            break
        except dynamic.exceptions.ResourceNotFoundError:
            assert time.monotonic() < deadline, "Gadget never appeared in discovery"
            time.sleep(0.05)
    gadgets.create(
        body={
            "apiVersion": "example.com/v1",
            "kind": "Gadget",
            "metadata": {"name": "g1"},
            "spec": {"n": 1},
        },
        namespace="default",
    )
    assert [g.metadata.name for g in gadgets.get(namespace="default").items] == ["g1"]


def test_threaded_server_call_and_stop(tmp_path: Path) -> None:
    server = ThreadedFakeApiServer(kubeconfig_path=tmp_path / "k")
    with server:
        url = server.url
        assert server.kubeconfig_path.read_text().count(url) == 1
        assert server.call(lambda s: s.registry) is not None
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/version", timeout=2)


def test_token_auth_with_official_client(tmp_path: Path) -> None:
    with ThreadedFakeApiServer(token="t", kubeconfig_path=tmp_path / "k") as fake:
        api_client = kubernetes.config.new_client_from_config(config_file=str(fake.kubeconfig_path))
        with api_client:
            assert client.CoreV1Api(api_client).list_namespace().items
        anonymous = client.ApiClient(client.Configuration(host=fake.url))
        with anonymous, pytest.raises(ApiException) as err:
            client.CoreV1Api(anonymous).list_namespace()
        assert err.value.status == 401
