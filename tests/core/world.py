"""A tiny pure model of the API server, to apply a Plan's effects to an observed world.

It is not the testkit's fake API server (that one is faithful and asynchronous); it models just
what the planner's properties need, synchronously and deterministically:

- uids and a global resourceVersion counter; a write that changes nothing keeps the
  resourceVersion (as the real storage does);
- ``Create``: refused when the name is taken (AlreadyExists); stores the object with system
  metadata and server defaults;
- ``Replace``: uid precondition; a small server-side apply: fields the previous apply of the
  same manager set and this one does not are removed, the rest merged (named lists by name,
  other lists replaced whole), fields set by others survive;
- normalisation on every write when ``normalise=True``: a ``cpu`` of ``"1000m"`` is stored as
  ``"1"`` (the hot-loop trigger the apply memo exists for), ports get ``protocol: TCP``;
- ``Delete`` / ``Recreate``: uid precondition; objects with finalizers become terminating;
- ``UpdateStatus``: applies the merge patch and checks it yields the action's full status;
- finalizers on the parent; a terminating parent without finalizers goes away.

The memo is fed exactly as the executor feeds it: ``record_write(action.obj, written)``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from kubeplan.core.compare import apply_merge_patch, is_named_list, json_equal
from kubeplan.core.config import OperatorConfig
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import is_owned_by, uid_of
from kubeplan.core.plan import (
    AddFinalizer,
    Create,
    Delete,
    Plan,
    Recreate,
    RemoveFinalizer,
    Replace,
    UpdateStatus,
)
from kubeplan.core.request import SyncRequest
from kubeplan.core.types import K8sType

TIMESTAMP = "2024-05-01T10:00:00Z"
_MILLICORES = re.compile(r"(\d+)000m")


class Refused(Exception):
    """The model refused a write (AlreadyExists, a failed precondition ...)."""


def normalise(value: Any) -> Any:
    """What the model's server does to stored values: ``cpu: 1000m`` -> ``1``, port protocols."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            millicores = _MILLICORES.fullmatch(item) if isinstance(item, str) else None
            if key == "cpu" and millicores:
                out[key] = millicores.group(1)
            elif key == "ports" and isinstance(item, list):
                out[key] = [
                    {**normalise(port), "protocol": port.get("protocol", "TCP")}
                    if isinstance(port, dict) else port
                    for port in item
                ]
            else:
                out[key] = normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def merge(target: Any, desired: Any) -> Any:
    """Merge desired into target: objects key by key, named lists by name, the rest replaced."""
    if isinstance(desired, dict) and isinstance(target, dict):
        out = dict(target)
        for key, value in desired.items():
            out[key] = merge(target.get(key), value)
        return out
    if isinstance(desired, list) and isinstance(target, list) and is_named_list(desired):
        by_name = {item.get("name"): item for item in target if isinstance(item, dict)}
        merged = [merge(by_name.get(item["name"]), item) for item in desired]
        wanted = {item["name"] for item in desired}
        return merged + [
            item for item in target if not isinstance(item, dict) or item.get("name") not in wanted
        ]
    return copy.deepcopy(desired)


def drop_removed(target: Any, previous: Any, desired: Any) -> Any:
    """Remove from target what the previous apply set and this one no longer does."""
    if isinstance(previous, dict) and isinstance(target, dict):
        desired = desired if isinstance(desired, dict) else {}
        out = {}
        for key, value in target.items():
            if key in previous and key not in desired:
                continue
            if key in previous:
                out[key] = drop_removed(value, previous[key], desired[key])
            else:
                out[key] = value
        return out
    if (
        isinstance(previous, list) and isinstance(target, list) and isinstance(desired, list)
        and is_named_list(previous) and is_named_list(desired)
    ):
        gone = {i["name"] for i in previous} - {i["name"] for i in desired}
        return [i for i in target if not (isinstance(i, dict) and i.get("name") in gone)]
    return target


