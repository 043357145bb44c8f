"""Watches resumed from a resourceVersion the real server has compacted away: 410 Gone,
then a relist that reports what the watch missed, and an operator that still converges.

A control plane of its own, compacting etcd every 2 s, with kube-apiserver's watch cache
off: with the cache on (the default) a watch from an old resourceVersion is served from
the cache's history (measured: still no 410 a minute after compaction), so only a server
reading watches from etcd answers 410 within a test's time.

How a watch is made to resume from a compacted revision: the test blocks the event loop
the cache (or the operator) runs on. The server ends the open watch within its
``timeoutSeconds`` (1 s here); the writes made after that cannot reach the cache through
it; once a compaction has passed them, the cache's resumed watch can only get 410, and
only a relist shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import attrs
import pytest
from e2e_support import (
    EXAMPLES,
    Admin,
    RawObject,
    eventually,
    eventually_async,
    is_synced,
    load_example,
    meta,
)

from kubeplan.adapters.cache import WatchCache
from kubeplan.adapters.client import KubeClient
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.k8s import core_v1
from kubeplan.core.types import K8sType
from kubeplan.testkit.endpoint import KubeEndpoint
from kubeplan.testkit.plugin import real_assets_or_skip, selected_servers

CM = core_v1.ConfigMap
MEMBER = K8sType("example.kubeplan.dev/v1", "Member", "members")
#: the server ends every watch after this long, so a blocked client's stream is closed
WATCH_SECONDS = 1
SETTINGS = RuntimeSettings(watch_timeout_seconds=WATCH_SECONDS, resync_period=None,
                           post_events=False)


@pytest.fixture(scope="module")
def compacting(request: pytest.FixtureRequest) -> Iterator[KubeEndpoint]:
    """A real control plane that compacts every 2 s and serves watches from etcd."""
    if "real" not in selected_servers(request.config):
        pytest.skip("needs the real kube-apiserver: run pytest with --kube-apiserver=real "
                    "(or both)")
    from kubeplan.testkit.realkube import RealKubeApiServer

    assets = real_assets_or_skip()
    with RealKubeApiServer(assets, compaction_interval="2s",
                           extra_apiserver_args=("--watch-cache=false",)) as server:
        yield server.endpoint()
        server.check()


@pytest.fixture
def namespace(compacting: KubeEndpoint, request: pytest.FixtureRequest) -> str:
    name = f"compaction-{abs(hash(request.node.name)) % 10**8}-{time.monotonic_ns() % 10**6}"
    compacting.request("POST", "/api/v1/namespaces",
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
async def client(compacting: KubeEndpoint) -> AsyncIterator[KubeClient]:
    async with await KubeClient.from_kubeconfig(compacting.kubeconfig) as kube:
        yield kube


def _watch_answer(endpoint: KubeEndpoint, path: str, resource_version: str,
                  **query: str) -> list[dict[str, Any]]:
    """The events of one short raw watch from ``resource_version``."""
    params = urlencode({"watch": "true", "timeoutSeconds": "1",
                        "resourceVersion": resource_version, **query})
    request = urllib.request.Request(f"{endpoint.url}{path}?{params}",
                                     headers={"Authorization": f"Bearer {endpoint.token}"})
    with urllib.request.urlopen(request, timeout=30, context=endpoint.ssl_context()) as answer:
        return [json.loads(line) for line in answer if line.strip()]


def _wait_compacted(endpoint: KubeEndpoint, path: str, resource_version: str,
                    **query: str) -> dict[str, Any]:
    """Block until a watch from ``resource_version`` answers 410 (it has been compacted)."""
    def expired() -> dict[str, Any] | None:
        for event in _watch_answer(endpoint, path, resource_version, **query):
            if event.get("type") == "ERROR" and event["object"].get("code") == 410:
                return dict(event["object"])
        return None

    return eventually(expired, what=f"resourceVersion {resource_version} compacted",
                      timeout=60, interval=0.3)


@contextlib.contextmanager
def _loop_blocked() -> Iterator[None]:
    """The body runs while the event loop (and every task on it) is held: a synchronous
    block inside a coroutine. The server's watches time out meanwhile."""
    time.sleep(WATCH_SECONDS + 0.5)
    yield


