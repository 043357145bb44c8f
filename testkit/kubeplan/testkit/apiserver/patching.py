"""The three classic PATCH engines: JSON patch, JSON merge patch, strategic merge patch.

Pure functions from (object, patch) to a new object; the input is never mutated.
Failures raise :class:`PatchError` carrying the HTTP code the real server answers
with, so the store can build the ``kind: Status`` body:

* JSON patch (RFC 6902, ``application/json-patch+json``): a body that is not a list
  of operation objects -> 400 BadRequest; an operation that cannot be applied (a
  ``test`` that fails, a path that does not exist) -> 422. The real server builds
  that 422 with ``NewGenericServerResponse``: status ``message`` "the server
  rejected our request due to an error in our request", reason ``Invalid`` and empty
  details (not an "unexpected response", so no cause carries the error text that
  :attr:`PatchError.message` holds).
* Merge patch (RFC 7386): ``null`` as the whole patch -> 400 ``Invalid JSON Patch``.
* Strategic merge patch: the mergepatch format errors are 400 or 422 as in
  apiserver's ``interpretStrategicMergePatchError``; every other SMP error (an
  unknown ``$patch`` value, a missing merge key) is passed through unchanged by the
  real server and so surfaces as a 500 -- we keep that code for fidelity.

SMP is hand-written because it needs per-type metadata (:mod:`.mergekeys`) that no
Python library has; the algorithm follows apimachinery's ``strategicpatch.mergeMap``
(including its list ordering, where new items go *before* server-only items).
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from kubeplan.core.errors import KubeplanError
from kubeplan.testkit.apiserver.codec import JsonT, copy_obj
from kubeplan.testkit.apiserver.mergekeys import list_rule

__all__ = [
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "create_merge_patch",
]

MAX_JSON_PATCH_OPERATIONS = 10000


class PatchError(KubeplanError, ValueError):
    """A patch that cannot be decoded or applied; ``code`` is the HTTP status."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def reason(self) -> str:
        """The ``Status.reason`` the real server uses for this code."""
        return {
            400: "BadRequest",
            413: "RequestEntityTooLarge",
            422: "Invalid",
        }.get(self.code, "InternalError")


# --------------------------------------------------------------------------------------
# RFC 6902


_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _pointer_exists(doc: Any, path: str) -> bool:
    try:
        jsonpointer.resolve_pointer(doc, path)
    except (jsonpointer.JsonPointerException, TypeError):
        return False
    return True


def _parent_path(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _op_failure(doc: Any, op: dict[str, Any]) -> str:
    """An error text in the style of evanphx/json-patch (what the real server uses)."""
    kind = op.get("op")
    path = str(op.get("path", ""))
    if kind == "test":
        if not _pointer_exists(doc, path):
            return f'test operation does not apply: is missing path: "{path}"'
        return f"testing value {path} failed: test failed"
    if kind in ("move", "copy"):
        src = str(op.get("from", ""))
        if not _pointer_exists(doc, src):
            return f'{kind} operation does not apply: doc is missing from path: "{src}"'
        return f'{kind} operation does not apply: doc is missing destination path: "{path}"'
    if not _pointer_exists(doc, _parent_path(path)):
        return f'{kind} operation does not apply: doc is missing path: "{path}"'
    if kind == "remove":
        return (
            f"error in remove for path: '{path}': unable to remove nonexistent key: missing value"
        )
    if kind == "replace":
        return f"replace operation does not apply: doc is missing key: {path}: missing value"
    return f'{kind} operation does not apply: doc is missing path: "{path}": missing value'


def apply_json_patch(obj: dict[str, Any], patch: Any) -> Any:
    """Apply an RFC 6902 patch; raises PatchError (400 malformed, 422 not applicable).

    An operation on the root (path ``""``) may replace the whole document, so the result
    is any JSON value, like ``apply_merge_patch``'s (the caller checks its shape).
    """
    if not isinstance(patch, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    if len(patch) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(patch)}",
            413,
        )
    doc: Any = copy_obj(obj)
    for op in patch:
        if not isinstance(op, dict):
            raise PatchError(
                "json: cannot unmarshal array into Go value of type jsonpatch.Operation", 400
            )
        if op.get("op") not in _OPS:
            raise PatchError(f"Unexpected kind: {op.get('op')}", 422)
        if "path" not in op:
            raise PatchError(f"{op['op']} operation failed to decode path", 422)
        try:
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        except jsonpatch.JsonPatchTestFailed:
            raise PatchError(_op_failure(doc, op), 422) from None
        except (
            jsonpatch.JsonPatchException,
            jsonpointer.JsonPointerException,
            KeyError,
            IndexError,
            TypeError,
        ):
            raise PatchError(_op_failure(doc, op), 422) from None
    return doc


