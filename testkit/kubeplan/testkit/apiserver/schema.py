"""CRD structural schemas: validation, pruning, defaulting, and CRD sanity checks.

Custom resources are checked against ``spec.versions[].schema.openAPIV3Schema`` the
way apiextensions-apiserver does it: unknown fields are pruned, ``default`` values
filled, then the object is validated and every problem becomes a
``details.causes[]`` entry of a 422 ``Invalid`` Status. Cause types and messages
follow apiextensions' ``kubeOpenAPIResultToFieldErrors`` (kube-openapi errors
mapped onto apimachinery ``field.Error``), e.g.::

    spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"

``Cause.message`` is the error body (everything after ``<field>: ``), as in the
real Status; the store prefixes fields when it aggregates the top-level message.

Patterns run on RE2 as the real server's do (``regex.py``: linear time, Go's errors),
and a CRD whose pattern does not compile is refused.

Not implemented: CEL (``x-kubernetes-validations``), ``format``, ``oneOf``/``anyOf``/
``allOf``/``not``, ``x-kubernetes-list-type`` uniqueness checks, metadata
validation beyond what the schema declares.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kubeplan.testkit.apiserver import regex
from kubeplan.testkit.apiserver.codec import copy_obj
from kubeplan.testkit.apiserver.mergekeys import ListRule
from kubeplan.testkit.apiserver.selectors import is_dns1123_subdomain

__all__ = [
    "Cause",
    "apply_defaults",
    "prune",
    "schema_list_keys",
    "validate",
    "validate_crd",
    "validate_crd_stored_versions",
    "validate_status",
]


@attrs.frozen
class Cause:
    """One ``details.causes[]`` entry of a 422 Invalid Status."""

    type: str
    message: str
    field: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


# --------------------------------------------------------------------------------------
# field.Error rendering


def _render_value(value: Any) -> str:
    """apimachinery's value rendering in ``field.Error.ErrorBody``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _go_number(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_render_value(value)}: {detail}", field)


def _type_invalid(field: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueTypeInvalid", f"Invalid value: {_render_value(value)}: {detail}", field)


def _required(field: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), field)


def _not_supported(field: str, value: Any, supported: list[str]) -> Cause:
    listed = ", ".join(json.dumps(s, ensure_ascii=False) for s in supported)
    return Cause(
        "FieldValueNotSupported",
        f"Unsupported value: {_render_value(value)}: supported values: {listed}",
        field,
    )


def _too_long(field: str, max_length: int) -> Cause:
    unit = "byte" if max_length == 1 else "bytes"
    return Cause("FieldValueTooLong", f"Too long: may not be more than {max_length} {unit}", field)


def _too_many(field: str, actual: int, maximum: int, what: str) -> Cause:
    return Cause(
        "FieldValueTooMany", f"Too many: {actual}: must have at most {maximum} {what}", field
    )


def _duplicate(field: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {_render_value(value)}", field)


# --------------------------------------------------------------------------------------
# Validation


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, wanted: str) -> bool:
    actual = _json_type(value)
    if wanted == "number":
        return actual in ("number", "integer")
    return actual == wanted


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def validate(obj: Any, schema: Mapping[str, Any], path: str = "") -> list[Cause]:
    """Validate ``obj`` against an openAPIV3Schema node; [] when valid.

    At the root (``path == ""``) ``apiVersion``, ``kind`` and ``metadata`` are
    skipped unless the schema declares them, like the CR validator does.
    """
    causes: list[Cause] = []
    _validate(obj, schema, path, causes, root=path == "")
    return causes


