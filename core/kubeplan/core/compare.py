"""Comparing a desired child with the observed one: subset differences, hashes and projections.

Pure functions on plain JSON values, written by hand because they sit on the hot path of every
sync (a recursive walk is a few hundred times cheaper than ``DeepDiff``, which is also
symmetric when a controller needs "does observed contain what I asked for?"). deepdiff is used
only to explain a difference once one is found (``kubeplan.core.describe``).

Subset semantics (``subset_diff``): observed *contains* desired when

- **objects**: every key of desired is in observed with a containing value; keys only observed
  has are ignored (server defaults, fields set by others). A desired ``null`` means "absent":
  it is contained by a missing key (or a null one). So is a desired zero value (``{}``,
  ``[]``, ``""``, ``0``, ``false``): the API server's Go types leave such a field out of a
  built-in object (``omitempty``), so ``data: {}`` or ``paused: false`` sent comes back as
  no field at all, and asking for it again would fight the server for ever.
- **lists of named objects** (every desired item is an object with a string ``name``, the names
  unique): items are matched by name, whatever their order; observed items whose name desired
  does not list are ignored (an injected sidecar container, the service-account volume).
- **other lists**: compared position by position, each item with subset semantics, and *the
  lengths must be equal*. Such lists are atomic in server-side apply, so an item someone else
  appended would be dropped by our next apply anyway; a longer observed list is drift to
  correct. (Admission plugins that append, such as Pod tolerations, cost one write after an
  operator restart; from then on the apply memo recognises the object as our own write.)
- **scalars**: JSON equality: numbers by value (``1 == 1.0``), but ``true`` is not ``1`` and
  ``"1"`` is not ``1``.

Subset comparison cannot see a field the user *removed* from the desired object; the desired
hash (``desired_hash``, stored in the ``kubeplan.dev/desired-hash`` annotation) catches that,
and ``project``/``applied_digest`` let the apply memo recognise an object untouched since our own
write even when the server normalised a value (``cpu: 1000m`` stored as ``1``).

Paths read like ``spec.template.spec.containers[name=app].image``, ``spec.args[2]`` and
``metadata.labels["app.kubernetes.io/name"]``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

__all__ = [
    "MISSING",
    "Difference",
    "applied_digest",
    "canonical_json",
    "desired_hash",
    "differences",
    "digest_bytes",
    "is_named_list",
    "json_equal",
    "merge_patch",
    "project",
    "render_path",
    "subset_diff",
]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
"""Stands for an absent value in a ``Difference`` (distinct from a JSON null)."""

_SCALARS = (str, int, float, bool, type(None))
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


class Difference(NamedTuple):
    """One place where observed does not contain desired.

    ``segments`` are rendered path pieces (``".spec"``, ``"[2]"``, ``"[name=app]"``);
    ``observed`` is ``MISSING`` when observed lacks the field.
    """

    segments: tuple[str, ...]
    desired: Any
    observed: Any

    @property
    def path(self) -> str:
        return render_path(self.segments)


def key_segment(key: str) -> str:
    if _IDENTIFIER.fullmatch(key):
        return "." + key
    return "[" + orjson.dumps(key).decode() + "]"


def render_path(segments: tuple[str, ...] | list[str]) -> str:
    path = "".join(segments)
    return path[1:] if path.startswith(".") else path


def _is_zero(value: Any) -> bool:
    """JSON null or a zero value: what a missing field stands for in a Go-typed object."""
    if value is None or value is False or value == "":
        return True
    kind = type(value)
    if kind is dict or kind is list:
        return not value
    return (kind is int or kind is float) and value == 0


def _scalar_equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1 (Python's == says it is).
    return a == b and (type(a) is bool) == (type(b) is bool)


def is_named_list(items: list[Any]) -> bool:
    """Whether a desired list is matched by name: non-empty, objects with unique string names."""
    if not items:
        return False
    names = set()
    for item in items:
        if type(item) is not dict:
            return False
        name = item.get("name")
        if type(name) is not str:
            return False
        names.add(name)
    return len(names) == len(items)


def _prefix(segment: str, found: list[Difference]) -> list[Difference]:
    return [Difference((segment, *d.segments), d.desired, d.observed) for d in found]


def _diff(desired: Any, observed: Any) -> list[Difference] | None:
    """The differences (paths relative to here), or None when observed contains desired."""
    kind = type(desired)
    if kind is dict:
        if type(observed) is not dict:
            return [Difference((), desired, observed)]
        out: list[Difference] | None = None
        found: list[Difference] | None
        for key, value in desired.items():
            seen = observed.get(key, MISSING)
            if seen is MISSING:
                if _is_zero(value):
                    continue  # omitempty: what the server leaves out of a built-in object
                found = [Difference((), value, MISSING)]
            elif type(value) in _SCALARS:
                if _scalar_equal(value, seen):
                    continue
                found = [Difference((), value, seen)]
            else:
                found = _diff(value, seen)
                if found is None:
                    continue
            if out is None:
                out = []
            out.extend(_prefix(key_segment(key), found))
        return out
    if kind is list:
        if type(observed) is not list:
            return [Difference((), desired, observed)]
        out = None
        if is_named_list(desired):
            by_name: dict[Any, Any] = {}
            for item in observed:
                if type(item) is dict:
                    by_name.setdefault(item.get("name"), item)
            for item in desired:
                name = item["name"]
                seen = by_name.get(name, MISSING)
                found = [Difference((), item, MISSING)] if seen is MISSING else _diff(item, seen)
                if found is not None:
                    if out is None:
                        out = []
                    out.extend(_prefix(f"[name={name}]", found))
            return out
        if len(desired) != len(observed):
            return [Difference((), desired, observed)]
        for index, (item, seen) in enumerate(zip(desired, observed, strict=True)):
            found = _diff(item, seen)
            if found is not None:
                if out is None:
                    out = []
                out.extend(_prefix(f"[{index}]", found))
        return out
    if observed is MISSING and desired is None:
        return None
    return None if _scalar_equal(desired, observed) else [Difference((), desired, observed)]


def differences(desired: Any, observed: Any) -> list[Difference]:
    """Every place where observed does not contain desired (subset semantics, see the module)."""
    return _diff(desired, observed) or []


def subset_diff(desired: Any, observed: Any) -> list[str]:
    """The paths where observed does not contain desired; empty when it does."""
    return [d.path for d in differences(desired, observed)]


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: equal JSON values give equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def digest_bytes(data: bytes) -> str:
    """A short stable digest (16 hex digits of sha256) of canonical JSON bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def desired_hash(obj: Any) -> str:
    """The hash for the desired-hash annotation: stable across runs, processes and key order."""
    return digest_bytes(canonical_json(obj))


