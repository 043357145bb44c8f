"""Chaos property suite: 1 to 3 replicas of a real operator (leader election or sharding)
against the in-process fake API server, in virtual time, under random histories of parent
changes interleaved with faults: replicas killed and restarted, leases expiring (a killed
replica's lease just runs out), watches dropped or stalled, bursts of 409, 500 and 429,
latency. After the faults stop and the system settles:

* converged: every parent has exactly its desired children with the desired data, and a
  status saying so; deleted parents have no children left;
* quiet: a further minute of virtual time brings no write by any replica (lease renewals
  aside);
* safe: no child was created twice (each parent name is used once, so a second successful
  create of one child name means two replicas raced or a stale cache re-created it);
* finalized: the operator has no finalizer, so a deleted parent is simply gone.

Every step runs under a ``ProgressGuard``: a step that sends more requests, takes more
virtual time or turns the event loop more often at one instant than its budget fails with
the step, the request count, the virtual time and the busiest request kinds, instead of
growing without bound (a storm of zero-time requests freezes virtual time).

CI runs a bounded number of examples; ``KUBEPLAN_CHAOS_EXAMPLES=500 python -m pytest
tests/chaos`` is the long run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from typing import Any

import attrs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubeplan.adapters.errors import ApiError
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.faults import Fault
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.progress import ProgressGuard
from kubeplan.testkit.simulation import as_definition, install_crd
from kubeplan.testkit.trace import ClusterState
from kubeplan.testkit.vtime import LoopClock, run_virtual

EXAMPLES = int(os.environ.get("KUBEPLAN_CHAOS_EXAMPLES", "15"))

Box = K8sType("chaos.kubeplan.dev/v1", "Box", "boxes")
CONFIG = OperatorConfig("boxes", Box).with_child(core_v1.ConfigMap, ChildConfig.replace())
CM = core_v1.ConfigMap
SETTINGS = RuntimeSettings(
    workers=2, resync_period=300.0, sync_timeout=30.0, backoff_base=0.5, backoff_cap=20.0,
    watch_inactivity_timeout=30.0, watch_backoff_base=0.2, watch_backoff_cap=5.0,
    grace_period=5.0, lease_namespace="default",
    handler_threads=False,  # on the loop: a seed replays the same run
)


def sync(request: SyncRequest) -> SyncResponse:
    """Two ConfigMaps per parent, named after it, holding its spec's value."""
    value = str(request.spec.get("value", ""))
    children = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{request.name}-{suffix}", "namespace": request.namespace},
         "data": {"value": value}}
        for suffix in ("a", "b")
    ]
    return SyncResponse(children=children, status={"value": value})


# -- the steps --------------------------------------------------------------------------


@attrs.frozen
class Create:
    value: int


@attrs.frozen
class Patch:
    index: int  # which live parent (modulo)
    value: int


@attrs.frozen
class Delete:
    index: int


@attrs.frozen
class Kill:
    replica: int


@attrs.frozen
class Restart:
    replica: int


@attrs.frozen
class Inject:
    kind: str  # "409" | "500" | "429" | "latency" | "drop" | "stall"
    resource: str


@attrs.frozen
class Advance:
    seconds: float


def _fault(step: Inject) -> Fault:
    match: dict[str, Any] = {"resource": step.resource}
    if step.kind == "409":
        return Fault.error(409, reason="Conflict", verb="patch", count=3, **match)
    if step.kind == "500":
        return Fault.error(500, count=4, **match)
    if step.kind == "429":
        return Fault.too_many_requests(retry_after=1, count=3, **match)
    if step.kind == "latency":
        return Fault.latency(1.5, count=5, **match)
    if step.kind == "drop":
        return Fault.watch_drop(after_events=1, **match)
    return Fault.watch_stall(after_events=0, **match)


STEPS = st.one_of(
    st.builds(Create, st.integers(0, 3)),
    st.builds(Patch, st.integers(0, 9), st.integers(0, 3)),
    st.builds(Delete, st.integers(0, 9)),
    st.builds(Kill, st.integers(0, 2)),
    st.builds(Restart, st.integers(0, 2)),
    st.builds(Inject, st.sampled_from(["409", "500", "429", "latency", "drop", "stall"]),
              st.sampled_from(["configmaps", "boxes", "leases"])),
    st.builds(Advance, st.sampled_from([0.5, 3.0, 12.0, 20.0])),
)


