"""Hypothesis strategies for Kubernetes data and operator scenarios.

Small composable pieces, in the manner of attrs's ``tests/strategies.py``: names, labels
and metadata; objects of a type; parents built from the operator's attrs spec class or
from a CRD's openAPIV3Schema; scenario steps, fault schedules and whole scenarios.

Two promises hold for every strategy here:

- Valid by construction. Names, label keys and values are built from their grammar
  (RFC 1123 labels and subdomains, qualified names) rather than filtered or drawn from a
  regex, so every value is one the fake API server accepts, and generation stays cheap
  (``st.from_regex`` costs about 9 ms an example; these cost a fraction of that).
- Small when shrunk. Every choice is ordered simplest first — names shrink to ``a``,
  optional metadata to absent, scenario steps to ``settle`` and lists to empty — so a
  failing scenario shrinks to the few steps that matter.
"""

# No ``from __future__ import annotations``: it binds the name ``annotations``, which is
# this module's strategy for metadata.annotations (a type checker would see the feature).
import datetime
import enum
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
    first = draw(st.sampled_from(edge))
    if max_size == 1:
        return first
    # Mostly short names, sometimes the longest allowed: names that only just fit are
    # where operators break (a child named parent name + suffix no longer fits).
    full = max_size - 1
    rest = draw(
        st.text(alphabet=inner, max_size=full)
        | st.text(alphabet=inner, min_size=full, max_size=full)
    )
    if rest and rest[-1] not in edge:
        rest = rest[:-1] + draw(st.sampled_from(edge))
    return first + rest


def _check_size(max_size: int, limit: int, what: str) -> None:
    if not 1 <= max_size <= limit:
        raise ValueError(f"{what}: max_size must be between 1 and {limit}, got {max_size}")


def dns_labels(*, max_size: int = 63) -> Strategy[str]:
    """RFC 1123 labels, ``[a-z0-9]([-a-z0-9]*[a-z0-9])?``: namespace and most short names."""
    _check_size(max_size, 63, "dns_labels")
    alphabet = _LOWER_ALNUM + "-"
    return st.composite(lambda draw: _grammar_name(draw, _LOWER_ALNUM, alphabet, max_size))()


def dns_1035_labels(*, max_size: int = 63) -> Strategy[str]:
    """RFC 1035 labels, ``[a-z]([-a-z0-9]*[a-z0-9])?``: what Service names must be."""
    _check_size(max_size, 63, "dns_1035_labels")

    @st.composite
    def build(draw: st.DrawFn) -> str:
        first = draw(st.sampled_from(string.ascii_lowercase))
        if max_size == 1:
            return first
        return first + draw(dns_labels(max_size=max_size - 1) | st.just(""))

    return build()


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


def _qualified_name_parts(*, max_size: int = 63) -> Strategy[str]:
    """The name part of a qualified name: ``[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?``."""
    _check_size(max_size, 63, "qualified names")
    return st.composite(lambda draw: _grammar_name(draw, _ALNUM, _ALNUM + "-_.", max_size))()


def _unreserved(prefix: str) -> bool:
    return not any(prefix == s or prefix.endswith("." + s) for s in _RESERVED_SUFFIXES)


def label_keys(*, max_name_size: int = 63, max_prefix_size: int = 253) -> Strategy[str]:
    """Label and annotation keys: an optional DNS-subdomain prefix and ``/``, then a name.

    Prefixes reserved by Kubernetes (``*.kubernetes.io``, ``*.k8s.io``) and by kubeplan
    (``kubeplan.dev``) are never drawn, so generated keys cannot collide with ours.
    """
    names = _qualified_name_parts(max_size=max_name_size)
    prefixes = dns_subdomains(max_size=max_prefix_size).filter(_unreserved)
    return names | st.builds(lambda p, n: f"{p}/{n}", prefixes, names)


def label_values(*, max_size: int = 63) -> Strategy[str]:
    """Label values: empty, or a qualified-name part of at most 63 characters."""
    return st.just("") | _qualified_name_parts(max_size=max_size)


def labels(*, max_size: int = 4) -> Strategy[dict[str, str]]:
    """A ``metadata.labels`` mapping."""
    return st.dictionaries(label_keys(), label_values(), max_size=max_size)


def text(*, max_size: int = 40) -> Strategy[str]:
    """Readable free text (no control characters), e.g. annotation values or spec strings."""
    return st.text(_TEXT_CHARS, max_size=max_size)


def annotations(*, max_size: int = 3) -> Strategy[dict[str, str]]:
    """A ``metadata.annotations`` mapping: qualified-name keys, free-text values."""
    return st.dictionaries(label_keys(), text(), max_size=max_size)


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

    @st.composite
    def build(draw: st.DrawFn) -> JsonObject:
        obj: JsonObject = {
            "apiVersion": k8s_type.api_version,
            "kind": k8s_type.kind,
            "metadata": draw(
                object_metadata(
                    k8s_type.namespaced,
                    names=names if names is not None else object_names(k8s_type),
                    namespaces=namespaces,
                )
            ),
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
    raise TypeError(
        f"{where or 'strategy_for_type'}: no strategy for annotation {tp!r}; pass one in "
        "overrides={type_or_'Class.field': strategy}"
    )


def _attrs_instances(cls: type, overrides: Overrides) -> Strategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Strategy[Any]] = {}
    for field in attrs.fields(cls):
        if not field.init:
            continue
        key = f"{cls.__name__}.{field.name}"
        if key in overrides:
            fields[field.alias] = overrides[key]
        else:
            fields[field.alias] = strategy_for_type(
                hints.get(field.name, field.type), overrides, where=key
            )

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
        raise TypeError(f"{spec_class!r} is not an attrs class")
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
    reads it back. Values the class's validators refuse are skipped (see ``overrides``)."""
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
        lo = -(2**53) if low is None else int(low) + (1 if excl_low is True else 0)
        hi = 2**53 if high is None else int(high) - (1 if excl_high is True else 0)
        return st.integers(min_value=lo, max_value=hi)
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
        # The only regex strategy here: a schema's pattern is its own grammar.
        return st.from_regex(schema["pattern"]).filter(lambda s: min_size <= len(s) <= max_size)
    if fmt == "date-time":
        return st.datetimes(timezones=st.just(datetime.UTC)).map(
            lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        )
    if fmt == "date":
        return st.dates().map(datetime.date.isoformat)
    return st.text(_TEXT_CHARS, min_size=min_size, max_size=max_size)


