"""Server-side apply and managedFields bookkeeping.

A field-set algorithm modelled on sigs.k8s.io/structured-merge-diff (``merge.Updater``)
and apimachinery's ``managedfields`` package:

* A *field set* is a set of paths; a path is a tuple of encoded path elements
  exactly as they appear in ``fieldsV1``: ``f:<field>``, ``k:{"name":"a"}`` for
  items of keyed lists, ``v:"x"`` for items of set lists.
* **Apply** (``apply``): the config's field set becomes the applier's set; the
  config is merged into the live object (maps recursively, keyed and set lists per
  item, other lists atomically); fields the applier owned before but no longer
  applies are removed unless some other manager (Apply or Update) still owns them;
  a field another manager owns whose value the apply changes is a conflict
  (:class:`ApplyConflict`) unless ``force``, which moves ownership.
* **Update** (``record_update``, for create/update/patch): the fields that changed
  become the writer's (merged with its previous set), are taken away from every
  other manager, removed fields leave every set, and empty entries disappear.

Ownership entries are keyed by (manager, operation, subresource) like the real
server, so ``kubectl`` applying and ``kubectl`` editing are two owners.

Simplified compared with the real server (documented so tests do not rely on it):

* No schema: every object is treated as a struct, so map entries are never
  members on their own (real: entries of ``map[string]T`` with non-scalar ``T`` get a
  ``.`` marker) and lists are atomic unless ``list_keys`` says otherwise.
* Key fields missing from an item of a keyed list are left out of its ``k:`` key
  (the real server uses schema defaults such as ``protocol: TCP`` or rejects it).
* A ``null`` in an apply config removes the field (and the applier owns it).
* No version conversion of managed fields, no cap on the number of Update managers
  (``ancient-changes``), no ``last-applied-configuration`` annotation upgrade.
* Status handling: the store pre-filters nothing. Pass ``has_status_subresource``;
  then for the main resource ``status`` is dropped from the config and kept from the
  live object, and for ``subresource="status"`` only ``status`` is taken from the
  config (everything else stays as live).
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

import attrs
import orjson

from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.mergekeys import ListRule

__all__ = [
    "ApplyConflict",
    "ApplyError",
    "ListKeys",
    "apply",
    "decode_fields",
    "encode_fields",
    "path_to_string",
    "record_update",
]

Path = tuple[str, ...]
#: for isinstance in the walks: a constant tuple (``dict | list`` is built on every call)
_CONTAINER = (dict, list)
FieldSet = frozenset[Path]
ListKeys = Callable[[tuple[str, ...]], "ListRule | str | Sequence[str] | None"]

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
#: metadata fields an apply config may carry but never sets (they are preconditions or
#: server state); the live values win.
_KEEP_FROM_LIVE = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
)


class ApplyError(ValueError):
    """An apply body the server rejects before merging (HTTP 400 BadRequest)."""


class ApplyConflict(Exception):
    """Fields owned by other managers would change (HTTP 409 Conflict).

    ``conflicts`` holds ``(manager, path)`` pairs with paths like ``.spec.replicas``;
    ``message`` is the real server's text and ``causes`` the ``details.causes``
    entries (type ``FieldManagerConflict``).
    """

    def __init__(
        self, conflicts: list[tuple[str, str]], message: str, causes: list[dict[str, str]]
    ) -> None:
        super().__init__(message)
        self.conflicts = conflicts
        self.message = message
        self.causes = causes


def _conflict_error(found: list[tuple[_Entry, Path]]) -> ApplyConflict:
    """Build the error like apimachinery ``NewConflictError``/``getConflictMessage``."""
    ordered = sorted(found, key=lambda pair: (pair[0].sort_ident, pair[1]))
    conflicts = [(entry.manager, path_to_string(path)) for entry, path in ordered]
    causes = [
        {
            "type": "FieldManagerConflict",
            "message": f"conflict with {entry.label}",
            "field": path_to_string(path),
        }
        for entry, path in ordered
    ]
    if len(ordered) == 1:
        entry, path = ordered[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {entry.label}: {path_to_string(path)}"
        )
    else:
        lines: list[str] = []
        last: tuple[str, ...] | None = None
        for entry, path in ordered:
            if entry.sort_ident != last:
                lines.append(f"conflicts with {entry.label}:")
                last = entry.sort_ident
            lines.append(f"- {path_to_string(path)}")
        message = f"Apply failed with {len(ordered)} conflicts: " + "\n".join(lines)
    return ApplyConflict(conflicts, message, causes)


# --------------------------------------------------------------------------------------
# Paths and list rules


@attrs.frozen
class _Rule:
    kind: str  # "map" | "set" | "atomic"
    keys: tuple[str, ...] = ()


_ATOMIC = _Rule("atomic")


def _rule_for(list_keys: ListKeys, field_path: tuple[str, ...]) -> _Rule:
    got = list_keys(field_path)
    if got is None:
        return _ATOMIC
    try:
        rule = _CONVERTED.get(got)
    except TypeError:  # an unhashable answer (a list of keys)
        return _convert_rule(got)
    if rule is None:
        rule = _CONVERTED[got] = _convert_rule(got)
    return rule


#: ``_convert_rule`` by answer: the answers are few (a table of list rules)
_CONVERTED: dict[Any, _Rule] = {}


def _convert_rule(got: Any) -> _Rule:
    if isinstance(got, ListRule):
        if got.list_type == "map":
            return _Rule("map", got.keys or ((got.merge_key,) if got.merge_key else ()))
        return _Rule(got.list_type)
    if isinstance(got, str):
        return _Rule("set") if got == "" else _Rule("map", (got,))
    keys = tuple(got)
    return _Rule("map", keys) if keys else _Rule("set")


class _Rules:
    """``list_keys`` answers for one operation, asked once per field path.

    Merging, field sets and comparison each look up every list they meet; a write of
    a Deployment meets the same dozen lists over and over. ``list_keys`` is a pure
    function of the path for the duration of one operation, so caching is exact.
    """

    __slots__ = ("_cache", "_elements", "_list_keys", "memo")

    def __init__(self, list_keys: ListKeys, *, memo: bool = False) -> None:
        self._list_keys = list_keys
        #: whether large lists' field sets may be memoised across operations (see
        #: ``_memo_key``): only for a caller whose list_keys is one pure function per
        #: resource and whose objects are plain decoded JSON (the server's writer)
        self.memo = memo
        self._cache: dict[tuple[str, ...], _Rule] = {}
        # (id(list), id(rule)) -> (the list, its items' elements). One list is keyed by field
        # sets, merging and comparison in turn; the entry holds the list, so its id
        # cannot be reused by another during the operation.
        self._elements: dict[tuple[int, int], tuple[list[Any], list[str | None]]] = {}

    def at(self, path: Path) -> _Rule:
        """The rule of the list at ``path`` (looked up by its field names)."""
        field_path = _field_path(path)
        rule = self._cache.get(field_path)
        if rule is None:
            rule = self._cache[field_path] = _rule_for(self._list_keys, field_path)
        return rule

    def at_fields(self, field_path: tuple[str, ...]) -> _Rule:
        """``at`` for a path given by its field names only."""
        rule = self._cache.get(field_path)
        if rule is None:
            rule = self._cache[field_path] = _rule_for(self._list_keys, field_path)
        return rule

    @property
    def list_keys(self) -> ListKeys:
        return self._list_keys

    def elements(self, items: list[Any], rule: _Rule) -> list[str | None]:
        """``_item_element`` of every item of a list (memoised for the operation)."""
        key = (id(items), id(rule))  # rules live in the caches: their ids are stable
        hit = self._elements.get(key)
        if hit is not None and hit[0] is items:
            return hit[1]
        elements = [_item_element(i, rule) for i in items]
        self._elements[key] = (items, elements)
        return elements


def _keyed(elements: list[str | None]) -> TypeGuard[list[str]]:
    """Whether every item of a list has an element (else the list is atomic)."""
    return None not in elements


def _field_path(path: Path) -> tuple[str, ...]:
    """Field names only (list item elements dropped): the list_keys lookup key."""
    return tuple([p[2:] for p in path if p.startswith("f:")])


#: scalar types orjson renders exactly like ``json.dumps(..., ensure_ascii=False)``
#: (floats are not among them: the two print some of them differently)
_ORJSON_EXACT = (str, int, bool, type(None))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_fast(value: Any) -> str:
    """``_json`` of a scalar or a flat dict of scalars; orjson when that is exact."""
    if isinstance(value, dict):
        exact = all(type(v) in _ORJSON_EXACT for v in value.values())
    else:
        exact = type(value) in _ORJSON_EXACT
    if exact:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # out-of-range int, lone surrogate: let json decide
            pass
    return _json(value)


def _item_element(item: Any, rule: _Rule) -> str | None:
    """The ``k:``/``v:`` element naming a list item, or None if it cannot be keyed."""
    if rule.kind == "set":
        return None if isinstance(item, _CONTAINER) else "v:" + _json_fast(item)
    if not isinstance(item, dict):
        return None
    if len(rule.keys) == 1 and type(rule.keys[0]) is str:  # most lists: no dict to build
        name = rule.keys[0]
        if name not in item:
            return None
        value = item[name]
        if type(value) in _ORJSON_EXACT:
            try:
                return f"{_key_prefix(name)}{orjson.dumps(value).decode()}}}"
            except TypeError:  # out-of-range int, lone surrogate: let json decide
                pass
        return "k:" + _json({name: value})
    key = {k: item[k] for k in rule.keys if k in item}
    return "k:" + _json_fast(key) if key else None


@functools.lru_cache(maxsize=256)
def _key_prefix(name: str) -> str:
    """``k:{"<name>":`` as ``_json`` writes a one-key object."""
    return "k:{" + _json(name) + ":"


def path_to_string(path: Path) -> str:
    """Render a path like structured-merge-diff: ``.spec.containers[name="a"].image``."""
    out: list[str] = []
    for element in path:
        kind, body = element[:2], element[2:]
        if kind == "f:":
            out.append("." + body)
        elif kind == "k:":
            fields = json.loads(body)
            out.append("[" + ",".join(f"{k}={_json(v)}" for k, v in fields.items()) + "]")
        elif kind == "v:":
            out.append(f"[={body}]")
        else:
            out.append(f"[{body}]")
    return "".join(out)


# --------------------------------------------------------------------------------------
# fieldsV1 encoding


_ELEMENT_ORDER = {"f:": 0, "k:": 1, "v:": 2, "i:": 3}


def _element_sort_key(element: str) -> tuple[int, str]:
    return (_ELEMENT_ORDER.get(element[:2], 4), element[2:])


class _Lru(OrderedDict):  # type: ignore[type-arg]
    """A small least-recently-used map (the encode/decode caches below)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def lookup(self, key: Any) -> Any:
        found = self.get(key)
        if found is not None:
            self.move_to_end(key)
        return found

    def store(self, key: Any, value: Any) -> None:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)


