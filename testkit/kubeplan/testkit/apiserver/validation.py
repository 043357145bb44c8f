"""Object-meta checks every write gets: decode-time type errors (400) and field
validation (422), with apimachinery's wording so messages match the real server."""

from __future__ import annotations

import re
from typing import Any

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.selectors import (
    is_dns1123_subdomain,
    validate_label_key,
    validate_label_value,
)

__all__ = ["check_shape", "validate_meta"]

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_RE = re.compile(f"^{_DNS1035_LABEL_FMT}$")

_JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "value")


def _unmarshal_error(
    info: ResourceInfo, field: str, value: Any, go_type: str
) -> status.StatusError:
    return status.bad_request(
        f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
        f"json: cannot unmarshal {_json_type(value)} into Go struct field "
        f"{info.kind}.{field} of type {go_type}"
    )


def _string_map(info: ResourceInfo, field: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _unmarshal_error(info, field, value, "map[string]string")
    for item in value.values():
        if not isinstance(item, str):
            raise _unmarshal_error(info, field, item, "string")


def check_shape(obj: Any, info: ResourceInfo) -> dict[str, Any]:
    """Reject bodies that could not decode into the Go type (400), return the object."""
    if not isinstance(obj, dict):
        raise status.bad_request(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            f"couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{_json_type(obj)} into Go value of type struct"
        )
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise _unmarshal_error(info, "metadata", meta, "v1.ObjectMeta")
    for key in (
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
    ):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            raise _unmarshal_error(info, f"metadata.{key}", meta[key], "string")
    for key in ("labels", "annotations"):
        _string_map(info, f"metadata.{key}", meta.get(key))
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise _unmarshal_error(info, "metadata.finalizers", finalizers, "[]string")
    refs = meta.get("ownerReferences")
    if refs is not None and (
        not isinstance(refs, list) or not all(isinstance(r, dict) for r in refs)
    ):
        raise _unmarshal_error(info, "metadata.ownerReferences", refs, "[]v1.OwnerReference")
    for key in ("apiVersion", "kind"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            raise _unmarshal_error(info, key, obj[key], "string")
    if not info.custom and info.kind in ("ConfigMap", "Secret"):
        _string_map(info, "data", obj.get("data"))
        _string_map(
            info,
            "stringData" if info.kind == "Secret" else "binaryData",
            obj.get("stringData" if info.kind == "Secret" else "binaryData"),
        )
    return obj


def _split(error: str) -> dict[str, str]:
    field, _, message = error.partition(": ")
    return status.cause(
        "FieldValueRequired"
        if message.startswith("Required value")
        else "FieldValueTooLong"
        if message.startswith("Too long")
        else "FieldValueForbidden"
        if message.startswith("Forbidden")
        else "FieldValueInvalid",
        field,
        message,
    )


def _name_errors(info: ResourceInfo, name: str) -> list[str]:
    if info.plural == "namespaces" and not info.group:
        if len(name) > 63:
            return ["must be no more than 63 characters"]
        if not _DNS1123_LABEL_RE.match(name):
            return [
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
                f"  or '123-abc', regex used for validation is '{_DNS1123_LABEL_FMT}')"
            ]
        return []
    if info.plural == "services" and not info.group:
        if len(name) > 63:
            return ["must be no more than 63 characters"]
        if not _DNS1035_LABEL_RE.match(name):
            return [
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character "
                f"(e.g. 'my-name',  or 'abc-123', regex used for validation is "
                f"'{_DNS1035_LABEL_FMT}')"
            ]
        return []
    return is_dns1123_subdomain(name)


#: label and annotation keys known to be valid: every write checks its keys, and they
#: recur (validity depends on the key alone; only valid keys are remembered)
_VALID_KEYS: set[str] = set()
_VALID_KEYS_MAX = 4096


def _label_key_error(key: str, path: str) -> str | None:
    if key in _VALID_KEYS:
        return None
    error = validate_label_key(key, path)
    if error is None and len(_VALID_KEYS) < _VALID_KEYS_MAX and isinstance(key, str):
        _VALID_KEYS.add(key)
    return error


def validate_meta(
    obj: dict[str, Any], info: ResourceInfo, *, check_name: bool = True
) -> list[dict[str, str]]:
    """Field errors in ``metadata`` as Status causes (empty when valid)."""
    causes: list[dict[str, str]] = []
    meta = obj["metadata"]
    name = meta.get("name") or ""
    if check_name:
        if not name:
            causes.append(
                status.cause(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )
            )
        else:
            for problem in _name_errors(info, name):
                causes.append(
                    status.cause(
                        "FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}'
                    )
                )
    for key, value in (meta.get("labels") or {}).items():
        for error in (
            _label_key_error(key, "metadata.labels"),
            validate_label_value(key, value, "metadata.labels"),
        ):
            if error:
                causes.append(_split(error))
    for key in meta.get("annotations") or {}:
        error = _label_key_error(key, "metadata.annotations")
        if error:
            causes.append(_split(error))
    controllers = 0
    for index, ref in enumerate(meta.get("ownerReferences") or ()):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(field):
                causes.append(
                    status.cause(
                        "FieldValueInvalid",
                        f"metadata.ownerReferences.{field}",
                        f'Invalid value: "": {field} must not be empty',
                    )
                )
        if ref.get("controller"):
            controllers += 1
        del index
    if controllers > 1:
        causes.append(
            status.cause(
                "FieldValueInvalid",
                "metadata.ownerReferences",
                "Invalid value: []: Only one reference can have Controller set to true",
            )
        )
    return causes
