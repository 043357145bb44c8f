"""Raw Kubernetes objects: typed names for them and pure accessors that never raise on odd input.

Objects stay plain dicts exactly as the API server sends them (decoding into typed models costs
many times more and buys nothing the planner needs). The accessors below tolerate a missing or
null ``metadata`` so that validation, not a ``KeyError``, reports a malformed object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs

from kubeplan.core.types import K8sType

__all__ = [
    "ObjectKey",
    "ObjectRef",
    "RawObject",
    "annotations_of",
    "controller_ref_of",
    "describe_object",
    "finalizers_of",
    "generation_of",
    "is_owned_by",
    "is_terminating",
    "key_of",
    "labels_of",
    "name_of",
    "namespace_of",
    "ref_of",
    "resource_version_of",
    "uid_of",
]

RawObject = dict[str, Any]
"""A Kubernetes object as JSON: ``apiVersion``, ``kind``, ``metadata``, ``spec`` ..."""

_EMPTY: Mapping[str, Any] = {}


class ObjectKey(NamedTuple):
    """The identity of an object: two objects with the same key are the same object slot."""

    type: K8sType
    namespace: str | None
    name: str


@attrs.frozen(order=False)
class ObjectRef:
    """Points at one object; ``uid``, when set, is the precondition actions carry.

    ``str(ref)`` is how plans print objects: ``apps/v1/Deployment default/web`` (namespaced) or
    ``v1/Namespace team-a`` (cluster-scoped).
    """

    type: K8sType
    name: str
    namespace: str | None = None
    uid: str | None = None

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.type, self.namespace, self.name)

    @property
    def kind(self) -> str:
        """``self.type.kind``, e.g. ``Deployment``."""
        return self.type.kind

    @property
    def api_version(self) -> str:
        """``self.type.api_version``, e.g. ``apps/v1``."""
        return self.type.api_version

    def without_uid(self) -> ObjectRef:
        return attrs.evolve(self, uid=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiVersion": self.type.api_version,
            "kind": self.type.kind,
            "name": self.name,
        }
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.uid is not None:
            out["uid"] = self.uid
        return out

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.type} {where}"

    def __repr__(self) -> str:
        uid = f", uid={self.uid!r}" if self.uid else ""
        return f"ObjectRef({str(self)!r}{uid})"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    if type(meta) is dict:  # the common case, without the slower ABC check
        return meta
    return meta if isinstance(meta, Mapping) else _EMPTY


def name_of(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("name")


def namespace_of(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("namespace") or None


def uid_of(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("uid")


def resource_version_of(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("resourceVersion")


def generation_of(obj: Mapping[str, Any]) -> int | None:
    return _meta(obj).get("generation")


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("labels") or _EMPTY


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or _EMPTY


def finalizers_of(obj: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(_meta(obj).get("finalizers") or ())


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """Whether the object is being deleted (``metadata.deletionTimestamp`` is set)."""
    return bool(_meta(obj).get("deletionTimestamp"))


def controller_ref_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The object's controller ownerReference (``controller: true``), or None."""
    for ref in _meta(obj).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def is_owned_by(obj: Mapping[str, Any], parent_uid: str | None) -> bool:
    """Whether the object's controller ownerReference points at the parent with this uid.

    This, and nothing else (not labels), decides whether kubeplan may touch an object.
    """
    if not parent_uid:
        return False
    ref = controller_ref_of(obj)
    return ref is not None and ref.get("uid") == parent_uid


def key_of(type_: K8sType, obj: Mapping[str, Any]) -> ObjectKey:
    return ObjectKey(type_, namespace_of(obj) if type_.namespaced else None, name_of(obj) or "")


def ref_of(type_: K8sType, obj: Mapping[str, Any]) -> ObjectRef:
    """A reference to the object, carrying its uid (the precondition for actions on it)."""
    return ObjectRef(
        type_,
        name_of(obj) or "",
        namespace_of(obj) if type_.namespaced else None,
        uid_of(obj),
    )


def describe_object(kind: str, obj: Mapping[str, Any]) -> str:
    """How messages name an object: ``EchoServer default/demo`` or ``TempNamespace t1``."""
    name = name_of(obj) or "<unnamed>"
    namespace = namespace_of(obj)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
