"""Decoding of Kubernetes protobuf request bodies, for the few kinds kubectl sends so.

Why: since client-go 1.31 the typed clientset sends built-in objects as
``application/vnd.kubernetes.protobuf``; kubectl's generators (``kubectl create
namespace|configmap|secret|serviceaccount``) use it, with no fallback to JSON. Reads are
not affected (clients accept JSON answers) and neither are ``apply``/``create -f``,
patches or custom resources, which are always JSON.

A full decoder needs every built-in's ``generated.proto``; the Python protobuf runtime
is not a dependency and the kinds generators create are few, so the wire format is
read by hand below for ObjectMeta, Namespace, ConfigMap, Secret and ServiceAccount
(field numbers from k8s.io/api core/v1 and apimachinery meta/v1 ``generated.proto``).
Anything else raises ``UnsupportedProtobuf`` with a message naming the kind, answered
as 415.

Wire envelope: the 4 magic bytes ``k8s\\0`` then a ``runtime.Unknown`` message
(``typeMeta`` = 1 {apiVersion = 1, kind = 2}, ``raw`` = 2: the object's own message).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class UnsupportedProtobuf(ValueError):
    """A protobuf body the fake cannot decode (unknown kind, or not protobuf at all)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise UnsupportedProtobuf("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise UnsupportedProtobuf("protobuf varint too long")


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints/fixed, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise UnsupportedProtobuf("truncated protobuf field")
            yield number, data[pos:pos + length]
            pos += length
        elif wire == 1:
            yield number, int.from_bytes(data[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            yield number, int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        else:
            raise UnsupportedProtobuf(f"unsupported protobuf wire type {wire}")


def _str(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise UnsupportedProtobuf("expected a string field")
    return value.decode()


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise UnsupportedProtobuf("expected a bytes field")
    return value


def _map_entry(value: int | bytes, decode: Callable[[int | bytes], Any]) -> tuple[str, Any]:
    key, item = "", decode(b"")
    for number, part in fields(_bytes(value)):
        if number == 1:
            key = _str(part)
        elif number == 2:
            item = decode(part)
    return key, item


def _b64(value: int | bytes) -> str:
    return base64.b64encode(_bytes(value)).decode()


def _time(value: int | bytes) -> str | None:
    seconds = dict(fields(_bytes(value))).get(1, 0)
    if not seconds:
        return None
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_reference(value: int | bytes) -> dict[str, Any]:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    ref: dict[str, Any] = {}
    for number, part in fields(_bytes(value)):
        if number in names:
            ref[names[number]] = _str(part)
        elif number == 6:
            ref["controller"] = bool(part)
        elif number == 7:
            ref["blockOwnerDeletion"] = bool(part)
    return ref


_META_STRINGS = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}


def object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for number, value in fields(data):
        if number in _META_STRINGS:
            if text := _str(value):  # gogo-proto writes empty strings: they mean unset
                meta[_META_STRINGS[number]] = text
        elif number in (11, 12):
            key, item = _map_entry(value, _str)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item
        elif number == 13:
            meta.setdefault("ownerReferences", []).append(_owner_reference(value))
        elif number == 14:
            meta.setdefault("finalizers", []).append(_str(value))
        elif number == 8 and (stamp := _time(value)):
            meta["creationTimestamp"] = stamp
    return meta


def _namespace(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1:
            obj["metadata"] = object_meta(_bytes(value))
        elif number == 2:
            finalizers = [_str(v) for n, v in fields(_bytes(value)) if n == 1]
            obj["spec"] = {"finalizers": finalizers} if finalizers else {}
    return obj


def _configmap(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1:
            obj["metadata"] = object_meta(_bytes(value))
        elif number == 2:
            key, item = _map_entry(value, _str)
            obj.setdefault("data", {})[key] = item
        elif number == 3:
            key, item = _map_entry(value, _b64)
            obj.setdefault("binaryData", {})[key] = item
        elif number == 4:
            obj["immutable"] = bool(value)
    return obj


def _secret(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1:
            obj["metadata"] = object_meta(_bytes(value))
        elif number == 2:
            key, item = _map_entry(value, _b64)
            obj.setdefault("data", {})[key] = item
        elif number == 3 and (kind := _str(value)):
            obj["type"] = kind
        elif number == 4:
            key, item = _map_entry(value, _str)
            obj.setdefault("stringData", {})[key] = item
        elif number == 5:
            obj["immutable"] = bool(value)
    return obj


def _service_account(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for number, value in fields(raw):
        if number == 1:
            obj["metadata"] = object_meta(_bytes(value))
        elif number == 3:
            name = next((_str(v) for n, v in fields(_bytes(value)) if n == 1), "")
            obj.setdefault("imagePullSecrets", []).append({"name": name})
        elif number == 4:
            obj["automountServiceAccountToken"] = bool(value)
    return obj


DECODERS: dict[tuple[str, str], Callable[[bytes], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
    ("v1", "ServiceAccount"): _service_account,
}


def decode(body: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the equivalent JSON object (a dict)."""
    if not body.startswith(MAGIC):
        raise UnsupportedProtobuf("the protobuf body does not start with the k8s magic bytes")
    api_version = kind = ""
    raw = b""
    for number, value in fields(body[len(MAGIC):]):
        if number == 1:
            for part_number, part in fields(_bytes(value)):
                if part_number == 1:
                    api_version = _str(part)
                elif part_number == 2:
                    kind = _str(part)
        elif number == 2:
            raw = _bytes(value)
    decoder = DECODERS.get((api_version, kind))
    if decoder is None:
        supported = ", ".join(k for _, k in DECODERS)
        raise UnsupportedProtobuf(
            f"the fake API server decodes protobuf bodies only for {supported}, not "
            f"{api_version}/{kind}; send JSON (kubectl: use `create -f`/`apply -f` "
            "instead of a `kubectl create <kind>` generator)"
        )
    return {"apiVersion": api_version, "kind": kind, **decoder(raw)}
