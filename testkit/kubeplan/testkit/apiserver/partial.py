"""Metadata-only answers: ``Accept: application/json;as=PartialObjectMetadata(List);...``.

A client that needs only names, labels and owners (the dynamic client, metadata
informers, the garbage collector) asks the API server for ``PartialObjectMetadata`` (an
object, or each object of a watch) or ``PartialObjectMetadataList`` (a list) in group
``meta.k8s.io``, version ``v1`` or ``v1beta1``. The real server answers with the object's
``metadata`` alone, under that kind. An ``as=`` the answer cannot take (a list asked for
as a single ``PartialObjectMetadata``) is left to the caller: the plain answer, as the fake
gave before it knew these kinds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

__all__ = ["PARTIAL_KINDS", "PartialAsk", "partial_events", "to_partial", "wanted_partial"]

PARTIAL_KINDS = ("PartialObjectMetadata", "PartialObjectMetadataList")
_VERSIONS = ("v1", "v1beta1")

#: (kind asked for, meta.k8s.io version)
PartialAsk = tuple[str, str]


def wanted_partial(accept: str | None) -> PartialAsk | None:
    """The metadata-only kind and version the Accept header asks for first, if any (a
    plain JSON range listed before it wins)."""
    if not accept or "as=" not in accept:
        return None
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        media = parts[0].lower()
        if media not in ("application/json", "*/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if "as" not in params:
            return None
        if params["as"] in PARTIAL_KINDS and params.get("g") == "meta.k8s.io" and \
                params.get("v") in _VERSIONS:
            return params["as"], params["v"]
    return None


def _partial_object(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata") or {}}


def to_partial(body: dict[str, Any], ask: PartialAsk) -> dict[str, Any] | None:
    """``body`` (an object or a list) as the kind asked for; None when it cannot be one
    (a Status, or a list asked for as one object, or the other way round)."""
    kind, version = ask
    if body.get("kind") == "Status":
        return None
    items = body.get("items")
    if isinstance(items, list):
        if kind != "PartialObjectMetadataList":
            return None
        return {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{version}",
                "metadata": body.get("metadata") or {},
                "items": [_partial_object(item, version) for item in items
                          if isinstance(item, dict)]}
    if kind != "PartialObjectMetadata":
        return None
    return _partial_object(body, version)


async def partial_events(events: AsyncIterator[dict[str, Any]],
                         ask: PartialAsk) -> AsyncIterator[dict[str, Any]]:
    """A watch's events with each object as ``PartialObjectMetadata`` (errors and
    bookmarks' objects other than resources pass unchanged)."""
    try:
        async for event in events:
            obj = event.get("object")
            if ask[0] == "PartialObjectMetadata" and isinstance(obj, dict) and \
                    event.get("type") in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK"):
                event = {**event, "object": _partial_object(obj, ask[1])}
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