def validate_status(obj: Any, schema: Mapping[str, Any]) -> list[Cause]:
    """Validate a status write: only ``status``, against its own schema, as the real
    status validator does (fields under ``status``, messages naming the field from
    there: ``selector in body ...``)."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    status_schema = properties.get("status") if isinstance(properties, Mapping) else None
    if not isinstance(obj, Mapping) or not isinstance(status_schema, Mapping):
        return []
    if "status" not in obj:
        return []
    causes: list[Cause] = []
    _validate(obj["status"], status_schema, "", causes)
    return [attrs.evolve(c, field="status" + (f".{c.field}" if c.field else ""))
            for c in causes]


def _validate(
    value: Any, schema: Mapping[str, Any], path: str, out: list[Cause], *, root: bool = False
) -> None:
    if not isinstance(schema, Mapping):
        return
    name = path or "."
    if value is None:
        if schema.get("nullable") or _is_untyped(schema):
            return
        wanted = schema.get("type")
        if wanted:
            out.append(
                _type_invalid(path, "null", f'{name} in body must be of type {wanted}: "null"')
            )
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, str) and _json_type(value) != "integer":
            actual = _json_type(value)
            out.append(
                _type_invalid(
                    path, actual, f'{name} in body must be of type integer,string: "{actual}"'
                )
            )
            return
    else:
        wanted = schema.get("type")
        if wanted and not _type_ok(value, wanted):
            actual = _json_type(value)
            out.append(
                _type_invalid(path, actual, f'{name} in body must be of type {wanted}: "{actual}"')
            )
            return

    enum = schema.get("enum")
    if isinstance(enum, list) and not any(_json_equal(value, e) for e in enum):
        supported = [
            e if isinstance(e, str) else json.dumps(e, separators=(",", ":")) for e in enum
        ]
        out.append(_not_supported(path, value, supported))

    if isinstance(value, str):
        _validate_string(value, schema, path, name, out)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _validate_number(value, schema, path, name, out)
    elif isinstance(value, list):
        _validate_array(value, schema, path, name, out)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, name, out, root=root)


def _is_untyped(schema: Mapping[str, Any]) -> bool:
    return not schema.get("type") and bool(
        schema.get("x-kubernetes-preserve-unknown-fields")
        or schema.get("x-kubernetes-int-or-string")
    )


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _validate_string(
    value: str, schema: Mapping[str, Any], path: str, name: str, out: list[Cause]
) -> None:
    length = len(value)
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and length > max_length:
        out.append(_too_long(path, max_length))
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and length < min_length:
        out.append(
            _invalid(path, value, f"{name} in body should be at least {min_length} chars long")
        )
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        # RE2, as the real server (linear time: a pattern cannot stall the event loop).
        # A pattern RE2 refuses never gets here: the CRD write refused it.
        compiled = regex.compile_pattern(pattern)
        if compiled is not None and not regex.search(compiled, value):
            out.append(_invalid(path, value, f"{name} in body should match '{pattern}'"))


def _validate_number(
    value: float, schema: Mapping[str, Any], path: str, name: str, out: list[Cause]
) -> None:
    maximum = schema.get("maximum")
    if isinstance(maximum, int | float):
        if schema.get("exclusiveMaximum") and value >= maximum:
            out.append(
                _invalid(path, value, f"{name} in body should be less than {_go_number(maximum)}")
            )
        elif value > maximum:
            out.append(
                _invalid(
                    path,
                    value,
                    f"{name} in body should be less than or equal to {_go_number(maximum)}",
                )
            )
    minimum = schema.get("minimum")
    if isinstance(minimum, int | float):
        if schema.get("exclusiveMinimum") and value <= minimum:
            out.append(
                _invalid(
                    path, value, f"{name} in body should be greater than {_go_number(minimum)}"
                )
            )
        elif value < minimum:
            out.append(
                _invalid(
                    path,
                    value,
                    f"{name} in body should be greater than or equal to {_go_number(minimum)}",
                )
            )
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        ratio = value / multiple
        if not math.isclose(ratio, round(ratio), abs_tol=1e-9):
            out.append(
                _invalid(
                    path, value, f"{name} in body should be a multiple of {_go_number(multiple)}"
                )
            )


def _validate_array(
    value: list[Any], schema: Mapping[str, Any], path: str, name: str, out: list[Cause]
) -> None:
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        out.append(_too_many(path, len(value), max_items, "items"))
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        out.append(_invalid(path, value, f"{name} in body should have at least {min_items} items"))
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for item in value:
            if any(_json_equal(item, s) for s in seen):
                out.append(_invalid(path, value, f"{name} in body shouldn't contain duplicates"))
                break
            seen.append(item)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _validate(item, items, _index(path, i), out)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        for i, item in enumerate(value):
            if any(_json_equal(item, prev) for prev in value[:i]):
                out.append(_duplicate(_index(path, i), item))
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            key = tuple(item.get(k) for k in keys)
            if key in seen_keys:
                shown = {k: item.get(k) for k in keys}
                out.append(_duplicate(_index(path, i), shown))
            seen_keys.append(key)


_ROOT_SKIP = ("apiVersion", "kind", "metadata")


def _validate_object(
    value: dict[str, Any],
    schema: Mapping[str, Any],
    path: str,
    name: str,
    out: list[Cause],
    *,
    root: bool,
) -> None:
    properties = schema.get("properties") or {}
    for required in schema.get("required") or []:
        if required not in value:
            out.append(_required(_child(path, required)))
    max_props = schema.get("maxProperties")
    if isinstance(max_props, int) and len(value) > max_props:
        out.append(_too_many(path, len(value), max_props, "properties"))
    min_props = schema.get("minProperties")
    if isinstance(min_props, int) and len(value) < min_props:
        out.append(
            _invalid(path, value, f"{name} in body should have at least {min_props} properties")
        )
    additional = schema.get("additionalProperties")
    if schema.get("x-kubernetes-embedded-resource"):
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                out.append(_required(_child(path, key), "must not be empty"))
    for key, child in value.items():
        if root and key in _ROOT_SKIP and key not in properties:
            continue
        if key in properties:
            _validate(child, properties[key], _child(path, key), out)
        elif isinstance(additional, Mapping):
            _validate(child, additional, _child(path, key), out)


# --------------------------------------------------------------------------------------
# Pruning and defaulting


def prune(obj: Any, schema: Mapping[str, Any]) -> Any:
    """Drop fields the schema does not know (a new value; input untouched).

    The root keeps ``apiVersion``, ``kind`` and ``metadata`` (metadata is pruned
    by the ObjectMeta codec, not by the schema); so do embedded resources.
    """
    return _prune(obj, schema, root=True)


def _prune(value: Any, schema: Mapping[str, Any] | None, *, root: bool = False) -> Any:
    if schema is None or not isinstance(schema, Mapping):
        return copy_obj(value)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        keep_meta = root or bool(schema.get("x-kubernetes-embedded-resource"))
        out: dict[str, Any] = {}
        for key, child in value.items():
            if key in properties:
                out[key] = _prune(child, properties[key])
            elif keep_meta and key in _ROOT_SKIP:
                out[key] = copy_obj(child)
            elif isinstance(additional, Mapping):
                out[key] = _prune(child, additional)
            elif additional is True or preserve:
                out[key] = copy_obj(child)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [_prune(v, items) for v in value]
        return copy_obj(value)
    return value


def apply_defaults(obj: Any, schema: Mapping[str, Any]) -> Any:
    """Fill ``default`` values for missing (or non-nullable null) properties, deeply."""
    out = copy_obj(obj)
    _default(out, schema)
    return out


def _default(value: Any, schema: Mapping[str, Any] | None) -> None:
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, prop in properties.items():
            if not isinstance(prop, Mapping) or "default" not in prop:
                continue
            missing = key not in value
            null_not_allowed = key in value and value[key] is None and not prop.get("nullable")
            if missing or null_not_allowed:
                value[key] = copy_obj(prop["default"])
        additional = schema.get("additionalProperties")
        for key, child in value.items():
            if key in properties:
                _default(child, properties[key])
            elif isinstance(additional, Mapping):
                _default(child, additional)
    elif isinstance(value, list):
        items = schema.get("items")
        for child in value:
            _default(child, items)


def schema_list_keys(schema: Mapping[str, Any]) -> Callable[[tuple[str, ...]], ListRule | None]:
    """A ``list_keys`` callable for SSA from a CRD schema's list-type markers.

    ``x-kubernetes-list-type: map`` -> keyed by ``x-kubernetes-list-map-keys``;
    ``set`` -> set; anything else (and unknown paths) -> atomic (None). An object with
    ``x-kubernetes-map-type: atomic`` is an atomic struct or map; a list key's
    ``default`` keys an item that lacks it.
    """

    def keys(path: tuple[str, ...]) -> ListRule | None:
        node: Any = schema
        for name in path:
            node = _descend(node, name)
            if node is None:
                return None
        if isinstance(node, Mapping) and node.get("type") == "array":
            list_type = node.get("x-kubernetes-list-type")
            if list_type == "map":
                map_keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
                return ListRule("map", map_keys, merge_key=map_keys[0] if map_keys else None,
                                key_defaults=_key_defaults(node, map_keys))
            if list_type == "set":
                return ListRule("set")
        if (isinstance(node, Mapping) and node.get("type") == "object"
                and node.get("x-kubernetes-map-type") == "atomic"):
            return _ATOMIC_MAP  # owned, merged and compared whole
        return None

    return keys


_ATOMIC_MAP = ListRule("atomic")


def _key_defaults(node: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """The schema defaults of a keyed list's keys (an item lacking one is keyed by it)."""
    items = node.get("items")
    properties = items.get("properties") if isinstance(items, Mapping) else None
    if not isinstance(properties, Mapping):
        return ()
    out: list[tuple[str, Any]] = []
    for key in keys:
        prop = properties.get(key)
        if isinstance(prop, Mapping) and "default" in prop:
            out.append((key, prop["default"]))
    return tuple(out)


