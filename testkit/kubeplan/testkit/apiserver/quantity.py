"""Resource quantities ("500m", "1Gi", "1e3") as apimachinery reads and writes them.

The real server keeps a quantity as an exact decimal plus the format it was written in,
and serialises it in the canonical form of that format (``resource.Quantity``'s
``CanonicalizeBytes``): "0.5" is stored as "500m", "1024Mi" as "1Gi", "1000m" as "1".
A string that is already canonical is kept as sent. Exact arithmetic uses ``Fraction``.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction
from typing import Any

import attrs

from kubeplan.core.errors import InvalidArgument

__all__ = ["Quantity", "canonical", "parse"]

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_NAMES = {exp: name for name, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_NAMES = {exp // 10: name for name, exp in _BINARY_SUFFIXES.items()}
_NUMBER = re.compile(r"([+-]?)0*([0-9]*)(?:\.([0-9]*))?(.*)", re.DOTALL)
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")
_NANO = 10**9


@attrs.frozen
class Quantity:
    """An exact value and the format it serialises in; ``text`` is kept when canonical."""

    value: Fraction
    format: str
    text: str | None = None

    def __str__(self) -> str:
        return self.text if self.text is not None else _canonical_text(self.value, self.format)

    def __add__(self, other: Quantity) -> Quantity:
        """``Quantity.Add``: the receiver's format, the canonical text."""
        return Quantity(self.value + other.value, self.format)

    def round_up(self, decimals: int) -> Quantity:
        """``Quantity.RoundUp``: away from zero to ``decimals`` places (3: milli)."""
        scale = 10**decimals
        scaled = self.value * scale
        if scaled.denominator == 1:
            return self
        rounded = math.ceil(abs(scaled)) * (1 if scaled > 0 else -1)
        return Quantity(Fraction(rounded, scale), self.format)


def parse(raw: Any) -> Quantity:
    """``resource.ParseQuantity`` (a JSON number is read as its text); ValueError if bad."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise InvalidArgument("quantities must match the regular expression")
    return _parse(raw)


@functools.lru_cache(maxsize=1024, typed=True)  # manifests repeat a few quantities
def _parse(raw: str | int | float) -> Quantity:
    text = raw if isinstance(raw, str) else repr(raw)
    if not text:
        raise InvalidArgument("quantities must match the regular expression")
    if text == "0":
        return Quantity(Fraction(0), DECIMAL_SI, "0")
    match = _NUMBER.fullmatch(text)
    assert match is not None  # every group may be empty
    sign, num, denom, suffix = match.groups()
    denom = denom or ""
    if suffix in _DECIMAL_SUFFIXES:
        base, exponent, fmt = 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    elif suffix in _BINARY_SUFFIXES:
        base, exponent, fmt = 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    elif (exp := _EXPONENT.fullmatch(suffix)) is not None:
        base, exponent, fmt = 10, int(exp.group(1)), DECIMAL_EXPONENT
        if abs(exponent) > 1000:  # far beyond int64; not worth a huge exact number
            raise InvalidArgument("quantity exponent out of range")
    else:
        raise InvalidArgument("unable to parse quantity's suffix")
    digits = int((num or "0") + denom)
    value = Fraction(digits, 10 ** len(denom)) * Fraction(base) ** exponent
    if sign == "-":
        value = -value
    rounded = Quantity(value, fmt).round_up(9).value
    if fmt == BINARY_SI and 0 < abs(rounded) < 1:
        fmt = DECIMAL_SI
    # ParseQuantity keeps the text when it is already in canonical form (its fast path)
    keep = None
    shifted = (num or "0") + denom
    if base == 2:
        fast = not denom and 15 - len(num) - int(exponent * 3 / 10) - 1 >= 0
        if fast and exponent % 10 == 0 and digits & 0x07:
            keep = text
    elif len(num) + len(denom) <= 18 and exponent - len(denom) >= -9:
        scale = exponent - len(denom)
        if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
            keep = text
    return Quantity(rounded, fmt, keep)


def canonical(raw: Any, *, milli: bool = False) -> Any:
    """How the real server writes ``raw`` back; ``milli`` rounds up to thousandths
    first (``SetDefaults_ResourceList``). Unparsable values are returned unchanged
    (validation reports them)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return raw
    return _canonical(raw, milli)


@functools.lru_cache(maxsize=1024, typed=True)
def _canonical(raw: str | int | float, milli: bool) -> Any:
    try:
        q = parse(raw)
    except ValueError:
        return raw
    if milli:
        q = q.round_up(3)
    return str(q)


def _canonical_text(value: Fraction, fmt: str) -> str:
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (abs(value) < 1024 or value.denominator != 1):
        fmt = DECIMAL_SI
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if fmt == BINARY_SI:
        amount, exponent = int(magnitude), 0
        while amount % 1024 == 0:
            amount //= 1024
            exponent += 1
        return f"{sign}{amount}{_BINARY_NAMES.get(exponent, '')}"
    amount, exponent = math.ceil(magnitude * _NANO), -9
    while amount % 10 == 0:
        amount //= 10
        exponent += 1
    while exponent % 3:
        amount *= 10
        exponent -= 1
    if fmt == DECIMAL_SI:
        suffix = _DECIMAL_NAMES.get(exponent, "")
    else:
        suffix = f"e{exponent}" if exponent else ""
    return f"{sign}{amount}{suffix}"
