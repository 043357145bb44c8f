"""Runs a ``Plan`` through an ``ApiClient``: the only place where kubeplan writes.

Each action becomes one request, in the plan's order. A failed action does not stop
the others (a broken Service must not keep a Deployment from being updated); failures
are collected, reported on the parent as a ``Synced=False`` condition and a Warning
Event, and the runtime retries the parent with backoff. No write is ever repeated here:
the next sync re-plans from fresh state.

How each action is written, and why:

* ``Create``: a POST with the operator's field manager. A POST is atomic: it fails with
  409 AlreadyExists if any object holds the name, so a same-named object that is not
  ours is never merged into or taken over (a GET first, then an apply, would leave a
  window for exactly that, and costs a request per child). Only on 409 is the object
  read, to tell ours (the cache was behind: requeue) from foreign (a name clash,
  reported and left alone).
* ``Replace``: server-side apply with the operator's field manager and ``force=true``,
  carrying the observed resourceVersion as a precondition: fields others set survive,
  fields the user dropped disappear, and a change made since the snapshot gives 409.
  A POST records its fields under an ``Update`` entry of our manager, and an apply only
  removes fields that the same manager *applied*; so the first replace of a child we
  created folds that entry into our ``Apply`` entry (a merge patch of
  ``metadata.managedFields`` conditional on the resourceVersion, as kubectl's
  client-side to server-side apply upgrade does) and, if the fold gave the apply fields
  it did not send, applies again so they are pruned. From then on a replace is one
  request.
* ``Recreate`` / ``Delete``: DELETE with a uid precondition (never delete a successor
  that reuses the name); a recreated child is created by a later sync, once the delete
  has been observed.
* ``UpdateStatus``: a JSON merge patch ``{"status": patch}`` to ``/status``. The planner
  computes the patch with explicit nulls for removed fields, so removals are written
  without sending (and racing on) the whole object; ``metadata.resourceVersion`` in the
  patch makes it conditional on the snapshot the status was computed from.
* ``AddFinalizer`` / ``RemoveFinalizer``: a merge patch of ``metadata.finalizers`` with a
  resourceVersion precondition, so another controller's concurrent finalizer edit is
  never lost (a merge patch replaces the whole list).

Any 409 makes ``ExecutionResult.conflict`` true: the runtime syncs the parent again at
once, from the state the watch brings in.

Concurrency: a run of consecutive child actions (create, replace, recreate, delete) is
sent concurrently: children are independent objects and nothing orders their writes on
the server, so a parent with three children to create waits for one round trip of GETs
and one of applies instead of six in a row. Each child action records its effects
apart and they are merged back in plan order, so results, failure messages and Events
read the same whatever order the answers came in. Parent actions (status, finalizers)
are barriers: they run alone, in plan order, after the children before them.

Events: with ``background_events`` (the runtime's choice) the Events of a run are
posted in the background (``Executor.drain_events`` waits for them): an Event is best
effort and must not hold a worker for another round trip. Posts for the same
(parent, type, reason, message) are chained, so the recorder's aggregation into one
Event's count holds however fast they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import AlreadyExists, ApiError, Conflict, NotFound
from kubeplan.adapters.events import EventRecorder
from kubeplan.adapters.logs import log_context
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.tracing import span
from kubeplan.core import objects
from kubeplan.core import plan as plans
from kubeplan.core.compare import json_equal, merge_patch
from kubeplan.core.config import OperatorConfig
from kubeplan.core.errors import KubeplanError, WrongArgumentType
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.status import CONDITION_SYNCED, REASON_CHILD_CONFLICT, with_condition
from kubeplan.core.types import K8sType

log = logging.getLogger(__name__)

#: receives every object a write returned (the runtime feeds it to the watch caches)
WriteObserver = Callable[[K8sType, RawObject], None]
#: a write is about to be sent for this parent: False aborts it (leadership or the shard
#: was lost since the sync started; another replica may be syncing the parent now)
WriteGate = Callable[[str | None], bool]


class WriteAborted(KubeplanError):
    """The write gate closed during a plan: the rest of the plan is not sent."""


@attrs.frozen
class ActionFailure:
    """One action that failed, with a message a user can act on."""

    action: Any
    error: BaseException
    reason: str
    message: str


@attrs.frozen
class ExecutionResult:
    """What running a plan did.

    ``memo_updates`` are this run's changes to the apply memo, as functions: the runtime
    applies them to its *current* memo (other parents' syncs ran meanwhile, so returning
    a whole memo derived from the one this sync started with would lose their writes).
    ``conflict`` asks for an immediate requeue; ``wrote_children`` says a child was
    written; ``parent`` is the newest parent this run saw (after status and finalizer
    writes), None if it is gone. ``foreign`` are objects found holding a desired child's
    name without being ours: the runtime shows them to the planner on the next syncs, so
    the clash is reported from planning (one stable status) instead of by a failed create.
    """

    memo_updates: tuple[Callable[[ApplyMemo], ApplyMemo], ...] = ()
    failures: tuple[ActionFailure, ...] = ()
    conflict: bool = False
    wrote_children: bool = False
    parent: RawObject | None = None
    foreign: tuple[tuple[K8sType, RawObject], ...] = ()
    #: the write gate closed mid-plan (leadership or shard lost): nothing more was sent
    aborted: bool = False
    #: a write to the parent answered 404 for the parent itself: it no longer exists,
    #: whatever the cache says (a deletion missed behind a stalled watch)
    parent_gone: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def apply_to(self, memo: ApplyMemo) -> ApplyMemo:
        for update in self.memo_updates:
            memo = update(memo)
        return memo


def _names(exc: NotFound, ref: Any, parent_type: K8sType) -> bool:
    """The 404 is about the parent object itself (not a missing subresource or type)."""
    details = (exc.body or {}).get("details") or {}
    return bool(ref.type == parent_type and details.get("name") == ref.name)


def _describe(ref: Any) -> str:
    where = f"{ref.namespace}/" if getattr(ref, "namespace", None) else ""
    return f"{ref.type.kind} {where}{ref.name}"


def _with_rv(obj: RawObject, resource_version: str | None, uid: str | None = None,
             ) -> RawObject:
    """``obj`` with the preconditions of a write to an object that exists: its
    resourceVersion, and its uid, with which an apply to an object deleted meanwhile is
    refused (409) instead of creating a new one."""
    if not resource_version and not uid:
        return obj
    meta = dict(obj.get("metadata") or {})
    if resource_version:
        meta["resourceVersion"] = resource_version
    if uid:
        meta["uid"] = uid
    return {**obj, "metadata": meta}


class Executor:
    """Executes plans for one operator."""

    def __init__(
        self,
        client: ApiClient,
        config: OperatorConfig,
        *,
        recorder: EventRecorder | None = None,
        observe: WriteObserver | None = None,
        observe_deleted: WriteObserver | None = None,
        observe_read: WriteObserver | None = None,
        may_write: WriteGate | None = None,
        metrics: OperatorMetrics | None = None,
        clock: Clock | None = None,
        background_events: bool = False,
    ) -> None:
        self.client = client
        self.config = config
        self.recorder = recorder
        self.background_events = background_events
        self._pending_events: dict[tuple[str, str, str, str], asyncio.Task[None]] = {}
        self.observe = observe or (lambda _type, _obj: None)
        self.observe_deleted = observe_deleted or (lambda _type, _obj: None)
        #: an object read (not written) on the way, for the caches: ``observe`` by default
        self.observe_read = observe_read or self.observe
        self.may_write = may_write
        self.metrics = metrics
        #: condition timestamps when ``execute`` is not given the sync's instant
        self.clock: Clock = clock or SystemClock()

    async def execute(self, plan: plans.Plan, parent: RawObject, *,
                      now: datetime | None = None,
                      report_on_status: bool = True) -> ExecutionResult:
        """Run ``plan`` for ``parent``; ``now`` is the sync's one reading of the clock
        (failure conditions are stamped with it), else the clock is read here.
        ``report_on_status=False`` (and a config that writes no status: decorator mode)
        reports failed actions with a Warning Event only, never in the parent's status."""
        run = _Run(self, parent, now if now is not None else self.clock.now())
        run.report_on_status = report_on_status and self.config.writes_status
        batch: list[Any] = []
        try:
            for action in plan.actions:
                if isinstance(action, _CHILD_ACTIONS):
                    batch.append(action)
                    continue
                await run.children(batch)
                batch = []
                await run.action(action)
            await run.children(batch)
            await run.report(plan)
        except WriteAborted:
            # not a failure of the parent: whoever may sync it now re-plans from scratch
            log.info("%s: write gate closed; the rest of the plan is not sent",
                     objects.name_of(parent))
            run.aborted = True
        return ExecutionResult(
            memo_updates=tuple(run.memo_updates), failures=tuple(run.failures),
            conflict=run.conflict, wrote_children=run.wrote_children, parent=run.parent,
            foreign=tuple(run.foreign), aborted=run.aborted, parent_gone=run.parent_gone,
        )

    def check_gate(self, parent_uid: str | None) -> None:
        """Raise ``WriteAborted`` unless this replica may still write for the parent
        ``parent_uid`` (checked right before each request, as docs/sharding.md requires)."""
        if self.may_write is not None and not self.may_write(parent_uid):
            raise WriteAborted()


    def post_event_soon(self, parent: RawObject, type_: Any, reason: str,
                        message: str) -> None:
        """``recorder.post`` in the background; one for the same key waits for the last."""
        recorder = self.recorder
        if recorder is None or not recorder.enabled:
            return
        key = (objects.uid_of(parent) or "", type_, reason, message)
        previous = self._pending_events.get(key)

        async def post() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await recorder.post(parent, type_, reason, message)

        task = asyncio.get_running_loop().create_task(post())
        self._pending_events[key] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._pending_events.get(key) is t:
                del self._pending_events[key]
            if not t.cancelled() and t.exception() is not None:
                log.warning("posting Event %s failed: %r", reason, t.exception())

        task.add_done_callback(done)

    async def drain_events(self, timeout: float | None = None) -> None:
        """Wait for the Events posted in the background (cancelled after ``timeout``)."""
        try:
            async with asyncio.timeout(timeout):
                while self._pending_events:
                    await asyncio.gather(*list(self._pending_events.values()),
                                         return_exceptions=True)
        except TimeoutError:
            for task in list(self._pending_events.values()):
                task.cancel()
            await asyncio.gather(*list(self._pending_events.values()), return_exceptions=True)


