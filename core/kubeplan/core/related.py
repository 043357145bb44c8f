"""Related objects: other objects a handler reads but never manages.

Some operators need more than the parent and its children: a ``ConfigMapSync`` copies a
source ConfigMap that it does not own; a web app reads a shared Secret. Declaring them
(like Metacontroller's customize hook) keeps the handler pure and its input complete::

    config = OperatorConfig("sync", ConfigMapSync).with_related(
        core_v1.ConfigMap,
        lambda parent: RelatedSelector(
            names=[parent["spec"]["source"]["name"]],
            namespace=parent["spec"]["source"]["namespace"],
        ),
    )

    def sync(request):
        source = request.related.of(core_v1.ConfigMap).get(name, namespace=ns)

``select(parent)`` is a pure function of the parent returning one ``RelatedSelector``, a
list of them, or None (nothing). The runtime watches every related type, computes each
parent's selectors whenever the parent changes, and syncs the parents whose selectors
match a related object that changed. Related objects are read-only: the planner never
acts on them (they are not children; kubeplan does not own them).

Label selectors are ``kubeplan.core.selectors``'s, which validates them as the API server
does (``SelectorError`` is that module's, re-exported here). This module is pure: selectors
and ``RelatedIndex`` (the reverse index from related objects to the parents that read them)
do no I/O.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from kubeplan.core.objects import labels_of, name_of, namespace_of
from kubeplan.core.selectors import LabelSelector, SelectorError
from kubeplan.core.selectors import Requirement as Requirement
from kubeplan.core.types import K8sType

__all__ = [
    "LabelSelector",
    "RelatedIndex",
    "RelatedSelector",
    "SelectFunction",
    "SelectorError",
    "resolve_selectors",
    "select_related",
]

RawObject = dict[str, Any]
SelectFunction = Callable[[Mapping[str, Any]], Any]
"""``select(parent) -> RelatedSelector | Iterable[RelatedSelector] | None``."""


# -- selectors ---------------------------------------------------------------------------------


def _label_selector(value: str | Mapping[str, str] | LabelSelector | None) -> LabelSelector:
    return LabelSelector.of(value)


def _names(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class RelatedSelector:
    """Which objects of a related type a parent reads.

    ``names``: only objects with these names (None: any name). ``namespace``: only in this
    namespace; None means the parent's own namespace for a namespaced parent and every
    namespace for a cluster-scoped one (ignored for cluster-scoped related types).
    ``label_selector``: a selector string (``"app=web,tier in (a,b)"``) or a mapping of
    labels that must all match. All given conditions must hold.
    """

    names: tuple[str, ...] | None = attrs.field(default=None, converter=_names)
    namespace: str | None = None
    label_selector: LabelSelector = attrs.field(default=None, converter=_label_selector)

    def resolved(self, parent: Mapping[str, Any], type_: K8sType) -> RelatedSelector:
        """This selector with ``namespace`` made concrete for ``parent`` (None: all)."""
        namespace = (self.namespace or namespace_of(parent)) if type_.namespaced else None
        return attrs.evolve(self, namespace=namespace)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` is selected (call on a ``resolved`` selector)."""
        if self.names is not None and name_of(obj) not in self.names:
            return False
        if self.namespace is not None and namespace_of(obj) != self.namespace:
            return False
        return not self.label_selector or self.label_selector.matches(labels_of(obj))


def resolve_selectors(
    related: Mapping[K8sType, SelectFunction], parent: Mapping[str, Any], describe: str = ""
) -> dict[K8sType, tuple[RelatedSelector, ...]]:
    """Each related type's resolved selectors for ``parent`` (calls the select functions).

    Raises ``SelectorError`` when a select function raises or returns something else than
    a ``RelatedSelector``, a list of them or None.
    """
    out: dict[K8sType, tuple[RelatedSelector, ...]] = {}
    who = describe or f"{parent.get('kind')} {name_of(parent)!r}"
    for type_, select in related.items():
        try:
            value = select(parent)
        except Exception as exc:
            raise SelectorError(
                f"the select function for related {type_} raised on {who}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if value is None:
            items: list[Any] = []
        elif isinstance(value, RelatedSelector):
            items = [value]
        elif isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
            items = list(value)
        else:
            items = [value]
        for item in items:
            if not isinstance(item, RelatedSelector):
                raise SelectorError(
                    f"the select function for related {type_} returned {item!r:.80} on {who}; "
                    "return a RelatedSelector, a list of them, or None"
                )
        out[type_] = tuple(item.resolved(parent, type_) for item in items)
    return out


def select_related(
    selectors: Sequence[RelatedSelector], objects: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The objects any of ``selectors`` matches, each once, in the order given."""
    return [obj for obj in objects if any(s.matches(obj) for s in selectors)]


class RelatedIndex:
    """Reverse index: which parents read which related objects.

    ``set(key, selectors)`` records a parent's resolved selectors (replacing earlier ones),
    ``remove(key)`` forgets the parent, ``affected(type_, obj)`` lists the parents whose
    selectors match ``obj``. Name-based selectors are found by (type, namespace, name) in
    constant time; only label- or namespace-wide selectors are scanned. Keys are whatever
    the caller uses to name a parent (the runtime uses ``(namespace, name)``).
    """

    def __init__(self) -> None:
        self._selectors: dict[Any, dict[K8sType, tuple[RelatedSelector, ...]]] = {}
        self._by_name: dict[tuple[K8sType, str], set[Any]] = {}
        self._scanned: dict[K8sType, set[Any]] = {}

    def __len__(self) -> int:
        return len(self._selectors)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._selectors)

    def selectors(self, key: Any) -> dict[K8sType, tuple[RelatedSelector, ...]]:
        return dict(self._selectors.get(key) or {})

    def set(self, key: Any, selectors: Mapping[K8sType, Sequence[RelatedSelector]]) -> None:
        self.remove(key)
        kept = {t: tuple(s) for t, s in selectors.items() if s}
        if not kept:
            return
        self._selectors[key] = kept
        for type_, items in kept.items():
            for selector in items:
                if selector.names is None:
                    self._scanned.setdefault(type_, set()).add(key)
                else:
                    for name in selector.names:
                        self._by_name.setdefault((type_, name), set()).add(key)

    def remove(self, key: Any) -> None:
        old = self._selectors.pop(key, None)
        if not old:
            return
        for type_, items in old.items():
            for selector in items:
                if selector.names is None:
                    _discard(self._scanned, type_, key)
                else:
                    for name in selector.names:
                        _discard(self._by_name, (type_, name), key)

    # builtins.set: in the class body ``set`` is the method above
    def affected(self, type_: K8sType, obj: Mapping[str, Any]) -> builtins.set[Any]:
        """The parents that read ``obj`` (a related object of ``type_``)."""
        candidates = set(self._by_name.get((type_, name_of(obj) or ""), ()))
        candidates |= self._scanned.get(type_, set())
        return {
            key for key in candidates
            if any(s.matches(obj) for s in self._selectors[key].get(type_, ()))
        }


def _discard(index: dict[Any, set[Any]], slot: Any, key: Any) -> None:
    keys = index.get(slot)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[slot]
