"""Server-side printing: ``meta.k8s.io`` ``Table`` answers for ``kubectl get``.

kubectl asks for lists (and watches) with ``Accept: application/json;as=Table;...`` and
prints the server's columns: a custom resource's ``additionalPrinterColumns``, a
ConfigMap's DATA, a Deployment's READY. Without Tables kubectl still works (it falls
back to NAME/AGE), so this module is a fidelity nicety, and any failure here makes the
HTTP face answer the plain object instead.

Columns: ``additionalPrinterColumns`` for custom resources (evaluated with the small
JSONPath subset CRDs use: ``.a.b``, ``[n]``, ``[*]``, ``[?(@.k=="v")]``), a handful of
built-ins printed like the real server, and NAME/AGE for everything else. Ages use the
fake's clock, so they agree with ``creationTimestamp`` under a virtual clock too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from kubeplan.testkit.apiserver.clock import parse_time

TABLE_VERSIONS = ("v1", "v1beta1")

Cell = Callable[[dict[str, Any], datetime], Any]


def wanted_table_version(accept: str | None) -> str | None:
    """The ``meta.k8s.io`` Table version the Accept header asks for first, if any."""
    if not accept or "as=Table" not in accept:
        return None
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if parts[0] == "application/json" and params.get("as") == "Table":
            if params.get("g") == "meta.k8s.io" and params.get("v") in TABLE_VERSIONS:
                return params["v"]
            continue
        if parts[0] in ("application/json", "*/*"):
            return None
    return None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration, as kubectl's AGE column shows it."""
    if seconds < -1:
        return "<invalid>"
    s = max(int(seconds), 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


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
            raise ValueError(f"unsupported JSONPath {path!r}")
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


@attrs.frozen
class Column:
    name: str
    type: str
    cell: Cell
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


def _age(obj: dict[str, Any], now: datetime) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    return human_duration((now - parse_time(stamp)).total_seconds())


NAME = Column("Name", "string", lambda o, _: (o.get("metadata") or {}).get("name", ""),
              format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", "string", _age, description="CreationTimestamp is a timestamp "
             "representing the server time when this object was created.")


def _get(obj: dict[str, Any], *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return default
        obj = obj.get(key)  # type: ignore[assignment]
    return default if obj is None else obj


def _count(*fields: str) -> Cell:
    return lambda o, _: sum(len(o.get(f) or {}) for f in fields)


def _pod_ready(o: dict[str, Any], _: datetime) -> str:
    statuses = _get(o, "status", "containerStatuses", default=[])
    total = len(_get(o, "spec", "containers", default=[]))
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_restarts(o: dict[str, Any], _: datetime) -> int:
    return sum(int(s.get("restartCount", 0)) for s in _get(o, "status", "containerStatuses",
                                                            default=[]))


def _replicas_ready(o: dict[str, Any], _: datetime) -> str:
    ready = _get(o, "status", "readyReplicas", default=0)
    return f"{ready}/{_get(o, 'spec', 'replicas', default=1)}"


def _status_field(*path: str, default: Any = 0) -> Cell:
    return lambda o, _: _get(o, "status", *path, default=default)


_BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "ConfigMap"): [NAME, Column("Data", "integer", _count("data", "binaryData")), AGE],
    ("", "Secret"): [NAME, Column("Type", "string", lambda o, _: o.get("type", "Opaque")),
                     Column("Data", "integer", _count("data")), AGE],
    ("", "Namespace"): [NAME, Column("Status", "string", _status_field("phase", default="")),
                        AGE],
    ("", "Pod"): [NAME, Column("Ready", "string", _pod_ready),
                  Column("Status", "string", _status_field("phase", default="Pending")),
                  Column("Restarts", "string", _pod_restarts), AGE],
    ("apps", "Deployment"): [
        NAME, Column("Ready", "string", _replicas_ready),
        Column("Up-to-date", "integer", _status_field("updatedReplicas")),
        Column("Available", "integer", _status_field("availableReplicas")), AGE],
    ("apps", "StatefulSet"): [NAME, Column("Ready", "string", _replicas_ready), AGE],
    ("apps", "ReplicaSet"): [
        NAME, Column("Desired", "integer", lambda o, _: _get(o, "spec", "replicas", default=1)),
        Column("Current", "integer", _status_field("replicas")),
        Column("Ready", "integer", _status_field("readyReplicas")), AGE],
    ("apiextensions.k8s.io", "CustomResourceDefinition"): [
        NAME, Column("Created At", "date",
                     lambda o, _: _get(o, "metadata", "creationTimestamp", default=""))],
}


def _printer_cell(path: str, column_type: str) -> Cell:
    def cell(obj: dict[str, Any], now: datetime) -> Any:
        values = jsonpath(obj, path)
        if not values:
            return None
        value = values[0] if len(values) == 1 else ",".join(str(v) for v in values)
        if column_type == "date" and isinstance(value, str):
            try:
                return human_duration((now - parse_time(value)).total_seconds())
            except ValueError:
                return value
        return value

    return cell


def columns_for(info: Any, crd: dict[str, Any] | None) -> list[Column]:
    """The columns the real server prints for a resource (NAME/AGE when unknown)."""
    if crd is not None:
        version: dict[str, Any] = next((v for v in _get(crd, "spec", "versions", default=[])
                                        if v.get("name") == info.version), {})
        printer = version.get("additionalPrinterColumns")
        if printer is None:  # the pre-v1 CRD-level field
            printer = _get(crd, "spec", "additionalPrinterColumns")
        if printer:
            extra = [Column(c.get("name", ""), c.get("type", "string"),
                            _printer_cell(c.get("jsonPath", ""), c.get("type", "string")),
                            format=c.get("format", ""), description=c.get("description", ""),
                            priority=int(c.get("priority", 0)))
                     for c in printer]
            has_age = any(c.get("jsonPath") == ".metadata.creationTimestamp" for c in printer)
            return [NAME, *extra] if has_age else [NAME, *extra, AGE]
        return [NAME, AGE]
    return list(_BUILTIN_COLUMNS.get((info.group, info.kind), [NAME, AGE]))


def _row_object(obj: dict[str, Any], include: str, version: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


def to_table(body: dict[str, Any], columns: Sequence[Column], *, version: str,
             now: datetime, include_object: str = "Metadata",
             with_columns: bool = True) -> dict[str, Any]:
    """One object or a ``...List`` as a ``Table``."""
    is_list = "items" in body and isinstance(body.get("items"), list)
    items = body["items"] if is_list else [body]
    meta = body.get("metadata") or {}
    table_meta = {k: meta[k] for k in ("resourceVersion", "continue", "remainingItemCount")
                  if k in meta and is_list}
    if not is_list and "resourceVersion" in meta:
        table_meta["resourceVersion"] = meta["resourceVersion"]
    rows = []
    for item in items:
        row: dict[str, Any] = {"cells": [column.cell(item, now) for column in columns]}
        row_object = _row_object(item, include_object, version)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": table_meta,
        "columnDefinitions": [c.definition() for c in columns] if with_columns else [],
        "rows": rows,
    }
