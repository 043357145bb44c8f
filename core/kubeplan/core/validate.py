"""Checking what a handler returned, and turning it into plain JSON the planner can trust.

Each rule below raises an ``InvalidResponse`` subclass naming the parent, the child and the
field, because a bad child is a bug in the handler and the person fixing it reads the message
in a status condition:

- a child is a dict or an attrs instance with ``apiVersion``, ``kind`` and ``metadata.name``;
- its type is one of the config's declared child types, and it appears once (type, namespace,
  name);
- namespaces: a namespaced parent's children live in its namespace (``metadata.namespace`` may
  be left out and defaults to it, but may not name another); a cluster-scoped parent's
  namespaced children must name one; cluster-scoped children name none; with
  ``OperatorConfig.namespaces`` set, only those namespaces;
- a child does not set ``status`` (it belongs to the child's own controller) nor the metadata
  only the server sets (uid, resourceVersion, ...: a sign an observed child was copied);
- labels and annotations map strings to strings; a controller ownerReference, if the handler
  sets one, points at the parent (kubeplan sets it anyway);
- every value is JSON: no sets, datetimes, bytes, NaN, non-string keys or out-of-range integers;
- the status is an object (or None), its ``conditions`` a list of objects with a ``type``;
- ``resync_after`` / ``retry_after`` are None or a non-negative number of seconds.

Serialising a child once with orjson (in C) both proves it is JSON and yields the canonical
bytes its hash is computed from; only when that fails does a Python walk look for the culprit,
so a valid response costs a few microseconds per child.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from kubeplan.core import convert
from kubeplan.core.compare import digest_bytes, key_segment, render_path
from kubeplan.core.config import OperatorConfig, UpdateStrategy
from kubeplan.core.errors import (
    ChildSetsStatus,
    DuplicateChild,
    InvalidField,
    InvalidStatus,
    MissingField,
    NamespaceNotAllowed,
    NotAnObject,
    NotSerializable,
    ServerFieldSet,
    UndeclaredChildType,
    WrongResponseType,
)
from kubeplan.core.objects import ObjectKey
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType

__all__ = [
    "CheckedResponse",
    "DesiredChild",
    "check_response",
    "normalise_status",
    "validate_response",
]

_SERVER_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "managedFields",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
_JSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


class DesiredChild:
    """One validated desired child.

    ``source`` is the handler's object with its namespace defaulted (a shallow copy that may share
    nested values with the handler's object); ``data`` its canonical JSON and ``hash`` the desired
    hash. ``plain`` is a fresh plain-JSON copy, decoded on first use only: a child that turns out
    unchanged never needs one.
    """

    __slots__ = ("_plain", "data", "describe", "hash", "index", "key", "slot", "strategy", "type")

    def __init__(
        self,
        type_: K8sType,
        strategy: UpdateStrategy,
        key: ObjectKey,
        index: int,
        data: bytes,
        describe: str,
    ) -> None:
        self.type = type_
        self.strategy = strategy
        self.key = key
        # (apiVersion, kind, namespace, name): hashes faster than ObjectKey (K8sType's hash
        # is recomputed on every call); the planner indexes observed children the same way.
        self.slot = (type_.api_version, type_.kind, key.namespace, key.name)
        self.index = index
        self.data = data
        self.hash = digest_bytes(data)
        self.describe = describe
        self._plain: dict[str, Any] | None = None

    @property
    def plain(self) -> dict[str, Any]:
        if self._plain is None:
            self._plain = orjson.loads(self.data)
        return self._plain

    def __repr__(self) -> str:
        return f"DesiredChild({self.describe}, hash={self.hash})"


@attrs.frozen
class CheckedResponse:
    """A handler's response, validated: children in the handler's order, status as plain JSON."""

    children: tuple[DesiredChild, ...]
    status: dict[str, Any] | None
    resync_after: float | None
    finalized: bool | None


def _child_name(index: int, api_version: Any, kind: Any, name: Any) -> str:
    type_text = f"{api_version}/{kind}" if isinstance(kind, str) else f"{api_version}"
    if isinstance(name, str) and name:
        return f'{type_text} "{name}"'
    return f"#{index} ({type_text})"


def _culprit(value: Any, segments: tuple[str, ...]) -> tuple[str, str] | None:
    """Where a value stops being JSON, and why (the slow path, after orjson refused it)."""
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return render_path(segments), f"{value} does not fit in 64 bits"
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return render_path(segments), f"{value} is not a JSON number"
    if isinstance(value, str | uuid.UUID):
        return None
    if isinstance(value, enum.Enum):
        return _culprit(value.value, segments)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return render_path(segments), f"has a key {key!r} that is not a string"
            found = _culprit(item, (*segments, key_segment(key)))
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _culprit(item, (*segments, f"[{index}]"))
            if found:
                return found
        return None
    return render_path(segments), f"is a {kind.__name__}, which JSON cannot carry"


def _to_json(
    value: Any, root: tuple[str, ...], *, parent: str, child: str | None
) -> bytes:
    try:
        data = orjson.dumps(value, option=_JSON_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        found = _culprit(value, root)
        path, problem = found if found else (render_path(root), f"is not JSON: {exc}")
        raise NotSerializable(f"{path} {problem}", parent=parent, child=child, field=path) from exc
    if b"null" in data:  # orjson writes NaN and infinities as null: look whether it did
        found = _culprit(value, root)
        if found:
            path, problem = found
            raise NotSerializable(f"{path} {problem}", parent=parent, child=child, field=path)
    return data


def _string_map(meta: Mapping[str, Any], field: str, *, parent: str, child: str) -> None:
    value = meta.get(field)
    if value is None:
        return
    if type(value) is dict:  # fast path for the common case
        for k, v in value.items():
            if type(k) is not str or type(v) is not str:
                break
        else:
            return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidField(
            f"metadata.{field} must map strings to strings, got {value!r:.80}",
            parent=parent, child=child, field=f"metadata.{field}",
        )


def _check_owner_references(
    meta: Mapping[str, Any], parent_uid: str | None, *, parent: str, child: str
) -> None:
    refs = meta.get("ownerReferences")
    if refs is None:
        return
    if not isinstance(refs, list | tuple) or not all(isinstance(r, Mapping) for r in refs):
        raise InvalidField(
            "metadata.ownerReferences must be a list of objects",
            parent=parent, child=child, field="metadata.ownerReferences",
        )
    for index, ref in enumerate(refs):
        if ref.get("controller") is True and ref.get("uid") != parent_uid:
            raise InvalidField(
                f"metadata.ownerReferences[{index}] makes {ref.get('kind')} {ref.get('name')!r} "
                "the controller; kubeplan makes the parent the controller of its children",
                parent=parent, child=child, field=f"metadata.ownerReferences[{index}]",
            )


def _namespace(
    config: OperatorConfig,
    request: SyncRequest,
    type_: K8sType,
    namespace: Any,
    *,
    parent: str,
    child: str,
) -> str | None:
    field = "metadata.namespace"
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidField(f"{field} must be a string, got {namespace!r:.60}",
                           parent=parent, child=child, field=field)
    if not type_.namespaced:
        if namespace:
            raise NamespaceNotAllowed(
                f'{field} "{namespace}" is not allowed: {type_} is cluster-scoped',
                parent=parent, child=child, field=field,
            )
        return None
    parent_namespace = request.namespace
    if config.parent.namespaced:
        if namespace and namespace != parent_namespace:
            raise NamespaceNotAllowed(
                f'{field} "{namespace}" is not allowed: children of a namespaced parent live '
                f'in its namespace "{parent_namespace}"',
                parent=parent, child=child, field=field,
            )
        return parent_namespace
    if not namespace:
        raise MissingField(
            f"{field} is missing: the parent is cluster-scoped, so its {type_} children must "
            "name their namespace",
            parent=parent, child=child, field=field,
        )
    if not config.allows_namespace(namespace):
        allowed = ", ".join(sorted(config.namespaces or ()))
        raise NamespaceNotAllowed(
            f'{field} "{namespace}" is not allowed: the operator is restricted to {allowed}',
            parent=parent, child=child, field=field,
        )
    return namespace


def _check_child(
    config: OperatorConfig, request: SyncRequest, index: int, value: Any, parent: str
) -> DesiredChild:
    if type(value) is not dict:
        if attrs.has(type(value)):
            value = convert.unstructure(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        else:
            raise NotAnObject(
                f"child #{index} is a {type(value).__name__}; a child is a dict or an attrs "
                "instance",
                parent=parent, field=f"children[{index}]",
            )
    api_version, kind = value.get("apiVersion"), value.get("kind")
    meta = value.get("metadata")
    if type(meta) is not dict and isinstance(meta, Mapping):
        meta = dict(meta)
    name = meta.get("name") if type(meta) is dict else None
    child = _child_name(index, api_version, kind, name)
    for field, given in (("apiVersion", api_version), ("kind", kind)):
        if type(given) is not str or not given:
            raise MissingField(f"{field} is missing", parent=parent, child=child, field=field)
    if type(meta) is not dict:
        raise MissingField("metadata is missing", parent=parent, child=child, field="metadata")
    if not isinstance(name, str) or not name:
        hint = (
            " (generateName is not supported: a child needs a stable name to be found again)"
            if meta.get("generateName") else ""
        )
        raise MissingField(f"metadata.name is missing{hint}", parent=parent, child=child,
                           field="metadata.name")
    declared = config.child_of(api_version, kind)
    if declared is None:
        known = ", ".join(str(t) for t in config.child_types) or "none"
        raise UndeclaredChildType(
            f"{api_version}/{kind} is not a declared child type (declared: {known}); "
            "declare it with OperatorConfig.with_child",
            parent=parent, child=child, field="kind",
        )
    type_, child_config = declared
    if value.get("status") is not None:
        raise ChildSetsStatus(
            "status is set: a child's status belongs to its own controller; leave it out",
            parent=parent, child=child, field="status",
        )
    for field in _SERVER_FIELDS:
        if meta.get(field) is not None:
            raise ServerFieldSet(
                f"metadata.{field} is set: only the API server sets it (was an observed child "
                "copied? build desired children from scratch)",
                parent=parent, child=child, field=f"metadata.{field}",
            )
    _string_map(meta, "labels", parent=parent, child=child)
    _string_map(meta, "annotations", parent=parent, child=child)
    _check_owner_references(meta, request.uid, parent=parent, child=child)
    namespace = _namespace(
        config, request, type_, meta.get("namespace"), parent=parent, child=child
    )
    normal_meta = dict(meta)
    if namespace is None:
        normal_meta.pop("namespace", None)
    else:
        normal_meta["namespace"] = namespace
    normal = dict(value)
    normal["metadata"] = normal_meta
    normal.pop("status", None)
    data = _to_json(normal, (), parent=parent, child=child)
    return DesiredChild(
        type_, child_config.strategy, ObjectKey(type_, namespace, name), index, data, child
    )


def _strip_nulls(value: Any) -> Any:
    if type(value) is dict:
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if type(value) is list:
        return [_strip_nulls(v) for v in value]
    return value


def normalise_status(status: Any, *, parent: str = "parent") -> dict[str, Any] | None:
    """A handler's status as plain JSON (None stays None), nulls inside objects dropped.

    Nulls are dropped because the status is written as a merge patch, where null means
    "remove": a status holding a null would differ from the stored one on every pass.
    """
    if status is None:
        return None
    if attrs.has(type(status)):
        status = convert.unstructure(status)
    if not isinstance(status, Mapping):
        raise InvalidStatus(
            f"status must be an object (a dict or an attrs instance), got a "
            f"{type(status).__name__}",
            parent=parent, field="status",
        )
    # a mapping encodes as a JSON object, so it decodes as a dict
    plain: dict[str, Any] = _strip_nulls(
        orjson.loads(_to_json(status, ("status",), parent=parent, child=None)))
    conditions = plain.get("conditions")
    if conditions is not None and not (
        isinstance(conditions, list)
        and all(isinstance(c, dict) and isinstance(c.get("type"), str) for c in conditions)
    ):
        raise InvalidStatus(
            "status.conditions must be a list of objects that each have a string type",
            parent=parent, field="status.conditions",
        )
    return plain


def _delay(value: Any, field: str, parent: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidField(
            f"{field} must be None or a non-negative number of seconds, got {value!r:.40}",
            parent=parent, field=field,
        )
    return float(value)


def check_response(
    config: OperatorConfig, request: SyncRequest, response: Any
) -> CheckedResponse:
    """Validate a handler's response; raises ``InvalidResponse`` naming parent, child and field."""
    parent = request.describe()
    expected = FinalizeResponse if request.finalizing else SyncResponse
    if not isinstance(response, expected):
        phase = "finalize (the parent is being deleted)" if request.finalizing else "sync"
        raise WrongResponseType(
            f"{phase} must return a {expected.__name__}, got {type(response).__name__}",
            parent=parent,
        )
    children = response.children
    if not isinstance(children, tuple):
        raise InvalidField(
            f"children must be a list of objects, got a {type(children).__name__}",
            parent=parent, field="children",
        )
    checked = []
    seen: dict[tuple[str, str, str | None, str], DesiredChild] = {}
    for index, value in enumerate(children):
        desired = _check_child(config, request, index, value, parent)
        first = seen.get(desired.slot)
        if first is not None:
            raise DuplicateChild(
                f"metadata.name appears twice (children #{first.index} and #{index})",
                parent=parent, child=desired.describe, field="metadata.name",
            )
        seen[desired.slot] = desired
        checked.append(desired)
    if isinstance(response, FinalizeResponse):
        delay = _delay(response.retry_after, "retry_after", parent)
        finalized: bool | None = bool(response.finalized)
    else:
        delay = _delay(response.resync_after, "resync_after", parent)
        finalized = None
    if response.status is not None and not config.writes_status:
        raise InvalidStatus(
            f"status is set, but operator {config.name!r} decorates {config.parent}, whose "
            "status it does not own and never writes; return no status (only a decorator of a "
            "custom resource may write one: OperatorConfig.decorating(status=True))",
            parent=parent, field="status",
        )
    status = normalise_status(response.status, parent=parent)
    return CheckedResponse(tuple(checked), status, delay, finalized)


def validate_response(
    config: OperatorConfig, request: SyncRequest, response: Any
) -> list[dict[str, Any]]:
    """The desired children as plain JSON dicts (namespace defaulted), or ``InvalidResponse``."""
    return [child.plain for child in check_response(config, request, response).children]

