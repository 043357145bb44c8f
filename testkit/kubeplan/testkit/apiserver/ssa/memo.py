"""The memo tables of server-side apply: a small LRU map, and the memoised walks
below large lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from kubeplan.testkit.apiserver.ssa.paths import Path, _field_path, _Lru, _Rules

# Objects written from one template share large lists exactly (a Deployment's
# containers, with their env, ports and probes), and walking them is most of the cost of
# a create. The nodes a walk finds below a list depend only on the list's JSON, its field
# path and the resource's list rules, so they are memoised by exactly those, as paths
# relative to the list, and put back under the list's path.
_LIST_NODES: _Lru = _Lru(256)
_MEMO_MIN_BYTES = 512


def _memo_key(walk: str, items: list[Any], path: Path, rules: _Rules) -> tuple[Any, ...] | None:
    """The memo key of a walk below a (large) list, or None when not memoised."""
    if not rules.memo or not path:
        return None
    return _list_memo_key(walk, items, _field_path(path), rules)


def _list_memo_key(walk: str, items: list[Any], fields: tuple[str, ...],
                   rules: _Rules) -> tuple[Any, ...] | None:
    """``(walk, list rules, field path, the list's JSON)``, or None for a small list."""
    try:
        data = orjson.dumps(items)
    except TypeError:
        return None
    if len(data) < _MEMO_MIN_BYTES:
        return None
    return (walk, rules.list_keys, fields, data)


def _memo_walk(
    key: tuple[Any, ...] | None,
    path: Path,
    out: set[Path],
    walk: Callable[[set[Path]], None],
) -> None:
    """``walk(out)``, or the memoised result of the same walk, added to ``out``."""
    if key is None:
        walk(out)
        return
    known: frozenset[Path] | None = _LIST_NODES.lookup(key)
    if known is None:
        found: set[Path] = set()
        walk(found)
        cut = len(path)
        known = frozenset(p[cut:] for p in found)
        _LIST_NODES.store(key, known)
        out |= found
        return
    out.update([(*path, *rel) for rel in known])
