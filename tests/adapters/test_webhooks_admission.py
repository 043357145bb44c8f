"""Admission routes on the operator's webhook server: sync validators in a thread, async
ones on the loop, each within its budget; a mutator's patch; malformed reviews are 400."""

from __future__ import annotations

import asyncio
import base64
import threading

import aiohttp
import orjson
import pytest

from kubeplan.adapters.webhooks import WebhookServer, webhook_routes
from kubeplan.core import admission
from kubeplan.core.admission import AdmissionRequest, Allowed, Denied, Mutator, Validator
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")
OBJ = {"apiVersion": "example.com/v1", "kind": "Widget",
       "metadata": {"name": "w", "namespace": "ns"}, "spec": {"size": 3}}
threads: list[str] = []
release = threading.Event()


def small(request: AdmissionRequest) -> Allowed | Denied:
    threads.append(threading.current_thread().name)
    return Denied("too big") if request.spec["size"] > 2 else Allowed()


async def stuck(request: AdmissionRequest) -> Allowed:
    await asyncio.sleep(60)
    return Allowed()


def blocked(request: AdmissionRequest) -> Allowed:
    release.wait(60)
    return Allowed()


def halve(request: AdmissionRequest) -> dict:
    return {**OBJ, "spec": {"size": request.spec["size"] // 2}}


DEFINITION = OperatorDefinition(
    OperatorConfig("widgets", Widget), lambda request: None,
    validators=[small, Validator(stuck, timeout_seconds=1),
                Validator(blocked, timeout_seconds=1, failure_policy="Ignore")],
    mutators=[Mutator(halve)])


async def post(session: aiohttp.ClientSession, url: str, body: object) -> dict:
    async with session.post(url, data=orjson.dumps(body)) as response:
        assert response.status == 200, await response.text()
        return await response.json()  # type: ignore[no-any-return]


@pytest.mark.real_time  # sync validators run in threads, which virtual time cannot wait for
async def test_each_webhook_answers_at_its_path() -> None:
    review = admission.review_request(AdmissionRequest("CREATE", OBJ, kind=Widget, uid="u"))
    routes = webhook_routes(None, DEFINITION.admission)
    assert sorted(routes) == ["/mutate/widgets/halve", "/validate/widgets/blocked",
                              "/validate/widgets/small", "/validate/widgets/stuck"]
    try:
        async with WebhookServer(routes, tls=None, host="127.0.0.1", port=0) as server, \
                aiohttp.ClientSession() as session:
            denied = await post(session, f"{server.url}/validate/widgets/small", review)
            assert denied["response"]["allowed"] is False
            assert denied["response"]["status"]["message"] == "too big"
            assert threads and threads[-1].startswith("kubeplan-admission")
            mutated = await post(session, f"{server.url}/mutate/widgets/halve", review)
            assert "patch" in mutated["response"], mutated
            patch = orjson.loads(base64.b64decode(mutated["response"]["patch"]))
            assert patch == [{"op": "replace", "path": "/spec/size", "value": 1}]
            late = await post(session, f"{server.url}/validate/widgets/stuck", review)
            assert late["response"]["allowed"] is False
            assert late["response"]["status"]["message"] == (
                "stuck failed: TimeoutError: no answer within 0.5s")
            ignored = await post(session, f"{server.url}/validate/widgets/blocked", review)
            assert ignored["response"]["allowed"] is True
            assert "blocked failed: TimeoutError" in ignored["response"]["warnings"][0]
            async with session.post(f"{server.url}/validate/widgets/small",
                                    json={"kind": "Pod"}) as response:
                assert response.status == 400
                assert "expected apiVersion admission.k8s.io/v1" in await response.text()
    finally:
        release.set()
