"""What a handler is given: one parent and the children observed for it, grouped by type.

``request.children.of(Pod)`` is a read-only mapping from child name to the raw object, ordered by
(namespace, name) so that a handler iterating it is deterministic whatever order the cache
listed the objects in. ``request.spec_as(MySpec)`` structures the parent's spec into an attrs
class (camelCase keys to snake_case fields, see ``kubeplan.core.convert``).

The objects are the dicts the cache holds: treat them as read-only, and build desired children
from scratch rather than copying observed ones (an observed child carries uid, resourceVersion
and status, which validation rejects).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
import cattrs

from kubeplan.core import convert
from kubeplan.core.config import OperatorConfig
from kubeplan.core.convert import converter
from kubeplan.core.errors import InvalidArgument, WrongArgumentType
from kubeplan.core.k8s import builtin_type
from kubeplan.core.objects import (
    RawObject,
    describe_object,
    generation_of,
    is_terminating,
    name_of,
    namespace_of,
    uid_of,
)
from kubeplan.core.sources import SourceItems
from kubeplan.core.types import K8sType

__all__ = ["Children", "ChildrenOfType", "SyncRequest", "converter"]

T = TypeVar("T")


def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return (namespace_of(obj) or "", name_of(obj) or "")


class ChildrenOfType(Mapping[str, RawObject]):
    """The observed children of one type: name -> object, sorted by (namespace, name).

    A child's key is its name. Only when the same name exists in several namespaces (children of a
    cluster-scoped parent) are those children keyed ``"namespace/name"`` instead, so that the
    mapping never loses one; ``get(name, namespace=...)`` finds any child either way.
    """

    __slots__ = ("_by_key", "_by_name", "_by_ns_name", "type")

    def __init__(self, type_: K8sType, objects: Iterable[RawObject] = ()) -> None:
        self.type = type_
        ordered = sorted(objects, key=_sort_key)
        by_ns_name: dict[tuple[str | None, str], RawObject] = {}
        by_name: dict[str, list[RawObject]] = {}
        for obj in ordered:
            ns, name = namespace_of(obj), name_of(obj)
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"an observed {type_} has no metadata.name: {obj!r:.200}")
            if (ns, name) in by_ns_name:
                where = f"{ns}/{name}" if ns else name
                raise InvalidArgument(f"observed {type_} {where} is listed twice")
            by_ns_name[(ns, name)] = obj
            by_name.setdefault(name, []).append(obj)
        by_key: dict[str, RawObject] = {}
        for obj in ordered:
            name = name_of(obj) or ""
            if len(by_name[name]) == 1:
                by_key[name] = obj
            else:
                by_key[f"{namespace_of(obj)}/{name}"] = obj
        self._by_key = by_key
        self._by_ns_name = by_ns_name
        self._by_name = by_name

    def __getitem__(self, key: str) -> RawObject:
        try:
            return self._by_key[key]
        except KeyError:
            pass
        candidates = self._by_name.get(key)
        if candidates:  # a name that exists in several namespaces
            spaces = ", ".join(namespace_of(o) or "" for o in candidates)
            raise KeyError(
                f"{self.type} {key!r} exists in namespaces {spaces}: use "
                f".get({key!r}, namespace=...)"
            )
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(  # type: ignore[override]
        self, name: str, namespace: str | None = None, default: Any = None
    ) -> Any:
        """The child with this name (and namespace), or ``default``.

        Without ``namespace`` a name that exists in several namespaces is ambiguous and gives
        ``default``; the plain ``Mapping.get(key, default)`` form is not supported because
        the second positional argument is the namespace.
        """
        if namespace is not None and not isinstance(namespace, str):
            raise WrongArgumentType("namespace must be a string; pass the default as default=...")
        if namespace is not None or not self.type.namespaced:
            return self._by_ns_name.get((namespace, name), default)
        found = self._by_name.get(name)
        if found and len(found) == 1:
            return found[0]
        return self._by_key.get(name, default)

    def objects(self) -> tuple[RawObject, ...]:
        """All children of this type, sorted by (namespace, name)."""
        return tuple(self._by_key.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChildrenOfType):
            return self.type == other.type and self._by_ns_name == other._by_ns_name
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChildrenOfType({self.type}, {list(self._by_key)!r})"


class Children:
    """Observed objects grouped by type; immutable. ``of(type)`` never fails (an empty view)."""

    __slots__ = ("_by_type", "_len")

    def __init__(self, by_type: Mapping[K8sType, ChildrenOfType] | None = None) -> None:
        by_type = {t: v for t, v in (by_type or {}).items() if len(v)}
        self._by_type: dict[K8sType, ChildrenOfType] = dict(sorted(by_type.items()))
        self._len = sum(len(v) for v in self._by_type.values())

    @classmethod
    def empty(cls) -> Children:
        return _EMPTY_CHILDREN

    @classmethod
    def build(cls, objects_by_type: Mapping[K8sType, Iterable[RawObject]]) -> Children:
        """``Children.build({Pod: [pod1, pod2], Service: [svc]})``."""
        return cls({t: ChildrenOfType(t, objs) for t, objs in objects_by_type.items()})

    @classmethod
    def from_objects(cls, types_and_objects: Iterable[tuple[K8sType, RawObject]]) -> Children:
        """From ``(type, object)`` pairs in any order."""
        grouped: dict[K8sType, list[RawObject]] = {}
        for type_, obj in types_and_objects:
            grouped.setdefault(type_, []).append(obj)
        return cls.build(grouped)

    def of(self, type_: K8sType) -> ChildrenOfType:
        found = self._by_type.get(type_)
        return found if found is not None else ChildrenOfType(type_)

    @property
    def types(self) -> tuple[K8sType, ...]:
        """The types that have at least one object, sorted."""
        return tuple(self._by_type)

    def all(self) -> Iterator[tuple[K8sType, RawObject]]:
        """Every ``(type, object)``: types sorted, objects by (namespace, name) within a type."""
        for type_, view in self._by_type.items():
            for obj in view.objects():
                yield type_, obj

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Children) and self._by_type == other._by_type

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{t}: {list(v)!r}" for t, v in self._by_type.items())
        return f"Children({{{inner}}})"


_EMPTY_CHILDREN = Children()


def _children_field(value: Any) -> Children:
    if isinstance(value, Children):
        return value
    if isinstance(value, Mapping):
        return Children.build(value)
    return Children.from_objects(value)


def _sources_field(value: Mapping[str, Any]) -> Mapping[str, SourceItems]:
    if not isinstance(value, Mapping):
        raise WrongArgumentType(f"sources is a mapping of name -> SourceItems, got {value!r:.80}")
    out: dict[str, SourceItems] = {}
    for name, items in value.items():
        out[name] = items if isinstance(items, SourceItems) else SourceItems(name, items)
    return MappingProxyType(out)


@attrs.frozen(eq=True)
class SyncRequest:
    """One parent, its observed children, and whether it is being finalized.

    ``related`` holds the related objects the config's selectors matched
    (``OperatorConfig.with_related``; read-only, never planned). ``now`` is the time of the
    sync as the runtime's clock tells it (UTC; None when a test did not set one): time is an
    input like any other, so a handler that depends on it stays pure and testable.
    """

    parent: RawObject
    children: Children = attrs.field(factory=Children.empty, converter=_children_field)
    finalizing: bool = False
    related: Children = attrs.field(factory=Children.empty, converter=_children_field)
    now: datetime | None = None
    sources: Mapping[str, SourceItems] = attrs.field(factory=dict, converter=_sources_field,
                                                     kw_only=True)

    @classmethod
    def build(
        cls,
        parent: RawObject,
        children: Iterable[RawObject] = (),
        *,
        config: OperatorConfig | None = None,
        finalizing: bool | None = None,
        related: Iterable[RawObject] = (),
        now: datetime | None = None,
        sources: Mapping[str, Any] | None = None,
    ) -> SyncRequest:
        """A request from raw objects, typed by apiVersion/kind.

        Types come from ``config``'s declared child types, then from the built-in catalogue;
        ``finalizing`` defaults to whether the parent is being deleted; ``sources`` maps a
        source name to its items (id -> item, or a ``SourceItems``). Handy in tests.
        """
        return cls(
            parent,
            Children.from_objects((_type_of(obj, config), obj) for obj in children),
            is_terminating(parent) if finalizing is None else finalizing,
            Children.from_objects((_type_of(obj, config), obj) for obj in related),
            now,
            sources=sources or {},
        )

    @property
    def name(self) -> str:
        return name_of(self.parent) or ""

    @property
    def namespace(self) -> str | None:
        return namespace_of(self.parent)

    @property
    def uid(self) -> str | None:
        return uid_of(self.parent)

    @property
    def generation(self) -> int | None:
        return generation_of(self.parent)

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.parent.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def status(self) -> dict[str, Any]:
        status = self.parent.get("status")
        return status if isinstance(status, dict) else {}

    def describe(self) -> str:
        """How messages name the parent: ``EchoServer default/demo``."""
        return describe_object(self.parent.get("kind") or "parent", self.parent)

    def spec_as(self, cls: type[T], converter: cattrs.Converter | None = None) -> T:
        """The parent's spec as an attrs class (keys camelCase, fields snake_case)."""
        return convert.structure(self.spec, cls, converter)

    def status_as(self, cls: type[T], converter: cattrs.Converter | None = None) -> T:
        """The parent's current status as an attrs class."""
        return convert.structure(self.status, cls, converter)

    def parent_as(self, cls: type[T], converter: cattrs.Converter | None = None) -> T:
        """The whole parent object as an attrs class."""
        return convert.structure(self.parent, cls, converter)


def _type_of(obj: RawObject, config: OperatorConfig | None) -> K8sType:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        found = config.child_type_of(api_version, kind) if config is not None else None
        found = found or builtin_type(api_version, kind)
        if found is not None:
            return found
    raise InvalidArgument(
        f"cannot tell the type of {api_version}/{kind} {name_of(obj)!r}: declare it with "
        "OperatorConfig.with_child or build Children with explicit types"
    )
