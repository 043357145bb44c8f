"""Label and field selectors with the grammar and error messages of apimachinery.

Clients send selectors as query strings (``?labelSelector=app in (a,b),!legacy``)
and operators rely on the exact matching rules -- ``!=`` and ``notin`` match
objects that lack the key, ``in`` and ``=`` do not. Parsing follows
``k8s.io/apimachinery/pkg/labels/selector.go`` (a small lexer plus a recursive
descent parser) closely enough that the same inputs fail with the same messages,
because those messages reach users verbatim in 400 ``BadRequest`` responses.
Field selectors follow ``k8s.io/apimachinery/pkg/fields/selector.go``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import attrs

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "label_selector_from_dict",
    "parse_field_selector",
    "parse_label_selector",
    "validate_label_key",
    "validate_label_value",
]


class SelectorError(ValueError):
    """A selector that does not parse or names something unsupported (HTTP 400)."""


# --------------------------------------------------------------------------------------
# Label key / value validation (apimachinery pkg/util/validation)

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_QUALIFIED_NAME_MAX = 63
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MAX = 63
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MAX = 253


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Render apimachinery's ``RegexError`` text (double space after commas included)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    rendered = ",  or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {rendered}, regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character"
)


def is_qualified_name(value: str) -> list[str]:
    """Errors of ``validation.IsQualifiedName`` (label and annotation keys)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + e for e in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > _QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len_error(_QUALIFIED_NAME_MAX))
    if name and not _QUALIFIED_NAME_RE.match(name):
        errs.append(
            "name part "
            + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """Errors of ``validation.IsDNS1123Subdomain`` (names of most objects, key prefixes)."""
    errs: list[str] = []
    if len(value) > _DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len_error(_DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """Errors of ``validation.IsValidLabelValue``."""
    errs: list[str] = []
    if len(value) > _LABEL_VALUE_MAX:
        errs.append(_max_len_error(_LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def _quote(value: object) -> str:
    """Go's ``%q`` for the strings we render (JSON escaping is close enough)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def _field_invalid(path: str, value: object, detail: str) -> str:
    """Render ``field.Invalid(path, value, detail).Error()``; a nil path prints ``<nil>``."""
    if isinstance(value, str):
        shown = _quote(value)
    elif isinstance(value, list | tuple):
        shown = "[]string{" + ", ".join(_quote(v) for v in value) + "}"
    else:
        shown = str(value)
    return f"{path or '<nil>'}: Invalid value: {shown}: {detail}"


def validate_label_key(key: str, path: str = "") -> str | None:
    """The error message for an invalid label key, or None when it is valid."""
    errs = is_qualified_name(key)
    return _field_invalid(path, key, "; ".join(errs)) if errs else None


def validate_label_value(key: str, value: str, path: str = "") -> str | None:
    """The error message for an invalid label value of ``key``, or None when valid."""
    errs = is_valid_label_value(value)
    return _field_invalid(f"{path}[{key}]", value, "; ".join(errs)) if errs else None


# --------------------------------------------------------------------------------------
# Label selector model


class Operator(enum.Enum):
    """Selection operators, valued as apimachinery's ``selection.Operator`` strings."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(s, 10, 64)``: optional sign, decimal digits, 64-bit range."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@attrs.frozen
class Requirement:
    """One term of a label selector: ``key operator values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = attrs.field(default=(), converter=lambda v: tuple(sorted(set(v))))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Apply apimachinery's ``Requirement.Matches`` rules (absent keys and all)."""
        op = self.operator
        has = self.key in labels
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            return has and labels[self.key] in self.values
        if op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            return not has or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return has
        if op is Operator.DOES_NOT_EXIST:
            return not has
        # GREATER_THAN / LESS_THAN: both sides must be integers.
        if not has or len(self.values) != 1:
            return False
        actual = _parse_int64(labels[self.key])
        wanted = _parse_int64(self.values[0])
        if actual is None or wanted is None:
            return False
        return actual > wanted if op is Operator.GREATER_THAN else actual < wanted

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op is Operator.EXISTS:
            return self.key
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(self.values)})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{self.values[0] if self.values else ''}"


def _new_requirement(key: str, op: Operator, values: Iterable[str]) -> Requirement:
    """Build a requirement with ``labels.NewRequirement``'s checks, raising SelectorError."""
    vals = sorted(set(values))
    errs: list[str] = []
    key_err = validate_label_key(key, "key")
    if key_err:
        errs.append(key_err)
    if op in (Operator.IN, Operator.NOT_IN):
        if not vals:
            errs.append(
                _field_invalid(
                    "values", vals, "for 'in', 'notin' operators, values set can't be empty"
                )
            )
    elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                _field_invalid(
                    "values", vals, "exact-match compatibility requires one single value"
                )
            )
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            errs.append(
                _field_invalid(
                    "values", vals, "values set must be empty for exists and does not exist"
                )
            )
    else:
        if len(vals) != 1:
            errs.append(
                _field_invalid(
                    "values", vals, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(
                    _field_invalid(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    for i, v in enumerate(vals):
        value_err = validate_label_value(key, v, f"values[{i}]")
        if value_err:
            errs.append(value_err)
    if errs:
        raise SelectorError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return Requirement(key, op, vals)


@attrs.frozen
class LabelSelector:
    """An AND of requirements; ``nothing`` is the selector that matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing_: bool = False

    @classmethod
    def everything(cls) -> LabelSelector:
        """The selector that matches every object (an empty query string)."""
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        """The selector that matches no object (a nil ``metav1.LabelSelector``)."""
        return cls(nothing_=True)

    def empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self.nothing_ and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """True when every requirement holds for ``labels`` (None = no labels)."""
        if self.nothing_:
            return False
        got = labels or {}
        return all(r.matches(got) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


# --------------------------------------------------------------------------------------
# Label selector lexer and parser


class _Tok(enum.Enum):
    ERROR = "error"
    EOS = "end of string"
    CLOSED_PAR = ")"
    COMMA = ","
    NOT = "!"
    DOUBLE_EQUALS = "=="
    EQUALS = "="
    GREATER = ">"
    IDENT = "identifier"
    IN = "in"
    LESS = "<"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    OPEN_PAR = "("


_SYMBOLS: dict[str, _Tok] = {
    ")": _Tok.CLOSED_PAR,
    ",": _Tok.COMMA,
    "!": _Tok.NOT,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER,
    "<": _Tok.LESS,
    "!=": _Tok.NOT_EQUALS,
    "(": _Tok.OPEN_PAR,
}
_KEYWORDS = {"in": _Tok.IN, "notin": _Tok.NOT_IN}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """Split a selector into tokens exactly as apimachinery's ``Lexer`` does."""
    items: list[tuple[_Tok, str]] = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_Tok.EOS, ""))
            return items
        ch = text[pos]
        if ch in _SPECIAL:
            buf = ""
            best: tuple[_Tok, str] | None = None
            while pos < n and text[pos] in _SPECIAL:
                candidate = buf + text[pos]
                if candidate in _SYMBOLS:
                    buf = candidate
                    best = (_SYMBOLS[candidate], candidate)
                    pos += 1
                elif best is not None:
                    break
                else:
                    buf = candidate
                    pos += 1
            if best is None:
                items.append((_Tok.ERROR, f"error expected: keyword found '{buf}'"))
                items.append((_Tok.EOS, ""))
                return items
            items.append(best)
        else:
            start = pos
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_KEYWORDS.get(word, _Tok.IDENT), word))


class _Parser:
    """Recursive-descent parser mirroring apimachinery's ``labels.Parser``."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, values_mode: bool) -> tuple[_Tok, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        if values_mode and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENT
        return tok, lit

    def _next(self, values_mode: bool) -> tuple[_Tok, str]:
        item = self._peek(values_mode)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek(True)
            if tok in (_Tok.IDENT, _Tok.NOT):
                try:
                    reqs.append(self._requirement())
                except SelectorError as err:
                    raise SelectorError(f"unable to parse requirement: {err}") from None
                tok2, lit2 = self._next(True)
                if tok2 is _Tok.EOS:
                    return reqs
                if tok2 is _Tok.COMMA:
                    tok3, lit3 = self._peek(True)
                    if tok3 not in (_Tok.IDENT, _Tok.NOT):
                        raise SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok is _Tok.EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def _requirement(self) -> Requirement:
        op: Operator | None = None
        tok, lit = self._next(True)
        if tok is _Tok.NOT:
            op = Operator.DOES_NOT_EXIST
            tok, lit = self._next(True)
        if tok is not _Tok.IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key_err = validate_label_key(lit)
        if key_err:
            raise SelectorError(key_err)
        key = lit
        if self._peek(True)[0] in (_Tok.EOS, _Tok.COMMA) and op is None:
            op = Operator.EXISTS
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return _new_requirement(key, op, ())
        op = self._operator()
        in_set = op in (Operator.IN, Operator.NOT_IN)
        values = self._values() if in_set else self._exact_value()
        return _new_requirement(key, op, values)

    def _operator(self) -> Operator:
        tok, lit = self._next(False)
        mapping = {
            _Tok.IN: Operator.IN,
            _Tok.NOT_IN: Operator.NOT_IN,
            _Tok.EQUALS: Operator.EQUALS,
            _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
            _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
            _Tok.GREATER: Operator.GREATER_THAN,
            _Tok.LESS: Operator.LESS_THAN,
        }
        if tok not in mapping:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return mapping[tok]

    def _values(self) -> set[str]:
        tok, lit = self._next(True)
        if tok is not _Tok.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek(True)
        if tok in (_Tok.IDENT, _Tok.COMMA):
            values = self._identifiers()
            if self._next(True)[0] is not _Tok.CLOSED_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok is _Tok.CLOSED_PAR:
            self._next(True)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self._next(True)
            if tok is _Tok.IDENT:
                values.add(lit)
                tok2, lit2 = self._peek(True)
                if tok2 is _Tok.COMMA:
                    continue
                if tok2 is _Tok.CLOSED_PAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok is _Tok.COMMA:
                if not values:
                    values.add("")
                tok2, _ = self._peek(True)
                if tok2 is _Tok.CLOSED_PAR:
                    values.add("")
                    return values
                if tok2 is _Tok.COMMA:
                    self._next(True)
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek(True)
        if tok in (_Tok.EOS, _Tok.COMMA):
            return {""}
        tok, lit = self._next(True)
        if tok is _Tok.IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query string like ``labels.Parse`` (sorted by key).

    Raises SelectorError with apimachinery's message for malformed input.
    """
    reqs = _Parser(text).parse()
    reqs.sort(key=lambda r: r.key)  # stable, like sort.Sort(ByKey) on distinct keys
    return LabelSelector(tuple(reqs))


_METAV1_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` like ``metav1.LabelSelectorAsSelector``.

    ``None`` selects nothing; ``{}`` selects everything.
    """
    if sel is None:
        return LabelSelector.nothing()
    if not isinstance(sel, Mapping):
        raise SelectorError(f"a label selector must be an object, got {type(sel).__name__}")
    reqs: list[Requirement] = []
    for key, value in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append(_new_requirement(str(key), Operator.EQUALS, [str(value)]))
    for expr in sel.get("matchExpressions") or []:
        op_name = expr.get("operator")
        op = _METAV1_OPERATORS.get(op_name)
        if op is None:
            raise SelectorError(f"{_quote(op_name)} is not a valid label selector operator")
        values = [str(v) for v in expr.get("values") or []]
        reqs.append(_new_requirement(str(expr.get("key", "")), op, values))
    reqs.sort(key=lambda r: r.key)
    return LabelSelector(tuple(reqs))


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