def _descend(node: Any, name: str) -> Any:
    """Step into field ``name``, passing through array ``items`` on the way."""
    while isinstance(node, Mapping) and node.get("type") == "array":
        node = node.get("items")
    if not isinstance(node, Mapping):
        return None
    properties = node.get("properties") or {}
    if name in properties:
        return properties[name]
    additional = node.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


# --------------------------------------------------------------------------------------
# CRD checks

_DNS1035_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    """The CRD checks of apiextensions' ``ValidateCustomResourceDefinition`` that matter.

    Names (``metadata.name == <plural>.<group>``), group, scope, versions (at least
    one, unique names, exactly one storage version) and a root ``type: object``
    schema for every version.
    """
    out: list[Cause] = []
    metadata = crd.get("metadata") or {}
    spec = crd.get("spec") or {}
    group = spec.get("group") or ""
    names = spec.get("names") or {}
    plural = names.get("plural") or ""

    name = metadata.get("name") or ""
    if name != f"{plural}.{group}":
        out.append(_invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))

    if not group:
        out.append(_required("spec.group"))
    else:
        for err in is_dns1123_subdomain(group):
            out.append(_invalid("spec.group", group, err))
        if "." not in group:
            out.append(_invalid("spec.group", group, "should be a domain with at least one dot"))

    scope = spec.get("scope")
    if not scope:
        out.append(_required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))

    out.extend(_validate_names(names))
    out.extend(_validate_versions(spec.get("versions")))
    out.extend(_validate_conversion(spec.get("conversion")))
    return out