# Encoding and decoding managedFields is most of the cost of a write (profiled: a third
# of an apply of a Deployment), and the same field sets recur: every object written by
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


# --------------------------------------------------------------------------------------
# Field sets of values


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


# Objects written from one template share large lists exactly (a Deployment's
# containers, with their env, ports and probes), and walking them is most of the cost of
# a create. The nodes a walk finds below a list depend only on the list's JSON, its field
# path and the resource's list rules, so they are memoised by exactly those, as paths
# relative to the list, and put back under the list's path.
_LIST_NODES: _Lru = _Lru(256)
_MEMO_MIN_BYTES = 512


def _memo_key(walk: str, items: list[Any], path: Path, rules: _Rules) -> tuple[Any, ...] | None:
    """The memo key of a walk below a (large) list, or None when not memoised."""
    if not rules.memo or not path:
        return None
    return _list_memo_key(walk, items, _field_path(path), rules)


def _list_memo_key(walk: str, items: list[Any], fields: tuple[str, ...],
                   rules: _Rules) -> tuple[Any, ...] | None:
    """``(walk, list rules, field path, the list's JSON)``, or None for a small list."""
    try:
        data = orjson.dumps(items)
    except TypeError:
        return None
    if len(data) < _MEMO_MIN_BYTES:
        return None
    return (walk, rules.list_keys, fields, data)


