"""Label and field selectors with the grammar and error messages of apimachinery.

Clients send selectors as query strings (``?labelSelector=app in (a,b),!legacy``)
and operators rely on the exact matching rules -- ``!=`` and ``notin`` match
objects that lack the key, ``in`` and ``=`` do not. Label selectors, and the validation of
label keys and values, are the core's (``kubeplan.core.selectors``: one parser, following
``k8s.io/apimachinery/pkg/labels/selector.go``, for the runtime's related objects and for
this server), re-exported here; their messages reach users verbatim in 400 ``BadRequest``
responses, as the real server's do. Field selectors follow
``k8s.io/apimachinery/pkg/fields/selector.go``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from kubeplan.core.selectors import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    label_selector_from_dict,
    parse_label_selector,
    validate_label_key,
    validate_label_value,
)

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "label_selector_from_dict",
    "parse_field_selector",
    "parse_label_selector",
    "validate_label_key",
    "validate_label_value",
]


# --------------------------------------------------------------------------------------
# Field selectors


@attrs.frozen
class FieldRequirement:
    """One ``field=value`` or ``field!=value`` term of a field selector."""

    field: str
    value: str
    negated: bool = False

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Compare against the field's string form; absent fields read as ``""``."""
        actual = _field_value(obj, self.field)
        return (actual != self.value) if self.negated else (actual == self.value)

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negated else '='}{_escape_field_value(self.value)}"


@attrs.frozen
class FieldSelector:
    """An AND of field requirements over dotted paths of the object."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def everything(cls) -> FieldSelector:
        return cls()

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the selector reads, in order (callers index on them)."""
        return tuple(r.field for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    """Read a dotted path as the string the real field set would hold."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, int | float | str):
        return str(cur)
    return ""


def _escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash."""
    terms: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ",":
            terms.append(text[start:i])
            start = i + 1
        i += 1
    terms.append(text[start:])
    return terms


_FIELD_OPERATORS = ("!=", "==", "=")


def _split_term(term: str) -> tuple[str, str, str] | None:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in _FIELD_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
        i += 1
    return None


def _unescape_field_value(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            nxt = value[i + 1] if i + 1 < len(value) else ""
            if nxt not in ("\\", ",", "="):
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{nxt}")
            out.append(nxt)
            i += 2
            continue
        if ch in (",", "="):
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}")
        out.append(ch)
        i += 1
    return "".join(out)


def parse_field_selector(text: str, supported: Collection[str]) -> FieldSelector:
    """Parse a ``fieldSelector`` query string and check its fields against ``supported``.

    Syntax errors come first (``invalid selector: ...``), then the type's field label
    conversion (``field label not supported: <field>``), like the real server.
    """
    parts = sorted(_split_terms(text))
    reqs: list[FieldRequirement] = []
    for part in parts:
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        reqs.append(FieldRequirement(lhs, _unescape_field_value(rhs), negated=op == "!="))
    for req in reqs:
        if req.field not in supported:
            raise SelectorError(f"field label not supported: {req.field}")
    return FieldSelector(tuple(reqs))
