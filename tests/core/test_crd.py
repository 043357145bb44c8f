"""CRDs from attrs classes: the schema, the CRD around it and the converter that agrees."""

from __future__ import annotations

import datetime
import enum
import re
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core import crd
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.types import K8sType

Widget = K8sType("example.com/v1", "Widget", "widgets")
Cluster = K8sType("infra.example.com/v1alpha1", "Cluster", "clusters", namespaced=False)


class Tier(enum.Enum):
    FREE = "free"
    PRO = "pro"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.define
class Port:
    """A port the widget serves on.

    Longer text after the first paragraph is not part of the description.
    """

    number: int = attrs.field(metadata={"description": "port number"})
    protocol: Literal["TCP", "UDP"] = "TCP"


@attrs.define
class Probe:
    path: str = "/healthz"
    period: int = 10


@attrs.define(kw_only=True)
class Spec:
    """What a Widget should run."""

    image: str
    replicas: int = 1
    ratio: float = 0.5
    enabled: bool = True
    tier: Tier = Tier.FREE
    level: Level = Level.LOW
    ports: list[Port] = attrs.Factory(list)
    hosts: tuple[str, ...] = ()
    zones: frozenset[str] = frozenset()
    labels: dict[str, str] = attrs.Factory(dict)
    limits: dict[str, int] | None = None
    min_replicas: int | None = None
    spare: int | None = attrs.field(default=None, metadata={"name": "spareReplicas"})
    max_surge: int | str = 1
    main_port: Port = attrs.Factory(lambda: Port(80))
    probe: Probe = attrs.Factory(Probe)
    start_at: datetime.datetime | None = None
    extra_: dict[str, Any] = attrs.Factory(dict)
    anything: Any = None
    note: str | None


# --------------------------------------------------------------------------------------
# the schema of each annotation


def prop(name: str) -> dict[str, Any]:
    return crd.schema_for(Spec)["properties"][name]


def test_scalars_map_to_openapi_types() -> None:
    assert prop("image") == {"type": "string"}
    assert prop("replicas") == {"type": "integer", "default": 1}
    assert prop("ratio") == {"type": "number", "default": 0.5}
    assert prop("enabled") == {"type": "boolean", "default": True}


def test_enums_and_literals_become_enum_with_their_values_type() -> None:
    assert prop("tier") == {"type": "string", "enum": ["free", "pro"], "default": "free"}
    assert prop("level") == {"type": "integer", "enum": [1, 2], "default": 1}
    port = crd.schema_for(Port)["properties"]["protocol"]
    assert port == {"type": "string", "enum": ["TCP", "UDP"], "default": "TCP"}


def test_collections() -> None:
    assert prop("ports")["type"] == "array"
    assert prop("ports")["items"]["properties"]["number"]["type"] == "integer"
    assert prop("ports")["default"] == []
    assert prop("hosts") == {"type": "array", "items": {"type": "string"}, "default": []}
    assert prop("zones") == {
        "type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
        "default": [],
    }
    assert prop("labels") == {
        "type": "object", "additionalProperties": {"type": "string"}, "default": {},
    }


def test_optional_fields_are_nullable_and_never_required() -> None:
    schema = crd.schema_for(Spec)
    assert prop("limits") == {
        "type": "object", "additionalProperties": {"type": "integer"}, "nullable": True,
    }
    assert prop("note") == {"type": "string", "nullable": True}
    assert schema["required"] == ["image"]  # note has no default but is optional


def test_int_or_string_datetime_and_free_form_fields() -> None:
    assert prop("maxSurge") == {"x-kubernetes-int-or-string": True, "default": 1}
    assert prop("startAt") == {"type": "string", "format": "date-time", "nullable": True}
    assert prop("extra") == {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True, "default": {},
    }
    assert prop("anything") == {"x-kubernetes-preserve-unknown-fields": True}


