"""The public operations: ``apply`` and ``record_update``, and the errors of an apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeplan.core.errors import KubeplanError
from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.ssa.creates import _recorded_create
from kubeplan.testkit.apiserver.ssa.fieldsets import _compare, _is_stripped, _to_field_set
from kubeplan.testkit.apiserver.ssa.managedfields import _entries, _Entry, _with_managed_fields
from kubeplan.testkit.apiserver.ssa.merge import _closure, _kept, _merge, _remove_path
from kubeplan.testkit.apiserver.ssa.paths import (
    _CONTAINER,
    FieldSet,
    ListKeys,
    Path,
    _Rules,
    path_to_string,
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


class ApplyError(KubeplanError, ValueError):
    """An apply body the server rejects before merging (HTTP 400 BadRequest)."""


class ApplyConflict(KubeplanError):
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
            "reason": "FieldManagerConflict",
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


def _no_list_keys(path: tuple[str, ...]) -> None:
    return None


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
        owned_now = _kept(new_set)
        for other in others:
            owned_now |= _kept(other.fields)
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
        rules = _Rules(list_keys, memo=shared)
        baseline = _zero_value(new, (), rules)
        baseline["metadata"] = {}
        if builtin:
            for key in ("spec", "status"):
                if key in new:
                    baseline.setdefault(key, {})
    else:
        rules = _Rules(list_keys, memo=shared)
        baseline = old  # only read: _scope_for_update copies what it changes
    comparison = _compare(
        _scope_for_update(baseline, subresource),
        _scope_for_update(new, subresource),
        rules,
    )
    changed = comparison.added | comparison.modified
    removed = comparison.removed
    ident = (manager, operation, subresource or "")
    api_version = str(new.get("apiVersion") or "")

    def own(entry: _Entry) -> bool:
        # an updater's identity names the version it wrote (an applier's does not)
        return entry.ident == ident and (operation == "Apply" or entry.api_version == api_version)

    previous = next((e for e in base_entries if own(e)), None)
    entries: list[_Entry] = []
    for entry in base_entries:
        if own(entry):
            continue
        entries.append(entry.with_fields(entry.fields - changed - removed))
    mine = frozenset((previous.fields - removed if previous else frozenset()) | changed)
    if changed:
        entries.append(_Entry(manager, operation, api_version, now, subresource, mine))
    elif previous is not None:
        entries.append(previous.with_fields(mine))
    return _with_managed_fields(new, entries, shared)


def _zero_value(obj: Mapping[str, Any], fields: tuple[str, ...], rules: _Rules) -> dict[str, Any]:
    """The part of the Go zero value a create of ``obj`` is compared with: the nodes the
    schema marks ``zero`` (non-pointer structs, fields without ``omitempty``) that
    ``obj`` has, structs as their own zero values and non-empty lists as empty ones."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(value, _CONTAINER) or not rules.at_fields((*fields, key)).zero:
            continue
        if isinstance(value, dict):
            out[key] = _zero_value(value, (*fields, key), rules)
        elif value:
            out[key] = []
    return out


#: the direct create path (``_create_fields_v1``); tests turn it off to compare
_FAST_CREATES = True


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
