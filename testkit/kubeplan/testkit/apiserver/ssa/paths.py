"""Paths as ``fieldsV1`` spells them, and the list rules that name list items.

A path is a tuple of encoded elements (``f:<field>``, ``k:{...}``, ``v:...``);
``list_keys`` tells, per field path, whether a list is atomic, a set or keyed, and
:class:`_Rules` asks it once per path for the length of one operation.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

import attrs
import orjson

from kubeplan.testkit.apiserver.mergekeys import ListRule

Path = tuple[str, ...]
#: for isinstance in the walks: a constant tuple (``dict | list`` is built on every call)
_CONTAINER = (dict, list)
FieldSet = frozenset[Path]
ListKeys = Callable[[tuple[str, ...]], "ListRule | str | Sequence[str] | None"]


@attrs.frozen
class _Rule:
    kind: str  # "map" | "set" | "atomic" | "struct" (a granular struct or map)
    keys: tuple[str, ...] = ()
    #: list_keys named this node (False: nothing known, a list is then atomic and a map
    #: or struct granular); an atomic struct or map is one with a declared atomic rule
    declared: bool = True
    #: schema defaults of missing key fields (a port's protocol), as the item's key
    defaults: tuple[tuple[str, Any], ...] = ()
    #: the items are atomic structs (owned whole: an OwnerReference)
    items_atomic: bool = False
    #: the node exists in the Go zero value of its parent (a create adds no ``.`` for it)
    zero: bool = False


_ATOMIC = _Rule("atomic", declared=False)


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
            return _Rule("map", got.keys or ((got.merge_key,) if got.merge_key else ()),
                         defaults=got.key_defaults, items_atomic=got.items_atomic,
                         zero=got.zero)
        return _Rule(got.list_type, items_atomic=got.items_atomic, zero=got.zero)
    if isinstance(got, str):
        return _Rule("set") if got == "" else _Rule("map", (got,))
    keys = tuple(got)
    return _Rule("map", keys) if keys else _Rule("set")


class _Lru(OrderedDict):  # type: ignore[type-arg]
    """A small least-recently-used map (every memo table of this package)."""

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


#: the rule caches of ``memo`` callers' list_keys (each one pure function per resource),
#: shared by all their operations: id(list_keys) -> (list_keys, its rules by field path)
_SHARED_RULES: _Lru = _Lru(256)  # functions (CRDs come and go in long tests)
_SHARED_RULE_PATHS = 4096  # paths of one function (objects without a schema vary)


def _rule_cache(list_keys: ListKeys, memo: bool) -> dict[tuple[str, ...], _Rule]:
    if not memo:
        return {}
    known = _SHARED_RULES.lookup(id(list_keys))
    if known is None or known[0] is not list_keys:
        known = (list_keys, {})
        _SHARED_RULES.store(id(list_keys), known)
    elif len(known[1]) >= _SHARED_RULE_PATHS:
        known[1].clear()
    cache: dict[tuple[str, ...], _Rule] = known[1]
    return cache


class _Rules:
    """``list_keys`` answers for one operation, asked once per field path.

    Merging, field sets and comparison each look up every list they meet; a write of
    a Deployment meets the same dozen lists over and over. ``list_keys`` is a pure
    function of the path for the duration of one operation, so caching is exact; for a
    ``memo`` caller it is one for good, and its answers are kept across operations.
    """

    __slots__ = ("_atomic_names", "_cache", "_elements", "_list_keys", "memo")

    def __init__(self, list_keys: ListKeys, *, memo: bool = False) -> None:
        self._list_keys = list_keys
        #: the field names that can be atomic structs or maps, when list_keys tells
        #: (``atomic_names``): a map under any other name is granular without a lookup
        names = getattr(list_keys, "atomic_names", None)
        self._atomic_names: frozenset[str] | None = (
            names if isinstance(names, frozenset) else None)
        #: whether large lists' field sets may be memoised across operations (see
        #: ``_memo_key``): only for a caller whose list_keys is one pure function per
        #: resource and whose objects are plain decoded JSON (the server's writer)
        self.memo = memo
        self._cache = _rule_cache(list_keys, memo)
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

    def atomic_map(self, path: Path) -> bool:
        """Whether the struct or map at ``path`` is atomic (owned and merged whole)."""
        names = self._atomic_names
        if names is not None and path[-1][2:] not in names:
            return False
        rule = self.at(path)
        return rule.kind == "atomic" and rule.declared

    def atomic_map_fields(self, field_path: tuple[str, ...]) -> bool:
        """``atomic_map`` for a path given by its field names only."""
        names = self._atomic_names
        if names is not None and field_path[-1] not in names:
            return False
        rule = self.at_fields(field_path)
        return rule.kind == "atomic" and rule.declared

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
        if name in item:
            value = item[name]
        elif rule.defaults and rule.defaults[0][0] == name:
            value = rule.defaults[0][1]
        else:
            return None
        if type(value) in _ORJSON_EXACT:
            try:
                return f"{_key_prefix(name)}{orjson.dumps(value).decode()}}}"
            except TypeError:  # out-of-range int, lone surrogate: let json decide
                pass
        return "k:" + _json({name: value})
    key = {k: item[k] for k in rule.keys if k in item}
    if rule.defaults and len(key) < len(rule.keys):
        # structured-merge-diff keys an item lacking a key field by the field's schema
        # default: {containerPort: 80} is the stored {containerPort: 80, protocol: TCP}
        defaults = dict(rule.defaults)
        key = {k: item[k] if k in item else defaults[k] for k in rule.keys
               if k in item or k in defaults}
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