def values_for_schema(schema: Mapping[str, Any], *, where: str = "") -> Strategy[Any]:
    """Values that satisfy a structural openAPIV3Schema (as a CRD's validation holds it).

    Honoured: ``type``, ``properties``/``required`` (optional properties appear or not),
    ``additionalProperties``, ``items``, ``min/maxItems``, ``enum``, ``minimum``/``maximum``
    (and their exclusive forms), ``min/maxLength``, ``pattern``, ``format`` date and
    date-time, ``nullable``, ``x-kubernetes-int-or-string``,
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
    raise ValueError(f"{where}: no strategy for schema {dict(schema)!r}")


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
    known = st.fixed_dictionaries(fixed, optional=optional)
    extra_schema = schema.get("additionalProperties")
    if isinstance(extra_schema, Mapping):
        extra_values = values_for_schema(extra_schema, where=f"{where}{{}}")
    elif schema.get("x-kubernetes-preserve-unknown-fields") and not properties:
        extra_values = json_values()
    else:
        return known
    extras = st.dictionaries(
        _qualified_name_parts(max_size=10).filter(lambda k: k not in properties),
        extra_values,
        max_size=3,
    )
    return st.builds(lambda k, e: {**e, **k}, known, extras)


def parents_from_schema(
    k8s_type: K8sType,
    openapi_v3_schema: Mapping[str, Any],
    *,
    names: Strategy[str] | None = None,
    namespaces: Strategy[str] | None = None,
) -> Strategy[JsonObject]:
    """Parents whose ``spec`` satisfies a CRD version's ``openAPIV3Schema`` (the whole
    object's schema; its ``properties.spec`` describes the spec)."""
    spec_schema = openapi_v3_schema.get("properties", {}).get("spec", {"type": "object"})
    return objects_of(
        k8s_type,
        values_for_schema(spec_schema, where="spec"),
        names=names,
        namespaces=namespaces,
    )


def parents_from_crd(crd_obj: Mapping[str, Any], **kwargs: Any) -> Strategy[JsonObject]:
    """Parents of a CustomResourceDefinition (dict), using its storage version's schema."""
    spec = crd_obj["spec"]
    versions = spec["versions"]
    version = next((v for v in versions if v.get("storage")), versions[0])
    k8s_type = K8sType(
        f"{spec['group']}/{version['name']}",
        spec["names"]["kind"],
        spec["names"]["plural"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
    )
    schema = version.get("schema", {}).get("openAPIV3Schema", {})
    return parents_from_schema(k8s_type, schema, **kwargs)


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
) -> Strategy[sc.Step]:
    """One scenario step, drawn so that most steps are ordinary and a few are faults.

    Parents come from a small pool of names so that later steps hit earlier parents;
    child steps name children by ``child_names`` (by default the parent names, the usual
    convention) and are left out when there are no ``child_types``. ``fault_rate`` is the
    percentage of steps that inject a fault. Steps shrink towards ``settle``, then
    ``advance``, then parent steps.
    """
    specs = specs if specs is not None else json_objects()
    if not parent_names:
        raise ValueError("steps() needs at least one parent name")
    if not 0 <= fault_rate <= 100:
        raise ValueError(f"fault_rate is a percentage, got {fault_rate}")
    keys = [sc.type_key(t) for t in child_types]
    types = list(child_types)
    pnames = st.sampled_from(list(parent_names))
    cnames = child_names if child_names is not None else pnames
    ns = st.just(namespace)

    ordinary: list[Strategy[sc.Step]] = [
        st.just(sc.Settle()),
        st.builds(sc.Advance, st.sampled_from(list(advances))),
        st.builds(sc.CreateParent, pnames, specs, ns),
        st.builds(sc.PatchParent, pnames, specs.map(lambda s: {"spec": s}), ns),
        st.builds(sc.DeleteParent, pnames, ns),
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
    ordinary.append(st.just(sc.RestartOperator()))
    ordinary_steps = st.one_of(ordinary)
    fault_steps = st.builds(sc.InjectFault, faults(resources=keys))

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

    @st.composite
    def build(draw: st.DrawFn) -> sc.Scenario:
        first: list[sc.Step] = []
        if start_with_create:
            first.append(sc.CreateParent(parent_names[0], draw(specs), namespace))
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
    "json_objects",
    "json_values",
    "label_keys",
    "label_values",
    "labels",
    "object_metadata",
    "object_names",
    "objects_of",
    "parents",
    "parents_from_crd",
    "parents_from_schema",
    "scenarios",
    "spec_instances",
    "steps",
    "strategy_for_type",
    "text",
    "values_for_schema",
]
