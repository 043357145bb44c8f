"""Runtime bugs the scenario runner found, replayed in virtual time on the in-process fake
(where nothing else yields the loop, so ordering races show up every time)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from kubeplan.adapters.errors import NotFound
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import LABEL_PARENT_UID, ChildConfig, OperatorConfig
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import scenario as sc
from kubeplan.testkit.apiserver.backup import restore_backup, take_backup
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.simulation import SCENARIO_SETTINGS, as_definition, install_crd
from kubeplan.testkit.vtime import EPOCH, LoopClock, virtual_time

Box = K8sType("regress.kubeplan.dev/v1", "Box", "boxes")
CONFIG = OperatorConfig("boxes", Box).with_child(core_v1.ConfigMap, ChildConfig.replace())


def sync(request: SyncRequest) -> SyncResponse:
    names: list[str] = list(request.spec.get("names") or [])
    children: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": name, "namespace": request.namespace}, "data": {"k": "v"}}
        for name in names
    ]
    return SyncResponse(children=children, status={"children": len(children)})


def test_a_removed_child_is_deleted_once() -> None:
    trace = run_scenario((CONFIG, sync), sc.Scenario(steps=(
        sc.CreateParent("b", spec={"names": ["one", "two"]}),
        sc.Settle(),
        sc.PatchParent("b", patch={"spec": {"names": ["one"]}}),
        sc.Settle(),
    )))
    assert trace.hot_loop is None
    deletes = [w for w in trace.writes if w.actor == "operator" and w.verb == "delete"
               and w.resource == "configmaps"]
    assert [(w.name, w.status) for w in deletes] == [("two", 200)]


def test_a_rejected_child_backs_off_with_a_stable_status() -> None:
    trace = run_scenario((CONFIG, sync), sc.Scenario(steps=(
        sc.CreateParent("b", spec={"names": ["bad:name"]}),
        sc.Advance(30.0),
    )), quiet_check=False)
    # a child that can never be created is retried forever (with capped backoff), so the
    # final settle reports "never goes quiet"; what matters is that it never spun
    assert trace.hot_loop is None or "hot loop:" not in trace.hot_loop
    writes = [w for w in trace.writes if w.actor == "operator" and w.resource != "events"
              and w.step < 2]  # the two steps, not the final settle
    creates = [w for w in writes if w.resource == "configmaps"]
    status = [w for w in writes if w.subresource == "status"]
    # backoff 0.5 s doubling (±20 %): attempts at about 0, 0.5, 1.5, 3.5, 7.5, 15.5 s
    assert 4 <= len(creates) <= 8, [w.time for w in creates]
    assert all(w.status == 422 for w in creates)
    # one status write says why; retries find it already right and write nothing
    assert len(status) == 1, [(w.time, w.status) for w in status]
    parent = trace.final.parents[0] if trace.final else None
    assert parent is not None
    synced = next(c for c in parent["status"]["conditions"] if c["type"] == "Synced")
    assert synced["status"] == "False" and "bad:name" in synced["message"]


@pytest.mark.parametrize("settle_first", [False, True], ids=["status-pending", "converged"])
def test_a_parent_deleted_behind_a_stalled_watch_is_dropped_not_rebuilt(
        settle_first: bool) -> None:
    # found by check_operator on the testing guide's operator: the parent was deleted while
    # the restarted operator's watch stalled; the stale cached parent made every sync
    # create its child again, the garbage collector deleted it, and each deletion
    # triggered the next sync at once, with virtual time standing still. Unsettled, the
    # status write answers 404; converged, only the re-creation shows it
    trace = run_scenario((CONFIG, sync), sc.Scenario(steps=(
        sc.CreateParent("b", spec={"names": ["one"]}),
        *((sc.Settle(),) if settle_first else ()),
        sc.InjectFault(sc.FaultSpec("watch_stall", seconds=1.0)),
        sc.RestartOperator(),
        sc.DeleteParent("b"),
    )))
    assert trace.hot_loop is None, trace.hot_loop
    creates = [w for w in trace.writes if w.actor == "operator" and w.verb == "create"
               and w.resource == "configmaps"]
    assert len(creates) <= 3, [(w.time, w.status) for w in creates]


# -- a stale cache: the server's state moved on (or back) without the watch saying so ----

OPERATOR_USER = "system:serviceaccount:kubeplan:operator"
#: production settings (the requeue limit on), scenario-sized backoffs
LIMITED = attrs.evolve(SCENARIO_SETTINGS, requeue_base=RuntimeSettings().requeue_base,
                       requeue_qps=RuntimeSettings().requeue_qps)


class _Cluster:
    """The fake, a user's client and one operator at a time, all in virtual time."""

    def __init__(self, server: FakeApiServer, settings: RuntimeSettings) -> None:
        self.server = server
        self.settings = settings
        self.user = InProcessClient(server, user="user", read_attempts=1, write_attempts=1)
        self.operator: Operator | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Operator:
        await self.stop()
        self.operator = Operator(CONFIG, sync, InProcessClient(self.server, user=OPERATOR_USER),
                                 settings=self.settings, clock=LoopClock())
        self._task = asyncio.create_task(self.operator.run())
        await self.operator.wait_synced()
        return self.operator

    async def stop(self) -> None:
        if self.operator is not None and self._task is not None:
            await self.operator.stop()
            await self._task
        self.operator, self._task = None, None

    def requests(self, since: int = 0) -> Counter[str]:
        """The operator's requests after the ``since``-th, by verb and resource."""
        return Counter(f"{r.verb} {r.resource}" for r in self.server.requests[since:]
                       if r.user == OPERATOR_USER)

    def children(self) -> set[str]:
        return {obj["metadata"]["name"]
                for obj in self.server.store.objects("configmaps", "default")
                if (obj["metadata"].get("labels") or {}).get(LABEL_PARENT_UID)}


