"""Which parents an operator syncs: a label selector, annotation conditions and a predicate.

``ParentFilter(labels="app=web,tier!=db", annotations={"example.com/policy": "on"},
where=fn)`` selects a parent when all three hold. They differ in where they are checked:

- ``labels`` is a label selector in its string form, parsed (and validated as the API server
  does) when the filter is made. The runtime sends it with the parent type's list and watch
  (``labelSelector=``), so unselected parents are never cached; it is checked here too, on
  every object the runtime or a test hands over.
- ``annotations`` maps an annotation key to a condition, checked on the cached parent:
  a string (the annotation has exactly this value), a collection of strings (one of them),
  ``True`` (present, any value) or ``False`` (absent). The API server cannot select by
  annotation, so these parents are cached and only filtered here.
- ``where`` is a pure function of the parent (the raw dict) returning a bool: no I/O, no
  clock, the same answer for the same parent. It should read the parent's metadata and spec,
  which kubeplan never writes; a predicate on the status would change its answer through
  kubeplan's own writes.

``unmatched_children`` says what happens to the children of a parent that stops matching:
``"keep"`` (the default) leaves them as they are, owned by the parent and never touched
again until it matches once more; ``"delete"`` deletes them. Either way the parent itself is
left alone (no status, no finalizer added), except that a finalizer kubeplan put on it is
removed, so that deleting the parent is not blocked by an operator that no longer looks at
it (``finalize`` is not called for it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType
from kubeplan.core.selectors import LabelSelector, SelectorError, validate_label_key

__all__ = [
    "AnnotationCondition",
    "FilterError",
    "ParentFilter",
    "UnmatchedChildren",
]

#: a string (equals), a collection of strings (one of them), True (present), False (absent)
AnnotationCondition = str | Collection[str] | bool
UnmatchedChildren = Literal["keep", "delete"]
Predicate = Callable[[Mapping[str, Any]], bool]


class FilterError(KubeplanError):
    """The filter's predicate raised (or returned a non-bool) on a parent."""

    def __init__(self, message: str, *, parent: str) -> None:
        self.parent = parent
        super().__init__(f"{parent}: {message}")


def _parse_labels(value: str | LabelSelector | None) -> LabelSelector | None:
    if value is None:
        return None
    if isinstance(value, LabelSelector):
        return value or None
    if not isinstance(value, str):
        raise WrongArgumentType(
            f"labels is a label selector string such as 'app=web,tier!=db', got {value!r}"
        )
    try:
        parsed = LabelSelector.parse(value)
    except SelectorError as exc:
        raise InvalidArgument(f"the parent filter's labels: {exc}") from None
    return parsed or None


def _freeze_condition(key: str, condition: Any) -> str | frozenset[str] | bool:
    if isinstance(condition, bool | str):
        return condition
    if isinstance(condition, Collection) and not isinstance(condition, Mapping) and all(
        isinstance(v, str) for v in condition
    ):
        if not condition:
            raise InvalidArgument(
                f"the parent filter's annotation {key!r}: an empty set of values matches "
                "nothing (write False for 'absent')"
            )
        return frozenset(condition)
    raise WrongArgumentType(
        f"the parent filter's annotation {key!r}: a condition is a string (equals), a set of "
        f"strings (one of them), True (present) or False (absent), got {condition!r}"
    )


def _freeze_annotations(
    value: Mapping[str, Any] | None,
) -> Mapping[str, str | frozenset[str] | bool]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise WrongArgumentType(
            "annotations is a mapping of annotation key to condition, such as "
            f"{{'example.com/policy': 'on'}}, got {value!r}"
        )
    frozen: dict[str, str | frozenset[str] | bool] = {}
    for key, condition in value.items():
        if not isinstance(key, str):
            raise WrongArgumentType(f"the parent filter's annotation keys are strings, got {key!r}")
        error = validate_label_key(key, "annotations")  # annotation keys follow the same rule
        if error:
            raise InvalidArgument(f"the parent filter's annotation key {key!r}: {error}")
        frozen[key] = _freeze_condition(key, condition)
    return MappingProxyType(frozen)


def _check_where(_instance: Any, _attribute: Any, value: Any) -> None:
    if value is not None and not callable(value):
        raise WrongArgumentType(
            f"where is a function where(parent) -> bool, got {value!r}"
        )


def _check_unmatched(_instance: Any, _attribute: Any, value: Any) -> None:
    if value not in ("keep", "delete"):
        raise InvalidArgument(
            f"unmatched_children is 'keep' (the default: children stay) or 'delete', "
            f"got {value!r}"
        )


def _describe(parent: Mapping[str, Any]) -> str:
    meta = parent.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{parent.get('kind')} {where}{meta.get('name')}"


@attrs.frozen
class ParentFilter:
    """The parents an operator syncs (all given conditions must hold); see the module."""

    labels: LabelSelector | None = attrs.field(default=None, converter=_parse_labels)
    annotations: Mapping[str, str | frozenset[str] | bool] = attrs.field(
        factory=dict, converter=_freeze_annotations, hash=False
    )
    where: Predicate | None = attrs.field(default=None, validator=_check_where)
    unmatched_children: UnmatchedChildren = attrs.field(
        default="keep", validator=_check_unmatched
    )

    @property
    def label_selector(self) -> str | None:
        """The selector sent to the API server with the parent type's list and watch."""
        return str(self.labels) if self.labels is not None else None

    @property
    def selects_all(self) -> bool:
        """True when the filter restricts nothing."""
        return self.labels is None and not self.annotations and self.where is None

    def matches_labels(self, parent: Mapping[str, Any]) -> bool:
        """The label selector alone (what the API server checks)."""
        meta = parent.get("metadata") or {}
        return self.labels is None or self.labels.matches(meta.get("labels") or {})

    def matches(self, parent: Mapping[str, Any]) -> bool:
        """Whether ``parent`` is selected; ``FilterError`` when the predicate fails."""
        if not self.matches_labels(parent):
            return False
        annotations = (parent.get("metadata") or {}).get("annotations") or {}
        for key, condition in self.annotations.items():
            if not _holds(condition, annotations.get(key)):
                return False
        if self.where is None:
            return True
        try:
            answer = self.where(parent)
        except Exception as exc:
            raise FilterError(
                f"the parent filter's where() raised {exc!r}", parent=_describe(parent)
            ) from exc
        if not isinstance(answer, bool):
            raise FilterError(
                f"the parent filter's where() must return True or False, got {answer!r}",
                parent=_describe(parent),
            )
        return answer


def _holds(condition: str | frozenset[str] | bool, value: str | None) -> bool:
    if condition is True:
        return value is not None
    if condition is False:
        return value is None
    if isinstance(condition, str):
        return value == condition
    return value is not None and value in condition
