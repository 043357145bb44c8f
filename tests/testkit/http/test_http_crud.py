"""CRUD over real HTTP against the real store: the wire shapes clients depend on."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def configmap(name: str, **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": data,
    }


async def call(
    session: aiohttp.ClientSession,
    method: str,
    path: str,
    body: object = None,
    content_type: str = "application/json",
) -> tuple[int, dict]:
    data = None
    if body is not None:
        import orjson

        data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    async with session.request(
        method, path, data=data, headers={"Content-Type": content_type}
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_create_get_list_update_delete(session: aiohttp.ClientSession) -> None:
    status, created = await call(session, "POST", CMS, configmap("c1", a="1"))
    assert status == 201
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"].isdigit() and meta["creationTimestamp"]
    status, got = await call(session, "GET", f"{CMS}/c1")
    assert status == 200 and got == created
    status, listed = await call(session, "GET", CMS)
    assert status == 200 and listed["kind"] == "ConfigMapList" and listed["apiVersion"] == "v1"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["c1"]
    assert listed["metadata"]["resourceVersion"].isdigit()
    got["data"] = {"a": "2"}
    status, updated = await call(session, "PUT", f"{CMS}/c1", got)
    assert status == 200 and updated["data"] == {"a": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    status, _ = await call(session, "PUT", f"{CMS}/c1", got)  # stale resourceVersion
    assert status == 409
    status, _ = await call(session, "DELETE", f"{CMS}/c1")
    assert status == 200
    status, missing = await call(session, "GET", f"{CMS}/c1")
    assert status == 404 and missing["reason"] == "NotFound"


async def test_create_twice_is_409(session: aiohttp.ClientSession) -> None:
    assert (await call(session, "POST", CMS, configmap("dup")))[0] == 201
    status, body = await call(session, "POST", CMS, configmap("dup"))
    assert status == 409 and body["reason"] == "AlreadyExists"


@pytest.mark.parametrize(
    ("content_type", "patch", "expected"),
    [
        ("application/merge-patch+json", {"data": {"b": "2", "a": None}}, {"b": "2"}),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/data/b", "value": "2"}],
            {"a": "1", "b": "2"},
        ),
        ("application/strategic-merge-patch+json", {"data": {"b": "2"}}, {"a": "1", "b": "2"}),
    ],
)
async def test_patch_types(
    session: aiohttp.ClientSession, content_type: str, patch: object, expected: dict
) -> None:
    await call(session, "POST", CMS, configmap("p1", a="1"))
    status, body = await call(session, "PATCH", f"{CMS}/p1", patch, content_type)
    assert status == 200, body
    assert body["data"] == expected


async def test_strategic_merge_merges_containers_by_name(
    session: aiohttp.ClientSession,
) -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d1", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "d1"}},
            "template": {
                "metadata": {"labels": {"app": "d1"}},
                "spec": {
                    "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]
                },
            },
        },
    }
    assert (await call(session, "POST", DEPLOYS, deploy))[0] == 201
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}}}
    status, body = await call(
        session, "PATCH", f"{DEPLOYS}/d1", patch, "application/strategic-merge-patch+json"
    )
    assert status == 200
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("a", "a:1"), ("b", "b:2")]


async def test_server_side_apply_creates_then_updates(session: aiohttp.ClientSession) -> None:
    doc = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s1\n  namespace: default\n"
        "data:\n  a: '1'\n"
    )
    status, body = await call(
        session,
        "PATCH",
        f"{CMS}/s1?fieldManager=test&force=true",
        doc,
        "application/apply-patch+yaml",
    )
    assert status == 201 and body["data"] == {"a": "1"}
    status, body = await call(
        session,
        "PATCH",
        f"{CMS}/s1?fieldManager=test",
        doc.replace("'1'", "'2'"),
        "application/apply-patch+yaml",
    )
    assert status == 200 and body["data"] == {"a": "2"}
    managers = [m["manager"] for m in body["metadata"].get("managedFields", [])]
    assert "test" in managers


async def test_unsupported_patch_type_is_415(session: aiohttp.ClientSession) -> None:
    await call(session, "POST", CMS, configmap("u1"))
    status, body = await call(session, "PATCH", f"{CMS}/u1", {"data": {}}, "text/plain")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


async def wait_for_discovery(session: aiohttp.ClientSession, path: str, present: bool) -> None:
    for _ in range(100):
        async with session.get(path) as resp:
            if (resp.status == 200) == present:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never became {'present' if present else 'absent'}")


async def test_crd_lifecycle_in_discovery_and_openapi(session: aiohttp.ClientSession) -> None:
    status, _ = await call(
        session, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD
    )
    assert status == 201
    await wait_for_discovery(session, "/apis/example.com/v1", present=True)
    status, rl = await call(session, "GET", "/apis/example.com/v1")
    names = {r["name"]: r for r in rl["resources"]}
    assert names["widgets"]["kind"] == "Widget" and names["widgets"]["shortNames"] == ["wd"]
    assert "widgets/status" in names
    status, index = await call(session, "GET", "/openapi/v3")
    assert "apis/example.com/v1" in index["paths"]
    status, doc = await call(session, "GET", "/openapi/v3/apis/example.com/v1")
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["size"] == {"type": "integer"}

    widgets = "/apis/example.com/v1/namespaces/default/widgets"
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    status, created = await call(session, "POST", widgets, widget)
    assert status == 201 and created["spec"] == {"size": 3}
    status, listed = await call(session, "GET", widgets)
    assert listed["kind"] == "WidgetList" and listed["apiVersion"] == "example.com/v1"

    status, _ = await call(
        session,
        "DELETE",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    )
    assert status == 200
    await wait_for_discovery(session, "/apis/example.com/v1", present=False)
