"""The watch cache relists when its resourceVersion is no longer the server's past: a watch
refused (an ERROR event, 504 "Too large resource version"), or the server showing a lower
resourceVersion (a list, a watch event, the answer to our write) after a restore."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from adapter_testing import FAST

from kubeplan.adapters.cache import WatchCache
from kubeplan.adapters.errors import ApiError, error_from_status
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.vtime import LoopClock

CM = core_v1.ConfigMap
Script = list[dict[str, Any] | BaseException]


def _cm(name: str, rv: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "resourceVersion": str(rv)}}


def _status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message, "details": details}


TOO_LARGE = _status(504, "Timeout", "Timeout: Too large resource version: 900, current: 10",
                    causes=[{"reason": "ResourceVersionTooLarge",
                             "message": "Too large resource version"}], retryAfterSeconds=1)


class ScriptedServer:
    """An ``ApiClient`` whose lists and watches follow a script: ``lists`` answers the
    LISTs in turn (the last one repeats), each of ``watches`` is the events of one watch
    (an exception is raised in its place), after which the stream stays silent."""

    def __init__(self, lists: list[tuple[int, list[dict[str, Any]]]],
                 watches: list[Script]) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[str] = []

    async def list(self, type_: Any, namespace: str | None = None, **options: Any) -> Any:
        self.calls.append(f"list limit={options.get('limit')}")
        rv, items = self.lists[0] if len(self.lists) == 1 else self.lists.pop(0)
        return {"metadata": {"resourceVersion": str(rv)},
                "items": [dict(i) for i in items][: options.get("limit") or None]}

    def watch(self, type_: Any, namespace: str | None = None, **options: Any) -> Any:
        self.calls.append(f"watch rv={options.get('resource_version')}")
        script = self.watches.pop(0) if self.watches else []
        return self._stream(script)

    async def _stream(self, script: Script) -> AsyncIterator[dict[str, Any]]:
        for step in script:
            if isinstance(step, BaseException):
                raise step
            yield step
        await asyncio.Event().wait()  # silent until the cache gives up on it


@contextlib.asynccontextmanager
async def running(cache: WatchCache) -> AsyncIterator[WatchCache]:
    task = asyncio.create_task(cache.run())
    try:
        await asyncio.wait_for(cache.synced.wait(), 5)
        yield cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _cache(server: ScriptedServer, changes: list[tuple[str, str]] | None = None) -> WatchCache:
    def listener(old: Any, new: Any) -> None:
        if changes is not None:
            obj = new or old
            changes.append(("deleted" if new is None else "changed", obj["metadata"]["name"]))

    return WatchCache(server, CM, settings=FAST, clock=LoopClock(),  # type: ignore[arg-type]
                      listener=listener)


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(600):  # virtual seconds
        while not predicate():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("error, reason", [
    (_status(500, "InternalError", "etcdserver: request timed out"), "error"),
    (TOO_LARGE, "too_large"),
], ids=["internal-error", "too-large"])
async def test_an_error_event_ends_the_watch_in_a_relist(error: dict[str, Any],
                                                         reason: str) -> None:
    server = ScriptedServer([(10, [_cm("a", 5)])], [[{"type": "ERROR", "object": error}]])
    async with running(_cache(server)) as cache:
        await _until(lambda: server.calls.count("list limit=500") == 2)
        assert cache.restarts == {reason: 1}
        assert server.calls[:3] == ["list limit=500", "watch rv=10", "list limit=500"]


async def test_a_watch_refused_as_too_large_relists() -> None:
    server = ScriptedServer([(10, [_cm("a", 5)])],
                            [[error_from_status(504, TOO_LARGE)]])
    async with running(_cache(server)) as cache:
        await _until(lambda: server.calls.count("list limit=500") == 2)
        assert cache.restarts == {"too_large": 1}


async def test_a_watch_event_from_the_past_relists_and_reports_what_is_gone() -> None:
    # restored: "b" never existed there, "a" is back at an older version
    server = ScriptedServer(
        [(20, [_cm("a", 15), _cm("b", 18)]), (12, [_cm("a", 5)])],
        [[{"type": "MODIFIED", "object": {**_cm("a", 5), "data": {"v": "restored"}}}]],
    )
    changes: list[tuple[str, str]] = []
    async with running(_cache(server, changes)) as cache:
        await _until(lambda: cache.resource_version == "12")
        assert cache.get("b", "default") is None
        assert cache.restarts == {"reset": 1}
    assert changes == [("changed", "a"), ("changed", "b"), ("changed", "a"), ("deleted", "b")]


async def test_a_relist_after_a_reset_reports_objects_whose_version_only_looks_the_same():
    # a cluster rebuilt from scratch reuses resourceVersions for other objects
    server = ScriptedServer(
        [(20, [_cm("a", 15)]), (3, [{**_cm("a", 15), "data": {"other": "object"}}])],
        [[{"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1",
                                          "metadata": {"resourceVersion": "3"}}}]],
    )
    changes: list[tuple[str, str]] = []
    async with running(_cache(server, changes)) as cache:
        await _until(lambda: cache.resource_version == "3")
        assert cache.get("a", "default")["data"] == {"other": "object"}
    assert changes == [("changed", "a"), ("changed", "a")]


async def test_a_write_answered_from_the_past_ends_the_watch_in_a_relist() -> None:
    server = ScriptedServer([(20, [_cm("a", 15)]), (12, [_cm("a", 5)])], [[]])
    behind: list[bool] = []
    cache = _cache(server)
    cache.on_server_behind = lambda: behind.append(True)
    async with running(cache):
        await _until(lambda: server.calls == ["list limit=500", "watch rv=20"])
        started = asyncio.get_running_loop().time()
        cache.observe(_cm("new", 13))  # our create, answered at 13 < 20
        assert cache.get("new", "default") is None  # not mixed into the lost future
        await _until(lambda: cache.resource_version == "12")
        # at once, not after the watch's inactivity timeout
        assert asyncio.get_running_loop().time() - started < 1
        assert behind == [True] and cache.restarts == {}
        cache.observe(_cm("a", 4), written=False)  # read, not written: old is fine
        assert server.calls.count("list limit=500") == 2


async def test_after_a_silent_watch_a_one_item_list_checks_the_server_is_not_behind() -> None:
    server = ScriptedServer([(20, [_cm("a", 15), _cm("b", 16)]), (20, [_cm("a", 15)]),
                             (8, [_cm("a", 5)]), (8, [_cm("a", 5)])], [[], []])
    async with running(_cache(server)) as cache:
        await _until(lambda: cache.resource_version == "8")
        # stalled: the server is at 20 (not behind), so the watch resumes from 20; stalled
        # again: the server is at 8, the cache relists
        assert server.calls == ["list limit=500", "watch rv=20", "list limit=1",
                                "watch rv=20", "list limit=1", "list limit=500",
                                "watch rv=8"]
        assert cache.restarts == {"stalled": 2, "reset": 1}


async def test_an_error_from_the_server_is_still_a_reconnect_with_backoff() -> None:
    server = ScriptedServer([(20, [_cm("a", 15)])], [[ApiError(503, "ServiceUnavailable")]])
    async with running(_cache(server)) as cache:
        await _until(lambda: len(server.calls) >= 4)
        assert server.calls[:4] == ["list limit=500", "watch rv=20", "list limit=1",
                                    "watch rv=20"]
        assert cache.restarts == {"error": 1}
