"""Built-in objects as the real server's Go structs take them in and write them out.

kube-apiserver decodes a built-in object's JSON into its Go struct before anything else
looks at it, and stores and answers what that struct encodes to. Two things follow
that the fake must do by hand, since it keeps JSON:

* **unknown fields** are dropped; the strict decoder names each one
  (``unknown field "spec.foo"``, paths as sigs.k8s.io/json writes them: ``.`` between
  keys and map keys, ``[i]`` for list items), which ``fieldValidation`` turns into
  Warning headers (``Warn``, the default), a 400 (``Strict``) or nothing (``Ignore``);
* **empty values of ``omitempty`` fields** are written as nothing: ``false``, ``0``
  and ``""`` of non-pointer scalars, empty (or null) lists and maps, null pointers.
  The managedFields computed from the struct do not name them either.

Both come from the protobuf table (``protobuf_schema.json``, written by
``protoschema_gen.py``), which records each field's JSON name, type and Go tag flags
(``o`` omitempty, ``p`` pointer, ``r`` repeated, ``m`` map, ``i`` inline). Values with
a JSON form of their own (times, quantities, int-or-strings, raw extensions,
``fieldsV1``, a CRD schema's ``JSON`` and its either-or types) are left as they are.
Values of the wrong JSON type are left as well: refusing them is not this module's
business.
"""

from __future__ import annotations

import functools
from typing import Any

from kubeplan.testkit.apiserver.protobuf import SPECIAL, message_for, schema

__all__ = ["decode_builtin", "known_fields"]

#: what every top-level object carries besides its message's fields (TypeMeta, inline)
_TYPE_META = frozenset({"apiVersion", "kind"})


@functools.cache
def known_fields(message: str) -> dict[str, tuple[str, str]]:
    """JSON name -> (type, flags) of a message's fields, inline structs' merged in."""
    entry = schema()["messages"].get(message) or {}
    out: dict[str, tuple[str, str]] = {}
    for spec in entry.get("fields", {}).values():
        json_name, kind, flags = spec[0], spec[1], spec[2]
        if "i" in flags:
            out.update(known_fields(kind))
        else:
            out[json_name] = (kind, flags)
    return out


def _opaque(message: str) -> bool:
    if message in SPECIAL:
        return True
    entry = schema()["messages"].get(message)
    return entry is None or bool(entry.get("list"))


def _is_zero(value: Any) -> bool:
    return value is False or value == "" or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


#: how an ``omitempty`` field's value is left out, decided once per field: Go's encoder
#: omits null, [] and {} of a list or map, null of a pointer, null and the zero value of
#: a non-pointer scalar, and never a non-pointer struct
_KEEP, _EMPTY_COLLECTION, _EMPTY_POINTER, _EMPTY_SCALAR = range(4)


def _omit_rule(kind: str, flags: str) -> int:
    if "o" not in flags:
        return _KEEP
    if "r" in flags or "m" in flags:
        return _EMPTY_COLLECTION  # null, [] or {}
    if "p" in flags:
        return _EMPTY_POINTER  # null only
    if "." in kind:
        return _KEEP  # a struct is always written
    return _EMPTY_SCALAR  # null or the zero value


@functools.cache
def _plan(message: str) -> dict[str, tuple[str, int, bool, bool, bool]]:
    """JSON name -> (type, omit rule, walk into it, map flag, repeated flag): what
    ``_walk`` asks of each field, decided once per message."""
    return {
        name: (kind, _omit_rule(kind, flags), "." in kind and not _opaque(kind),
               "m" in flags, "r" in flags)
        for name, (kind, flags) in known_fields(message).items()
    }


@functools.cache
def _keys(message: str, top: bool) -> tuple[frozenset[str], frozenset[str]]:
    """The JSON names a message's object may carry (TypeMeta's too at the top), and
    those of them ``_walk`` walks into."""
    plan = _plan(message)
    known = frozenset(plan) | (_TYPE_META if top else frozenset())
    return known, frozenset(name for name, spec in plan.items() if spec[2])


def _walk(obj: dict[str, Any], message: str, path: str, unknown: list[str],
          top: bool = False, done: dict[str, Any] | None = None) -> None:
    known, walked = _keys(message, top)
    if obj.keys() <= known and all(obj.values()):
        # nothing here to drop (no unknown field, no empty value): only the fields with
        # a message of their own can hold something to drop (most objects, most levels)
        if walked.isdisjoint(obj):
            return
        plan = _plan(message)
        for key, value in obj.items():
            if key in walked and (done is None or done.get(key, _ABSENT) is not value):
                _walk_into(value, plan[key], f"{path}.{key}" if path else key, unknown,
                           done.get(key) if done is not None else None)
        return
    plan = _plan(message)
    for key, value in list(obj.items()):
        if done is not None and done.get(key, _ABSENT) is value:
            continue  # decoded already: the base's own value
        spec = plan.get(key)
        if spec is None:
            if not (top and key in _TYPE_META):
                unknown.append(f"{path}.{key}" if path else key)
                del obj[key]
            continue
        omit, walk = spec[1], spec[2]
        if omit and (
            value is None
            or (omit == _EMPTY_COLLECTION and isinstance(value, (list, dict)) and not value)
            # _is_zero, inline: most fields of most objects are omitempty scalars
            or (omit == _EMPTY_SCALAR and (value is False or value == "" or (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and value == 0)))
        ):
            del obj[key]
            continue
        if not walk:
            continue
        _walk_into(value, spec, f"{path}.{key}" if path else key, unknown,
                   done.get(key) if done is not None else None)


def _walk_into(value: Any, spec: tuple[str, int, bool, bool, bool], here: str,
               unknown: list[str], base: Any) -> None:
    """``_walk`` of a field's value that has a message of its own (``spec``: its plan)."""
    kind, _, _, is_map, repeated = spec
    if is_map and isinstance(value, dict):
        for map_key, item in value.items():
            if isinstance(item, dict):
                _walk(item, kind, f"{here}.{map_key}", unknown,
                      done=_same_kind(base, map_key, dict))
    elif repeated and isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                _walk(item, kind, f"{here}[{index}]", unknown,
                      done=_same_kind(base, index, list))
    elif isinstance(value, dict):
        _walk(value, kind, here, unknown, done=base if isinstance(base, dict) else None)


_ABSENT: Any = object()


def _same_kind(base: Any, at: str | int, container: type[dict[str, Any]] | type[list[Any]]
               ) -> dict[str, Any] | None:
    """The decoded base's map value or list item at ``at``, when it is an object."""
    item: Any = None
    if isinstance(base, dict) and container is dict:
        item = base.get(at)
    elif isinstance(base, list) and container is list and isinstance(at, int) \
            and at < len(base):
        item = base[at]
    return item if isinstance(item, dict) else None


def decode_builtin(obj: dict[str, Any], api_version: str, kind: str, *,
                   decoded: dict[str, Any] | None = None) -> list[str] | None:
    """Make ``obj`` (in place) what the Go struct of ``api_version``/``kind`` keeps of it;
    the paths of the unknown fields it dropped, in the body's order (None: a kind the
    table does not know, left as it is).

    ``decoded``: what ``obj`` was made from when that went through decoding already (a
    merge patch's base, the stored object): values of ``obj`` that are ``decoded``'s own
    (the same objects, not equal ones) are left unvisited, having nothing to drop."""
    message = message_for(api_version, kind)
    if message is None:
        return None
    unknown: list[str] = []
    _walk(obj, message, "", unknown, top=True, done=decoded)
    return unknown