def test_nested_classes_carry_their_own_required_defaults_and_descriptions() -> None:
    main = prop("mainPort")
    assert main["description"] == "A port the widget serves on."
    assert main["required"] == ["number"]
    assert main["properties"]["number"] == {"description": "port number", "type": "integer"}
    # an attrs class used as its own factory is a pure default and is published
    assert prop("probe")["default"] == {"path": "/healthz", "period": 10}


def test_factories_that_are_not_known_pure_publish_no_default() -> None:
    assert "default" not in prop("mainPort")  # a lambda might read a clock
    assert "mainPort" not in crd.schema_for(Spec)["required"]


def test_descriptions_come_from_docstring_and_metadata() -> None:
    schema = crd.schema_for(Spec)
    assert schema["description"] == "What a Widget should run."

    @attrs.define
    class NoDoc:
        x: int

    assert "description" not in crd.schema_for(NoDoc)


def test_keys_are_camel_case_unless_the_metadata_names_one() -> None:
    properties = crd.schema_for(Spec)["properties"]
    assert "mainPort" in properties and "main_port" not in properties
    assert "spareReplicas" in properties  # metadata name
    assert "extra" in properties  # trailing underscore dropped: extra_ -> extra


# --------------------------------------------------------------------------------------
# errors name the class and the field


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        (complex, r"Bad\.field: unsupported annotation"),
        (dict[int, str], r"Bad\.field: .*non-string keys"),
        (Literal["a", 1], r"Bad\.field: enum values"),
        (int | float, r"Bad\.field: union"),
        (tuple[int, str], r"Bad\.field: fixed-length tuple"),
        (set[Port], r"Bad\.field: a set's items must be scalars"),
        (list[complex], r"Bad\.field\[\]: unsupported annotation"),
    ],
)
def test_unsupported_annotations_raise_naming_class_and_field(
    annotation: Any, message: str
) -> None:
    Bad = attrs.make_class("Bad", {"field": attrs.field(type=annotation)})
    with pytest.raises(crd.SchemaError, match=message):
        crd.schema_for(Bad)
    assert issubclass(crd.SchemaError, TypeError)


@attrs.define
class Tree:
    children: list[Tree] = attrs.Factory(list)


def test_recursive_classes_are_refused_with_the_chain() -> None:
    with pytest.raises(crd.SchemaError, match=r"Tree refers to itself \(Tree -> Tree\)"):
        crd.schema_for(Tree)


def test_a_non_attrs_class_is_refused() -> None:
    with pytest.raises(crd.SchemaError, match="not an attrs class"):
        crd.schema_for(dict)


def test_two_fields_with_one_wire_name_are_refused() -> None:
    Clash = attrs.make_class(
        "Clash",
        {"a": attrs.field(type=int), "b": attrs.field(type=int, metadata={"name": "a"})},
    )
    with pytest.raises(crd.SchemaError, match=r"Clash\.b: two fields are named 'a'"):
        crd.schema_for(Clash)


# --------------------------------------------------------------------------------------
# the CRD


def test_crd_for_builds_a_complete_v1_crd() -> None:
    doc = crd.crd_for(
        Widget, Spec, Port, short_names=["wd"], categories=["all"],
        printer_columns=[{"name": "Image", "type": "string", "jsonPath": ".spec.image"}],
        description="A widget.",
    )
    assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
    assert doc["kind"] == "CustomResourceDefinition"
    assert doc["metadata"] == {"name": "widgets.example.com"}
    spec = doc["spec"]
    assert spec["group"] == "example.com"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList",
        "shortNames": ["wd"], "categories": ["all"],
    }
    (version,) = spec["versions"]
    assert version["name"] == "v1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"][0]["jsonPath"] == ".spec.image"
    root = version["schema"]["openAPIV3Schema"]
    assert root["type"] == "object"
    assert root["description"] == "A widget."
    assert root["required"] == ["spec"]
    assert root["properties"]["spec"] == crd.schema_for(Spec)


