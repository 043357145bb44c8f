"""Watch semantics: start RV, snapshots, selector transitions, bookmarks, 410, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from apiserver_harness import CM, START, call, cm, collect, drain, new_server, summary
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.testkit.vtime import LoopClock


async def test_watch_without_rv_sends_synthetic_added_then_changes() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    await call(server, "POST", CM, cm("b"))
    response = await call(server, "GET", CM, query={"watch": "1"})
    assert response.status == 200 and response.stream is not None
    first = await collect(response.stream, 2)
    assert summary(first) == [("ADDED", "a"), ("ADDED", "b")]
    await call(server, "DELETE", f"{CM}/a")
    more = await collect(response.stream, 1)
    assert summary(more) == [("DELETED", "a")]
    assert more[0]["object"]["kind"] == "ConfigMap"
    await response.stream.aclose()


async def test_watch_from_rv_replays_only_later_changes() -> None:
    server = new_server()
    a = (await call(server, "POST", CM, cm("a"))).body
    rv = a["metadata"]["resourceVersion"]
    await call(server, "PUT", f"{CM}/a", dict(a, data={"k": "2"}))
    await call(server, "POST", CM, cm("b"))
    response = await call(server, "GET", CM, query={"watch": "true", "resourceVersion": rv})
    events = await collect(response.stream, 2)
    assert summary(events) == [("MODIFIED", "a"), ("ADDED", "b")]
    await response.stream.aclose()


async def test_deleted_event_carries_last_state_with_deletion_rv() -> None:
    server = new_server()
    a = (await call(server, "POST", CM, cm("a"))).body
    rv = a["metadata"]["resourceVersion"]
    await call(server, "DELETE", f"{CM}/a")
    response = await call(server, "GET", CM, query={"watch": "1", "resourceVersion": rv})
    [event] = await collect(response.stream, 1)
    assert event["type"] == "DELETED"
    assert event["object"]["data"] == {"k": "v"}
    assert event["object"]["metadata"]["resourceVersion"] == str(server.resource_version)
    await response.stream.aclose()


async def test_too_old_rv_yields_one_error_event_410() -> None:
    server = new_server()
    a = (await call(server, "POST", CM, cm("a"))).body
    await call(server, "POST", CM, cm("b"))
    server.truncate_event_log()
    response = await call(
        server, "GET", CM, query={"watch": "1", "resourceVersion": a["metadata"]["resourceVersion"]}
    )
    assert response.status == 200
    events = await drain(response.stream)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(
        f"too old resource version: {a['metadata']['resourceVersion']} ("
    )


async def test_bounded_event_log_expires_old_rvs() -> None:
    server = new_server(event_log_size=3)
    start = server.resource_version
    for i in range(5):
        await call(server, "POST", CM, cm(f"c{i}"))
    old = await call(server, "GET", CM, query={"watch": "1", "resourceVersion": str(start)})
    assert (await drain(old.stream))[0]["type"] == "ERROR"
    recent = await call(server, "GET", CM, query={"watch": "1", "resourceVersion": str(start + 2)})
    assert summary(await collect(recent.stream, 3)) == [
        ("ADDED", "c2"),
        ("ADDED", "c3"),
        ("ADDED", "c4"),
    ]
    await recent.stream.aclose()


async def test_label_selector_transitions() -> None:
    server = new_server()
    response = await call(
        server,
        "GET",
        CM,
        query={
            "watch": "1",
            "labelSelector": "app=x",
            "resourceVersion": str(server.resource_version),
        },
    )
    a = (await call(server, "POST", CM, cm("a"))).body  # not matching: nothing
    a = (
        await call(
            server, "PUT", f"{CM}/a", dict(a, metadata=dict(a["metadata"], labels={"app": "x"}))
        )
    ).body
    a = (await call(server, "PUT", f"{CM}/a", dict(a, data={"k": "2"}))).body
    await call(server, "PUT", f"{CM}/a", dict(a, metadata=dict(a["metadata"], labels={})))
    events = await collect(response.stream, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[2]["object"]["metadata"]["labels"] == {"app": "x"}  # old content
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(server.resource_version)
    await response.stream.aclose()


async def test_field_selector_on_name_and_namespace_filter() -> None:
    server = new_server()
    await call(server, "POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    response = await call(
        server,
        "GET",
        "/api/v1/configmaps",
        query={"watch": "1", "fieldSelector": "metadata.name=a"},
    )
    await call(server, "POST", CM, cm("b"))
    await call(server, "POST", "/api/v1/namespaces/other/configmaps", cm("a"))
    events = await collect(response.stream, 1)
    assert summary(events) == [("ADDED", "a")]
    assert events[0]["object"]["metadata"]["namespace"] == "other"
    await response.stream.aclose()
    scoped = await call(server, "GET", CM, query={"watch": "1"})
    assert summary(await collect(scoped.stream, 1)) == [("ADDED", "b")]
    await scoped.stream.aclose()


async def test_timeout_seconds_ends_the_stream() -> None:
    server = new_server()
    response = await call(
        server,
        "GET",
        CM,
        query={
            "watch": "1",
            "timeoutSeconds": "30",
            "resourceVersion": str(server.resource_version),
        },
    )
    opened = asyncio.get_running_loop().time()
    task = asyncio.ensure_future(drain(response.stream, timeout=60))
    await asyncio.sleep(29.9)
    assert not task.done()  # open until the 30th virtual second ...
    await asyncio.sleep(0.2)
    assert task.done()  # ... and closed right after it
    assert await task == []
    assert asyncio.get_running_loop().time() - opened == pytest.approx(30.1)


async def test_timeout_seconds_ends_the_stream_when_time_is_stepped_by_hand() -> None:
    clock = LoopClock(epoch=START)
    server = new_server(clock=clock)
    response = await call(
        server, "GET", CM,
        query={"watch": "1", "timeoutSeconds": "30",
               "resourceVersion": str(server.resource_version)},
    )
    task = asyncio.ensure_future(drain(response.stream, timeout=60))
    for _ in range(5):  # the stream starts waiting, at virtual 0
        await asyncio.sleep(0)
    clock.advance(29.5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(1)
    assert await task == []
    assert clock.now() == START + timedelta(seconds=30.5)


async def test_bookmarks_on_request_every_interval() -> None:
    server = new_server(bookmark_interval=5)
    rv = str(server.resource_version)
    plain = await call(
        server, "GET", CM, query={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "12"}
    )
    marked = await call(
        server,
        "GET",
        CM,
        query={
            "watch": "1",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "12",
        },
    )
    loop = asyncio.get_running_loop()
    opened = loop.time()
    seen: list[tuple[str, float]] = []

    async def timed(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
        events = []
        async for event in stream:
            events.append(event)
            seen.append((event["type"], loop.time() - opened))
        return events

    plain_task = asyncio.ensure_future(asyncio.wait_for(timed(plain.stream), 60))
    marked_task = asyncio.ensure_future(asyncio.wait_for(timed(marked.stream), 60))
    await asyncio.sleep(0.01)
    await call(server, "POST", CM, cm("a"))
    assert summary(await plain_task) == [("ADDED", "a")]
    events = await marked_task
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK", "BOOKMARK"]
    # Both streams end at the 12th virtual second; the bookmarks come every 5 seconds.
    assert loop.time() - opened == pytest.approx(12)
    bookmarks = [at for kind, at in seen if kind == "BOOKMARK"]
    assert bookmarks == [pytest.approx(5), pytest.approx(10)]
    bookmark = events[1]["object"]
    assert bookmark == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(server.resource_version)},
    }


async def test_send_initial_events_ends_with_marked_bookmark() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    response = await call(
        server,
        "GET",
        CM,
        query={
            "watch": "1",
            "sendInitialEvents": "true",
            "resourceVersionMatch": "NotOlderThan",
            "allowWatchBookmarks": "true",
        },
    )
    events = await collect(response.stream, 2)
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    await response.stream.aclose()


async def test_send_initial_events_requires_not_older_than() -> None:
    server = new_server()
    response = await call(server, "GET", CM, query={"watch": "1", "sendInitialEvents": "true"})
    assert response.status == 422
    assert (
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        in (response.body["message"])
    )
    bad = await call(
        server,
        "GET",
        CM,
        query={"watch": "1", "resourceVersionMatch": "Exact", "resourceVersion": "1"},
    )
    assert bad.status == 422
    assert (
        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        in (bad.body["message"])
    )


async def test_server_stop_ends_watches() -> None:
    server = new_server()
    response = await call(server, "GET", CM, query={"watch": "1"})
    task = asyncio.ensure_future(drain(response.stream))
    await asyncio.sleep(0.01)
    await server.stop()
    assert await task == []


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["create", "update", "delete"]), st.sampled_from(["a", "b", "c"])
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=12),
)
def test_watch_from_rv_sees_exactly_the_later_writes_in_order(
    ops: list[tuple[str, str]], cut: int
) -> None:
    async def scenario() -> None:
        server = new_server(controllers=False)
        expected: list[tuple[str, str, str]] = []
        start_rv = server.resource_version
        for index, (op, name) in enumerate(ops):
            if index == cut:
                start_rv = server.resource_version
                expected.clear()
            if op == "create":
                r = await call(server, "POST", CM, cm(name))
                kind = "ADDED"
            elif op == "update":
                r = await call(
                    server,
                    "PATCH",
                    f"{CM}/{name}",
                    {"data": {"i": str(index)}},
                    content_type="application/merge-patch+json",
                )
                kind = "MODIFIED"
            else:
                r = await call(server, "DELETE", f"{CM}/{name}")
                kind = "DELETED"
            if r.status in (200, 201):
                expected.append((kind, name, str(server.resource_version)))
        response = await call(
            server, "GET", CM, query={"watch": "1", "resourceVersion": str(start_rv)}
        )
        await call(server, "POST", CM, cm("sentinel"))
        expected.append(("ADDED", "sentinel", str(server.resource_version)))
        events = await collect(response.stream, len(expected))
        await response.stream.aclose()
        got = [
            (e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
            for e in events
        ]
        assert got == expected

    asyncio.run(scenario())


async def test_compaction_while_a_watch_waits_expires_it_instead_of_skipping_events() -> None:
    """Found by the testkit: a waiting watch used to jump past a compacted event."""
    from kubeplan.core.k8s import core_v1

    server = new_server(controllers=False)
    client = server.client()
    created = await client.create(core_v1.ConfigMap, cm("a"), namespace="default")
    stream = client.watch(
        core_v1.ConfigMap, "default",
        resource_version=created["metadata"]["resourceVersion"],
    )
    waiting = asyncio.ensure_future(collect(stream, 1))
    await asyncio.sleep(0.01)  # the watch is now waiting for the next change
    await client.delete(core_v1.ConfigMap, "a", "default")
    server.truncate_event_log()  # compacted before the watch could send the DELETED
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    await client.create(core_v1.Secret, secret, namespace="default")  # wakes the watch
    (event,) = await waiting
    assert event["type"] == "ERROR" and event["object"]["code"] == 410, event
