"""The pure-function harness: build a request in one call, plan it, assert on the plan.

A handler is a pure function, so most of an operator's tests need no API server at all::

    request = request_from_yaml('''
    apiVersion: example.com/v1
    kind: Web
    metadata: {name: web, namespace: default}
    spec: {replicas: 2}
    ''', config=config)
    plan = plan_for((config, sync), request)
    expect_plan(plan).creates("apps/v1/Deployment web", "v1/Service web").deletes_nothing()

Then ``observe(request, plan)`` gives the request the operator would see after the plan ran,
so "a second pass does nothing" is one more line::

    expect_plan(plan_for((config, sync), observe(request, plan))).does_nothing()

When the status depends on the observed children (a phase that turns ``Ready`` once they
exist), settling takes more than one pass: ``converge(operator, request)`` plans and
observes until a pass does nothing, and fails if that never happens.

Fixtures are forgiving on purpose: a parent without a ``uid`` gets a stable one derived from
its name, and an observed child with no ``ownerReferences`` key at all is taken to be this
parent's (write ``ownerReferences: []`` for an object the operator does not own).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import yaml

from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import (
    InvalidArgument,
    KubeplanError,
    NoSuchEntry,
    UsageError,
    WrongArgumentType,
)
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import ObjectKey, key_of, name_of, namespace_of, uid_of
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
    ref_matches,
)
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.sources import SourceItems
from kubeplan.core.types import K8sType
from kubeplan.core.unmatched import plan_unmatched
from kubeplan.testkit.vtime import EPOCH, run_virtual

RawObject = dict[str, Any]
Operator = OperatorDefinition | tuple[OperatorConfig, Any]

# A fixed namespace for the uids the harness invents, so they are the same on every run.
_UID_NAMESPACE = uuid.UUID("6f1c1f5e-3d0a-4c57-9a65-6b7570706c61")


def stable_uid(*parts: str) -> str:
    """A uid derived from ``parts`` (same parts, same uid), for fixtures that leave it out."""
    return str(uuid.uuid5(_UID_NAMESPACE, "/".join(parts)))


def _object_uid(obj: Mapping[str, Any]) -> str:
    return stable_uid(
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        namespace_of(obj) or "",
        name_of(obj) or "",
    )


def _with_meta(obj: Mapping[str, Any], **changes: Any) -> RawObject:
    meta = dict(obj.get("metadata") or {})
    meta.update(changes)
    return {**obj, "metadata": meta}


# -- building requests -------------------------------------------------------------------------


def request_from_dicts(
    parent: Mapping[str, Any],
    children: Iterable[Mapping[str, Any]] = (),
    config: OperatorConfig | None = None,
    *,
    adopt: bool = True,
    finalizing: bool | None = None,
) -> SyncRequest:
    """A ``SyncRequest`` from a parent and its observed children, as plain dicts.

    A parent without ``metadata.uid`` gets a stable one. With ``adopt`` (the default), a
    child with no ``ownerReferences`` key gets the parent as its controller, and a child
    without a uid gets a stable one; children are typed by ``config``'s child types, then
    by the built-in catalogue.
    """
    if not isinstance(parent, Mapping) or not isinstance(parent.get("metadata"), Mapping):
        raise InvalidArgument("the parent must be an object with apiVersion, kind and metadata")
    parent_obj = dict(parent)
    if not uid_of(parent_obj):
        parent_obj = _with_meta(parent_obj, uid=_object_uid(parent_obj))
    observed = [_adopted(parent_obj, dict(child)) if adopt else dict(child) for child in children]
    return SyncRequest.build(parent_obj, observed, config=config, finalizing=finalizing)


def _adopted(parent: RawObject, child: RawObject) -> RawObject:
    meta = child.get("metadata")
    if not isinstance(meta, Mapping):
        return child
    changes: dict[str, Any] = {}
    if not meta.get("uid"):
        changes["uid"] = _object_uid(child)
    if "ownerReferences" not in meta:
        changes["ownerReferences"] = [
            {
                "apiVersion": parent["apiVersion"],
                "kind": parent["kind"],
                "name": name_of(parent),
                "uid": uid_of(parent),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return _with_meta(child, **changes) if changes else child


def _read_text(text_or_path: str | os.PathLike[str]) -> str:
    if isinstance(text_or_path, os.PathLike):
        return Path(text_or_path).read_text(encoding="utf-8")
    if "\n" not in text_or_path and text_or_path.endswith((".yaml", ".yml", ".json")):
        return Path(text_or_path).read_text(encoding="utf-8")
    return text_or_path


def _flatten(documents: Iterable[Any]) -> list[RawObject]:
    objects: list[RawObject] = []
    for doc in documents:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidArgument(f"expected a Kubernetes object (a mapping), got {doc!r}")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            objects.extend(_flatten(doc["items"]))
        else:
            objects.append(doc)
    return objects


def request_from_yaml(
    text_or_path: str | os.PathLike[str],
    config: OperatorConfig | None = None,
    *,
    adopt: bool = True,
    finalizing: bool | None = None,
) -> SyncRequest:
    """A ``SyncRequest`` from YAML text or a file.

    Either several documents (the first is the parent, the others observed children;
    ``kind: List`` documents are unpacked) or one mapping ``{parent: ..., children: [...]}``.
    See ``request_from_dicts`` for ``adopt``.
    """
    try:
        documents = list(yaml.safe_load_all(_read_text(text_or_path)))
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"not valid YAML: {exc}") from exc
    documents = [d for d in documents if d is not None]
    if not documents:
        raise InvalidArgument("no YAML documents: expected a parent, then its children")
    first = documents[0]
    if len(documents) == 1 and isinstance(first, dict) and "parent" in first:
        unknown = set(first) - {"parent", "children"}
        if unknown:
            raise InvalidArgument(
                f"unknown keys {sorted(unknown)}; expected 'parent' and 'children'")
        parent, children = first["parent"], _flatten(first.get("children") or [])
    else:
        objects = _flatten(documents)
        parent, children = objects[0], objects[1:]
    return request_from_dicts(parent, children, config, adopt=adopt, finalizing=finalizing)


# -- planning ------------------------------------------------------------------------------------


def _operator(operator: Operator) -> tuple[OperatorConfig, HandlerInfo]:
    if isinstance(operator, OperatorDefinition):
        return operator.config, HandlerInfo.of(operator.handler)
    if isinstance(operator, tuple) and len(operator) == 2:
        config, handler = operator
        if isinstance(config, OperatorConfig):
            return config, HandlerInfo.of(handler)
    raise WrongArgumentType(
        f"expected an OperatorDefinition or a (config, handler) pair, got {operator!r}")


def _call(info: HandlerInfo, request: SyncRequest) -> tuple[Any, bool]:
    """Which function to call for ``request`` and whether it is async."""
    if request.finalizing and info.finalize is not None:
        return info.finalize, info.finalize_is_async
    return info.sync, info.sync_is_async


def _plan(
    config: OperatorConfig,
    info: HandlerInfo,
    request: SyncRequest,
    result: Any,
    memo: ApplyMemo | None,
    now: datetime | None,
) -> Plan:
    return make_plan(
        config,
        request,
        result,
        memo=memo if memo is not None else ApplyMemo.empty(),
        now=now if now is not None else EPOCH,
        has_finalize=info.has_finalize,
    )


def plan_for(
    operator: Operator,
    request: SyncRequest,
    *,
    memo: ApplyMemo | None = None,
    now: datetime | None = None,
) -> Plan:
    """Run the handler on ``request`` (``finalize`` when the parent is being finalized and
    the handler has one) and plan its answer, as the runtime would. A parent the config's
    filters do not select gets ``plan_unmatched``'s plan, and the handler is not called.

    An exception from the handler is planned like the runtime plans it (no child action,
    a failed condition). An ``async def`` handler runs on a ``VirtualTimeLoop``; inside a
    running event loop use ``aplan_for``. ``now`` defaults to ``vtime.EPOCH`` and ``memo``
    to an empty memo, so plans are the same on every run.
    """
    config, info = _operator(operator)
    if not config.selects(request.parent):
        return plan_unmatched(config, request)  # the handler is not called for it
    function, is_async = _call(info, request)
    if is_async and _loop_running():
        raise UsageError(
            "plan_for was called inside a running event loop with an async handler; "
            "use 'await aplan_for(...)' instead"
        )
    try:
        result: Any = function(request)
        if inspect.isawaitable(result):
            result = run_virtual(_awaited(result))
    except Exception as exc:
        result = exc  # planned as the runtime plans a failed handler
    return _plan(config, info, request, result, memo, now)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _awaited(value: Any) -> Any:
    return await value


async def aplan_for(
    operator: Operator,
    request: SyncRequest,
    *,
    memo: ApplyMemo | None = None,
    now: datetime | None = None,
) -> Plan:
    """``plan_for`` for async tests: awaits an async handler on the running loop."""
    config, info = _operator(operator)
    if not config.selects(request.parent):
        return plan_unmatched(config, request)
    function, _ = _call(info, request)
    try:
        result: Any = function(request)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:
        result = exc
    return _plan(config, info, request, result, memo, now)


# -- what the world looks like after a plan ----------------------------------------------------


def observe(request: SyncRequest, plan: Plan) -> SyncRequest:
    """The request the operator would see once ``plan`` had run without error.

    Created and replaced children appear as written (with a stable uid and a
    resourceVersion), deleted and recreated ones disappear, and the parent gets the
    planned status and finalizers. No server-side defaulting is simulated: this answers
    "does planning again do nothing?", not "what would a cluster store?".
    """
    parent = dict(request.parent)
    children: dict[ObjectKey, tuple[K8sType, RawObject]] = {
        key_of(type_, obj): (type_, obj) for type_, obj in request.children.all()
    }
    for action in plan.actions:
        if isinstance(action, Create | Replace):
            uid = action.ref.uid or uid_of(action.obj) or _object_uid(action.obj)
            written = _with_meta(action.obj, uid=uid, resourceVersion=f"observed-{uid[:8]}")
            children[key_of(action.ref.type, written)] = (action.ref.type, written)
        elif isinstance(action, Delete | Recreate):
            children.pop(action.ref.key, None)
        elif isinstance(action, UpdateStatus):
            parent["status"] = action.status
        elif isinstance(action, AddFinalizer | RemoveFinalizer):
            parent = _with_meta(parent, finalizers=list(action.finalizers))
    return SyncRequest(parent, list(children.values()), request.finalizing, request.related,
                       sources={name: SourceItems(name, items)
                                for name, items in request.sources.items()})


@attrs.frozen
class Convergence:
    """What ``converge`` found: the non-empty ``plans`` in the order they ran and the
    ``request`` the operator sees once the last of them ran (planning it does nothing)."""

    request: SyncRequest
    plans: tuple[Plan, ...]

    @property
    def passes(self) -> int:
        """How many passes wrote something before one did nothing."""
        return len(self.plans)

    @property
    def final_plan(self) -> Plan:
        """The last plan that wrote something (raises when the first pass was empty)."""
        if not self.plans:
            raise NoSuchEntry("the request was converged already: no plan wrote anything")
        return self.plans[-1]


class NeverSettles(KubeplanError, AssertionError):
    """``converge`` gave up: the operator still writes after ``max_passes`` passes."""


def converge(
    operator: Operator,
    request: SyncRequest,
    *,
    max_passes: int = 5,
    memo: ApplyMemo | None = None,
    now: datetime | None = None,
) -> Convergence:
    """Plan and ``observe`` until a pass does nothing, at most ``max_passes`` times.

    One pass is the norm; a status that depends on the observed children (a phase that
    turns ``Ready`` once the Deployment exists) takes two: the first creates the
    children, the second sees them and writes the new status. ``NeverSettles`` (an
    ``AssertionError``), with every plan, when the operator still writes after
    ``max_passes`` (it would never settle).
    """
    if max_passes < 1:
        raise InvalidArgument(f"max_passes must be at least 1, got {max_passes}")
    plans: list[Plan] = []
    for _ in range(max_passes):
        plan = plan_for(operator, request, memo=memo, now=now)
        if not plan.actions:
            return Convergence(request, tuple(plans))
        plans.append(plan)
        request = observe(request, plan)
    shown = "\n\n".join(f"pass {i}:\n{_indent(str(p))}" for i, p in enumerate(plans, 1))
    raise NeverSettles(
        f"the operator still writes after {max_passes} passes (each pass plans the state "
        f"the previous one left): it would never settle\n\n{shown}"
    )


# -- assertions -----------------------------------------------------------------------------------


def _matches(action: Action, text: str) -> bool:
    return ref_matches(action.ref, text)


def _field_matches(change: str, field: str) -> bool:
    return change == field or change.startswith((f"{field}.", f"{field}["))


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


class PlanExpectation:
    """Fluent assertions on a ``Plan``; each failure shows the whole plan.

    Object references are ``"TYPE NAME"`` or ``"TYPE NAMESPACE/NAME"`` where TYPE is a type
    key (``apps/v1/Deployment``) or just a kind (``Deployment``).
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def _fail(self, message: str) -> AssertionError:
        return AssertionError(f"{message}\n\nthe plan was:\n{_indent(str(self.plan))}")

    def _of(self, kind: type[Action] | tuple[type[Action], ...]) -> list[Action]:
        return [a for a in self.plan.actions if isinstance(a, kind)]

    def _exact(self, verb: str, kind: type[Action], refs: Sequence[str], exactly: bool) -> None:
        actions = self._of(kind)
        missing = [r for r in refs if not any(_matches(a, r) for a in actions)]
        if missing:
            raise self._fail(f"expected the plan to {verb} {', '.join(missing)}")
        if exactly:
            extra = [a for a in actions if not any(_matches(a, r) for r in refs)]
            if extra:
                listed = ", ".join(str(a.ref) for a in extra)
                raise self._fail(f"expected the plan to {verb} only {list(refs)}, also: {listed}")

    def creates(self, *refs: str, exactly: bool = True) -> PlanExpectation:
        """The plan creates these children (and, with ``exactly``, no others)."""
        self._exact("create", Create, refs, exactly)
        return self

    def deletes(self, *refs: str, exactly: bool = True) -> PlanExpectation:
        self._exact("delete", Delete, refs, exactly)
        return self

    def _changed(
        self, verb: str, kind: type[Replace | Recreate], ref: str, fields: Sequence[str] | None
    ) -> None:
        actions = [a for a in self._of(kind) if _matches(a, ref)]
        if not actions:
            raise self._fail(f"expected the plan to {verb} {ref}")
        if fields:
            changes = actions[0].changes  # type: ignore[attr-defined]
            missing = [f for f in fields if not any(_field_matches(c, f) for c in changes)]
            if missing:
                raise self._fail(
                    f"expected {ref} to be {verb}d because of {list(fields)}; "
                    f"the changed fields were {list(changes)}, not {missing}"
                )

    def replaces(self, ref: str, *, fields: Sequence[str] | None = None) -> PlanExpectation:
        """The plan replaces ``ref``, because (at least) these fields differ.

        A field matches a changed path that equals it or lies under it: ``spec.ports``
        matches ``spec.ports[name=http].port``.
        """
        self._changed("replace", Replace, ref, fields)
        return self

    def recreates(self, ref: str, *, fields: Sequence[str] | None = None) -> PlanExpectation:
        self._changed("recreate", Recreate, ref, fields)
        return self

    def _nothing(self, verb: str, kind: type[Action]) -> PlanExpectation:
        found = self._of(kind)
        if found:
            raise self._fail(
                f"expected the plan to {verb} nothing, it would {verb} "
                + ", ".join(str(a.ref) for a in found)
            )
        return self

    def creates_nothing(self) -> PlanExpectation:
        return self._nothing("create", Create)

    def replaces_nothing(self) -> PlanExpectation:
        return self._nothing("replace", Replace)

    def recreates_nothing(self) -> PlanExpectation:
        return self._nothing("recreate", Recreate)

    def deletes_nothing(self) -> PlanExpectation:
        return self._nothing("delete", Delete)

    def touches_no_child(self) -> PlanExpectation:
        """No create, replace, recreate or delete: e.g. after the handler failed."""
        if self.plan.child_actions:
            raise self._fail("expected no action on any child")
        return self

    def does_nothing(self) -> PlanExpectation:
        """The plan is empty: the world already matches (a no-op resync)."""
        if self.plan.actions:
            raise self._fail("expected an empty plan")
        return self

    def writes_status(self, expected: Mapping[str, Any] | None = None) -> PlanExpectation:
        """The plan writes the parent's status, which contains ``expected`` (a subset)."""
        update = self.plan.status_update
        if update is None:
            raise self._fail("expected the plan to write the parent's status")
        if expected is not None and not _subset(expected, update.status):
            raise self._fail(
                f"expected the status to contain {dict(expected)!r}, it would be {update.status!r}"
            )
        return self

    def writes_no_status(self) -> PlanExpectation:
        if self.plan.status_update is not None:
            raise self._fail("expected the plan not to write the parent's status")
        return self

    def waits(self, *refs: str, match: str | None = None) -> PlanExpectation:
        """The plan holds back exactly these children (a rolling update), each with a
        reason containing ``match`` when given."""
        found = list(self.plan.waiting)
        names = [str(w.ref) for w in found]
        missing = [r for r in refs if not any(ref_matches(w.ref, r) for w in found)]
        extra = [str(w.ref) for w in found if not any(ref_matches(w.ref, r) for r in refs)]
        if missing or extra:
            raise self._fail(
                f"expected the plan to hold back {list(refs)}, it holds back {names}"
            )
        if match is not None:
            wrong = [w.line() for w in found if match not in w.reason]
            if wrong:
                raise self._fail(f"waiting reasons without {match!r}: {wrong}")
        return self

    def has_condition(self, type_: str, status: str, reason: str | None = None) -> PlanExpectation:
        """The status the plan writes has this condition (e.g. ``Synced``, ``"False"``)."""
        update = self.plan.status_update
        conditions = (update.status.get("conditions") if update else None) or []
        for condition in conditions:
            if (
                condition.get("type") == type_
                and condition.get("status") == status
                and (reason is None or condition.get("reason") == reason)
            ):
                return self
        raise self._fail(f"expected a {type_}={status} condition (reason {reason!r})")

    def fails(self, match: str | None = None) -> PlanExpectation:
        """The handler failed or answered something invalid (``plan.error``)."""
        if self.plan.error is None:
            raise self._fail("expected the plan to record a handler error")
        if match is not None and not re.search(match, self.plan.error):
            raise self._fail(f"expected the error to match {match!r}")
        return self

    def succeeds(self) -> PlanExpectation:
        if self.plan.error is not None:
            raise self._fail(f"expected no handler error, got: {self.plan.error}")
        return self

    def has_problem(self, match: str) -> PlanExpectation:
        if not any(re.search(match, p) for p in self.plan.problems):
            raise self._fail(f"expected a problem matching {match!r}")
        return self

    def adds_finalizer(self) -> PlanExpectation:
        if not self._of(AddFinalizer):
            raise self._fail("expected the plan to add the finalizer")
        return self

    def removes_finalizer(self) -> PlanExpectation:
        if not self._of(RemoveFinalizer):
            raise self._fail("expected the plan to remove the finalizer")
        return self

    def resyncs_after(self, seconds: float) -> PlanExpectation:
        if self.plan.resync_after != seconds:
            raise self._fail(f"expected a resync after {seconds}s, got {self.plan.resync_after}")
        return self


def expect_plan(plan: Plan) -> PlanExpectation:
    """Start fluent assertions on ``plan``: ``expect_plan(p).creates(...).deletes_nothing()``."""
    return PlanExpectation(plan)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


__all__ = [
    "Convergence",
    "PlanExpectation",
    "aplan_for",
    "converge",
    "expect_plan",
    "observe",
    "plan_for",
    "request_from_dicts",
    "request_from_yaml",
    "stable_uid",
]
