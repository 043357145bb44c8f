"""``/openapi/v2`` as protobuf: a Swagger 2.0 document (the dict the JSON endpoint
serves) encoded as gnostic's ``openapi.v2.Document``.

kubectl up to 1.28 reads its schemas only from ``/openapi/v2``, and asks for it as
protobuf (client-go unmarshals it, no JSON fallback): ``explain`` with
``--output=plaintext-openapiv2``, client-side validation and ``apply``'s patch metadata
of custom resources all read the ``definitions`` of that message. The real server makes
it by parsing its JSON document with gnostic's compiler and marshalling the result, so
this module does what that parse does, key by key, with the field numbers of gnostic's
``openapiv2/OpenAPIv2.proto``:

* every known key becomes its field; proto3 leaves out empty strings, zeros and
  ``false`` (so ``minimum: 0`` is not carried, as on the real server), while a message
  that is present is written even when empty (``properties: {}``);
* a oneof takes the branch the document's shape picks: a ``$ref`` is a JsonReference,
  ``in: body`` a BodyParameter, ``in: query`` a QueryParameterSubSchema and so on,
  ``additionalProperties`` a Schema or a boolean, a response schema of ``type: file`` a
  FileSchema;
* maps are written as repeated ``Named*`` pairs in key order (the order the real
  server's JSON has); keys that start with ``x-`` are vendor extensions, whose values (and
  every ``default``, ``example`` and ``enum`` value) are an ``Any`` holding the value as
  YAML, written as gnostic's YAML library writes it (block style, indent four);
* a key gnostic's schema does not allow (``nullable``, ``anyOf`` of a custom resource's
  schema) is left out: the real server drops those before it builds the document.

The Python protobuf runtime is not a dependency: the messages are encoded by hand.
"""

from __future__ import annotations

import datetime
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

import orjson

__all__ = ["encode_document", "yaml_of"]

# -- wire format --------------------------------------------------------------------------


_SMALL = [bytes((i,)) for i in range(0x80)]


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: the key of every field number (up to the largest gnostic uses) and wire type
_TAGS = {(number, wire): _varint(number << 3 | wire) for number in range(1, 32)
         for wire in (0, 1, 2)}


def _tag(number: int, wire: int) -> bytes:
    return _TAGS[number, wire]


def _bytes(number: int, data: bytes) -> bytes:
    return b"".join((_TAGS[number, 2], _varint(len(data)), data))


