"""The HTTP face on the socket: malformed HTTP, stalled clients, what gets logged.

Expected answers are the real kube-apiserver's (v1.36.3 probed over raw TLS sockets):
Go's net/http answers malformed requests in plain text before the API server sees
them; a broken chunked body reaches the server's handler, which answers a ``Status``.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson
import pytest
from aiohttp import web
from conftest import HookedServer

from kubeplan.testkit.apiserver.http import FakeApiHttpServer
from kubeplan.testkit.apiserver.request import ApiRequest, ApiResponse

CMS = "/api/v1/namespaces/default/configmaps"
CM = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"h"}}'
SECRET = "s3cr3t-bearer-value"
PLAIN = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"


async def connect(http: FakeApiHttpServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = http.url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (EOF)."""
    return await asyncio.wait_for(reader.read(), 5)


async def exchange(http: FakeApiHttpServer, *parts: bytes) -> bytes:
    reader, writer = await connect(http)
    try:
        for part in parts:
            writer.write(part)
            await writer.drain()
            if len(parts) > 1:
                await asyncio.sleep(0.05)  # let each part arrive as its own packet
        return await until_closed(reader)
    finally:
        writer.close()


def go_plain(status_line: str, body: str | None = None) -> bytes:
    """net/http's answer to a request it cannot parse."""
    return f"HTTP/1.1 {status_line}".encode() + PLAIN + (body or status_line).encode()


