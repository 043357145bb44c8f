"""CustomResourceDefinitions derived from attrs classes, read and written by one converter.

A parent's spec and status are described once, as attrs classes; this module turns them
into the ``openAPIV3Schema`` of an ``apiextensions.k8s.io/v1`` CRD so that the API server
validates, prunes and defaults exactly what the handler will read. Pure: no I/O.

How Python maps to the schema (``kubeplan.core.convert``'s one converter writes and reads
objects the same way, so an unstructured instance always validates against its schema):

=====================================  ==================================================
annotation                             schema
=====================================  ==================================================
``str`` / ``int`` / ``float`` / bool   ``string`` / ``integer`` / ``number`` / ``boolean``
``Literal["a", "b"]``, ``enum.Enum``   ``enum`` of the values (all of one JSON type)
``list[T]``, ``tuple[T, ...]``         ``array`` of ``T``
``set[T]``, ``frozenset[T]``           ``array`` with ``x-kubernetes-list-type: set``
``dict[str, T]``                       ``object`` with ``additionalProperties: T``
``T | None``                           ``T`` plus ``nullable: true``; never required
``int | str``                          ``x-kubernetes-int-or-string: true``
an attrs class                         ``object`` with its ``properties`` and ``required``
``datetime`` / ``date``                ``string`` with ``format: date-time`` / ``date``
``typing.Any``                         ``x-kubernetes-preserve-unknown-fields: true``
bare ``dict`` / ``dict[str, Any]``     ``object`` + ``x-kubernetes-preserve-unknown-fields``
=====================================  ==================================================

Field names follow ``kubeplan.core.convert`` (the converter behind ``SyncRequest.spec_as``,
re-exported here as ``make_converter``, ``structure``, ``unstructure``, ``wire_name``):
``min_replicas`` is the key ``minReplicas`` (a trailing ``_`` is dropped); a field can
choose its key with ``attrs.field(metadata={"name": "maxUnavailable"})``. A field
without a default is required; a JSON-serialisable default
(and ``attrs.Factory(list)`` / ``Factory(dict)`` / a factory that is an attrs class) becomes
the schema's ``default``. Descriptions come from the class docstring and from
``attrs.field(metadata={"description": ...})``; OpenAPI validations (``minimum``,
``maximum``, ``maxLength``, ``pattern`` ... see ``VALIDATION_KEYS``) from the same
metadata. ``None`` values are left out when unstructuring (Kubernetes' ``omitempty``)
and read back as ``None``.
"""

from __future__ import annotations

import copy
import datetime
import enum
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from kubeplan.core import convert
from kubeplan.core.convert import NAME_KEY, make_converter, unstructure, wire_name
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.k8s import is_builtin
from kubeplan.core.types import K8sType
from kubeplan.core.versions import conversion_of, service_client_config, webhook_service_name

if typing.TYPE_CHECKING:  # only for annotations: crd_of takes an OperatorDefinition
    from kubeplan.core.definition import OperatorDefinition

Schema = dict[str, Any]

T = typing.TypeVar("T")

#: metadata keys read from ``attrs.field(metadata=...)`` (``NAME_KEY`` comes from convert)
DESCRIPTION_KEY = "description"

#: OpenAPI validations a field may carry in ``attrs.field(metadata=...)``, copied into its
#: schema as they are (the API server enforces them; pair them with attrs validators so
#: that ``spec_as`` enforces the same bounds)
VALIDATION_KEYS = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "minProperties",
    "maxProperties", "format",
)

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


class SchemaError(KubeplanError, TypeError):
    """An annotation that has no faithful OpenAPI schema; the message names class and field."""


# --------------------------------------------------------------------------------------
# field helpers shared by the schema and the converter


