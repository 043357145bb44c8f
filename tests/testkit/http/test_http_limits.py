"""The 3 MiB request body limit: refused with 413 before the body is read."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from kubeplan.testkit.apiserver.http import DEFAULT_MAX_REQUEST_BYTES, FakeApiHttpServer

PATH = "/api/v1/namespaces/default/configmaps"


async def test_content_length_over_limit_refused_without_reading(
    http: FakeApiHttpServer, session: aiohttp.ClientSession
) -> None:
    host, port = http.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    # announce 100 MiB, send only the headers: the answer must not wait for the body
    writer.write(
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 2
    writer.close()
    async with session.get("/version") as resp:
        assert resp.status == 200


async def test_chunked_body_over_limit_is_413(session: aiohttp.ClientSession) -> None:
    async def chunks():  # no Content-Length: the limit is enforced while reading
        block = b" " * 65536
        for _ in range(DEFAULT_MAX_REQUEST_BYTES // len(block) + 2):
            yield block

    try:
        async with session.post(
            PATH, data=chunks(), headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 413
            body = await resp.json()
            assert body["reason"] == "RequestEntityTooLarge" and body["code"] == 413
    except aiohttp.ClientError:
        pass  # the server may close while we are still sending; the status is what matters


async def test_body_over_limit_via_client_is_413(session: aiohttp.ClientSession) -> None:
    payload = b"x" * (DEFAULT_MAX_REQUEST_BYTES + 1)
    try:
        async with session.post(
            PATH, data=payload, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 413
            assert (await resp.json())["kind"] == "Status"
    except aiohttp.ClientError:
        pass
    async with session.get("/version") as resp:
        assert resp.status == 200


async def test_body_under_limit_reaches_the_store(session: aiohttp.ClientSession) -> None:
    big = "y" * (512 * 1024)  # ConfigMaps themselves are limited to 1 MiB
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "default"},
        "data": {"k": big},
    }
    async with session.post(PATH, json=cm) as resp:
        assert resp.status == 201
