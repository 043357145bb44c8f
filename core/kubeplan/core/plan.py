"""A plan: the ordered actions that bring one parent's world in line with its handler's answer.

A plan is frozen data. It can be printed (``str(plan)``: one line per action with its reason,
stable from run to run, what ``kubeplan plan`` shows), turned into plain dicts (``to_dicts()``)
and compared in tests (``==``). Executing it is the adapters' job; each action says exactly what
to send and under which precondition:

- ``Create(ref, obj)``: create ``obj`` (server-side apply or POST).
- ``Replace(ref, obj, resource_version)``: server-side apply of ``obj`` with the operator's
  field manager and ``force=true``; ``ref.uid`` is the object's uid (a precondition),
  ``resource_version`` the one observed (usable as an optimistic-lock precondition).
- ``Recreate(ref, obj)``: the delete half of a recreate: DELETE with the uid precondition in
  ``ref``; ``obj`` is what a later plan will create once the delete has been observed.
- ``Delete(ref)``: DELETE with the uid precondition in ``ref``.
- ``UpdateStatus(ref, status, patch)``: send ``{"status": patch}`` as a JSON merge patch to the
  parent's ``/status``; ``status`` is the full status that results. ``resource_version`` is the
  parent's as observed: after an ``AddFinalizer`` in the same plan it is stale, so an executor
  that uses it as a precondition must take the one the finalizer patch returned.
- ``AddFinalizer`` / ``RemoveFinalizer``: on the parent; ``finalizers`` is the full list after
  the change (for a merge patch guarded by ``resource_version``).

``plan.waiting`` holds ``Wait(ref, reason)`` records: children a rolling update holds back
this pass (``wait`` lines in the text; nothing to execute).

The objects inside actions are shared with the planner's inputs where nothing changed: treat
them as read-only.

In tests, ``plan.desired("Deployment web")`` is the object a child action writes,
``plan.action("Service default/web")`` the action itself and ``plan.desired_status`` the
status the plan writes (``ref.kind`` is ``ref.type.kind``). An object reference is
``"TYPE NAME"`` or ``"TYPE NAMESPACE/NAME"``, TYPE a kind (``Deployment``) or a type key
(``apps/v1/Deployment``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import attrs

from kubeplan.core.errors import InvalidArgument, NoSuchEntry
from kubeplan.core.objects import ObjectRef

__all__ = [
    "Action",
    "AddFinalizer",
    "Create",
    "Delete",
    "Plan",
    "Recreate",
    "RemoveFinalizer",
    "Replace",
    "UpdateStatus",
    "Wait",
    "parse_ref",
    "ref_matches",
]


def _object_repr(obj: Any) -> str:
    if isinstance(obj, dict):
        meta = obj.get("metadata") or {}
        return f"<{obj.get('kind')} {meta.get('name')!r}>"
    return repr(obj)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value)


def parse_ref(text: str) -> tuple[str, str | None, str]:
    """``"apps/v1/Deployment ns/web"`` -> (type key or kind, namespace or None, name)."""
    parts = text.split()
    if len(parts) != 2:
        raise InvalidArgument(
            f"object reference {text!r} must be 'TYPE NAME' or 'TYPE NAMESPACE/NAME', e.g. "
            "'apps/v1/Deployment web' or 'Deployment default/web'"
        )
    type_text, where = parts
    namespace, _, name = where.rpartition("/")
    return type_text, namespace or None, name


def ref_matches(ref: ObjectRef, text: str) -> bool:
    """Whether ``ref`` is the object ``text`` (see ``parse_ref``) names; a reference
    without a namespace matches the name in any namespace."""
    type_text, namespace, name = parse_ref(text)
    type_ok = type_text in (str(ref.type), ref.type.kind)
    return type_ok and ref.name == name and (namespace is None or ref.namespace == namespace)


@attrs.frozen
class Action:
    """Base class of plan actions: ``verb`` names it, ``ref`` is the object it targets."""

    verb: ClassVar[str] = ""
    on_child: ClassVar[bool] = False

    ref: ObjectRef

    def line(self) -> str:
        """The action as one line of text: verb, object and reason."""
        text = f"{self.verb:<7} {self.ref}"
        reason = getattr(self, "reason", "")
        return f"{text}: {reason}" if reason else text

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data: ``{"action": verb, "ref": {...}, ...fields}``."""
        out: dict[str, Any] = {"action": self.verb, "ref": self.ref.to_dict()}
        for field in attrs.fields(type(self)):
            if field.name != "ref":
                value = getattr(self, field.name)
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out


