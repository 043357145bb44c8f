"""The planner: a pure function from (config, snapshot, handler result, memo, now) to a Plan.

It reads no clock, does no I/O and keeps no state: everything it depends on is an argument, so
the same inputs always give the same plan, whatever order the children were observed in.

Guarantees
    - Only observed children whose *controller ownerReference* has the parent's uid are ever
      replaced, recreated or deleted, and every such action carries the child's uid as a
      precondition. A desired child whose name is taken by an object the parent does not own
      gets no action, a ``problems`` entry and ``Synced=False`` (reason ``ChildConflict``).
    - A handler that raised ``PermanentError`` or ``RetryAfter`` gets the same plan as any
      failure, with the error's reason and message on ``Synced``, and ``plan.permanent``
      or ``plan.retry_in`` set for the runtime (the planner reads no clock for it).
    - If the handler raised or returned something invalid, the plan holds no child action at all
      (failure never deletes): only the parent's ``Synced`` condition says what went wrong.
      (Finalizer bookkeeping, which depends on the handler and not on its answer, still
      happens: a finalizer is added for a handler with ``finalize`` even if sync fails.)
    - A child untouched since our own write (same desired hash; same resourceVersion, or the
      same values at the paths we set) is left alone, so server-side normalisation cannot make
      a hot loop.

Decisions, per desired child (identity: type, namespace, name)
    - absent: create (stamped with the controller ownerReference, the operator and parent-uid
      labels and the desired-hash annotation);
    - terminating: wait (created again once it is gone);
    - ``on_delete``: never touched;
    - otherwise compared (apply memo, then subset comparison of the stamped object, whose
      desired-hash annotation catches fields the user removed) and, if different, replaced
      (``replace``) or deleted now to be created on a later pass (``recreate``).
    Owned children that are no longer desired are deleted, unless already terminating.

Rolling updates (a child type with ``ChildConfig.rolling``; see ``kubeplan.core.rollout``)
    Creates are never held back. Changed children start updating in name order while fewer
    than ``max_unavailable`` are in flight (missing, being deleted, or up to date with a
    check that has not passed); the others get a ``Wait`` in ``Plan.waiting``. A failed or
    timed-out check halts the type. Every write of such a child carries
    ``kubeplan.dev/updated-at``; the status gets ``rollout`` (per kind) and the ``RolledOut``
    condition, and ``resync_after`` is shortened to the next check timeout.

Finalizers
    Added (first) only when the handler has ``finalize`` and the parent is not being deleted;
    removed when the handler has none. While the parent is being deleted, ``finalize``'s
    children are the desired set (ordered teardown) and ``finalized=True`` removes the finalizer
    (last). A parent being deleted without our finalizer gets an empty plan: Kubernetes garbage
    collection removes its children.

Order
    AddFinalizer, deletes, creates/replaces/recreates (Namespaces first, then other
    cluster-scoped children, then the others in the order the handler returned them),
    UpdateStatus (only when the status is not deep-equal to the stored one; never in decorator
    mode unless the decorator asks for it), RemoveFinalizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from kubeplan.core.compare import applied_digest, differences, json_equal, merge_patch
from kubeplan.core.config import (
    ANNOTATION_DESIRED_HASH,
    LABEL_OPERATOR,
    LABEL_PARENT_UID,
    OperatorConfig,
    UpdateStrategy,
)
from kubeplan.core.describe import describe_differences
from kubeplan.core.errors import HandlerError, InvalidResponse, PermanentError, RetryAfter
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import (
    ObjectRef,
    RawObject,
    controller_ref_of,
    finalizers_of,
    generation_of,
    is_owned_by,
    is_terminating,
    name_of,
    namespace_of,
    ref_of,
    resource_version_of,
    uid_of,
)
from kubeplan.core.plan import (
    Action,
    AddFinalizer,
    Create,
    Delete,
    Plan,
    Recreate,
    RemoveFinalizer,
    Replace,
    UpdateStatus,
    Wait,
)
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.rollout import (
    CONDITION_ROLLED_OUT,
    Rolling,
    RolloutChild,
    TypeRollout,
    condition_of,
    gate,
    with_updated_at,
)
from kubeplan.core.sources import SourceError
from kubeplan.core.status import (
    CONDITION_SYNCED,
    REASON_CHILD_CONFLICT,
    REASON_INVALID_RESPONSE,
    REASON_SYNC_FAILED,
    REASON_SYNCED,
    fill_transition_times,
    with_condition,
)
from kubeplan.core.types import K8sType
from kubeplan.core.validate import DesiredChild, check_response

__all__ = ["plan", "stamp"]

Result = SyncResponse | FinalizeResponse | BaseException


def plan(
    config: OperatorConfig,
    request: SyncRequest,
    result: Result | Any,
    *,
    memo: ApplyMemo,
    now: datetime,
    has_finalize: bool,
) -> Plan:
    """Plan what to do for one parent.

    ``result`` is what the handler returned (``SyncResponse``, or ``FinalizeResponse`` when
    ``request.finalizing``) or the exception it raised. ``memo`` holds our previous writes;
    ``now`` stamps condition transitions; ``has_finalize`` says whether the handler has
    ``finalize`` (it decides the finalizer).
    """
    found = _plan(config, request, result, memo=memo, now=now, has_finalize=has_finalize)
    inputs = tuple(f"source {name}: {items.change.describe()}"
                   for name, items in request.sources.items() if items.change)
    return attrs.evolve(found, inputs=inputs) if inputs else found


def _plan(
    config: OperatorConfig,
    request: SyncRequest,
    result: Result | Any,
    *,
    memo: ApplyMemo,
    now: datetime,
    has_finalize: bool,
) -> Plan:
    """``plan`` without the inputs' words."""
    parent = request.parent
    parent_uid = uid_of(parent)
    parent_ref = ObjectRef(
        config.parent,
        name_of(parent) or "",
        namespace_of(parent) if config.parent.namespaced else None,
        parent_uid,
    )
    finalizers = finalizers_of(parent)
    ours = config.finalizer in finalizers
    parent_version = resource_version_of(parent)
    without_ours = tuple(f for f in finalizers if f != config.finalizer)

    def remove_finalizer(reason: str) -> RemoveFinalizer:
        return RemoveFinalizer(
            parent_ref, config.finalizer, reason,
            finalizers=without_ours, resource_version=parent_version,
        )

    head: list[Action] = []
    tail: list[Action] = []
    if is_terminating(parent):
        if not ours:
            return Plan(parent_ref)  # not ours to hold up: garbage collection takes it from here
        if not has_finalize:
            return Plan(parent_ref, (remove_finalizer("the handler has no finalize"),))
    elif has_finalize and not ours:
        head.append(AddFinalizer(
            parent_ref, config.finalizer,
            finalizers=(*finalizers, config.finalizer), resource_version=parent_version,
        ))
    elif ours and not has_finalize:
        tail.append(remove_finalizer("the handler has no finalize"))

    if isinstance(result, SourceError):  # an input is missing: only the condition, no child
        return _failed(config, parent_ref, request, result.reason, result.message, head, tail,
                       now)
    deliberate = result.error if isinstance(result, HandlerError) else result
    if isinstance(deliberate, PermanentError | RetryAfter):
        failed = _failed(config, parent_ref, request, deliberate.reason,
                         deliberate.message or str(deliberate), head, tail, now)
        if isinstance(deliberate, PermanentError):
            return attrs.evolve(failed, permanent=True, error_reason=deliberate.reason)
        return attrs.evolve(failed, retry_in=deliberate.seconds, error_reason=deliberate.reason)
    if isinstance(result, BaseException):
        error = result if isinstance(result, HandlerError) else HandlerError(
            result, parent=request.describe(),
            phase="finalize" if request.finalizing else "sync",
        )
        return _failed(config, parent_ref, request, REASON_SYNC_FAILED, str(error), head, tail,
                       now)
    try:
        checked = check_response(config, request, result)
    except InvalidResponse as exc:
        return _failed(config, parent_ref, request, REASON_INVALID_RESPONSE, str(exc), head,
                       tail, now)

    observed: dict[tuple[str, str, str | None, str], tuple[K8sType, RawObject]] = {}
    for type_, obj in request.children.all():
        meta = obj["metadata"]  # Children made sure every object has a name
        namespace = (meta.get("namespace") or None) if type_.namespaced else None
        observed[(type_.api_version, type_.kind, namespace, meta["name"])] = (type_, obj)
    wanted = {child.slot for child in checked.children}

    deletes: list[Action] = [
        Delete(ref_of(type_, obj))
        for key, (type_, obj) in observed.items()
        if key not in wanted and is_owned_by(obj, parent_uid) and not is_terminating(obj)
    ]

    writes: list[tuple[int, Action]] = []
    problems: list[str] = []
    rolling = _rolling_types(config)
    rolled = _Rolled(rolling, parent_ref.namespace) if rolling else None
    for child in checked.children:
        found = observed.get(child.slot)
        rollout = rolling.get(child.slot[:2]) if rolling else None
        if found is None:
            obj = stamp(config, parent_ref, child.plain, child.hash)
            if rolled is not None and rollout is not None:
                obj = with_updated_at(obj, now)
                rolled.note(child, None)
            writes.append((_rank(child.type), Create(
                ObjectRef(child.type, child.key.name, child.key.namespace), obj, child.hash,
            )))
            continue
        current = found[1]
        if not is_owned_by(current, parent_uid):
            if not is_terminating(current):
                problems.append(_conflict(child, current, request))
            continue
        if is_terminating(current):
            if rolled is not None and rollout is not None:
                rolled.note(child, current, terminating=True)
            continue  # created again once the old copy is gone
        if child.strategy is UpdateStrategy.ON_DELETE:
            continue
        action = _update(config, parent_ref, child, current, child.strategy, memo)
        if rolled is not None and rollout is not None:
            rolled.note(child, current, action=action)
        elif action is not None:
            writes.append((_rank(child.type), action))
    waits: list[Wait] = []
    rollouts: list[TypeRollout] = []
    resync_after = checked.resync_after
    if rolled is not None:
        if isinstance(checked.status, dict) and "rollout" in checked.status:
            return _failed(
                config, parent_ref, request, REASON_INVALID_RESPONSE,
                f"the status of {request.describe()} sets 'rollout', which kubeplan writes "
                "for rolling child types: rename that field", head, tail, now,
            )
        rollouts = rolled.decide(now, writes, waits)
        for summary in rollouts:
            if summary.recheck_after is not None:
                resync_after = (
                    summary.recheck_after if resync_after is None
                    else min(resync_after, summary.recheck_after)
                )
    writes.sort(key=lambda ranked: ranked[0])  # stable: handler order within a rank

    status = (_status_action(parent_ref, request, checked.status, problems, now, rollouts)
              if config.writes_status else [])
    if checked.finalized:
        tail.append(remove_finalizer("finalized"))
    actions = [*head, *deletes, *(action for _, action in writes), *status, *tail]
    return Plan(
        parent_ref,
        tuple(actions),
        resync_after=resync_after,
        finalized=checked.finalized,
        problems=tuple(problems),
        waiting=tuple(waits),
    )


