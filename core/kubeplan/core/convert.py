"""Between Kubernetes JSON (camelCase keys) and the user's attrs classes (snake_case fields).

ONE converter reads and writes every attrs value kubeplan touches: ``SyncRequest.spec_as``
(and ``status_as``, ``parent_as``), attrs children and statuses in a ``SyncResponse``, the
defaults ``kubeplan crd`` publishes in a CRD schema, and the testkit's ``parents()``
strategy. Because it is one converter, what a CRD's schema admits is exactly what a handler
reads back, and what a handler writes is exactly what the schema validates.

Conventions (``kubeplan.core.crd`` documents the schema side of each):

- field names: ``observed_generation`` is the key ``observedGeneration`` (a trailing ``_``
  is dropped, so ``continue_`` is ``continue``); ``attrs.field(metadata={"name": "x"})``
  chooses the key ``x`` instead;
- ``None`` is left out when unstructuring (in Kubernetes JSON an absent field and a null
  one mean the same thing and the server drops nulls: a status that kept a ``null`` would
  differ from the stored one on every pass); an optional field (``T | None``) without a
  default reads an absent key back as ``None``;
- ``datetime`` is an RFC 3339 string (naive values are taken as UTC, written with ``Z``),
  ``date`` an ISO date;
- sets and frozensets are lists, sorted (equal values always give equal objects, which the
  planner hashes and compares); tuples are lists;
- ``int | str`` (Kubernetes' int-or-string) keeps whichever it was given;
- enums are their values; ``Literal`` values are themselves;
- extra JSON keys are ignored when structuring: a spec usually has fields a handler does
  not model.
"""

from __future__ import annotations

import datetime
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from kubeplan.core.errors import InvalidArgument, KubeplanError, WrongArgumentType

