"""Hypothesis strategies for Kubernetes data and operator scenarios.

Small composable pieces, in the manner of attrs's ``tests/strategies.py``: names, labels
and metadata; objects of a type; parents built from the operator's attrs spec class or
from a CRD's openAPIV3Schema; scenario steps, fault schedules and whole scenarios.

Two promises hold for every strategy here:

- Valid by construction. Names, label keys and values are built from their grammar
  (RFC 1123 labels and subdomains, qualified names) rather than filtered or drawn from a
  regex, so every value is one the fake API server accepts, and generation stays cheap
  (``st.from_regex`` is slow per example; these cost a fraction of that).
- Small when shrunk. Every choice is ordered simplest first — names shrink to ``a``,
  optional metadata to absent, scenario steps to ``settle`` and lists to empty — so a
  failing scenario shrinks to the few steps that matter.
"""

# No ``from __future__ import annotations``: it binds the name ``annotations``, which is
# this module's strategy for metadata.annotations (a type checker would see the feature).
import datetime
import enum
import functools
import math
import re
import re._parser as re_parser  # type: ignore[import-not-found]  # (stubs: sre_parse only)
import string
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import attrs
from hypothesis import assume
from hypothesis import strategies as st

from kubeplan.core import convert
from kubeplan.core.crd import VALIDATION_KEYS, crd_of, schema_for
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, WrongArgumentType
from kubeplan.core.filters import ParentFilter
from kubeplan.core.k8s import is_builtin
from kubeplan.core.selectors import Operator, Requirement
from kubeplan.core.types import K8sType
from kubeplan.testkit import scenario as sc

JsonObject = dict[str, Any]
Strategy = st.SearchStrategy

_LOWER_ALNUM = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits
# Prefixes that Kubernetes or kubeplan reserve for their own labels and annotations.
_RESERVED_SUFFIXES = ("kubernetes.io", "k8s.io", "kubeplan.dev")

# Characters for free text: letters, digits, punctuation, symbols and spaces. No control
# characters, so text survives JSON, YAML and terminal output unchanged.
_TEXT_CHARS = st.characters(categories=("L", "N", "P", "S", "Zs"))


# -- names ---------------------------------------------------------------------------------


def _grammar_name(
    draw: st.DrawFn, edge: str, inner: str, max_size: int
) -> str:
    """``[edge]([inner]*[edge])?`` of at most ``max_size`` characters, shrinking to 'a'."""
    edges, rests = _name_strategies(edge, inner, max_size)
    first = draw(edges)
    if max_size == 1:
        return first
    rest = draw(rests)
    if rest and rest[-1] not in edge:
        rest = rest[:-1] + draw(edges)
    return first + rest


@functools.cache
def _name_strategies(edge: str, inner: str, max_size: int) -> tuple[Strategy[str], Strategy[str]]:
    # Built once per grammar and size, not in every draw (that was half a scenario's
    # generation time). Mostly short names, sometimes the longest allowed: names that
    # only just fit are where operators break (a child named parent name + suffix no
    # longer fits).
    full = max_size - 1
    return st.sampled_from(edge), (st.text(alphabet=inner, max_size=full)
                                   | st.text(alphabet=inner, min_size=full, max_size=full))


def _check_size(max_size: int, limit: int, what: str) -> None:
    if not 1 <= max_size <= limit:
        raise InvalidArgument(f"{what}: max_size must be between 1 and {limit}, got {max_size}")


@functools.cache
def dns_labels(*, max_size: int = 63) -> Strategy[str]:
    """RFC 1123 labels, ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``: namespace and most short names."""
    _check_size(max_size, 63, "dns_labels")
    alphabet = _LOWER_ALNUM + "-"
    return st.composite(lambda draw: _grammar_name(draw, _LOWER_ALNUM, alphabet, max_size))()


@functools.cache
def dns_1035_labels(*, max_size: int = 63) -> Strategy[str]:
    """RFC 1035 labels, ``[a-z]([-a-z0-9]*[a-z0-9])?``: what Service names must be."""
    _check_size(max_size, 63, "dns_1035_labels")

    firsts = st.sampled_from(string.ascii_lowercase)
    rests = dns_labels(max_size=max_size - 1) | st.just("") if max_size > 1 else st.just("")

    @st.composite
    def build(draw: st.DrawFn) -> str:
        return draw(firsts) + draw(rests)

    return build()


@functools.cache
def dns_subdomains(*, max_size: int = 253, max_parts: int = 4) -> Strategy[str]:
    """RFC 1123 subdomains: labels joined by dots, at most 253 characters (object names)."""
    _check_size(max_size, 253, "dns_subdomains")

    @st.composite
    def build(draw: st.DrawFn) -> str:
        name = draw(dns_labels(max_size=min(63, max_size)))
        for _ in range(max_parts - 1):
            room = max_size - len(name) - 1
            if room < 1 or not draw(st.booleans()):
                break
            name += "." + draw(dns_labels(max_size=min(63, room)))
        return name

    return build()


@functools.cache
def _qualified_name_parts(*, max_size: int = 63) -> Strategy[str]:
    """The name part of a qualified name: ``[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?``."""
    _check_size(max_size, 63, "qualified names")
    return st.composite(lambda draw: _grammar_name(draw, _ALNUM, _ALNUM + "-_.", max_size))()


def _unreserved(prefix: str) -> bool:
    return not any(prefix == s or prefix.endswith("." + s) for s in _RESERVED_SUFFIXES)