def _memo_walk(
    key: tuple[Any, ...] | None,
    path: Path,
    out: set[Path],
    walk: Callable[[set[Path]], None],
) -> None:
    """``walk(out)``, or the memoised result of the same walk, added to ``out``."""
    if key is None:
        walk(out)
        return
    known: frozenset[Path] | None = _LIST_NODES.lookup(key)
    if known is None:
        found: set[Path] = set()
        walk(found)
        cut = len(path)
        known = frozenset(p[cut:] for p in found)
        _LIST_NODES.store(key, known)
        out |= found
        return
    out.update([(*path, *rel) for rel in known])


def _to_field_set(value: Any, rules: _Rules) -> FieldSet:
    """structured-merge-diff ``ToFieldSet`` for a struct-only schema."""

    def visit_map(m: Mapping[str, Any], path: Path, into: set[Path]) -> None:
        add = into.add
        for key, child in m.items():
            p = (*path, f"f:{key}")
            if isinstance(child, dict):
                if child:
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
            for item, element in zip(v, elements, strict=True):
                ip = (*path, element)
                found.add(ip)
                if isinstance(item, dict):
                    visit_map(item, ip, found)

        _memo_walk(_memo_key("fields", v, path, rules) if v else None, path, into, walk)

    out: set[Path] = set()
    if isinstance(value, dict):
        visit_map(value, (), out)
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


