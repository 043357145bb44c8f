"""The watch cache over HTTP: list then watch, the owner index, stripping, relists."""

from __future__ import annotations

import asyncio
import contextlib

from adapter_testing import FAST, eventually

from kubeplan.adapters.cache import WatchCache
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.vtime import LoopClock

CM = core_v1.ConfigMap


def _cm(name: str, owner_uid: str | None = None, **labels: str) -> dict:
    meta: dict = {"name": name, "namespace": "default", "labels": {"app": "t", **labels}}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                    "uid": owner_uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


@contextlib.asynccontextmanager
async def running(cache: WatchCache):
    task = asyncio.create_task(cache.run())
    try:
        await asyncio.wait_for(cache.synced.wait(), 5)
        yield cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_lists_then_watches_with_the_selector_and_indexes_by_owner(kube):
    owner = await kube.create(CM, _cm("owner", app="other"))
    uid = owner["metadata"]["uid"]
    await kube.apply(CM, _cm("a", uid), field_manager="test")  # has managedFields
    changes: list[tuple[str | None, str | None]] = []

    def name(obj):
        return (obj or {}).get("metadata", {}).get("name")

    cache = WatchCache(kube, CM, label_selector="app=t", settings=FAST, clock=LoopClock(),
                       listener=lambda old, new: changes.append((name(old), name(new))))
    async with running(cache):
        assert [o["metadata"]["name"] for o in cache.owned_by(uid)] == ["a"]
        assert cache.get("owner", "default") is None  # not matching the selector
        assert "managedFields" not in cache.get("a", "default")["metadata"]
        await kube.create(CM, _cm("b", uid))
        await eventually(lambda: asyncio.sleep(0, len(cache.owned_by(uid)) == 2))
        await kube.delete(CM, "a", "default")
        await eventually(lambda: asyncio.sleep(0, cache.get("a", "default") is None))
        assert [o["metadata"]["name"] for o in cache.owned_by(uid)] == ["b"]
    assert changes == [(None, "a"), (None, "b"), ("a", None)]


async def test_relists_on_410_and_reports_what_changed_meanwhile(fake, kube):
    await kube.create(CM, _cm("stays"))
    await kube.create(CM, _cm("goes"))
    fake.faults.add(Fault.watch_stall(resource="configmaps"))
    settings = type(FAST)(**{**_fields(FAST), "watch_inactivity_timeout": 0.3})
    deleted: list[str] = []
    cache = WatchCache(kube, CM, settings=settings, clock=LoopClock(),
                       listener=lambda old, new: (
        deleted.append(old["metadata"]["name"]) if new is None else None))
    async with running(cache):
        await kube.delete(CM, "goes", "default")
        await kube.create(CM, _cm("new"))
        fake.truncate_event_log()
        await eventually(lambda: asyncio.sleep(0, cache.get("new", "default") is not None))
        assert cache.get("goes", "default") is None
        assert deleted == ["goes"]
        assert cache.restarts.get("expired", 0) >= 1


async def test_observe_keeps_the_newest_version(kube):
    cache = WatchCache(kube, CM, settings=FAST, clock=LoopClock())
    async with running(cache):
        created = await kube.create(CM, _cm("a"))
        newer = await kube.patch(CM, "a", {"data": {"v": "2"}}, namespace="default")
        cache.observe(newer)
        cache.observe(created)  # older: ignored
        assert cache.get("a", "default")["data"] == {"v": "2"}


async def test_a_read_brings_back_what_our_own_delete_only_seemed_to_remove(kube):
    # a DELETE answered 404 by something else than the store (a proxy, an injected fault)
    # drops the object from the cache; a GET that then finds the very same version proves
    # it is still there (check_operator found the hot loop: create 409, cache "missing")
    cache = WatchCache(kube, CM, settings=FAST, clock=LoopClock())
    async with running(cache):
        created = await kube.create(CM, _cm("a"))
        async def cached() -> bool:
            return cache.get("a", "default") is not None

        await eventually(cached)
        cache.observe_deleted(created)
        assert cache.get("a", "default") is None
        cache.observe(created)  # a write's answer of that version: still taken as deleted
        assert cache.get("a", "default") is None
        cache.observe(created, written=False)  # a read of it: it exists
        assert cache.get("a", "default")["metadata"]["uid"] == created["metadata"]["uid"]
        # and a real delete's watch event still removes it
        await kube.delete(CM, "a", namespace="default")

        async def gone() -> bool:
            return cache.get("a", "default") is None

        await eventually(gone)


async def test_relabelled_out_of_the_selector_is_a_delete_and_observe_keeps_it_out(kube):
    """The server sends a DELETED event when an object leaves the watch's selection; an
    answer of our own write outside the selection is not taken in either."""
    removed: list[str] = []
    cache = WatchCache(kube, CM, label_selector="app=t", settings=FAST, clock=LoopClock(),
                       listener=lambda old, new: (
        removed.append(old["metadata"]["name"]) if new is None else None))
    async with running(cache):
        await kube.create(CM, _cm("a"))
        await eventually(lambda: asyncio.sleep(0, cache.get("a", "default") is not None))
        moved = await kube.patch(CM, "a", {"metadata": {"labels": {"app": "elsewhere"}}},
                                 namespace="default")
        await eventually(lambda: asyncio.sleep(0, cache.get("a", "default") is None))
        assert removed == ["a"]
        cache.observe(moved)  # e.g. the answer to a finalizer patch of a released parent
        assert cache.get("a", "default") is None


def _fields(settings) -> dict:
    import attrs

    return attrs.asdict(settings)


def test_strip_drops_managed_fields_and_interns_short_strings_everywhere() -> None:
    import sys

    import orjson

    from kubeplan.adapters.cache import strip

    # canonical copies made first: the decoded object holds equal but distinct strings
    label, name, arg = (sys.intern("".join(parts)) for parts in (
        ("label-", "value-1"), ("container-", "name-1"), ("--", "flag-1")))
    long_value = "x" * 65
    obj = orjson.loads(orjson.dumps({
        "metadata": {"name": "a", "managedFields": [{"manager": "m"}], "labels": {"k": label}},
        "spec": {"containers": [{"name": name, "args": [arg, long_value, 3]}]},
    }))
    assert obj["metadata"]["labels"]["k"] is not label  # decoded: a copy
    out = strip(obj)
    assert out is obj and "managedFields" not in obj["metadata"]
    container = obj["spec"]["containers"][0]
    assert obj["metadata"]["labels"]["k"] is label
    assert container["name"] is name and container["args"][0] is arg
    assert container["args"][1:] == [long_value, 3]
