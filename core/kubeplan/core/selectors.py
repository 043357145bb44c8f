"""Label selectors: the one parser, validating as the API server does.

Selectors come as strings (``app in (a,b),!legacy``: what ``kubectl -l`` and the API's
``labelSelector`` parameter take) or as mappings of labels (``matchLabels``), and operators
rely on the exact matching rules: ``!=`` and ``notin`` match objects that lack the key, ``in``
and ``=`` do not. Parsing follows ``k8s.io/apimachinery/pkg/labels/selector.go`` (a small lexer
and a recursive-descent parser) and keys and values are checked as
``k8s.io/apimachinery/pkg/util/validation`` checks them, so a selector a real server rejects
is rejected here, with its message. Related objects (``kubeplan.core.related``) and the fake
API server (``kubeplan.testkit.apiserver.selectors``, which answers 400 with these messages)
both use this parser: they cannot disagree on what a selector means or whether it is valid.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from kubeplan.core.errors import KubeplanError, WrongArgumentType

__all__ = [
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "label_selector_from_dict",
    "parse_label_selector",
    "validate_label_key",
    "validate_label_value",
]


class SelectorError(KubeplanError, ValueError):
    """A selector that does not parse or names something invalid (the API server's 400), or
    a related-object select function that raised or returned something else than selectors.

    ``position`` is the offset in the selector text of the token or term at fault, when the
    error comes from parsing text (None otherwise).
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


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


def _sorted_values(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


# how a requirement tests labels, fixed at construction: matching is on the hot path (the
# runtime's related-object index, the fake server's lists and watches), where comparing the
# operator with enum members one by one was the most of its cost
_SELECT_IN, _SELECT_NOT_IN, _SELECT_EXISTS, _SELECT_ABSENT, _SELECT_GT, _SELECT_LT = range(6)
_TESTS = {
    Operator.EQUALS: _SELECT_IN,
    Operator.DOUBLE_EQUALS: _SELECT_IN,
    Operator.IN: _SELECT_IN,
    Operator.NOT_EQUALS: _SELECT_NOT_IN,
    Operator.NOT_IN: _SELECT_NOT_IN,
    Operator.EXISTS: _SELECT_EXISTS,
    Operator.DOES_NOT_EXIST: _SELECT_ABSENT,
    Operator.GREATER_THAN: _SELECT_GT,
    Operator.LESS_THAN: _SELECT_LT,
}


def _test_of(requirement: Requirement) -> int:
    return _TESTS[requirement.operator]


@attrs.frozen
class Requirement:
    """One term of a label selector: ``key operator values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = attrs.field(default=(), converter=_sorted_values)
    _test: int = attrs.field(init=False, eq=False, repr=False,
                             default=attrs.Factory(_test_of, takes_self=True))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Apply apimachinery's ``Requirement.Matches`` rules (absent keys and all)."""
        test = self._test
        if test == _SELECT_IN:  # a missing key matches neither
            return self.key in labels and labels[self.key] in self.values
        if test == _SELECT_NOT_IN:  # a missing key matches
            return self.key not in labels or labels[self.key] not in self.values
        if test == _SELECT_EXISTS:
            return self.key in labels
        if test == _SELECT_ABSENT:
            return self.key not in labels
        # GREATER_THAN / LESS_THAN: both sides must be integers.
        if self.key not in labels or len(self.values) != 1:
            return False
        actual = _parse_int64(labels[self.key])
        wanted = _parse_int64(self.values[0])
        if actual is None or wanted is None:
            return False
        return actual > wanted if test == _SELECT_GT else actual < wanted

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
    """A parsed label selector: an AND of requirements (``app=web,tier in (a,b),!legacy``).

    ``LabelSelector.parse(text)`` reads the string form, ``LabelSelector.of(labels)`` a mapping
    of labels that must all match (``matchLabels``); both validate keys and values as the API
    server does and raise ``SelectorError`` naming what is wrong. The empty selector matches
    every object; ``nothing()`` (a nil ``metav1.LabelSelector``) matches none.
    """

    requirements: tuple[Requirement, ...] = ()
    nothing_: bool = False

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """``parse_label_selector(text)``, with the error saying where in ``text`` it is."""
        try:
            return parse_label_selector(text)
        except SelectorError as exc:
            position = exc.position if exc.position is not None else 0
            rest = text[position:]
            where = f"position {position} ({rest!r})" if rest else f"position {position} (the end)"
            raise SelectorError(
                f"label selector {text!r} is not valid at {where}: {exc}", position=position
            ) from None

    @classmethod
    def of(cls, selector: str | Mapping[str, str] | LabelSelector | None) -> LabelSelector:
        """A selector from its string form, a mapping of labels or a selector (None: all)."""
        if selector is None:
            return cls()
        if isinstance(selector, LabelSelector):
            return selector
        if isinstance(selector, str):
            return cls.parse(selector)
        if isinstance(selector, Mapping):
            return _of_labels(tuple(sorted((str(k), str(v)) for k, v in selector.items())))
        raise WrongArgumentType(
            f"a label selector is a string ('app=web') or a mapping of labels, got {selector!r}"
        )

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

    def __bool__(self) -> bool:
        """False for the selector that selects everything (it restricts nothing)."""
        return not self.empty()

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


def _lex(text: str) -> list[tuple[_Tok, str, int]]:
    """Split a selector into tokens exactly as apimachinery's ``Lexer`` does, each with the
    offset it starts at."""
    items: list[tuple[_Tok, str, int]] = []
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_Tok.EOS, "", n))
            return items
        ch = text[pos]
        start = pos
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
                items.append((_Tok.ERROR, f"error expected: keyword found '{buf}'", start))
                items.append((_Tok.EOS, "", n))
                return items
            items.append((*best, start))
        else:
            while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            word = text[start:pos]
            items.append((_KEYWORDS.get(word, _Tok.IDENT), word, start))