def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations (``from __future__ import annotations`` leaves strings)."""
    try:
        return typing.get_type_hints(cls)
    except NameError as exc:
        raise SchemaError(
            f"{cls.__qualname__}: cannot resolve an annotation ({exc}); define the types it "
            "names at module level, before the class is used"
        ) from exc


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and type(None) in typing.get_args(tp)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


# --------------------------------------------------------------------------------------
# schema


def schema_for(cls: type) -> Schema:
    """The structural openAPIV3Schema of an attrs class (pure; raises ``SchemaError``)."""
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise SchemaError(f"{cls!r} is not an attrs class; decorate it with @attrs.define")
    return _object_schema(cls, ())


def _object_schema(cls: type, seen: tuple[type, ...]) -> Schema:
    if cls in seen:
        chain = " -> ".join(c.__qualname__ for c in (*seen, cls))
        raise SchemaError(
            f"{cls.__qualname__} refers to itself ({chain}); a CRD schema cannot be "
            "recursive: annotate the recursive field as typing.Any instead"
        )
    seen = (*seen, cls)
    hints = _hints(cls)
    properties: dict[str, Schema] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        if not field.init:
            continue
        where = f"{cls.__qualname__}.{field.name}"
        tp = _strip_annotated(hints.get(field.name, field.type))
        if tp is None:
            raise SchemaError(f"{where} has no type annotation")
        prop = _type_schema(tp, where, seen)
        description = field.metadata.get(DESCRIPTION_KEY)
        if description:
            prop = {"description": str(description), **prop}
        bounds = {k: field.metadata[k] for k in VALIDATION_KEYS if k in field.metadata}
        if bounds:
            prop = {**prop, **bounds}
        has_default = field.default is not attrs.NOTHING
        if has_default:
            default = _default_value(field, tp, where)
            if default is not _NO_DEFAULT:
                prop["default"] = default
        elif not _is_optional(tp):
            required.append(wire_name(field))
        name = wire_name(field)
        if name in properties:
            raise SchemaError(f"{where}: two fields are named {name!r} in the object")
        properties[name] = prop
    schema: Schema = {"type": "object"}
    doc = _class_description(cls)
    if doc:
        schema["description"] = doc
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return schema


def _class_description(cls: type) -> str:
    doc = cls.__doc__
    if not doc or doc.startswith(f"{cls.__name__}("):  # attrs/dataclass-style generated doc
        return ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


def _type_schema(tp: Any, where: str, seen: tuple[type, ...]) -> Schema:
    tp = _strip_annotated(tp)
    if tp is Any:
        return {_PRESERVE: True}
    if _is_union(tp):
        return _union_schema(tp, where, seen)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return _enum_schema(list(args), where)
    if isinstance(tp, type):
        if tp in _SCALARS:
            return {"type": _SCALARS[tp]}
        if issubclass(tp, enum.Enum):
            return _enum_schema([member.value for member in tp], where)
        if issubclass(tp, datetime.datetime):
            return {"type": "string", "format": "date-time"}
        if issubclass(tp, datetime.date):
            return {"type": "string", "format": "date"}
        if attrs.has(tp):
            return _object_schema(tp, seen)
        if tp in (dict, Mapping):
            return {"type": "object", _PRESERVE: True}
        if tp in (list, tuple, Sequence):
            return {"type": "array", "items": {_PRESERVE: True}}
    if origin in (list, Sequence):
        return {"type": "array", "items": _type_schema(args[0], f"{where}[]", seen)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _type_schema(args[0], f"{where}[]", seen)}
        raise SchemaError(
            f"{where}: fixed-length tuple {tp!r} has no CRD schema; use tuple[T, ...] or list[T]"
        )
    if origin in (set, frozenset, AbstractSet):
        items = _type_schema(args[0], f"{where}[]", seen)
        if items.get("type") not in ("string", "integer", "number", "boolean"):
            raise SchemaError(f"{where}: a set's items must be scalars, got {args[0]!r}")
        return {"type": "array", "items": items, "x-kubernetes-list-type": "set"}
    if origin in (dict, Mapping):
        key, value = args
        if _strip_annotated(key) is not str:
            raise SchemaError(
                f"{where}: {tp!r} has non-string keys; JSON objects only have string keys"
            )
        if _strip_annotated(value) is Any:
            return {"type": "object", _PRESERVE: True}
        return {
            "type": "object",
            "additionalProperties": _type_schema(value, f"{where}{{}}", seen),
        }
    raise SchemaError(
        f"{where}: unsupported annotation {tp!r}; use str, int, float, bool, Literal, an Enum, "
        "datetime, list[T], tuple[T, ...], dict[str, T], T | None, an attrs class or typing.Any"
    )


def _union_schema(tp: Any, where: str, seen: tuple[type, ...]) -> Schema:
    members = [_strip_annotated(a) for a in typing.get_args(tp) if a is not type(None)]
    if set(members) == {int, str}:
        schema: Schema = {"x-kubernetes-int-or-string": True}
    elif len(members) == 1:
        schema = dict(_type_schema(members[0], where, seen))
    else:
        raise SchemaError(
            f"{where}: union {tp!r} has no structural schema; only T | None and int | str "
            "are supported (use typing.Any to accept anything)"
        )
    if _is_optional(tp) and _PRESERVE not in schema:
        schema["nullable"] = True
    return schema


def _enum_schema(values: list[Any], where: str) -> Schema:
    kinds = {_json_type(v) for v in values}
    if len(kinds) != 1 or None in kinds:
        raise SchemaError(
            f"{where}: enum values {values!r} must all be strings, all integers or all numbers"
        )
    return {"type": kinds.pop(), "enum": list(values)}


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


_NO_DEFAULT = object()
# attrs.Factory is a class, but typed as a function returning the default it makes (so that
# type checkers read ``x: list[int] = attrs.Factory(list)``): the class, from an instance
_FACTORY: type[Any] = type(attrs.Factory(list))
_SAFE_FACTORIES: tuple[Callable[[], Any], ...] = (list, dict, tuple, set, frozenset)


def _default_value(field: attrs.Attribute[Any], tp: Any, where: str) -> Any:
    """The JSON form of a field's default, or ``_NO_DEFAULT`` when it has none to publish.

    Factories are called only when they are known to be pure (empty containers, attrs
    classes built from their own defaults): an arbitrary factory could read a clock.
    """
    default = field.default
    if isinstance(default, _FACTORY):
        factory = default.factory
        if default.takes_self or not (
            factory in _SAFE_FACTORIES or (isinstance(factory, type) and attrs.has(factory))
        ):
            return _NO_DEFAULT
        try:
            default = factory()
        except TypeError:  # an attrs class with required fields
            return _NO_DEFAULT
    if default is None:
        return _NO_DEFAULT
    value = unstructure(default, tp)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{where}: default {default!r} is not JSON-serialisable ({exc})") from exc
    return value


# --------------------------------------------------------------------------------------
# the CRD


#: the status fields kubeplan itself writes (see the planner): a standard condition list
#: and the generation the status describes. Added unless the status class defines them.
CONDITIONS_SCHEMA: Schema = {
    "type": "array",
    "description": "Conditions kubeplan and the handler report about this object.",
    "items": {
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "observedGeneration": {"type": "integer"},
        },
        "required": ["type", "status"],
        _PRESERVE: True,
    },
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}
OBSERVED_GENERATION_SCHEMA: Schema = {
    "type": "integer",
    "description": "The metadata.generation this status was computed from.",
}


ROLLOUT_SCHEMA: Schema = {
    "type": "object",
    "description": "Progress of the rolling updates, per child kind (kubeplan.core.rollout).",
    _PRESERVE: True,
}


def status_schema(status_class: type | None, *, rollout: bool = False) -> Schema:
    """The schema of ``status``: the class's, never requiring a top-level field, plus
    the conditions and observedGeneration kubeplan adds (and ``rollout`` when the
    operator has a rolling child type).

    Top-level status fields are not required because kubeplan writes the status in
    steps: after a failed sync the status holds only a condition, before the handler
    ever produced its own fields, and the API server must accept that write.
    """
    if status_class is None:
        schema: Schema = {"type": "object", _PRESERVE: True}
        properties: dict[str, Schema] = {}
    else:
        schema = schema_for(status_class)
        schema.pop("required", None)
        properties = schema["properties"]
    properties.setdefault("conditions", CONDITIONS_SCHEMA)
    properties.setdefault("observedGeneration", OBSERVED_GENERATION_SCHEMA)
    if rollout:
        properties.setdefault("rollout", ROLLOUT_SCHEMA)
    schema["properties"] = properties
    return schema


def spec_schema(spec_class: type | None) -> Schema:
    """The schema of ``spec``: the class's, or any object when there is no class."""
    if spec_class is None:
        return {"type": "object", _PRESERVE: True}
    return schema_for(spec_class)