def _compare(old: Any, new: Any, rules: _Rules) -> _Comparison:
    """structured-merge-diff ``Compare``: leaves, plus added/removed inner nodes."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    missing = _MISSING

    def one_side(value: Any, path: Path, out: set[Path]) -> None:
        """``compare`` of a value against a missing one: every node of ``value`` goes
        to ``out`` (the leaves and, as added/removed inner nodes, the containers).
        Scalar children are added here rather than by a call each (most nodes are)."""
        if isinstance(value, dict):
            if not value:
                out.add(path)
                return
            for key, child in value.items():
                if isinstance(child, _CONTAINER):
                    one_side(child, (*path, f"f:{key}"), out)
                else:
                    out.add((*path, f"f:{key}"))
        elif isinstance(value, list):

            def walk(found: set[Path]) -> None:
                items = _index_items(value, rules.at(path), rules) if value else None
                if items is not None:
                    for element, item in items.items():
                        if isinstance(item, _CONTAINER):
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
            for key, lvalue in lhs.items():
                rvalue = rhs.get(key, missing)
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
        for element, litem in litems.items():
            compare(litem, ritems.get(element, missing), (*path, element))
        for element, ritem in ritems.items():
            if element not in litems:
                one_side(ritem, (*path, element), added)

    compare(old, new, ())
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


# --------------------------------------------------------------------------------------
# Merging a config into a live object


def _merge(lhs: Any, rhs: Any, path: Path, rules: _Rules) -> Any:
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        out = dict(lhs)
        for key, value in rhs.items():
            if value is None:
                out.pop(key, None)
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


# --------------------------------------------------------------------------------------
# managedFields entries


@attrs.frozen
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str | None
    fields: FieldSet
    #: ``fieldsV1`` of ``fields`` when already known (decoded from the live object): an
    #: entry a write leaves alone is not encoded again
    encoded: _Rendering | None = attrs.field(default=None, eq=False, repr=False)

    def with_fields(self, fields: FieldSet) -> _Entry:
        """This entry owning ``fields``, a subset of its own set."""
        if len(fields) == len(self.fields):
            return self
        return _Entry(
            self.manager, self.operation, self.api_version, self.time, self.subresource, fields
        )

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource or "")

    @property
    def sort_ident(self) -> tuple[str, ...]:
        return (self.manager, self.operation, self.api_version, self.subresource or "")

    @property
    def label(self) -> str:
        """apimachinery ``printManager`` text."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_dict(self, shared: bool) -> dict[str, Any]:
        """The managedFields entry; ``shared``: its fieldsV1 is the shared rendering."""
        rendering = self.encoded if self.encoded is not None else _encode(self.fields)
        return _entry_dict(self.manager, self.operation, self.api_version, self.time,
                           rendering[1] if shared else orjson.loads(rendering[0]),
                           self.subresource)


