"""CRD structural schema validation, pruning and defaulting like apiextensions."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeplan.testkit.apiserver.schema import (
    Cause,
    apply_defaults,
    prune,
    validate,
    validate_crd,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "ratio": {"type": "number"},
                "enabled": {"type": "boolean", "default": False},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "tags": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 2,
                    "items": {"type": "string"},
                },
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"level": {"type": "integer", "default": 3}},
                },
                "embedded": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "x-kubernetes-preserve-unknown-fields": True,
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def _obj(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"a": "b"}},
        "spec": {"name": "abc", **spec},
    }


def _render(causes: list[Cause]) -> list[str]:
    return [str(c) for c in causes]


# --------------------------------------------------------------------------------------
# validate


def test_valid_object_has_no_causes() -> None:
    assert validate(_obj(replicas=3, ratio=1, tags=["x"], port="http", note=None), SCHEMA) == []


def test_type_mismatch_message_and_cause_type() -> None:
    [cause] = validate(_obj(replicas="string"), SCHEMA)
    assert cause == Cause(
        type="FieldValueTypeInvalid",
        message='Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        field="spec.replicas",
    )
    assert str(cause).startswith("spec.replicas: Invalid value:")


def test_float_is_not_an_integer_but_int_is_a_number() -> None:
    [cause] = validate(_obj(replicas=1.0), SCHEMA)
    assert 'must be of type integer: "number"' in cause.message
    assert validate(_obj(ratio=2), SCHEMA) == []


def test_booleans_are_not_numbers() -> None:
    [cause] = validate(_obj(replicas=True), SCHEMA)
    assert 'must be of type integer: "boolean"' in cause.message


def test_required() -> None:
    obj = _obj()
    del obj["spec"]["name"]
    assert validate(obj, SCHEMA) == [Cause("FieldValueRequired", "Required value", "spec.name")]


def test_enum_is_not_supported_value() -> None:
    [cause] = validate(_obj(mode="medium"), SCHEMA)
    assert cause.type == "FieldValueNotSupported"
    assert cause.message == 'Unsupported value: "medium": supported values: "fast", "slow"'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"replicas": 0},
            "spec.replicas: Invalid value: 0: spec.replicas in body should be "
            "greater than or equal to 1",
        ),
        (
            {"replicas": 11},
            "spec.replicas: Invalid value: 11: spec.replicas in body should be "
            "less than or equal to 10",
        ),
        (
            {"name": "a"},
            'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long',
        ),
        ({"name": "abcdef"}, "spec.name: Too long: may not be more than 5 bytes"),
        (
            {"name": "AB"},
            "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        (
            {"tags": []},
            "spec.tags: Invalid value: []: spec.tags in body should have at least 1 items",
        ),
        ({"tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
        (
            {"tags": ["a", 1]},
            'spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must '
            'be of type string: "integer"',
        ),
        (
            {"env": {"A": 1}},
            'spec.env.A: Invalid value: "integer": spec.env.A in body must be of '
            'type string: "integer"',
        ),
        (
            {"port": 1.5},
            'spec.port: Invalid value: "number": spec.port in body must be of type '
            'integer,string: "number"',
        ),
        (
            {"mode": None},
            'spec.mode: Invalid value: "null": spec.mode in body must be of type string: "null"',
        ),
    ],
)
def test_constraint_messages(spec: dict[str, Any], expected: str) -> None:
    assert _render(validate(_obj(**spec), SCHEMA)) == [expected]


def test_cause_types_for_constraints() -> None:
    causes = validate(_obj(name="abcdef", tags=["a", "b", "c"], replicas=0), SCHEMA)
    assert {c.type for c in causes} == {
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueInvalid",
    }


def test_int_or_string_and_nullable() -> None:
    assert validate(_obj(port=8080), SCHEMA) == []
    assert validate(_obj(port="http"), SCHEMA) == []
    assert validate(_obj(note=None), SCHEMA) == []


def test_preserve_unknown_fields_accepts_anything_inside() -> None:
    assert validate(_obj(extra={"any": [1, {"x": None}]}), SCHEMA) == []


def test_embedded_resource_needs_api_version_and_kind() -> None:
    causes = validate(_obj(embedded={"metadata": {"name": "x"}}), SCHEMA)
    assert {c.field for c in causes} == {"spec.embedded.apiVersion", "spec.embedded.kind"}
    assert all(c.type == "FieldValueRequired" for c in causes)


def test_root_metadata_is_not_schema_validated() -> None:
    assert validate(_obj(), SCHEMA) == []


def test_list_type_duplicates() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "m": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    }
    causes = validate({"s": ["a", "a"], "m": [{"name": "x"}, {"name": "x"}]}, schema)
    assert _render(causes) == [
        's[1]: Duplicate value: "a"',
        'm[1]: Duplicate value: {"name":"x"}',
    ]


# --------------------------------------------------------------------------------------
# prune


def test_prune_drops_unknown_fields_and_keeps_root_meta() -> None:
    obj = _obj(unknown=1, extra={"kept": {"deep": 1}}, env={"A": "1"})
    obj["bogus"] = True
    obj["status"] = {"ready": True, "junk": 1}
    out = prune(obj, SCHEMA)
    assert "bogus" not in out
    assert "unknown" not in out["spec"]
    assert out["spec"]["extra"] == {"kept": {"deep": 1}}
    assert out["spec"]["env"] == {"A": "1"}
    assert out["status"] == {"ready": True}
    assert out["metadata"] == obj["metadata"]
    assert out["apiVersion"] == "example.com/v1"
    assert obj["bogus"] is True, "input untouched"


def test_prune_inside_arrays_and_embedded_resources() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
            "template": {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object"}},
            },
        },
    }
    out = prune(
        {
            "items": [{"a": "x", "b": "y"}],
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "zz": 1},
        },
        schema,
    )
    assert out["items"] == [{"a": "x"}]
    assert out["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}}


# --------------------------------------------------------------------------------------
# defaults


def test_defaults_fill_missing_properties_deeply() -> None:
    obj = _obj()
    out = apply_defaults(obj, SCHEMA)
    assert out["spec"]["replicas"] == 1
    assert out["spec"]["enabled"] is False
    assert out["spec"]["nested"] == {"level": 3}, "a defaulted object is itself defaulted"
    assert "replicas" not in obj["spec"], "input untouched"


def test_defaults_do_not_override_values_but_replace_non_nullable_null() -> None:
    out = apply_defaults(_obj(replicas=5, enabled=None), SCHEMA)
    assert out["spec"]["replicas"] == 5
    assert out["spec"]["enabled"] is False


_spec_values = st.fixed_dictionaries(
    {},
    optional={
        "replicas": st.integers(1, 10),
        "enabled": st.booleans(),
        "junk": st.text(max_size=3),
        "tags": st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=2),
    },
)


@given(_spec_values)
def test_pipeline_is_idempotent(spec: dict[str, Any]) -> None:
    obj = _obj(**spec)
    once = apply_defaults(prune(obj, SCHEMA), SCHEMA)
    assert apply_defaults(prune(once, SCHEMA), SCHEMA) == once
    assert validate(once, SCHEMA) == []
    assert "junk" not in once["spec"]


# --------------------------------------------------------------------------------------
# CRDs


def _crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }


def test_valid_crd() -> None:
    assert validate_crd(_crd()) == []


def _mutated(change: Any) -> dict[str, Any]:
    crd = copy.deepcopy(_crd())
    change(crd)
    return crd


@pytest.mark.parametrize(
    ("change", "field", "cause_type"),
    [
        (
            lambda c: c["metadata"].update(name="widget.example.com"),
            "metadata.name",
            "FieldValueInvalid",
        ),
        (lambda c: c["spec"].update(scope="Global"), "spec.scope", "FieldValueNotSupported"),
        (lambda c: c["spec"].pop("scope"), "spec.scope", "FieldValueRequired"),
        (lambda c: c["spec"].update(versions=[]), "spec.versions", "FieldValueInvalid"),
        (
            lambda c: c["spec"]["versions"][0].update(storage=False),
            "spec.versions",
            "FieldValueInvalid",
        ),
        (
            lambda c: c["spec"]["versions"][0].pop("schema"),
            "spec.versions[0].schema.openAPIV3Schema",
            "FieldValueRequired",
        ),
        (
            lambda c: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"].update(type="array"),
            "spec.versions[0].schema.openAPIV3Schema.type",
            "FieldValueInvalid",
        ),
        (
            lambda c: c["spec"]["names"].update(plural="Widgets"),
            "spec.names.plural",
            "FieldValueInvalid",
        ),
        (lambda c: c["spec"]["names"].pop("kind"), "spec.names.kind", "FieldValueRequired"),
    ],
)
def test_crd_checks(change: Any, field: str, cause_type: str) -> None:
    causes = validate_crd(_mutated(change))
    assert (field, cause_type) in {(c.field, c.type) for c in causes}


def test_crd_name_message() -> None:
    causes = validate_crd(_mutated(lambda c: c["metadata"].update(name="x.example.com")))
    assert _render(causes) == [
        'metadata.name: Invalid value: "x.example.com": must be spec.names.plural+"."+spec.group'
    ]


def test_crd_two_storage_versions_and_duplicate_names() -> None:
    crd = _crd()
    crd["spec"]["versions"].append(copy.deepcopy(crd["spec"]["versions"][0]))
    rendered = _render(validate_crd(crd))
    assert any("must have exactly one version marked as storage version" in r for r in rendered)
    assert 'spec.versions[1].name: Duplicate value: "v1"' in rendered
