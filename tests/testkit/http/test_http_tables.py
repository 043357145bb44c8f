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
#: labels of the objects a test makes (a namespace may hold others: kube-root-ca.crt)
MINE = {"test": "tables"}
SELECTOR = "test=tables"

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
        # the real server's media type for a Table is plain JSON; the body says Table
        assert resp.headers["Content-Type"] == "application/json"
        return await resp.json(content_type=None)


async def test_configmap_list_as_table(session: aiohttp.ClientSession) -> None:
    await post(session, CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "c1", "labels": MINE},
                              "data": {"a": "1", "b": "2"}})
    table = await get_table(session, CMS, labelSelector=SELECTOR)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["metadata"]["resourceVersion"].isdigit()
    [row] = table["rows"]
    assert row["cells"][:2] == ["c1", 2] and row["cells"][2].endswith("s")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "c1"
    full = await get_table(session, CMS, includeObject="Object", labelSelector=SELECTOR)
    assert full["rows"][0]["object"]["data"] == {"a": "1", "b": "2"}
    # the list's items carry no type, the converted row object does
    assert (full["rows"][0]["object"]["apiVersion"], full["rows"][0]["object"]["kind"]) == (
        "v1", "ConfigMap")
    bare = await get_table(session, CMS, includeObject="None", labelSelector=SELECTOR)
    assert "object" not in bare["rows"][0]
    one = await get_table(session, f"{CMS}/c1")
    assert [r["cells"][0] for r in one["rows"]] == ["c1"]


async def test_a_list_of_events_k8s_io_events_prints_them_as_core_events(
    session: aiohttp.ClientSession,
) -> None:
    # the list's items carry no apiVersion: the printer still knows their version
    await post(session, "/apis/events.k8s.io/v1/namespaces/default/events", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "e1", "labels": MINE}, "type": "Normal", "reason": "Tested",
        "note": "a note", "regarding": {"kind": "ConfigMap", "name": "c"},
        "action": "Testing", "eventTime": "2026-01-01T11:58:00.000000Z",
        "reportingController": "example.com/ctl", "reportingInstance": "ctl-1"})
    table = await get_table(session, "/apis/events.k8s.io/v1/namespaces/default/events",
                            labelSelector=SELECTOR)
    names = [c["name"] for c in table["columnDefinitions"]]
    [row] = table["rows"]
    cells = dict(zip(names, row["cells"], strict=True))
    assert (cells["Object"], cells["Source"], cells["Message"]) == (
        "configmap/c", "example.com/ctl, ctl-1", "a note")


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
    # the CRD's columns only: the real server adds Age only to a version without columns
    assert [c["name"] for c in columns] == ["Name", "Size", "Ready", "Color"]
    assert columns[3]["priority"] == 1
    assert columns[1]["description"] == \
        "Custom resource definition column (in JSONPath format): .spec.size"
    assert table["rows"][0]["cells"][:4] == ["g1", 3, "True", "red"]
    # the unstructured list's continue "" is no field of the typed Table's ListMeta
    assert "continue" not in table["metadata"]

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


DAEMONSETS = "/apis/apps/v1/namespaces/default/daemonsets"
ONLY_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


async def test_descriptions_are_the_fields_openapi_descriptions(
        session: aiohttp.ClientSession) -> None:
    await post(session, CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "c1"}})
    columns = {c["name"]: c for c in (await get_table(session, CMS))["columnDefinitions"]}
    assert columns["Name"]["description"].startswith(
        "Name must be unique within a namespace. Is required when creating resources")
    assert columns["Data"]["description"].startswith("Data contains the configuration data.")
    assert columns["Data"]["type"] == "string"  # an integer cell in a string column
    assert columns["Age"]["description"].endswith("api-conventions.md#metadata")
    roles = await get_table(session, "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles")
    # no printer for Roles: the default convertor's columns
    assert [(c["name"], c["type"]) for c in roles["columnDefinitions"]] == [
        ("Name", "string"), ("Created At", "date")]


async def test_a_watch_defines_the_columns_in_its_first_table_only(
        session: aiohttp.ClientSession) -> None:
    for name in ("w1", "w2"):
        await post(session, CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": name, "labels": MINE},
                                  "data": {"a": "1"}})
    async with session.get(CMS, params={"watch": "true", "resourceVersion": "0",
                                        "labelSelector": SELECTOR},
                           headers={"Accept": ONLY_TABLE}) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        events = [orjson.loads(await asyncio.wait_for(resp.content.readline(), 5))
                  for _ in range(2)]
    first, second = (e["object"] for e in events)
    assert [c["name"] for c in first["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["columnDefinitions"] is None
    assert second["rows"][0]["cells"][:2] == ["w2", 1]


async def test_an_accept_of_unknown_conversions_only_is_refused(
        session: aiohttp.ClientSession) -> None:
    unknown = "application/json;as=Nothing;v=v1;g=meta.k8s.io"
    async with session.get(CMS, headers={"Accept": unknown}) as resp:
        assert resp.status == 406
        body = await resp.json()
    assert body["reason"] == "NotAcceptable" and body["message"].startswith(
        "only the following media types are accepted: application/json")
    no_version = "application/json;as=Table;g=meta.k8s.io"
    async with session.get(CMS, headers={"Accept": no_version}) as resp:
        assert resp.status == 406
    async with session.get(CMS, headers={"Accept": f"{unknown}, application/json"}) as resp:
        assert resp.status == 200 and (await resp.json())["kind"] == "ConfigMapList"
    async with session.get(f"{CMS}/missing", headers={"Accept": unknown}) as resp:
        assert resp.status == 404  # the error is written, not refused


async def test_a_daemonset_row_has_the_internal_objects_metadata(
        session: aiohttp.ClientSession) -> None:
    await post(session, DAEMONSETS, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"nodeSelector": {"disk": "ssd"},
                     "containers": [{"name": "c", "image": "nginx"}]}}}})
    table = await get_table(session, DAEMONSETS)
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available",
                     "Node Selector", "Age", "Containers", "Images", "Selector"]
    [row] = table["rows"]
    assert row["cells"][6] == "disk=ssd" and row["cells"][8:] == ["c", "nginx", "app=d"]
    # the template generation annotation exists only in the v1 form
    assert "annotations" not in row["object"]["metadata"]
    full = await get_table(session, DAEMONSETS, includeObject="Object")
    assert full["rows"][0]["object"]["metadata"]["annotations"] == {
        "deprecated.daemonset.template.generation": "1"}