def _entry_dict(manager: str, operation: str, api_version: str, time: str | None,
                fields_v1: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    """A managedFields entry, its keys in the API server's order."""
    out: dict[str, Any] = {"manager": manager, "operation": operation,
                           "apiVersion": api_version}
    if time is not None:
        out["time"] = time
    out["fieldsType"] = "FieldsV1"
    out["fieldsV1"] = fields_v1
    if subresource:
        out["subresource"] = subresource
    return out

def _entries(obj: Mapping[str, Any] | None) -> list[_Entry]:
    if not obj:
        return []
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    out: list[_Entry] = []
    for item in raw:
        if not isinstance(item, Mapping) or (not item.get("manager") and not item.get("operation")):
            continue
        fields, encoded = _decode(item.get("fieldsV1"))
        out.append(
            _Entry(
                manager=str(item.get("manager", "")),
                operation=str(item.get("operation", "Update")),
                api_version=str(item.get("apiVersion", "")),
                time=item.get("time"),
                subresource=item.get("subresource") or None,
                fields=fields,
                encoded=encoded,
            )
        )
    return out


def _sorted_entries(entries: Iterable[_Entry], shared: bool) -> list[dict[str, Any]]:
    """Order like apimachinery's encoder: operation, time, manager, apiVersion."""
    ordered = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource or ""),
    )
    return [e.to_dict(shared) for e in ordered]


def _with_managed_fields(
    obj: dict[str, Any], entries: Iterable[_Entry], shared: bool
) -> dict[str, Any]:
    return _with_managed(obj, _sorted_entries(entries, shared))


def _with_managed(obj: dict[str, Any], encoded: list[dict[str, Any]]) -> dict[str, Any]:
    """``obj`` with these managedFields entries (none: without managedFields)."""
    metadata = dict(obj.get("metadata") or {})
    if encoded:
        metadata["managedFields"] = encoded
    else:
        metadata.pop("managedFields", None)
    out = dict(obj)
    out["metadata"] = metadata
    return out


def _no_list_keys(path: tuple[str, ...]) -> None:
    return None


# --------------------------------------------------------------------------------------
# Public operations


def _scope(
    obj: Mapping[str, Any] | None, subresource: str | None, has_status_subresource: bool
) -> dict[str, Any]:
    """The part of an object a write may touch: all but status, or only status."""
    if obj is None:
        return {}
    if subresource == "status":
        return {"status": copy_obj(obj["status"])} if "status" in obj else {}
    out = copy_obj(dict(obj))
    if has_status_subresource:
        out.pop("status", None)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out


