"""Server-side printing: `as=Table` answers for lists, gets and watches."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from kubeplan.testkit.apiserver.tables import human_duration, jsonpath

TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
         "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
CMS = "/api/v1/namespaces/default/configmaps"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
             "versions": [{
                 "name": "v1", "served": True, "storage": True,
                 "additionalPrinterColumns": [
                     {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                     {"name": "Ready", "type": "string",
                      "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                     {"name": "Color", "type": "string", "jsonPath": ".spec.color",
                      "priority": 1}],
                 "schema": {"openAPIV3Schema": {"type": "object",
                                                "x-kubernetes-preserve-unknown-fields": True}},
             }]},
}


async def post(session: aiohttp.ClientSession, path: str, obj: dict) -> None:
    async with session.post(path, data=orjson.dumps(obj),
                            headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 201, await resp.text()


async def get_table(session: aiohttp.ClientSession, path: str, **params: str) -> dict:
    async with session.get(path, params=params, headers={"Accept": TABLE}) as resp:
        assert resp.status == 200
        assert "as=Table" in resp.headers["Content-Type"]
        return await resp.json(content_type=None)


async def test_configmap_list_as_table(session: aiohttp.ClientSession) -> None:
    await post(session, CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "c1"}, "data": {"a": "1", "b": "2"}})
    table = await get_table(session, CMS)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["metadata"]["resourceVersion"].isdigit()
    [row] = table["rows"]
    assert row["cells"][:2] == ["c1", 2] and row["cells"][2].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "c1"
    full = await get_table(session, CMS, includeObject="Object")
    assert full["rows"][0]["object"]["data"] == {"a": "1", "b": "2"}
    bare = await get_table(session, CMS, includeObject="None")
    assert "object" not in bare["rows"][0]
    one = await get_table(session, f"{CMS}/c1")
    assert [r["cells"][0] for r in one["rows"]] == ["c1"]


async def test_plain_accept_and_errors_are_not_tables(session: aiohttp.ClientSession) -> None:
    async with session.get(CMS) as resp:
        assert (await resp.json())["kind"] == "ConfigMapList"
    async with session.get(f"{CMS}/missing", headers={"Accept": TABLE}) as resp:
        assert resp.status == 404 and (await resp.json(content_type=None))["kind"] == "Status"


async def test_custom_resource_printer_columns_and_watch(session: aiohttp.ClientSession) -> None:
    await post(session, CRDS, CRD)
    for _ in range(100):
        async with session.get("/apis/example.com/v1") as resp:
            if resp.status == 200:
                break
        await asyncio.sleep(0.05)
    await post(session, GADGETS, {
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g1"},
        "spec": {"size": 3, "color": "red"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    table = await get_table(session, GADGETS)
    columns = table["columnDefinitions"]
    assert [c["name"] for c in columns] == ["Name", "Size", "Ready", "Color", "Age"]
    assert columns[3]["priority"] == 1
    assert table["rows"][0]["cells"][:4] == ["g1", 3, "True", "red"]

    async with session.get(GADGETS, params={"watch": "true"},
                           headers={"Accept": TABLE}) as resp:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        event = orjson.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][:2] == ["g1", 3]


def test_jsonpath_subset_and_durations() -> None:
    obj = {"status": {"conditions": [{"type": "A", "status": "False"},
                                     {"type": "Ready", "status": "True"}]},
           "spec": {"items": [{"n": 1}, {"n": 2}]}}
    assert jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath(obj, ".spec.items[*].n") == [1, 2]
    assert jsonpath(obj, "{.spec.items[1].n}") == [2]
    assert jsonpath(obj, ".missing.field") == []
    assert [human_duration(s) for s in (5, 125, 600, 3 * 3600, 50 * 3600, 800 * 86400)] == \
        ["5s", "2m5s", "10m", "3h", "2d2h", "2y70d"]
