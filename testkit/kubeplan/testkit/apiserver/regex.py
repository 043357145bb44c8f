"""CRD ``pattern``s as the real server runs them: RE2, with Go's ``regexp`` wording.

The real server matches a schema's ``pattern`` with Go's ``regexp`` package, an RE2
engine: matching takes time linear in the input, and what it cannot guarantee
(backreferences, look-around, possessive repeats) does not compile. Python's ``re``
backtracks, so a pattern like ``^(a|a)*$`` takes time exponential in the input and a
small custom resource could freeze the fake's event loop. Here patterns compile with
Google's RE2 (the ``google-re2`` package), and a pattern RE2 refuses is refused when
the CRD is written, with the message Go's ``regexp/syntax`` gives, e.g.::

    error parsing regexp: missing closing ]: `[`

C++ RE2 and Go's parser accept almost the same language; where they differ in what a
CRD could meet, this module answers as Go does: the ``\\C`` escape (C++ only), Go's
limit of 1000 nested capture groups, and look-behind (``(?<=``), which Go reads as a
capture group with a bad name.
"""

from __future__ import annotations

import re
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

__all__ = ["compile_pattern", "pattern_error", "search"]

#: C++ RE2's error code texts -> Go ``regexp/syntax`` ``ErrorCode`` texts
_GO_CODES = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
}
_CAPTURE_NAME = re.compile("[0-9A-Za-z_]+")
#: Go's limit on nested capture groups (``maxHeight`` in regexp/syntax)
_MAX_NESTING = 1000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # C++ RE2 writes every refusal to stderr by default

#: pattern -> (compiled pattern, None) or (None, Go's error text); patterns recur on
#: every write of their CRD's objects
_CACHE: dict[str, tuple[Any, str | None]] = {}
_CACHE_MAX = 1024


def _go_error(message: str, pattern: str) -> str:
    """Go's rendering of a C++ RE2 compile error (``code: arg``)."""
    if message == "trailing \\":
        return "error parsing regexp: trailing backslash at end of expression: ``"
    if message.startswith("pattern too large"):
        return f"error parsing regexp: expression too large: `{pattern}`"
    code, sep, arg = message.partition(": ")
    go_code = _GO_CODES.get(code)
    if go_code is None or not sep:
        return f"error parsing regexp: {message}"
    return f"error parsing regexp: {go_code}: `{arg}`"


def _go_only_error(pattern: str) -> str | None:
    """What Go refuses otherwise than C++ RE2: ``\\C`` and captures nested too deeply
    (C++ accepts them), look-behind (Go calls it a bad capture name)."""
    depth = 0
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":  # \Q...\E is literal text
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if nxt == "C" and not in_class:
                return "error parsing regexp: invalid escape sequence: `\\C`"
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            # a ']' right after '[' or '[^' is a literal member of the class
            if pattern.startswith("]", i + 1):
                i += 1
            elif pattern.startswith("^]", i + 1):
                i += 2
        elif ch == "(":
            if pattern.startswith("?<", i + 1):
                # Go reads "(?<" as a named capture, so look-behind is a bad name there
                rest = pattern[i:]
                end = rest.find(">")
                if end < 0:
                    return f"error parsing regexp: invalid named capture: `{rest}`"
                if not _CAPTURE_NAME.fullmatch(rest[3:end]):
                    return f"error parsing regexp: invalid named capture: `{rest[: end + 1]}`"
            if not pattern.startswith("?", i + 1) or pattern.startswith(("?P<", "?<"), i + 1):
                depth += 1
                if depth >= _MAX_NESTING:
                    return f"error parsing regexp: expression nests too deeply: `{pattern}`"
        elif ch == ")" and depth:
            depth -= 1
        i += 1
    return None


def _compile(pattern: str) -> tuple[Any, str | None]:
    known = _CACHE.get(pattern)
    if known is not None:
        return known
    result: tuple[Any, str | None]
    try:
        result = (re2.compile(pattern, _OPTIONS), _go_only_error(pattern))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        look_behind = text.startswith("invalid perl operator: (?<")
        go_error = _go_only_error(pattern) if look_behind else None
        result = (None, go_error or _go_error(text, pattern))
    except (TypeError, ValueError, UnicodeError):  # e.g. a lone surrogate
        result = (None, f"error parsing regexp: invalid UTF-8: `{pattern}`")
    if result[1] is not None:
        result = (None, result[1])
    if len(_CACHE) >= _CACHE_MAX:
        del _CACHE[next(iter(_CACHE))]
    _CACHE[pattern] = result
    return result


def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (for ``search``), or None when Go's ``regexp`` refuses it."""
    return _compile(pattern)[0]


def pattern_error(pattern: str) -> str | None:
    """Why Go's ``regexp`` refuses ``pattern`` (its error text), or None if it compiles."""
    return _compile(pattern)[1]


def search(pattern: Any, value: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``value`` (Go's ``MatchString``)."""
    try:
        return pattern.search(value) is not None
    except UnicodeError:  # a lone surrogate: Go's JSON decoder would have made it U+FFFD
        return pattern.search(value.encode("utf-8", "replace")) is not None
