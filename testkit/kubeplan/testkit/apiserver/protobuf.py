"""Decoding of Kubernetes protobuf request bodies, for every built-in kind.

Why: since client-go 1.31 the typed clientset sends built-in objects as
``application/vnd.kubernetes.protobuf``; kubectl's generators (``kubectl create
deployment|job|cronjob|service|role|secret|quota|ingress|...``) use it, with no
fallback to JSON. Reads are not affected (clients accept JSON answers) and neither are
``apply``/``create -f``, patches or custom resources, which are always JSON.

The decoder is generic: ``protobuf_schema.json`` (written by ``protoschema_gen.py``
from upstream's ``generated.proto`` files and the Go struct tags beside them) gives,
per message, each field number's JSON name, type and how Go writes it. The result is
the JSON object the real server's Go struct would marshal to:

* zero non-pointer scalars tagged ``omitempty`` are left out; the other non-pointer
  fields appear even when zero (gogo-protobuf always writes them, Go's JSON too);
* pointer fields appear when they are on the wire, zero or not;
* ``,inline`` embedded structs (a Volume's ``VolumeSource``) are merged into their parent;
* ``bytes`` are base64 (a Secret's ``data``); ``Time``/``MicroTime`` are RFC 3339
  (empty = null, left out); ``Duration`` is Go's ``1h0m0s``; ``IntOrString`` an int or a
  string; ``Quantity`` its string; ``RawExtension``, ``FieldsV1`` and apiextensions
  ``JSON`` the raw JSON they carry; slice types (``ExtraValue``) their items.

Wire envelope: the 4 magic bytes ``k8s\\0`` then a ``runtime.Unknown`` message
(``typeMeta`` = 1 {apiVersion = 1, kind = 2}, ``raw`` = 2: the object's own message,
``contentEncoding`` = 3, ``contentType`` = 4). A kind outside the table raises
``UnsupportedProtobuf`` (answered 415); a malformed body raises ``MalformedProtobuf``
(answered 400, worded as the real server's decoder words it).
"""

from __future__ import annotations

import base64
import codecs
import functools
import json
import math
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson

from kubeplan.core.errors import KubeplanError
from kubeplan.testkit.apiserver.codec import MAX_DEPTH

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")

_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_EXTENSIONS = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1"


class UnsupportedProtobuf(KubeplanError, ValueError):
    """A protobuf body the fake cannot decode (unknown kind, or not protobuf at all)."""


class MalformedProtobuf(UnsupportedProtobuf):
    """Bytes that are not a well-formed protobuf message of the type they claim."""


#: one field of the table: [json name, type, flags, (map key type)]
Field = list[str]


@functools.cache
def schema() -> dict[str, Any]:
    """The committed table (loaded once, on the first protobuf body)."""
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise MalformedProtobuf("unexpected EOF")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise MalformedProtobuf("proto: integer overflow")


def fields(data: bytes, message: str = "Message",
           check: Callable[[int, int], None] | None = None,
           ) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): ints for varint/fixed, bytes for length-delimited.
    Errors are worded as gogo-protobuf's generated unmarshalers word them (``message``:
    the Go type's name; ``check`` sees each field's number and wire type first)."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 4:
            raise MalformedProtobuf(f"proto: {message}: wiretype end group for non-group")
        if number <= 0:
            raise MalformedProtobuf(f"proto: {message}: illegal tag {number} (wire type {wire})")
        if check is not None:
            check(number, wire)
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise MalformedProtobuf("unexpected EOF")
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise MalformedProtobuf("unexpected EOF")
            yield number, wire, int.from_bytes(data[pos:pos + size], "little")
            pos += size
        else:
            raise MalformedProtobuf(f"proto: illegal wireType {wire}")


def _replace_each_byte(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


_GO_REPLACE = "kubeplan-go-replace"
codecs.register_error(_GO_REPLACE, _replace_each_byte)


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if bits == 32:
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: int | bytes, where: str) -> Any:
    """One scalar value as Go's JSON writes it."""
    if kind in ("string", "bytes"):
        if not isinstance(value, bytes):
            raise MalformedProtobuf(f"{where}: expected a length-delimited {kind}")
        if kind == "bytes":
            return base64.b64encode(value).decode()
        # Go strings hold any bytes; its JSON writes each invalid byte as U+FFFD
        return value.decode(errors=_GO_REPLACE)
    if not isinstance(value, int):
        raise MalformedProtobuf(f"{where}: expected a {kind}, got a length-delimited field")
    if kind == "bool":
        return value != 0
    if kind in ("int32", "sfixed32"):
        return _signed(value, 32)
    if kind in ("int64", "sfixed64"):
        return _signed(value, 64)
    if kind in ("uint32", "uint64", "fixed32", "fixed64"):
        return value
    if kind in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if kind == "double" and wire == 1:
        return _go_float(struct.unpack("<d", value.to_bytes(8, "little"))[0], where)
    if kind == "float" and wire == 5:
        return _go_float(struct.unpack("<f", value.to_bytes(4, "little"))[0], where)
    raise MalformedProtobuf(f"{where}: wire type {wire} does not carry a {kind}")