@contextlib.asynccontextmanager
async def _cluster(settings: RuntimeSettings) -> AsyncIterator[_Cluster]:
    async with FakeApiServer(clock=LoopClock(), seed=7, request_log_size=10**7) as server:
        await install_crd(server, crd_of(as_definition((CONFIG, sync))))
        cluster = _Cluster(server, settings)
        try:
            yield cluster
        finally:
            await cluster.stop()


async def _box(cluster: _Cluster, names: list[str]) -> None:
    await cluster.user.create(Box, {"apiVersion": Box.api_version, "kind": Box.kind,
                                    "metadata": {"name": "b", "namespace": "default"},
                                    "spec": {"names": names}}, namespace="default")


async def _parent_deleted_behind_a_stalled_watch(settings: RuntimeSettings) -> Counter[str]:
    async with _cluster(settings) as cluster:
        operator = await cluster.start()
        await _box(cluster, ["one"])
        await operator.settle()
        await cluster.stop()
        mark = len(cluster.server.requests)
        # the restarted operator lists the parent, then its parent watch hangs
        cluster.server.add_fault(Fault.watch_stall(resource="boxes"))
        await cluster.start()
        await cluster.user.delete(Box, "b", "default")
        await asyncio.sleep(300)
        assert cluster.children() == set()
        assert cluster.server.store.objects("boxes.regress.kubeplan.dev") == []
        return cluster.requests(mark)


async def _server_restored_from_a_backup(settings: RuntimeSettings) -> Counter[str]:
    async with _cluster(settings) as cluster:
        operator = await cluster.start()
        await _box(cluster, ["one"])
        await operator.settle()
        backup = take_backup(cluster.server)
        await cluster.user.patch(Box, "b", {"spec": {"names": ["one", "two"]}},
                                 namespace="default", patch_type="merge")
        await operator.settle()
        assert cluster.children() == {"one", "two"}
        mark = len(cluster.server.requests)
        await restore_backup(cluster.server, backup)  # resourceVersions go back
        assert cluster.children() == {"one"}
        # written on the restored server: an older resourceVersion than the operator saw
        await cluster.user.patch(Box, "b", {"spec": {"names": ["three"]}},
                                 namespace="default", patch_type="merge")
        await asyncio.sleep(900)
        assert cluster.children() == {"three"}
        parent = cluster.server.store.objects("boxes.regress.kubeplan.dev")[0]
        assert parent["status"]["children"] == 1
        return cluster.requests(mark)


@virtual_time
async def test_a_parent_deleted_behind_a_stalled_watch_takes_few_requests() -> None:
    requests = await _parent_deleted_behind_a_stalled_watch(LIMITED)
    assert requests["create configmaps"] <= 2, requests
    assert sum(requests.values()) <= 20, requests


@virtual_time
async def test_a_server_restored_from_a_backup_is_relisted_and_converges() -> None:
    # the restored server is behind every resourceVersion the operator cached: its watches
    # from them wait for a future that never shows the restored state; the operator must
    # notice (the one-item list before watching again) and relist
    requests = await _server_restored_from_a_backup(LIMITED)
    assert sum(requests.values()) <= 40, requests


async def _children_deleted_in_a_loop(settings: RuntimeSettings) -> list[float]:
    """Someone else deletes every child the operator creates (a policy engine, a cleanup
    job): each deletion pulls the parent back. The virtual times of the operator's creates."""
    async with _cluster(settings) as cluster:
        operator = await cluster.start()

        async def delete_each_child() -> None:
            stream = cluster.user.watch(core_v1.ConfigMap, "default", resource_version="0")
            async for event in stream:
                meta = event["object"]["metadata"]
                if event["type"] == "ADDED" and LABEL_PARENT_UID in (meta.get("labels") or {}):
                    with contextlib.suppress(NotFound):
                        await cluster.user.delete(core_v1.ConfigMap, meta["name"], "default")

        deleter = asyncio.create_task(delete_each_child())
        try:
            await _box(cluster, ["one"])
            await asyncio.sleep(600)
        finally:
            deleter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deleter
        del operator
        return [(r.time - EPOCH).total_seconds() for r in cluster.server.requests
                if r.user == OPERATOR_USER and r.verb == "create" and r.resource == "configmaps"]


@virtual_time
async def test_a_parent_whose_children_keep_disappearing_slows_down() -> None:
    # without the requeue limit each deletion triggered the next create at once, with
    # virtual time standing still: thousands of creates a real second, forever
    creates = await _children_deleted_in_a_loop(LIMITED)
    assert 10 <= len(creates) <= 30, creates
    gaps = [b - a for a, b in itertools.pairwise(creates)]
    # each round waits about twice as long as the one before (5 ms, 10 ms, ...)
    assert all(later >= earlier for earlier, later in itertools.pairwise(gaps[2:])), gaps
    assert gaps[-1] > 60, gaps
