"""Discovery, OpenAPI and health endpoints over real HTTP."""

from __future__ import annotations

import json
import re

import aiohttp

from kubeplan.testkit.apiserver.openapi import OPENAPI_V2_PROTOBUF

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGG_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


async def get_json(session: aiohttp.ClientSession, path: str, **kw: object) -> tuple[int, dict]:
    async with session.get(path, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.json(content_type=None)


async def test_version(session: aiohttp.ClientSession) -> None:
    status, body = await get_json(session, "/version")
    assert status == 200
    assert body["major"] == "1" and body["minor"].isdigit()
    assert body["gitVersion"].startswith("v1.")


async def test_health_probes(session: aiohttp.ClientSession) -> None:
    for path in ("/healthz", "/readyz", "/livez", "/readyz/ping"):
        async with session.get(path) as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"


async def test_api_versions(session: aiohttp.ClientSession) -> None:
    status, body = await get_json(session, "/api")
    assert status == 200
    assert body["kind"] == "APIVersions"
    assert body["versions"] == ["v1"]
    assert body["serverAddressByClientCIDRs"][0]["clientCIDR"] == "0.0.0.0/0"


async def test_api_group_list_preferred_version_matches_an_entry(
    session: aiohttp.ClientSession,
) -> None:
    status, body = await get_json(session, "/apis")
    assert status == 200 and body["kind"] == "APIGroupList"
    groups = {g["name"]: g for g in body["groups"]}
    assert {"apps", "batch", "apiextensions.k8s.io", "coordination.k8s.io"} <= set(groups)
    assert "" not in groups  # the core group lives at /api
    apps = groups["apps"]
    # kubernetes_asyncio finds the preferred version by dict equality
    assert apps["preferredVersion"] in apps["versions"]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


async def test_core_resource_list(session: aiohttp.ClientSession) -> None:
    status, body = await get_json(session, "/api/v1")
    assert status == 200
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    cm = by_name["configmaps"]
    assert cm["kind"] == "ConfigMap" and cm["namespaced"] is True
    assert cm["singularName"] == "configmap" and cm["shortNames"] == ["cm"]
    assert set(cm["verbs"]) >= {"create", "delete", "get", "list", "patch", "update", "watch"}
    assert by_name["namespaces"]["namespaced"] is False
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods"]["categories"] == ["all"]
    assert by_name["namespaces/finalize"]["verbs"] == ["update"]


async def test_group_version_and_group(session: aiohttp.ClientSession) -> None:
    status, body = await get_json(session, "/apis/apps/v1")
    assert status == 200 and body["groupVersion"] == "apps/v1"
    names = {r["name"]: r for r in body["resources"]}
    assert names["deployments"]["kind"] == "Deployment"
    assert names["deployments/status"]["kind"] == "Deployment"
    status, group = await get_json(session, "/apis/apps")
    assert status == 200 and group["kind"] == "APIGroup" and group["name"] == "apps"
    assert group["preferredVersion"]["groupVersion"] == "apps/v1"


async def test_unknown_discovery_paths_are_404_status(session: aiohttp.ClientSession) -> None:
    # under /api, or under /apis of a served group: the API's JSON Status
    for path in ("/apis/apps/v9", "/apis/apps/v9/deployments", "/api/v2", "/api/v1/foos"):
        status, body = await get_json(session, path)
        assert status == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound"
        assert body["details"] == {}, path
    # a group nobody serves, or no API path at all: Go's plain-text 404, as the real server
    for path in ("/apis/nope.example.com", "/apis/nope.example.com/v1/foos", "/nothing/here",
                 "/openapi/v9"):
        async with session.get(path) as resp:
            assert resp.status == 404, path
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8", path
            assert await resp.text() == "404 page not found\n", path
    async with session.get("/openapi/v3/apis/nope.example.com/v1") as resp:
        assert resp.status == 404 and await resp.read() == b""


async def test_aggregated_discovery_when_asked(session: aiohttp.ClientSession) -> None:
    accept = f"{AGG_V2},{AGG_V2BETA1},application/json"
    async with session.get("/apis", headers={"Accept": accept}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == AGG_V2
        body = await resp.json(content_type=None)
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2"
    groups = {item["metadata"]["name"]: item for item in body["items"]}
    deploy = next(
        r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    assert deploy["scope"] == "Namespaced"
    # group and version are left empty where they are the resource's own, as upstream
    assert deploy["responseKind"] == {"group": "", "version": "", "kind": "Deployment"}
    assert {
        "subresource": "status",
        "verbs": ["get", "patch", "update"],
        "responseKind": {"group": "", "version": "", "kind": "Deployment"},
    } in deploy["subresources"]
    async with session.get("/api", headers={"Accept": AGG_V2BETA1}) as resp:
        assert resp.headers["Content-Type"] == AGG_V2BETA1
        core = await resp.json(content_type=None)
    assert [item["metadata"] for item in core["items"]] == [{}]  # the core group has no name
    pods = next(r for r in core["items"][0]["versions"][0]["resources"]
                if r["resource"] == "pods")
    eviction = next(s for s in pods["subresources"] if s["subresource"] == "eviction")
    assert eviction["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}


async def test_plain_accept_gets_legacy_discovery(session: aiohttp.ClientSession) -> None:
    for accept in ("application/json", "*/*", f"application/json,{AGG_V2}"):
        async with session.get("/apis", headers={"Accept": accept}) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            assert "as=" not in resp.headers["Content-Type"]
            assert (await resp.json())["kind"] == "APIGroupList"


async def test_openapi_v3_index_and_group_version(session: aiohttp.ClientSession) -> None:
    status, index = await get_json(session, "/openapi/v3")
    assert status == 200
    assert {"api/v1", "apis/apps/v1"} <= set(index["paths"])
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/api/v1?hash=")
    status, doc = await get_json(session, url)
    assert status == 200 and doc["openapi"].startswith("3.")
    item = doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
    }
    # kubectl decides to leave validation to the server from this parameter
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    # a built-in takes strategic merge patches, as on the real server
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    schema = doc["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "", "version": "v1", "kind": "ConfigMap"}
    ]
    # upstream's schema, descriptions included (what kubectl explain prints)
    assert schema["properties"]["data"]["type"] == "object"
    assert "UTF-8" in schema["properties"]["data"]["description"]
    # every $ref of the document resolves inside it, and nothing unreached is carried
    refs = set(re.findall(r'"\$ref": ?"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs == set(doc["components"]["schemas"])
    # no route the fake does not serve (componentstatuses, pods/log, services/proxy)
    assert not [p for p in doc["paths"] if "componentstatuses" in p or p.endswith("/log")
                or "/proxy" in p]
    status, _ = await get_json(session, "/openapi/v3/apis/nope.example.com/v1")
    assert status == 404


async def test_openapi_v2_json_and_protobuf(session: aiohttp.ClientSession) -> None:
    status, doc = await get_json(session, "/openapi/v2", headers={"Accept": "application/json"})
    assert status == 200 and doc["swagger"] == "2.0"
    assert {"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.ConfigMap"} <= set(
        doc["definitions"]
    )
    async with session.get("/openapi/v2", headers={"Accept": OPENAPI_V2_PROTOBUF}) as resp:
        assert resp.status == 200
        assert "protobuf" in resp.headers["Content-Type"]
        data = await resp.read()
    assert data.startswith(b"\n\x032.0")  # field 1 (swagger) = "2.0"
    assert b"x-kubernetes-group-version-kind" in data and b"fieldValidation" in data
    async with session.get("/openapi/v2", headers={"Accept": "text/html"}) as resp:
        assert resp.status == 406


async def test_root_lists_paths(session: aiohttp.ClientSession) -> None:
    status, body = await get_json(session, "/")
    assert status == 200
    assert {"/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version"} <= set(
        body["paths"]
    )