_CHILD_ACTIONS = (plans.Create, plans.Replace, plans.Recreate, plans.Delete)


class _Run:
    """The mutable state of one plan execution (kept off the long-lived Executor)."""

    def __init__(self, executor: Executor, parent: RawObject, now: datetime) -> None:
        self.x = executor
        self.now = now
        self.parent: RawObject | None = parent
        self.parent_uid = objects.uid_of(parent)
        self.memo_updates: list[Callable[[ApplyMemo], ApplyMemo]] = []
        self.failures: list[ActionFailure] = []
        self.conflict = False
        self.wrote_children = False
        self.foreign: list[tuple[K8sType, RawObject]] = []
        self.wrote_parent = False
        self.aborted = False
        self.parent_gone = False
        self.done: dict[str, list[str]] = {}  # event reason -> children described
        self.report_on_status = executor.config.writes_status

    # -- dispatch -------------------------------------------------------------------------

    async def children(self, actions: list[Any]) -> None:
        """Child actions at once, each recording into its own ``_Run``; merged in order."""
        if len(actions) <= 1:
            for action in actions:
                await self.action(action)
            return
        parts = [_Run(self.x, self.parent or {}, self.now) for _ in actions]
        results = await asyncio.gather(
            *(part.action(a) for part, a in zip(parts, actions, strict=True)),
            return_exceptions=True,
        )
        for part in parts:
            self.memo_updates.extend(part.memo_updates)
            self.failures.extend(part.failures)
            self.foreign.extend(part.foreign)
            self.conflict |= part.conflict
            self.wrote_children |= part.wrote_children
            for reason, described in part.done.items():
                self.done.setdefault(reason, []).extend(described)
        for outcome in results:  # merged first: what was written before stays recorded
            if isinstance(outcome, BaseException):
                raise outcome

    async def action(self, action: Any) -> None:
        name = type(action).__name__
        handler = getattr(self, f"_{name.lower()}", None)
        if handler is None:
            raise WrongArgumentType(f"the executor does not know the plan action {name}")
        self.x.check_gate(self.parent_uid)
        reason = getattr(action, "reason", "") or None
        child = str(action.ref) if action.on_child else None
        with log_context(action=action.verb, child=child, reason=reason), \
                span("kubeplan.write", action=action.verb, child=child or str(action.ref),
                     reason=reason) as current:
            result = await self._send(action, handler, name)
            current.set_attribute("kubeplan.result", result)
            log.info("%s %s%s (%s)", action.verb, action.ref, f": {reason}" if reason else "",
                     result)
        if self.x.metrics is not None:
            metrics = self.x.metrics
            metrics.series(metrics.actions, metrics.operator, name, result).inc()

    async def _send(self, action: Any, handler: Callable[[Any], Any], name: str) -> str:
        """One action's requests; its result for the metrics (ok, conflict, error)."""
        try:
            await handler(action)
            result = "ok"
        except Conflict as exc:
            log.info("%s: conflict, will sync again: %s", _describe(action.ref), exc.message)
            self.conflict = True
            result = "conflict"
        except ApiError as exc:
            if isinstance(exc, NotFound) and _names(exc, action.ref, self.x.config.parent):
                self.parent_gone = True
            self.fail(action, exc, f"{name}Failed",
                      f"{name.lower()} of {_describe(action.ref)} failed: {exc}")
            uid = getattr(action.ref, "uid", None)
            if uid and action.ref.type != self.x.config.parent:
                # the write may or may not have happened: its memo entry is no longer true
                self.memo_updates.append(lambda memo: memo.forget(uid))
            result = "error"
        return result

    def fail(self, action: Any, error: BaseException, reason: str, message: str) -> None:
        log.warning("%s", message)
        self.failures.append(ActionFailure(action, error, reason, message))

    def _child_written(self, type_: K8sType, sent: RawObject, returned: RawObject) -> None:
        self.memo_updates.append(lambda memo: memo.record_write(sent, returned))
        self.x.observe(type_, returned)
        self.wrote_children = True

    def _parent_written(self, returned: RawObject) -> None:
        if returned.get("kind") == "Status":  # a delete completed: the parent is gone
            self.parent = None
            return
        self.parent = returned
        self.x.observe(self.x.config.parent, returned)

    # -- children -------------------------------------------------------------------------

    async def _create(self, action: plans.Create) -> None:
        ref = action.ref
        try:
            returned = await self.x.client.create(
                ref.type, action.obj, namespace=ref.namespace,
                field_manager=self.x.config.field_manager,
            )
        except AlreadyExists:
            try:
                existing = await self.x.client.get(ref.type, ref.name, ref.namespace)
            except NotFound:
                self.conflict = True  # deleted again meanwhile: the next sync creates it
                return
            self._exists(action, existing)
            return
        self._child_written(ref.type, action.obj, returned)
        self.done.setdefault("Created", []).append(_describe(ref))

    def _exists(self, action: plans.Create, existing: RawObject) -> None:
        ref = action.ref
        if objects.is_owned_by(existing, self.parent_uid):
            self.x.observe_read(ref.type, existing)
            self.conflict = True  # ours already; the cache was behind
            return
        self.foreign.append((ref.type, existing))
        owner = objects.controller_ref_of(existing)
        held_by = (
            f"it is controlled by {owner.get('kind')} {owner.get('name')}" if owner
            else "it has no controller"
        )
        self.fail(
            action, AlreadyExists(409, "AlreadyExists", held_by), REASON_CHILD_CONFLICT,
            f"cannot create {_describe(ref)}: an object with that name already exists and "
            f"{held_by}; kubeplan leaves it alone. Rename the child or delete that object.",
        )

    async def _replace(self, action: plans.Replace) -> None:
        ref = action.ref
        # the child as observed, by uid: if the cache is behind and it is gone (a parent
        # deleted meanwhile has taken its children with it), the apply must not create it
        sent = _with_rv(action.obj, action.resource_version, getattr(ref, "uid", None))
        manager = self.x.config.field_manager
        try:
            returned = await self.x.client.apply(ref.type, sent, field_manager=manager, force=True)
            folded = fold_update_entry(returned, manager)
            if folded is not None:
                entries, reapply = folded
                returned = await self.x.client.patch(
                    ref.type, ref.name,
                    {"metadata": {"managedFields": entries,
                                  "resourceVersion": objects.resource_version_of(returned)}},
                    namespace=ref.namespace, patch_type="merge",
                )
                if reapply:
                    returned = await self.x.client.apply(
                        ref.type, _with_rv(action.obj, objects.resource_version_of(returned),
                                           objects.uid_of(returned)),
                        field_manager=manager, force=True,
                    )
        except NotFound:
            self.conflict = True  # deleted meanwhile: a later sync creates it
            return
        self._child_written(ref.type, action.obj, returned)
        self.done.setdefault("Updated", []).append(_describe(ref))

    async def _recreate(self, action: plans.Recreate) -> None:
        await self._delete_child(action, "Recreating")

    async def _delete(self, action: plans.Delete) -> None:
        await self._delete_child(action, "Deleted")

    async def _delete_child(self, action: Any, reason: str) -> None:
        ref = action.ref
        returned: RawObject | None = None
        with contextlib.suppress(NotFound):  # already gone: the goal of a delete
            returned = await self.x.client.delete(
                ref.type, ref.name, ref.namespace, uid=ref.uid, propagation_policy="Background"
            )
        if returned is not None and objects.is_terminating(returned) and (
            objects.finalizers_of(returned) or _namespace_finalizers(returned)
        ):
            self.x.observe(ref.type, returned)  # still there until its finalizers are done
        else:
            # gone: drop it from the cache now, or a sync before the watch's DELETED event
            # would plan the same delete again
            meta: dict[str, Any] = {"name": ref.name, "uid": ref.uid}
            if ref.namespace:
                meta["namespace"] = ref.namespace
            self.x.observe_deleted(ref.type, {"metadata": meta})
        uid = ref.uid
        if uid:
            self.memo_updates.append(lambda memo: memo.forget(uid))
        self.wrote_children = True
        self.done.setdefault(reason, []).append(_describe(ref))

    # -- the parent -----------------------------------------------------------------------

    def _parent_rv(self, planned: str | None) -> str | None:
        """The precondition for a parent write: our own previous write's resourceVersion
        if this run wrote the parent already, else the snapshot's."""
        if self.parent is not None and self.wrote_parent:
            return objects.resource_version_of(self.parent)
        return planned

    async def _updatestatus(self, action: plans.UpdateStatus) -> None:
        ref = action.ref
        patch = action.patch
        if self.failures:
            # children failed before this status write: write the failure in the same
            # request, never "Synced=True" first and "Synced=False" after it. The status
            # is then the same on every retry, so a retry writes nothing and the parent's
            # own watch events cannot keep re-triggering syncs.
            stored = dict((self.parent or {}).get("status") or {})
            status = self._failure_status(dict(action.status), stored)
            if json_equal(status, stored):
                return
            patch = merge_patch(stored, status)
        body: dict[str, Any] = {"status": patch}
        rv = self._parent_rv(action.resource_version)
        if rv:
            body["metadata"] = {"resourceVersion": rv}
        returned = await self.x.client.patch(
            ref.type, ref.name, body, namespace=ref.namespace, patch_type="merge",
            subresource="status",
        )
        self._parent_written(returned)
        self.wrote_parent = True

    async def _addfinalizer(self, action: plans.AddFinalizer) -> None:
        await self._finalizers(action, add=True)

    async def _removefinalizer(self, action: plans.RemoveFinalizer) -> None:
        await self._finalizers(action, add=False)

    async def _finalizers(self, action: Any, *, add: bool) -> None:
        ref = action.ref
        current = list(((self.parent or {}).get("metadata") or {}).get("finalizers") or [])
        if (action.finalizer in current) == add:
            return
        wanted = list(action.finalizers) if action.finalizers else (
            [*current, action.finalizer] if add
            else [f for f in current if f != action.finalizer]
        )
        meta: dict[str, Any] = {"finalizers": wanted}
        rv = self._parent_rv(action.resource_version or (
            objects.resource_version_of(self.parent) if self.parent is not None else None))
        if rv:
            meta["resourceVersion"] = rv
        try:
            returned = await self.x.client.patch(
                ref.type, ref.name, {"metadata": meta}, namespace=ref.namespace,
                patch_type="merge",
            )
        except NotFound:
            if add:
                raise
            self.parent = None  # removing our finalizer let the deletion complete
            return
        self._parent_written(returned)
        self.wrote_parent = True

    # -- reporting ------------------------------------------------------------------------

    async def report(self, plan: plans.Plan) -> None:
        """Post Events for what was done, and report failures on the parent."""
        recorder = self.x.recorder
        parent = self.parent
        if recorder is not None and parent is not None:
            for reason, described in self.done.items():
                await self._event(parent, "Normal", reason, _summary(reason, described))
            if plan.error:
                await self._event(parent, "Warning", plan.error_reason or "SyncFailed",
                                  str(plan.error))
            elif plan.problems:
                await self._event(parent, "Warning", REASON_CHILD_CONFLICT,
                                  "; ".join(plan.problems))
        if self.failures:
            await self._report_failures()

    async def _event(self, parent: RawObject, type_: Any, reason: str, message: str) -> None:
        recorder = self.x.recorder
        assert recorder is not None
        if self.x.background_events:
            self.x.post_event_soon(parent, type_, reason, message)
        else:
            await recorder.post(parent, type_, reason, message)

    def _failure_reason(self) -> tuple[str, str]:
        clash = any(f.reason == REASON_CHILD_CONFLICT for f in self.failures)
        reason = REASON_CHILD_CONFLICT if clash else "ActionsFailed"
        return reason, "; ".join(f.message for f in self.failures)

    def _failure_status(self, status: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
        """``status`` with ``Synced=False`` saying which actions failed (the transition
        time of a stored ``Synced=False`` is kept, so the same failure is the same status)."""
        reason, message = self._failure_reason()
        return with_condition(
            status, CONDITION_SYNCED, "False", reason, message, self.now, stored,
            observed_generation=objects.generation_of(self.parent or {}),
        )

    async def _report_failures(self) -> None:
        parent = self.parent
        if parent is None:
            return
        reason, message = self._failure_reason()
        if self.x.recorder is not None:
            await self._event(parent, "Warning", reason, message)
        if not self.report_on_status:
            return
        previous = dict(parent.get("status") or {})
        status = self._failure_status(previous, previous)
        conditions = (status or {}).get("conditions")
        if conditions == previous.get("conditions"):
            return
        self.x.check_gate(self.parent_uid)
        try:
            returned = await self.x.client.patch(
                self.x.config.parent, objects.name_of(parent) or "",
                {"status": {"conditions": conditions}},
                namespace=objects.namespace_of(parent), patch_type="merge", subresource="status",
            )
            self._parent_written(returned)
        except ApiError as exc:
            log.warning("could not report failures on %s: %s", objects.name_of(parent), exc)


def fold_update_entry(
    obj: RawObject, manager: str
) -> tuple[list[dict[str, Any]], bool] | None:
    """``obj``'s managedFields with ``manager``'s ``Update`` entries (left by a POST or
    another non-apply write) folded into its ``Apply`` entry, and whether that gave the
    ``Apply`` entry fields it did not have; None if there is nothing to fold."""
    entries = list((obj.get("metadata") or {}).get("managedFields") or ())

    def ours(entry: Any, operation: str) -> bool:
        return (isinstance(entry, dict) and entry.get("manager") == manager
                and entry.get("operation") == operation and not entry.get("subresource"))

    updates = [e for e in entries if ours(e, "Update")]
    if not updates:
        return None
    applied = next((e for e in entries if ours(e, "Apply")), None)
    before = (applied or {}).get("fieldsV1") or {}
    fields: dict[str, Any] = before
    for entry in updates:
        fields = _union_fields(fields, entry.get("fieldsV1") or {})
    folded = {**(applied or {"manager": manager, "operation": "Apply",
                             "apiVersion": updates[0].get("apiVersion"),
                             "fieldsType": "FieldsV1"}),
              "fieldsV1": fields}
    kept = [e for e in entries if e is not applied and not any(e is u for u in updates)]
    return [*kept, folded], not json_equal(fields, before)


def _union_fields(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The union of two ``fieldsV1`` tries (a field set each)."""
    out = dict(a)
    for key, value in b.items():
        mine = out.get(key)
        out[key] = _union_fields(mine, value) if isinstance(mine, dict) and isinstance(
            value, dict) else (value if mine is None else mine)
    return out


def _namespace_finalizers(obj: RawObject) -> list[str]:
    """A Namespace's own finalizers (``spec.finalizers``, ``kubernetes`` as a rule): a
    deleted Namespace answers its DELETE Terminating and exists until the namespace
    controller has emptied it, though ``metadata.finalizers`` is empty. Taking it for gone
    let a finalize pass that waits for the Namespace end before it was gone."""
    if obj.get("apiVersion") != "v1" or obj.get("kind") != "Namespace":
        return []
    return list((obj.get("spec") or {}).get("finalizers") or ())


def _summary(reason: str, described: list[str]) -> str:
    shown = ", ".join(described[:10])
    more = f" and {len(described) - 10} more" if len(described) > 10 else ""
    return f"{reason.lower()} {shown}{more}"