# --------------------------------------------------------------------------------------
# RFC 7386


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    return copy_obj(value)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy_obj(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _merge(result.get(key), value)
        else:
            result[key] = copy_obj(value)
    return result


def apply_merge_patch(obj: dict[str, Any], patch: Any, *, owned: bool = False) -> Any:
    """Apply an RFC 7386 merge patch: null deletes, objects merge, the rest replaces.

    A non-object patch replaces the whole document (the store rejects the result
    when it is not an object, like the real server's decoder does). ``obj`` is never
    changed; ``owned``: it is the caller's own copy, so the result may share the parts
    the patch leaves alone with it instead of copying them.
    """
    if patch is None:
        raise PatchError("Invalid JSON Patch", 400)
    if not isinstance(patch, dict):
        return _prune_nulls(patch)
    return _merge(obj if owned else copy_obj(obj), patch)


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The smallest RFC 7386 patch turning ``original`` into ``modified``.

    ``modified`` must not contain ``null`` values (they cannot be expressed).
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return copy_obj(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified:
            patch[key] = None
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy_obj(value)
        elif original[key] != value or type(original[key]) is not type(value):
            if isinstance(value, dict) and isinstance(original[key], dict):
                patch[key] = create_merge_patch(original[key], value)
            else:
                patch[key] = copy_obj(value)
    return patch


# --------------------------------------------------------------------------------------
# Strategic merge patch

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"

_ERR_PRIMITIVE_LIST = "invalid patch format of primitive list"
_ERR_RETAIN_KEYS = "invalid patch format of retainKeys"
_ERR_SET_ORDER = "invalid patch format of setElementOrder list"
_ERR_LIST_OF_LISTS = "lists of lists are not supported"


def _go_repr(value: Any) -> str:
    """Approximate Go's ``%v`` of decoded JSON (used inside error messages)."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_go_repr(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_go_repr(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strip_directives(value: JsonT) -> JsonT:
    """Drop ``$``-keys from a value taken verbatim from the patch.

    The real server decodes the merged map into a Go struct, which drops unknown
    keys such as a stray ``$patch``; we emulate that for values copied as-is.
    """
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not str(k).startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "nil"


def _element_kind(*lists: list[Any]) -> str | None:
    kind: str | None = None
    for items in lists:
        for item in items:
            current = _kind_of(item)
            if kind is None:
                if current == "slice":
                    raise PatchError(_ERR_LIST_OF_LISTS, 422)
                kind = current
            elif current != kind:
                raise PatchError(
                    f"list element types are not identical: {_go_repr(list(lists))}", 500
                )
    return kind


def _same(a: Any, b: Any) -> bool:
    """Go interface equality on decoded JSON scalars (no bool/number confusion)."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _key_of(item: Any, merge_key: str | None) -> Any:
    if merge_key is None:
        return item
    return item.get(merge_key) if isinstance(item, dict) else None


def _index(order: list[Any], item: Any, merge_key: str | None) -> int:
    wanted = _key_of(item, merge_key)
    for i, candidate in enumerate(order):
        if _same(_key_of(candidate, merge_key), wanted):
            return i
    return -1


def _require_merge_key(items: list[Any], merge_key: str) -> None:
    for item in items:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(
                f"map: {_go_repr(item)} does not contain declared merge key: {merge_key}", 500
            )


def _sort_by(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    deletes: list[Any] = []
    if merge_key is not None:
        _require_merge_key(items, merge_key)
        _require_merge_key(order, merge_key)
        deletes = [i for i in items if i.get(_DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(_DIRECTIVE) != "delete"]
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (_index(order, pair[1], merge_key), pair[0]),
    )
    return [item for _, item in ranked] + deletes


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str | None,
) -> list[Any]:
    """apimachinery's ``normalizeElementOrder`` + ``mergeSortedSlice``."""
    right = _sort_by(patch_items, patch_order, merge_key)
    left = _sort_by(server_only, server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key)
            ri = _index(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _partition(
    merged: list[Any], by: list[Any], merge_key: str | None
) -> tuple[list[Any], list[Any]]:
    if merge_key is not None:
        _require_merge_key(merged, merge_key)
    in_patch: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        (in_patch if _index(by, item, merge_key) >= 0 else server_only).append(item)
    return in_patch, server_only


class _Smp:
    """One strategic-merge-patch application for a given built-in type."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
    ) -> dict[str, Any]:
        if _DIRECTIVE in patch:
            directive = patch[_DIRECTIVE]
            if directive == "replace":
                return _strip_directives({k: v for k, v in patch.items() if k != _DIRECTIVE})
            if directive == "delete":
                return {}
            raise PatchError(f"unknown patch type: {directive} in map: {_go_repr(patch)}", 500)
        original = dict(original)
        patch = dict(patch)
        self._retain_keys(original, patch)
        self._set_element_order(original, patch, path)
        for key, value in patch.items():
            target = key
            is_delete_list = False
            if key.startswith(_DELETE_PRIMITIVE):
                prefix, sep, rest = key.partition("/")
                if prefix != _DELETE_PRIMITIVE or not sep:
                    raise PatchError(_ERR_PRIMITIVE_LIST, 400)
                target, is_delete_list = rest, True
            elif key.startswith("$"):
                raise PatchError(f"unknown strategic merge patch directive: {key}", 400)
            if value is None:
                original.pop(target, None)
                continue
            if target not in original:
                if not is_delete_list:
                    original[target] = _strip_directives(value)
                continue
            current = original[target]
            if _kind_of(current) != _kind_of(value):
                if is_delete_list:
                    raise PatchError(_ERR_PRIMITIVE_LIST, 400)
                original[target] = _strip_directives(value)
            elif isinstance(value, dict):
                original[target] = self.merge_map(current, value, (*path, target))
            elif isinstance(value, list):
                original[target] = self.merge_list_field(
                    current, value, (*path, target), is_delete_list
                )
            else:
                original[target] = value
        return original

    def _retain_keys(self, original: dict[str, Any], patch: dict[str, Any]) -> None:
        if _RETAIN_KEYS not in patch:
            return
        retain = patch.pop(_RETAIN_KEYS)
        if not isinstance(retain, list):
            raise PatchError(_ERR_RETAIN_KEYS, 400)
        allowed = set(map(str, retain))
        for key, value in patch.items():
            if value is None or key.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
                continue
            if key not in allowed:
                raise PatchError(_ERR_RETAIN_KEYS, 400)
        for key in list(original):
            if key not in allowed:
                del original[key]

    def _rule(self, path: tuple[str, ...]) -> tuple[bool, str | None]:
        rule = list_rule(self.group, self.kind, path)
        if rule is None:
            return False, None
        return rule.smp_merge, rule.merge_key

    def merge_list_field(
        self, original: list[Any], patch: list[Any], path: tuple[str, ...], is_delete_list: bool
    ) -> list[Any]:
        merge, merge_key = self._rule(path)
        if not merge:
            if is_delete_list:
                raise PatchError(_ERR_PRIMITIVE_LIST, 400)
            return _strip_directives(patch)
        return self.merge_slice(original, patch, path, merge_key, is_delete_list)

    def merge_slice(
        self,
        original: list[Any],
        patch: list[Any],
        path: tuple[str, ...],
        merge_key: str | None,
        is_delete_list: bool,
    ) -> list[Any]:
        if not original and not patch:
            return list(original)
        kind = _element_kind(original, patch)
        if kind != "map":
            if is_delete_list:
                return [v for v in original if all(not _same(v, d) for d in patch)]
            merged: list[Any] = []
            for v in [*original, *patch]:
                if all(not _same(v, m) for m in merged):
                    merged.append(v)
            inside, server_only = _partition(merged, patch, None)
            return _normalize_order(inside, server_only, patch, original, None)
        if merge_key is None:
            raise PatchError("cannot merge lists without merge key for type struct", 500)
        server = list(original)
        plain: list[dict[str, Any]] = []
        replace = False
        for item in patch:
            directive = item.get(_DIRECTIVE)
            if directive is None:
                plain.append(item)
            elif directive == "delete":
                if merge_key not in item:
                    raise PatchError(
                        f"map: {_go_repr(item)} does not contain declared merge key: {merge_key}",
                        500,
                    )
                server = [s for s in server if not _same(_key_of(s, merge_key), item[merge_key])]
            elif directive == "replace":
                replace = True
            elif directive == "merge":
                raise PatchError("merging lists cannot yet be specified in the patch", 500)
            else:
                raise PatchError(f"unknown patch type: {directive} in map: {_go_repr(item)}", 500)
        if replace:
            return _strip_directives(plain)
        merged_items = list(server)
        for item in plain:
            if merge_key not in item:
                raise PatchError(
                    f"map: {_go_repr(item)} does not contain declared merge key: {merge_key}",
                    500,
                )
            at = _index(merged_items, item, merge_key)
            if at >= 0:
                merged_items[at] = self.merge_map(merged_items[at], item, path)
            else:
                merged_items.append(_strip_directives(item))
        inside, server_only = _partition(merged_items, plain, merge_key)
        return _normalize_order(inside, server_only, plain, server, merge_key)

    def _set_element_order(
        self, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
    ) -> None:
        for key in [k for k in patch if k.startswith(_SET_ORDER)]:
            order = patch.pop(key)
            prefix, sep, target = key.partition("/")
            if not isinstance(order, list):
                raise PatchError(_ERR_SET_ORDER, 400)
            if prefix != _SET_ORDER or not sep:
                raise PatchError(_ERR_SET_ORDER, 400)
            found_original = target in original
            found_patch = target in patch
            original_list = original.get(target) if found_original else []
            patch_list = patch.get(target) if found_patch else []
            if not isinstance(original_list, list) or not isinstance(patch_list, list):
                raise PatchError(_ERR_SET_ORDER, 400)
            merge, merge_key = self._rule((*path, target))
            self._check_order(patch_list, order, merge_key)
            if found_original and found_patch:
                merged = self.merge_list_field(original_list, patch_list, (*path, target), False)
            elif found_patch:
                merged = _strip_directives(patch_list)
            elif found_original:
                merged = list(original_list)
            else:
                continue
            if not merge:
                merge_key = None
            elem = _element_kind(original_list, patch_list)
            key_for_order = merge_key if elem == "map" else None
            inside, server_only = _partition(merged, order, key_for_order)
            original[target] = _normalize_order(
                inside, server_only, order, original_list, key_for_order
            )
            patch.pop(target, None)

    @staticmethod
    def _check_order(patch_list: list[Any], order: list[Any], merge_key: str | None) -> None:
        """``validatePatchWithSetOrderList``: patch items must follow the order list."""
        if not order or not patch_list:
            return
        items = [
            p for p in patch_list if not (isinstance(p, dict) and p.get(_DIRECTIVE) == "delete")
        ]
        pi = oi = 0
        while pi < len(items) and oi < len(order):
            if isinstance(items[pi], dict) and _DIRECTIVE in items[pi]:
                pi += 1
                continue
            if _same(_key_of(items[pi], merge_key), _key_of(order[oi], merge_key)):
                pi += 1
            oi += 1
        if pi < len(items) and oi >= len(order):
            raise PatchError(
                f"The order in patch list:\n{_go_repr(patch_list)}\n doesn't match "
                f"{_SET_ORDER} list:\n{_go_repr(order)}\n",
                500,
            )


def apply_strategic_merge_patch(
    obj: dict[str, Any], patch: Any, group: str, kind: str
) -> dict[str, Any]:
    """Apply a strategic merge patch to a built-in object of ``group``/``kind``.

    Lists with a merge key merge per item, primitive lists with strategy merge
    (``finalizers``) merge as sets, other lists are replaced. Directives:
    ``$patch: replace|delete`` on maps, ``$patch: replace|delete`` on list items,
    ``$retainKeys``, ``$deleteFromPrimitiveList/<f>``, ``$setElementOrder/<f>``.
    """
    if patch is None:
        return copy_obj(obj)
    if not isinstance(patch, dict):
        raise PatchError(
            f"json: cannot unmarshal {_json_type(patch)} into Go value of type "
            "map[string]interface {}",
            400,
        )
    result = _Smp(group, kind).merge_map(copy_obj(obj), copy_obj(patch), ())
    return copy_obj(result)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"