def _string(number: int, value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    return _bytes(number, value.encode())


def _bool(number: int, value: Any) -> bytes:
    return _tag(number, 0) + b"\x01" if value is True else b""


def _int64(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value:
        return b""
    return _tag(number, 0) + _varint(int(value))


def _double(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value:
        return b""
    return _tag(number, 1) + struct.pack("<d", float(value))


def _strings(number: int, value: Any) -> bytes:
    if not isinstance(value, list):
        return b""
    return b"".join(_bytes(number, v.encode()) for v in value if isinstance(v, str))


# -- YAML of an Any -----------------------------------------------------------------------
#
# gnostic writes an Any's YAML with go-yaml v3, styles cleared: block collections, four
# spaces more for what a mapping holds (to the next multiple of four), two for what a
# list item holds; strings plain where YAML would read them back as the same string,
# literal blocks for several lines, single quotes when a plain string would be misread,
# double quotes (with escapes) when that is not enough. Long lines are not folded.

_INDENT = 4
_NULL_OR_BOOL = frozenset(("", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false",
                           "False", "FALSE", ".inf", ".Inf", ".INF", "+.inf", "+.Inf",
                           "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"))
_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
                        r"([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}"
                        r"(\.[0-9]*)?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?")
#: a first character that keeps a string from being written plain
_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
_ESCAPES = {"\0": "0", "\a": "a", "\b": "b", "\t": "t", "\n": "n", "\v": "v", "\f": "f",
            "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_",
            "\u2028": "L", "\u2029": "P"}


def _reads_as_other(text: str) -> bool:
    """Whether YAML reads the plain string as something else (null, a bool, a number, a
    timestamp)."""
    if text in _NULL_OR_BOOL:
        return True
    if text[0] not in "+-.0123456789":
        return False
    plain = text.replace("_", "")
    if _INT.fullmatch(plain) or _FLOAT.fullmatch(plain):
        return True
    stamp = _TIMESTAMP.fullmatch(text)
    if stamp is None:
        return False
    try:  # a date that does not exist is a string
        datetime.date(*(int(part) for part in stamp.group(1, 2, 3)))
    except ValueError:
        return False
    return True


def _printable(ch: str) -> bool:
    code = ord(ch)
    return (ch == "\n" or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0x2027
            or 0x202A <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF) or 0x10000 <= code <= 0x10FFFF)


def _plain_allowed(text: str) -> bool:
    if text[0] == " " or text[-1] == " " or text.startswith(("---", "...")):
        return False
    first = text[0]
    if first in _FIRST or (first in "-?:" and (len(text) == 1 or text[1] == " ")):
        return False
    return ": " not in text and " #" not in text and not text.endswith(":")


def _double_quoted(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append("\\" + _ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return "".join(out)


def _literal_allowed(text: str) -> bool:
    """A string of several lines written as a literal block (tabs are allowed there)."""
    return ("\n" in text and " \n" not in text and not text.endswith(" ")
            and all(_printable(ch) or ch == "\t" for ch in text))


def _yaml_string(text: str) -> str:
    if not text or _reads_as_other(text):
        return _double_quoted(text)
    if "\n" in text or not all(_printable(ch) for ch in text):
        return _double_quoted(text)
    if _plain_allowed(text):
        return text
    return "'" + text.replace("'", "''") + "'"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return orjson.dumps(value).decode()  # as the JSON document writes it
    return _yaml_string(str(value))


def _next_indent(indent: int) -> int:
    """Where what a mapping holds starts: the next multiple of four."""
    return _INDENT * ((indent + _INDENT) // _INDENT)


def _literal(head: str, text: str, indent: int, out: list[str]) -> None:
    hint = str(_INDENT) if text[0] in " \n" else ""
    if not text.endswith("\n"):
        chomp = "-"
    elif len(text) == 1 or text[-2] == "\n":
        chomp = "+"
    else:
        chomp = ""
    out.append(f"{head}|{hint}{chomp}")
    body = text[:-1] if text.endswith("\n") else text
    out.extend(" " * indent + line if line else "" for line in body.split("\n"))


def _value(head: str, value: Any, indent: int, out: list[str]) -> None:
    """``head`` (a key and colon, or a dash) and the value after it; what the value holds
    starts at ``indent``."""
    if isinstance(value, dict) and value:
        out.append(head.rstrip())
        _mapping(value, indent, out)
    elif isinstance(value, list) and value:
        out.append(head.rstrip())
        _sequence(value, indent, out)
    elif isinstance(value, str) and _literal_allowed(value):
        _literal(head, value, indent, out)
    elif isinstance(value, dict):
        out.append(head + "{}")
    elif isinstance(value, list):
        out.append(head + "[]")
    else:
        out.append(head + _scalar(value))


def _mapping(value: dict[str, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        _value(f"{pad}{_yaml_string(str(key))}: ", item, _next_indent(indent), out)


def _sequence(value: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in value:
        if isinstance(item, (dict, list)) and item:
            # a collection in a list item starts after its dash, the rest under that start
            inner: list[str] = []
            if isinstance(item, dict):
                _mapping(item, indent + 2, inner)
            else:
                _sequence(item, indent + 2, inner)
            out.append(f"{pad}- " + inner[0][indent + 2:])
            out.extend(inner[1:])
        else:
            _value(f"{pad}- ", item, indent + 2, out)


def yaml_of(value: Any) -> str:
    """A JSON value as YAML, as gnostic stores it in an ``Any``."""
    lines: list[str] = []
    if isinstance(value, dict) and value:
        _mapping(value, 0, lines)
    elif isinstance(value, list) and value:
        _sequence(value, 0, lines)
    else:
        _value("", value, _INDENT, lines)
    return "\n".join(lines) + "\n"


def _any(number: int, value: Any) -> bytes:
    return _bytes(number, _string(2, yaml_of(value)))  # Any.yaml


def _anys(number: int, value: Any) -> bytes:
    if not isinstance(value, list):
        return b""
    return b"".join(_any(number, v) for v in value)


def _extensions(number: int, obj: Mapping[str, Any]) -> bytes:
    """The ``x-`` keys of an object: repeated NamedAny."""
    return b"".join(_bytes(number, _string(1, key) + _any(2, value))
                    for key, value in obj.items() if key.startswith("x-"))


# -- messages -----------------------------------------------------------------------------

Encoder = Callable[[Any], bytes]
#: a message's fields: (JSON key, how to write its value); the key None is the vendor
#: extensions' field
Fields = tuple[tuple[str | None, Callable[[Any], bytes]], ...]


def _message(fields: Fields) -> Encoder:
    def encode(obj: Any) -> bytes:
        if not isinstance(obj, dict):
            return b""
        out = []
        for key, write in fields:
            if key is None:
                out.append(write(obj))
            elif key in obj:
                out.append(write(obj[key]))
        return b"".join(out)
    return encode


def _sub(number: int, encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """An embedded message (written even when empty, as a present message is)."""
    return lambda value: _bytes(number, encode(value)) if isinstance(value, dict) else b""


def _subs(number: int, encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    return lambda value: b"".join(_bytes(number, encode(v)) for v in value
                                  if isinstance(v, dict)) if isinstance(value, list) else b""


def _named(number: int, encode: Callable[[Any], bytes],
           keep: Callable[[str], bool] = lambda key: True) -> Callable[[Any], bytes]:
    """A map as repeated ``Named*`` pairs (name 1, value 2)."""
    def write(value: Any) -> bytes:
        if not isinstance(value, dict):
            return b""
        return b"".join(_bytes(number, _string(1, key) + _bytes(2, encode(item)))
                        for key, item in value.items() if keep(key))
    return write


def _f(kind: Callable[[int, Any], bytes], number: int) -> Callable[[Any], bytes]:
    return lambda value: kind(number, value)


def _vx(number: int) -> tuple[None, Callable[[Any], bytes]]:
    return (None, lambda obj: _extensions(number, obj))


def _wrapped(number: int, encode: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """A message of one repeated ``Named*`` field 1 (Definitions, Properties ...)."""
    inner = _named(1, encode)
    return lambda value: _bytes(number, inner(value)) if isinstance(value, dict) else b""


_external_docs = _message((("description", _f(_string, 1)), ("url", _f(_string, 2)), _vx(3)))
_xml = _message((("name", _f(_string, 1)), ("namespace", _f(_string, 2)),
                 ("prefix", _f(_string, 3)), ("attribute", _f(_bool, 4)),
                 ("wrapped", _f(_bool, 5)), _vx(6)))


def _schema(obj: Any) -> bytes:
    return _SCHEMA(obj)


def _type_item(value: Any) -> bytes:
    if isinstance(value, str):
        return _bytes(22, _bytes(1, value.encode()))
    if isinstance(value, list):
        return _bytes(22, _strings(1, value))
    return b""


def _items_item(value: Any) -> bytes:
    if isinstance(value, dict):
        return _bytes(23, _bytes(1, _schema(value)))
    if isinstance(value, list):
        return _bytes(23, b"".join(_bytes(1, _schema(v)) for v in value if isinstance(v, dict)))
    return b""


def _additional_properties(value: Any) -> bytes:
    if isinstance(value, dict):
        return _bytes(21, _bytes(1, _schema(value)))
    if isinstance(value, bool):  # a oneof member is written even when false
        return _bytes(21, _tag(2, 0) + (b"\x01" if value else b"\x00"))
    return b""


_SCHEMA = _message((
    ("$ref", _f(_string, 1)), ("format", _f(_string, 2)), ("title", _f(_string, 3)),
    ("description", _f(_string, 4)), ("default", _f(_any, 5)),
    ("multipleOf", _f(_double, 6)), ("maximum", _f(_double, 7)),
    ("exclusiveMaximum", _f(_bool, 8)), ("minimum", _f(_double, 9)),
    ("exclusiveMinimum", _f(_bool, 10)), ("maxLength", _f(_int64, 11)),
    ("minLength", _f(_int64, 12)), ("pattern", _f(_string, 13)),
    ("maxItems", _f(_int64, 14)), ("minItems", _f(_int64, 15)),
    ("uniqueItems", _f(_bool, 16)), ("maxProperties", _f(_int64, 17)),
    ("minProperties", _f(_int64, 18)), ("required", _f(_strings, 19)),
    ("enum", _f(_anys, 20)), ("additionalProperties", _additional_properties),
    ("type", _type_item), ("items", _items_item), ("allOf", _subs(24, _schema)),
    ("properties", _wrapped(25, _schema)), ("discriminator", _f(_string, 26)),
    ("readOnly", _f(_bool, 27)), ("xml", _sub(28, _xml)),
    ("externalDocs", _sub(29, _external_docs)), ("example", _f(_any, 30)), _vx(31),
))


def _primitives(obj: Any) -> bytes:
    return _PRIMITIVES(obj)


def _validations(start: int) -> Fields:
    """The fields from ``items`` to ``multipleOf`` the parameter and header messages share,
    numbered from ``start``."""
    n = start
    return (
        ("items", _sub(n, _primitives)), ("collectionFormat", _f(_string, n + 1)),
        ("default", _f(_any, n + 2)), ("maximum", _f(_double, n + 3)),
        ("exclusiveMaximum", _f(_bool, n + 4)), ("minimum", _f(_double, n + 5)),
        ("exclusiveMinimum", _f(_bool, n + 6)), ("maxLength", _f(_int64, n + 7)),
        ("minLength", _f(_int64, n + 8)), ("pattern", _f(_string, n + 9)),
        ("maxItems", _f(_int64, n + 10)), ("minItems", _f(_int64, n + 11)),
        ("uniqueItems", _f(_bool, n + 12)), ("enum", _f(_anys, n + 13)),
        ("multipleOf", _f(_double, n + 14)),
    )


_PRIMITIVES = _message((("type", _f(_string, 1)), ("format", _f(_string, 2)),
                        *_validations(3), _vx(18)))
_HEADER = _message((("type", _f(_string, 1)), ("format", _f(_string, 2)), *_validations(3),
                    ("description", _f(_string, 18)), _vx(19)))
_PARAMETER_HEAD: Fields = (("required", _f(_bool, 1)), ("in", _f(_string, 2)),
                           ("description", _f(_string, 3)), ("name", _f(_string, 4)))
#: header and path parameters (no allowEmptyValue)
_SIMPLE_PARAMETER = _message((*_PARAMETER_HEAD, ("type", _f(_string, 5)),
                              ("format", _f(_string, 6)), *_validations(7), _vx(22)))
#: query and formData parameters
_VALUE_PARAMETER = _message((*_PARAMETER_HEAD, ("allowEmptyValue", _f(_bool, 5)),
                             ("type", _f(_string, 6)), ("format", _f(_string, 7)),
                             *_validations(8), _vx(23)))
_BODY_PARAMETER = _message((("description", _f(_string, 1)), ("name", _f(_string, 2)),
                            ("in", _f(_string, 3)), ("required", _f(_bool, 4)),
                            ("schema", _sub(5, _schema)), _vx(6)))
_JSON_REFERENCE = _message((("$ref", _f(_string, 1)), ("description", _f(_string, 2))))
#: NonBodyParameter's oneof member of each ``in``
_NON_BODY = {"header": (1, _SIMPLE_PARAMETER), "formData": (2, _VALUE_PARAMETER),
             "query": (3, _VALUE_PARAMETER), "path": (4, _SIMPLE_PARAMETER)}


def _parameter(obj: Any) -> bytes:
    """A Parameter: body_parameter 1, or non_body_parameter 2 of the kind ``in`` names."""
    where = obj.get("in") if isinstance(obj, dict) else None
    if where == "body":
        return _bytes(1, _BODY_PARAMETER(obj))
    if where not in _NON_BODY:
        return b""
    number, encode = _NON_BODY[where]
    return _bytes(2, _bytes(number, encode(obj)))


def _parameters_item(obj: Any) -> bytes:
    if isinstance(obj, dict) and "$ref" in obj:
        return _bytes(2, _JSON_REFERENCE(obj))
    return _bytes(1, _parameter(obj))


_FILE_SCHEMA = _message((
    ("format", _f(_string, 1)), ("title", _f(_string, 2)), ("description", _f(_string, 3)),
    ("default", _f(_any, 4)), ("required", _f(_strings, 5)), ("type", _f(_string, 6)),
    ("readOnly", _f(_bool, 7)), ("externalDocs", _sub(8, _external_docs)),
    ("example", _f(_any, 9)), _vx(10),
))


def _schema_item(value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    if value.get("type") == "file":
        return _bytes(2, _bytes(2, _FILE_SCHEMA(value)))
    return _bytes(2, _bytes(1, _schema(value)))


_RESPONSE = _message((
    ("description", _f(_string, 1)), ("schema", _schema_item),
    ("headers", _wrapped(3, _HEADER)),
    ("examples", lambda v: _bytes(4, b"".join(
        _bytes(1, _string(1, k) + _any(2, x)) for k, x in v.items()))
     if isinstance(v, dict) else b""),
    _vx(5),
))


def _response_value(obj: Any) -> bytes:
    if isinstance(obj, dict) and "$ref" in obj:
        return _bytes(2, _JSON_REFERENCE(obj))
    return _bytes(1, _RESPONSE(obj))


def _not_extension(key: str) -> bool:
    return not key.startswith("x-")


def _responses(obj: Any) -> bytes:
    if not isinstance(obj, dict):
        return b""
    return _named(1, _response_value, _not_extension)(obj) + _extensions(2, obj)


def _string_array(value: Any) -> bytes:
    return _strings(1, value)


_SECURITY_REQUIREMENT: Encoder = _named(1, _string_array)
_OPERATION = _message((
    ("tags", _f(_strings, 1)), ("summary", _f(_string, 2)), ("description", _f(_string, 3)),
    ("externalDocs", _sub(4, _external_docs)), ("operationId", _f(_string, 5)),
    ("produces", _f(_strings, 6)), ("consumes", _f(_strings, 7)),
    ("parameters", lambda v: b"".join(_bytes(8, _parameters_item(p)) for p in v)
     if isinstance(v, list) else b""),
    ("responses", _sub(9, _responses)), ("schemes", _f(_strings, 10)),
    ("deprecated", _f(_bool, 11)), ("security", _subs(12, _SECURITY_REQUIREMENT)), _vx(13),
))
_PATH_ITEM = _message((
    ("$ref", _f(_string, 1)), ("get", _sub(2, _OPERATION)), ("put", _sub(3, _OPERATION)),
    ("post", _sub(4, _OPERATION)), ("delete", _sub(5, _OPERATION)),
    ("options", _sub(6, _OPERATION)), ("head", _sub(7, _OPERATION)),
    ("patch", _sub(8, _OPERATION)),
    ("parameters", lambda v: b"".join(_bytes(9, _parameters_item(p)) for p in v)
     if isinstance(v, list) else b""),
    _vx(10),
))


_CONTACT = _message((("name", _f(_string, 1)), ("url", _f(_string, 2)),
                     ("email", _f(_string, 3)), _vx(4)))
_LICENSE = _message((("name", _f(_string, 1)), ("url", _f(_string, 2)), _vx(3)))
_INFO = _message((
    ("title", _f(_string, 1)), ("version", _f(_string, 2)), ("description", _f(_string, 3)),
    ("termsOfService", _f(_string, 4)), ("contact", _sub(5, _CONTACT)),
    ("license", _sub(6, _LICENSE)), _vx(7),
))
_TAG = _message((("name", _f(_string, 1)), ("description", _f(_string, 2)),
                 ("externalDocs", _sub(3, _external_docs)), _vx(4)))
def _scopes(value: Any) -> bytes:
    if not isinstance(value, dict):
        return b""
    return _bytes(3, b"".join(_bytes(1, _string(1, k) + _string(2, v))
                              for k, v in value.items()))


_SECURITY_HEAD: Fields = (("type", _f(_string, 1)),)
#: SecurityDefinitionsItem's oneof member of each type (and OAuth2 flow)
_SECURITY = {
    "basic": (1, _message((*_SECURITY_HEAD, ("description", _f(_string, 2)), _vx(3)))),
    "apiKey": (2, _message((*_SECURITY_HEAD, ("name", _f(_string, 2)), ("in", _f(_string, 3)),
                            ("description", _f(_string, 4)), _vx(5)))),
    "implicit": (3, _message((*_SECURITY_HEAD, ("flow", _f(_string, 2)), ("scopes", _scopes),
                              ("authorizationUrl", _f(_string, 4)),
                              ("description", _f(_string, 5)), _vx(6)))),
    "password": (4, _message((*_SECURITY_HEAD, ("flow", _f(_string, 2)), ("scopes", _scopes),
                              ("tokenUrl", _f(_string, 4)), ("description", _f(_string, 5)),
                              _vx(6)))),
    "application": (5, _message((*_SECURITY_HEAD, ("flow", _f(_string, 2)),
                                 ("scopes", _scopes), ("tokenUrl", _f(_string, 4)),
                                 ("description", _f(_string, 5)), _vx(6)))),
    "accessCode": (6, _message((*_SECURITY_HEAD, ("flow", _f(_string, 2)), ("scopes", _scopes),
                                ("authorizationUrl", _f(_string, 4)),
                                ("tokenUrl", _f(_string, 5)), ("description", _f(_string, 6)),
                                _vx(7)))),
}


def _security_item(obj: Any) -> bytes:
    if not isinstance(obj, dict):
        return b""
    kind = obj.get("flow") if obj.get("type") == "oauth2" else obj.get("type")
    if kind not in _SECURITY:
        return b""
    number, encode = _SECURITY[kind]
    return _bytes(number, encode(obj))


#: what ``encode_document`` may keep between calls: per path or definition name, the
#: value last encoded and its bytes
Cache = dict[tuple[str, str], tuple[Any, bytes]]


def _cached(number: int, encode: Encoder, cache: Cache, kind: str,
            keep: Callable[[str], bool] = lambda key: True) -> Encoder:
    """``_named``, reusing the bytes of an entry whose value is the very object encoded
    last time (the built-in documents' schemas are shared, never changed)."""
    def write(value: Any) -> bytes:
        if not isinstance(value, dict):
            return b""
        out = []
        for key, item in value.items():
            if not keep(key):
                continue
            hit = cache.get((kind, key))
            if hit is None or hit[0] is not item:
                hit = (item, _bytes(number, _string(1, key) + _bytes(2, encode(item))))
                cache[kind, key] = hit
            out.append(hit[1])
        return b"".join(out)
    return write


def _document(cache: Cache) -> Encoder:
    definitions = _cached(1, _schema, cache, "definition")
    paths = _cached(2, _PATH_ITEM, cache, "path", _not_extension)
    return _message((
        ("swagger", _f(_string, 1)), ("info", _sub(2, _INFO)), ("host", _f(_string, 3)),
        ("basePath", _f(_string, 4)), ("schemes", _f(_strings, 5)),
        ("consumes", _f(_strings, 6)), ("produces", _f(_strings, 7)),
        ("paths", lambda v: _bytes(8, _extensions(1, v) + paths(v))
         if isinstance(v, dict) else b""),
        ("definitions", lambda v: _bytes(9, definitions(v)) if isinstance(v, dict) else b""),
        ("parameters", _wrapped(10, _parameter)), ("responses", _wrapped(11, _RESPONSE)),
        ("security", _subs(12, _SECURITY_REQUIREMENT)),
        ("securityDefinitions", _wrapped(13, _security_item)), ("tags", _subs(14, _TAG)),
        ("externalDocs", _sub(15, _external_docs)), _vx(16),
    ))


def encode_document(document: Mapping[str, Any], cache: Cache | None = None) -> bytes:
    """A Swagger 2.0 document as the bytes of gnostic's ``openapi.v2.Document``.

    ``cache`` (kept by the caller) spares re-encoding the paths and definitions whose
    values are the same objects as last time."""
    return _document({} if cache is None else cache)(dict(document))