def stamp(
    config: OperatorConfig, parent_ref: ObjectRef, desired: Mapping[str, Any], desired_hash: str
) -> RawObject:
    """The desired object as written: with the parent as controller, our labels and the hash.

    Exactly one controller ownerReference (the parent, ``blockOwnerDeletion`` so that a
    foreground deletion of the parent waits for it); other, non-controller references the
    handler set are kept. Only the top level and ``metadata`` are copied.
    """
    meta = dict(desired["metadata"])
    labels = dict(meta.get("labels") or ())
    labels[LABEL_OPERATOR] = config.name
    labels[LABEL_PARENT_UID] = parent_ref.uid or ""
    annotations = dict(meta.get("annotations") or ())
    annotations[ANNOTATION_DESIRED_HASH] = desired_hash
    controller = {
        "apiVersion": parent_ref.type.api_version,
        "kind": parent_ref.type.kind,
        "name": parent_ref.name,
        "uid": parent_ref.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    others = [
        ref for ref in meta.get("ownerReferences") or ()
        if ref.get("uid") != parent_ref.uid and ref.get("controller") is not True
    ]
    meta["labels"] = labels
    meta["annotations"] = annotations
    meta["ownerReferences"] = [controller, *others]
    stamped = dict(desired)
    stamped["metadata"] = meta
    return stamped


def _rolling_types(config: OperatorConfig) -> dict[tuple[str, str], tuple[K8sType, Rolling]]:
    return {
        (type_.api_version, type_.kind): (type_, child_config.rollout)
        for type_, child_config in config.children.items()
        if child_config.rollout is not None
    }


class _Rolled:
    """The desired children of the rolling types seen in one pass, and their held updates."""

    def __init__(
        self, rolling: dict[tuple[str, str], tuple[K8sType, Rolling]], namespace: str | None
    ) -> None:
        self.rolling = rolling
        self.namespace = namespace
        self.children: dict[tuple[str, str], list[RolloutChild]] = {gvk: [] for gvk in rolling}
        self.held: dict[tuple[tuple[str, str], str], Action] = {}

    def _name(self, child: DesiredChild) -> str:
        namespace = child.key.namespace
        if namespace and namespace != self.namespace:
            return f"{namespace}/{child.key.name}"
        return child.key.name

    def note(
        self,
        child: DesiredChild,
        current: RawObject | None,
        *,
        terminating: bool = False,
        action: Action | None = None,
    ) -> None:
        gvk = (child.slot[0], child.slot[1])
        name = self._name(child)
        self.children[gvk].append(RolloutChild(name, current, terminating, action is not None))
        if action is not None:
            self.held[(gvk, name)] = action

    def decide(
        self, now: datetime, writes: list[tuple[int, Action]], waits: list[Wait]
    ) -> list[TypeRollout]:
        kinds = [type_.kind for type_, _ in self.rolling.values()]
        out = []
        for gvk, (type_, rolling) in self.rolling.items():
            kind = type_.kind if kinds.count(type_.kind) == 1 else str(type_)
            decision = gate(kind, rolling, self.children[gvk], now)
            for name in decision.start:
                action = self.held[(gvk, name)]
                if isinstance(action, Replace):
                    action = attrs.evolve(
                        action, obj=with_updated_at(action.obj, now),
                        reason=f"{action.reason}; rollout: next in name order",
                    )
                elif isinstance(action, Recreate):
                    action = attrs.evolve(
                        action, reason=f"{action.reason}; rollout: next in name order"
                    )
                writes.append((_rank(type_), action))
            for name, why in decision.waits.items():
                waits.append(Wait(self.held[(gvk, name)].ref, why))
            out.append(decision.rollout)
        return out


def _rank(type_: K8sType) -> int:
    if type_.kind == "Namespace" and type_.api_version == "v1":
        return 0
    return 2 if type_.namespaced else 1


def _update(
    config: OperatorConfig,
    parent_ref: ObjectRef,
    child: DesiredChild,
    current: RawObject,
    strategy: UpdateStrategy,
    memo: ApplyMemo,
) -> Action | None:
    uid = uid_of(current)
    entry = memo.get(uid) if uid else None
    stamped: RawObject | None = None
    if entry is not None and entry.desired_hash == child.hash:
        if entry.resource_version is not None and (
            entry.resource_version == resource_version_of(current)
        ):
            return None  # nobody wrote it since our own write
        stamped = stamp(config, parent_ref, child.plain, child.hash)
        if applied_digest(stamped, current) == entry.digest(stamped):
            return None  # others wrote it, but not the fields we set
    if stamped is None:
        stamped = stamp(config, parent_ref, child.plain, child.hash)
    found = differences(stamped, current)
    if not found:
        return None
    changes = tuple(difference.path for difference in found)
    reason = describe_differences(found)
    ref = ref_of(child.type, current)
    if strategy is UpdateStrategy.RECREATE:
        return Recreate(ref, stamped, child.hash, changes, reason)
    return Replace(ref, stamped, child.hash, resource_version_of(current), changes, reason)


def _conflict(child: DesiredChild, current: RawObject, request: SyncRequest) -> str:
    controller = controller_ref_of(current)
    if controller is None:
        owner = "it has no controller"
    else:
        owner = f"its controller is {controller.get('kind')} {controller.get('name')!r}"
    where = f"{child.key.namespace}/{child.key.name}" if child.key.namespace else child.key.name
    return (
        f"{child.type} {where} already exists and is not owned by {request.describe()} "
        f"({owner}); kubeplan never modifies it: rename the child or remove the object"
    )


def _status_action(
    parent_ref: ObjectRef,
    request: SyncRequest,
    status: dict[str, Any] | None,
    problems: list[str],
    now: datetime,
    rollouts: list[TypeRollout] | None = None,
) -> list[Action]:
    stored = request.parent.get("status")
    stored = stored if isinstance(stored, dict) else None
    if status is None:
        status = dict(stored) if stored is not None else {}
    else:
        fill_transition_times(status, stored, now)
    generation = generation_of(request.parent)
    if generation is not None:
        status["observedGeneration"] = generation
    if rollouts:
        status["rollout"] = {summary.kind: summary.progress for summary in rollouts}
        status = with_condition(
            status, CONDITION_ROLLED_OUT, *condition_of(rollouts), now, stored,
            observed_generation=generation,
        )
    if problems:
        condition = ("False", REASON_CHILD_CONFLICT, "; ".join(problems))
    else:
        condition = ("True", REASON_SYNCED, "")
    new = with_condition(
        status, CONDITION_SYNCED, *condition, now, stored, observed_generation=generation
    )
    return _status_update(parent_ref, request, stored, new)


def _status_update(
    parent_ref: ObjectRef,
    request: SyncRequest,
    stored: dict[str, Any] | None,
    new: dict[str, Any],
) -> list[Action]:
    if stored is not None and json_equal(new, stored):
        return []
    patch = merge_patch(stored or {}, new)
    return [UpdateStatus(
        parent_ref, new, patch, resource_version_of(request.parent), ", ".join(sorted(patch)),
    )]


def _failed(
    config: OperatorConfig,
    parent_ref: ObjectRef,
    request: SyncRequest,
    reason: str,
    message: str,
    head: list[Action],
    tail: list[Action],
    now: datetime,
) -> Plan:
    """The plan when the handler failed: no child action, only the condition (and finalizer;
    a decorator that writes no status has only the error, reported as a Warning Event)."""
    if not config.writes_status:
        return Plan(parent_ref, (*head, *tail), error=message)
    stored = request.parent.get("status")
    stored = stored if isinstance(stored, dict) else None
    new = with_condition(
        stored, CONDITION_SYNCED, "False", reason, message, now, stored,
        observed_generation=generation_of(request.parent),
    )
    status = _status_update(parent_ref, request, stored, new)
    return Plan(parent_ref, (*head, *status, *tail), error=message)
