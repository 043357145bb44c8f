"""The watch cache's window: which resourceVersions a watch may start from (410 before).

The rules are kube-apiserver's cacher's (``watchcache.py`` describes them): a resource's
window starts where its cache listed (the server's start; a custom resource's first
request) and, once its buffer pushes a change out, just before the oldest change kept.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from apiserver_harness import (
    CM,
    CRDS,
    NS,
    WIDGETS,
    call,
    cm,
    collect,
    crd,
    drain,
    install_crd,
    new_server,
    summary,
    widget,
)

from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.backup import restore_backup, take_backup
from kubeplan.testkit.apiserver.watchcache import (
    EVENT_FRESH_SECONDS,
    LOWER_BOUND_CAPACITY,
    UPPER_BOUND_CAPACITY,
    WatchWindow,
)
from kubeplan.testkit.vtime import LoopClock


async def _watch(server: FakeApiServer, path: str, **query: str) -> list[dict[str, Any]]:
    """Every event of a watch that ends after one (virtual) second."""
    response = await call(server, "GET", path, query={"watch": "1", "timeoutSeconds": "1",
                                                      **query})
    assert response.status == 200 and response.stream is not None
    return await drain(response.stream)


def _expired(events: list[dict[str, Any]]) -> str:
    """The message of a watch's only event, a 410 Expired ERROR."""
    [event] = events
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["status"], status["code"], status["reason"]) == (
        "Status", "Failure", 410, "Expired")
    return str(status["message"])


# --- the window of one resource --------------------------------------------------------


def test_a_window_starts_at_its_list_and_keeps_every_change_while_they_are_fresh() -> None:
    window = WatchWindow(list_rv=10)
    for rv in range(11, 11 + LOWER_BOUND_CAPACITY * 3):
        window.record(rv, now=float(rv) / 100)  # all within a few seconds
    assert window.oldest == 10 and not window.evicted
    assert window.capacity == LOWER_BOUND_CAPACITY * 4  # doubled twice


def test_a_full_window_of_old_changes_pushes_the_oldest_out() -> None:
    window = WatchWindow(list_rv=10)
    for rv in range(11, 11 + LOWER_BOUND_CAPACITY):
        window.record(rv, now=0.0)
    window.record(500, now=EVENT_FRESH_SECONDS + 1)
    assert window.evicted and window.capacity == LOWER_BOUND_CAPACITY
    assert window.oldest == 11  # the change at 11 is gone: watches from 11 on
    window.record(501, now=EVENT_FRESH_SECONDS + 2)
    assert window.oldest == 12


def test_a_window_at_the_upper_bound_pushes_out_even_fresh_changes() -> None:
    window = WatchWindow(list_rv=0)
    total = UPPER_BOUND_CAPACITY + 5
    for rv in range(1, total + 1):
        window.record(rv, now=0.0)
    assert window.capacity == UPPER_BOUND_CAPACITY
    assert window.oldest == total - UPPER_BOUND_CAPACITY


def test_a_window_whose_newest_quarter_is_stale_halves() -> None:
    window = WatchWindow(list_rv=0)
    for rv in range(1, 2 * LOWER_BOUND_CAPACITY + 1):  # grows to twice the lower bound
        window.record(rv, now=0.0)
    assert window.capacity == 2 * LOWER_BOUND_CAPACITY
    window.record(1000, now=EVENT_FRESH_SECONDS + 1)
    assert window.capacity == LOWER_BOUND_CAPACITY and len(window) == LOWER_BOUND_CAPACITY
    # the newest lower-bound changes less one were kept, then the new one
    assert window.oldest == 2 * LOWER_BOUND_CAPACITY - LOWER_BOUND_CAPACITY + 1


# --- watches on the server -------------------------------------------------------------


async def test_a_fresh_servers_caches_hold_every_change_since_its_start() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    # the built-in resources' caches listed before the first write: nothing expired yet
    assert summary(await _watch(server, CM, resourceVersion="1")) == [("ADDED", "a")]
    assert summary(await _watch(server, NS, resourceVersion="1")) == [
        ("ADDED", "kube-system"), ("ADDED", "kube-public")]
    for query in ({}, {"resourceVersion": "0"},
                  {"resourceVersion": "1", "sendInitialEvents": "true",
                   "resourceVersionMatch": "NotOlderThan"}):
        assert summary(await _watch(server, CM, **query)) == [("ADDED", "a")], query


async def _expire_the_first_changes(server: FakeApiServer, clock: LoopClock) -> int:
    """Fill the configmaps' window with old changes, then push the first out with one
    more; the window then starts at that first change's RV (returned)."""
    first = 0
    for i in range(LOWER_BOUND_CAPACITY):
        created = (await call(server, "POST", CM, cm(f"c{i}"))).body
        first = first or int(created["metadata"]["resourceVersion"])
    clock.advance(EVENT_FRESH_SECONDS + 1)
    await asyncio.sleep(0)
    await call(server, "POST", CM, cm("late"))
    return first


