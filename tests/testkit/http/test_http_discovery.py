"""Discovery, OpenAPI and health endpoints over real HTTP."""

from __future__ import annotations

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
    for path in ("/apis/nope.example.com", "/apis/apps/v9", "/api/v2", "/nothing/here"):
        status, body = await get_json(session, path)
        assert status == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound"


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
    assert deploy["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {
        "subresource": "status",
        "verbs": ["get", "patch", "update"],
        "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
    } in deploy["subresources"]
    async with session.get("/api", headers={"Accept": AGG_V2BETA1}) as resp:
        assert resp.headers["Content-Type"] == AGG_V2BETA1
        core = await resp.json(content_type=None)
    assert [item["metadata"]["name"] for item in core["items"]] == [""]


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
    # no strategic merge in the request body: kubectl then uses its compiled-in types
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    schema = doc["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "", "version": "v1", "kind": "ConfigMap"}
    ]
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
