"""One real operator running against one fake API server, steered step by step.

``Simulation`` is the live half of a scenario run, shared by the scenario runner and the
pytest plugin's ``operator_harness``. It owns:

- two in-process clients with different users, so the fake's request log tells the
  operator's requests (user ``OPERATOR_USER``) from the scenario's (``SCENARIO_USER``);
- the ``Operator`` (the real runtime: watch caches, work queue, planner, executor), with
  its handler wrapped by ``InstrumentedHandler`` and its executor wrapped to record plans;
- the objects the operator does not own (there before it started, or created by a
  ``CreateForeign`` step), which ``assert_safe`` checks were never written by it;
- the trace being recorded.

Every wait is guarded: if the handler's call counter raises the hot-loop alarm, or the
operator task dies, the wait ends with ``HotLoop`` or ``OperatorCrashed`` instead of
spinning forever at one virtual instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from kubeplan.adapters.errors import ApiError
from kubeplan.adapters.executor import ExecutionResult
from kubeplan.adapters.runtime import Operator
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import KubeplanError, UsageError, WrongArgumentType
from kubeplan.core.k8s.apiextensions_v1 import CustomResourceDefinition
from kubeplan.core.objects import finalizers_of, uid_of
from kubeplan.core.plan import Plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.types import K8sType
from kubeplan.testkit import scenario as sc
from kubeplan.testkit.apiserver.authn import UserInfo
from kubeplan.testkit.apiserver.inproc import InProcessClient
from kubeplan.testkit.apiserver.request import RequestRecord
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.apiserver.store import LogEntry
from kubeplan.testkit.apiserver.writes import DeleteOptions, Target, WriteOptions
from kubeplan.testkit.instrument import InstrumentedHandler
from kubeplan.testkit.sources import ScriptedSource
from kubeplan.testkit.trace import (
    WRITE_VERBS,
    ChildChange,
    ClusterState,
    ForeignObject,
    PlanRecord,
    StepRecord,
    Trace,
    WriteRecord,
    describe_key,
)
from kubeplan.testkit.vtime import EPOCH, LoopClock

__all__ = [
    "OPERATOR_USER",
    "SCENARIO_SETTINGS",
    "SCENARIO_USER",
    "HotLoop",
    "OperatorCrashed",
    "Simulation",
    "WriteRefused",
    "as_definition",
    "install_crd",
]

T = TypeVar("T")
RawObject = dict[str, Any]

OPERATOR_USER = "system:serviceaccount:kubeplan:operator"
"""The user the operator's requests carry in the fake's request log."""
SCENARIO_USER = "scenario"
"""The user of the scenario's own requests ("someone else": kubectl, another controller)."""
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Refusals that say nothing against the object sent: a finalizer added while its object's
# deletion began (a race the next sync resolves), and an admission webhook's denial
# (``assert_admitted`` judges the operator's own validators).
_NOT_INVALID = re.compile(r"no new finalizers can be added|admission webhook .* denied")

SCENARIO_SETTINGS = RuntimeSettings(
    workers=2,
    resync_period=600.0,
    sync_timeout=60.0,
    backoff_base=0.5,
    backoff_cap=60.0,
    watch_inactivity_timeout=70.0,
    watch_backoff_base=0.2,
    watch_backoff_cap=10.0,
    grace_period=5.0,
    requeue_base=0.0,
    requeue_qps=None,
    handler_threads=False,
)
"""Runtime settings for scenarios: production shapes with a shorter backoff cap, so that
the final settle (which waits out every retry) covers less virtual time, and without the
requeue limit: an operator that never settles (a handler that flips its children, a
runtime bug that re-creates what the garbage collector deletes) spins at one virtual
instant and is reported as a hot loop, where the limit would only slow it down; and with
synchronous handlers called on the loop, so that a seeded run replays exactly (a thread's
timing would decide what the loop does meanwhile)."""


