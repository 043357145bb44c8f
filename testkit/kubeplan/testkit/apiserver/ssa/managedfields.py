"""``managedFields`` entries: read from an object, written back in the server's order."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import orjson

from kubeplan.testkit.apiserver.ssa.fieldsv1 import _decode, _encode, _Rendering
from kubeplan.testkit.apiserver.ssa.paths import FieldSet


@attrs.frozen
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str | None
    subresource: str | None
    fields: FieldSet
    #: ``fieldsV1`` of ``fields`` when already known (decoded from the live object): an
    #: entry a write leaves alone is not encoded again
    encoded: _Rendering | None = attrs.field(default=None, eq=False, repr=False)

    def with_fields(self, fields: FieldSet) -> _Entry:
        """This entry owning ``fields``, a subset of its own set."""
        if len(fields) == len(self.fields):
            return self
        return _Entry(
            self.manager, self.operation, self.api_version, self.time, self.subresource, fields
        )

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource or "")

    @property
    def sort_ident(self) -> tuple[str, ...]:
        return (self.manager, self.operation, self.api_version, self.subresource or "")

    @property
    def label(self) -> str:
        """apimachinery ``printManager`` text."""
        text = json.dumps(self.manager)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def to_dict(self, shared: bool) -> dict[str, Any]:
        """The managedFields entry; ``shared``: its fieldsV1 is the shared rendering."""
        rendering = self.encoded if self.encoded is not None else _encode(self.fields)
        return _entry_dict(self.manager, self.operation, self.api_version, self.time,
                           rendering[1] if shared else orjson.loads(rendering[0]),
                           self.subresource)


def _entry_dict(manager: str, operation: str, api_version: str, time: str | None,
                fields_v1: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    """A managedFields entry, its keys in the API server's order."""
    out: dict[str, Any] = {"manager": manager, "operation": operation,
                           "apiVersion": api_version}
    if time is not None:
        out["time"] = time
    out["fieldsType"] = "FieldsV1"
    out["fieldsV1"] = fields_v1
    if subresource:
        out["subresource"] = subresource
    return out

def _entries(obj: Mapping[str, Any] | None) -> list[_Entry]:
    if not obj:
        return []
    raw = (obj.get("metadata") or {}).get("managedFields") or []
    out: list[_Entry] = []
    for item in raw:
        if not isinstance(item, Mapping) or (not item.get("manager") and not item.get("operation")):
            continue
        fields, encoded = _decode(item.get("fieldsV1"))
        out.append(
            _Entry(
                manager=str(item.get("manager", "")),
                operation=str(item.get("operation", "Update")),
                api_version=str(item.get("apiVersion", "")),
                time=item.get("time"),
                subresource=item.get("subresource") or None,
                fields=fields,
                encoded=encoded,
            )
        )
    return out


def _sorted_entries(entries: Iterable[_Entry], shared: bool) -> list[dict[str, Any]]:
    """Order like apimachinery's encoder: operation, time, manager, apiVersion."""
    ordered = sorted(
        (e for e in entries if e.fields),
        key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource or ""),
    )
    return [e.to_dict(shared) for e in ordered]


def _with_managed_fields(
    obj: dict[str, Any], entries: Iterable[_Entry], shared: bool
) -> dict[str, Any]:
    return _with_managed(obj, _sorted_entries(entries, shared))


def _with_managed(obj: dict[str, Any], encoded: list[dict[str, Any]]) -> dict[str, Any]:
    """``obj`` with these managedFields entries (none: without managedFields)."""
    metadata = dict(obj.get("metadata") or {})
    if encoded:
        metadata["managedFields"] = encoded
    else:
        metadata.pop("managedFields", None)
    out = dict(obj)
    out["metadata"] = metadata
    return out