def _go_float(value: float, where: str) -> float | int:
    """A float as Go's JSON writes it: a whole number without ``.0``; NaN and the
    infinities are refused (``json: unsupported value``)."""
    if math.isnan(value) or math.isinf(value):
        raise MalformedProtobuf(f"{where}: json: unsupported value: {value}")
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


_SCALAR_ZEROS: dict[str, Any] = {"string": "", "bool": False, "double": 0.0, "float": 0.0}


def _is_zero(value: Any) -> bool:
    return value == "" or (isinstance(value, (int, float)) and value == 0)


def _go_duration(nanos: int) -> str:
    """time.Duration.String(): ``1h2m3.5s``, or in ms, µs or ns below a second."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if nanos < size * 1000:
                whole, frac = divmod(nanos, size)
                digits = len(str(size)) - 1
                tail = f".{frac:0{digits}d}".rstrip("0").rstrip(".") if digits else ""
                return f"{sign}{whole}{tail}{unit}"
    seconds, frac = divmod(nanos, 1_000_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    tail = f".{frac:09d}".rstrip("0").rstrip(".")
    text = f"{seconds}{tail}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _time(data: bytes, where: str, micro: bool) -> str | None:
    if not data:  # metav1.Time marshals its zero value to nothing: null in JSON
        return None
    parts = _plain(data, where)
    seconds = _signed(cast(int, parts.get(1, 0)), 64)
    nanos = _signed(cast(int, parts.get(2, 0)), 32)
    try:
        stamp = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds,
                                                             microseconds=nanos // 1000)
    except OverflowError as exc:
        raise MalformedProtobuf(f"{where}: the time is out of range") from exc
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(data: bytes, where: str) -> dict[int, int | bytes]:
    """The last value of each field, for the small special messages."""
    return {number: value for number, _, value in fields(data)}


def _raw_json(data: bytes, where: str, depth: int) -> Any:
    raw = _plain(data, where).get(1, b"")
    if not isinstance(raw, bytes):
        raise MalformedProtobuf(f"{where}: expected raw bytes")
    if not raw:
        return None
    if raw.startswith(MAGIC):
        return _decode(raw, depth)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedProtobuf(f"{where}: the embedded raw object is not JSON") from exc
    _check_depth(value, depth, where)
    return value


def _check_depth(value: Any, depth: int, where: str) -> None:
    """Raw JSON inside a message nests no deeper than ``MAX_DEPTH`` in all."""
    stack = [(value, depth)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            if level > MAX_DEPTH:
                raise _too_deep(where)
            stack.extend((child, level + 1)
                         for child in (node.values() if isinstance(node, dict) else node))


def _too_deep(where: str) -> MalformedProtobuf:
    return MalformedProtobuf(f"{where}: nests deeper than the {MAX_DEPTH} levels of objects "
                             "and arrays the fake API server reads")


def _int_or_string(data: bytes, where: str, depth: int) -> Any:
    parts = _plain(data, where)
    if parts.get(1, 0) == 1:
        return _scalar("string", 2, parts.get(3, b""), where)
    return _signed(cast(int, parts.get(2, 0)), 32)


def _quantity(data: bytes, where: str, depth: int) -> Any:
    text = _scalar("string", 2, _plain(data, where).get(1, b""), where)
    return text or "0"  # a zero Quantity marshals as "0"


def _or_array(data: bytes, where: str, depth: int) -> Any:
    schema_ = b""
    items: list[Any] = []
    for number, _, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            schema_ = value
        elif number == 2 and isinstance(value, bytes):
            items.append(message(f"{_EXTENSIONS}.JSONSchemaProps", value, where, depth + 1))
    return items if items else message(f"{_EXTENSIONS}.JSONSchemaProps", schema_, where,
                                       depth)


def _or_bool(data: bytes, where: str, depth: int) -> Any:
    parts = _plain(data, where)
    sub = parts.get(2)
    if isinstance(sub, bytes):
        return message(f"{_EXTENSIONS}.JSONSchemaProps", sub, where, depth)
    return bool(parts.get(1, 0))


def _or_string_array(data: bytes, where: str, depth: int) -> Any:
    sub: bytes | None = None
    items: list[Any] = []
    for number, wire, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            sub = value
        elif number == 2:
            items.append(_scalar("string", wire, value, where))
    if items:
        return items
    return None if sub is None else message(f"{_EXTENSIONS}.JSONSchemaProps", sub, where,
                                            depth)


#: messages with their own JSON form (a Go MarshalJSON), by full proto name
SPECIAL: dict[str, Callable[[bytes, str, int], Any]] = {
    f"{_META}.Time": lambda data, where, _: _time(data, where, micro=False),
    f"{_META}.MicroTime": lambda data, where, _: _time(data, where, micro=True),
    f"{_META}.Duration": lambda data, where, _: _go_duration(
        _signed(cast(int, _plain(data, where).get(1, 0)), 64)),
    f"{_META}.FieldsV1": _raw_json,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_json,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": _quantity,
    f"{_EXTENSIONS}.JSON": _raw_json,
    f"{_EXTENSIONS}.JSONSchemaPropsOrArray": _or_array,
    f"{_EXTENSIONS}.JSONSchemaPropsOrBool": _or_bool,
    f"{_EXTENSIONS}.JSONSchemaPropsOrStringArray": _or_string_array,
}


def _value(kind: str, wire: int, value: int | bytes, where: str, depth: int) -> Any:
    if "." not in kind:
        return _scalar(kind, wire, value, where)
    if not isinstance(value, bytes):
        raise MalformedProtobuf(f"{where}: expected an embedded {kind.rsplit('.', 1)[1]}")
    return message(kind, value, where, depth)


def _zero(kind: str, where: str) -> Any:
    """A non-pointer field Go writes although it was not on the wire."""
    if kind in _SCALAR_ZEROS:
        return _SCALAR_ZEROS[kind]
    if "." not in kind:
        return None if kind == "bytes" else 0
    return message(kind, b"", where)


def _packed(kind: str, data: bytes, where: str) -> list[Any]:
    out: list[Any] = []
    pos = 0
    while pos < len(data):
        if kind in ("double", "fixed64", "sfixed64", "float", "fixed32", "sfixed32"):
            size = 4 if kind in ("float", "fixed32", "sfixed32") else 8
            if pos + size > len(data):
                raise MalformedProtobuf(f"{where}: truncated packed field")
            raw = int.from_bytes(data[pos:pos + size], "little")
            out.append(_scalar(kind, 5 if size == 4 else 1, raw, where))
            pos += size
        else:
            raw, pos = _varint(data, pos)
            out.append(_scalar(kind, 0, raw, where))
    return out


_FIXED64 = frozenset({"double", "fixed64", "sfixed64"})
_FIXED32 = frozenset({"float", "fixed32", "sfixed32"})


@functools.cache
def _wires(kind: str, flags: str) -> frozenset[int]:
    """The wire types a field may come in (repeated numbers also packed, as type 2)."""
    if "." in kind or kind in ("string", "bytes") or "m" in flags:
        return frozenset({2})
    wire = 1 if kind in _FIXED64 else 5 if kind in _FIXED32 else 0
    return frozenset({wire, 2}) if "r" in flags else frozenset({wire})


@functools.cache
def _by_name(name: str) -> dict[str, Field]:
    return {spec[0]: spec for spec in schema()["messages"][name]["fields"].values()}


def message(name: str, data: bytes, where: str = "", depth: int = 1) -> Any:
    """One message of the table as the JSON value Go writes for it (``depth``: how deep
    in the JSON object it lands; past the fake's ``MAX_DEPTH`` it is refused)."""
    if depth > MAX_DEPTH:
        raise _too_deep(where)
    special = SPECIAL.get(name)
    if special is not None:
        return special(data, where or name.rsplit(".", 1)[1], depth)
    entry = schema()["messages"].get(name)
    if entry is None:
        raise UnsupportedProtobuf(f"no schema for message {name}")
    table: dict[str, Field] = entry["fields"]
    out: dict[str, Any] = {}
    inline: dict[str, Any] = {}
    seen: set[str] = set()
    pending: dict[str, bytearray] = {}
    by_name = _by_name(name)
    go_names: dict[str, str] = entry.get("go", {})

    def check(number: int, wire: int) -> None:
        spec = table.get(str(number))
        if spec is not None and wire not in _wires(spec[1], spec[2]):
            go_name = go_names.get(str(number)) or spec[0][:1].upper() + spec[0][1:]
            raise MalformedProtobuf(f"proto: wrong wireType = {wire} for field {go_name}")

    for number, wire, value in fields(data, name.rsplit(".", 1)[1], check):
        spec = table.get(str(number))
        if spec is None:
            continue  # an unknown field: Go's generated unmarshalers skip it too
        json_name, kind, flags = spec[0], spec[1], spec[2]
        here = f"{where}.{json_name}" if where else json_name
        seen.add(json_name)
        if "m" in flags:
            if not isinstance(value, bytes):
                raise MalformedProtobuf(f"{here}: expected a map entry")
            key: Any = _zero(spec[3], here)
            item: Any = _zero(kind, here) if kind != "bytes" else ""
            for entry_number, entry_wire, part in fields(value):
                if entry_number == 1:
                    key = _scalar(spec[3], entry_wire, part, here)
                elif entry_number == 2:
                    item = _value(kind, entry_wire, part, f"{here}[{key}]", depth + 2)
            out.setdefault(json_name, {})[str(key)] = item
        elif "r" in flags:
            items = out.setdefault(json_name, [])
            if wire == 2 and isinstance(value, bytes) and "." not in kind and kind not in (
                    "string", "bytes"):
                items.extend(_packed(kind, value, here))
            else:
                items.append(_value(kind, wire, value, f"{here}[{len(items)}]", depth + 2))
        elif "." in kind:
            # a message field met twice merges, as parsing the concatenation does (Go's
            # generated unmarshalers merge into the field): collected, decoded below
            if not isinstance(value, bytes):
                raise MalformedProtobuf(f"{here}: expected an embedded {kind.rsplit('.', 1)[1]}")
            pending.setdefault(json_name, bytearray()).extend(value)
            out.setdefault(json_name, None)  # keeps the wire's order
        else:
            out[json_name] = _scalar(kind, wire, value, here)
    for json_name, raw in pending.items():
        spec = by_name[json_name]
        if "i" in spec[2]:
            del out[json_name]
            decoded = _value(spec[1], 2, bytes(raw), where, depth)
            if isinstance(decoded, dict):
                inline.update(decoded)
        else:
            here = f"{where}.{json_name}" if where else json_name
            out[json_name] = _value(spec[1], 2, bytes(raw), here, depth + 1)
    for spec in table.values():  # Go's JSON: what to leave out, what to write anyway
        json_name, kind, flags = spec[0], spec[1], spec[2]
        if json_name in seen:
            got = out.get(json_name)
            if got is None and json_name in out:
                del out[json_name]  # a null Time, RawExtension ...
            elif "o" in flags and "." not in kind and _is_zero(got):
                del out[json_name]
        elif not any(flag in flags for flag in "rmpi") and not ("o" in flags and "." not in kind):
            zero = _zero(kind, json_name)
            if zero is not None:
                out[json_name] = zero
    if entry.get("list"):
        return next(iter(out.values()), [])
    return {**inline, **out} if inline else out


def decode(body: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the equivalent JSON object (a dict)."""
    return _decode(body, 1)


def _decode(body: bytes, depth: int) -> dict[str, Any]:
    if not body.startswith(MAGIC):
        raise MalformedProtobuf(
            "the object provided is unrecognized: provided data does not appear to be a "
            f"protobuf message, expected prefix [107 56 115 0] ({body[:32].hex()})")
    api_version = kind = encoding = ""
    raw = b""
    try:
        envelope = list(fields(body[len(MAGIC):]))
    except MalformedProtobuf as exc:
        raise MalformedProtobuf(
            f"the object provided is unrecognized: {exc} ({body[:32].hex()})") from exc
    for number, _, value in envelope:
        if number == 1 and isinstance(value, bytes):
            for part_number, wire, part in fields(value):
                if part_number == 1:
                    api_version = _scalar("string", wire, part, "typeMeta.apiVersion")
                elif part_number == 2:
                    kind = _scalar("string", wire, part, "typeMeta.kind")
        elif number == 2 and isinstance(value, bytes):
            raw = value
        elif number == 3 and isinstance(value, bytes):
            encoding = value.decode(errors="replace")
    if encoding:
        raise UnsupportedProtobuf(f"protobuf content encoding {encoding!r} is not supported")
    if not kind:
        raise MalformedProtobuf("the protobuf envelope names no kind (typeMeta.kind)")
    name = message_for(api_version, kind)
    if name is None:
        raise UnsupportedProtobuf(
            f'no kind "{kind}" is registered for version "{api_version}" in the protobuf '
            "schema of the fake API server (custom resources are JSON only)")
    try:
        decoded = message(name, raw, "", depth)
    except MalformedProtobuf as exc:
        raise MalformedProtobuf(
            f'{kind} in version "{api_version}" cannot be handled as a {kind}: {exc}') from exc
    if not isinstance(decoded, dict):
        raise MalformedProtobuf(f"{api_version}/{kind} is not an object")
    return {"apiVersion": api_version, "kind": kind, **decoded}


@functools.cache
def message_for(api_version: str, kind: str) -> str | None:
    """The full proto name of a kind: its group version's package, else meta/v1's
    (``DeleteOptions`` and the other options are registered in every group version)."""
    table = schema()
    for package in (table["groups"].get(api_version), _META):
        if package and f"{package}.{kind}" in table["messages"]:
            return f"{package}.{kind}"
    return None