class WriteRefused(KubeplanError):
    """The server refused a write of the operator's as invalid (400, 422), no fault
    injected: the run stops at the next settle (``stop_at_refused_write``)."""


class HotLoop(KubeplanError):
    """The operator never went quiet: the handler's call counter raised the alarm."""


class OperatorCrashed(KubeplanError, RuntimeError):
    """The operator's ``run()`` ended while the scenario was still running."""


def as_definition(operator: Any) -> OperatorDefinition:
    """An ``OperatorDefinition``, or a ``(config, handler)`` pair made into one."""
    if isinstance(operator, OperatorDefinition):
        return operator
    if isinstance(operator, tuple) and len(operator) == 2:
        return OperatorDefinition(config=operator[0], handler=operator[1])
    raise WrongArgumentType(
        f"expected an OperatorDefinition or a (config, handler) pair, got {operator!r:.100}"
    )


async def install_crd(server: FakeApiServer, crd: Mapping[str, Any]) -> None:
    """Create a CRD in the fake (unlogged user ``kube-admin``) and wait until it is served."""
    client = InProcessClient(server, user="kube-admin", read_attempts=1, write_attempts=1)
    await client.create(CustomResourceDefinition, dict(crd))
    await server.settle()


def _virtual_seconds(when: datetime) -> float:
    return round((when - EPOCH).total_seconds(), 6)


def _describe_error(exc: ApiError) -> str:
    return f"rejected: {exc.status} {exc.reason}".rstrip()


@attrs.define
class _Watched:
    """A foreign object being watched for writes by the operator."""

    type: K8sType
    record: ForeignObject


def register_admission(server: FakeApiServer, definition: OperatorDefinition) -> None:
    """Store ``definition``'s webhook configurations in ``server``, answered in process
    (already stored ones are replaced: a restart registers them again)."""
    for configuration in server.admission_webhooks.serve_operator(definition):
        info = server.registry.lookup("admissionregistration.k8s.io", "v1",
                                      configuration["kind"].lower() + "s")
        assert info is not None
        name = configuration["metadata"]["name"]
        if server.store.get(info.group_resource, "", name) is not None:
            server.writer.delete(Target(info, "", name), DeleteOptions())
        server.writer.create(Target(info), configuration,
                             WriteOptions(manager="kubeplan-testkit"))


