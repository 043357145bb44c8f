"""What an operator manages: its parent type, its child types and how each child type is updated.

``OperatorConfig("echo", EchoServer).with_child(apps_v1.Deployment, ChildConfig.replace())`` is the
whole declaration. The config is a frozen value: ``with_child`` returns a new config, so a config
can be shared, compared and used as a default without surprises.

The operator's name becomes the value of the ``kubeplan.dev/operator`` label on every child, part
of the finalizer name and of the server-side-apply field manager, so it must be a DNS-1123 label.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from kubeplan.core.types import K8sType

__all__ = [
    "ANNOTATION_DESIRED_HASH",
    "LABEL_OPERATOR",
    "LABEL_PARENT_UID",
    "ChildConfig",
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
    """How one child type is managed: ``replace()``, ``recreate()`` or ``on_delete()``."""

    strategy: UpdateStrategy = UpdateStrategy.REPLACE

    @classmethod
    def replace(cls) -> ChildConfig:
        return cls(UpdateStrategy.REPLACE)

    @classmethod
    def recreate(cls) -> ChildConfig:
        return cls(UpdateStrategy.RECREATE)

    @classmethod
    def on_delete(cls) -> ChildConfig:
        return cls(UpdateStrategy.ON_DELETE)


def _freeze_children(value: Mapping[K8sType, ChildConfig]) -> Mapping[K8sType, ChildConfig]:
    return MappingProxyType(dict(value))


def _freeze_namespaces(value: Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(
            f"namespaces must be a collection of namespace names, not the string {value!r} "
            f"(write namespaces={{{value!r}}})"
        )
    return frozenset(value)


def _freeze_related(value: Mapping[K8sType, Callable[..., Any]]) -> Mapping[K8sType, Any]:
    return MappingProxyType(dict(value))


def _check_related(_instance: Any, _attribute: Any, value: Mapping[Any, Any]) -> None:
    for related_type, select in value.items():
        if not isinstance(related_type, K8sType):
            raise TypeError(f"related types are K8sType values, got {related_type!r}")
        if not callable(select):
            raise TypeError(
                f"the selector of related type {related_type} must be a function "
                f"select(parent) -> RelatedSelector | list[RelatedSelector], got {select!r}"
            )


def _check_name(_instance: Any, _attribute: Any, value: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"operator name {value!r} is not a DNS-1123 label (at most 63 characters: lower-case "
            "letters, digits and '-', starting and ending with a letter or digit); it is used as "
            "a label value and in the finalizer name"
        )


def _check_children(instance: OperatorConfig, _attribute: Any, value: Mapping[Any, Any]) -> None:
    for child_type, child_config in value.items():
        if not isinstance(child_type, K8sType):
            raise TypeError(f"child types are K8sType values, got {child_type!r}")
        if not isinstance(child_config, ChildConfig):
            raise TypeError(
                f"the config of child type {child_type} must be a ChildConfig "
                f"(ChildConfig.replace(), .recreate() or .on_delete()), got {child_config!r}"
            )
        if instance.parent.namespaced and not child_type.namespaced:
            raise ValueError(
                f"{child_type} is cluster-scoped and cannot be a child of the namespaced "
                f"{instance.parent}: Kubernetes never garbage-collects a cluster-scoped object "
                "owned by a namespaced one"
            )


@attrs.frozen
class OperatorConfig:
    """One parent type and the child types an operator manages.

    ``namespaces`` restricts the operator to these namespaces (parents are only watched there,
    and namespaced children may only be created there); None means the whole cluster.
    ``related`` maps read-only related types to their select functions (``with_related``).
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

    @property
    def related_types(self) -> tuple[K8sType, ...]:
        """The declared related types, in declaration order."""
        return tuple(self.related)

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
