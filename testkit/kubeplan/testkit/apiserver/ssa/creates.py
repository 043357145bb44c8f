"""A create's field set, rendered directly.

A create (no old object, no managedFields sent) gives its manager every node of the
object: ``_compare`` against the empty baseline walks the object into a set of paths,
which ``_encode_fields`` sorts and folds back into a trie shaped like the object. Built
directly, the trie skips both steps (paths, sets, sorting), which were much of the fake
API server's work while an operator creates children. The rules, restated from those two:

* every node of the object is a member (``.`` when it has children, ``{}`` otherwise),
  except the root and the baseline's top-level maps (``metadata``; ``spec`` and
  ``status`` of built-in types), whose children are members but not they themselves;
  an empty baseline map contributes nothing;
* a list is a member; its items are members (by ``k:``/``v:`` element, the first of
  duplicates) unless it is atomic, empty or has an item that cannot be keyed;
* the server-owned paths (``_STRIPPED``) are not members;
* siblings are in plain string order (``f:`` < ``k:`` < ``v:``).

``test_ssa`` checks it against the general path for arbitrary objects and list rules.
Large lists (a Deployment's containers) are memoised by their JSON like the general
path's walks, and map nodes rendered alike are one node (``_shared_map``); shared nodes
are never changed, so this is only used when the caller keeps the result unchanged
(``shared``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplan.testkit.apiserver.ssa.fieldsets import _SERVER_METADATA
from kubeplan.testkit.apiserver.ssa.managedfields import _entry_dict, _with_managed
from kubeplan.testkit.apiserver.ssa.memo import _list_memo_key
from kubeplan.testkit.apiserver.ssa.paths import _CONTAINER, ListKeys, _keyed, _Lru, _Rule, _Rules

_CREATE_NODES: _Lru = _Lru(256)
#: map nodes by their keys and their children's identities (see ``_shared_map``)
_MAP_NODES: _Lru = _Lru(4096)
#: the rendering of a leaf member, shared by every stored object (never changed, like
#: every shared rendering: a fresh empty dict per leaf would grow every stored object)
_LEAF: dict[str, Any] = {}


def _create_fields_v1(new: Mapping[str, Any], rules: _Rules,
                      builtin: bool) -> dict[str, Any]:
    """``fieldsV1`` of a create of ``new`` (``metadata.managedFields`` ignored)."""
    baseline = ("metadata", "spec", "status") if builtin else ("metadata",)
    root: dict[str, Any] = {}
    for key in sorted(new):
        value = new[key]
        if isinstance(value, dict) and (
            key in baseline
            or (rules.at_fields((key,)).zero and not rules.atomic_map_fields((key,)))
        ):
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
    return _shared_map(root)


def _shared_map(node: dict[str, Any]) -> dict[str, Any]:
    """The node rendered alike before, if one is remembered, else ``node`` (remembered).

    Objects of one shape render alike (every ConfigMap with the keys ``a`` and ``b`` has
    the same ``f:data`` node, every Pod of a template the same ``f:labels``); sharing
    the node spares each stored object dicts that the collector would walk on every full
    collection, for as long as the object is stored. A key names the children by
    identity: they are shared nodes too, and the remembered node keeps its children
    alive, so an identity in a remembered key cannot belong to another object meanwhile.
    """
    key = (*node, *map(id, node.values()))  # the names, then the children (built in C)
    found: dict[str, Any] | None = _MAP_NODES.lookup(key)
    if found is not None:
        return found
    _MAP_NODES.store(key, node)
    return node


#: top-level fields whose own path is stripped (``_STRIPPED``); their children are not
_STRIPPED_TOP = frozenset({"apiVersion", "kind", "metadata"})


def _unmarked(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without its own membership (its children stay)."""
    return _shared_map({k: v for k, v in node.items() if k != "."}) if "." in node else node


def _map_children(value: Mapping[str, Any], fields: tuple[str, ...], rules: _Rules, *,
                  metadata: bool = False) -> dict[str, Any]:
    """The children of a (non-member) map node, in order.

    The node is in the Go zero value the create is compared with, and so are those of
    its children the schema marks ``zero`` (non-pointer structs, fields without
    ``omitempty``): a struct among them is no member either (an empty one is not named
    at all), a non-empty list's items are members but not the list.
    """
    out: dict[str, Any] = {}
    for key in sorted(value):
        child = value[key]
        child_fields = (*fields, key)
        if isinstance(child, _CONTAINER) and child and rules.at_fields(child_fields).zero:
            if isinstance(child, list):
                node = _zero_list_node(child, child_fields, rules)
            elif rules.atomic_map_fields(child_fields):
                node = _LEAF
            else:
                node = _map_children(child, child_fields, rules)
                if not node:
                    continue
            out[f"f:{key}"] = node
            continue
        if isinstance(child, dict) and not child and rules.at_fields(child_fields).zero:
            continue  # equal to the zero value: nothing changed
        node = _member_node(child, child_fields, rules)
        if metadata and key in _SERVER_METADATA:
            node = _unmarked(node)
            if not node:
                continue
        out[f"f:{key}"] = node
    return _shared_map(out)


def _member_node(value: Any, fields: tuple[str, ...], rules: _Rules) -> dict[str, Any]:
    """The rendered node of a member ``value`` (field names ``fields``, for list rules)."""
    if isinstance(value, dict):
        if not value or rules.atomic_map_fields(fields):
            return _LEAF
        out: dict[str, Any] = {".": _LEAF}
        for key in sorted(value):
            child = value[key]
            out[f"f:{key}"] = (_member_node(child, (*fields, key), rules)
                               if isinstance(child, _CONTAINER) else _LEAF)
        return _shared_map(out)
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


def _zero_list_node(value: list[Any], fields: tuple[str, ...], rules: _Rules) -> dict[str, Any]:
    """The node of a non-empty list of the zero value: its items, not itself (memoised
    like ``_member_node``'s lists, so objects from one template share it)."""
    key = _list_memo_key("create-zero", value, fields, rules) if rules.memo else None
    if key is not None:
        found: dict[str, Any] | None = _CREATE_NODES.lookup(key)
        if found is not None:
            return found
    node = _unmarked(_member_node(value, fields, rules))
    if key is not None:
        _CREATE_NODES.store(key, node)
    return node


def _list_node(value: list[Any], rule: _Rule, fields: tuple[str, ...],
               rules: _Rules) -> dict[str, Any]:
    elements = rules.elements(value, rule)
    if not _keyed(elements):
        return _LEAF  # an item that cannot be keyed: the list is atomic
    items: dict[str, Any] = {}
    for item, element in zip(value, elements, strict=True):
        if element not in items:
            keep = rule.kind == "map" and isinstance(item, dict) and not rule.items_atomic
            items[element] = item if keep else None
    out: dict[str, Any] = {".": _LEAF}
    for element in sorted(items):
        item = items[element]
        out[element] = _member_node(item, fields, rules) if item is not None else _LEAF
    return _shared_map(out)


def _recorded_create(new: dict[str, Any], manager: str, operation: str, now: str,
                     list_keys: ListKeys, builtin: bool) -> dict[str, Any]:
    fields = _create_fields_v1(new, _Rules(list_keys, memo=True), builtin)
    entry = _entry_dict(manager, operation, str(new.get("apiVersion") or ""), now, fields, None)
    return _with_managed(new, [entry] if fields else [])
