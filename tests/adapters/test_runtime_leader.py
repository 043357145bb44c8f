"""Two replicas with leader election: only the leader syncs and writes; when it is killed
the standby takes over after the lease expires and converges."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest
from adapter_testing import BUNDLE_CONFIG, Bundle, BundleHandler, bundle, configmap, eventually
from scaleout_testing import LEASES, Replicas

from kubeplan.core.k8s import core_v1

CM = core_v1.ConfigMap
R = LEASES["retry_period"]
#: the Lease holds whole seconds (leaseDurationSeconds is an int, rounded up): 1.5 s -> 2 s
D = math.ceil(LEASES["lease_duration"])


@pytest.fixture
async def replicas(http, crds) -> AsyncIterator[Replicas]:
    group = Replicas(http.url)
    yield group
    await group.stop_all()


async def _has_children(kube, name: str, count: int) -> bool:
    parent = await kube.get(Bundle, name, "default")
    return (parent.get("status") or {}).get("children") == count


async def test_only_the_leader_writes_and_a_standby_takes_over(kube, replicas):
    handlers = {"a": BundleHandler(), "b": BundleHandler()}
    a = await replicas.start("a", BUNDLE_CONFIG, handlers["a"], leader_election=True)
    b = await replicas.start("b", BUNDLE_CONFIG, handlers["b"], leader_election=True)
    await eventually(lambda: _any(a.is_leader or b.is_leader))
    leader, standby = ("a", "b") if a.is_leader else ("b", "a")
    ops = {"a": a, "b": b}
    await kube.create(Bundle, bundle("p1", [configmap("one")]))
    await eventually(lambda: _has_children(kube, "p1", 1))
    await ops[leader].settle()
    assert handlers[leader].calls >= 1
    assert handlers[standby].calls == 0 and ops[standby].syncs == 0
    assert ops[standby].is_ready()  # warm: its caches listed
    assert ops[standby].metrics.active.labels("bundles", "leader")._value.get() == 0

    loop = asyncio.get_running_loop()
    await replicas.kill(leader)
    killed_at = loop.time()
    await kube.create(Bundle, bundle("p2", [configmap("two")]))
    await eventually(lambda: _any(ops[standby].is_leader), timeout=5, interval=0.01)
    took = loop.time() - killed_at
    # not before the killed leader's lease (renewed at most R before the kill) expired,
    # and at the standby's first poll after that
    assert D - R <= took <= D + R + 0.01, took
    await eventually(lambda: _has_children(kube, "p2", 1), timeout=5)
    assert handlers[standby].calls >= 1


async def test_graceful_stop_hands_over_within_a_retry_period(kube, replicas):
    a = await replicas.start("a", BUNDLE_CONFIG, BundleHandler(), leader_election=True)
    await eventually(lambda: _any(a.is_leader))
    b = await replicas.start("b", BUNDLE_CONFIG, BundleHandler(), leader_election=True)
    operator, task = replicas.running.pop("a")
    loop = asyncio.get_running_loop()
    await operator.stop()
    await task
    released_at = loop.time()
    # released: b acquires at its next poll (R = 0.25 s), not after D = 1.5 s
    await eventually(lambda: _any(b.is_leader), timeout=1.0, interval=0.01)
    assert loop.time() - released_at <= R + 0.01


async def _any(value: object) -> bool:
    return bool(value)