def project(observed: Any, desired: Any) -> Any:
    """The observed values at desired's paths: observed, cut down to the shape of desired.

    Objects keep only desired's keys (those observed has); named lists keep the observed items
    desired names (in desired's order); other lists keep every observed item, so that an
    appended one shows. Where types disagree the observed value is kept whole.
    """
    kind = type(desired)
    if kind is dict:
        if type(observed) is not dict:
            return observed
        return {
            key: (observed[key] if type(value) in _SCALARS else project(observed[key], value))
            for key, value in desired.items()
            if key in observed
        }
    if kind is list:
        if type(observed) is not list:
            return observed
        if is_named_list(desired):
            by_name: dict[Any, Any] = {}
            for item in observed:
                if type(item) is dict:
                    by_name.setdefault(item.get("name"), item)
            return [
                project(by_name[item["name"]], item) for item in desired if item["name"] in by_name
            ]
        head = [project(seen, item) for seen, item in zip(observed, desired, strict=False)]
        return head + observed[len(desired):]
    return observed


def applied_digest(desired: Any, written: Any) -> str:
    """The digest of what ``written`` holds at ``desired``'s paths (see ``kubeplan.core.memo``)."""
    return digest_bytes(canonical_json(project(written, desired)))


def json_equal(a: Any, b: Any) -> bool:
    """Deep JSON equality: like ``==`` except that ``true`` and ``1`` differ."""
    return a == b and _same_bools(a, b)


def _same_bools(a: Any, b: Any) -> bool:
    ta = type(a)
    if ta is dict:
        return all(_same_bools(value, b[key]) for key, value in a.items())
    if ta is list:
        return all(map(_same_bools, a, b))
    return (ta is bool) == (type(b) is bool)


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch that turns ``old`` into ``new`` (nulls remove keys).

    Hand-written because no maintained library computes (rather than applies) merge patches; a
    merge patch cannot set a null, so ``new`` should hold no nulls inside objects.
    """
    if type(old) is not dict or type(new) is not dict:
        return new
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif not json_equal(old[key], value):
            if type(old[key]) is dict and type(value) is dict:
                patch[key] = merge_patch(old[key], value)
            else:
                patch[key] = value
    return patch


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 application (the inverse of ``merge_patch``); used by tests and simulations."""
    if type(patch) is not dict:
        return patch
    result = dict(target) if type(target) is dict else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def iter_leaves(value: Any, segments: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``(path, scalar)`` for every leaf of a JSON value, in order (for describing values)."""
    if type(value) is dict and value:
        for key, item in value.items():
            yield from iter_leaves(item, (*segments, key_segment(key)))
    elif type(value) is list and value:
        for index, item in enumerate(value):
            yield from iter_leaves(item, (*segments, f"[{index}]"))
    else:
        yield render_path(segments), value
