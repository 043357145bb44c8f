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
(``immutables.Map``, a hash array mapped trie: an update costs O(log n) and copies a few
nodes), so a memo of tens of thousands of children does not copy itself on every write. An
earlier base-plus-overlay scheme cost O(sqrt n) per write, so its CPU grew faster than the
number of children.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import immutables
from attrs.exceptions import FrozenInstanceError

from kubeplan.core.compare import applied_digest
from kubeplan.core.config import ANNOTATION_DESIRED_HASH
from kubeplan.core.errors import WrongArgumentType
from kubeplan.core.objects import annotations_of, resource_version_of, uid_of

__all__ = ["ApplyMemo", "MemoEntry"]


@attrs.frozen(repr=False)
class MemoEntry:
    """Our last write to one child: the desired hash we sent, the resourceVersion it produced and
    the digest of the written values at the paths we set.

    The digest is only needed once somebody else wrote the child (its resourceVersion moved), so
    an entry made by ``record_write`` keeps the written object instead (the watch cache's object
    as well: that costs nothing) and ``digest(desired)`` computes it on first use, from the
    desired object the planner has at hand: the same as the one written, since the desired hash
    matches. Computing it at every write cost a measurable share of an operator's CPU while
    it converged, for children most of which nobody else ever writes. Keeping the desired object
    instead would have kept a second copy of every child alive.

    Two entries are equal when their desired hash and resourceVersion are: for one child those
    name what we sent and the state the server stored, so they fix the digest too. The digest
    and the written object are derived values, left out of equality and hashing, so an entry
    stays equal to itself before and after its digest is computed.
    """

    desired_hash: str
    resource_version: str | None
    # the digest, computed on first use from _written when not given; both are a cache
    _digest: str | None = attrs.field(default=None, alias="applied_digest", eq=False)
    _written: Mapping[str, Any] | None = attrs.field(
        default=None, alias="written", kw_only=True, eq=False)

    def __attrs_post_init__(self) -> None:
        if (self._digest is None) == (self._written is None):
            raise WrongArgumentType("a MemoEntry needs either its digest or the written object")

    @property
    def applied_digest(self) -> str | None:
        """The digest, if computed yet (``digest(desired)`` computes it)."""
        return self._digest

    def digest(self, desired: Mapping[str, Any]) -> str:
        """``applied_digest(desired, written)``: ``desired`` is the stamped desired object whose
        hash is ``desired_hash`` (only the first call's is used)."""
        digest = self._digest
        if digest is None:
            digest = applied_digest(desired, self._written)
            # filling the cache, which equality and hashing leave out
            object.__setattr__(self, "_digest", digest)
            object.__setattr__(self, "_written", None)  # let the object go
        return digest

    def __repr__(self) -> str:
        digest = self._digest if self._digest is not None else "(when first needed)"
        return (f"MemoEntry(desired_hash={self.desired_hash!r}, "
                f"resource_version={self.resource_version!r}, applied_digest={digest!r})")


def _refuse_assignment(self: object, name: str, value: object) -> None:
    error = FrozenInstanceError()
    error.msg = f"{type(self).__name__} is immutable: cannot set {name}"
    error.args = (error.msg,)
    raise error


# attrs's own refusal says only "can't set attribute"; this one names the class and field
type.__setattr__(MemoEntry, "__setattr__", _refuse_assignment)


class ApplyMemo(Mapping[str, MemoEntry]):
    """An immutable mapping from child uid to ``MemoEntry``."""

    __slots__ = ("_map",)

    def __init__(
        self,
        entries: Mapping[str, MemoEntry] | Iterable[tuple[str, MemoEntry]] = (),
        *,
        _map: immutables.Map[str, MemoEntry] | None = None,
    ) -> None:
        self._map: immutables.Map[str, MemoEntry] = (
            _map if _map is not None else immutables.Map(entries))

    @classmethod
    def empty(cls) -> ApplyMemo:
        return _EMPTY

    def get(self, uid: str, default: Any = None) -> Any:
        return self._map.get(uid, default)

    def __getitem__(self, uid: str) -> MemoEntry:
        return self._map[uid]

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and uid in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def _with(self, uid: str, entry: MemoEntry) -> ApplyMemo:
        return ApplyMemo(_map=self._map.set(uid, entry))

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
            annotations_of(desired).get(ANNOTATION_DESIRED_HASH, ""),
            resource_version_of(written), written=written,
        )
        return self._with(uid, entry)

    def forget(self, uid: str) -> ApplyMemo:
        """Drop a child (deleted, or a write failed so its state is unknown)."""
        if uid not in self._map:
            return self
        return ApplyMemo(_map=self._map.delete(uid))

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