@functools.cache
def label_keys(*, max_name_size: int = 63, max_prefix_size: int = 253) -> Strategy[str]:
    """Label and annotation keys: an optional DNS-subdomain prefix and ``/``, then a name.

    Prefixes reserved by Kubernetes (``*.kubernetes.io``, ``*.k8s.io``) and by kubeplan
    (``kubeplan.dev``) are never drawn, so generated keys cannot collide with ours.
    """
    names = _qualified_name_parts(max_size=max_name_size)
    prefixes = dns_subdomains(max_size=max_prefix_size).filter(_unreserved)
    return names | st.builds(lambda p, n: f"{p}/{n}", prefixes, names)


@functools.cache
def label_values(*, max_size: int = 63) -> Strategy[str]:
    """Label values: empty, or a qualified-name part of at most 63 characters."""
    return st.just("") | _qualified_name_parts(max_size=max_size)


@functools.cache
def labels(*, max_size: int = 4) -> Strategy[dict[str, str]]:
    """A ``metadata.labels`` mapping."""
    return st.dictionaries(label_keys(), label_values(), max_size=max_size)


def text(*, max_size: int = 40) -> Strategy[str]:
    """Readable free text (no control characters), e.g. annotation values or spec strings."""
    return st.text(_TEXT_CHARS, max_size=max_size)


@functools.cache
def annotations(*, max_size: int = 3) -> Strategy[dict[str, str]]:
    """A ``metadata.annotations`` mapping: qualified-name keys, free-text values."""
    return st.dictionaries(label_keys(), text(), max_size=max_size)


@functools.cache
def object_names(k8s_type: K8sType | None = None, *, max_size: int = 253) -> Strategy[str]:
    """Names the API server accepts for objects of ``k8s_type``.

    Most objects take a DNS subdomain; Namespaces an RFC 1123 label; Services an RFC 1035
    label (they become DNS names).
    """
    if k8s_type is not None and k8s_type.api_version == "v1":
        if k8s_type.kind == "Service":
            return dns_1035_labels(max_size=min(63, max_size))
        if k8s_type.kind == "Namespace":
            return dns_labels(max_size=min(63, max_size))
    return dns_subdomains(max_size=max_size)


def _default_namespaces() -> Strategy[str]:
    # The fake API server, like a fresh cluster, has only a few namespaces; objects in any
    # other one are refused with 404, so the default is the one that always exists.
    return st.just("default")


def object_metadata(
    namespaced: bool = True,
    *,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
) -> Strategy[JsonObject]:
    """``metadata`` for a new object: name, namespace when namespaced, maybe labels and
    annotations (absent when shrunk)."""
    required: dict[str, Strategy[Any]] = {"name": names if names is not None else dns_subdomains()}
    if namespaced:
        required["namespace"] = namespaces if namespaces is not None else _default_namespaces()
    optional = {"labels": labels(), "annotations": annotations()}
    return st.fixed_dictionaries(required, optional=optional)


def _config_map_keys() -> Strategy[str]:
    return st.text(alphabet=_ALNUM + "-._", min_size=1, max_size=20).filter(
        lambda k: k not in (".", "..")
    )


def objects_of(
    k8s_type: K8sType,
    spec: Strategy[Any] | None = None,
    *,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
    body: Strategy[JsonObject] | None = None,
) -> Strategy[JsonObject]:
    """New objects of ``k8s_type``: ``{apiVersion, kind, metadata}`` plus ``spec`` when a
    ``spec`` strategy is given, and any top-level fields ``body`` draws. ConfigMaps and
    Secrets without a ``body`` get string ``data``."""
    if body is None and k8s_type.api_version == "v1" and k8s_type.kind == "ConfigMap":
        body = st.fixed_dictionaries(
            {}, optional={"data": st.dictionaries(_config_map_keys(), text(), max_size=3)}
        )

    metadata = object_metadata(
        k8s_type.namespaced,
        names=names if names is not None else object_names(k8s_type),
        namespaces=namespaces,
    )

    @st.composite
    def build(draw: st.DrawFn) -> JsonObject:
        obj: JsonObject = {
            "apiVersion": k8s_type.api_version,
            "kind": k8s_type.kind,
            "metadata": draw(metadata),
        }
        if body is not None:
            obj.update(draw(body))
        if spec is not None:
            obj["spec"] = draw(spec)
        return obj

    return build()


# -- JSON values ---------------------------------------------------------------------------

