"""Field sets of values: the paths an object sets, and what changed between two.

structured-merge-diff's ``ToFieldSet`` and ``Compare`` for a struct-only schema; the
server-owned metadata paths are never part of a set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson

from kubeplan.core.errors import UsageError
from kubeplan.testkit.apiserver.ssa.memo import _memo_key, _memo_walk
from kubeplan.testkit.apiserver.ssa.paths import _CONTAINER, FieldSet, Path, _keyed, _Rule, _Rules

#: metadata fields the server owns; never part of a field set (apimachinery stripmeta.go)
_SERVER_METADATA = (
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
)


def _is_stripped(path: Path) -> bool:
    if path in (("f:apiVersion",), ("f:kind",), ("f:metadata",)):
        return True
    return len(path) == 2 and path[0] == "f:metadata" and path[1][2:] in _SERVER_METADATA


#: every path ``_is_stripped`` accepts among paths built from objects (whose elements
#: are ``f:``/``k:``/``v:``): a set difference with it strips such a set in C
_STRIPPED: frozenset[Path] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {("f:metadata", "f:" + name) for name in _SERVER_METADATA}
)


def _strip_own(fields: set[Path]) -> FieldSet:
    """Drop the server-owned paths (``_is_stripped``) from a set this module built from
    an object (changes ``fields``)."""
    fields -= _STRIPPED
    return frozenset(fields)


def _raise_spent(*args: Any) -> None:
    raise UsageError("a field-set walker was called after its walk")


#: what a walker's name holds once its walk is over (see ``_to_field_set``)
_spent: Callable[..., None] = _raise_spent


def _to_field_set(value: Any, rules: _Rules) -> FieldSet:
    """structured-merge-diff ``ToFieldSet``: atomic structs and maps are leaves."""
    atomic_map = rules.atomic_map

    def visit_map(m: Mapping[str, Any], path: Path, into: set[Path]) -> None:
        add = into.add
        for key, child in m.items():
            p = (*path, f"f:{key}")
            if isinstance(child, dict):
                if child and not atomic_map(p):
                    visit_map(child, p, into)
                else:
                    add(p)
            elif isinstance(child, list):
                visit_list(child, p, into)
            else:  # a scalar, or None
                add(p)

    def visit_list(v: list[Any], path: Path, into: set[Path]) -> None:
        rule = rules.at(path)
        if rule.kind == "atomic":
            into.add(path)
            return

        def walk(found: set[Path]) -> None:
            elements = rules.elements(v, rule)
            if not _keyed(elements):
                found.add(path)
                return
            whole = rule.items_atomic
            for item, element in zip(v, elements, strict=True):
                ip = (*path, element)
                found.add(ip)
                if isinstance(item, dict) and not whole:
                    visit_map(item, ip, found)

        _memo_walk(_memo_key("fields", v, path, rules) if v else None, path, into, walk)

    out: set[Path] = set()
    try:
        if isinstance(value, dict):
            visit_map(value, (), out)
    finally:
        # the walkers reach each other (and themselves) through their cells: a cycle
        # only the garbage collector would free, rules and all, after every write
        visit_map = visit_list = _spent
    return _strip_own(out)


@attrs.frozen
class _Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet


_MISSING: Any = object()


def _same_json(lhs: Any, rhs: Any) -> bool:
    """Whether two values serialise identically (then ``_compare`` finds nothing in them:
    same structure, same types, same values). False when unsure."""
    try:
        return orjson.dumps(lhs, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            rhs, option=orjson.OPT_SORT_KEYS
        )
    except TypeError:
        return False


#: two scalars of a map compared without a call each (the same result); tests turn it
#: off to compare with the general path
_SCALAR_SHORTCUTS = True


def _compare(old: Any, new: Any, rules: _Rules) -> _Comparison:
    """structured-merge-diff ``Compare``: leaves, plus added/removed inner nodes."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    missing = _MISSING
    atomic_map = rules.atomic_map
    fast = _SCALAR_SHORTCUTS

    def one_side(value: Any, path: Path, out: set[Path]) -> None:
        """``compare`` of a value against a missing one: every node of ``value`` goes
        to ``out`` (the leaves and, as added/removed inner nodes, the containers).
        Scalar children are added here rather than by a call each (most nodes are)."""
        if isinstance(value, dict):
            if not value or (path and atomic_map(path)):
                out.add(path)
                return
            for key, child in value.items():
                if isinstance(child, _CONTAINER):
                    one_side(child, (*path, f"f:{key}"), out)
                else:
                    out.add((*path, f"f:{key}"))
        elif isinstance(value, list):

            def walk(found: set[Path]) -> None:
                rule = rules.at(path)
                items = _index_items(value, rule, rules) if value else None
                if items is not None:
                    for element, item in items.items():
                        if isinstance(item, _CONTAINER) and not rule.items_atomic:
                            one_side(item, (*path, element), found)
                        else:
                            found.add((*path, element))
                if items is None or path:  # a leaf when empty, atomic or not keyable
                    found.add(path)

            _memo_walk(_memo_key("nodes", value, path, rules) if value else None, path, out, walk)
            return
        if path:
            out.add(path)

    def compare(lhs: Any, rhs: Any, path: Path) -> None:
        if lhs is missing:
            one_side(rhs, path, added)
            return
        if rhs is missing:
            one_side(lhs, path, removed)
            return
        # a null list or map is the node without items (a nil slice or map): filling it
        # or emptying it changes only the items (null against empty stays a leaf)
        if lhs is None and isinstance(rhs, _CONTAINER) and rhs:
            lhs = type(rhs)()
        elif rhs is None and isinstance(lhs, _CONTAINER) and lhs:
            rhs = type(lhs)()
        lkind = _shape(lhs)
        rkind = _shape(rhs)
        if lkind != rkind:
            # Type changed: report both sides' nodes.
            one_side(lhs, path, removed)
            one_side(rhs, path, added)
            added.discard(path)
            removed.discard(path)
            modified.add(path)
            return
        if lkind == "scalar" or (not lhs and not rhs):
            if not _equal(lhs, rhs):
                modified.add(path)
            return
        if lkind == "map":
            if path and atomic_map(path):  # owned whole: a leaf
                if not _equal(lhs, rhs):
                    modified.add(path)
                return
            for key, lvalue in lhs.items():
                rvalue = rhs.get(key, missing)
                if (fast and rvalue is not missing and not isinstance(lvalue, _CONTAINER)
                        and not isinstance(rvalue, _CONTAINER)):
                    # two scalars (or nulls): what compare() decides of them, without
                    # a call each (most fields are scalars)
                    if not _equal(lvalue, rvalue):
                        modified.add((*path, f"f:{key}"))
                    continue
                # the top-level fields (spec, data, ...) are often unchanged: one C-level
                # check instead of a walk
                # (an empty baseline value, as in a create, is not worth serialising both)
                if path or rvalue is missing or not lvalue or not _same_json(lvalue, rvalue):
                    compare(lvalue, rvalue, (*path, f"f:{key}"))
            for key, rvalue in rhs.items():
                if key not in lhs:
                    one_side(rvalue, (*path, f"f:{key}"), added)
            return
        rule = rules.at(path)
        litems = _index_items(lhs, rule, rules)
        ritems = _index_items(rhs, rule, rules)
        if litems is None or ritems is None:
            if not _equal(lhs, rhs):
                modified.add(path)
            return
        if rule.items_atomic:  # items owned whole: leaves
            for element, litem in litems.items():
                ritem = ritems.get(element, missing)
                if ritem is missing:
                    removed.add((*path, element))
                elif not _equal(litem, ritem):
                    modified.add((*path, element))
            added.update([(*path, e) for e in ritems if e not in litems])
            return
        for element, litem in litems.items():
            compare(litem, ritems.get(element, missing), (*path, element))
        for element, ritem in ritems.items():
            if element not in litems:
                one_side(ritem, (*path, element), added)

    try:
        compare(old, new, ())
    finally:
        compare = one_side = _spent  # break their cycle through the cells (_to_field_set)
    return _Comparison(_strip_own(added), _strip_own(modified), _strip_own(removed))


def _shape(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "list"
    return "scalar"


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _index_items(items: list[Any], rule: _Rule, rules: _Rules) -> dict[str, Any] | None:
    """Items of a keyed/set list by element; None when the list is atomic."""
    if rule.kind == "atomic":
        return None
    out: dict[str, Any] = {}
    for item, element in zip(items, rules.elements(items, rule), strict=True):
        if element is None:
            return None
        if rule.kind == "map" and isinstance(item, dict):
            out.setdefault(element, item)
        else:
            out.setdefault(element, _SCALAR_ITEM)
    return out


_SCALAR_ITEM = ""  # set items are leaves: their element is the whole value
