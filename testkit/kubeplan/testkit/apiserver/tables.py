"""Server-side printing: ``meta.k8s.io`` ``Table`` answers for ``kubectl get``.

kubectl asks for lists (and watches) with ``Accept: application/json;as=Table;...`` and
prints the server's columns: a custom resource's ``additionalPrinterColumns``, a
ConfigMap's DATA, a Deployment's READY. Without Tables kubectl still works (it falls
back to NAME/AGE), so any failure to print makes the HTTP face answer the plain object.

Columns: ``additionalPrinterColumns`` for custom resources (evaluated with the small
JSONPath subset CRDs use: ``.a.b``, ``[n]``, ``[*]``, ``[?(@.k=="v")]``; an Age column
when a version has none), the real server's printers for built-ins (``printers.py``), and
the default convertor's Name/Created At for the rest. Ages use the fake's clock, so they
agree with ``creationTimestamp`` under a virtual clock too.

Negotiation follows the real server: the answer's media type is plain
``application/json``, a watch sends the column definitions in its first Table only, and an
Accept header whose every media range asks for an ``as=`` the server cannot produce is
refused with 406.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver import printers
from kubeplan.testkit.apiserver.clock import parse_time
from kubeplan.testkit.apiserver.printers import Column, human_duration

__all__ = ["NOT_ACCEPTABLE", "TABLE_VERSIONS", "Column", "columns_for", "human_duration",
           "jsonpath", "refuses_accept", "to_table", "wanted_table_version"]

TABLE_VERSIONS = ("v1", "v1beta1")

#: the real server's 406 message for an Accept header it cannot answer
NOT_ACCEPTABLE = ("only the following media types are accepted: application/json, "
                  "application/yaml, application/vnd.kubernetes.protobuf")
#: ``as=`` conversions the real server makes and the fake answers with the plain object
_PLAIN_FALLBACK_AS = ("PartialObjectMetadata", "PartialObjectMetadataList")


def _media_ranges(accept: str) -> Iterator[tuple[str, dict[str, str]]]:
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        if parts[0]:
            yield parts[0].lower(), dict(p.split("=", 1) for p in parts[1:] if "=" in p)


def _table_range(media: str, params: dict[str, str]) -> str | None:
    if media in ("application/json", "*/*") and params.get("as") == "Table" and \
            params.get("g") == "meta.k8s.io" and params.get("v") in TABLE_VERSIONS:
        return params["v"]
    return None


def wanted_table_version(accept: str | None) -> str | None:
    """The ``meta.k8s.io`` Table version the Accept header asks for first, if any."""
    if not accept or "as=" not in accept:
        return None
    for media, params in _media_ranges(accept):
        version = _table_range(media, params)
        if version is not None:
            return version
        if "as" not in params and media in ("application/json", "*/*"):
            return None
    return None


def refuses_accept(accept: str | None) -> bool:
    """Whether the real server answers 406: every media range asks for an ``as=`` it cannot
    convert to (an unknown kind, a Table without a version we print)."""
    if not accept or "as=" not in accept:
        return False
    ranges = list(_media_ranges(accept))
    return bool(ranges) and all(
        "as" in params and _table_range(media, params) is None
        and params["as"] not in _PLAIN_FALLBACK_AS and media != "application/yaml"
        for media, params in ranges)


# ---------------------------------------------------------------------------
# JSONPath, the subset printer columns use

_TOKEN = re.compile(
    r"\.([^.\[\]]+)"  # .field
    r"|\[(\d+|\*)\]"  # [0] or [*]
    r"|\[\?\(@\.([\w.-]+)\s*==\s*['\"]?([^'\")]*)['\"]?\)\]"  # [?(@.key=="value")]
)


def _tokens(path: str) -> list[tuple[str, str | None]]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    tokens: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise InvalidArgument(f"unsupported JSONPath {path!r}")
        field, index, key, value = match.groups()
        if field is not None:
            tokens.append(("field", field))
        elif index is not None:
            tokens.append(("index", index))
        else:
            tokens.append(("filter", f"{key}={value}"))
        pos = match.end()
    return tokens


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` selects in ``obj`` (empty when nothing matches)."""
    values = [obj]
    for kind, arg in _tokens(path):
        found: list[Any] = []
        for value in values:
            found.extend(_step(value, kind, arg or ""))
        values = found
    return values


def _step(value: Any, kind: str, arg: str) -> Iterator[Any]:
    if kind == "field":
        if isinstance(value, dict) and arg in value:
            yield value[arg]
    elif kind == "index":
        if isinstance(value, list):
            if arg == "*":
                yield from value
            elif int(arg) < len(value):
                yield value[int(arg)]
        elif isinstance(value, dict) and arg == "*":
            yield from value.values()
    else:
        key, _, wanted = arg.partition("=")
        for item in value if isinstance(value, list) else ():
            found = jsonpath(item, "." + key)
            if found and str(found[0]).lower() == wanted.lower():
                yield item


