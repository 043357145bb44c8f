"""OpenAPI documents: upstream's for the built-in groups, derived ones for custom resources.

The built-in groups' documents are the real kube-apiserver's (``openapi_builtin.py``,
cut to the resources the fake serves): ``kubectl explain deployment.spec`` reads
upstream's schemas and descriptions, and a client-side validator sees the real ones.

Why serve OpenAPI at all: ``kubectl apply`` validates by default (``--validate=strict``)
and aborts with "failed to download openapi" when it cannot decide whether the server
validates fields itself. It decides by fetching ``/openapi/v3``, then the group-version
document, and looking for a PATCH operation tagged with the object's
``x-kubernetes-group-version-kind`` that lists a ``fieldValidation`` query parameter
(cli-runtime ``query_param_verifier_v3.go``). When it finds one it sends
``fieldValidation=Strict`` and leaves validation to the server.

Custom resources' documents are derived here, as the real server derives them from
each CRD version:

* their schema is the CRD version's ``openAPIV3Schema`` (so ``kubectl explain`` works on
  them), with upstream's ``ObjectMeta`` and what it reaches;
* PATCH operations do **not** advertise ``application/strategic-merge-patch+json``
  (custom resources take none, so kubectl sends JSON merge patches, as to a real server);
* in ``/openapi/v2`` the schema is made v2-safe as the real server makes it (no
  junctors; nullable nodes and nodes keeping unknown fields lose what kubectl 1.27's
  schema reader trips on), with upstream's type meta, and the List is defined beside it.

``/openapi/v2`` is served as JSON (upstream's document for the built-ins, plus the custom
resources) and, for kubectl up to 1.28 (which reads its schemas only from there, as
protobuf: ``explain --output=plaintext-openapiv2``, client-side validation, ``apply``'s
patch metadata of custom resources), as the same document in gnostic's protobuf encoding
(``openapi_proto.py``), definitions and vendor extensions included. Both are built on
first request and cached until the served resources change.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from kubeplan.testkit.apiserver import openapi_builtin, openapi_proto
from kubeplan.testkit.apiserver.discovery import (
    SERVER_MAJOR,
    SERVER_MINOR,
    DiscoveryModel,
)

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"

_PERMISSIVE: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

_QUERY_PARAMS = {
    "get": ["pretty"],
    "list": ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
             "resourceVersionMatch", "timeoutSeconds", "watch", "allowWatchBookmarks",
             "sendInitialEvents"],
    "post": ["dryRun", "fieldManager", "fieldValidation"],
    "put": ["dryRun", "fieldManager", "fieldValidation"],
    "patch": ["dryRun", "fieldManager", "fieldValidation", "force"],
    "delete": ["dryRun", "gracePeriodSeconds", "propagationPolicy"],
    "deletecollection": ["dryRun", "labelSelector", "fieldSelector", "propagationPolicy"],
}

# media types a PATCH accepts; strategic merge left out on purpose (see module docstring)
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/apply-patch+yaml")


def schema_name(group: str, version: str, kind: str) -> str:
    """The definition name upstream would use: ``io.k8s.api.<group>`` for built-in
    groups, the reversed group domain for custom ones; then version and kind."""
    if not group:
        return f"io.k8s.api.core.{version}.{kind}"
    if "." not in group or group.endswith(".k8s.io"):
        return f"io.k8s.api.{group.split('.')[0]}.{version}.{kind}"
    return ".".join([*reversed(group.split(".")), version, kind])


def _gvk(info: Any) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": info.kind}


def resource_schema(info: Any, ref_prefix: str) -> dict[str, Any]:
    """The object schema of one resource: its CRD schema, or a permissive object."""
    raw = getattr(info, "schema", None)
    schema = copy.deepcopy(raw) if isinstance(raw, dict) and raw else dict(_PERMISSIVE)
    schema.setdefault("type", "object")
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": "APIVersion of this object."}
    props["kind"] = {"type": "string", "description": "Kind of this object."}
    props["metadata"] = {
        "description": "Standard object's metadata.",
        "allOf": [{"$ref": f"{ref_prefix}{OBJECT_META}"}],
    }
    schema["x-kubernetes-group-version-kind"] = [_gvk(info)]
    return schema


def _params_v3(action: str) -> list[dict[str, Any]]:
    # inline, never $ref: the query-param verifier reads .name of each parameter as is
    return [
        {"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
        for name in _QUERY_PARAMS[action]
    ]


def _operation_v3(info: Any, action: str, op_id: str, ref: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "parameters": _params_v3(action),
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": {"$ref": ref}}},
            }
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(info),
    }
    if action in ("post", "put"):
        op["requestBody"] = {"content": {"*/*": {"schema": {"$ref": ref}}}, "required": True}
    elif action == "patch":
        op["requestBody"] = {
            "content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES},
            "required": True,
        }
    return op


def _resource_paths(info: Any) -> dict[str, tuple[str, list[str]]]:
    """URL templates of one resource -> (operation id stem, the actions on it)."""
    base = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    scoped = f"{base}/namespaces/{{namespace}}/{info.plural}" if info.namespaced \
        else f"{base}/{info.plural}"
    paths: dict[str, tuple[str, list[str]]] = {
        scoped: ("Collection", ["list", "post", "deletecollection"]),
        f"{scoped}/{{name}}": ("", ["get", "put", "patch", "delete"]),
    }
    verbs = tuple(getattr(info, "verbs", None) or ())
    if verbs == ("create",):  # a review: only its POST exists
        return {f"{base}/{info.plural}": ("", ["post"])}
    if info.namespaced:
        paths[f"{base}/{info.plural}"] = ("ForAllNamespaces", ["list"])
    for sub in sorted(getattr(info, "subresources", None) or ()):
        if sub in ("status", "scale"):
            paths[f"{scoped}/{{name}}/{sub}"] = (sub.capitalize(), ["get", "put", "patch"])
    return paths


_HTTP_METHOD = {"list": "get", "get": "get", "post": "post", "put": "put", "patch": "patch",
                "delete": "delete", "deletecollection": "delete"}


def _served(model: DiscoveryModel) -> openapi_builtin.Served:
    """What the model serves of the built-in groups."""
    builtin = openapi_builtin.builtin_keys()
    return openapi_builtin.served_of(
        info for versions in model.groups.values() for gv in versions
        if gv_path(gv.group, gv.version) in builtin for info in gv.resources)


def document_v3(model: DiscoveryModel, key: str) -> dict[str, Any] | None:
    """``GET /openapi/v3/<key>``: a built-in document, or a custom group-version's."""
    if key in openapi_builtin.builtin_keys():
        if key not in openapi_builtin.v3_keys(_served(model)):
            return None
        return openapi_builtin.v3_document(key, _served(model))
    parts = key.split("/")
    if parts[0] == "apis" and len(parts) == 3:
        return group_version_document_v3(model, parts[1], parts[2])
    return None