@attrs.frozen
class Create(Action):
    verb: ClassVar[str] = "create"
    on_child: ClassVar[bool] = True

    obj: dict[str, Any] = attrs.field(repr=_object_repr)
    desired_hash: str = ""
    reason: str = "missing"


@attrs.frozen
class Replace(Action):
    verb: ClassVar[str] = "replace"
    on_child: ClassVar[bool] = True

    obj: dict[str, Any] = attrs.field(repr=_object_repr)
    desired_hash: str = ""
    resource_version: str | None = None
    changes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    reason: str = ""


@attrs.frozen
class Recreate(Action):
    verb: ClassVar[str] = "recreate"
    on_child: ClassVar[bool] = True

    obj: dict[str, Any] = attrs.field(repr=_object_repr)
    desired_hash: str = ""
    changes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    reason: str = ""


@attrs.frozen
class Delete(Action):
    verb: ClassVar[str] = "delete"
    on_child: ClassVar[bool] = True

    reason: str = "no longer desired"


@attrs.frozen
class UpdateStatus(Action):
    verb: ClassVar[str] = "status"

    status: dict[str, Any] = attrs.field(factory=dict)
    patch: dict[str, Any] = attrs.field(factory=dict)
    resource_version: str | None = None
    reason: str = ""

    @property
    def obj(self) -> dict[str, Any]:
        """The part of the parent this action writes, ``{"status": status}`` (so that
        every writing action has an ``obj``)."""
        return {"status": self.status}


@attrs.frozen
class AddFinalizer(Action):
    verb: ClassVar[str] = "add-finalizer"

    finalizer: str = ""
    reason: str = "the handler has finalize"
    finalizers: tuple[str, ...] = attrs.field(default=(), converter=_strings, kw_only=True)
    resource_version: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class RemoveFinalizer(Action):
    verb: ClassVar[str] = "remove-finalizer"

    finalizer: str = ""
    reason: str = "finalized"
    finalizers: tuple[str, ...] = attrs.field(default=(), converter=_strings, kw_only=True)
    resource_version: str | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class Wait:
    """A child the plan leaves alone for now, and why (a rolling update holds it back)."""

    ref: ObjectRef
    reason: str

    def line(self) -> str:
        return f"wait    {self.ref}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref.to_dict(), "reason": self.reason}


def _actions(value: Any) -> tuple[Action, ...]:
    return tuple(value)


def _waits(value: Any) -> tuple[Wait, ...]:
    return tuple(value)