# -- the run ----------------------------------------------------------------------------


class Cluster:
    """N replicas of the operator against one fake; a killed replica's task is cancelled
    (a crash: its lease is not released and has to expire)."""

    def __init__(self, server: FakeApiServer, replicas: int, mode: str, seed: int) -> None:
        self.server, self.replicas, self.mode, self.seed = server, replicas, mode, seed
        self.user = InProcessClient(server, user="user")
        self.running: dict[int, tuple[Operator, asyncio.Task[None]]] = {}
        self.starts = 0
        self.parents: list[str] = []  # live parent names, in creation order
        self.deleted: list[str] = []
        self.values: dict[str, int] = {}
        self.created = 0

    async def start(self, i: int) -> None:
        if i >= self.replicas or i in self.running:
            return
        self.starts += 1
        settings = attrs.evolve(
            SETTINGS, identity=f"replica-{i}", seed=f"{self.seed}/{self.starts}",
            leader_election=self.mode == "leader", shards=self.mode == "shards",
        )
        loop = asyncio.get_running_loop()
        operator = Operator(CONFIG, sync, InProcessClient(self.server, user=f"replica-{i}"),
                            settings=settings, clock=LoopClock(loop))
        self.running[i] = (operator, asyncio.create_task(operator.run()))

    async def kill(self, i: int) -> None:
        if i not in self.running:
            return
        _operator, task = self.running.pop(i)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def apply(self, step: Any) -> None:
        """One step. The user's own requests meet the faults too: a rejected one changes
        nothing, and the expectations follow only what the server accepted."""
        with contextlib.suppress(ApiError):
            await self._apply(step)

    async def _apply(self, step: Any) -> None:
        if isinstance(step, Create):
            name = f"p{self.created}"
            self.created += 1
            await self.user.create(Box, {"apiVersion": Box.api_version, "kind": Box.kind,
                                         "metadata": {"name": name, "namespace": "default"},
                                         "spec": {"value": step.value}})
            self.parents.append(name)
            self.values[name] = step.value
        elif isinstance(step, Patch) and self.parents:
            name = self.parents[step.index % len(self.parents)]
            await self.user.patch(Box, name, {"spec": {"value": step.value}},
                                  namespace="default", patch_type="merge")
            self.values[name] = step.value
        elif isinstance(step, Delete) and self.parents:
            name = self.parents[step.index % len(self.parents)]
            await self.user.delete(Box, name, "default")
            self.parents.remove(name)
            self.deleted.append(name)
        elif isinstance(step, Kill):
            await self.kill(step.replica)
        elif isinstance(step, Restart):
            await self.start(step.replica)
        elif isinstance(step, Inject):
            self.server.faults.add(_fault(step))
        elif isinstance(step, Advance):
            await asyncio.sleep(step.seconds)

    def describe(self, step: Any) -> str:
        """The step as a reader wants it in a failure: parents by name, not by index."""
        if isinstance(step, Create):
            return f"create parent p{self.created} with value {step.value}"
        if isinstance(step, Patch | Delete):
            if not self.parents:
                return f"{type(step).__name__.lower()} a parent (none left: nothing to do)"
            name = self.parents[step.index % len(self.parents)]
            if isinstance(step, Patch):
                return f"patch parent {name} to value {step.value}"
            return f"delete parent {name}"
        if isinstance(step, Kill | Restart):
            return f"{type(step).__name__.lower()} replica {step.replica}"
        if isinstance(step, Inject):
            return f"inject {step.kind} on {step.resource}"
        return f"advance {step.seconds:g} s"

    async def stop(self) -> None:
        for _operator, task in self.running.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.running.clear()

    def converged(self) -> list[str]:
        """What is not converged yet (empty: converged)."""
        problems = []
        state = ClusterState.capture(self.server, CONFIG)
        cms = {o["metadata"]["name"]: o for o in state.objects[CM]}
        boxes = {o["metadata"]["name"]: o for o in state.parents}
        for name in self.parents:
            want = str(self.values[name])
            for suffix in ("a", "b"):
                cm = cms.get(f"{name}-{suffix}")
                if cm is None or (cm.get("data") or {}).get("value") != want:
                    problems.append(f"{name}-{suffix} missing or stale")
            status = (boxes.get(name) or {}).get("status") or {}
            if status.get("value") != want:
                problems.append(f"{name} status {status!r}")
        for name in self.deleted:
            if name in boxes:
                problems.append(f"deleted parent {name} still there")
            problems += [f"{c} of deleted {name} left" for c in cms if c.startswith(f"{name}-")]
        return problems

    def operator_writes(self, since: int = 0) -> list[Any]:
        return [r for r in self.server.requests[since:]
                if r.user.startswith("replica-") and r.method in ("POST", "PUT", "PATCH", "DELETE")
                and r.resource not in ("leases", "events")]


