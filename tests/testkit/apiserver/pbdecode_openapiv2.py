"""A small decoder of gnostic's ``openapi.v2.Document`` protobuf, back into the JSON
shape of a Swagger 2.0 document, written from ``openapiv2/OpenAPIv2.proto`` of
google/gnostic-models independently of the encoder under test (which is
``kubeplan.testkit.apiserver.openapi_proto``).

``Any`` values come back parsed from their YAML. Only what the tests compare is decoded:
the document's definitions, paths, parameters and security settings.
"""

from __future__ import annotations

import struct
from typing import Any

import yaml

Raw = list[tuple[int, int, Any]]


def fields(data: bytes) -> Raw:
    """The (number, wire type, value) triples of one message, in order."""
    out: Raw = []
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = varint()
        elif wire == 1:
            value = struct.unpack("<d", data[pos:pos + 8])[0]
            pos += 8
        elif wire == 2:
            size = varint()
            value = data[pos:pos + size]
            pos += size
        else:
            raise AssertionError(f"wire type {wire} of field {number}")
        out.append((number, wire, value))
    return out


def _any(data: bytes) -> Any:
    text = next((v.decode() for n, _, v in fields(data) if n == 2), "")
    return yaml.safe_load(text)


def _named(data: bytes, decode: Any) -> tuple[str, Any]:
    name, value = "", None
    for n, _, v in fields(data):
        if n == 1:
            name = v.decode()
        elif n == 2:
            value = decode(v)
    return name, value


def _map(data: bytes, decode: Any, number: int = 1) -> dict[str, Any]:
    return dict(_named(v, decode) for n, _, v in fields(data) if n == number)


def _extensions(out: dict[str, Any], data: bytes) -> None:
    name, value = _named(data, _any)
    out[name] = value


# Schema: number -> (JSON key, kind)
_SCHEMA = {
    1: ("$ref", "str"), 2: ("format", "str"), 3: ("title", "str"), 4: ("description", "str"),
    5: ("default", "any"), 6: ("multipleOf", "num"), 7: ("maximum", "num"),
    8: ("exclusiveMaximum", "bool"), 9: ("minimum", "num"), 10: ("exclusiveMinimum", "bool"),
    11: ("maxLength", "int"), 12: ("minLength", "int"), 13: ("pattern", "str"),
    14: ("maxItems", "int"), 15: ("minItems", "int"), 16: ("uniqueItems", "bool"),
    17: ("maxProperties", "int"), 18: ("minProperties", "int"), 19: ("required", "strs"),
    20: ("enum", "anys"), 26: ("discriminator", "str"), 27: ("readOnly", "bool"),
    30: ("example", "any"),
}


def _num(value: float) -> int | float:
    return int(value) if value == int(value) else value


