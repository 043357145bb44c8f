"""Watch streaming over HTTP: chunked, one JSON event per line, flushed per event."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson

from kubeplan.testkit.apiserver.http import FakeApiHttpServer

CMS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, value: str = "1") -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
            "data": {"k": value},
        }
    )


async def create(session: aiohttp.ClientSession, name: str, value: str = "1") -> dict:
    async with session.post(
        CMS, data=configmap(name, value), headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 201
        return await resp.json()


async def list_rv(session: aiohttp.ClientSession) -> str:
    async with session.get(CMS) as resp:
        return (await resp.json())["metadata"]["resourceVersion"]


async def next_event(resp: aiohttp.ClientResponse) -> dict:
    line = await asyncio.wait_for(resp.content.readline(), 5)
    assert line.endswith(b"\n"), line
    return orjson.loads(line)


async def test_events_arrive_one_per_line_while_stream_is_open(
    session: aiohttp.ClientSession,
) -> None:
    rv = await list_rv(session)
    async with session.get(CMS, params={"watch": "true", "resourceVersion": rv}) as resp:
        assert resp.status == 200
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        assert resp.headers["Content-Type"].startswith("application/json")
        for i in range(3):  # each event must be readable before the next write happens
            await create(session, f"w{i}")
            event = await next_event(resp)
            assert event["type"] == "ADDED"
            assert event["object"]["metadata"]["name"] == f"w{i}"
            assert event["object"]["kind"] == "ConfigMap"
        async with session.patch(
            f"{CMS}/w0",
            data=b'{"data":{"k":"2"}}',
            headers={"Content-Type": "application/merge-patch+json"},
        ):
            pass
        event = await next_event(resp)
        assert event["type"] == "MODIFIED" and event["object"]["data"] == {"k": "2"}
        async with session.delete(f"{CMS}/w1"):
            pass
        event = await next_event(resp)
        assert event["type"] == "DELETED" and event["object"]["metadata"]["name"] == "w1"


async def test_watch_without_rv_starts_with_synthetic_added(
    session: aiohttp.ClientSession,
) -> None:
    await create(session, "existing")
    async with session.get(CMS, params={"watch": "1"}) as resp:
        event = await next_event(resp)
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "existing"


async def test_timeout_seconds_ends_the_stream(session: aiohttp.ClientSession) -> None:
    rv = await list_rv(session)
    started = time.monotonic()
    async with session.get(
        CMS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    ) as resp:
        assert await asyncio.wait_for(resp.content.read(), 5) == b""
    assert time.monotonic() - started < 4


async def test_client_going_away_leaves_server_healthy(
    http: FakeApiHttpServer, session: aiohttp.ClientSession
) -> None:
    rv = await list_rv(session)
    for _ in range(5):
        async with aiohttp.ClientSession() as other:
            resp = await other.get(http.url + CMS, params={"watch": "true", "resourceVersion": rv})
            assert resp.status == 200
            resp.close()  # drop the connection mid-stream
    await create(session, "after")  # the store writes to no-longer-read watchers fine
    async with session.get(CMS, params={"watch": "true", "resourceVersion": rv}) as resp:
        event = await next_event(resp)
        assert event["object"]["metadata"]["name"] == "after"


async def test_idle_watch_dropped_by_client_is_closed(
    http: FakeApiHttpServer, session: aiohttp.ClientSession
) -> None:
    rv = await list_rv(session)
    async with aiohttp.ClientSession() as other:
        resp = await other.get(http.url + CMS, params={"watch": "true", "resourceVersion": rv})
        assert resp.status == 200
        await asyncio.sleep(0.05)
        assert len(http._streams) == 1
        resp.close()
    for _ in range(50):  # no event is ever written: only the disconnect can end it
        if not http._streams:
            break
        await asyncio.sleep(0.02)
    assert not http._streams


async def test_stop_ends_open_watches(store: object) -> None:
    server = FakeApiHttpServer(store)
    url = await server.start()
    async with aiohttp.ClientSession() as session:
        resp = await session.get(url + CMS, params={"watch": "true"})
        assert resp.status == 200
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), 5)
        assert time.monotonic() - started < 3
        resp.close()
