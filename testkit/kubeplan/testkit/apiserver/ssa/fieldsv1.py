"""Encoding field sets as ``fieldsV1`` and decoding them, both memoised."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kubeplan.testkit.apiserver.ssa.paths import FieldSet, Path, _Lru

_ELEMENT_ORDER = {"f:": 0, "k:": 1, "v:": 2, "i:": 3}


def _element_sort_key(element: str) -> tuple[int, str]:
    return (_ELEMENT_ORDER.get(element[:2], 4), element[2:])


# Encoding and decoding managedFields is much of the cost of a write (an apply of a
# Deployment most of all), and the same field sets recur: every object written by
# one controller from one template has the same sets, and each write decodes the sets
# the previous write encoded. Both directions are memoised on exact values - a field set
# (frozensets cache their hash) and the fieldsV1 JSON bytes - so the results are the
# same as computing them; each call returns a fresh dict, never a shared one.
# A set's encoding is kept as a ``_Rendering``: the JSON bytes, and the dict they decode
# to, which is shared (with the caches and with every object it is put in) and so must
# never be changed. ``_DECODED`` maps fieldsV1 bytes to ``(field set, rendering)``: an
# entry whose set a write leaves alone is rendered again without encoding it.
_ENCODED: _Lru = _Lru(512)
_DECODED: _Lru = _Lru(512)

_Rendering = tuple[bytes, dict[str, Any]]

#: element kinds whose plain string order is the encoder's order (f: < k: < v:)
_PLAIN_ORDER_KINDS = frozenset({"f:", "k:", "v:"})


def encode_fields(fields: Iterable[Path]) -> dict[str, Any]:
    """Encode a field set as ``fieldsV1`` (``.`` marks members that have children)."""
    members = fields if isinstance(fields, frozenset) else frozenset(fields)
    return orjson.loads(_encode(members)[0])  # type: ignore[no-any-return]


def _encode(members: frozenset[Path]) -> _Rendering:
    """``fieldsV1`` of a field set, as JSON bytes and as a shared dict (memoised)."""
    found: _Rendering | None = _ENCODED.lookup(members)
    if found is None:
        rendered = _encode_fields(members)
        found = (orjson.dumps(rendered), rendered)
        _ENCODED.store(members, found)
        _DECODED.store(found[0], (members, found))
    return found


def _encode_fields(members: frozenset[Path]) -> dict[str, Any]:
    """The trie of ``members`` with sorted keys: a member with children is marked by a
    leading ``.`` child, a leaf member is ``{}``.

    Built per top-level element (``f:metadata``, ``f:spec``, ...), and the larger of
    those subtrees are memoised: objects written from one template share their
    ``f:spec`` subtree exactly while ``f:metadata`` differs (owner uids, names), so a
    new object's set is mostly encoded already. Subtrees are only ever serialised,
    never changed, so sharing them is safe.
    """
    # sorted() and groupby run in C: the paths of one top-level element come out
    # together, already in the order _subtree inserts them
    ordered = sorted(members)
    if ordered and not ordered[0]:
        del ordered[0]  # the empty path: never encoded
    groups = [(head, list(paths)) for head, paths in itertools.groupby(ordered, _HEAD)]
    if any(head[:2] not in _PLAIN_ORDER_KINDS for head, _ in groups):
        return _encode_fields_general(members)
    root: dict[str, Any] = {}
    for head, paths in groups:
        key = frozenset(paths) if len(paths) >= _SUBTREE_MIN_PATHS else None
        sub = _SUBTREES.lookup(key) if key is not None else None
        if sub is None:
            sub = _subtree(paths)
            if sub is None:
                return _encode_fields_general(members)
            if key is not None:
                _SUBTREES.store(key, sub)
        root[head] = sub
    return root


_HEAD = operator.itemgetter(0)


#: rendered subtrees of one top-level element, by their paths (see ``_encode_fields``)
_SUBTREES: _Lru = _Lru(256)
_SUBTREE_MIN_PATHS = 8


def _subtree(paths: list[Path]) -> dict[str, Any] | None:
    """The rendered node of the one top-level element all (sorted) ``paths`` start
    with, or None when an element is of a kind whose order is not plain string order.

    Paths are inserted in sorted order, so every node receives its children already in
    order and a member is met before its descendants (its ``.`` comes first). Plain
    string order is the encoder's order for ``f:``/``k:``/``v:`` elements (``i:`` from
    a client's managedFields is not).
    """
    top: dict[str, Any] = {}
    marked: list[dict[str, Any]] = []
    plain = _PLAIN_ORDER_KINDS
    for path in paths:
        node = top
        for element in path[:-1]:
            child = node.get(element)
            if child is None:
                if element[:2] not in plain:
                    return None
                child = node[element] = {}
            node = child
        last = path[-1]
        if last[:2] not in plain:
            return None
        leaf = node[last] = {".": {}}
        marked.append(leaf)
    for leaf in marked:
        if len(leaf) == 1:  # no children: a leaf member renders as {}
            leaf.clear()
    subtree: dict[str, Any] = next(iter(top.values()))
    return subtree


def _encode_fields_general(members: frozenset[Path]) -> dict[str, Any]:
    # One trie, each member marked with a "." child, then rendered with sorted keys: a
    # member with children keeps its "." marker, a leaf member renders as {}.
    root: dict[str, Any] = {}
    for path in members:
        node = root
        for element in path:
            child = node.get(element)
            if child is None:
                child = node[element] = {}
            node = child
        if path:
            node["."] = {}
    return _render(root)


def _render(node: dict[str, Any]) -> dict[str, Any]:
    marked = "." in node
    if marked and len(node) == 1:
        return {}
    keys = [k for k in node if k != "."]
    head = keys[0][:2]
    if all(k[:2] == head for k in keys):  # one kind of element: plain string order
        keys.sort()
    else:
        keys.sort(key=_element_sort_key)
    out: dict[str, Any] = {".": {}} if marked else {}
    for key in keys:
        out[key] = _render(node[key])
    return out


def decode_fields(fields_v1: Mapping[str, Any] | None) -> FieldSet:
    """Decode ``fieldsV1`` into a field set."""
    return _decode(fields_v1)[0]


def _decode(fields_v1: Mapping[str, Any] | None) -> tuple[FieldSet, _Rendering | None]:
    """The field set of ``fieldsV1`` and its canonical rendering (None if unknown)."""
    try:
        data = orjson.dumps(fields_v1 or {})
    except TypeError:  # not plain JSON (a Mapping that is no dict): decode it directly
        return _decode_fields(fields_v1), None
    found: tuple[FieldSet, _Rendering | None] | None = _DECODED.lookup(data)
    if found is None:
        members = _decode_fields(fields_v1)
        # an empty set is never rendered (its entry is dropped): no canonical form
        found = (members, _encode(members) if members else None)
        _DECODED.store(data, found)
    return found


def _decode_fields(fields_v1: Mapping[str, Any] | None) -> FieldSet:
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], prefix: Path) -> None:
        children = [k for k in node if k != "."]
        if prefix and (not children or "." in node):
            out.add(prefix)
        for element in children:
            child = node[element]
            walk(child if isinstance(child, Mapping) else {}, (*prefix, element))

    walk(fields_v1 or {}, ())
    return frozenset(out)
