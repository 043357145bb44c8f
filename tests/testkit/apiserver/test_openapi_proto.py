"""``/openapi/v2`` as protobuf is the JSON document in gnostic's encoding: decoded with
an independent decoder (``pbdecode_openapiv2.py``) it gives back the definitions, paths
and security settings the JSON endpoint serves, custom resources' included (issue 14)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from apiserver_harness import install_crd, new_server
from pbdecode_openapiv2 import document, fields, schema

from kubeplan.testkit.apiserver import openapi, openapi_builtin, openapi_proto
from kubeplan.testkit.apiserver.discovery import DiscoveryModel
from kubeplan.testkit.apiserver.registry import BUILTIN_RESOURCES

SERVED = openapi_builtin.served_of(BUILTIN_RESOURCES)


@pytest.fixture(scope="module")
def json_and_proto() -> tuple[dict[str, Any], dict[str, Any]]:
    doc = openapi_builtin.v2_document(SERVED)
    return doc, document(openapi_proto.encode_document(doc))


@pytest.mark.parametrize("name", [
    "io.k8s.api.apps.v1.Deployment",  # x-kubernetes-group-version-kind
    "io.k8s.api.apps.v1.DeploymentSpec",  # $ref, required
    "io.k8s.api.core.v1.PodSpec",  # patch strategy and merge key, list-type map
    "io.k8s.api.core.v1.Container",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",  # additionalProperties
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",  # format int-or-string
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.api.core.v1.ServiceSpec",  # enum in descriptions, x-kubernetes-list-type
])
def test_a_definition_decodes_to_the_json_one(
    json_and_proto: tuple[dict[str, Any], dict[str, Any]], name: str
) -> None:
    doc, decoded = json_and_proto
    assert decoded["definitions"][name] == doc["definitions"][name]


def test_the_whole_document_decodes_to_the_json_one(
    json_and_proto: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    doc, decoded = json_and_proto
    assert decoded["swagger"] == "2.0"
    assert list(decoded["definitions"]) == list(doc["definitions"])
    assert decoded["definitions"] == doc["definitions"]
    assert decoded["paths"] == doc["paths"]
    assert decoded["parameters"] == doc["parameters"]
    assert decoded["security"] == doc["security"]
    assert decoded["securityDefinitions"] == doc["securityDefinitions"]
    assert decoded["info"] == doc["info"]


def test_vendor_extensions_are_yaml_as_gnostic_writes_it() -> None:
    encoded = openapi_proto.encode_document({"definitions": {"a.B": {
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "B", "version": "v1"}],
        "x-kubernetes-patch-strategy": "merge,retainKeys",
        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
        "x-kubernetes-int-or-string": True,
    }}})
    ((_, _, definitions),) = fields(encoded)
    ((_, _, named),) = fields(definitions)
    (_, _, body) = fields(named)[1]
    yaml_of = {}
    for number, _, value in fields(body):
        if number == 31:  # vendor_extension: NamedAny{name, Any{yaml = 2}}
            name, any_value = (v for _, _, v in fields(value))
            yaml_of[name.decode()] = fields(any_value)[0][2].decode()
    assert yaml_of == {
        "x-kubernetes-group-version-kind": '- group: ""\n  kind: B\n  version: v1\n',
        "x-kubernetes-patch-strategy": "merge,retainKeys\n",
        "x-kubernetes-list-map-keys": "- containerPort\n- protocol\n",
        "x-kubernetes-int-or-string": "true\n",
    }


def test_proto3_leaves_out_zeros_and_keeps_present_messages() -> None:
    encoded = openapi_proto.encode_document({"definitions": {"a.B": {
        "minimum": 0, "maximum": 10, "properties": {}, "additionalProperties": False,
        "nullable": True,  # not a Swagger 2.0 key: gnostic has no field for it
    }}})
    decoded = schema(fields(fields(fields(encoded)[0][2])[0][2])[1][2])
    assert decoded == {"maximum": 10, "additionalProperties": False, "properties": {}}


async def test_custom_resources_are_in_the_protobuf() -> None:
    server = new_server()
    await install_crd(server)
    model = DiscoveryModel.from_resources(server.registry.resources())
    doc = openapi.v2_document(model)
    decoded = document(openapi.v2_protobuf(model))
    custom = [n for n in doc["definitions"] if not n.startswith("io.k8s.")]
    assert custom == ["com.example.v1.Widget", "com.example.v1.WidgetList"]
    assert decoded["paths"] == doc["paths"]
    for name in custom:
        assert decoded["definitions"][name] == doc["definitions"][name]


#: the keys gnostic's compiler allows in a Schema (any other makes the real server's
#: protobuf fail to build); ``x-`` keys are vendor extensions
GNOSTIC_SCHEMA_KEYS = {
    "$ref", "additionalProperties", "allOf", "default", "description", "discriminator", "enum",
    "example", "exclusiveMaximum", "exclusiveMinimum", "externalDocs", "format", "items",
    "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength",
    "minProperties", "minimum", "multipleOf", "pattern", "properties", "readOnly", "required",
    "title", "type", "uniqueItems", "xml",
}

CRD_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size", "note"],
            "properties": {
                "size": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                "note": {"type": "string", "nullable": True},
                "port": {"x-kubernetes-int-or-string": True,
                         "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                          "properties": {"a": {"type": "string"}}},
                "tags": {"type": "array", "x-kubernetes-preserve-unknown-fields": True,
                         "items": {"type": "string"}},
                "kept": {"type": "object", "x-kubernetes-preserve-unknown-fields": False,
                         "x-kubernetes-validations": [{"rule": "self.size() < 3"}]},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object"}}},
            },
        },
    },
}


async def test_a_custom_resource_definition_is_made_v2_safe() -> None:
    server = new_server()
    await install_crd(server)
    [info] = [i for i in server.registry.resources() if i.kind == "Widget"]
    doc = openapi.resource_schema_v2(attrs.evolve(info, schema=CRD_SCHEMA))
    spec = doc["properties"]["spec"]
    assert spec["required"] == ["size"]  # a nullable field is not required
    props = spec["properties"]
    # defaults are pruned from v2 definitions
    assert props["size"] == {"maximum": 10, "minimum": 0, "type": "integer"}
    assert props["note"] == {}  # nullable: no type
    assert props["port"] == {"x-kubernetes-int-or-string": True}  # no anyOf
    assert props["extra"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["tags"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["kept"] == {"type": "object",
                             "x-kubernetes-validations": [{"rule": "self.size() < 3"}]}
    template = props["template"]
    assert sorted(template["properties"]) == ["apiVersion", "kind", "metadata", "spec"]
    assert template["required"] == ["kind", "apiVersion"]
    assert doc["properties"]["metadata"]["$ref"].endswith("meta.v1.ObjectMeta")
    assert doc["properties"]["kind"]["description"].startswith("Kind is a string value")
    assert doc["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}]

    def keys(schema: dict[str, Any]) -> set[str]:
        found = {k for k in schema if not k.startswith("x-")}
        for sub in (schema.get("properties") or {}).values():
            found |= keys(sub)
        for key in ("items", "additionalProperties"):
            if isinstance(schema.get(key), dict):
                found |= keys(schema[key])
        return found

    assert keys(doc) <= GNOSTIC_SCHEMA_KEYS