def validate_crd_stored_versions(crd: Mapping[str, Any]) -> list[Cause]:
    """``ValidateCustomResourceDefinitionStoredVersions`` of a CRD as it would be
    stored: at least one stored version, the storage version among them, and none
    that left ``spec.versions``."""
    where = "status.storedVersions"
    spec = crd.get("spec")
    versions = spec.get("versions") if isinstance(spec, Mapping) else None
    status = crd.get("status")
    stored = status.get("storedVersions") if isinstance(status, Mapping) else None
    stored = [str(v) for v in stored] if isinstance(stored, list) else []
    if not stored:
        return [_invalid(where, None, "must have at least one stored version")]
    out: list[Cause] = []
    left = {name: i for i, name in enumerate(stored)}
    for version in versions if isinstance(versions, list) else ():
        if not isinstance(version, Mapping):
            continue
        name = str(version.get("name") or "")
        if version.get("storage") is True and name not in left:
            out.append(_invalid(where, stored, f"must have the storage version {name}"))
        left.pop(name, None)
    for name, i in left.items():
        out.append(_invalid(
            f"{where}[{i}]", name,
            f"missing from spec.versions; {name} was previously a storage version, and must "
            f"remain in spec.versions until a storage migration ensures no data remains "
            f"persisted in {name} and removes {name} from status.storedVersions"))
    return out