def schema(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n in _SCHEMA:
            key, kind = _SCHEMA[n]
            if kind == "str":
                out[key] = v.decode()
            elif kind == "strs":
                out.setdefault(key, []).append(v.decode())
            elif kind == "any":
                out[key] = _any(v)
            elif kind == "anys":
                out.setdefault(key, []).append(_any(v))
            elif kind == "bool":
                out[key] = bool(v)
            elif kind == "num":
                out[key] = _num(v)
            else:
                out[key] = v
        elif n == 21:  # AdditionalPropertiesItem
            for m, _, w in fields(v):
                out["additionalProperties"] = schema(w) if m == 1 else bool(w)
        elif n == 22:  # TypeItem
            values = [w.decode() for _, _, w in fields(v)]
            out["type"] = values[0] if len(values) == 1 else values
        elif n == 23:  # ItemsItem
            items = [schema(w) for _, _, w in fields(v)]
            out["items"] = items[0] if len(items) == 1 else items
        elif n == 24:
            out.setdefault("allOf", []).append(schema(v))
        elif n == 25:  # Properties
            out["properties"] = _map(v, schema)
        elif n == 31:
            _extensions(out, v)
        else:
            out[f"?{n}"] = v
    return out


_PARAMETER = {1: ("required", "bool"), 2: ("in", "str"), 3: ("description", "str"),
              4: ("name", "str")}
_QUERY = {5: ("allowEmptyValue", "bool"), 6: ("type", "str"), 7: ("format", "str"),
          20: ("uniqueItems", "bool")}
_PATH = {5: ("type", "str"), 6: ("format", "str"), 19: ("uniqueItems", "bool")}


def _sub_parameter(data: bytes, table: dict[int, tuple[str, str]], ext: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n == ext:
            _extensions(out, v)
            continue
        key, kind = {**_PARAMETER, **table}.get(n, (f"?{n}", "raw"))
        out[key] = v.decode() if kind == "str" else bool(v) if kind == "bool" else v
    return out


def parameter(data: bytes) -> dict[str, Any]:
    """A Parameter (body, or non-body of any kind)."""
    ((n, _, v),) = fields(data)
    if n == 1:  # BodyParameter
        out: dict[str, Any] = {}
        for m, _, w in fields(v):
            if m == 5:
                out["schema"] = schema(w)
            elif m == 6:
                _extensions(out, w)
            else:
                key = {1: "description", 2: "name", 3: "in", 4: "required"}[m]
                out[key] = bool(w) if m == 4 else w.decode()
        return out
    ((m, _, w),) = fields(v)
    if m in (2, 3):  # formData, query
        return _sub_parameter(w, _QUERY, 23)
    return _sub_parameter(w, _PATH, 22)  # header, path


def parameters_item(data: bytes) -> dict[str, Any]:
    ((n, _, v),) = fields(data)
    if n == 2:  # JsonReference
        return {"$ref": next(w.decode() for m, _, w in fields(v) if m == 1)}
    return parameter(v)


def _response(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n == 1:
            out["description"] = v.decode()
        elif n == 2:
            ((_, _, w),) = fields(v)
            out["schema"] = schema(w)
        elif n == 5:
            _extensions(out, v)
        else:
            out[f"?{n}"] = v
    return out


_OPERATION_STRINGS = {1: "tags", 6: "produces", 7: "consumes", 10: "schemes"}


def operation(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n in _OPERATION_STRINGS:
            out.setdefault(_OPERATION_STRINGS[n], []).append(v.decode())
        elif n in (2, 3, 5):
            out[{2: "summary", 3: "description", 5: "operationId"}[n]] = v.decode()
        elif n == 8:
            out.setdefault("parameters", []).append(parameters_item(v))
        elif n == 9:  # Responses
            responses: dict[str, Any] = {}
            for m, _, w in fields(v):
                if m == 1:
                    code, value = _named(w, lambda b: fields(b))
                    ((kind, _, body),) = value
                    responses[code] = _response(body) if kind == 1 else {"$ref": "?"}
            out["responses"] = responses
        elif n == 11:
            out["deprecated"] = bool(v)
        elif n == 13:
            _extensions(out, v)
        else:
            out[f"?{n}"] = v
    return out


_METHODS = {2: "get", 3: "put", 4: "post", 5: "delete", 6: "options", 7: "head", 8: "patch"}


def path_item(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n in _METHODS:
            out[_METHODS[n]] = operation(v)
        elif n == 9:
            out.setdefault("parameters", []).append(parameters_item(v))
        elif n == 10:
            _extensions(out, v)
        else:
            out[f"?{n}"] = v
    return out


def document(data: bytes) -> dict[str, Any]:
    """The whole Document, as JSON."""
    out: dict[str, Any] = {}
    for n, _, v in fields(data):
        if n == 1:
            out["swagger"] = v.decode()
        elif n == 2:
            out["info"] = {{1: "title", 2: "version"}.get(m, f"?{m}"): w.decode()
                           for m, _, w in fields(v)}
        elif n == 8:
            out["paths"] = _map(v, path_item, number=2)
        elif n == 9:
            out["definitions"] = _map(v, schema)
        elif n == 10:
            out["parameters"] = _map(v, parameter)
        elif n == 12:
            requirement = _map(v, lambda b: [w.decode() for _, _, w in fields(b)])
            out.setdefault("security", []).append(requirement)
        elif n == 13:
            items: dict[str, Any] = {}
            for _, _, w in fields(v):
                name, raw = _named(w, fields)
                ((_, _, body),) = raw
                items[name] = {{1: "type", 2: "name", 3: "in", 4: "description"}[m]: x.decode()
                               for m, _, x in fields(body)}
            out["securityDefinitions"] = items
        else:
            out[f"?{n}"] = v
    return out