def group_version_document_v3(
    model: DiscoveryModel, group: str, version: str
) -> dict[str, Any] | None:
    """``GET /openapi/v3/api/v1`` or ``/openapi/v3/apis/{group}/{version}``."""
    key = gv_path(group, version)
    if key in openapi_builtin.builtin_keys():
        return document_v3(model, key)
    gv = model.group_version(group, version)
    if gv is None:
        return None
    prefix = "#/components/schemas/"
    schemas: dict[str, Any] = openapi_builtin.v3_schemas([OBJECT_META, STATUS])
    paths: dict[str, Any] = {}
    for info in gv.resources:
        name = schema_name(info.group, info.version, info.kind)
        schemas[name] = resource_schema(info, prefix)
        ref = prefix + name
        for template, (suffix, actions) in _resource_paths(info).items():
            item: dict[str, Any] = {}
            for action in actions:
                op_id = f"{action}{info.kind}{suffix}"
                item[_HTTP_METHOD[action]] = _operation_v3(info, action, op_id, ref)
            params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in ("namespace", "name") if "{" + p + "}" in template]
            if params:
                item["parameters"] = params
            paths[template] = item
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"{SERVER_MAJOR}.{SERVER_MINOR}"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def gv_path(group: str, version: str) -> str:
    """The key of a group-version in ``/openapi/v3`` (``api/v1``, ``apis/g/v``)."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document_hash(doc: dict[str, Any]) -> str:
    """A content hash, so clients caching by ``serverRelativeURL`` see schema changes."""
    return hashlib.sha512(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()[:64].upper()


def v3_index(model: DiscoveryModel) -> dict[str, Any]:
    """``GET /openapi/v3``: the discovery documents and one entry per served
    group-version (and per built-in group), sorted by key as the real server does."""
    keys = set(openapi_builtin.v3_keys(_served(model)))
    keys.update(gv_path(group, gv.version) for group, versions in model.groups.items()
                for gv in versions)
    paths: dict[str, Any] = {}
    for key in sorted(keys):
        doc = document_v3(model, key)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(doc or {})}"}
    return {"paths": paths}


#: keys of a custom resource's schema that the structural schema of the real server keeps
#: (``anyOf``, ``oneOf``, ``allOf`` and ``not`` too, but the v2 document drops those, and
#: ``default``, which the real server prunes from every v2 definition)
_STRUCTURAL_KEYS = frozenset((
    "type", "description", "title", "example", "externalDocs", "format", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties",
    "minProperties", "required", "properties", "items", "additionalProperties",
    "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
    "x-kubernetes-validations",
))
#: extensions the structural schema carries only when true
_TRUE_EXTENSIONS = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                    "x-kubernetes-int-or-string")


def _v2_schema(raw: Any) -> dict[str, Any]:
    """One node of a custom resource's schema as the real server's ``/openapi/v2`` has it
    (apiextensions' ``ToStructuralOpenAPIV2``): no junctors, and nothing kubectl 1.27's
    schema reader would trip on -- a nullable node loses its type, properties and items,
    a node keeping unknown fields its properties and items (and ``type: object``), an
    array without items its type, and a nullable property leaves ``required``."""
    if not isinstance(raw, dict):
        return {}
    out = {k: copy.deepcopy(v) for k, v in raw.items() if k in _STRUCTURAL_KEYS}
    out.update({k: True for k in _TRUE_EXTENSIONS if raw.get(k) is True})
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _v2_schema(v) for k, v in raw["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _v2_schema(raw["items"])
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _v2_schema(raw["additionalProperties"])
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if raw.get("nullable") is True or preserve:
        if raw.get("nullable") is True:
            out.pop("type", None)
        out.pop("items", None)
        out.pop("properties", None)
    if "items" not in out and out.get("type") == "array":
        out.pop("type")
    if preserve and out.get("type") == "object":
        out.pop("type")
    nullable = {k for k, v in (raw.get("properties") or {}).items()
                if isinstance(v, dict) and v.get("nullable") is True}
    if nullable and isinstance(out.get("required"), list):
        out["required"] = [k for k in out["required"] if k not in nullable]
        if not out["required"]:
            del out["required"]
    additional = raw.get("additionalProperties")
    if isinstance(additional, dict) and additional.get("nullable") is True:
        out.pop("required", None)
    return _embedded(out)


def _type_meta_v2() -> dict[str, Any]:
    """Upstream's ``apiVersion``, ``kind`` and ``metadata`` properties of a v2 object."""
    props = openapi_builtin.data()["v2"]["definitions"]["io.k8s.api.apps.v1.Deployment"]
    return {k: props["properties"][k] for k in ("apiVersion", "kind", "metadata")}


_EMBEDDED_DESCRIPTIONS = {
    "apiVersion": "apiVersion defines the versioned schema of this representation of an "
                  "object. More info: https://git.k8s.io/community/contributors/devel/"
                  "sig-architecture/api-conventions.md#resources",
    "kind": "kind is a string value representing the type of this object. In CamelCase. "
            "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
            "api-conventions.md#types-kinds",
}


def _embedded(schema: dict[str, Any]) -> dict[str, Any]:
    """An ``x-kubernetes-embedded-resource`` node gets the object's type meta and metadata
    (and requires ``kind`` and ``apiVersion``), unless it keeps unknown fields."""
    if schema.get("x-kubernetes-embedded-resource") is not True or schema.get(
            "x-kubernetes-preserve-unknown-fields") is True:
        return schema
    meta = _type_meta_v2()
    props = schema.setdefault("properties", {})
    for key in ("apiVersion", "kind"):
        props[key] = {**meta[key], "description": _EMBEDDED_DESCRIPTIONS[key]}
    props["metadata"] = meta["metadata"]
    required = schema.setdefault("required", [])
    required.extend(k for k in ("kind", "apiVersion") if k not in required)
    return schema


def resource_schema_v2(info: Any) -> dict[str, Any]:
    """A custom resource's definition in ``/openapi/v2``, as the real server builds it: a
    bare object when it has no schema or keeps unknown fields at its root, else its
    schema made v2-safe with upstream's type meta and metadata."""
    raw = getattr(info, "schema", None)
    if not isinstance(raw, dict) or not raw or raw.get(
            "x-kubernetes-preserve-unknown-fields") is True or getattr(
            info, "preserve_unknown_fields", False):
        schema: dict[str, Any] = {"type": "object"}
    else:
        schema = _v2_schema(raw)
        schema.setdefault("properties", {}).update(_type_meta_v2())
    schema["x-kubernetes-group-version-kind"] = [_gvk(info)]
    out: dict[str, Any] = _sorted(schema)
    return out


def _list_schema_v2(info: Any, name: str) -> dict[str, Any]:
    meta = _type_meta_v2()
    list_kind = getattr(info, "list_kind", "") or info.kind + "List"
    list_meta = {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                 # sic: the real server's (PartialObjectMetadataList's) anchor
                 "description": "Standard list metadata. More info: https://git.k8s.io/"
                                "community/contributors/devel/sig-architecture/"
                                "api-conventions.md#types-kinds"}
    out: dict[str, Any] = _sorted({
        "description": f"{list_kind} is a list of {info.kind}",
        "properties": {
            "apiVersion": meta["apiVersion"],
            "items": {"description": f"List of {info.plural}. More info: "
                                     "https://git.k8s.io/community/contributors/devel/"
                                     "sig-architecture/api-conventions.md",
                      "items": {"$ref": f"#/definitions/{name}"}, "type": "array"},
            "kind": meta["kind"],
            "metadata": list_meta,
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{**_gvk(info), "kind": list_kind}],
    })
    return out


def _sorted(value: Any) -> Any:
    """Keys sorted throughout, as the real server writes its JSON."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def v2_document(model: DiscoveryModel) -> dict[str, Any]:
    """``GET /openapi/v2`` (JSON): every resource's schema under ``definitions``."""
    prefix = "#/definitions/"
    builtin = openapi_builtin.builtin_keys()
    document = openapi_builtin.v2_document(_served(model))
    definitions: dict[str, Any] = document["definitions"]
    paths: dict[str, Any] = document["paths"]
    for versions in model.groups.values():
        for gv in versions:
            if gv_path(gv.group, gv.version) in builtin:
                continue
            for info in gv.resources:
                name = schema_name(info.group, info.version, info.kind)
                definitions[name] = resource_schema_v2(info)
                list_kind = getattr(info, "list_kind", "") or info.kind + "List"
                list_name = schema_name(info.group, info.version, list_kind)
                definitions[list_name] = _list_schema_v2(info, name)
                for template, (suffix, actions) in _resource_paths(info).items():
                    item: dict[str, Any] = {}
                    for action in actions:
                        item[_HTTP_METHOD[action]] = {
                            "operationId": f"{action}{info.kind}{suffix}",
                            "parameters": [
                                {"name": p, "in": "query", "type": "string", "uniqueItems": True}
                                for p in _QUERY_PARAMS[action]
                            ],
                            "responses": {"200": {"description": "OK",
                                                  "schema": {"$ref": prefix + name}}},
                            "x-kubernetes-action": action,
                            "x-kubernetes-group-version-kind": _gvk(info),
                        }
                    paths[template] = item
    return {**document, "paths": paths, "definitions": dict(sorted(definitions.items()))}


# ---------------------------------------------------------------------------
# /openapi/v2 as protobuf (gnostic openapi_v2.Document), for kubectl <= 1.28

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
#: what the real server answers with ('@' is not valid in a Content-Type for Go's mime)
OPENAPI_V2_PROTOBUF_RESPONSE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def v2_protobuf(model: DiscoveryModel) -> bytes:
    """``GET /openapi/v2`` as protobuf: the JSON endpoint's document, whole (paths,
    definitions, parameters, security), in gnostic's encoding (``openapi_proto.py``)."""
    return openapi_proto.encode_document(v2_document(model), _V2_PROTOBUF_CACHE)


#: the encoded paths and definitions of the last protobuf built: the built-in ones are
#: the same objects each time, so a new custom resource re-encodes only its own
_V2_PROTOBUF_CACHE: openapi_proto.Cache = {}