def _validate_conversion(conversion: Any) -> list[Cause]:
    """``validateCustomResourceConversion``: the strategy, and a Webhook's client config
    and review versions (field paths are the internal type's, as the real server's)."""
    if not isinstance(conversion, Mapping):
        return []
    out: list[Cause] = []
    path = "spec.conversion"
    strategy = conversion.get("strategy")
    if strategy not in ("None", "Webhook"):
        out.append(_not_supported(f"{path}.strategy", strategy or "", ["None", "Webhook"]))
    webhook = conversion.get("webhook")
    webhook = webhook if isinstance(webhook, Mapping) else {}
    client = webhook.get("clientConfig")
    versions = webhook.get("conversionReviewVersions")
    if strategy != "Webhook":
        if client is not None:
            out.append(Cause("FieldValueForbidden", "Forbidden: should not be set when strategy "
                             "is not set to Webhook", f"{path}.webhookClientConfig"))
        if versions:
            out.append(Cause("FieldValueForbidden", "Forbidden: should not be set when strategy "
                             "is not set to Webhook", f"{path}.conversionReviewVersions"))
        return out
    where = f"{path}.webhookClientConfig"
    if not isinstance(client, Mapping):
        out.append(_required(where, "required when strategy is set to Webhook"))
    elif (client.get("url") is None) == (client.get("service") is None):
        out.append(_required(where, "exactly one of url or service is required"))
    elif client.get("url") is not None:
        out.extend(_webhook_url_causes(f"{where}.url", str(client["url"])))
    else:
        service = client["service"] if isinstance(client["service"], Mapping) else {}
        # upstream passes the service's name and namespace to ValidateWebhookService in
        # each other's place: an empty name is reported as the namespace, and the reverse
        for key, reported in (("name", "namespace"), ("namespace", "name")):
            if not service.get(key):
                out.append(_required(f"{where}.service.{reported}"))
        spath = service.get("path")
        if spath is not None and not str(spath).startswith("/"):
            out.append(_invalid(f"{where}.service.path", spath, "must start with a '/'"))
    if not isinstance(versions, list) or not versions:
        out.append(_required(f"{path}.conversionReviewVersions"))
    elif not {"v1", "v1beta1"} & set(versions):
        out.append(_invalid(f"{path}.conversionReviewVersions", versions,
                            "must include at least one of v1, v1beta1"))
    return out


