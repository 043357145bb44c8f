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

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

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
    if isinstance(got, ListRule):
        if got.list_type == "map":
            return _Rule("map", got.keys or ((got.merge_key,) if got.merge_key else ()))
        return _Rule(got.list_type)
    if isinstance(got, str):
        return _Rule("set") if got == "" else _Rule("map", (got,))
    keys = tuple(got)
    return _Rule("map", keys) if keys else _Rule("set")


def _field_path(path: Path) -> tuple[str, ...]:
    """Field names only (list item elements dropped): the list_keys lookup key."""
    return tuple(p[2:] for p in path if p.startswith("f:"))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _item_element(item: Any, rule: _Rule) -> str | None:
    """The ``k:``/``v:`` element naming a list item, or None if it cannot be keyed."""
    if rule.kind == "set":
        return None if isinstance(item, dict | list) else "v:" + _json(item)
    if not isinstance(item, dict):
        return None
    key = {k: item[k] for k in rule.keys if k in item}
    return "k:" + _json(key) if key else None


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
_ENCODED: _Lru = _Lru(512)
_DECODED: _Lru = _Lru(512)


def encode_fields(fields: Iterable[Path]) -> dict[str, Any]:
    """Encode a field set as ``fieldsV1`` (``.`` marks members that have children)."""
    members = fields if isinstance(fields, frozenset) else frozenset(fields)
    data = _ENCODED.lookup(members)
    if data is None:
        data = orjson.dumps(_encode_fields(members))
        _ENCODED.store(members, data)
        _DECODED.store(data, members)
    return orjson.loads(data)


def _encode_fields(members: frozenset[Path]) -> dict[str, Any]:
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
    try:
        data = orjson.dumps(fields_v1 or {})
    except TypeError:  # not plain JSON (a Mapping that is no dict): decode it directly
        return _decode_fields(fields_v1)
    found = _DECODED.lookup(data)
    if found is None:
        found = _decode_fields(fields_v1)
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


def _strip(fields: Iterable[Path]) -> FieldSet:
    return frozenset(p for p in fields if not _is_stripped(p))


def _to_field_set(value: Any, list_keys: ListKeys) -> FieldSet:
    """structured-merge-diff ``ToFieldSet`` for a struct-only schema."""
    out: set[Path] = set()

    def visit_map(m: Mapping[str, Any], path: Path) -> None:
        for key, child in m.items():
            p = (*path, "f:" + str(key))
            if child is None or (isinstance(child, dict) and not child):
                out.add(p)
            else:
                visit(child, p)

    def visit(v: Any, path: Path) -> None:
        if isinstance(v, dict):
            visit_map(v, path)
        elif isinstance(v, list):
            rule = _rule_for(list_keys, _field_path(path))
            elements = [_item_element(i, rule) for i in v] if rule.kind != "atomic" else []
            if rule.kind == "atomic" or any(e is None for e in elements):
                out.add(path)
                return
            for item, element in zip(v, elements, strict=True):
                assert element is not None
                ip = (*path, element)
                out.add(ip)
                if isinstance(item, dict):
                    visit_map(item, ip)
        else:
            out.add(path)

    if isinstance(value, dict):
        visit_map(value, ())
    return _strip(out)


@attrs.frozen
class _Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet


