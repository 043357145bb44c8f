"""Projections shared by areas: what of an answer is compared."""

from __future__ import annotations

from typing import Any

from diff_engine import Answer, keyed


def refusal(answer: Answer) -> Answer:
    """What a client acts on in a refusal: code, reason, details and causes' fields."""
    body = answer.get("body")
    kept = {k: answer[k] for k in ("code", "contentType", "warnings") if k in answer}
    if not isinstance(body, dict) or body.get("kind") != "Status":
        return {**kept, "body": "<not a Status>" if answer["code"] >= 400 else "<accepted>"}
    details = body.get("details") or {}
    causes = sorted(({"field": c.get("field", "<missing>"),
                      "reason": c.get("reason", "<missing>")}
                     for c in details.get("causes") or ()),
                    key=lambda c: (c["field"], c["reason"]))
    return {**kept, "body": {
        "status": body.get("status"), "reason": body.get("reason"), "code": body.get("code"),
        "details": {k: details.get(k, "<missing>") for k in ("name", "group", "kind")},
        "causes": causes}}


#: cells that hold a time or an address the server chose
MASKED = {"Age": "<age>", "Cluster-IP": "<cluster-ip>", "Last Schedule": "<age>",
          "Last Seen": "<age>", "Duration": "<age>"}


def table(answer: Answer) -> Answer:
    """Columns (name, type, format, priority) and cells, masked where they hold an age or
    an address; the row objects as normalised."""
    body = answer.get("body")
    if not isinstance(body, dict) or body.get("kind") != "Table":
        return answer
    columns = body.get("columnDefinitions") or []
    names = [c.get("name") for c in columns]
    rows = []
    for row in body.get("rows") or ():
        cells = list(row.get("cells") or ())
        shown = {}
        for name, cell in zip(names, cells, strict=False):
            mask = MASKED.get(str(name))
            shown[str(name)] = mask if mask and cell not in ("<none>", "", None) else cell
        if len(cells) != len(names):
            shown["<cell count>"] = len(cells)
        rows.append({"cells": shown, "object": row.get("object")})
    return {**answer, "body": {
        "apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
        "metadata": body.get("metadata"),
        "column order": ", ".join(str(n) for n in names),
        "columns": {str(c.get("name")): {k: c.get(k) for k in ("type", "format", "priority")}
                    for c in columns},
        "column descriptions": {str(c.get("name")): c.get("description") for c in columns},
        "rows": rows}}


def sorted_verbs(value: Any) -> Any:
    """Verbs as a sorted list: their order is not part of the API (the real server's
    order for custom resources is its handler's)."""
    if isinstance(value, dict):
        return {k: sorted(v) if k == "verbs" and isinstance(v, list) else sorted_verbs(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [sorted_verbs(v) for v in value]
    return value


def resources(body: Any) -> Any:
    """A resource list keyed by resource name, verbs sorted."""
    return sorted_verbs(keyed(body, {"resources": "name"}))