def split(answer: bytes) -> tuple[bytes, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status_line.encode(), headers, body


# --- malformed requests: never echoed, never logged --------------------------------------


@pytest.mark.parametrize("bad_line", [f"Authorization : Bearer {SECRET}",
                                      f"Authorization Bearer {SECRET}"])
async def test_a_malformed_header_is_neither_echoed_nor_logged(
    http: FakeApiHttpServer, caplog: pytest.LogCaptureFixture, bad_line: str
) -> None:
    caplog.set_level(logging.DEBUG)
    request = f"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n{bad_line}\r\n\r\n"
    answer = await exchange(http, request.encode())
    assert answer == go_plain("400 Bad Request")
    logged = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert SECRET not in logged
    assert "malformed HTTP request" in logged  # said, without the bytes


REFUSED = {
    "no method": (b"GARBAGE\r\n\r\n", go_plain("400 Bad Request")),
    "a bad Content-Length": (
        f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".encode(),
        go_plain("400 Bad Request")),
    "two Content-Lengths": (
        f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"
        "{}".encode(), go_plain("400 Bad Request")),
    "no Host": (f"GET {CMS} HTTP/1.1\r\n\r\n".encode(),
                go_plain("400 Bad Request: missing required Host header")),
    "an unknown HTTP version": (f"GET {CMS} HTTP/9.9\r\nHost: x\r\n\r\n".encode(),
                                go_plain("505 HTTP Version Not Supported: "
                                         "unsupported protocol version")),
    "an unknown Transfer-Encoding": (
        f"POST {CMS} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".encode() + CM,
        go_plain("501 Not Implemented", "Unsupported transfer encoding")),
    "a header line over the limit": (
        f"GET {CMS} HTTP/1.1\r\nHost: x\r\nX-Long: {'a' * 9000}\r\n\r\n".encode(),
        go_plain("431 Request Header Fields Too Large")),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_malformed_http_is_answered_like_go_net_http(
    http: FakeApiHttpServer, session: aiohttp.ClientSession, case: str
) -> None:
    request, expected = REFUSED[case]
    assert await exchange(http, request) == expected
    async with session.get("/version") as resp:  # and the server carries on
        assert resp.status == 200


def chunked_post(*chunks: bytes) -> bytes:
    head = (f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    return head + b"".join(chunks)


@pytest.mark.parametrize("later", [False, True], ids=["with-headers", "after-headers"])
@pytest.mark.parametrize(("chunk", "message"), [
    (b"zz\r\n" + CM + b"\r\n0\r\n\r\n", "invalid byte in chunk length"),
    (b"%x\r\n" % len(CM) + CM + b"XX0\r\n\r\n", "malformed chunked encoding"),
], ids=["chunk-size", "chunk-end"])
async def test_a_broken_chunked_body_is_the_real_servers_500_status(
    http: FakeApiHttpServer, chunk: bytes, message: str, later: bool
) -> None:
    """The real server's handler reads the body: its error is a Status without reason."""
    parts = (chunked_post(), chunk) if later else (chunked_post(chunk),)
    status_line, headers, body = split(await exchange(http, *parts))
    assert status_line == b"HTTP/1.1 500 Internal Server Error"
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body) == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                  "status": "Failure", "message": message, "code": 500}


async def test_a_request_body_is_not_decompressed(session: aiohttp.ClientSession) -> None:
    """The real server ignores a request's Content-Encoding (it parsed "gzip" JSON as JSON)."""
    async with session.post(CMS, data=CM, headers={"Content-Type": "application/json",
                                                   "Content-Encoding": "gzip"}) as resp:
        assert resp.status == 201, await resp.text()


async def test_an_aiohttp_http_exception_becomes_a_status(
    session: aiohttp.ClientSession, hooked: HookedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(request: ApiRequest) -> ApiResponse:
        raise web.HTTPUnprocessableEntity()

    monkeypatch.setattr(hooked, "handle", refuse)
    async with session.get(f"{CMS}/x") as resp:
        assert resp.status == 422
        body = await resp.json()
    assert body["kind"] == "Status" and body["code"] == 422 and body["reason"] == "Invalid"


# --- timeouts: a stalled client is hung up on ---------------------------------------------


async def test_the_default_timeouts_are_the_real_servers(http: FakeApiHttpServer) -> None:
    assert (http.read_header_timeout, http.idle_timeout) == (32, 90)  # secure_serving.go
    assert http.body_timeout == 60  # its --request-timeout


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(
    http: FakeApiHttpServer,
) -> None:
    http.read_header_timeout = 0.2
    reader, writer = await connect(http)
    assert await until_closed(reader) == b""
    writer.close()


async def test_half_sent_headers_get_400_and_the_connection_closes(
    http: FakeApiHttpServer,
) -> None:
    http.read_header_timeout = 0.2
    answer = await exchange(http, f"GET {CMS} HTTP/1.1\r\nHost: x\r\nAuthor".encode())
    assert answer == go_plain("400 Bad Request")


async def test_an_idle_keep_alive_connection_is_closed(http: FakeApiHttpServer) -> None:
    http.idle_timeout = 0.2
    reader, writer = await connect(http)
    writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    length = int(split(head)[1]["content-length"])
    await reader.readexactly(length)
    assert await until_closed(reader) == b""  # nothing more, then the server hangs up
    writer.close()


async def test_the_header_timeout_restarts_with_each_request(http: FakeApiHttpServer) -> None:
    """After a first request, half of a second one still gets net/http's 400."""
    http.read_header_timeout = 0.2
    reader, writer = await connect(http)
    writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    await reader.readexactly(int(split(head)[1]["content-length"]))
    writer.write(b"GET /version HTTP/1.1\r\nHo")
    assert await until_closed(reader) == go_plain("400 Bad Request")
    writer.close()


@pytest.mark.parametrize("body_start", [
    f"Content-Length: 100\r\n\r\n{CM[:10].decode()}",
    f"Transfer-Encoding: chunked\r\n\r\n5\r\n{CM[:5].decode()}\r\n",
], ids=["content-length", "chunked"])
async def test_a_stalled_body_gets_504_and_the_connection_closes(
    http: FakeApiHttpServer, body_start: str
) -> None:
    http.body_timeout = 0.2
    request = f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status_line, headers, body = split(await exchange(http, (request + body_start).encode()))
    assert status_line == b"HTTP/1.1 504 Gateway Timeout"
    assert headers["connection"] == "close"
    answer = orjson.loads(body)
    assert (answer["kind"], answer["code"], answer["reason"]) == ("Status", 504, "Timeout")
    assert answer["message"] == "Timeout: request did not complete within the allotted timeout"


async def test_a_long_watch_outlives_the_header_timeout(
    http: FakeApiHttpServer, session: aiohttp.ClientSession
) -> None:
    http.read_header_timeout = 0.1
    http.idle_timeout = 0.1
    async with session.get(CMS, params={"watch": "true"}) as watch:
        assert watch.status == 200
        await asyncio.sleep(0.3)  # both timeouts have passed while the watch was open
        async with session.post(CMS, data=CM,
                                headers={"Content-Type": "application/json"}) as created:
            assert created.status == 201
        event = orjson.loads(await asyncio.wait_for(watch.content.readline(), 5))
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "h"


# --- paths and queries as the real server reads them ---------------------------------------


async def raw_get(http: FakeApiHttpServer, target: str) -> tuple[bytes, dict[str, str], bytes]:
    """A GET of ``target`` exactly as written (clients clean ``..`` out of paths)."""
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    return split(await exchange(http, request.encode()))


async def test_an_escaped_slash_splits_the_segment_as_on_the_real_server(
    http: FakeApiHttpServer,
) -> None:
    """Go routes on the decoded path: ``default%2Fconfigmaps`` lists default's ConfigMaps."""
    status_line, _, body = await raw_get(http, "/api/v1/namespaces/default%2Fconfigmaps")
    assert status_line == b"HTTP/1.1 200 OK"
    assert orjson.loads(body)["kind"] == "ConfigMapList"


@pytest.mark.parametrize("namespace", ["..", "%2E%2E", "%2e%2e"])
async def test_dot_segments_reach_the_router_as_sent(
    http: FakeApiHttpServer, namespace: str
) -> None:
    status_line, _, body = await raw_get(http, f"/api/v1/namespaces/{namespace}/configmaps")
    assert status_line == b"HTTP/1.1 500 Internal Server Error"
    assert orjson.loads(body)["message"] == 'invalid key: "/configmaps/.."'
    status_line, _, body = await raw_get(http, f"{CMS}/{namespace}")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert orjson.loads(body)["message"] == "Name parameter invalid: \"..\": may not be '..'"


async def test_a_malformed_escape_in_the_path_is_net_https_400(http: FakeApiHttpServer) -> None:
    status_line, headers, body = await raw_get(http, f"{CMS}/%zz")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body == b"400 Bad Request"


@pytest.mark.parametrize("query", ["limit=%zz", "limit=1;x", "limit=%zz&watch=false"])
async def test_a_query_pair_go_cannot_parse_is_dropped(
    http: FakeApiHttpServer, session: aiohttp.ClientSession, query: str
) -> None:
    for name in ("a", "b"):
        async with session.post(CMS, data=CM.replace(b'"h"', f'"{name}"'.encode()),
                                headers={"Content-Type": "application/json"}) as created:
            assert created.status == 201
    status_line, _, body = await raw_get(http, f"{CMS}?{query}")
    assert status_line == b"HTTP/1.1 200 OK", body  # no limit: both, on one page
    assert [i["metadata"]["name"] for i in orjson.loads(body)["items"]] == ["a", "b"]


async def test_escapes_in_a_query_are_decoded(session: aiohttp.ClientSession) -> None:
    async with session.post(CMS, data=CM, headers={"Content-Type": "application/json"}):
        pass
    async with session.get(f"{CMS}?fieldSelector=metadata.name%3Dh&limit=%31") as resp:
        assert [i["metadata"]["name"] for i in (await resp.json())["items"]] == ["h"]


async def test_an_object_nested_to_the_limit_is_served_in_every_shape(
    session: aiohttp.ClientSession,
) -> None:
    """Tables and watch events wrap an object (and its deeper managedFields) a few levels
    more: all of them still serialise at ``codec.MAX_DEPTH``."""
    from kubeplan.testkit.apiserver.codec import MAX_DEPTH

    inner = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    body = CM.replace(b"}}", b'},"x":' + inner + b"}")
    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    async with session.get(CMS, params={"watch": "true"}, headers=table) as watch:
        async with session.post(CMS, data=body,
                                headers={"Content-Type": "application/json"}) as created:
            assert created.status == 201, await created.text()
        event = orjson.loads(await asyncio.wait_for(watch.content.readline(), 5))
    assert event["type"] == "ADDED" and event["object"]["kind"] == "Table"
    for params in ({}, {"includeObject": "Object"}):
        async with session.get(CMS, params=params, headers=table) as listed:
            assert listed.status == 200 and (await listed.json())["kind"] == "Table"
    async with session.get(CMS) as listed:
        assert listed.status == 200 and len((await listed.json())["items"]) == 1