def crd_for(
    parent: K8sType,
    spec_class: type | None = None,
    status_class: type | None = None,
    *,
    singular: str | None = None,
    short_names: Iterable[str] = (),
    categories: Iterable[str] = (),
    printer_columns: Iterable[Mapping[str, Any]] = (),
    description: str = "",
    rollout: bool = False,
) -> dict[str, Any]:
    """A complete ``apiextensions.k8s.io/v1`` CustomResourceDefinition for ``parent`` (pure).

    One version, served and stored, with the status subresource enabled (kubeplan writes
    status through ``/status``). ``printer_columns`` are ``additionalPrinterColumns``
    entries (``{"name", "type", "jsonPath"}`` at least); ``rollout`` adds the
    ``status.rollout`` kubeplan writes for rolling child types.
    """
    if not parent.group or "." not in parent.group:
        raise InvalidArgument(
            f"{parent}: a CRD needs an API group that is a domain with a dot "
            f"(e.g. 'example.com/v1'), got api_version {parent.api_version!r}"
        )
    if parent.plural != parent.plural.lower() or not parent.plural:
        raise InvalidArgument(
            f"{parent}: plural {parent.plural!r} must be lower-case and non-empty")
    spec = spec_schema(spec_class)
    root: Schema = {"type": "object"}
    if description:
        root["description"] = description
    root["properties"] = {"spec": spec, "status": status_schema(status_class, rollout=rollout)}
    if spec.get("required"):
        root["required"] = ["spec"]
    names: dict[str, Any] = {
        "plural": parent.plural,
        "singular": singular or parent.kind.lower(),
        "kind": parent.kind,
        "listKind": f"{parent.kind}List",
    }
    if short := list(short_names):
        names["shortNames"] = short
    if cats := list(categories):
        names["categories"] = cats
    version: dict[str, Any] = {
        "name": parent.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "subresources": {"status": {}},
    }
    columns = [dict(c) for c in printer_columns]
    for column in columns:
        missing = {"name", "type", "jsonPath"} - column.keys()
        if missing:
            raise InvalidArgument(f"printer column {column!r} lacks {sorted(missing)}")
    if columns:
        version["additionalPrinterColumns"] = columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": parent.key},
        "spec": {
            "group": parent.group,
            "names": names,
            "scope": "Namespaced" if parent.namespaced else "Cluster",
            "versions": [version],
        },
    }