class Simulation:
    """An operator running against ``server``; see the module docstring.

    ``start()`` begins recording and starts the operator; ``apply(step)`` runs one scenario
    step; ``settle()`` waits until nothing is left to do; ``stop()`` stops the operator.
    The server must already be started and the parent's CRD installed.
    """

    def __init__(
        self,
        server: FakeApiServer,
        definition: OperatorDefinition,
        *,
        scenario: sc.Scenario | None = None,
        settings: RuntimeSettings | None = None,
        extra_types: Iterable[K8sType] = (),
        same_instant_limit: int = 40,
        step_limit: int = 100,
        identity: UserInfo | None = None,
        stop_at_refused_write: bool = False,
    ) -> None:
        self.server = server
        self.stop_at_refused_write = stop_at_refused_write
        self.definition = definition
        # a versioned parent converts through the operator's own conversions, in process
        server.conversion_webhooks.serve_operator(definition)
        # its validators and mutators answer the fake's admission chain, in process
        register_admission(server, definition)
        self.config = definition.config
        self.scenario = scenario or sc.Scenario()
        self.settings = settings or SCENARIO_SETTINGS
        self.types = (self.config.parent, *self.config.child_types, *extra_types)
        # the scenario's own steps are single requests; the operator's client is the
        # production one, retries included
        self.client = InProcessClient(server, user=SCENARIO_USER, user_agent="scenario/1",
                                      read_attempts=1, write_attempts=1)
        # as the admin, or as ``identity`` (a ServiceAccount, authorised by RBAC)
        self.operator_client = InProcessClient(
            server, user=OPERATOR_USER, identity=identity,
            user_agent=f"{self.config.field_manager}/testkit"
        )
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.handler = InstrumentedHandler(
            definition.handler,
            clock=loop.time,
            same_instant_limit=same_instant_limit,
            on_call=self._mark_plan_start,
        )
        # parent uid -> (request log index, virtual time) when its handler was last called
        self._plan_starts: dict[str, tuple[int, float]] = {}
        self.step_limit = step_limit
        self._writing_plans: dict[str | None, int] = {}
        self.trace = Trace(
            scenario=self.scenario,
            operator=self.config.name,
            has_finalize=self.handler.info.has_finalize,
            calls=self.handler.calls,
        )
        self.operator: Operator | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation = 0
        self._step = -1
        self._watched: list[_Watched] = []
        #: the operator's external sources, scripted by the scenario's source steps
        self.sources = {name: ScriptedSource(name, declaration.source)
                        for name, declaration in self.config.sources.items()}

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Note what exists (it is not ours), then start the operator and wait for its caches."""
        for type_ in self.config.child_types:
            for obj in ClusterState.capture(self.server, self.config).objects.get(type_, ()):
                self._watch_foreign(type_, obj, since=0, origin="pre-existing")
        self.server.request_observers.append(self._note_refused_write)
        if not self.config.filters.selects_all:
            self.server.request_observers.append(self._check_filtered_write)
        self._record_rolling_changes()
        await self._start_operator()

    def _selected(self, parent: RawObject) -> bool:
        try:
            return self.config.selects(parent)
        except Exception:
            return True  # the predicate fails: the runtime reports it and releases nothing

    def _check_filtered_write(self, record: Any) -> None:
        """Note an operator write to a parent its filters do not select (the invariant
        ``assert_filters_respected``); removing kubeplan's finalizer is the one allowed.
        Checked on the parent right after the write: the operator never writes a parent's
        labels, annotations or spec, so the filters' answer is the one before it."""
        parent = self.config.parent
        if (record.user != OPERATOR_USER or record.status >= 400 or not record.name
                or record.verb not in ("update", "patch")
                or not record.path.startswith(parent.path(record.namespace, record.name))):
            return
        stored = self._stored(parent, record.name, record.namespace)
        if stored is None:
            return  # removing our finalizer let its deletion complete
        if self._selected(stored):
            return
        if record.subresource is None and self.config.finalizer not in finalizers_of(stored):
            return  # our finalizer removed: allowed, so that deletion is not blocked
        what = f"/{record.subresource}" if record.subresource else " (not only our finalizer)"
        self.trace.filtered_writes.append(
            f"the operator wrote{what} {parent.kind} "
            f"{describe_key(record.namespace, record.name)}, which its filters do not "
            f"select ({record.verb} -> {record.status} during "
            f"{self.trace.step_label(self._step)})"
        )

    def _note_refused_write(self, record: RequestRecord) -> None:
        """Note a write of the operator's the server refused as invalid (400, 422) with no
        fault injected: what it sends is wrong, and sending it again cannot help."""
        if (record.status not in (400, 422) or record.injected
                or record.user != OPERATOR_USER or record.method not in _WRITE_METHODS
                or record.resource == "events" or _NOT_INVALID.search(record.message)):
            return
        sub = f"/{record.subresource}" if record.subresource else ""
        where = (describe_key(record.namespace, record.name) if record.name
                 else f"{record.namespace or ''} (new)".lstrip())
        self.trace.refused_writes.append(
            f"{record.verb} {record.resource}{sub} {where} "
            f"-> {record.status}: {record.message} (during {self.trace.step_label(self._step)}, "
            f"t={self.loop.time():.3f}s)"
        )

    def _record_rolling_changes(self) -> None:
        """Keep every change of a rolling type's children (the rollout invariant reads them)."""
        rolling: dict[str, str] = {}
        for type_, child_config in self.config.children.items():
            info = self.server.registry.lookup(type_.group, type_.version, type_.plural)
            if child_config.rollout is not None and info is not None:
                rolling[info.group_resource] = str(type_)
        if not rolling:
            return

        def record(entry: LogEntry) -> None:
            type_key = rolling.get(entry.group_resource)
            if type_key is not None:
                self.trace.changes.append(ChildChange(
                    round(self.loop.time(), 6), len(self.server.requests), type_key,
                    entry.type, entry.namespace or None, entry.name, entry.obj, entry.prev,
                ))

        self.server.store.add_listener(record)

    async def _start_operator(self) -> None:
        self._generation += 1
        operator = Operator(
            self.config,
            self.handler,
            self.operator_client,
            settings=self.settings,
            clock=LoopClock(self.loop),
            rng=random.Random(f"{self.scenario.seed}/{self._generation}"),
            on_plan=self._record_plan,
            source_fetchers={name: s.fetch() for name, s in self.sources.items()},
        )
        self.operator = operator
        self._task = asyncio.create_task(operator.run(), name=f"operator {self.config.name}")
        await self.guard(operator.wait_synced())

    def _mark_plan_start(self, request: SyncRequest) -> None:
        """Where a plan starts: the runtime plans right after the handler returns, with no
        request in between, so the handler call marks the plan's place in the log."""
        self._plan_starts[uid_of(request.parent) or ""] = (
            len(self.server.requests), self.loop.time()
        )

    def _record_plan(self, plan: Plan, result: ExecutionResult) -> None:
        """The runtime's ``on_plan`` hook: record every plan that had actions."""
        if not plan.actions:
            return
        index, at = self._plan_starts.get(
            plan.parent.uid or "", (len(self.server.requests), self.loop.time())
        )
        self._count_writing_plan(plan)
        if result.failures:
            self.handler.forget_held_for(plan.parent.uid)
        self.trace.plans.append(
            PlanRecord(
                step=self._step,
                time=round(at, 6),
                request_index=index,
                parent=(plan.parent.namespace or "", plan.parent.name),
                parent_uid=plan.parent.uid,
                text=str(plan),
                actions=len(plan.actions),
                failures=tuple(f.message for f in result.failures),
                conflict=result.conflict,
            )
        )

    def _count_writing_plan(self, plan: Plan) -> None:
        """Raise the alarm when one parent needs more than ``step_limit`` plans that write
        during one step: with time moving (backoff, resyncs) that is still a loop."""
        count = self._writing_plans.get(plan.parent.uid, 0) + 1
        self._writing_plans[plan.parent.uid] = count
        if count > self.step_limit:
            where = f"{plan.parent.namespace}/{plan.parent.name}".lstrip("/")
            self.handler.raise_alarm(
                f"parent {where} needed {count} plans that write during {self._where()}: "
                "the operator never goes quiet"
            )

    async def stop(self) -> None:
        """Stop the operator (idempotent); a crash of its task is re-raised."""
        operator, task = self.operator, self._task
        self.operator, self._task = None, None
        if operator is None or task is None:
            return
        await operator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def restart(self) -> None:
        """Stop the operator and start a fresh one: memo, caches and queue are lost (and
        with them which parents a ``PermanentError`` held: a restart may call them again)."""
        await self.stop()
        self.handler.forget_held()
        await self._start_operator()

    # -- guarded waiting ---------------------------------------------------------------

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the hot-loop alarm goes off or the operator dies."""
        main = asyncio.ensure_future(awaitable)
        alarm = asyncio.ensure_future(self.handler.alarm.wait())
        watched: set[asyncio.Future[Any]] = {main, alarm}
        if self._task is not None:
            watched.add(self._task)
        try:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        finally:
            alarm.cancel()
        if main in done:
            return main.result()
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await main
        if self.handler.alarm.is_set():
            raise HotLoop(self.handler.alarm_message)
        task = self._task
        exc = task.exception() if task is not None and not task.cancelled() else None
        raise OperatorCrashed(f"the operator stopped running during {self._where()}") from exc

    def _where(self) -> str:
        if 0 <= self._step < len(self.scenario.steps):
            return f"step {self._step + 1}"
        return "the final settle" if self._step >= 0 else "start-up"

    # -- settling ----------------------------------------------------------------------

    async def settle(self, quiet: float = 0.05) -> None:
        """Wait until the operator's queue is idle and the fake's controllers settled, and
        nothing more happened for ``quiet`` seconds of clock time (watch events of the last
        writes arrive just after them). Delayed retries and resyncs are not waited for."""
        await self.guard(self._settle(quiet))
        if self.stop_at_refused_write and self.trace.refused_writes:
            raise WriteRefused(
                f"the server refused a write as invalid: {self.trace.refused_writes[0]}")

    async def _settle(self, quiet: float) -> None:
        while True:
            operator = self.operator
            if operator is None:
                await self.server.settle()
                return
            await operator.wait_synced()
            await self.server.settle()
            await operator.queue.wait_idle()
            calls, rv = self.handler.total, self.server.resource_version
            await asyncio.sleep(quiet)
            await self.server.settle()
            if (
                operator.queue.is_idle()
                and calls == self.handler.total
                and rv == self.server.resource_version
            ):
                return

    def _horizon(self) -> float:
        """Long enough for every pending retry: backoff, watch reconnect, stalled watch."""
        s = self.settings
        return (
            max(
                s.backoff_cap * (1 + s.backoff_jitter),
                s.watch_backoff_cap * 1.5,
                s.watch_inactivity_timeout,
                # a source's next reading: after its failure backoff or its interval
                *(max(d.source.backoff_cap * 1.2, d.source.interval * (1 + d.source.jitter))
                  + d.source.timeout for d in self.config.sources.values()),
            )
            + 1.0
        )

    async def settle_fully(self, max_rounds: int = 5) -> None:
        """Remove every fault, then settle and wait out pending retries until a whole
        retry horizon passes without the operator writing anything."""
        self.server.faults.clear()
        for source in self.sources.values():
            source.faults.clear()
        mark = len(self.server.requests)
        await self.settle()
        refused_before = {
            _refusal(w) for w in self._operator_writes(mark) if w.status in (400, 422)
        }
        for _ in range(max_rounds):
            mark = len(self.server.requests)
            await self.guard(asyncio.sleep(self._horizon()))
            await self.settle()
            writes = self._operator_writes(mark)
            if not writes:
                return
            # A write the server refuses for its content (400, 422) with no fault injected
            # is refused again as long as the operator sends it: met in the settle and the
            # round after it (or two rounds in a row), the operator can never go quiet, and
            # the rounds left would only cost time (most of what finding and shrinking
            # such a bug took).
            refused = {_refusal(w) for w in writes if w.status in (400, 422)}
            if refused & refused_before:
                again = sorted(refused & refused_before)[0]
                raise HotLoop(
                    f"the operator was still writing {self._horizon():g}s after the faults "
                    f"were removed, sending again a write the server refuses "
                    f"({' '.join(again)}): it never goes quiet"
                )
            refused_before = refused
        raise HotLoop(
            f"the operator was still writing after {max_rounds} rounds of "
            f"{self._horizon():g}s with no fault injected: it never goes quiet"
        )

    def _operator_writes(self, since: int) -> list[WriteRecord]:
        return [
            w
            for w in self.writes(since)
            if w.actor == "operator" and w.resource != "events"
        ]

    async def resync_writes(self) -> list[WriteRecord]:
        """Sync every parent once more (a full resync) and return the operator's writes."""
        operator = self.operator
        if operator is None:
            raise UsageError("the operator is not running")
        await self.settle()
        mark = len(self.server.requests)
        self.trace.quiet_since = mark
        operator.resync_all()
        await self.settle()
        return self._operator_writes(mark)

    # -- steps -------------------------------------------------------------------------

    def begin(self, index: int, description: str) -> None:
        """Mark the start of step ``index`` in the trace."""
        self._step = index
        self._writing_plans.clear()
        self.trace.steps.append(
            StepRecord(index, description, round(self.loop.time(), 6), len(self.server.requests))
        )

    def _outcome(self, outcome: str, **changes: Any) -> None:
        last = self.trace.steps[-1]
        self.trace.steps[-1] = attrs.evolve(last, outcome=outcome, **changes)

    async def apply(self, index: int, step: sc.Step) -> None:
        """Run one scenario step (its effects on the operator are not waited for)."""
        self.begin(index, step.describe())
        try:
            await self._apply(step)
        except ApiError as exc:
            self._outcome(_describe_error(exc))

    def _parent_in(self, version: str | None) -> K8sType:
        """The parent type in ``version`` (a declared version of a versioned parent)."""
        parent = self.config.parent
        if version is None or version == parent.version:
            return parent
        versions = self.definition.version_set
        if versions is None or version not in versions.names:
            declared = list(versions.names) if versions is not None else [parent.version]
            raise sc.ScenarioError(
                f"{parent.kind} has no version {version!r} (declared: {declared})")
        return attrs.evolve(parent, api_version=f"{parent.group}/{version}")

    async def _apply(self, step: sc.Step) -> None:
        parent = self.config.parent
        if isinstance(step, sc.CreateParent):
            written = self._parent_in(step.version)
            obj = {
                "apiVersion": written.api_version,
                "kind": parent.kind,
                "metadata": {**step.metadata, "name": step.name,
                             **self._ns_field(parent, step.namespace)},
                "spec": step.spec,
            }
            created = await self.client.create(written, obj)
            self._outcome("ok", parent_uid=uid_of(created))
        elif isinstance(step, sc.PatchParent):
            ns = self._ns(parent, step.namespace)
            await self.client.patch(self._parent_in(step.version), step.name, step.patch,
                                    namespace=ns)
        elif isinstance(step, sc.DeleteParent):
            await self._delete_parent(step)
        elif isinstance(step, sc.EditChild):
            type_ = self.resolve(step.type_key)
            ns = self._ns(type_, step.namespace)
            await self.client.patch(type_, step.name, step.patch, namespace=ns)
        elif isinstance(step, sc.DeleteChild):
            await self._delete_child(step)
        elif isinstance(step, sc.CreateForeign):
            await self._create_foreign(step)
        elif isinstance(step, sc.InjectFault):
            fault = sc.fault_for(step.fault, self.types)
            if fault is None:
                self.server.truncate_event_log()
            else:
                self.server.faults.add(fault)
        elif isinstance(step, sc.Advance):
            await self.guard(asyncio.sleep(step.seconds))
        elif isinstance(step, sc.RestartOperator):
            await self.restart()
        elif isinstance(step, sc.Settle):
            await self.settle()
        elif isinstance(step, sc.SetSourceItems):
            self._source(step.source).set_items(step.items)
        elif isinstance(step, sc.SourceFault):
            self._source(step.source).inject(step.fault, step.count)  # type: ignore[arg-type]
        else:  # pragma: no cover - Scenario validates its steps
            raise WrongArgumentType(f"not a scenario step: {step!r}")

    def _source(self, name: str) -> ScriptedSource:
        found = self.sources.get(name)
        if found is None:
            known = ", ".join(self.sources) or "none"
            raise sc.ScenarioError(f"the operator declares no source {name!r} "
                                   f"(its sources: {known})", step=self._step)
        return found

    def resolve(self, key: str) -> K8sType:
        return sc.resolve_type(key, self.types)

    def _ns(self, type_: K8sType, namespace: str | None) -> str | None:
        return (namespace or "default") if type_.namespaced else None

    def _ns_field(self, type_: K8sType, namespace: str | None) -> dict[str, str]:
        ns = self._ns(type_, namespace)
        return {"namespace": ns} if ns else {}

    def _stored(self, type_: K8sType, name: str, namespace: str | None) -> RawObject | None:
        return self.server.get_object(type_.api_version, type_.plural, name, namespace)

    async def _delete_parent(self, step: sc.DeleteParent) -> None:
        parent = self.config.parent
        ns = self._ns(parent, step.namespace)
        before = self._stored(parent, step.name, ns)
        await self.client.delete(parent, step.name, ns)
        # a parent its filters no longer select is released, not finalized
        had = (before is not None and self.config.finalizer in finalizers_of(before)
               and self._selected(before))
        self._outcome(
            "ok", parent_uid=uid_of(before) if before else None, parent_had_finalizer=had
        )

    async def _delete_child(self, step: sc.DeleteChild) -> None:
        type_ = self.resolve(step.type_key)
        ns = self._ns(type_, step.namespace)
        before = self._stored(type_, step.name, ns)
        index = len(self.server.requests)
        await self.client.delete(type_, step.name, ns)
        uid = uid_of(before) if before else None
        for watched in self._watched:
            if watched.record.uid == uid and watched.record.until is None:
                watched.record = attrs.evolve(watched.record, until=index)

    async def _create_foreign(self, step: sc.CreateForeign) -> None:
        obj = dict(step.obj)
        type_ = self.resolve(f"{obj['apiVersion']}/{obj['kind']}")
        meta = dict(obj["metadata"])
        if type_.namespaced:
            meta.setdefault("namespace", "default")
        obj["metadata"] = meta
        index = len(self.server.requests)
        created = await self.client.create(type_, obj)
        self._watch_foreign(type_, created, since=index, origin=f"step {self._step + 1}")

    def _watch_foreign(self, type_: K8sType, obj: RawObject, *, since: int, origin: str) -> None:
        meta = obj.get("metadata") or {}
        record = ForeignObject(
            resource=type_.plural,
            namespace=meta.get("namespace") or None,
            name=meta.get("name") or "",
            uid=meta.get("uid") or "",
            since=since,
            origin=origin,
        )
        self._watched.append(_Watched(type_, record))

    # -- results -----------------------------------------------------------------------

    def writes(self, since: int = 0) -> list[WriteRecord]:
        """Write requests from the fake's log, from index ``since`` on."""
        steps = self.trace.steps
        out: list[WriteRecord] = []
        step_index = -1
        starts = [s.request_index for s in steps]
        cursor = 0
        for index, record in enumerate(self.server.requests[since:], start=since):
            while cursor < len(starts) and starts[cursor] <= index:
                step_index = steps[cursor].index
                cursor += 1
            if record.verb not in WRITE_VERBS:
                continue
            actor = {OPERATOR_USER: "operator", SCENARIO_USER: "user"}.get(
                record.user, record.user
            )
            out.append(
                WriteRecord(
                    step=step_index,
                    time=_virtual_seconds(record.time),
                    request_index=index,
                    actor=actor,
                    method=record.method,
                    verb=record.verb,
                    resource=record.resource,
                    namespace=record.namespace,
                    name=record.name,
                    subresource=record.subresource,
                    status=record.status,
                )
            )
        return out

    def state(self) -> ClusterState:
        """The operator's parents and the objects of its child types, now."""
        return ClusterState.capture(self.server, self.config, round(self.loop.time(), 6),
                                    sources={name: s.items for name, s in self.sources.items()})

    def finish_trace(self) -> Trace:
        """Fill in what is read at the end: the writes, the foreign objects, the state."""
        trace = self.trace
        trace.writes = self.writes()
        trace.foreign = [w.record for w in self._watched]
        trace.syncs = self.handler.total
        trace.final = self.state()
        return trace


def _refusal(write: WriteRecord) -> tuple[str, ...]:
    """What identifies a refused write across rounds: verb, target and status code."""
    return (write.verb, write.resource, write.target, str(write.status))

