"""The apply memo: what kubeplan last wrote to each child, so that its own writes are no-ops.

The API server normalises values (``cpu: 1000m`` is stored as ``1``, ``1.0`` as ``1``), so a
desired object is not always literally contained in what the server keeps. Without a memory of
our own writes, such a child differs forever and the operator writes it on every pass (a hot
loop, the most common complaint about metacontroller). The memo is that memory, kept out of the
planner as an explicit input so the planner stays a pure function:

    child uid -> MemoEntry(desired_hash, resource_version, applied_digest)

recorded from the object the server returned for our write. A child is untouched since our
write when the desired hash is the same and either its resourceVersion is still the one our
write produced, or (others wrote it since, e.g. its status) the values at the paths we set
digest the same as right after our write (``kubeplan.core.compare.project``).

The memo is immutable; ``record_write`` and ``forget`` return new memos. They share structure
(a frozen base plus a small overlay that is folded in when it grows) so that a memo of tens of
thousands of children does not copy itself on every write.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
from kubeplan.core.compare import applied_digest
from kubeplan.core.config import ANNOTATION_DESIRED_HASH
from kubeplan.core.objects import annotations_of, resource_version_of, uid_of

__all__ = ["ApplyMemo", "MemoEntry"]


@attrs.frozen
class MemoEntry:
    """Our last write to one child: the desired hash we sent, the resourceVersion it produced and
    the digest of the written values at the paths we set."""

    desired_hash: str
    resource_version: str | None
    applied_digest: str


_FORGOTTEN: Any = object()


class ApplyMemo(Mapping[str, MemoEntry]):
    """An immutable mapping from child uid to ``MemoEntry``."""

    __slots__ = ("_base", "_len", "_overlay")

    def __init__(
        self,
        entries: Mapping[str, MemoEntry] | Iterable[tuple[str, MemoEntry]] = (),
        *,
        _base: dict[str, MemoEntry] | None = None,
        _overlay: dict[str, Any] | None = None,
    ) -> None:
        if _base is None:
            _base, _overlay = dict(entries), {}
        self._base = _base
        self._overlay: dict[str, Any] = _overlay or {}
        size = len(_base)
        for uid, entry in self._overlay.items():
            if uid in _base:
                size -= entry is _FORGOTTEN
            else:
                size += entry is not _FORGOTTEN
        self._len = size

    @classmethod
    def empty(cls) -> ApplyMemo:
        return _EMPTY

    def get(self, uid: str, default: Any = None) -> Any:  # type: ignore[override]
        entry = self._overlay.get(uid)
        if entry is None:
            return self._base.get(uid, default)
        return default if entry is _FORGOTTEN else entry

    def __getitem__(self, uid: str) -> MemoEntry:
        entry = self.get(uid, _FORGOTTEN)
        if entry is _FORGOTTEN:
            raise KeyError(uid)
        return entry

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and self.get(uid, _FORGOTTEN) is not _FORGOTTEN

    def __iter__(self) -> Iterator[str]:
        for uid in self._base:
            if self._overlay.get(uid) is not _FORGOTTEN:
                yield uid
        for uid, entry in self._overlay.items():
            if uid not in self._base and entry is not _FORGOTTEN:
                yield uid

    def __len__(self) -> int:
        return self._len

    def _with(self, uid: str, entry: Any) -> ApplyMemo:
        overlay = dict(self._overlay)
        overlay[uid] = entry
        # Fold the overlay in once it outgrows sqrt(n): a write then costs O(sqrt(n)) amortised.
        if len(overlay) > max(32, math.isqrt(len(self._base))):
            base = dict(self._base)
            for key, value in overlay.items():
                if value is _FORGOTTEN:
                    base.pop(key, None)
                else:
                    base[key] = value
            return ApplyMemo(_base=base, _overlay={})
        return ApplyMemo(_base=self._base, _overlay=overlay)

    def record(self, uid: str, entry: MemoEntry) -> ApplyMemo:
        return self._with(uid, entry)

    def record_write(self, desired: Mapping[str, Any], written: Mapping[str, Any]) -> ApplyMemo:
        """Remember a successful write.

        ``desired`` is the stamped object we sent (a plan's ``Create``/``Replace`` ``obj``: its
        desired-hash annotation is what we remember); ``written`` is the object the server
        returned. Without a uid in ``written`` (a dry run) nothing is recorded.
        """
        uid = uid_of(written)
        if not uid:
            return self
        entry = MemoEntry(
            desired_hash=annotations_of(desired).get(ANNOTATION_DESIRED_HASH, ""),
            resource_version=resource_version_of(written),
            applied_digest=applied_digest(dict(desired), dict(written)),
        )
        return self._with(uid, entry)

    def forget(self, uid: str) -> ApplyMemo:
        """Drop a child (deleted, or a write failed so its state is unknown)."""
        if uid not in self:
            return self
        return self._with(uid, _FORGOTTEN)

    def retain(self, uids: Iterable[str]) -> ApplyMemo:
        """Keep only these children (e.g. those still in the cache), dropping the rest at once."""
        keep = set(uids)
        return ApplyMemo({uid: entry for uid, entry in self.items() if uid in keep})

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ApplyMemo({len(self)} entries)"


_EMPTY = ApplyMemo()