_JSON_INTS = st.integers(min_value=-(2**53), max_value=2**53)
_JSON_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def json_values(*, max_leaves: int = 10) -> Strategy[Any]:
    """Arbitrary JSON data, small: what a schemaless spec or a preserved field can hold."""
    scalars = st.none() | st.booleans() | _JSON_INTS | _JSON_FLOATS | text(max_size=10)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(_qualified_name_parts(max_size=10), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def json_objects(*, max_size: int = 3) -> Strategy[JsonObject]:
    """JSON objects with short field names: a spec when nothing more is known."""
    return st.dictionaries(_qualified_name_parts(max_size=10), json_values(), max_size=max_size)


# -- parents from attrs spec classes -------------------------------------------------------

Overrides = Mapping[str | type, Strategy[Any]]


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def strategy_for_type(
    tp: Any, overrides: Overrides | None = None, *, where: str = ""
) -> Strategy[Any]:
    """Values of the annotation ``tp``, as ``kubeplan.core.crd`` maps annotations to CRD
    schemas: scalars, ``Literal``, ``Enum``, ``list``/``tuple[T, ...]``/``set``,
    ``dict[str, T]``, ``T | None``, ``int | str``, datetimes, ``Any`` and nested attrs
    classes. ``overrides`` maps a type, or a field as ``"Class.field"``, to a strategy."""
    overrides = overrides or {}
    tp = _strip_annotated(tp)
    if tp in overrides:
        return overrides[tp]
    if tp is Any:
        return json_values()
    if _is_union(tp):
        members = [_strip_annotated(a) for a in typing.get_args(tp)]
        # None last, so a shrunk optional value is a real value only when it matters.
        ordered = [m for m in members if m is not type(None)]
        parts = [strategy_for_type(m, overrides, where=where) for m in ordered]
        if len(ordered) < len(members):
            parts.append(st.none())
        return st.one_of(parts)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if isinstance(tp, type):
        simple = {
            bool: st.booleans(),
            int: _JSON_INTS,
            float: _JSON_FLOATS,
            str: text(max_size=20),
            type(None): st.none(),
        }
        if tp in simple:
            return simple[tp]
        if issubclass(tp, enum.Enum):
            return st.sampled_from(list(tp))
        if issubclass(tp, datetime.datetime):
            return st.datetimes(
                min_value=datetime.datetime(1970, 1, 1),
                max_value=datetime.datetime(2200, 1, 1),
                timezones=st.just(datetime.UTC),
            )
        if issubclass(tp, datetime.date):
            return st.dates()
        if attrs.has(tp):
            return _attrs_instances(tp, overrides)
        if tp in (dict, Mapping):
            return json_objects()
        if tp in (list, tuple, Sequence):
            return st.lists(json_values(), max_size=3)
    if origin in (list, Sequence):
        return st.lists(strategy_for_type(args[0], overrides, where=where), max_size=3)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return st.lists(strategy_for_type(args[0], overrides, where=where), max_size=3).map(tuple)
    if origin in (set, frozenset, AbstractSet):
        items = st.lists(strategy_for_type(args[0], overrides, where=where), max_size=3)
        return items.map(frozenset if origin is frozenset else set)
    if origin in (dict, Mapping):
        if _strip_annotated(args[1]) is Any:
            return json_objects()
        return st.dictionaries(
            _qualified_name_parts(max_size=10),
            strategy_for_type(args[1], overrides, where=where),
            max_size=3,
        )
    raise WrongArgumentType(
        f"{where or 'strategy_for_type'}: no strategy for annotation {tp!r}; pass one in "
        "overrides={type_or_'Class.field': strategy}"
    )


_BOUNDED_SCALARS = (str, int, float)


def _bounded_field(cls: type, field: "attrs.Attribute[Any]", tp: Any) -> Strategy[Any] | None:
    """Values within the OpenAPI bounds a scalar field states in its metadata (as
    ``kubeplan crd`` publishes them: ``minimum``, ``maximum``, ``pattern``, lengths ...),
    or None when the field states none."""
    if not any(k in field.metadata for k in VALIDATION_KEYS):
        return None
    members = [_strip_annotated(a) for a in typing.get_args(tp)] if _is_union(tp) else [tp]
    scalars = [m for m in members if m is not type(None)]
    if len(scalars) != 1 or scalars[0] not in _BOUNDED_SCALARS or scalars[0] is bool:
        return None
    prop = schema_for(cls)["properties"][convert.wire_name(field)]
    return values_for_schema(prop, where=f"{cls.__name__}.{field.name}")


def _attrs_instances(cls: type, overrides: Overrides) -> Strategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Strategy[Any]] = {}
    for field in attrs.fields(cls):
        if not field.init:
            continue
        key = f"{cls.__name__}.{field.name}"
        tp = _strip_annotated(hints.get(field.name, field.type))
        if key in overrides:
            fields[field.alias] = overrides[key]
        elif tp not in overrides and (bounded := _bounded_field(cls, field, tp)) is not None:
            fields[field.alias] = bounded
        else:
            fields[field.alias] = strategy_for_type(tp, overrides, where=key)

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        kwargs = draw(st.fixed_dictionaries(fields))
        try:
            return cls(**kwargs)
        except (TypeError, ValueError):
            # The class's own validators refused the values: discard this example. When
            # this happens often, give the field a strategy in ``overrides``.
            assume(False)
            raise  # pragma: no cover - assume(False) never returns

    return build()


def spec_instances(spec_class: type, *, overrides: Overrides | None = None) -> Strategy[Any]:
    """Instances of an attrs spec class, nested classes and all (see ``strategy_for_type``)."""
    if not attrs.has(spec_class):
        raise WrongArgumentType(f"{spec_class!r} is not an attrs class")
    return _attrs_instances(spec_class, overrides or {})


def parents(
    k8s_type: K8sType,
    spec_class: type,
    *,
    overrides: Overrides | None = None,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
) -> Strategy[JsonObject]:
    """Parents ``{apiVersion, kind, metadata, spec}`` whose spec is an instance of
    ``spec_class`` unstructured with kubeplan's converter, so ``request.spec_as(spec_class)``
    reads it back. A scalar field's OpenAPI bounds in ``attrs.field(metadata=...)``
    (``minimum``, ``maximum``, ``pattern``, lengths: what its CRD publishes) bound its
    values; values the class's validators still refuse are skipped (see ``overrides``)."""
    return objects_of(
        k8s_type,
        spec_instances(spec_class, overrides=overrides).map(convert.unstructure),
        names=names,
        namespaces=namespaces,
    )