@attrs.frozen
class Plan:
    """What to do for one parent, in order, and what went wrong while planning.

    ``error`` is set when the handler raised or returned something invalid (the plan then holds
    no child action, only a status condition saying so). ``problems`` lists desired children
    that could not be planned (a name taken by an object this parent does not own).
    ``resync_after`` (seconds) is the handler's request to be called again; ``finalized`` is
    the ``FinalizeResponse``'s answer while the parent is being deleted.
    ``permanent`` is set when the handler raised ``PermanentError`` (do not retry until an
    input changes) and ``retry_in`` (seconds) when it raised ``RetryAfter`` (retry then, not
    by backoff); ``error`` holds their message too.
    ``waiting`` lists the children a rolling update holds back, each with its reason;
    ``inputs`` the external source items that changed since the parent's last sync.
    ``bool(plan)`` is whether there is anything to execute.
    """

    parent: ObjectRef
    actions: tuple[Action, ...] = attrs.field(default=(), converter=_actions)
    error: str | None = None
    resync_after: float | None = None
    finalized: bool | None = None
    problems: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    permanent: bool = False
    retry_in: float | None = None
    #: the reason the ``PermanentError`` or ``RetryAfter`` gave (the condition's, the Event's)
    error_reason: str | None = None
    waiting: tuple[Wait, ...] = attrs.field(default=(), converter=_waits)
    #: the external inputs that changed since the parent's last sync, in words
    #: (``source prices: modified sku-1``): why this plan was made
    inputs: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @property
    def is_empty(self) -> bool:
        return not self.actions

    def __bool__(self) -> bool:
        return bool(self.actions)

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def child_actions(self) -> tuple[Action, ...]:
        """The actions on children (create, replace, recreate, delete)."""
        return tuple(a for a in self.actions if a.on_child)

    @property
    def status_update(self) -> UpdateStatus | None:
        for action in self.actions:
            if isinstance(action, UpdateStatus):
                return action
        return None

    @property
    def desired_status(self) -> dict[str, Any] | None:
        """The parent's status once the plan ran, or None when the plan writes none."""
        update = self.status_update
        return update.status if update is not None else None

    def find(self, ref: str) -> Action | None:
        """The first action on the object ``ref`` names (``"Deployment web"``,
        ``"apps/v1/Deployment default/web"``), or None."""
        return next((a for a in self.actions if ref_matches(a.ref, ref)), None)

    def action(self, ref: str) -> Action:
        """The first action on the object ``ref`` names; ``LookupError`` (listing the
        plan) when there is none."""
        found = self.find(ref)
        if found is None:
            raise NoSuchEntry(f"the plan has no action on {ref}; it is:\n{self}")
        return found

    def desired(self, ref: str) -> dict[str, Any]:
        """The object a create, replace or recreate action of the plan writes for the
        child ``ref`` names; ``LookupError`` when the plan writes no such child."""
        for action in self.actions:
            if isinstance(action, Create | Replace | Recreate) and ref_matches(action.ref, ref):
                return action.obj
        raise NoSuchEntry(f"the plan writes no child {ref}; it is:\n{self}")

    def desired_objects(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The objects the plan's create, replace and recreate actions write, in order;
        only those of ``kind`` (a kind or a type key) when given."""
        return [
            a.obj
            for a in self.actions
            if isinstance(a, Create | Replace | Recreate)
            and (kind is None or kind in (a.ref.type.kind, str(a.ref.type)))
        ]

    def lines(self) -> list[str]:
        # The error names the parent already (it is the condition's message).
        out = [f"input   {self.parent}: {line}" for line in self.inputs]
        out.extend([f"error   {self.error}"] if self.error else [])
        out.extend(f"problem {self.parent}: {problem}" for problem in self.problems)
        out.extend(action.line() for action in self.actions)
        out.extend(wait.line() for wait in self.waiting)
        if not self.actions and not self.waiting:
            out.append(f"nothing {self.parent}: up to date")
        if self.finalized:
            out.append(f"finalized {self.parent}")
        if self.resync_after is not None:
            out.append(f"resync  {self.parent}: after {self.resync_after:g}s")
        if self.permanent:
            out.append(f"hold    {self.parent}: not retried until it or an input changes")
        if self.retry_in is not None:
            out.append(f"retry   {self.parent}: after {self.retry_in:g}s")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_dicts(self) -> list[dict[str, Any]]:
        """The actions as plain dicts, in order."""
        return [action.to_dict() for action in self.actions]

    def to_dict(self) -> dict[str, Any]:
        """The whole plan as plain JSON-serialisable data."""
        return {
            "parent": self.parent.to_dict(),
            "actions": self.to_dicts(),
            "error": self.error,
            "problems": list(self.problems),
            "resync_after": self.resync_after,
            "finalized": self.finalized,
            "permanent": self.permanent,
            "retry_in": self.retry_in,
            "error_reason": self.error_reason,
            "waiting": [wait.to_dict() for wait in self.waiting],
            "inputs": list(self.inputs),
        }
