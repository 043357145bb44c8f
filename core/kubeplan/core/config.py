"""What an operator manages: its parent type, its child types and how each child type is updated.

``OperatorConfig("echo", EchoServer).with_child(apps_v1.Deployment, ChildConfig.replace())`` is the
whole declaration. The config is a frozen value: ``with_child`` returns a new config, so a config
can be shared, compared and used as a default without surprises.

The operator's name becomes the value of the ``kubeplan.dev/operator`` label on every child, part
of the finalizer name and of the server-side-apply field manager, so it must be a DNS-1123 label.

``.selecting(labels=..., annotations=..., where=...)`` restricts the parents synced
(``kubeplan.core.filters``); ``.decorating()`` attaches children to objects kubeplan does not
own, any built-in or custom type, whose status it never writes (``DecoratorConfig``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import attrs

from kubeplan.core.errors import InvalidArgument, WrongArgumentType
from kubeplan.core.filters import AnnotationCondition, ParentFilter, Predicate, UnmatchedChildren
from kubeplan.core.k8s import is_builtin
from kubeplan.core.rollout import Check, CheckFunction, Rolling
from kubeplan.core.sources import Source, SourceDeclaration, SourceSelect, check_declaration
from kubeplan.core.types import K8sType

__all__ = [
    "ANNOTATION_DESIRED_HASH",
    "LABEL_OPERATOR",
    "LABEL_PARENT_UID",
    "ChildConfig",
    "DecoratorConfig",
    "OperatorConfig",
    "UpdateStrategy",
]

LABEL_OPERATOR = "kubeplan.dev/operator"
"""Label on every child: the operator's name (children are watched with this selector)."""

LABEL_PARENT_UID = "kubeplan.dev/parent-uid"
"""Label on every child: its parent's uid (children are indexed by it)."""

ANNOTATION_DESIRED_HASH = "kubeplan.dev/desired-hash"
"""Annotation on every child: the hash of the desired object it was last written from."""

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class UpdateStrategy(enum.Enum):
    """How an existing child that differs from its desired form is brought in line."""

    REPLACE = "replace"
    """Update in place (server-side apply of the desired object)."""
    RECREATE = "recreate"
    """Delete it (uid precondition) now; create it again once the delete has been observed."""
    ON_DELETE = "on_delete"
    """Never touch an existing child; create it only when it is missing."""


@attrs.frozen
class ChildConfig:
    """How one child type is managed: ``replace()``, ``recreate()``, ``on_delete()`` or
    ``rolling(...)`` (``rollout`` is then set: see ``kubeplan.core.rollout``)."""

    strategy: UpdateStrategy = UpdateStrategy.REPLACE
    rollout: Rolling | None = None

    @classmethod
    def replace(cls) -> ChildConfig:
        return cls(UpdateStrategy.REPLACE)

    @classmethod
    def recreate(cls) -> ChildConfig:
        return cls(UpdateStrategy.RECREATE)

    @classmethod
    def on_delete(cls) -> ChildConfig:
        return cls(UpdateStrategy.ON_DELETE)

    @classmethod
    def rolling(
        cls,
        *,
        in_place: bool = True,
        max_unavailable: int = 1,
        check: CheckFunction | None = None,
        timeout: timedelta | None = timedelta(minutes=10),
    ) -> ChildConfig:
        """Changed children updated ``max_unavailable`` at a time, in place (``replace``) or
        deleted and created again (``in_place=False``), each next one once ``check(child)``
        passes on those in flight (default ``Check(condition="Ready")``); a check that fails
        or has not passed within ``timeout`` halts the rollout."""
        rollout = Rolling(max_unavailable, check if check is not None else Check("Ready"), timeout)
        return cls(UpdateStrategy.REPLACE if in_place else UpdateStrategy.RECREATE, rollout)


@attrs.frozen
class DecoratorConfig:
    """Decorator mode: the parent is an object kubeplan does not own (a Service, a Namespace,
    another operator's custom resource). Its children are made as usual (ownerReferences,
    labels), but its status is never written unless ``status=True``, which only a custom
    resource may ask for (a built-in type's status belongs to its own controllers)."""

    status: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))


def _to_decorator(value: DecoratorConfig | bool | None) -> DecoratorConfig | None:
    if value is True:
        return DecoratorConfig()
    if value is False or value is None:
        return None
    if isinstance(value, DecoratorConfig):
        return value
    raise WrongArgumentType(f"decorator is True, a DecoratorConfig or None, got {value!r}")


def _check_decorator(instance: OperatorConfig, _attribute: Any, value: Any) -> None:
    if value is not None and value.status and is_builtin(instance.parent):
        raise InvalidArgument(
            f"{instance.parent} is a built-in type: its status belongs to its own "
            "controllers, so a decorator cannot write it (DecoratorConfig(status=True) is "
            "only for custom resources)"
        )


