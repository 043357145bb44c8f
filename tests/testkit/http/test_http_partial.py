"""Metadata-only answers (``as=PartialObjectMetadata(List)``), as the real server gives.

Found by the official client's own e2e test ``test_node_apis_partial_object_metadata``
(tests/real/client_suites.py), which passes on the real server: the fake answered a
plain ``ConfigMapList``.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from kubeplan.testkit.apiserver.partial import to_partial, wanted_partial

CMS = "/api/v1/namespaces/default/configmaps"
AS_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
AS_ONE = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"


async def make(session: aiohttp.ClientSession, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"test": "partial"}}, "data": {"k": "v"}}
    async with session.post(CMS, data=orjson.dumps(body),
                            headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 201, await resp.text()


async def test_a_list_as_partial_object_metadata_list(session: aiohttp.ClientSession) -> None:
    await make(session, "p1")
    async with session.get(CMS, params={"labelSelector": "test=partial"},
                           headers={"Accept": AS_LIST}) as resp:
        assert resp.status == 200
        body = await resp.json(content_type=None)
    assert body["kind"] == "PartialObjectMetadataList"
    assert body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"]
    [item] = body["items"]
    assert item["kind"] == "PartialObjectMetadata"
    assert item["apiVersion"] == "meta.k8s.io/v1"
    assert item["metadata"]["name"] == "p1" and item["metadata"]["uid"]
    assert "data" not in item


async def test_an_object_as_partial_object_metadata(session: aiohttp.ClientSession) -> None:
    await make(session, "p2")
    async with session.get(f"{CMS}/p2", headers={"Accept": AS_ONE}) as resp:
        body = await resp.json(content_type=None)
    assert body == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": body["metadata"]}
    assert body["metadata"]["name"] == "p2"


async def test_a_watch_as_partial_object_metadata(session: aiohttp.ClientSession) -> None:
    async with session.get(CMS, params={"watch": "1", "labelSelector": "test=partial"},
                           headers={"Accept": AS_ONE}) as resp:
        assert resp.status == 200
        await make(session, "p3")
        line = await asyncio.wait_for(resp.content.readline(), 10)
    event = orjson.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "PartialObjectMetadata"
    assert event["object"]["metadata"]["name"] == "p3"
    assert "data" not in event["object"]


async def test_the_plain_answer_without_the_ask(session: aiohttp.ClientSession) -> None:
    await make(session, "p4")
    async with session.get(f"{CMS}/p4", headers={"Accept": "application/json"}) as resp:
        body = await resp.json(content_type=None)
    assert body["kind"] == "ConfigMap" and body["data"] == {"k": "v"}


def test_which_ask_wins() -> None:
    assert wanted_partial(AS_LIST + ",application/json") == ("PartialObjectMetadataList", "v1")
    assert wanted_partial("application/json," + AS_LIST) is None
    assert wanted_partial("application/json;as=PartialObjectMetadata;v=v2;g=meta.k8s.io") is None
    assert wanted_partial("application/json;as=PartialObjectMetadata;v=v1;g=example.com") is None
    # a list asked for as one object, a Status: the caller answers plainly
    assert to_partial({"kind": "ConfigMapList", "items": []},
                      ("PartialObjectMetadata", "v1")) is None
    assert to_partial({"kind": "Status"}, ("PartialObjectMetadata", "v1")) is None
