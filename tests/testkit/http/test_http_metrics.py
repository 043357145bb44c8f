"""Two things only the HTTP face sees: the client's User-Agent and request counting.

* The real API server takes a non-apply write's default field manager from the
  User-Agent (the part before the first ``/``): ``kubectl create`` shows up in
  managedFields as ``kubectl-create``, kopf's handlers' writes as ``kopf`` or the
  client library's name. The HTTP face used to drop the header, so every such write
  had no manager at all.
* ``/metrics`` serves ``apiserver_request_total`` with the real server's name and
  labels (verb, group, version, resource, subresource, code); benchmarks count a
  client's requests from the server side with it.
"""

from __future__ import annotations

import re

import orjson

CMS = "/api/v1/namespaces/default/configmaps"


def _cm(name: str) -> bytes:
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name}, "data": {"a": "1"}})


async def test_user_agent_is_the_default_field_manager(session):
    headers = {"Content-Type": "application/json", "User-Agent": "kopf/1.45.2 (linux)"}
    async with session.post(CMS, data=_cm("ua"), headers=headers) as resp:
        assert resp.status == 201
        body = await resp.json()
    (entry,) = body["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("kopf", "Update")


async def test_explicit_field_manager_wins_over_user_agent(session):
    headers = {"Content-Type": "application/json", "User-Agent": "kopf/1.45.2"}
    async with session.post(CMS + "?fieldManager=mine", data=_cm("fm"), headers=headers) as r:
        body = await r.json()
    assert body["metadata"]["managedFields"][0]["manager"] == "mine"


async def test_metrics_count_requests_by_verb_resource_and_code(session):
    json_headers = {"Content-Type": "application/json"}
    async with session.post(CMS, data=_cm("m"), headers=json_headers) as resp:
        assert resp.status == 201
    async with session.post(CMS, data=_cm("m"), headers=json_headers) as resp:
        assert resp.status == 409
    async with session.get(CMS + "/m") as resp:
        assert resp.status == 200
    async with session.get(CMS) as resp:
        assert resp.status == 200
    async with session.patch(CMS + "/m?fieldManager=t", data=_cm("m"),
                             headers={"Content-Type": "application/apply-patch+yaml"}) as resp:
        assert resp.status == 200
    async with session.get("/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    counts = {
        (labels["verb"], labels["resource"], labels["code"]): int(value)
        for raw, value in re.findall(r"^apiserver_request_total\{([^}]*)\} (\d+)$", text, re.M)
        for labels in [dict(re.findall(r'(\w+)="([^"]*)"', raw))]
    }
    assert counts == {
        ("POST", "configmaps", "201"): 1,
        ("POST", "configmaps", "409"): 1,
        ("GET", "configmaps", "200"): 1,
        ("LIST", "configmaps", "200"): 1,
        ("APPLY", "configmaps", "200"): 1,
    }