def _webhook_url_causes(where: str, url: str) -> list[Cause]:
    form = "; desired format: https://host[/path]"
    parts = urllib.parse.urlsplit(url)
    out: list[Cause] = []
    if parts.scheme != "https":
        out.append(_invalid(where, parts.scheme, "'https' is the only allowed URL scheme" + form))
    if not parts.hostname:
        out.append(_invalid(where, parts.netloc.rpartition("@")[2],
                            "host must be specified" + form))
    if "@" in parts.netloc:
        out.append(_invalid(where, parts.netloc.rpartition("@")[0],
                            "user information is not permitted in the URL"))
    if parts.fragment:
        out.append(_invalid(where, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        out.append(_invalid(where, parts.query, "query parameters are not permitted in the URL"))
    return out


def _validate_names(names: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for key in ("plural", "singular"):
        value = names.get(key) or ""
        if not value:
            if key == "plural":
                out.append(_required("spec.names.plural"))
            continue
        if not _DNS1123_LABEL_RE.match(value):
            out.append(_invalid(f"spec.names.{key}", value, _DNS1123_LABEL_MSG))
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        if not value:
            if key == "kind":
                out.append(_required("spec.names.kind"))
            continue
        if not _DNS1035_RE.match(value.lower()):
            out.append(
                _invalid(
                    f"spec.names.{key}",
                    value,
                    "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
                )
            )
    if names.get("kind") and names.get("listKind") and names["kind"] == names["listKind"]:
        out.append(
            _invalid(
                "spec.names.listKind", names["listKind"], "kind and listKind cannot be the same"
            )
        )
    for i, short in enumerate(names.get("shortNames") or []):
        if not _DNS1123_LABEL_RE.match(str(short)):
            out.append(_invalid(f"spec.names.shortNames[{i}]", short, _DNS1123_LABEL_MSG))
    return out


def _validate_versions(versions: Any) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(versions, list):
        versions = []
    storage = sum(1 for v in versions if isinstance(v, Mapping) and v.get("storage") is True)
    if storage != 1:  # none at all is the same refusal
        out.append(
            _invalid(
                "spec.versions",
                [v.get("name") for v in versions if isinstance(v, Mapping)],
                "must have exactly one version marked as storage version",
            )
        )
    if not versions:
        return out
    seen: set[str] = set()
    for i, version in enumerate(versions):
        base = f"spec.versions[{i}]"
        if not isinstance(version, Mapping):
            out.append(_type_invalid(base, _json_type(version), "must be an object"))
            continue
        vname = version.get("name") or ""
        if not vname:
            out.append(_required(f"{base}.name"))
        else:
            if not _DNS1035_RE.match(vname):
                out.append(_invalid(f"{base}.name", vname, _DNS1035_MSG))
            if vname in seen:
                out.append(_duplicate(f"{base}.name", vname))
            seen.add(vname)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        spath = f"{base}.schema.openAPIV3Schema"
        if schema is None:
            out.append(_required(spath, "schemas are required"))
            continue
        if not isinstance(schema, Mapping):
            out.append(_type_invalid(spath, _json_type(schema), "must be an object"))
            continue
        root_type = schema.get("type")
        if not root_type:
            out.append(_required(f"{spath}.type", "must not be empty at the root"))
        elif root_type != "object":
            out.append(_invalid(f"{spath}.type", root_type, "must be object at the root"))
    out.extend(_validate_patterns(versions))
    return out


def _validate_patterns(versions: list[Any]) -> list[Cause]:
    """Every schema ``pattern`` must compile as Go's ``regexp`` (RE2) compiles it.

    The real server names the field under ``spec.validation`` when every version has
    the same schema (its internal form keeps one schema then), else under the version.
    """
    schemas = [
        (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v, Mapping) else None
        for v in versions
    ]
    out: list[Cause] = []
    if all(s == schemas[0] for s in schemas[1:]):
        _check_patterns(schemas[0], "spec.validation.openAPIV3Schema", out)
        return out
    for i, node in enumerate(schemas):
        _check_patterns(node, f"spec.versions[{i}].schema.openAPIV3Schema", out)
    return out


def _check_patterns(node: Any, path: str, out: list[Cause]) -> None:
    if not isinstance(node, Mapping):
        return
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        error = regex.pattern_error(pattern)
        if error is not None:
            out.append(
                _invalid(
                    f"{path}.pattern",
                    pattern,
                    f"must be a valid regular expression, but isn't: {error}",
                )
            )
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        for key in sorted(properties):
            _check_patterns(properties[key], f"{path}.properties[{key}]", out)
    for key in ("items", "additionalProperties", "not"):
        _check_patterns(node.get(key), f"{path}.{key}", out)
    for key in ("allOf", "anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                _check_patterns(branch, f"{path}.{key}[{i}]", out)