__all__ = [
    "NAME_KEY",
    "StructureError",
    "camel_case",
    "converter",
    "make_converter",
    "structure",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

NAME_KEY = "name"
"""The ``attrs.field(metadata=...)`` key that chooses a field's JSON key."""


@cache
def camel_case(field_name: str) -> str:
    """``observed_generation`` -> ``observedGeneration``; ``continue_`` -> ``continue``."""
    head, *rest = field_name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The key a field has in the Kubernetes object: ``metadata["name"]``, else the field's
    name in camelCase."""
    name = field.metadata.get(NAME_KEY, camel_case(field.name))
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"field {field.name!r}: metadata['name'] must be a non-empty string")
    return name


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and type(None) in typing.get_args(tp)


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _renames(cls: type) -> dict[str, Any]:
    return {
        f.name: override(rename=wire_name(f))
        for f in attrs.fields(cls)
        if wire_name(f) != f.name
    }


def _sorted_list(items: Iterable[Any]) -> list[Any]:
    values = list(items)
    try:
        return sorted(values)
    except TypeError:  # mixed types (only under typing.Any): keep iteration order
        return values


def _unstructure_datetime(value: datetime.datetime) -> str:
    # RFC 3339 needs an offset: naive datetimes are taken as UTC
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _structure_datetime(value: Any, _tp: type) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if not isinstance(value, str):
        raise WrongArgumentType(f"expected an RFC 3339 date-time string, got {value!r}")
    return datetime.datetime.fromisoformat(value)


def _structure_date(value: Any, _tp: type) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise WrongArgumentType(f"expected an ISO date string, got {value!r}")
    return datetime.date.fromisoformat(value)


def _is_int_or_string(tp: Any) -> bool:
    return _is_union(tp) and {a for a in typing.get_args(tp) if a is not type(None)} == {int, str}


def _structure_int_or_string(value: Any, tp: Any) -> int | str | None:
    if value is None and _is_optional(tp):
        return None
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise WrongArgumentType(f"expected an integer or a string, got {value!r}")


def _unstructure_factory(conv: cattrs.Converter) -> Callable[[type], Callable[[Any], Any]]:
    def factory(cls: type) -> Callable[[Any], Any]:
        generated: Callable[[Any], dict[str, Any]]
        try:
            generated = make_dict_unstructure_fn(cls, conv, **_renames(cls))
        except NameError:
            # Annotations that cannot be resolved (a class defined inside a function under
            # ``from __future__ import annotations``): go by the values' runtime types.
            names = [(f.name, wire_name(f)) for f in attrs.fields(cls)]

            def by_runtime_types(value: Any) -> dict[str, Any]:
                return {key: conv.unstructure(getattr(value, name)) for name, key in names}

            generated = by_runtime_types

        def unstructure_without_none(obj: Any) -> dict[str, Any]:
            return {k: v for k, v in generated(obj).items() if v is not None}

        return unstructure_without_none

    return factory


def _structure_factory(conv: cattrs.Converter) -> Callable[[type], Callable[[Any, Any], Any]]:
    def factory(cls: type) -> Callable[[Any, Any], Any]:
        generated: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(
            cls, conv, **_renames(cls))
        try:
            hints = typing.get_type_hints(cls)
        except NameError:
            hints = {}
        # optional fields without a default read back as None when the key is absent,
        # because unstructuring leaves None out
        absent_is_none = [
            wire_name(f)
            for f in attrs.fields(cls)
            if f.init
            and f.default is attrs.NOTHING
            and _is_optional(_strip_annotated(hints.get(f.name, f.type)))
        ]

        def structure_filling_none(data: Any, tp: Any) -> Any:
            if absent_is_none and isinstance(data, Mapping):
                missing = [k for k in absent_is_none if k not in data]
                if missing:
                    data = {**data, **dict.fromkeys(missing)}
            return generated(data, tp)

        return structure_filling_none

    return factory


def make_converter() -> cattrs.Converter:
    """A fresh converter with kubeplan's conventions (see the module docstring).

    ``converter`` below is the shared one; make a fresh one only to register hooks of your
    own (``spec_as(cls, converter=...)`` takes it) without changing everyone's.
    """
    conv = cattrs.Converter(
        forbid_extra_keys=False,
        # JSON has only lists: sets leave sorted, tuples and other sequences as lists
        unstruct_collection_overrides={AbstractSet: _sorted_list, Sequence: list},
    )
    conv.register_unstructure_hook(datetime.datetime, _unstructure_datetime)
    conv.register_structure_hook(datetime.datetime, _structure_datetime)
    conv.register_unstructure_hook(datetime.date, datetime.date.isoformat)
    conv.register_structure_hook(datetime.date, _structure_date)
    conv.register_structure_hook_func(_is_int_or_string, _structure_int_or_string)
    conv.register_unstructure_hook_factory(attrs.has, _unstructure_factory(conv))
    conv.register_structure_hook_factory(attrs.has, _structure_factory(conv))
    return conv


converter: cattrs.Converter = make_converter()
"""The one converter: ``SyncRequest.spec_as``, attrs responses, CRD defaults, strategies.
Built once and never reconfigured, so sharing it is safe."""


def structure(value: Any, cls: type[T], conv: cattrs.Converter | None = None) -> T:
    """Plain data (a parent's ``spec`` or ``status``) as an instance of ``cls``.

    Raises ``StructureError`` (a ``ValueError``) that names every offending field with its
    JSON path, e.g. ``'replicas' must be <= 20: 500 @ $.replicas``.
    """
    try:
        return (conv or converter).structure(value, cls)
    except cattrs.ClassValidationError as exc:
        name = getattr(cls, "__name__", str(cls))
        problems = "; ".join(cattrs.transform_error(exc, path="$", format_exception=_why))
        raise StructureError(f"cannot read {name}: {problems}", exc.exceptions, exc.cl) from None


def _why(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    text = str(exc)
    return text if text else format_exception(exc, type_)


class StructureError(KubeplanError, cattrs.ClassValidationError, ValueError):
    """Data that does not fit the attrs class it is read as; the message names every field
    with its JSON path. Still a cattrs ``ClassValidationError`` (the details) and a
    ``ValueError`` (what a handler's caller expects)."""


def unstructure(
    value: Any, as_type: Any = None, conv: cattrs.Converter | None = None
) -> Any:
    """``value`` (an attrs instance, enum, list ...) as plain JSON-ready data; ``as_type``
    unstructures it as that annotation (e.g. a set field's default as ``set[str]``)."""
    return (conv or converter).unstructure(value, unstructure_as=as_type)