class World:
    """One parent and the objects around it, as the model server holds them."""

    def __init__(
        self,
        config: OperatorConfig,
        parent: dict[str, Any],
        *,
        normalise_values: bool = True,
    ) -> None:
        self.config = config
        self.normalise_values = normalise_values
        self.version = 100
        self.next_uid = 1
        self.parent: dict[str, Any] | None = self._stamp_system(copy.deepcopy(parent))
        self.objects: dict[tuple[K8sType, str | None, str], dict[str, Any]] = {}
        self.applied: dict[str, dict[str, Any]] = {}  # uid -> our last applied object
        self.memo = ApplyMemo.empty()
        self.refused: list[str] = []
        self.writes = 0

    # -- bookkeeping --------------------------------------------------------------------------

    def _bump(self) -> str:
        self.version += 1
        return str(self.version)

    def _stamp_system(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", "uid-parent")
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("generation", 1)
        return obj

    def _new_uid(self) -> str:
        self.next_uid += 1
        return f"uid-{self.next_uid:04d}"

    def type_of(self, obj: dict[str, Any]) -> K8sType:
        found = self.config.child_type_of(obj["apiVersion"], obj["kind"])
        assert found is not None, obj
        return found

    def key(self, type_: K8sType, obj: dict[str, Any]) -> tuple[K8sType, str | None, str]:
        meta = obj["metadata"]
        return (type_, meta.get("namespace") if type_.namespaced else None, meta["name"])

    def put(self, obj: dict[str, Any], *, uid: str | None = None) -> dict[str, Any]:
        """Store an object as someone else would (no memo): for foreign or pre-existing objects."""
        stored = copy.deepcopy(obj)
        meta = stored["metadata"]
        meta["uid"] = uid or meta.get("uid") or self._new_uid()
        meta["resourceVersion"] = self._bump()
        meta.setdefault("creationTimestamp", TIMESTAMP)
        if self.normalise_values:
            stored = normalise(stored)
        self.objects[self.key(self.type_of(stored), stored)] = stored
        return stored

    def edit(self, obj: dict[str, Any], change: Any) -> dict[str, Any]:
        """Someone else writes an object: ``change(copy)`` mutates a copy; the rv moves."""
        key = self.key(self.type_of(obj), obj)
        stored = copy.deepcopy(self.objects[key])
        change(stored)
        stored["metadata"]["resourceVersion"] = self._bump()
        self.objects[key] = stored
        return stored

    def children(self) -> list[dict[str, Any]]:
        return list(self.objects.values())

    def owned(self) -> list[dict[str, Any]]:
        uid = uid_of(self.parent or {})
        return [o for o in self.objects.values() if is_owned_by(o, uid)]

    def request(self, order: Iterable[int] | None = None) -> SyncRequest:
        assert self.parent is not None
        objects = self.children()
        if order is not None:
            objects = [objects[i] for i in order]
        return SyncRequest.build(copy.deepcopy(self.parent), copy.deepcopy(objects),
                                 config=self.config)

    # -- executing a plan ---------------------------------------------------------------------

    def apply(self, plan: Plan) -> None:
        for action in plan.actions:
            try:
                self._apply(action)
            except Refused as exc:
                self.refused.append(f"{action.line()}: {exc}")

    def _find(self, ref: Any) -> dict[str, Any]:
        found = self.objects.get((ref.type, ref.namespace, ref.name))
        if found is None:
            raise Refused("not found")
        if ref.uid is not None and uid_of(found) != ref.uid:
            raise Refused("uid precondition failed")
        return found

    def _write(self, key: Any, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
        if self.normalise_values:
            obj = normalise(obj)
        if previous is not None and json_equal(obj, previous):
            return  # a write that changes nothing does not move the resourceVersion
        if previous is not None and {k: v for k, v in obj.items() if k not in (
                "metadata", "status")} != {k: v for k, v in previous.items() if k not in (
                "metadata", "status")}:
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        obj["metadata"]["resourceVersion"] = self._bump()
        self.objects[key] = obj
        self.writes += 1

    def _apply(self, action: Any) -> None:
        if isinstance(action, Create):
            key = (action.ref.type, action.ref.namespace, action.ref.name)
            if key in self.objects:
                raise Refused("AlreadyExists")
            stored = copy.deepcopy(action.obj)
            meta = stored["metadata"]
            meta.update(uid=self._new_uid(), creationTimestamp=TIMESTAMP, generation=1)
            self._write(key, stored, None)
            written = self.objects[key]
            self.applied[meta["uid"]] = copy.deepcopy(action.obj)
            self.memo = self.memo.record_write(action.obj, written)
        elif isinstance(action, Replace):
            current = self._find(action.ref)
            key = (action.ref.type, action.ref.namespace, action.ref.name)
            previous = self.applied.get(uid_of(current), {})
            merged = merge(drop_removed(current, previous, action.obj), action.obj)
            self._write(key, merged, current)
            written = self.objects[key]
            self.applied[uid_of(written)] = copy.deepcopy(action.obj)
            self.memo = self.memo.record_write(action.obj, written)
        elif isinstance(action, Delete | Recreate):
            current = self._find(action.ref)
            key = (action.ref.type, action.ref.namespace, action.ref.name)
            self.memo = self.memo.forget(uid_of(current))
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    held = copy.deepcopy(current)
                    held["metadata"]["deletionTimestamp"] = TIMESTAMP
                    held["metadata"]["resourceVersion"] = self._bump()
                    self.objects[key] = held
            else:
                del self.objects[key]
        elif isinstance(action, UpdateStatus):
            assert self.parent is not None
            before = self.parent.get("status")
            after = apply_merge_patch(before if isinstance(before, dict) else {}, action.patch)
            assert json_equal(after, action.status), (after, action.status)
            if not json_equal(after, before):
                self.parent["status"] = after
                self.parent["metadata"]["resourceVersion"] = self._bump()
        elif isinstance(action, AddFinalizer | RemoveFinalizer):
            assert self.parent is not None
            meta = self.parent["metadata"]
            finalizers = list(meta.get("finalizers") or ())
            if isinstance(action, AddFinalizer):
                if meta.get("deletionTimestamp"):
                    raise Refused("no new finalizers on a terminating object")
                if action.finalizer not in finalizers:
                    finalizers.append(action.finalizer)
            else:
                finalizers = [f for f in finalizers if f != action.finalizer]
            assert tuple(finalizers) == action.finalizers, (finalizers, action.finalizers)
            meta["finalizers"] = finalizers
            meta["resourceVersion"] = self._bump()
            if meta.get("deletionTimestamp") and not finalizers:
                self.parent = None
        else:  # pragma: no cover - a new action type the model does not know
            raise AssertionError(f"unknown action {action!r}")