def _config_scope(
    config: Mapping[str, Any], subresource: str | None, has_status_subresource: bool
) -> dict[str, Any]:
    """``_scope`` of an apply config without the deep copy.

    Only the top level and ``metadata`` of the result are ever changed, and nothing
    built from it shares the config's dicts or lists (``_merge`` rebuilds every value
    it takes from the config), so the caller's config stays untouched.
    """
    if subresource == "status":
        return {"status": config["status"]} if "status" in config else {}
    out = dict(config)
    if has_status_subresource:
        out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    force: bool,
    list_keys: ListKeys = _no_list_keys,
    now: str,
    subresource: str | None = None,
    has_status_subresource: bool = False,
    shared: bool = False,
) -> dict[str, Any]:
    """Server-side apply ``config`` as ``manager``; returns the new object.

    The result has no new resourceVersion (the store assigns it). Raises
    :class:`ApplyConflict` when other managers own fields whose value would change
    and ``force`` is false, :class:`ApplyError` for an unusable body. ``shared``: the
    result's ``fieldsV1`` dicts are shared with other results and this module's caches
    (saves rebuilding them; for a store that never changes the objects it keeps).
    """
    if not isinstance(config, dict):
        raise ApplyError(f"apply configuration must be an object, got {type(config).__name__}")
    config_meta = config.get("metadata") or {}
    if not isinstance(config_meta, dict):
        raise ApplyError("metadata must be an object")
    if config_meta.get("managedFields") is not None:
        raise ApplyError("metadata.managedFields must be nil")
    if not manager:
        raise ApplyError("fieldManager: Required value: is required for apply patch")

    rules = _Rules(list_keys, memo=shared)
    entries = _entries(live)
    api_version = str(config.get("apiVersion") or (live or {}).get("apiVersion") or "")
    me = (manager, "Apply", subresource or "")
    previous = next((e for e in entries if e.ident == me), None)
    others = [e for e in entries if e.ident != me]

    # What this write may touch.
    applied = _config_scope(config, subresource, has_status_subresource)
    applied_meta = dict(applied.get("metadata") or {})
    for key in _KEEP_FROM_LIVE:
        applied_meta.pop(key, None)
    if "metadata" in applied:
        applied["metadata"] = applied_meta
    if live is None and subresource != "status":
        live_part = {}
    else:
        live_part = _scope(live, subresource, has_status_subresource)

    new_set = _to_field_set(applied, rules)
    merged = _merge(live_part, applied, (), rules)

    # Prune what this applier dropped and nobody else owns (nothing when it still
    # applies every field it owned).
    if previous is not None and not previous.fields <= new_set:
        owned_now = _closure(new_set)
        for other in others:
            owned_now |= _closure(other.fields)
        last = _closure(previous.fields)
        doomed = sorted((p for p in last - owned_now if not _is_stripped(p)), key=len)
        removed_roots: list[Path] = []
        for path in doomed:
            if any(path[: len(r)] == r for r in removed_roots):
                continue
            _remove_path(merged, path)
            removed_roots.append(path)

    # What changed matters only to take fields from other managers and to keep the
    # previous timestamp of an unchanged object; a first apply with no other manager
    # needs neither.
    changed: FieldSet = frozenset()
    removed: FieldSet = frozenset()
    if others or previous is not None:
        comparison = _compare(live_part, merged, rules)
        changed = comparison.added | comparison.modified
        removed = comparison.removed
    found: list[tuple[_Entry, Path]] = []
    updated: list[_Entry] = []
    for other in others:
        clash = other.fields & changed
        found.extend((other, p) for p in clash)
        updated.append(other.with_fields(other.fields - clash - removed))
    if found and not force:
        raise _conflict_error(found)

    object_changed = bool(changed or removed)
    time = now if (object_changed or previous is None) else previous.time
    updated.append(_Entry(manager, "Apply", api_version, time, subresource, new_set))

    result = _assemble(live, merged, subresource, has_status_subresource, config)
    return _with_managed_fields(result, updated, shared)