async def test_a_watch_from_before_the_window_answers_410_in_the_stream() -> None:
    clock = LoopClock()
    server = new_server(clock=clock)
    first = await _expire_the_first_changes(server, clock)
    assert _expired(await _watch(server, CM, resourceVersion="1")) == (
        f"too old resource version: 1 ({first})")
    assert _expired(await _watch(server, CM, resourceVersion=str(first - 1))) == (
        f"too old resource version: {first - 1} ({first})")
    # the same with sendInitialEvents=false: a start RV, no initial events
    assert _expired(await _watch(server, CM, resourceVersion="1", sendInitialEvents="false",
                                 resourceVersionMatch="NotOlderThan")).startswith(
        "too old resource version: 1 (")
    # the first change kept, and everything after it, are still served
    events = await _watch(server, CM, resourceVersion=str(first))
    assert summary(events)[0] == ("ADDED", "c1") and summary(events)[-1] == ("ADDED", "late")
    # initial events come from the current state: they never expire
    initial = await _watch(server, CM, resourceVersion="1", sendInitialEvents="true",
                           resourceVersionMatch="NotOlderThan")
    assert len(initial) == LOWER_BOUND_CAPACITY + 1
    # another resource's window is its own: secrets still hold everything
    assert await _watch(server, "/api/v1/namespaces/default/secrets", resourceVersion="1") == []


async def test_many_fresh_changes_keep_the_window_at_the_servers_start() -> None:
    server = new_server()
    for i in range(LOWER_BOUND_CAPACITY + 20):
        await call(server, "POST", CM, cm(f"c{i}"))
    events = await _watch(server, CM, resourceVersion="1")
    assert len(events) == LOWER_BOUND_CAPACITY + 20 and events[0]["type"] == "ADDED"


async def test_a_custom_resources_window_starts_at_its_first_request() -> None:
    server = new_server()
    await install_crd(server)
    established = server.resource_version
    await call(server, "POST", CM, cm("meanwhile"))
    first = server.resource_version
    created = await call(server, "POST", WIDGETS, widget("w"))  # the first request
    assert created.status == 201
    assert _expired(await _watch(server, WIDGETS, resourceVersion=str(established))) == (
        f"too old resource version: {established} ({first})")
    assert summary(await _watch(server, WIDGETS, resourceVersion=str(first))) == [
        ("ADDED", "w")]


async def test_a_watch_that_makes_a_custom_resources_cache_answers_429() -> None:
    server = new_server()
    await install_crd(server)
    first = await call(server, "GET", WIDGETS, query={"watch": "1"})
    assert first.status == 429 and first.headers.get("Retry-After") == "1"
    assert first.body is not None and first.body["reason"] == "TooManyRequests"
    assert first.body["message"] == "storage is (re)initializing"
    assert first.body["details"] == {"retryAfterSeconds": 1}
    assert await _watch(server, WIDGETS) == []  # initialised: the next one is served


async def test_a_crd_spec_change_makes_its_resources_cache_anew() -> None:
    server = new_server()
    await install_crd(server)
    created = (await call(server, "POST", WIDGETS, widget("w"))).body
    rv = created["metadata"]["resourceVersion"]
    assert await _watch(server, WIDGETS, resourceVersion=rv) == []
    changed = crd()
    changed["metadata"]["resourceVersion"] = (
        await call(server, "GET", f"{CRDS}/widgets.example.com")).body["metadata"][
        "resourceVersion"]
    changed["spec"]["names"]["shortNames"] = ["wd", "wdg"]
    assert (await call(server, "PUT", f"{CRDS}/widgets.example.com", changed)).status == 200
    await server.settle()
    now = server.resource_version
    # the storage was torn down: the next request makes it anew (a watch finds it
    # initialising), and its window starts there
    again = await call(server, "GET", WIDGETS, query={"watch": "1", "resourceVersion": rv})
    assert again.status == 429
    assert _expired(await _watch(server, WIDGETS, resourceVersion=rv)) == (
        f"too old resource version: {rv} ({now})")


async def test_a_restore_restarts_the_caches_at_the_backup() -> None:
    server = new_server()
    await call(server, "POST", CM, cm("a"))
    backup = take_backup(server)
    await call(server, "POST", CM, cm("b"))
    await restore_backup(server, backup)
    assert await _watch(server, CM, resourceVersion=str(backup.rv)) == []
    assert _expired(await _watch(server, CM, resourceVersion=str(backup.rv - 1)))
    window = server.store.watch_cache.window("configmaps")
    assert window is not None and window.list_rv == backup.rv and len(window) == 0


@pytest.mark.parametrize("keep", [0, 2])
async def test_a_compacted_event_log_still_expires_watches_inside_the_window(keep: int) -> None:
    server = new_server()
    start = server.resource_version
    for name in ("a", "b", "c"):
        await call(server, "POST", CM, cm(name))
    server.truncate_event_log(keep)
    message = _expired(await _watch(server, CM, resourceVersion=str(start)))
    assert message.startswith(f"too old resource version: {start} (")
    if keep:
        response = await call(server, "GET", CM, query={
            "watch": "1", "resourceVersion": str(server.resource_version - keep)})
        assert summary(await collect(response.stream, 2)) == [("ADDED", "b"), ("ADDED", "c")]
        await response.stream.aclose()
