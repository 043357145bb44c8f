"""Object-meta checks every write gets: decode-time type errors (400) and field
validation (422), with apimachinery's wording so messages match the real server."""

from __future__ import annotations

import json
import re
from typing import Any

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.registry import ResourceInfo
from kubeplan.testkit.apiserver.selectors import (
    is_dns1123_subdomain,
    validate_label_key,
    validate_label_value,
)

__all__ = ["check_shape", "config_key_causes", "validate_meta"]

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


_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    f"'{_CONFIG_KEY_FMT}')"
)


def _config_key_errors(key: str) -> list[str]:
    """apimachinery's ``IsConfigMapKey``: what is wrong with a ConfigMap or Secret key."""
    errors = []
    if len(key) > 253:
        errors.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.fullmatch(key):
        errors.append(_CONFIG_KEY_MSG)
    if key == ".":
        errors.append("must not be '.'")
    elif key == "..":
        errors.append("must not be '..'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


#: config keys known to be valid (they recur on every write of their object)
_VALID_CONFIG_KEYS: set[str] = set()


def _config_key_ok(key: str) -> bool:
    ok = bool(
        len(key) <= 253
        and _CONFIG_KEY_RE.fullmatch(key)
        and not (key == "." or key.startswith(".."))
    )
    if ok and len(_VALID_CONFIG_KEYS) < _VALID_KEYS_MAX:
        _VALID_CONFIG_KEYS.add(key)
    return ok


def config_key_causes(
    field: str, data: Any, other: Any = None, other_field: str = ""
) -> list[dict[str, str]]:
    """Causes for the keys of ``data`` (a ConfigMap's or Secret's ``data`` or
    ``binaryData``): invalid keys, and keys also in ``other`` (``other_field``)."""
    causes: list[dict[str, str]] = []
    if not isinstance(data, dict):
        return causes
    others = other if isinstance(other, dict) else {}
    for key in data:
        valid = key in _VALID_CONFIG_KEYS or _config_key_ok(key)
        if valid and key not in others:
            continue  # nearly every key: nothing to render
        shown = json.dumps(key, ensure_ascii=False)
        for error in () if valid else _config_key_errors(key):
            causes.append(
                status.cause(
                    "FieldValueInvalid", f"{field}[{key}]", f"Invalid value: {shown}: {error}"
                )
            )
        if key in others:
            causes.append(
                status.cause(
                    "FieldValueInvalid",
                    f"{field}[{key}]",
                    f"Invalid value: {shown}: duplicate of key present in {other_field}",
                )
            )
    return causes


def _label_value_error(value: Any, path: str) -> str | None:
    """metav1 ValidateLabels' error for a label value: on the labels' path itself (a
    selector's requirement names the key too; ``validate_label_value`` is that one)."""
    if not isinstance(value, str):
        return None
    error = validate_label_value("", value, path)
    return None if error is None else error.replace(f"{path}[]", path, 1)


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


#: the limit on all of an object's annotations together, keys and values (apimachinery's
#: TotalAnnotationSizeLimitB)
ANNOTATIONS_MAX_BYTES = 256 * 1024


def _annotations_too_long(annotations: dict[str, Any]) -> bool:
    """Whether keys and values add up to more than the limit, in UTF-8 bytes."""
    chars = 0
    for key, value in annotations.items():
        chars += len(key) + (len(value) if isinstance(value, str) else 0)
    if chars > ANNOTATIONS_MAX_BYTES:
        return True
    if chars * 4 <= ANNOTATIONS_MAX_BYTES:  # a character is at most 4 bytes
        return False
    size = 0
    for key, value in annotations.items():
        size += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    return size > ANNOTATIONS_MAX_BYTES


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
            _label_value_error(value, "metadata.labels"),
        ):
            if error:
                causes.append(_split(error))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        error = _label_key_error(key, "metadata.annotations")
        if error:
            causes.append(_split(error))
    if annotations and _annotations_too_long(annotations):
        causes.append(
            status.cause(
                "FieldValueTooLong",
                "metadata.annotations",
                f"Too long: may not be more than {ANNOTATIONS_MAX_BYTES} bytes",
            )
        )
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
