"""The in-memory object store: objects, the global resourceVersion and the event log.

This is the fake's etcd plus watch cache. It knows nothing of HTTP or API semantics;
it commits whole objects and records what changed. Three rules make it faithful:

* one global counter: every committed write (any type) takes the next
  resourceVersion, so RVs order all changes, as etcd revisions do;
* stored dicts are never mutated after commit (writers build new dicts), so the log,
  the snapshots and the indexes can share them safely and reads only copy on the way
  out;
* the event log keeps the last ``log_size`` changes with the previous state of each
  object, which serves watches from any retained RV and reconstructs exact list
  snapshots at an older RV (for consistent ``continue`` pages); anything older is
  "compacted" and answers 410 Expired. The log is also bounded in bytes
  (``log_bytes``, the encoded size of the objects its entries hold, as the writer
  measured them), so large objects cannot make it hold gigabytes.

What a watch may start from is narrower: each resource's watch cache window
(``watch_cache``, see ``watchcache.py``), which the store feeds with every commit.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import orjson

from kubeplan.core.errors import InvalidArgument
from kubeplan.testkit.apiserver.watchcache import WatchCache

__all__ = ["LogEntry", "ObjectKey", "Store"]

#: (group_resource, namespace or "", name)
ObjectKey = tuple[str, str, str]
Obj = dict[str, Any]


@attrs.frozen(slots=True)
class LogEntry:
    """One committed change. ``obj`` is the new state (for DELETED: the last state,
    stamped with the deletion's resourceVersion); ``prev`` the state before."""

    rv: int
    type: str
    group_resource: str
    namespace: str
    name: str
    obj: Obj
    prev: Obj | None
    size: int = 0
    """Roughly the bytes this entry keeps alive (the encoded size of its object)."""


def _owner_uids(obj: Obj | None) -> set[str]:
    if not obj:
        return set()
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return {ref.get("uid", "") for ref in refs if isinstance(ref, dict) and ref.get("uid")}


#: the event log's default byte budget
DEFAULT_LOG_BYTES = 256 * 1024 * 1024


class Store:
    """Objects by type, namespace and name; a global RV; an event log with retention."""

    def __init__(
        self,
        log_size: int = 10_000,
        log_bytes: int = DEFAULT_LOG_BYTES,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if log_size < 1:
            raise InvalidArgument("the event log must keep at least one event")
        if log_bytes < 1:
            raise InvalidArgument("the event log's byte budget must be positive")
        self.log_size = log_size
        self.log_bytes = log_bytes
        """The byte budget of the event log (the newest change is kept whatever its size)."""
        self.retained_bytes = 0
        """The sizes of the retained changes, added up."""
        self.rv = 0
        self._types: dict[str, dict[tuple[str, str], Obj]] = {}
        self._by_uid: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[ObjectKey]] = {}
        self._log: list[LogEntry] = []
        self._log_rvs: list[int] = []
        self._start = 0  # logical start of the retained log (physically trimmed lazily)
        self._dropped_bytes = 0  # sizes of the changes before _start, still in _log
        self.compacted_rv = 0
        """Every change with an RV <= this is gone from the log."""
        self._changed: asyncio.Event | None = None  # made when asked for
        self._waiters: list[asyncio.Future[None]] = []
        self._listeners: list[Callable[[LogEntry], None]] = []
        self._monotonic = monotonic
        self.watch_cache = WatchCache()
        """The watch caches' windows, fed with every commit (time from ``monotonic``)."""

    # --- reads ----------------------------------------------------------------------

    def get(self, group_resource: str, namespace: str, name: str) -> Obj | None:
        """The stored object (shared: callers must not mutate it)."""
        bucket = self._types.get(group_resource)
        return None if bucket is None else bucket.get((namespace, name))

    def get_by_uid(self, uid: str) -> tuple[ObjectKey, Obj] | None:
        key = self._by_uid.get(uid)
        if key is None:
            return None
        obj = self.get(*key)
        return None if obj is None else (key, obj)

    def objects(self, group_resource: str, namespace: str | None = None) -> list[Obj]:
        """Current objects of a type (optionally one namespace), in key order."""
        bucket = self._types.get(group_resource) or {}
        if namespace is None:
            keys = sorted(bucket)
        else:
            keys = sorted(k for k in bucket if k[0] == namespace)
        return [bucket[k] for k in keys]

    def keys(self, group_resource: str) -> list[tuple[str, str]]:
        return list(self._types.get(group_resource) or ())

    def group_resources(self) -> list[str]:
        return [gr for gr, bucket in self._types.items() if bucket]

    def count(self, group_resource: str, namespace: str | None = None) -> int:
        bucket = self._types.get(group_resource) or {}
        if namespace is None:
            return len(bucket)
        return sum(1 for k in bucket if k[0] == namespace)

    def in_namespace(self, namespace: str) -> Iterator[tuple[str, Obj]]:
        """Every object stored in a namespace, with its group_resource."""
        for gr, bucket in list(self._types.items()):
            for key, obj in list(bucket.items()):
                if key[0] == namespace:
                    yield gr, obj

    def dependents(self, owner_uid: str) -> list[tuple[ObjectKey, Obj]]:
        """Objects whose ownerReferences name ``owner_uid``."""
        found = []
        for key in sorted(self._dependents.get(owner_uid) or ()):
            obj = self.get(*key)
            if obj is not None:
                found.append((key, obj))
        return found

    def snapshot(self, group_resource: str, rv: int) -> dict[tuple[str, str], Obj]:
        """The objects of a type as they were at ``rv`` (needs ``rv >= compacted_rv``)."""
        state = dict(self._types.get(group_resource) or {})
        start = bisect.bisect_right(self._log_rvs, rv, lo=self._start)
        for entry in reversed(self._log[start:]):
            if entry.group_resource != group_resource:
                continue
            key = (entry.namespace, entry.name)
            if entry.type == "ADDED":
                state.pop(key, None)
            else:
                assert entry.prev is not None
                state[key] = entry.prev
        return state

    # --- the event log --------------------------------------------------------------

    def entries_after(self, rv: int) -> list[LogEntry]:
        """Retained changes with an RV greater than ``rv``, oldest first."""
        start = bisect.bisect_right(self._log_rvs, rv, lo=self._start)
        return self._log[start:]

    @property
    def retained(self) -> int:
        """How many changes the log currently holds."""
        return len(self._log) - self._start

    @property
    def oldest_retained_rv(self) -> int:
        return self._log_rvs[self._start] if self.retained else self.rv + 1

    def truncate_log(self, keep: int = 0) -> None:
        """Forget all but the newest ``keep`` changes (a test hook to provoke 410)."""
        drop = max(0, self.retained - keep)
        if drop:
            gone = sum(e.size for e in self._log[self._start : self._start + drop])
            self.retained_bytes -= gone
            self._dropped_bytes += gone
            self._start += drop
            self.compacted_rv = self._log_rvs[self._start - 1]
        if keep <= 0:
            self.compacted_rv = self.rv
        self._trim()

    def _trim(self) -> None:
        """Physically drop the forgotten changes, now and then (a list's head is costly to
        delete one by one), and soon when they hold much memory."""
        if (
            self._start > 1024
            or self._start > self.log_size
            or self._dropped_bytes > self.log_bytes // 8
        ):
            del self._log[: self._start]
            del self._log_rvs[: self._start]
            self._start = 0
            self._dropped_bytes = 0

    @property
    def changed(self) -> asyncio.Event:
        """Set (and replaced) on every commit: await it to learn about the next write."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def wake_on_commit(self, future: asyncio.Future[None]) -> None:
        """Resolve ``future`` at the next commit (a watch waiting for changes: cheaper
        than a task waiting on ``changed``)."""
        if len(self._waiters) >= 64:  # waits that ended otherwise (timeouts) leave theirs
            self._waiters = [f for f in self._waiters if not f.done()]
        self._waiters.append(future)

    def add_listener(self, listener: Callable[[LogEntry], None]) -> None:
        """Called synchronously with each committed entry (the emulated controllers)."""
        self._listeners.append(listener)

    # --- writes ---------------------------------------------------------------------

    def put(self, group_resource: str, obj: Obj, size: int | None = None) -> Obj:
        """Commit a new or changed object; stamps and returns it with the next RV.

        ``obj`` becomes owned by the store: the caller must not touch it afterwards.
        ``size``: its encoded size when the caller measured it already (else measured
        here), for the event log's byte budget.
        """
        meta = obj["metadata"]
        namespace = meta.get("namespace") or ""
        name = meta["name"]
        bucket = self._types.setdefault(group_resource, {})
        key = (namespace, name)
        prev = bucket.get(key)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        bucket[key] = obj
        full_key = (group_resource, namespace, name)
        uid = meta.get("uid")
        if prev is not None:
            old_uid = (prev.get("metadata") or {}).get("uid")
            if old_uid and old_uid != uid:
                self._by_uid.pop(old_uid, None)
        if uid:
            self._by_uid[uid] = full_key
        self._reindex_owners(full_key, prev, obj)
        if size is None:
            size = len(orjson.dumps(obj))
        self._record(
            LogEntry(
                self.rv,
                "MODIFIED" if prev else "ADDED",
                group_resource,
                namespace,
                name,
                obj,
                prev,
                size,
            )
        )
        return obj

    def remove(self, group_resource: str, namespace: str, name: str) -> Obj | None:
        """Delete an object; the DELETED event carries its last state at the new RV."""
        bucket = self._types.get(group_resource)
        if bucket is None or (namespace, name) not in bucket:
            return None
        prev = bucket.pop((namespace, name))
        self.rv += 1
        last = dict(prev)
        last["metadata"] = dict(prev["metadata"])
        last["metadata"]["resourceVersion"] = str(self.rv)
        full_key = (group_resource, namespace, name)
        uid = prev["metadata"].get("uid")
        if uid and self._by_uid.get(uid) == full_key:
            del self._by_uid[uid]
        self._reindex_owners(full_key, prev, None)
        # the entry keeps the last state alive (``last`` shares its parts)
        size = len(orjson.dumps(prev))
        self._record(
            LogEntry(self.rv, "DELETED", group_resource, namespace, name, last, prev, size)
        )
        return last

    def _reindex_owners(self, key: ObjectKey, old: Obj | None, new: Obj | None) -> None:
        before = _owner_uids(old)
        after = _owner_uids(new)
        for uid in before - after:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[uid]
        for uid in after - before:
            self._dependents.setdefault(uid, set()).add(key)

    def _record(self, entry: LogEntry) -> None:
        self._log.append(entry)
        self._log_rvs.append(entry.rv)
        self.retained_bytes += entry.size
        if self.retained > self.log_size or self.retained_bytes > self.log_bytes:
            # forget the oldest changes until both bounds hold (keeping the newest)
            while self.retained > 1 and (
                self.retained > self.log_size or self.retained_bytes > self.log_bytes
            ):
                size = self._log[self._start].size
                self.retained_bytes -= size
                self._dropped_bytes += size
                self._start += 1
            self.compacted_rv = self._log_rvs[self._start - 1]
            self._trim()
        self.watch_cache.record(entry.group_resource, entry.rv, self._monotonic())
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        for listener in self._listeners:
            listener(entry)