def _configmap(namespace: str, name: str, **data: str) -> RawObject:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": data}


async def test_a_compacted_watch_is_relisted_and_the_changes_it_missed_are_reported(
        compacting: KubeEndpoint, client: KubeClient, namespace: str) -> None:
    admin = Admin(compacting)
    for name in ("kept", "edited", "dropped"):
        admin.create(CM, _configmap(namespace, name, v="1"))
    changes: list[tuple[str | None, str | None]] = []

    def listener(old: RawObject | None, new: RawObject | None) -> None:
        name = meta(new or old or {}).get("name")
        changes.append((name if old else None, name if new else None))

    cache = WatchCache(client, CM, namespace=namespace, settings=SETTINGS, listener=listener)
    task = asyncio.create_task(cache.run())
    try:
        async with asyncio.timeout(30):
            await cache.synced.wait()
        assert {meta(o)["name"] for o in cache} >= {"kept", "edited", "dropped"}
        await asyncio.sleep(0.5)  # the first watch is open
        changes.clear()
        with _loop_blocked():
            stale = cache.resource_version
            assert stale is not None
            admin.delete(CM, "dropped", namespace)
            admin.merge_patch(CM, "edited", {"data": {"v": "2"}}, namespace)
            admin.create(CM, _configmap(namespace, "added", v="1"))
            gone = _wait_compacted(compacting, CM.path(namespace), stale)
            assert gone["reason"] == "Expired"

        def caught_up() -> bool:
            names = {meta(o)["name"]: o for o in cache}
            return ("dropped" not in names and "added" in names
                    and (names.get("edited") or {}).get("data") == {"v": "2"})

        await eventually_async(caught_up, what="the cache relisted", timeout=30)
        assert cache.restarts.get("expired", 0) >= 1, cache.restarts
        assert ("dropped", None) in changes and (None, "added") in changes, changes
        assert ("edited", "edited") in changes, changes
        assert ("kept", "kept") not in changes, "an unchanged object was reported"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_operator_whose_watches_were_compacted_still_converges(
        compacting: KubeEndpoint, client: KubeClient, namespace: str) -> None:
    admin = Admin(compacting)
    admin.install_crd(EXAMPLES / "member" / "crd.yaml")
    definition = load_example("member")
    operator = Operator(definition.config, definition.handler, client,
                        settings=attrs.evolve(SETTINGS, identity="compaction-test"))
    running = asyncio.create_task(operator.run())
    try:
        admin.create(MEMBER, {"apiVersion": MEMBER.api_version, "kind": "Member",
                              "metadata": {"name": "ada", "namespace": namespace},
                              "spec": {"name": "Ada"}})

        def greets(text: str) -> bool:
            found = admin.get(CM, "member-ada", namespace)
            return bool(found and found.get("data", {}).get("greeting") == text)

        await eventually_async(lambda: greets("Hello, Ada!"), what="the first greeting")
        await operator.settle(timeout=30)
        (parents,) = operator.parent_caches
        children = operator.child_caches[CM]
        with _loop_blocked():
            stale = {"parents": parents.resource_version, "children": children.resource_version}
            # missed by the operator: its child is deleted. Only a relist can show that
            # (a watch begun afresh replays what exists, and the child is not among it)
            admin.delete(CM, "member-ada", namespace)
            for rv in stale.values():
                assert rv is not None
                _wait_compacted(compacting, CM.path(), rv)

        await eventually_async(lambda: greets("Hello, Ada!"), what="the child made again")
        assert parents.restarts.get("expired", 0) >= 1, parents.restarts
        assert children.restarts.get("expired", 0) >= 1, children.restarts

        # and the relisted watches follow the next change
        admin.merge_patch(MEMBER, "ada", {"spec": {"memberOf": "the-compactors"}}, namespace)
        await eventually_async(lambda: greets("Hello, Ada! Welcome to the-compactors."),
                               what="the child following the new spec")

        def synced() -> RawObject | None:
            found = admin.get(MEMBER, "ada", namespace)
            ok = found is not None and is_synced(found) and meta(found)["generation"] == 2
            return found if ok else None

        await eventually_async(synced, what="the Member synced at generation 2")
    finally:
        await operator.stop()
        await running
