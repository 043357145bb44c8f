"""Words for differences: the reasons plans print (``spec.replicas 2 -> 3``).

Only called once a difference is known, never to find one: deepdiff explains what changed inside
a container value (a list whose length changed, an object that replaced a string) and is
imported on first use, so neither planning nor ``import kubeplan.core`` pays for it.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeplan.core.compare import MISSING, Difference, key_segment
from kubeplan.core.config import ANNOTATION_DESIRED_HASH

__all__ = ["describe_differences", "short_value"]

MAX_VALUE = 60
MAX_LINES = 6

_HASH_PATH = "metadata.annotations" + key_segment(ANNOTATION_DESIRED_HASH)


def short_value(value: Any) -> str:
    """Compact JSON, cut to ``MAX_VALUE`` characters; ``(absent)`` for a missing value."""
    if value is MISSING or type(value).__name__ == "NotPresent":
        return "(absent)"
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _deepdiff_lines(path: str, observed: Any, desired: Any) -> list[str]:
    from deepdiff import DeepDiff  # imported here: it is slow to import and only explains

    found = []
    tree = DeepDiff(observed, desired, view="tree")
    for report in tree:
        for level in tree[report]:
            parts = level.path(output_format="list")
            sub = "".join(
                key_segment(part) if isinstance(part, str) else f"[{part}]" for part in parts
            )
            where = (path + sub) if path else sub.lstrip(".")
            order = tuple((isinstance(part, str), part) for part in parts)
            found.append((order, f"{where} {short_value(level.t1)} -> {short_value(level.t2)}"))
    return [line for _, line in sorted(found)]


def describe_difference(difference: Difference) -> list[str]:
    path = difference.path
    desired, observed = difference.desired, difference.observed
    containers = (dict, list)
    if isinstance(desired, containers) and type(desired) is type(observed):
        lines = _deepdiff_lines(path, observed, desired)
        if lines:
            return lines
    return [f"{path or '(object)'} {short_value(observed)} -> {short_value(desired)}"]


def describe_differences(found: list[Difference]) -> str:
    """One line of text for a replace or recreate: which fields differ and how.

    A changed desired-hash annotation alone means the user removed a field (subset comparison
    cannot see removals), so it is said in those words; next to other differences it is left
    out of the text (``changes`` still lists it).
    """
    lines: list[str] = []
    hash_change: Difference | None = None
    for difference in found:
        if difference.path == _HASH_PATH:
            hash_change = difference
            continue
        lines.extend(describe_difference(difference))
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"and {len(lines) - MAX_LINES} more"]
    if hash_change is not None and not lines:  # with other lines, it says nothing new
        before, after = short_value(hash_change.observed), short_value(hash_change.desired)
        why = (
            "not written by kubeplan from this desired object"
            if hash_change.observed is MISSING
            else "fields were removed from the desired object"
        )
        lines.append(f"desired hash {before} -> {after} ({why})")
    return "; ".join(lines)