# -- parents from an openAPIV3Schema ------------------------------------------------------


def _bounded_number(schema: Mapping[str, Any], integer: bool) -> Strategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    excl_low, excl_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    # OpenAPI 3.0 writes exclusivity as booleans next to minimum/maximum.
    if integer:
        lo = -(2**53) if low is None else math.ceil(low) + (1 if excl_low is True else 0)
        hi = 2**53 if high is None else math.floor(high) - (1 if excl_high is True else 0)
        step = schema.get("multipleOf")
        if not (isinstance(step, int) and step > 0):
            step = 1
        first, last = -(-lo // step), hi // step  # multiples of step within the bounds
        # Half the draws are the domain's edges (its bounds, zero and its neighbours):
        # that is where operators break (a negative count, a zero divisor), and a wide
        # range alone may go 50 draws without a negative number.
        # Simplest first (0, 1, -1, then the bounds): a drawn edge shrinks towards zero.
        edges = sorted({n for n in (first, last, 0, 1, -1) if first <= n <= last},
                       key=lambda n: (abs(n), n < 0))
        return st.one_of(st.integers(min_value=first, max_value=last),
                         st.sampled_from(edges)).map(lambda n: n * step)
    return st.floats(
        min_value=low,
        max_value=high,
        exclude_min=excl_low is True,
        exclude_max=excl_high is True,
        allow_nan=False,
        allow_infinity=False,
    )


def _schema_string(schema: Mapping[str, Any]) -> Strategy[str]:
    min_size = int(schema.get("minLength", 0))
    max_size = int(schema.get("maxLength", max(20, min_size)))
    fmt = schema.get("format")
    if "pattern" in schema:
        # The only regex strategy here: a schema's pattern is its own grammar. The API
        # server searches for the pattern; a whole match also passes an attrs validator
        # such as ``matches_re`` (which matches the whole string).
        drawn = st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: min_size <= len(s) <= max_size
        )
        shortest = _shortest_match(schema["pattern"])
        if shortest is None or not min_size <= len(shortest) <= max_size:
            return drawn
        # The pattern's shortest match half the time: a regex's strings shrink one
        # character at a time (two or three scenarios to run for each), and a failure
        # that does not depend on this string gets it simplified in one step.
        return st.one_of(st.just(shortest), drawn)
    if fmt == "date-time":
        return st.datetimes(timezones=st.just(datetime.UTC)).map(
            lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        )
    if fmt == "date":
        return st.dates().map(datetime.date.isoformat)
    return st.text(_TEXT_CHARS, min_size=min_size, max_size=max_size)


class _NoShortestMatch(Exception):
    """The pattern uses what ``_shortest_match`` does not follow."""


def _shortest_match(pattern: str) -> str | None:
    """A shortest string that ``pattern`` matches whole, or None when it uses what this
    does not follow (lookarounds, backreferences, negated classes). Checked with
    ``re.fullmatch`` before it is returned, so a wrong guess costs only the shortcut."""
    try:
        text = _shortest(re_parser.parse(pattern))
    except (_NoShortestMatch, re.error, RecursionError):
        return None
    return text if re.fullmatch(pattern, text) else None


_CATEGORY_CHARS = {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " ",
                   "CATEGORY_NOT_DIGIT": "a", "CATEGORY_NOT_WORD": "-",
                   "CATEGORY_NOT_SPACE": "a"}


def _shortest(items: Any) -> str:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("b" if chr(arg) == "a" else "a")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_shortest(sub) * low)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_shortest(arg[-1]))
        elif name == "BRANCH":
            out.append(min((_shortest(alt) for alt in arg[1]), key=len))
        elif name == "AT":
            continue
        else:  # lookarounds, backreferences, conditionals
            raise _NoShortestMatch(name)
    return "".join(out)


