"""OpenAPI documents, as much of them as kubectl needs.

Why serve OpenAPI at all: ``kubectl apply`` validates by default (``--validate=strict``)
and aborts with "failed to download openapi" when it cannot decide whether the server
validates fields itself. It decides by fetching ``/openapi/v3``, then the group-version
document, and looking for a PATCH operation tagged with the object's
``x-kubernetes-group-version-kind`` that lists a ``fieldValidation`` query parameter
(cli-runtime ``query_param_verifier_v3.go``). When it finds one it sends
``fieldValidation=Strict`` and leaves validation to the server.

Deliberate choices:

* PATCH operations do **not** advertise ``application/strategic-merge-patch+json`` in
  their request body. kubectl then computes client-side apply patches from its
  compiled-in types (strategic merge for built-ins) and uses JSON merge patch for
  custom resources - exactly what it sends to a real server - instead of trusting our
  permissive built-in schemas for patch strategies.
* Custom resources get their CRD version's ``openAPIV3Schema`` (so ``kubectl explain``
  works on them); built-ins get a permissive object schema.
* ``/openapi/v2`` is served as JSON only. kubectl asks for it as protobuf and gets 406,
  which it tolerates (it only needs v2 when v3 is missing).
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from kubeplan.testkit.apiserver.discovery import SERVER_GIT_VERSION, DiscoveryModel

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"

_OBJECT_META_SCHEMA: dict[str, Any] = {
    "description": "Standard object metadata.",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}

_STATUS_SCHEMA: dict[str, Any] = {
    "description": "Status is a return value for calls that don't return other objects.",
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
}

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
    if info.namespaced:
        paths[f"{base}/{info.plural}"] = ("ForAllNamespaces", ["list"])
    for sub in sorted(getattr(info, "subresources", None) or ()):
        if sub in ("status", "scale"):
            paths[f"{scoped}/{{name}}/{sub}"] = (sub.capitalize(), ["get", "put", "patch"])
    return paths


_HTTP_METHOD = {"list": "get", "get": "get", "post": "post", "put": "put", "patch": "patch",
                "delete": "delete", "deletecollection": "delete"}


def group_version_document_v3(
    model: DiscoveryModel, group: str, version: str
) -> dict[str, Any] | None:
    """``GET /openapi/v3/api/v1`` or ``/openapi/v3/apis/{group}/{version}``."""
    gv = model.group_version(group, version)
    if gv is None:
        return None
    prefix = "#/components/schemas/"
    schemas: dict[str, Any] = {OBJECT_META: _OBJECT_META_SCHEMA, STATUS: _STATUS_SCHEMA}
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
        "info": {"title": "Kubernetes", "version": SERVER_GIT_VERSION},
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
    """``GET /openapi/v3``: one entry per served group-version."""
    paths: dict[str, Any] = {}
    for group, versions in model.groups.items():
        for gv in versions:
            doc = group_version_document_v3(model, group, gv.version)
            key = gv_path(group, gv.version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(doc or {})}"}
    return {"paths": paths}


def v2_document(model: DiscoveryModel) -> dict[str, Any]:
    """``GET /openapi/v2`` (JSON): every resource's schema under ``definitions``."""
    prefix = "#/definitions/"
    definitions: dict[str, Any] = {OBJECT_META: _OBJECT_META_SCHEMA, STATUS: _STATUS_SCHEMA}
    paths: dict[str, Any] = {}
    for versions in model.groups.values():
        for gv in versions:
            for info in gv.resources:
                name = schema_name(info.group, info.version, info.kind)
                schema = resource_schema(info, prefix)
                definitions[name] = schema
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
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SERVER_GIT_VERSION},
        "paths": paths,
        "definitions": definitions,
    }


# ---------------------------------------------------------------------------
# /openapi/v2 as protobuf (gnostic openapi_v2.Document), for kubectl <= 1.28
#
# kubectl 1.27 builds its validator from /openapi/v2 only, and asks for it as protobuf
# (client-go proto.Unmarshal, no JSON fallback). The Python protobuf runtime is not a
# dependency, and the part kubectl reads is tiny - the PATCH operation of each path
# with its x-kubernetes-group-version-kind extension and query parameter names - so
# the few messages are encoded by hand below. Field numbers are those of gnostic's
# openapiv2/OpenAPIv2.proto. ``definitions`` are left out: kubectl then takes patch
# strategies from its compiled-in types, and validation is the server's (the
# fieldValidation parameter is advertised).

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
#: what the real server answers with ('@' is not valid in a Content-Type for Go's mime)
OPENAPI_V2_PROTOBUF_RESPONSE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (wire type 2): strings and embedded messages."""
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _gvk_yaml(info: Any) -> str:
    return f"group: {info.group!r}\nkind: {info.kind}\nversion: {info.version}\n"


def _operation_pb(info: Any, action: str, op_id: str) -> bytes:
    out = _field(5, op_id)  # Operation.operation_id
    for name in _QUERY_PARAMS[action]:
        query = _field(2, "query") + _field(4, name) + _field(6, "string")
        non_body = _field(3, query)  # NonBodyParameter.query_parameter_sub_schema
        parameter = _field(2, non_body)  # Parameter.non_body_parameter
        out += _field(8, _field(1, parameter))  # Operation.parameters[].parameter
    for key, value in (("x-kubernetes-action", f"{action}\n"),
                       ("x-kubernetes-group-version-kind", _gvk_yaml(info))):
        any_value = _field(2, value)  # Any.yaml
        out += _field(13, _field(1, key) + _field(2, any_value))  # vendor_extension
    return out


# PathItem field numbers of each HTTP method
_PATH_ITEM_FIELD = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def v2_protobuf(model: DiscoveryModel) -> bytes:
    """``GET /openapi/v2`` as protobuf: paths and operations, no definitions."""
    paths = b""
    for versions in model.groups.values():
        for gv in versions:
            for info in gv.resources:
                for template, (suffix, actions) in _resource_paths(info).items():
                    item = b""
                    for action in actions:
                        op = _operation_pb(info, action, f"{action}{info.kind}{suffix}")
                        item += _field(_PATH_ITEM_FIELD[_HTTP_METHOD[action]], op)
                    paths += _field(2, _field(1, template) + _field(2, item))  # Paths.path
    info_msg = _field(1, "Kubernetes") + _field(2, SERVER_GIT_VERSION)
    return _field(1, "2.0") + _field(2, info_msg) + _field(8, paths)