def test_status_schema_adds_what_kubeplan_writes_and_requires_nothing_at_top() -> None:
    status = crd.status_schema(Port)
    assert "required" not in status  # a failure condition alone must be a valid status
    assert status["properties"]["number"]["type"] == "integer"
    assert status["properties"]["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    assert status["properties"]["observedGeneration"]["type"] == "integer"

    free = crd.status_schema(None)
    assert free["x-kubernetes-preserve-unknown-fields"] is True
    assert set(free["properties"]) == {"conditions", "observedGeneration"}


def test_without_classes_spec_and_status_are_free_form() -> None:
    root = crd.crd_for(Cluster)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert root["properties"]["spec"] == {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
    }
    assert "required" not in root


def test_cluster_scoped_parent() -> None:
    doc = crd.crd_for(Cluster)
    assert doc["spec"]["scope"] == "Cluster"
    assert doc["metadata"]["name"] == "clusters.infra.example.com"
    assert doc["spec"]["versions"][0]["name"] == "v1alpha1"


@pytest.mark.parametrize("api_version", ["v1", "apps/v1", "example/v1"])
def test_groups_must_be_domains(api_version: str) -> None:
    with pytest.raises(ValueError, match="API group that is a domain"):
        crd.crd_for(K8sType(api_version, "Widget", "widgets"))


def test_printer_columns_must_be_complete() -> None:
    with pytest.raises(ValueError, match=r"lacks \['jsonPath'\]"):
        crd.crd_for(Widget, printer_columns=[{"name": "X", "type": "string"}])


@pytest.mark.parametrize(
    "doc",
    [crd.crd_for(Widget, Spec, Port, short_names=["wd"]), crd.crd_for(Cluster)],
    ids=["classes", "free-form"],
)
def test_the_fake_api_servers_crd_checks_accept_the_crd(doc: dict[str, Any]) -> None:
    schema = pytest.importorskip("kubeplan.testkit.apiserver.schema")
    assert schema.validate_crd(doc) == []


def test_crd_of_prefers_the_explicit_crd() -> None:
    config = OperatorConfig("widgets", Widget)
    derived = OperatorDefinition(config=config, handler=print, spec_class=Spec)
    assert crd.crd_of(derived) == crd.crd_for(Widget, Spec)
    explicit = OperatorDefinition(config=config, handler=print, spec_class=Spec, crd={"x": 1})
    assert crd.crd_of(explicit) == {"x": 1}


# --------------------------------------------------------------------------------------
# the converter agrees with the schema


def test_unstructure_uses_wire_names_leaves_none_out_and_round_trips() -> None:
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    value = Spec(image="nginx", min_replicas=2, spare=1, start_at=when, note=None, tier=Tier.PRO)
    data = crd.unstructure(value)
    assert data["minReplicas"] == 2 and "min_replicas" not in data
    assert data["spareReplicas"] == 1
    assert data["startAt"] == "2024-05-01T12:30:00Z"
    assert data["tier"] == "pro"
    assert "note" not in data and "limits" not in data
    assert data["zones"] == [] and data["hosts"] == []
    assert crd.structure(data, Spec) == value


def test_structure_reads_absent_optional_fields_as_none_and_validates() -> None:
    value = crd.structure({"image": "x", "maxSurge": "25%"}, Spec)
    assert value.note is None and value.max_surge == "25%"
    with pytest.raises(Exception, match="image"):
        try:
            crd.structure({"replicas": 1}, Spec)
        except BaseExceptionGroup as group:  # cattrs' detailed validation
            raise ValueError(str(group.exceptions)) from None


def test_make_converter_returns_independent_converters() -> None:
    assert crd.make_converter() is not crd.make_converter()


# --------------------------------------------------------------------------------------
# property: whatever a spec instance holds, its unstructured form validates


def _check(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """A tiny structural-schema checker (types, enum, required, unknown fields)."""
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: null not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, int | str) and not isinstance(value, bool)
        return [] if ok else [f"{path}: not int-or-string"]
    kind = schema.get("type")
    if kind is None:
        return []  # preserve-unknown-fields: anything goes
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if not checks[kind](value):
        return [f"{path}: {value!r} is not {kind}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if schema.get("format") == "date-time" and not re.match(r"\d{4}-\d\d-\d\dT", value):
        errors.append(f"{path}: {value!r} is not a date-time")
    if kind == "array":
        for i, item in enumerate(value):
            errors += _check(item, schema["items"], f"{path}[{i}]")
    if kind == "object":
        errors += [f"{path}.{k}: required" for k in schema.get("required", ()) if k not in value]
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += _check(item, properties[key], f"{path}.{key}")
            elif "additionalProperties" in schema:
                errors += _check(item, schema["additionalProperties"], f"{path}.{key}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}.{key}: unknown field (would be pruned)")
    return errors


def _fake_validate() -> Any:
    try:
        from kubeplan.testkit.apiserver.schema import validate
    except ImportError:
        return None
    return validate


text = st.text(max_size=8)
ints = st.integers(-(2**31), 2**31)
ports = st.builds(Port, number=ints, protocol=st.sampled_from(["TCP", "UDP"]))
json_values = st.recursive(
    st.none() | st.booleans() | ints | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
specs = st.builds(
    Spec,
    image=text,
    replicas=ints,
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    enabled=st.booleans(),
    tier=st.sampled_from(Tier),
    level=st.sampled_from(Level),
    ports=st.lists(ports, max_size=3),
    hosts=st.lists(text, max_size=3).map(tuple),
    zones=st.frozensets(text, max_size=3),
    labels=st.dictionaries(text, text, max_size=3),
    limits=st.none() | st.dictionaries(text, ints, max_size=3),
    min_replicas=st.none() | ints,
    spare=st.none() | ints,
    max_surge=ints | text,
    main_port=ports,
    probe=st.builds(Probe, path=text, period=ints),
    start_at=st.none() | st.datetimes(timezones=st.just(datetime.UTC)),
    extra_=st.dictionaries(text, json_values, max_size=3),
    anything=json_values,
    note=st.none() | text,
)


@settings(max_examples=60, deadline=None)
@given(specs)
def test_unstructured_instances_validate_against_their_schema(value: Spec) -> None:
    schema = crd.schema_for(Spec)
    data = crd.unstructure(value)
    assert _check(data, schema) == []
    validate = _fake_validate()
    if validate is not None:
        assert list(validate(data, schema)) == []
    assert crd.structure(data, Spec) == value


# the converter behind SyncRequest.spec_as (kubeplan.core.convert) reads and writes the same
# keys for the features it covers, so a handler sees what the CRD's schema admitted


@attrs.define(kw_only=True)
class Plain:
    """Only what kubeplan.core.convert handles on its own."""

    image_name: str
    tier: Tier = Tier.FREE
    protocol: Literal["TCP", "UDP"] = "TCP"
    ports: list[Port] = attrs.Factory(list)
    labels: dict[str, str] = attrs.Factory(dict)
    min_replicas: int | None = None


plains = st.builds(
    Plain,
    image_name=text,
    tier=st.sampled_from(Tier),
    protocol=st.sampled_from(["TCP", "UDP"]),
    ports=st.lists(ports, max_size=3),
    labels=st.dictionaries(text, text, max_size=3),
    min_replicas=st.none() | ints,
)


@settings(max_examples=40, deadline=None)
@given(plains)
def test_the_request_converter_agrees_with_the_schema(value: Plain) -> None:
    from kubeplan.core import convert

    data = convert.unstructure(value)
    assert data == crd.unstructure(value)
    assert _check(data, crd.schema_for(Plain)) == []
    assert convert.structure(data, Plain) == value
