"""Merging an apply config into a live object, and removing paths from one."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from kubeplan.testkit.apiserver.ssa.fieldsets import _equal
from kubeplan.testkit.apiserver.ssa.paths import _CONTAINER, Path, _keyed, _Rule, _Rules

#: scalars of a map merged without a call each (the same result); tests turn it off to
#: compare with the general path
_SCALAR_SHORTCUTS = True


def _merge(lhs: Any, rhs: Any, path: Path, rules: _Rules) -> Any:
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        if path and rules.atomic_map(path):  # an atomic struct or map is replaced whole
            return _drop_nulls(rhs)
        out = dict(lhs)
        fast = _SCALAR_SHORTCUTS
        for key, value in rhs.items():
            if value is None:
                out.pop(key, None)
            elif fast and not isinstance(value, _CONTAINER):
                # a scalar replaces whatever was there (what _merge and _drop_nulls
                # return for one), without a call each: most fields are scalars
                out[key] = value
            elif key in out:
                out[key] = _merge(out[key], value, (*path, f"f:{key}"), rules)
            else:
                out[key] = _drop_nulls(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        rule = rules.at(path)
        if rule.kind != "atomic":
            merged = _merge_list(lhs, rhs, rule, path, rules)
            if merged is not None:
                return merged
    return _drop_nulls(rhs)


def _drop_nulls(value: Any) -> Any:
    # scalars are returned as they are: test for containers before recursing
    if isinstance(value, dict):
        return {
            k: _drop_nulls(v) if isinstance(v, _CONTAINER) else v
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [_drop_nulls(v) if isinstance(v, _CONTAINER) else v for v in value]
    return value


def _merge_list(
    lhs: list[Any], rhs: list[Any], rule: _Rule, path: Path, rules: _Rules
) -> list[Any] | None:
    """Merge keyed/set lists the way structured-merge-diff orders them.

    Shared items follow the config's order, live-only items keep their place.
    """
    lpes = rules.elements(lhs, rule)
    rpes = rules.elements(rhs, rule)
    if not _keyed(lpes) or not _keyed(rpes):
        return None
    lmap: dict[str, Any] = {}
    for e, item in zip(lpes, lhs, strict=True):
        lmap.setdefault(e, item)
    rmap: dict[str, Any] = {}
    for e, item in zip(rpes, rhs, strict=True):
        rmap.setdefault(e, item)
    shared = [e for e in dict.fromkeys(rpes) if e in lmap]
    next_shared = shared.pop(0) if shared else None
    out: list[Any] = []
    done: set[str] = set()

    def merged_item(element: str) -> Any:
        lchild = lmap.get(element)
        rchild = rmap.get(element)
        if lchild is None:
            return _drop_nulls(rchild)
        if rchild is None:
            return lchild
        if rule.items_atomic:
            return _drop_nulls(rchild)
        return _merge(lchild, rchild, (*path, element), rules)

    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                if pe not in done:
                    done.add(pe)
                    out.append(merged_item(pe))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in rmap and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rmap:
                if pe not in done:
                    done.add(pe)
                    out.append(lmap[pe])
                li += 1
                continue
            if pe in done:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            if pe not in done:
                done.add(pe)
                out.append(merged_item(pe))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


# --------------------------------------------------------------------------------------
# Removing paths from objects


def _remove_path(obj: Any, path: Path) -> None:
    """Remove the node at ``path`` (in place on a private copy)."""
    parent: Any = obj
    for element in path[:-1]:
        parent = _child(parent, element)
        if parent is None:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif isinstance(parent, list):
        for i, item in enumerate(parent):
            if _matches_element(item, last):
                del parent[i]
                return


def _child(node: Any, element: str) -> Any:
    if element.startswith("f:"):
        return node.get(element[2:]) if isinstance(node, dict) else None
    if isinstance(node, list):
        for item in node:
            if _matches_element(item, element):
                return item
    return None


def _matches_element(item: Any, element: str) -> bool:
    if element.startswith("v:"):
        return not isinstance(item, _CONTAINER) and _equal(item, json.loads(element[2:]))
    if element.startswith("k:") and isinstance(item, dict):
        keys = json.loads(element[2:])
        return all(k in item and _equal(item[k], v) for k, v in keys.items())
    return False


def _closure(fields: Iterable[Path]) -> set[Path]:
    out: set[Path] = set()
    for path in fields:
        for i in range(1, len(path) + 1):
            out.add(path[:i])
    return out


def _kept(fields: Iterable[Path]) -> set[Path]:
    """What a set of owned paths keeps in an object when others' are pruned: the paths
    themselves and every enclosing field, but no enclosing list item or map entry the
    set does not own (structured-merge-diff's ``EnsureNamedFieldsAreMembers``): an item
    an applier gave up goes whole, with its key, though another manager owned a field
    inside it."""
    out: set[Path] = set()
    for path in fields:
        out.add(path)
        for i in range(1, len(path)):
            if path[i - 1][:2] == "f:":
                out.add(path[:i])
    return out