def _assemble(
    live: Mapping[str, Any] | None,
    part: dict[str, Any],
    subresource: str | None,
    has_status_subresource: bool,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """Put the written part back together with what the write could not touch."""
    if subresource == "status":
        out = copy_obj(dict(live or {}))
        if "status" in part:
            out["status"] = part["status"]
        else:
            out.pop("status", None)
        return out
    out = dict(part)
    if live is not None:
        live_meta = live.get("metadata") or {}
        meta = dict(out.get("metadata") or {})
        for key in _KEEP_FROM_LIVE:
            if key in live_meta:
                # managedFields only holds its place: _with_managed_fields replaces it
                value = live_meta[key]
                keep = key == "managedFields" or not isinstance(value, _CONTAINER)
                meta[key] = value if keep else copy_obj(value)
        for key in ("name", "namespace"):
            if key in live_meta and key not in meta:
                meta[key] = live_meta[key]
        out["metadata"] = meta
        if has_status_subresource and "status" in live:
            out["status"] = copy_obj(live["status"])
    for key in ("apiVersion", "kind"):
        if key in config:
            out[key] = config[key]
    return out


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    operation: str = "Update",
    now: str,
    subresource: str | None = None,
    list_keys: ListKeys = _no_list_keys,
    builtin: bool = False,
    shared: bool = False,
) -> dict[str, Any]:
    """Record a non-apply write (create, update, patch) in ``new``'s managedFields.

    Changed fields (all fields for a create, ``old=None``) become ``manager``'s,
    leave every other manager's set, removed fields leave all sets, and entries that
    end up empty are dropped. ``builtin`` makes a create treat top-level ``spec`` and
    ``status`` as pre-existing (typed Go structs), so they carry no ``.`` marker.
    ``managedFields`` in ``new`` is taken as the client sent it (``[{}]`` resets).
    ``shared`` as for :func:`apply`.
    """
    incoming = (new.get("metadata") or {}).get("managedFields")
    if incoming is not None and _is_reset(incoming):
        return _with_managed_fields(new, [], shared)
    if old is None and not incoming and subresource is None and shared and _FAST_CREATES:
        return _recorded_create(new, manager, operation, now, list_keys, builtin)
    base_entries = _entries(new) if incoming else _entries(old)
    baseline: dict[str, Any]
    if old is None:
        baseline = {"metadata": {}}
        if builtin:
            for key in ("spec", "status"):
                if key in new:
                    baseline[key] = {}
    else:
        baseline = old  # only read: _scope_for_update copies what it changes
    comparison = _compare(
        _scope_for_update(baseline, subresource),
        _scope_for_update(new, subresource),
        _Rules(list_keys, memo=shared),
    )
    changed = comparison.added | comparison.modified
    removed = comparison.removed
    ident = (manager, operation, subresource or "")
    previous = next((e for e in base_entries if e.ident == ident), None)
    entries: list[_Entry] = []
    for entry in base_entries:
        if entry.ident == ident:
            continue
        entries.append(entry.with_fields(entry.fields - changed - removed))
    mine = frozenset((previous.fields - removed if previous else frozenset()) | changed)
    api_version = str(new.get("apiVersion") or "")
    if changed:
        entries.append(_Entry(manager, operation, api_version, now, subresource, mine))
    elif previous is not None:
        entries.append(previous.with_fields(mine))
    return _with_managed_fields(new, entries, shared)


# --------------------------------------------------------------------------------------
# A create's field set, rendered directly
#
# A create (no old object, no managedFields sent) gives its manager every node of the
# object: ``_compare`` against the empty baseline walks the object into a set of paths,
# which ``_encode_fields`` sorts and folds back into a trie shaped like the object. Built
# directly, the trie skips both steps (paths, sets, sorting): a third of the fake API
# server's work while an operator creates children. The rules, restated from those two:
#
# * every node of the object is a member (``.`` when it has children, ``{}`` otherwise),
#   except the root and the baseline's top-level maps (``metadata``; ``spec`` and
#   ``status`` of built-in types), whose children are members but not they themselves;
#   an empty baseline map contributes nothing;
# * a list is a member; its items are members (by ``k:``/``v:`` element, the first of
#   duplicates) unless it is atomic, empty or has an item that cannot be keyed;
# * the server-owned paths (``_STRIPPED``) are not members;
# * siblings are in plain string order (``f:`` < ``k:`` < ``v:``).
#
# ``test_ssa`` checks it against the general path for arbitrary objects and list rules.
# Large lists (a Deployment's containers) are memoised by their JSON like the general
# path's walks; memoised nodes are shared, so this is only used when the caller keeps the
# result unchanged (``shared``).

_CREATE_NODES: _Lru = _Lru(256)
#: the rendering of a leaf member, shared by every stored object (never changed, like
#: every shared rendering: 150 fresh empty dicts would add 10 KB to a Deployment)
_LEAF: dict[str, Any] = {}