def _compare(old: Any, new: Any, list_keys: ListKeys) -> _Comparison:
    """structured-merge-diff ``Compare``: leaves, plus added/removed inner nodes."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    missing = object()

    def leaf(lhs: Any, rhs: Any, path: Path) -> None:
        if lhs is missing:
            added.add(path)
        elif rhs is missing:
            removed.add(path)
        elif not _equal(lhs, rhs):
            modified.add(path)

    def is_empty(v: Any) -> bool:
        return v is missing or v is None or (isinstance(v, dict | list) and not v)

    def compare(lhs: Any, rhs: Any, path: Path) -> None:
        lkind = _shape(lhs) if lhs is not missing else None
        rkind = _shape(rhs) if rhs is not missing else None
        kinds = {k for k in (lkind, rkind) if k is not None}
        if len(kinds) > 1:
            # Type changed: report both sides' nodes.
            compare(lhs, missing, path)
            compare(missing, rhs, path)
            if lhs is not missing and rhs is not missing:
                added.discard(path)
                removed.discard(path)
                modified.add(path)
            return
        kind = kinds.pop()
        if kind == "scalar" or (is_empty(lhs) and is_empty(rhs)):
            leaf(lhs, rhs, path)
            return
        in_leaf = False
        if kind == "map":
            lmap = lhs if isinstance(lhs, dict) else {}
            rmap = rhs if isinstance(rhs, dict) else {}
            for key in list(lmap) + [k for k in rmap if k not in lmap]:
                compare(lmap.get(key, missing), rmap.get(key, missing), (*path, "f:" + str(key)))
        else:
            rule = _rule_for(list_keys, _field_path(path))
            litems = _index_items(lhs if isinstance(lhs, list) else [], rule)
            ritems = _index_items(rhs if isinstance(rhs, list) else [], rule)
            if litems is None or ritems is None:
                leaf(lhs, rhs, path)
                in_leaf = True
            else:
                for element in list(litems) + [e for e in ritems if e not in litems]:
                    compare(
                        litems.get(element, missing),
                        ritems.get(element, missing),
                        (*path, element),
                    )
        if not in_leaf and path:
            if lhs is missing:
                added.add(path)
            elif rhs is missing:
                removed.add(path)

    compare(old, new, ())
    return _Comparison(_strip(added), _strip(modified), _strip(removed))


def _shape(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "list"
    return "scalar"


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _index_items(items: list[Any], rule: _Rule) -> dict[str, Any] | None:
    """Items of a keyed/set list by element; None when the list is atomic."""
    if rule.kind == "atomic":
        return None
    out: dict[str, Any] = {}
    for item in items:
        element = _item_element(item, rule)
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


def _merge(lhs: Any, rhs: Any, path: Path, list_keys: ListKeys) -> Any:
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        out = dict(lhs)
        for key, value in rhs.items():
            p = (*path, "f:" + str(key))
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = _merge(out[key], value, p, list_keys)
            else:
                out[key] = _drop_nulls(value)
        return out
    if isinstance(lhs, list) and isinstance(rhs, list):
        rule = _rule_for(list_keys, _field_path(path))
        if rule.kind != "atomic":
            merged = _merge_list(lhs, rhs, rule, path, list_keys)
            if merged is not None:
                return merged
    return _drop_nulls(rhs)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge_list(
    lhs: list[Any], rhs: list[Any], rule: _Rule, path: Path, list_keys: ListKeys
) -> list[Any] | None:
    """Merge keyed/set lists the way structured-merge-diff orders them.

    Shared items follow the config's order, live-only items keep their place.
    """
    lpes = [_item_element(i, rule) for i in lhs]
    rpes = [_item_element(i, rule) for i in rhs]
    if any(e is None for e in lpes) or any(e is None for e in rpes):
        return None
    lmap: dict[str, Any] = {}
    for e, item in zip(lpes, lhs, strict=True):
        lmap.setdefault(e, item)  # type: ignore[arg-type]
    rmap: dict[str, Any] = {}
    for e, item in zip(rpes, rhs, strict=True):
        rmap.setdefault(e, item)  # type: ignore[arg-type]
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
        return _merge(lchild, rchild, (*path, element), list_keys)

    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                if pe not in done:
                    done.add(pe)  # type: ignore[arg-type]
                    out.append(merged_item(pe))  # type: ignore[arg-type]
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
                    done.add(pe)  # type: ignore[arg-type]
                    out.append(lmap[pe])  # type: ignore[index]
                li += 1
                continue
            if pe in done:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            if pe not in done:
                done.add(pe)  # type: ignore[arg-type]
                out.append(merged_item(pe))  # type: ignore[arg-type]
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
        return not isinstance(item, dict | list) and _equal(item, json.loads(element[2:]))
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = encode_fields(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _entries(obj: Mapping[str, Any] | None) -> list[_Entry]:
    if not obj:
        return []
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    out: list[_Entry] = []
    for item in raw:
        if not isinstance(item, Mapping) or (not item.get("manager") and not item.get("operation")):
            continue
        out.append(
            _Entry(
                manager=str(item.get("manager", "")),
                operation=str(item.get("operation", "Update")),
                api_version=str(item.get("apiVersion", "")),
                time=item.get("time"),
                subresource=item.get("subresource") or None,
                fields=decode_fields(item.get("fieldsV1")),
            )
        )
    return out


def _sorted_entries(entries: Iterable[_Entry]) -> list[dict[str, Any]]:
    """Order like apimachinery's encoder: operation, time, manager, apiVersion."""
    ordered = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource or ""),
    )
    return [e.to_dict() for e in ordered]