def _class_member(items: Any) -> str:
    """One character of a ``[...]`` class (its first range's first character)."""
    op, arg = items[0]
    name = str(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(arg[0])
    if name == "CATEGORY" and str(arg) in _CATEGORY_CHARS:
        return _CATEGORY_CHARS[str(arg)]
    raise _NoShortestMatch(name)  # a negated class


def values_for_schema(schema: Mapping[str, Any], *, where: str = "") -> Strategy[Any]:
    """Values that satisfy a structural openAPIV3Schema (as a CRD's validation holds it).

    Honoured: ``type``, ``properties``/``required`` (optional properties appear or not),
    ``additionalProperties`` (and a map's ``min/maxProperties``), ``items``,
    ``min/maxItems``, ``enum``, ``minimum``/``maximum`` (and their exclusive forms), an
    integer's ``multipleOf``, ``min/maxLength``, ``pattern`` (drawn with ``st.from_regex``,
    matching the whole string), ``format`` date and date-time, ``nullable``,
    ``x-kubernetes-int-or-string``,
    ``x-kubernetes-preserve-unknown-fields`` and ``x-kubernetes-list-type: set``. Not
    honoured: ``x-kubernetes-validations`` (CEL) and ``oneOf``/``anyOf``/``not``.
    """
    where = where or "schema"
    strategy = _values_for_schema(schema, where)
    if schema.get("nullable"):
        strategy = strategy | st.none()
    return strategy


def _values_for_schema(schema: Mapping[str, Any], where: str) -> Strategy[Any]:
    if "enum" in schema:
        return st.sampled_from([v for v in schema["enum"] if v is not None])
    if schema.get("x-kubernetes-int-or-string"):
        return st.integers(min_value=0, max_value=2**31) | text(max_size=10).filter(
            lambda s: not s.strip().lstrip("-").isdigit()
        )
    kind = schema.get("type")
    if kind == "string":
        return _schema_string(schema)
    if kind == "integer":
        return _bounded_number(schema, integer=True)
    if kind == "number":
        return _bounded_number(schema, integer=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = values_for_schema(schema.get("items", {}), where=f"{where}[]")
        min_size = int(schema.get("minItems", 0))
        max_size = int(schema.get("maxItems", max(3, min_size)))
        unique = schema.get("x-kubernetes-list-type") == "set" or schema.get("uniqueItems")
        return st.lists(
            items, min_size=min_size, max_size=max_size, unique_by=repr if unique else None
        )
    if kind == "object" or "properties" in schema:
        return _schema_object(schema, where)
    if schema.get("x-kubernetes-preserve-unknown-fields") or not schema:
        return json_values()
    raise InvalidArgument(f"{where}: no strategy for schema {dict(schema)!r}")


def _schema_object(schema: Mapping[str, Any], where: str) -> Strategy[JsonObject]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {
        name: values_for_schema(sub, where=f"{where}.{name}")
        for name, sub in properties.items()
        if name in required
    }
    optional = {
        name: values_for_schema(sub, where=f"{where}.{name}")
        for name, sub in properties.items()
        if name not in required
    }
    known = _objects_with(fixed, optional)
    extra_schema = schema.get("additionalProperties")
    if isinstance(extra_schema, Mapping):
        extra_values = values_for_schema(extra_schema, where=f"{where}{{}}")
    elif schema.get("x-kubernetes-preserve-unknown-fields") and not properties:
        extra_values = json_values()
    else:
        return known
    # min/maxProperties bound a map (an object of additionalProperties alone)
    min_extra = 0 if properties else int(schema.get("minProperties", 0))
    max_extra = 3 if properties else int(schema.get("maxProperties", max(3, min_extra)))
    extras = st.dictionaries(
        _qualified_name_parts(max_size=10).filter(lambda k: k not in properties),
        extra_values,
        min_size=min_extra,
        max_size=max_extra,
    )
    return st.builds(lambda k, e: {**e, **k}, known, extras)


# Three times in four an optional key is there, and shrinking goes to index 0: absent.
# (Decided by a boolean, a key was there less often than st.fixed_dictionaries put it
# there: 50-scenario runs held 7 specs with a negative count on average, against 12.)
_PRESENT = st.sampled_from((False, True, True, True))


def _objects_with(required: Mapping[str, Strategy[Any]], optional: Mapping[str, Strategy[Any]]
                  ) -> Strategy[JsonObject]:
    """Objects with every ``required`` key and each ``optional`` key or not.

    Each optional key is decided by a boolean of its own, just before its value, so
    shrinking drops one key and leaves the others' draws where they were.
    (``st.fixed_dictionaries`` picks its optional keys by index: dropping one shifts
    the picks after it, and most candidates lost the very value a failure needed.)"""

    @st.composite
    def build(draw: st.DrawFn) -> JsonObject:
        obj = {name: draw(values) for name, values in required.items()}
        for name, values in optional.items():
            if draw(_PRESENT):
                obj[name] = draw(values)
        return obj

    return build()


def parents_from_schema(
    k8s_type: K8sType,
    openapi_v3_schema: Mapping[str, Any],
    *,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
) -> Strategy[JsonObject]:
    """Parents whose ``spec`` satisfies a CRD version's ``openAPIV3Schema`` (the whole
    object's schema; its ``properties.spec`` describes the spec)."""
    return objects_of(
        k8s_type, specs_from_schema(openapi_v3_schema), names=names, namespaces=namespaces
    )


def specs_from_schema(openapi_v3_schema: Mapping[str, Any]) -> Strategy[Any]:
    """The ``spec`` alone of ``parents_from_schema``'s parents."""
    spec_schema = openapi_v3_schema.get("properties", {}).get("spec", {"type": "object"})
    return values_for_schema(spec_schema, where="spec")


def parents_from_crd(
    crd_obj: Mapping[str, Any], *, version_name: str | None = None, **kwargs: Any
) -> Strategy[JsonObject]:
    """Parents of a CustomResourceDefinition (dict), using the schema of ``version_name``
    (by default its storage version's)."""
    k8s_type, schema = _crd_version(crd_obj, version_name)
    return parents_from_schema(k8s_type, schema, **kwargs)


def specs_from_crd(crd_obj: Mapping[str, Any], *, version_name: str | None = None
                   ) -> Strategy[Any]:
    """The ``spec`` alone of ``parents_from_crd``'s parents."""
    return specs_from_schema(_crd_version(crd_obj, version_name)[1])


def _crd_version(crd_obj: Mapping[str, Any], version_name: str | None
                 ) -> tuple[K8sType, Mapping[str, Any]]:
    """The type and ``openAPIV3Schema`` of ``version_name`` (default: the storage one)."""
    spec = crd_obj["spec"]
    versions = spec["versions"]
    version = next((v for v in versions if v.get("storage")), versions[0])
    if version_name is not None:
        version = next((v for v in versions if v.get("name") == version_name), version)
    k8s_type = K8sType(
        f"{spec['group']}/{version['name']}",
        spec["names"]["kind"],
        spec["names"]["plural"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
    )
    return k8s_type, version.get("schema", {}).get("openAPIV3Schema", {})


def parents_for(
    definition: OperatorDefinition,
    *,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
    on_refused: typing.Callable[[str], None] | None = None,
) -> Strategy[JsonObject]:
    """Parents of ``definition``, their specs drawn as ``specs_for`` draws them.

    With an explicit ``crd``: from its schema. With a ``spec_class``: from the schema of
    the CRD ``kubeplan crd`` derives (so its ``minimum``, ``maximum``, ``pattern``,
    ``enum`` and lengths hold), keeping only specs that ``spec_as(spec_class)`` reads
    (its validators may refuse more than the schema says); ``on_refused`` is told why
    each refused spec was refused. With neither: any small JSON object.
    """
    if definition.crd is not None:
        return parents_from_crd(definition.crd, names=names, namespaces=namespaces)
    return objects_of(definition.config.parent, specs_for(definition, on_refused=on_refused),
                      names=names, namespaces=namespaces)


def specs_for(
    definition: OperatorDefinition,
    *,
    on_refused: typing.Callable[[str], None] | None = None,
) -> Strategy[JsonObject]:
    """The parent specs ``check_operator`` draws for ``definition`` by default: those of
    ``parents_for``, without the metadata a scenario does not use (drawing it cost time,
    and shrinking it only made candidates that run the same scenario again)."""
    parent = definition.config.parent
    if definition.crd is not None:
        return specs_from_crd(definition.crd)
    if is_builtin(parent):
        specs = _BUILTIN_SPECS.get((parent.api_version, parent.kind))
        if specs is None:
            known = ", ".join(f"{v}/{k}" for v, k in sorted(_BUILTIN_SPECS))
            raise InvalidArgument(
                f"no default specs for the built-in parent type {parent} (there are for "
                f"{known}): pass parents= a strategy of valid {parent.kind} objects, such as "
                f"strategies.objects_of({parent.kind}, specs)"
            )
        return specs
    spec_class = definition.spec_class
    if spec_class is None:
        return json_objects()
    # a versioned parent is drawn in the version the operator watches
    drawn = specs_from_crd(crd_of(definition), version_name=parent.version)

    def readable(spec: JsonObject) -> bool:
        try:
            convert.structure(spec or {}, spec_class)
        except Exception as exc:  # the converter wraps validator errors in groups
            if on_refused is not None:
                on_refused(_refusal(exc))
            return False
        return True

    return drawn.filter(readable)


#: specs a decorator's built-in parent is drawn with when ``parents=`` is not given
_BUILTIN_SPECS: dict[tuple[str, str], Strategy[JsonObject]] = {
    ("v1", "Namespace"): st.just({}),
    ("v1", "Service"): st.builds(
        lambda port, app: {"ports": [{"name": "http", "port": port}],
                           **({"selector": {"app": app}} if app else {})},
        st.sampled_from((80, 8080)), st.sampled_from(("web", "db", None))),
    ("v1", "ConfigMap"): st.just({}),
}


def filter_metadata(filters: ParentFilter) -> Strategy[JsonObject]:
    """Parent metadata (``labels``, ``annotations``) around a filter's conditions: half the
    time every condition holds, else each key it names is drawn absent, with a value it
    accepts or with one it refuses, so that parents fall on both sides of it (the
    predicate ``where`` is not looked into)."""
    choices = _filter_values(filters)

    def metadata(drawn: Mapping[str, Mapping[str, str | None]]) -> JsonObject:
        out: JsonObject = {}
        for kind, values in drawn.items():
            present = {k: v for k, v in values.items() if v is not None}
            if present:
                out[kind] = present
        return out

    def side(pick: typing.Callable[[tuple[list[str | None], list[str | None]]],
                                   list[str | None]]) -> Strategy[JsonObject]:
        return st.fixed_dictionaries({
            kind: st.fixed_dictionaries({
                key: st.sampled_from(pick(both)) for key, both in found.items()})
            for kind, found in choices.items()
        }).map(metadata)

    matching = side(lambda both: both[0])
    anything = side(lambda both: [*both[0], *both[1]])
    return st.one_of(matching, anything)


def filter_metadata_patches(filters: ParentFilter) -> Strategy[JsonObject]:
    """Merge patches of a parent's metadata that move it in or out of a filter (a null
    removes the label or annotation)."""
    keyed = [(kind, key, [*both[0], *both[1]])
             for kind, found in _filter_values(filters).items()
             for key, both in found.items()]
    return st.sampled_from(keyed).flatmap(
        lambda chosen: st.sampled_from(chosen[2]).map(
            lambda value: {"metadata": {chosen[0]: {chosen[1]: value}}}))


_Sides = tuple[list[str | None], list[str | None]]  # values accepted, refused (None: absent)


def _label_sides(requirement: Requirement) -> _Sides:
    op, values = requirement.operator, list(requirement.values)
    if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
        return list(values), ["other", None]
    if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
        return ["other", None], list(values)
    if op is Operator.EXISTS:
        return ["x"], [None]
    if op is Operator.DOES_NOT_EXIST:
        return [None], ["x"]
    number = int(values[0])
    above, below = str(number + 1), str(number - 1)
    if op is Operator.GREATER_THAN:
        return [above], [below, None]
    return [below], [above, None]


def _filter_values(filters: ParentFilter) -> dict[str, dict[str, _Sides]]:
    """For each label and annotation key a filter names: values it accepts and refuses."""
    labels: dict[str, _Sides] = {}
    for requirement in (filters.labels.requirements if filters.labels is not None else ()):
        labels.setdefault(requirement.key, _label_sides(requirement))
    annotations: dict[str, _Sides] = {}
    for key, condition in filters.annotations.items():
        if condition is True:
            annotations[key] = (["on"], [None])
        elif condition is False:
            annotations[key] = ([None], ["on"])
        else:
            accepted: list[str | None] = (
                [condition] if isinstance(condition, str) else [*sorted(condition)])
            annotations[key] = (accepted, ["other", None])
    return {"labels": labels, "annotations": annotations}


def _refusal(exc: BaseException) -> str:
    """``Class.field: message`` from a (possibly grouped) structuring error: cattrs
    groups name the class (``.cl``), attrs validators raise ``ValueError(message,
    attribute, ...)``."""
    owner: type | None = None
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        owner = getattr(exc, "cl", owner)
        exc = exc.exceptions[0]
    first = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    attribute = exc.args[1] if len(exc.args) > 1 else None
    if owner is not None and isinstance(attribute, attrs.Attribute):
        return f"{owner.__name__}.{attribute.name}: {first}"
    return f"{type(exc).__name__}: {first}"


# -- faults and scenarios ------------------------------------------------------------------

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
_ERROR_CODES = (500, 503, 409, 404, 422, 403)


def faults(*, resources: Sequence[str] = ()) -> Strategy[sc.FaultSpec]:
    """One ``FaultSpec``; shrinks to a single 500 on any request."""
    # Every kind draws the same choices (unused ones are ignored), so shrinking compares
    # like with like and lands on the first kind, ``error``, rather than on whichever kind
    # happens to need the fewest draws.
    targets = st.none() | st.sampled_from(list(resources)) if resources else st.none()

    @st.composite
    def build(draw: st.DrawFn) -> sc.FaultSpec:
        kind = draw(st.sampled_from(sc.FAULT_KINDS))
        verb = draw(st.none() | st.sampled_from(VERBS))
        resource = draw(targets)
        count = draw(st.integers(min_value=1, max_value=3))
        code = draw(st.sampled_from(_ERROR_CODES))
        seconds = draw(st.sampled_from((1.0, 5.0, 30.0)))
        if kind == "error":
            return sc.FaultSpec(kind, verb, resource, count, code=code)
        if kind == "too_many_requests":
            return sc.FaultSpec(kind, verb, resource, count, retry_after=seconds - 1.0)
        if kind == "latency":
            return sc.FaultSpec(kind, verb, resource, count, seconds=seconds)
        if kind == "watch_stall":
            return sc.FaultSpec(kind, resource=resource, seconds=seconds)
        return sc.FaultSpec(kind, resource=resource)

    return build()


def fault_schedules(
    *, resources: Sequence[str] = (), max_size: int = 3
) -> Strategy[tuple[sc.InjectFault | sc.Advance, ...]]:
    """A short sequence of faults with virtual time between them, as scenario steps."""
    step = st.one_of(
        st.builds(sc.InjectFault, faults(resources=resources)),
        st.builds(sc.Advance, st.sampled_from((1.0, 10.0, 60.0))),
    )
    return st.lists(step, max_size=max_size).map(tuple)


def _default_child_patches() -> Strategy[JsonObject]:
    # Edits any type accepts: someone adds a label or an annotation.
    return st.one_of(
        st.builds(lambda lb: {"metadata": {"labels": lb}}, labels(max_size=1)),
        st.builds(lambda an: {"metadata": {"annotations": an}}, annotations(max_size=1)),
    )


def source_items(id_field: str = "id", *, ids: Sequence[str] = ("a", "b", "c"),
                 values: Strategy[Any] | None = None) -> Strategy[list[JsonObject]]:
    """An external source's items: a few of ``ids`` (a small pool, so later answers change,
    add and remove the same items), each ``{id_field: id, "value": ...}``."""
    drawn_values = values if values is not None else st.integers(min_value=0, max_value=3)
    return st.lists(st.sampled_from(list(ids)), unique=True, max_size=len(ids)).flatmap(
        lambda chosen: st.tuples(*(drawn_values for _ in chosen)).map(
            lambda vals: [{id_field: i, "value": v} for i, v in zip(chosen, vals, strict=True)]
        )
    )


def steps(
    *,
    specs: Strategy[JsonObject] | None = None,
    parent_names: Sequence[str] = ("p0", "p1"),
    child_types: Iterable[K8sType] = (),
    child_names: Strategy[str] | None = None,
    child_patches: Strategy[JsonObject] | None = None,
    namespace: str | None = None,
    fault_rate: int = 5,
    advances: Sequence[float] = (1.0, 10.0, 60.0, 600.0, 3600.0),
    parent_filter: ParentFilter | None = None,
    versioned_specs: Mapping[str, Strategy[JsonObject]] | None = None,
    sources: Mapping[str, Strategy[list[JsonObject]]] | None = None,
) -> Strategy[sc.Step]:
    """One scenario step, drawn so that most steps are ordinary and a few are faults.

    Parents come from a small pool of names so that later steps hit earlier parents;
    child steps name children by ``child_names`` (by default the parent names, the usual
    convention) and are left out when there are no ``child_types``. ``fault_rate`` is the
    percentage of steps that inject a fault. Steps shrink towards ``settle``, then
    ``advance``, then parent steps. With a ``parent_filter`` (the operator's
    ``config.filters``), parents are created with labels and annotations on both sides of
    it, and patched in and out of it. ``versioned_specs`` (version -> specs of that
    version) adds parents created and patched in other versions of a versioned parent.
    ``sources`` (source name -> its items) adds steps that change an external source's
    items, and fault steps that make it fail, time out or answer stale.
    """
    specs = specs if specs is not None else json_objects()
    if not parent_names:
        raise InvalidArgument("steps() needs at least one parent name")
    if not 0 <= fault_rate <= 100:
        raise InvalidArgument(f"fault_rate is a percentage, got {fault_rate}")
    keys = [sc.type_key(t) for t in child_types]
    types = list(child_types)
    pnames = st.sampled_from(list(parent_names))
    cnames = child_names if child_names is not None else pnames
    ns = st.just(namespace)

    filtering = parent_filter is not None and (
        parent_filter.labels is not None or bool(parent_filter.annotations))
    metadata = filter_metadata(parent_filter) if filtering and parent_filter else st.just({})
    ordinary: list[Strategy[sc.Step]] = [
        st.just(sc.Settle()),
        st.builds(sc.Advance, st.sampled_from(list(advances))),
        st.builds(sc.CreateParent, pnames, specs, ns, metadata),
        st.builds(sc.PatchParent, pnames, specs.map(lambda s: {"spec": s}), ns),
        st.builds(sc.DeleteParent, pnames, ns),
    ]
    if filtering and parent_filter is not None:
        # weighted (one_of picks its branches alike): moving a parent across the filter is
        # what such an operator gets wrong, and it takes a create, a sync and this patch
        moves = st.builds(sc.PatchParent, pnames, filter_metadata_patches(parent_filter), ns)
        ordinary += [moves, moves, moves]
    for version, version_specs in (versioned_specs or {}).items():
        ordinary += [
            st.builds(sc.CreateParent, pnames, version_specs, ns, version=st.just(version)),
            st.builds(sc.PatchParent, pnames, version_specs.map(lambda s: {"spec": s}), ns,
                      version=st.just(version)),
        ]
    if keys:
        tkeys = st.sampled_from(keys)
        ordinary += [
            st.builds(
                sc.EditChild,
                tkeys,
                cnames,
                child_patches if child_patches is not None else _default_child_patches(),
                ns,
            ),
            st.builds(sc.DeleteChild, tkeys, cnames, ns),
            st.sampled_from(types).flatmap(
                lambda t: objects_of(
                    t, names=cnames, namespaces=st.just(namespace or "default")
                ).map(sc.CreateForeign)
            ),
        ]
    source_faults: list[Strategy[sc.Step]] = []
    for name, items in (sources or {}).items():
        ordinary += [st.builds(sc.SetSourceItems, st.just(name), items)] * 2
        source_faults.append(st.builds(sc.SourceFault, st.just(name),
                                       st.sampled_from(sc.SOURCE_FAULTS),
                                       st.integers(min_value=1, max_value=3)))
    ordinary.append(st.just(sc.RestartOperator()))
    ordinary_steps = st.one_of(ordinary)
    fault_steps: Strategy[sc.Step] = st.one_of(
        st.builds(sc.InjectFault, faults(resources=keys)), *source_faults)

    @st.composite
    def build(draw: st.DrawFn) -> sc.Step:
        # An integer shrinks to 0, so a shrunk step is an ordinary one.
        if fault_rate and draw(st.integers(min_value=0, max_value=99)) >= 100 - fault_rate:
            return draw(fault_steps)
        return draw(ordinary_steps)

    return build()


def scenarios(
    *,
    max_steps: int = 8,
    start_with_create: bool = True,
    seeds: Strategy[int] | None = None,
    **step_options: Any,
) -> Strategy[sc.Scenario]:
    """Whole scenarios: usually a ``create_parent`` first, then up to ``max_steps`` steps.

    ``step_options`` are passed to ``steps()``. Shrinking removes steps, simplifies those
    left and sends the seed to 0.
    """
    step = steps(**step_options)
    parent_names = step_options.get("parent_names", ("p0", "p1"))
    specs = step_options.get("specs")
    specs = specs if specs is not None else json_objects()
    namespace = step_options.get("namespace")
    parent_filter = step_options.get("parent_filter")
    metadata = (filter_metadata(parent_filter) if parent_filter is not None
                else st.just({}))

    @st.composite
    def build(draw: st.DrawFn) -> sc.Scenario:
        first: list[sc.Step] = []
        if start_with_create:
            first.append(sc.CreateParent(parent_names[0], draw(specs), namespace,
                                         draw(metadata)))
        rest = draw(st.lists(step, max_size=max_steps))
        seed = draw(seeds if seeds is not None else st.integers(min_value=0, max_value=2**32 - 1))
        return sc.Scenario(steps=(*first, *rest), seed=seed)

    return build()


__all__ = [
    "VERBS",
    "annotations",
    "dns_1035_labels",
    "dns_labels",
    "dns_subdomains",
    "fault_schedules",
    "faults",
    "filter_metadata",
    "filter_metadata_patches",
    "json_objects",
    "json_values",
    "label_keys",
    "label_values",
    "labels",
    "object_metadata",
    "object_names",
    "objects_of",
    "parents",
    "parents_for",
    "parents_from_crd",
    "parents_from_schema",
    "scenarios",
    "source_items",
    "spec_instances",
    "specs_for",
    "specs_from_crd",
    "specs_from_schema",
    "steps",
    "strategy_for_type",
    "text",
    "values_for_schema",
]