def crd_of(
    definition: OperatorDefinition,
    *,
    webhook_client_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The CRD of an operator: its explicit ``crd`` when given, else derived (pure).

    A versioned definition (``versions=``) gets one entry per version, each with its own
    classes' schema, and ``conversion: Webhook`` calling ``webhook_client_config`` (by
    default the Service ``kubeplan manifests`` writes, in its default namespace).

    A built-in parent type (``kubeplan.core.k8s.is_builtin``: a decorator of Services,
    Namespaces ...) has none: ``SchemaError`` says so; see ``parent_crd``."""
    if definition.crd is not None:
        return definition.crd
    parent = definition.config.parent
    if is_builtin(parent):
        raise SchemaError(
            f"{parent} is a built-in type, served by every API server: "
            f"operator {definition.config.name!r} decorates it and has no CRD"
        )
    crd = crd_for(
        parent,
        definition.spec_class,
        definition.status_class,
        description=definition.description,
        rollout=any(c.rollout is not None for c in definition.config.children.values()),
    )
    version_set = definition.version_set
    if version_set is None:
        return crd
    entries = []
    for version in version_set.versions:
        one = crd_for(
            K8sType(f"{parent.group}/{version.name}", parent.kind, parent.plural,
                    parent.namespaced),
            version.spec_class,
            version.status_class,
            description=definition.description,
        )
        entry = one["spec"]["versions"][0]
        entry["served"] = version.served
        entry["storage"] = version.storage
        if version.deprecated:
            entry["deprecated"] = True
        entries.append(copy.deepcopy(entry))  # no schema dict shared between versions
    crd["spec"]["versions"] = entries
    if webhook_client_config is None:
        webhook_client_config = service_client_config(
            webhook_service_name(definition.config.name)
        )
    crd["spec"]["conversion"] = conversion_of(webhook_client_config)
    return crd


def parent_crd(definition: OperatorDefinition) -> dict[str, Any] | None:
    """The CRD to install for the parent type (in a test's fake, ``run --embedded``), or
    None when the parent is a built-in type."""
    if definition.crd is None and is_builtin(definition.config.parent):
        return None
    return crd_of(definition)


# --------------------------------------------------------------------------------------
# the converter: the one of kubeplan.core.convert, re-exported here for compatibility


def structure(data: Any, cls: type[T]) -> T:
    """Plain data as an instance of ``cls`` (``kubeplan.core.convert.structure``)."""
    return convert.structure(data, cls)


__all__ = [
    "CONDITIONS_SCHEMA",
    "NAME_KEY",
    "OBSERVED_GENERATION_SCHEMA",
    "ROLLOUT_SCHEMA",
    "VALIDATION_KEYS",
    "SchemaError",
    "crd_for",
    "crd_of",
    "make_converter",
    "parent_crd",
    "schema_for",
    "spec_schema",
    "status_schema",
    "structure",
    "unstructure",
    "wire_name",
]