def _to_filter(value: ParentFilter | None) -> ParentFilter:
    if value is None:
        return ParentFilter()
    if not isinstance(value, ParentFilter):
        raise WrongArgumentType(
            f"filters is a ParentFilter(labels=..., annotations=..., where=...), got {value!r}"
        )
    return value


def _freeze_children(value: Mapping[K8sType, ChildConfig]) -> Mapping[K8sType, ChildConfig]:
    return MappingProxyType(dict(value))


def _freeze_namespaces(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise WrongArgumentType(
            f"namespaces must be a collection of namespace names, not the string {value!r} "
            f"(write namespaces={{{value!r}}})"
        )
    return frozenset(value)


def _freeze_related(value: Mapping[K8sType, Callable[..., Any]]) -> Mapping[K8sType, Any]:
    return MappingProxyType(dict(value))


def _check_related(_instance: Any, _attribute: Any, value: Mapping[Any, Any]) -> None:
    for related_type, select in value.items():
        if not isinstance(related_type, K8sType):
            raise WrongArgumentType(f"related types are K8sType values, got {related_type!r}")
        if not callable(select):
            raise WrongArgumentType(
                f"the selector of related type {related_type} must be a function "
                f"select(parent) -> RelatedSelector | list[RelatedSelector], got {select!r}"
            )


def _freeze_sources(value: Mapping[str, SourceDeclaration]) -> Mapping[str, SourceDeclaration]:
    return MappingProxyType(dict(value))


def _check_sources(_instance: Any, _attribute: Any, value: Mapping[Any, Any]) -> None:
    for name, declaration in value.items():
        check_declaration(name, declaration)


def _check_name(_instance: Any, _attribute: Any, value: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise InvalidArgument(
            f"operator name {value!r} is not a DNS-1123 label (at most 63 characters: lower-case "
            "letters, digits and '-', starting and ending with a letter or digit); it is used as "
            "a label value and in the finalizer name"
        )


def _check_children(instance: OperatorConfig, _attribute: Any, value: Mapping[Any, Any]) -> None:
    for child_type, child_config in value.items():
        if not isinstance(child_type, K8sType):
            raise WrongArgumentType(f"child types are K8sType values, got {child_type!r}")
        if not isinstance(child_config, ChildConfig):
            raise WrongArgumentType(
                f"the config of child type {child_type} must be a ChildConfig "
                f"(ChildConfig.replace(), .recreate() or .on_delete()), got {child_config!r}"
            )
        if instance.parent.namespaced and not child_type.namespaced:
            raise InvalidArgument(
                f"{child_type} is cluster-scoped and cannot be a child of the namespaced "
                f"{instance.parent}: Kubernetes never garbage-collects a cluster-scoped object "
                "owned by a namespaced one"
            )


@attrs.frozen
class OperatorConfig:
    """One parent type and the child types an operator manages.

    ``namespaces`` restricts the operator to these namespaces (parents are only watched there,
    and namespaced children may only be created there); None means the whole cluster.
    ``related`` maps read-only related types to their select functions (``with_related``),
    ``sources`` names external sources and their select functions (``with_source``).
    ``filters`` selects the parents synced (``selecting``); ``decorator`` turns on decorator
    mode (``decorating``): no status writes, no CRD of kubeplan's own for the parent.
    """

    name: str = attrs.field(validator=_check_name)
    parent: K8sType = attrs.field(validator=attrs.validators.instance_of(K8sType))
    children: Mapping[K8sType, ChildConfig] = attrs.field(
        factory=dict, converter=_freeze_children, validator=_check_children, hash=False
    )
    namespaces: frozenset[str] | None = attrs.field(default=None, converter=_freeze_namespaces)
    related: Mapping[K8sType, Callable[[Mapping[str, Any]], Any]] = attrs.field(
        factory=dict, converter=_freeze_related, validator=_check_related, hash=False,
        kw_only=True,
    )
    filters: ParentFilter = attrs.field(
        default=None, converter=_to_filter, kw_only=True, hash=False
    )
    sources: Mapping[str, SourceDeclaration] = attrs.field(
        factory=dict, converter=_freeze_sources, validator=_check_sources, hash=False,
        kw_only=True,
    )
    decorator: DecoratorConfig | None = attrs.field(
        default=None, converter=_to_decorator, validator=_check_decorator, kw_only=True
    )
    _by_gvk: Mapping[tuple[str, str], tuple[K8sType, ChildConfig]] = attrs.field(
        init=False, eq=False, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        # Looked up per desired child on every pass: string tuples hash faster than K8sType.
        by_gvk = {(t.api_version, t.kind): (t, c) for t, c in self.children.items()}
        object.__setattr__(self, "_by_gvk", MappingProxyType(by_gvk))

    def with_child(
        self, child_type: K8sType, child_config: ChildConfig | None = None
    ) -> OperatorConfig:
        """A new config that also manages ``child_type`` (declared again: the new config wins)."""
        children = dict(self.children)
        children[child_type] = child_config if child_config is not None else ChildConfig.replace()
        return attrs.evolve(self, children=children)

    def with_related(
        self, related_type: K8sType, select: Callable[[Mapping[str, Any]], Any]
    ) -> OperatorConfig:
        """A new config whose handler also reads objects of ``related_type``.

        ``select(parent)`` is a pure function of the parent returning a
        ``kubeplan.core.related.RelatedSelector``, a list of them, or None. The runtime
        watches the type, syncs a parent again when an object its selectors match changes,
        and hands the matches to the handler as ``request.related.of(related_type)``.
        Related objects are read-only: kubeplan never writes them.
        """
        related = dict(self.related)
        related[related_type] = select
        return attrs.evolve(self, related=related)

    def with_source(
        self, name: str, source: Source,
        select: SourceSelect | None = None,
    ) -> OperatorConfig:
        """A new config whose handler also reads the external source ``name``.

        ``source`` is an ``HttpSource`` or an ``ObjectStoreSource``
        (``kubeplan.core.sources``); ``select(parent)`` returns True (every item), a
        collection of item ids, or None (nothing); without it every parent reads every
        item. The runtime polls the source, hands its items to the handler as
        ``request.sources[name]`` and syncs the parents that read an item that changed.
        A failing source fails those parents' syncs (``Synced=False``, children kept).
        """
        sources = dict(self.sources)
        sources[name] = (SourceDeclaration(source) if select is None
                         else SourceDeclaration(source, select))
        return attrs.evolve(self, sources=sources)

    @property
    def related_types(self) -> tuple[K8sType, ...]:
        """The declared related types, in declaration order."""
        return tuple(self.related)

    def selecting(
        self,
        *,
        labels: str | None = None,
        annotations: Mapping[str, AnnotationCondition] | None = None,
        where: Predicate | None = None,
        unmatched_children: UnmatchedChildren = "keep",
    ) -> OperatorConfig:
        """A new config that syncs only the parents these conditions select (all of them):
        ``labels`` a label selector sent to the API server, ``annotations`` key ->
        condition (a value, a set of values, True present, False absent), ``where`` a pure
        predicate of the parent. A parent that stops matching keeps its children, or has
        them deleted with ``unmatched_children="delete"``; see ``kubeplan.core.filters``."""
        chosen = ParentFilter(labels=labels, annotations=annotations, where=where,
                              unmatched_children=unmatched_children)
        return attrs.evolve(self, filters=chosen)

    def decorating(self, *, status: bool = False) -> OperatorConfig:
        """A new config in decorator mode: the parent is not kubeplan's, its status is not
        written (``status=True``: a custom resource's status is), ``finalize`` stays
        optional and ``kubeplan manifests`` grants no status verbs and prints no CRD."""
        return attrs.evolve(self, decorator=DecoratorConfig(status=status))

    @property
    def writes_status(self) -> bool:
        """Whether the planner writes the parent's status (not in decorator mode unless
        the decorator asks for it)."""
        return self.decorator is None or self.decorator.status

    def selects(self, parent: Mapping[str, Any]) -> bool:
        """Whether the filters select ``parent`` (``FilterError`` if the predicate fails)."""
        return self.filters.matches(parent)

    def within_namespaces(self, *namespaces: str) -> OperatorConfig:
        """A new config restricted to these namespaces."""
        return attrs.evolve(self, namespaces=frozenset(namespaces))

    @property
    def child_types(self) -> tuple[K8sType, ...]:
        """The declared child types, in declaration order."""
        return tuple(self.children)

    def child_config(self, child_type: K8sType) -> ChildConfig | None:
        return self.children.get(child_type)

    def child_type_of(self, api_version: str, kind: str) -> K8sType | None:
        """The declared child type with this apiVersion and kind, or None."""
        found = self._by_gvk.get((api_version, kind))
        return found[0] if found else None

    def child_of(self, api_version: str, kind: str) -> tuple[K8sType, ChildConfig] | None:
        """The declared child type with this apiVersion and kind and its config, or None."""
        return self._by_gvk.get((api_version, kind))

    def allows_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    @property
    def field_manager(self) -> str:
        """The server-side-apply field manager of this operator."""
        return f"kubeplan-{self.name}"

    @property
    def finalizer(self) -> str:
        """The finalizer this operator puts on parents when the handler has ``finalize``."""
        return f"kubeplan.dev/{self.name}"

    def child_labels(self, parent_uid: str | Mapping[str, Any]) -> dict[str, str]:
        """The labels every child of this parent carries (``parent_uid`` may be the parent)."""
        if isinstance(parent_uid, Mapping):
            parent_uid = (parent_uid.get("metadata") or {}).get("uid") or ""
        return {LABEL_OPERATOR: self.name, LABEL_PARENT_UID: parent_uid}

    @property
    def child_label_selector(self) -> str:
        """The label selector that finds every child of this operator."""
        return f"{LABEL_OPERATOR}={self.name}"