class _Parser:
    """Recursive-descent parser mirroring apimachinery's ``labels.Parser``."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, values_mode: bool) -> tuple[_Tok, str]:
        tok, lit, _ = self.items[min(self.pos, len(self.items) - 1)]
        if values_mode and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENT
        return tok, lit

    def _next(self, values_mode: bool) -> tuple[_Tok, str]:
        item = self._peek(values_mode)
        self.pos += 1
        return item

    def _offset(self, *, consumed: bool) -> int:
        """Where the last token taken (or else the next one) starts in the text."""
        index = self.pos - 1 if consumed else self.pos
        return self.items[max(0, min(index, len(self.items) - 1))][2]

    def _fail(self, message: str, *, consumed: bool) -> SelectorError:
        return SelectorError(message, position=self._offset(consumed=consumed))

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self._peek(True)
            if tok in (_Tok.IDENT, _Tok.NOT):
                term = self._offset(consumed=False)
                try:
                    reqs.append(self._requirement())
                except SelectorError as err:
                    # a key or values the requirement refuses: the term is at fault
                    where = err.position if err.position is not None else term
                    raise SelectorError(f"unable to parse requirement: {err}",
                                        position=where) from None
                tok2, lit2 = self._next(True)
                if tok2 is _Tok.EOS:
                    return reqs
                if tok2 is _Tok.COMMA:
                    tok3, lit3 = self._peek(True)
                    if tok3 not in (_Tok.IDENT, _Tok.NOT):
                        raise self._fail(f"found '{lit3}', expected: identifier after ','",
                                         consumed=False)
                else:
                    raise self._fail(f"found '{lit2}', expected: ',' or 'end of string'",
                                     consumed=True)
            elif tok is _Tok.EOS:
                return reqs
            else:
                raise self._fail(f"found '{lit}', expected: !, identifier, or 'end of string'",
                                 consumed=False)

    def _requirement(self) -> Requirement:
        op: Operator | None = None
        tok, lit = self._next(True)
        if tok is _Tok.NOT:
            op = Operator.DOES_NOT_EXIST
            tok, lit = self._next(True)
        if tok is not _Tok.IDENT:
            raise self._fail(f"found '{lit}', expected: identifier", consumed=True)
        key_err = validate_label_key(lit)
        if key_err:
            raise self._fail(key_err, consumed=True)
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
            raise self._fail(f"found '{lit}', expected: {_BINARY_OPERATORS}", consumed=True)
        return mapping[tok]

    def _values(self) -> set[str]:
        tok, lit = self._next(True)
        if tok is not _Tok.OPEN_PAR:
            raise self._fail(f"found '{lit}' expected: '('", consumed=True)
        tok, lit = self._peek(True)
        if tok in (_Tok.IDENT, _Tok.COMMA):
            values = self._identifiers()
            if self._next(True)[0] is not _Tok.CLOSED_PAR:
                raise self._fail(f"found '{lit}', expected: ')'", consumed=True)
            return values
        if tok is _Tok.CLOSED_PAR:
            self._next(True)
            return {""}
        raise self._fail(f"found '{lit}', expected: ',', ')' or identifier", consumed=False)

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
                raise self._fail(f"found '{lit2}', expected: ',' or ')'", consumed=False)
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
            raise self._fail(f"found '{lit}', expected: ',', or identifier", consumed=True)

    def _exact_value(self) -> set[str]:
        tok, _ = self._peek(True)
        if tok in (_Tok.EOS, _Tok.COMMA):
            return {""}
        tok, lit = self._next(True)
        if tok is _Tok.IDENT:
            return {lit}
        raise self._fail(f"found '{lit}', expected: identifier", consumed=True)


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query string like ``labels.Parse`` (sorted by key).

    Raises ``SelectorError`` with apimachinery's message (what the API server answers) for
    malformed input or an invalid key or value, its ``position`` at the token or term at
    fault. ``LabelSelector.parse`` says the position in the message too.
    """
    return _parse(text)


# Selectors are immutable and the same few come again and again (a select function runs at
# every sync of its parent; a client lists and watches with the same selector), so each is
# parsed and validated once. Errors are not cached: they are raised again.
@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> LabelSelector:
    reqs = _Parser(text).parse()
    reqs.sort(key=lambda r: r.key)  # stable, like sort.Sort(ByKey) on distinct keys
    return LabelSelector(tuple(reqs))


@functools.lru_cache(maxsize=4096)
def _of_labels(labels: tuple[tuple[str, str], ...]) -> LabelSelector:
    """``matchLabels`` (sorted by key) as a selector, validated as the API server does."""
    return LabelSelector(tuple(_new_requirement(k, Operator.EQUALS, [v]) for k, v in labels))


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
    match_labels = sel.get("matchLabels") or {}
    reqs.extend(_of_labels(tuple(sorted((str(k), str(v)) for k, v in match_labels.items())))
                .requirements)
    for expr in sel.get("matchExpressions") or []:
        op_name = expr.get("operator")
        op = _METAV1_OPERATORS.get(op_name)
        if op is None:
            raise SelectorError(f"{_quote(op_name)} is not a valid label selector operator")
        values = [str(v) for v in expr.get("values") or []]
        reqs.append(_new_requirement(str(expr.get("key", "")), op, values))
    reqs.sort(key=lambda r: r.key)
    return LabelSelector(tuple(reqs))

