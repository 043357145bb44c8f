"""Bad input and failures: every one is a `kind: Status` answer, none stops the server."""

from __future__ import annotations

import asyncio

import aiohttp
from conftest import HookedServer

from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.request import ApiResponse


async def assert_alive(session: aiohttp.ClientSession) -> None:
    async with session.get("/version") as resp:
        assert resp.status == 200


async def test_store_exception_is_500_status_and_server_survives(
    session: aiohttp.ClientSession,
) -> None:
    async with session.get("/api/v1/namespaces/default/configmaps/explode") as resp:
        assert resp.status == 500
        body = await resp.json()
    assert body["kind"] == "Status" and body["reason"] == "InternalError"
    assert "store exploded" in body["message"]
    await assert_alive(session)


async def test_retry_after_and_headers_pass_through(
    session: aiohttp.ClientSession, hooked: HookedServer
) -> None:
    path = "/api/v1/namespaces/default/configmaps/busy"
    hooked.responses[path] = ApiResponse(
        429,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": 429,
            "reason": "TooManyRequests",
            "message": "slow down",
        },
        headers={"Retry-After": "3", "Warning": '299 - "careful"'},
    )
    async with session.get(path) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
        assert resp.headers["Warning"] == '299 - "careful"'
        assert (await resp.json())["reason"] == "TooManyRequests"


async def test_request_reaches_store_with_query_body_and_media_type(
    session: aiohttp.ClientSession, hooked: HookedServer
) -> None:
    path = "/apis/apps/v1/namespaces/ns1/deployments/d1"
    hooked.responses[path] = ApiResponse(200, {"ok": True})
    async with session.patch(
        path + "?fieldManager=me&force=true&fieldManager=other",
        data=b'{"spec": {}}',
        headers={"Content-Type": "application/merge-patch+json; charset=utf-8"},
    ) as resp:
        assert resp.status == 200
    seen = hooked.seen[-1]
    assert seen.method == "PATCH" and seen.path == path
    assert seen.query == {"fieldManager": "me", "force": "true"}  # first value wins
    assert seen.body == b'{"spec": {}}'
    assert seen.content_type == "application/merge-patch+json"


async def test_empty_body_response(session: aiohttp.ClientSession, hooked: HookedServer) -> None:
    hooked.responses["/api/v1/namespaces/default/pods/p"] = ApiResponse(204)
    async with session.delete("/api/v1/namespaces/default/pods/p") as resp:
        assert resp.status == 204 and await resp.read() == b""


async def test_malformed_json_body(session: aiohttp.ClientSession) -> None:
    async with session.post(
        "/api/v1/namespaces/default/configmaps",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["kind"] == "Status"
    await assert_alive(session)


async def test_writes_to_discovery_paths_are_refused(session: aiohttp.ClientSession) -> None:
    for path in ("/api", "/api/v1", "/apis/apps/v1", "/version"):
        async with session.post(path, data=b"{}") as resp:
            assert resp.status == 405, path
            body = await resp.json()
            assert body["reason"] == "MethodNotAllowed" and body["details"] == {}, path
    # the real server registers these for every method: a POST reads them
    for path, kind in (("/apis", "APIGroupList"), ("/apis/apps", "APIGroup")):
        async with session.post(path, data=b"{}") as resp:
            assert resp.status == 200, path
            assert (await resp.json())["kind"] == kind


async def test_garbage_on_the_socket_does_not_kill_the_server(
    http: FakeApiHttpServer, session: aiohttp.ClientSession
) -> None:
    host, port = http.url.removeprefix("http://").rsplit(":", 1)
    for garbage in (
        b"\x00\xff\xfe GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /api HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /api/v1/namespaces/d/configmaps HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(garbage)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(reader.read(), 5)
    await assert_alive(session)


async def test_odd_paths_and_queries(session: aiohttp.ClientSession) -> None:
    for path in (
        "/api/v1/namespaces/default/configmaps?limit=%zz",
        "/api/v1/namespaces/%2F/configmaps",
        "/apis//v1/x",
        "/api/v1/namespaces/default/configmaps/a/b/c/d/e",
        "/api/v1/" + "x" * 5000,
    ):
        async with session.get(path) as resp:
            assert resp.status < 500 or (
                resp.status == 500 and (await resp.json())["kind"] == "Status"
            ), path
    await assert_alive(session)


async def test_protobuf_bodies(session: aiohttp.ClientSession) -> None:
    def _field(number: int, payload: bytes | str) -> bytes:
        """A length-delimited protobuf field (sizes here stay under one varint byte)."""
        data = payload.encode() if isinstance(payload, str) else payload
        assert len(data) < 0x80 and number < 16
        return bytes((number << 3 | 2, len(data))) + data

    def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
        type_meta = _field(1, api_version) + _field(2, kind)
        return b"k8s\x00" + _field(1, type_meta) + _field(2, raw)

    meta = _field(1, "pb") + _field(2, "") + _field(11, _field(1, "app") + _field(2, "x"))
    raw = _field(1, meta) + _field(2, _field(1, "k") + _field(2, "v"))
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    path = "/api/v1/namespaces/default/configmaps"
    async with session.post(path, data=envelope("v1", "ConfigMap", raw),
                            headers=headers) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert body["data"] == {"k": "v"} and body["metadata"]["labels"] == {"app": "x"}
    assert "generateName" not in body["metadata"]
    # the real server answers 400 to a body that is not protobuf or breaks off
    for bad in (b"not protobuf", b"k8s\x00\xff\xff", envelope("v1", "ConfigMap", b"\x0a\x05")):
        async with session.post(path, data=bad, headers=headers) as resp:
            assert resp.status == 400
            answer = await resp.json()
            assert answer["reason"] == "BadRequest"
            assert ("unexpected EOF" in answer["message"]
                    or "does not appear to be a protobuf message" in answer["message"])
    # a kind outside the built-ins' schema (custom resources are JSON only)
    async with session.post(path, data=envelope("v1", "Nope", b""), headers=headers) as resp:
        assert resp.status == 415
        assert (await resp.json())["reason"] == "UnsupportedMediaType"