# ---------------------------------------------------------------------------
# columns


def _go_text(value: Any) -> str:
    """A JSON value as Go's fmt prints it (client-go jsonpath's text output)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, dict | list):  # objects and arrays print as compact JSON
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return "<nil>" if value is None else str(value)


def _typed_cell(column_type: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue: the value when it has the column's type, else null."""
    if value is None:
        return None
    if column_type == "string":
        return _go_text(value)
    if column_type == "integer" and isinstance(value, int | float) and \
            not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, int | float) and \
            not isinstance(value, bool):
        return value  # a float64 in Go, written without a fraction when it has none
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        try:
            return human_duration((now - parse_time(value)).total_seconds())
        except ValueError:
            return "<invalid>"
    return None


def _printer_cell(path: str, column_type: str) -> printers.Cell:
    def cell(obj: dict[str, Any], now: datetime) -> Any:
        values = jsonpath(obj, path)  # a path that selects several values prints null
        return _typed_cell(column_type, values[0], now) if len(values) == 1 else None

    return cell


_CR_DOC = "Custom resource definition column (in JSONPath format): "


def columns_for(info: Any, crd: dict[str, Any] | None) -> list[Column]:
    """The columns the real server prints for a resource: a custom resource's printer
    columns (an Age column when it has none), a built-in printer's, or the default
    convertor's Name/Created At."""
    if crd is None:
        return printers.builtin_columns(info.group, info.kind)
    version: dict[str, Any] = next((v for v in printers.get(crd, "spec", "versions", default=[])
                                    if v.get("name") == info.version), {})
    printer = version.get("additionalPrinterColumns") or [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
         "description": printers.AGE.description}]
    return [printers.NAME, *(
        Column(c.get("name", ""), c.get("type", "string"),
               _printer_cell(c.get("jsonPath", ""), c.get("type", "string")),
               format=c.get("format", ""),
               description=c.get("description") or _CR_DOC + c.get("jsonPath", ""),
               priority=int(c.get("priority", 0)))
        for c in printer)]


#: annotations of a v1 object that its internal form (what the real server prints, and
#: whose metadata a row carries) does not have
_V1_ONLY_ANNOTATIONS = {("apps", "DaemonSet"): "deprecated.daemonset.template.generation"}


def _row_object(obj: dict[str, Any], include: str, version: str,
                kind: tuple[str, str]) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    metadata = obj.get("metadata") or {}
    v1_only = _V1_ONLY_ANNOTATIONS.get(kind)
    if v1_only is not None and v1_only in (metadata.get("annotations") or {}):
        annotations = {k: v for k, v in metadata["annotations"].items() if k != v1_only}
        metadata = {**metadata, "annotations": annotations}
        if not annotations:
            del metadata["annotations"]
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": metadata}


def to_table(body: dict[str, Any], columns: Sequence[Column], *, version: str,
             now: datetime, include_object: str = "Metadata",
             with_columns: bool = True, kind: tuple[str, str] = ("", "")) -> dict[str, Any]:
    """One object or a ``...List`` as a ``Table``; ``kind`` is the (group, kind) printed.
    Without columns (a watch's later events) ``columnDefinitions`` is null, as upstream."""
    is_list = "items" in body and isinstance(body.get("items"), list)
    items = body["items"] if is_list else [body]
    meta = body.get("metadata") or {}
    # a Table's ListMeta is typed: an empty continue (a custom resource list's) is omitted
    table_meta = {k: meta[k] for k in ("resourceVersion", "continue", "remainingItemCount")
                  if is_list and meta.get(k) not in (None, "")}
    # items of a built-in list carry no type: the printers read the version (an
    # events.k8s.io Event prints as the core Event it converts to), and a full row
    # object is converted to the version, which names it
    item_type = ({"apiVersion": body.get("apiVersion"),
                  "kind": str(body.get("kind") or "").removesuffix("List")}
                 if is_list else None)
    if not is_list and "resourceVersion" in meta:
        table_meta["resourceVersion"] = meta["resourceVersion"]
    rows = []
    for item in items:
        if item_type is not None and "kind" not in item:
            item = {**item_type, **item}
        row: dict[str, Any] = {"cells": [column.cell(item, now) for column in columns]}
        conditions = printers.row_conditions(*kind, item)
        if conditions:
            row["conditions"] = conditions
        row_object = _row_object(item, include_object, version, kind)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": table_meta,
        "columnDefinitions": [c.definition() for c in columns] if with_columns else None,
        "rows": rows,
    }