async def _scenario(steps: list[Any], replicas: int, mode: str, seed: int) -> None:
    server = FakeApiServer(clock=LoopClock(), seed=seed, request_log_size=10_000_000)
    async with server:
        await install_crd(server, crd_of(as_definition((CONFIG, sync))))
        cluster = Cluster(server, replicas, mode, seed)
        with ProgressGuard(server) as guard:
            try:
                async with guard.step("start-up"):
                    for i in range(replicas):
                        await cluster.start(i)
                for number, step in enumerate(steps, 1):
                    label = f"step {number} ({cluster.describe(step)})"
                    allow = step.seconds if isinstance(step, Advance) else 0.0
                    async with guard.step(label, allow_seconds=allow):
                        await cluster.apply(step)
                # the faults stop; dead replicas come back; the system settles
                server.faults.clear()
                async with guard.step("settle after the faults stopped", allow_seconds=200):
                    for i in range(replicas):
                        await cluster.start(i)
                    problems = cluster.converged()
                    for _ in range(40):  # up to 200 s of virtual time
                        if not problems:
                            break
                        await asyncio.sleep(5.0)
                        problems = cluster.converged()
                assert not problems, f"not converged after the faults stopped: {problems}"
                async with guard.step("the quiet minute", allow_seconds=90):
                    await asyncio.sleep(30.0)  # in-flight retries land
                    mark = len(server.requests)
                    await asyncio.sleep(60.0)
                late = cluster.operator_writes(mark)
                assert not late, "not quiet: " + ", ".join(
                    f"{r.user} {r.method} {r.resource}/{r.name} {r.status}" for r in late[:10])
                assert cluster.converged() == [], "a late write undid convergence"
                creates = Counter(r.name for r in cluster.operator_writes()
                                  if r.resource == "configmaps" and r.status == 201)
                twice = {name: n for name, n in creates.items() if n > 1}
                assert not twice, f"children created more than once: {twice}"
            finally:
                await cluster.stop()
    STATS.append((len(steps), replicas, mode, cluster.created, len(server.requests)))
    PEAKS.append((guard.peak_requests, guard.peak_virtual_seconds, guard.peak_turns))


#: (steps, replicas, mode, parents created, requests) of each example, for the summary
STATS: list[tuple[int, int, str, int, int]] = []
#: the most one step of each example used: (requests, virtual seconds, loop turns at one
#: instant), to compare with the progress guard's budget
PEAKS: list[tuple[int, float, int]] = []


@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 20,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEPS, min_size=1, max_size=14),
    replicas=st.integers(1, 3),
    mode=st.sampled_from(["leader", "shards"]),
    seed=st.integers(0, 2**16),
)
# found at 200 examples (seeds 5, 7, 8): the parent is deleted while a sync of its patch
# is in flight, and the sync's apply re-created the children the garbage collector had
# just removed; the apply now names each child's uid, so the server refuses it (409)
@example(steps=[Create(0), Inject("latency", "boxes"), Create(0), Patch(0, 1), Delete(0)],
         replicas=1, mode="leader", seed=0)
# found the same way (seed 5): during a shard hand-over a replica whose parent cache lagged
# (its status writes met 409) created the children again after the parent was deleted; a
# conflict now makes the next creation confirm the parent first
@example(steps=[Create(0), Inject("latency", "boxes"), Inject("latency", "leases"),
                Advance(0.5), Delete(0)], replicas=3, mode="shards", seed=16)
def test_replicas_converge_and_stay_safe_under_chaos(
    steps: list[Any], replicas: int, mode: str, seed: int
) -> None:
    run_virtual(_scenario(steps, replicas, mode, seed))