def _with_managed_fields(obj: dict[str, Any], entries: Iterable[_Entry]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    encoded = _sorted_entries(entries)
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
) -> dict[str, Any]:
    """Server-side apply ``config`` as ``manager``; returns the new object.

    The result has no new resourceVersion (the store assigns it). Raises
    :class:`ApplyConflict` when other managers own fields whose value would change
    and ``force`` is false, :class:`ApplyError` for an unusable body.
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

    entries = _entries(live)
    api_version = str(config.get("apiVersion") or (live or {}).get("apiVersion") or "")
    me = ("Apply", subresource or "")
    previous = next((e for e in entries if e.ident == (manager, *me)), None)
    others = [e for e in entries if e.ident != (manager, *me)]

    # What this write may touch.
    applied = _scope(config, subresource, has_status_subresource)
    applied_meta = dict(applied.get("metadata") or {})
    for key in _KEEP_FROM_LIVE:
        applied_meta.pop(key, None)
    if "metadata" in applied:
        applied["metadata"] = applied_meta
    live_part = _scope(live, subresource, has_status_subresource)
    if live is None and subresource != "status":
        live_part = {}

    new_set = _to_field_set(applied, list_keys)
    merged = _merge(live_part, applied, (), list_keys)

    # Prune what this applier dropped and nobody else owns.
    if previous is not None:
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

    comparison = _compare(live_part, merged, list_keys)
    changed = comparison.added | comparison.modified
    found: list[tuple[_Entry, Path]] = []
    updated: list[_Entry] = []
    for other in others:
        clash = other.fields & changed
        found.extend((other, p) for p in clash)
        remaining = other.fields - clash - comparison.removed
        updated.append(attrs.evolve(other, fields=frozenset(remaining)))
    if found and not force:
        raise _conflict_error(found)

    object_changed = bool(changed or comparison.removed)
    time = now if (object_changed or previous is None) else previous.time
    updated.append(_Entry(manager, "Apply", api_version, time, subresource, frozenset(new_set)))

    result = _assemble(live, merged, subresource, has_status_subresource, config)
    return _with_managed_fields(result, updated)


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
                meta[key] = copy_obj(live_meta[key])
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
) -> dict[str, Any]:
    """Record a non-apply write (create, update, patch) in ``new``'s managedFields.

    Changed fields (all fields for a create, ``old=None``) become ``manager``'s,
    leave every other manager's set, removed fields leave all sets, and entries that
    end up empty are dropped. ``builtin`` makes a create treat top-level ``spec`` and
    ``status`` as pre-existing (typed Go structs), so they carry no ``.`` marker.
    ``managedFields`` in ``new`` is taken as the client sent it (``[{}]`` resets).
    """
    incoming = (new.get("metadata") or {}).get("managedFields")
    if incoming is not None and _is_reset(incoming):
        return _with_managed_fields(new, [])
    base_entries = _entries(new) if incoming else _entries(old)
    baseline: dict[str, Any]
    if old is None:
        baseline = {"metadata": {}}
        if builtin:
            for key in ("spec", "status"):
                if key in new:
                    baseline[key] = {}
    else:
        baseline = copy_obj(old)
    comparison = _compare(
        _scope_for_update(baseline, subresource), _scope_for_update(new, subresource), list_keys
    )
    changed = comparison.added | comparison.modified
    ident = (manager, operation, subresource or "")
    previous = next((e for e in base_entries if e.ident == ident), None)
    entries: list[_Entry] = []
    for entry in base_entries:
        if entry.ident == ident:
            continue
        remaining = entry.fields - changed - comparison.removed
        entries.append(attrs.evolve(entry, fields=frozenset(remaining)))
    mine = frozenset((previous.fields - comparison.removed if previous else frozenset()) | changed)
    api_version = str(new.get("apiVersion") or "")
    if changed:
        entries.append(_Entry(manager, operation, api_version, now, subresource, mine))
    elif previous is not None:
        entries.append(attrs.evolve(previous, fields=mine))
    return _with_managed_fields(new, entries)


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