def _create_fields_v1(new: Mapping[str, Any], rules: _Rules,
                      builtin: bool) -> dict[str, Any]:
    """``fieldsV1`` of a create of ``new`` (``metadata.managedFields`` ignored)."""
    baseline = ("metadata", "spec", "status") if builtin else ("metadata",)
    root: dict[str, Any] = {}
    for key in sorted(new):
        value = new[key]
        if key in baseline and isinstance(value, dict):
            if value:
                node = _map_children(value, (key,), rules, metadata=key == "metadata")
                if node:
                    root[f"f:{key}"] = node
            continue
        node = _member_node(value, (key,), rules)
        if key in _STRIPPED_TOP:
            node = _unmarked(node)
            if not node:
                continue
        root[f"f:{key}"] = node
    return root


#: top-level fields whose own path is stripped (``_STRIPPED``); their children are not
_STRIPPED_TOP = frozenset({"apiVersion", "kind", "metadata"})


def _unmarked(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without its own membership (its children stay)."""
    return {k: v for k, v in node.items() if k != "."} if "." in node else node


def _map_children(value: Mapping[str, Any], fields: tuple[str, ...], rules: _Rules, *,
                  metadata: bool = False) -> dict[str, Any]:
    """The children of a (non-member) map node, in order."""
    out: dict[str, Any] = {}
    for key in sorted(value):
        node = _member_node(value[key], (*fields, key), rules)
        if metadata and key in _SERVER_METADATA:
            node = _unmarked(node)
            if not node:
                continue
        out[f"f:{key}"] = node
    return out


def _member_node(value: Any, fields: tuple[str, ...], rules: _Rules) -> dict[str, Any]:
    """The rendered node of a member ``value`` (field names ``fields``, for list rules)."""
    if isinstance(value, dict):
        if not value:
            return _LEAF
        out: dict[str, Any] = {".": _LEAF}
        for key in sorted(value):
            child = value[key]
            out[f"f:{key}"] = (_member_node(child, (*fields, key), rules)
                               if isinstance(child, _CONTAINER) else _LEAF)
        return out
    if isinstance(value, list):
        if not value:
            return _LEAF
        rule = rules.at_fields(fields)
        if rule.kind == "atomic":
            return _LEAF
        key = _list_memo_key("create", value, fields, rules) if rules.memo else None
        if key is not None:
            found: dict[str, Any] | None = _CREATE_NODES.lookup(key)
            if found is not None:
                return found
        node = _list_node(value, rule, fields, rules)
        if key is not None:
            _CREATE_NODES.store(key, node)
        return node
    return _LEAF


def _list_node(value: list[Any], rule: _Rule, fields: tuple[str, ...],
               rules: _Rules) -> dict[str, Any]:
    elements = rules.elements(value, rule)
    if not _keyed(elements):
        return _LEAF  # an item that cannot be keyed: the list is atomic
    items: dict[str, Any] = {}
    for item, element in zip(value, elements, strict=True):
        if element not in items:
            items[element] = item if rule.kind == "map" and isinstance(item, dict) else None
    out: dict[str, Any] = {".": _LEAF}
    for element in sorted(items):
        item = items[element]
        out[element] = _member_node(item, fields, rules) if item is not None else _LEAF
    return out


#: the direct create path (``_create_fields_v1``); tests turn it off to compare
_FAST_CREATES = True


def _recorded_create(new: dict[str, Any], manager: str, operation: str, now: str,
                     list_keys: ListKeys, builtin: bool) -> dict[str, Any]:
    fields = _create_fields_v1(new, _Rules(list_keys, memo=True), builtin)
    entry = _entry_dict(manager, operation, str(new.get("apiVersion") or ""), now, fields, None)
    return _with_managed(new, [entry] if fields else [])


def _scope_for_update(obj: Mapping[str, Any], subresource: str | None) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    meta.pop("managedFields", None)
    out["metadata"] = meta
    if subresource == "status":
        return {"status": out["status"]} if "status" in out else {}
    return out


def _is_reset(managed_fields: Any) -> bool:
    """``[{}]`` (a single empty entry) asks the server to strip managedFields."""
    return (
        isinstance(managed_fields, list)
        and len(managed_fields) == 1
        and managed_fields[0] in ({}, None)
    )
