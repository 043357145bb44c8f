"""The watch cache: the only reader syncs use (no GET per sync).

One ``WatchCache`` per watched collection (the parent type per namespace, each child
type cluster-wide with the operator's label selector). Its ``run()`` loop is the
list-then-watch state machine every informer implements:

1. LIST (paginated) -> replace the store, report the differences as changes, note the
   list's resourceVersion, mark the cache synced;
2. WATCH from that resourceVersion with bookmarks; each event updates the store and
   the resourceVersion to resume from;
3. the stream ends (server timeout, drop) -> watch again from the last resourceVersion;
   410 Expired -> relist; an error -> reconnect after a backoff;
4. no event (not even a bookmark) for ``watch_inactivity_timeout`` -> the stream is
   considered stalled and restarted. Without this a half-open connection leaves an
   operator alive but deaf forever (the "zombie operator" bug).
5. the server went back in time (an etcd restored from a backup, a cluster rebuilt):
   every resourceVersion cached is now ahead of the server, a watch from one waits for a
   future that shows nothing of the restored state (the real server sends not even
   bookmarks), and the store would never be corrected. So the cache relists, as
   client-go's reflector does for an unusable resourceVersion, when
   - a watch is refused: 410, 504 "Too large resource version", or any ERROR event;
   - the server shows a resourceVersion lower than one it showed before: a list's, a
     watch event's, or the answer to one of our writes (``observe``: a write always
     gets a newer resourceVersion than any seen before it);
   - before watching again after a stream ended (closed, stalled, failed), a one-item
     LIST (a consistent read: the server's current resourceVersion) says the server is
     behind us. One small request per reconnect, every ``watch_timeout_seconds`` or so.
   The relist replaces the store: objects gone are reported deleted, changed ones
   changed.

Objects are stored without ``metadata.managedFields`` (a large part of an object's size,
never needed to plan), and with their short strings interned: the children of one
operator come from one template, so most values (env names and values, images, label
values, paths) repeat in every object; one shared copy of each makes a cached Deployment
markedly smaller (dict keys are shared already: orjson caches them). Children are
indexed by their controller owner's uid.
``observe(obj)`` takes the answer of our own writes, so a sync that runs before the
watch event arrives already sees them; the watch event carrying the same
resourceVersion is then not reported again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

from kubeplan.adapters.backoff import Backoff
from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import ApiError, Gone, error_from_status
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.recording import Recorder
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.selectors import LabelSelector
from kubeplan.core.types import K8sType

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace or "", name)
#: called with (old, new) after the store changed: new is None on delete, old on add
ChangeListener = Callable[[RawObject | None, RawObject | None], None]


def key_of(obj: RawObject) -> Key:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _rv(obj: RawObject | None) -> int | None:
    """The resourceVersion as an int, to order our writes against watch events.

    resourceVersions are opaque by contract; every server in practice (etcd revisions,
    the fake) uses integers. A non-integer makes every comparison say "newer".
    """
    if obj is None:
        return None
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or "")
    except ValueError:
        return None


def _int_rv(rv: str | None) -> int | None:
    try:
        return int(rv) if rv else None
    except ValueError:
        return None


class _Relist(Exception):
    """The cache must list again: ``reason`` is the restart metric's label; ``pause``:
    after a backoff delay (the server refused us; it may refuse a relist too)."""

    def __init__(self, reason: str, message: str, *, pause: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.pause = pause


def _too_large(error: ApiError) -> bool:
    """504 "Too large resource version": the server has not reached the resourceVersion
    asked for (it was restored, or another API server is behind)."""
    causes = ((error.body or {}).get("details") or {}).get("causes") or ()
    return error.status == 504 and (
        any(c.get("reason") == "ResourceVersionTooLarge" for c in causes if isinstance(c, dict))
        or "too large resource version" in str(error.message).lower())


def _controller_uid(obj: RawObject) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            uid: str | None = ref.get("uid")
            return uid
    return None


_INTERN_MAX = 64  # longer strings rarely repeat (and orjson shares keys up to 64 chars)


def _intern_values(node: Any) -> None:
    """Replace short string values in a JSON tree by their interned copy, in place."""
    # exact type checks and bound methods: faster than isinstance, and this walks every
    # object the cache takes in (values decoded from JSON are exactly str, dict and list)
    intern = sys.intern
    limit = _INTERN_MAX
    stack = [node]
    pop, push = stack.pop, stack.append
    while stack:
        current = pop()
        entries = enumerate(current) if type(current) is list else current.items()
        for key, value in entries:
            kind = type(value)
            if kind is str:
                if len(value) <= limit:
                    current[key] = intern(value)
            elif kind is dict or kind is list:
                push(value)


def strip(obj: RawObject) -> RawObject:
    """Drop what planning never needs (managedFields) and intern short strings, in
    place (the object is the cache's from now on)."""
    meta = obj.get("metadata")
    if meta:
        meta.pop("managedFields", None)
    _intern_values(obj)
    return obj


class WatchCache:
    """An informer for one collection: store, owner index and the list/watch loop."""

    def __init__(
        self,
        client: ApiClient,
        type_: K8sType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        index_label: str | None = None,
        settings: RuntimeSettings | None = None,
        listener: ChangeListener | None = None,
        metrics: OperatorMetrics | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        on_server_behind: Callable[[], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.client = client
        #: records each list and watch event as the cache takes it (``kubeplan run --record``)
        self.recorder = recorder
        #: reconnect backoff sleeps on it
        self.clock: Clock = clock or SystemClock()
        #: called when this cache finds the server behind it (the runtime relists every
        #: cache: they all hold the server's lost future)
        self.on_server_behind = on_server_behind
        self._relist_reason: str | None = None  # a relist asked for (``request_relist``)
        self._watching: asyncio.Timeout | None = None  # the wait for the next event
        self.type = type_
        self.namespace = namespace
        self.label_selector = label_selector
        self._selector = LabelSelector.parse(label_selector) if label_selector else None
        self.index_label = index_label
        self.settings = settings or RuntimeSettings()
        self.listener = listener
        self.metrics = metrics
        self.synced = asyncio.Event()
        self.resource_version: str | None = None
        self.restarts: dict[str, int] = {}
        self._store: dict[Key, RawObject] = {}
        self._by_uid: dict[str, Key] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._deleted_rv: dict[Key, int] = {}
        # ``rng`` seeds the reconnect jitter (a seeded runtime replays exactly)
        self._backoff = Backoff(
            base=self.settings.watch_backoff_base, cap=self.settings.watch_backoff_cap,
            rng=rng or random.Random(),
        )

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        sel = f" [{self.label_selector}]" if self.label_selector else ""
        return f"<WatchCache {self.type}{where}{sel}: {len(self._store)} objects>"

    # -- reading --------------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> RawObject | None:
        return self._store.get((namespace or "", name))

    def get_by_uid(self, uid: str) -> RawObject | None:
        key = self._by_uid.get(uid)
        return self._store.get(key) if key else None

    def owned_by(self, owner_uid: str) -> list[RawObject]:
        """Objects whose controller ownerReference points at ``owner_uid``, or whose
        ``index_label`` says so (an object claiming a parent it is not owned by is shown to
        the planner, which reports it instead of creating over it)."""
        return [self._store[k] for k in sorted(self._by_owner.get(owner_uid, ()))]

    def __iter__(self) -> Iterator[RawObject]:
        return iter(list(self._store.values()))

    def __len__(self) -> int:
        return len(self._store)

    # -- our own writes -------------------------------------------------------------------

    def observe(self, obj: RawObject, *, written: bool = True) -> None:
        """Take the server's answer to one of our writes (``written``; else an object we
        read), unless the cache already holds something newer (the watch got there
        first). Listeners are not called: the runtime requeues the parent after a sync
        that wrote. A write answered with a resourceVersion older than the cache's means
        the server went back in time: a relist is requested instead."""
        if not obj.get("metadata", {}).get("name") or not self.type.matches(obj):
            return
        if self._selector is not None and not self._selector.matches(
                obj["metadata"].get("labels")):
            return  # outside the selection: the watch would never show it either
        key = key_of(obj)
        new_rv = _rv(obj)
        if written and self._behind(new_rv):
            self._server_behind(f"a write was answered with resourceVersion {new_rv}")
            return
        if new_rv is not None:
            known = _rv(self._store.get(key))
            if known is not None and known >= new_rv:
                return
            deleted = self._deleted_rv.get(key)
            # a read of the very version we took for deleted proves the delete did not
            # happen (our DELETE was answered 404 by something else than the store): the
            # read wins; a watch event or a write of that version never brings it back
            if deleted is not None and (deleted > new_rv or (written and deleted == new_rv)):
                return
            if deleted is not None:
                self._deleted_rv.pop(key, None)
        self._put(key, strip(obj))

    def observe_deleted(self, obj: RawObject) -> None:
        """Take our own successful DELETE of ``obj`` (matched by uid with the cached
        version): drop it now, so a sync running before the watch's DELETED event does not
        plan the same delete again. Its resourceVersion is remembered like a watched delete,
        so a lagging event can never bring it back. Listeners are not called (as in
        ``observe``); the watch event that follows finds nothing left to report."""
        meta = obj.get("metadata") or {}
        key = key_of(obj)
        current = self._store.get(key)
        if current is None or (current.get("metadata") or {}).get("uid") != meta.get("uid"):
            return
        self._remove(key)
        rv = _rv(current)
        if rv is not None:
            self._deleted_rv[key] = rv
        self._gauge()

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """List, then watch, forever; only cancellation ends it."""
        need_list = True
        check = False  # ask the server's resourceVersion before watching again
        failures = 0
        while True:
            try:
                if self._relist_reason is not None:
                    need_list = True
                if need_list:
                    await self._list()
                    need_list = check = False
                    failures = 0
                elif check:
                    await self._check_not_behind()
                    check = False
                await self._watch_once()
                self._restart("closed")
                failures = 0
                check = True
            except Gone as exc:
                self._record_error(exc)
                self._restart("expired")
                need_list = True
            except _Relist as exc:
                self._record_error(exc)
                self._restart(exc.reason)
                need_list = True
                if exc.pause:
                    failures += 1
                    delay = self._backoff.delay(failures)
                    log.warning("%s: %s; relisting in %.1fs", self, exc, delay)
                    await self.clock.sleep(delay)
                else:
                    log.warning("%s: %s; relisting", self, exc)
            except TimeoutError:
                if self._relist_reason is not None:
                    continue  # not silence: a relist was asked for (``request_relist``)
                self._restart("stalled")
                log.warning("%s: watch silent for %ss, restarting it", self,
                            self.settings.watch_inactivity_timeout)
                check = True
            except (ApiError, OSError) as exc:
                self._record_error(exc)
                failures += 1
                if isinstance(exc, ApiError) and _too_large(exc):
                    self._restart("too_large")  # our resourceVersion is the server's future
                    need_list = True
                else:
                    self._restart("error")
                    check = True
                delay = self._backoff.delay(failures)
                log.warning("%s: %s; retrying in %.1fs", self, exc, delay)
                await self.clock.sleep(delay)

    def _record_error(self, exc: BaseException) -> None:
        if self.recorder is not None:
            self.recorder.watch_error(self.type, self.namespace, self.label_selector, exc)

    def request_relist(self, reason: str) -> None:
        """Relist as soon as possible (the current watch, if any, is ended for it)."""
        if self._relist_reason is None:
            self._relist_reason = reason
        watching = self._watching
        if watching is not None and not watching.expired():
            watching.reschedule(asyncio.get_running_loop().time())

    def _behind(self, rv: int | None) -> bool:
        """Is ``rv`` lower than the collection's resourceVersion the cache holds?"""
        known = _int_rv(self.resource_version)
        return rv is not None and known is not None and rv < known

    def _server_behind(self, why: str) -> None:
        log.warning("%s: the server went back in time (%s, the cache is at %s)", self, why,
                    self.resource_version)
        self.request_relist("reset")
        if self.on_server_behind is not None:
            self.on_server_behind()

    async def _check_not_behind(self) -> None:
        """Raise ``_Relist`` if the server's current resourceVersion is lower than ours."""
        if _int_rv(self.resource_version) is None:
            return
        page = await self.client.list(self.type, self.namespace,
                                      label_selector=self.label_selector, limit=1)
        current = _int_rv((page.get("metadata") or {}).get("resourceVersion"))
        if self._behind(current):
            self._server_behind(f"it is at resourceVersion {current}")
            raise _Relist("reset", f"the server is at resourceVersion {current}, the cache "
                                   f"at {self.resource_version}")

    async def _list(self) -> None:
        reason, self._relist_reason = self._relist_reason, None
        before = self.resource_version
        items: list[RawObject] = []
        continue_: str | None = None
        while True:
            page = await self.client.list(
                self.type, self.namespace, label_selector=self.label_selector,
                limit=self.settings.list_page_size, continue_=continue_,
            )
            for item in page.get("items") or ():
                # list items may omit kind/apiVersion; watch events and handlers expect them
                item.setdefault("apiVersion", self.type.api_version)
                item.setdefault("kind", self.type.kind)
                items.append(strip(item))
            meta = page.get("metadata") or {}
            continue_ = meta.get("continue") or None
            if not continue_:
                self.resource_version = meta.get("resourceVersion") or None
                break
        if self.recorder is not None:
            self.recorder.listed(self.type, self.namespace, self.label_selector, items,
                                 self.resource_version, reason)
        self._take_list(items, before, reason)

    def replay_list(self, items: list[RawObject], resource_version: str | None) -> None:
        """Take a recorded (re)list as if this cache had made it (the testkit's replay)."""
        reason, self._relist_reason = self._relist_reason, None
        before, self.resource_version = self.resource_version, resource_version
        self._take_list([strip(copy.deepcopy(item)) for item in items], before, reason)

    def replay_event(self, event: dict[str, Any]) -> None:
        """Take a recorded watch event as if this cache's watch had brought it (the
        testkit's replay); an event that would end the watch ends nothing (the
        recording's next list is the relist that followed)."""
        with contextlib.suppress(Gone, _Relist):
            self._apply(copy.deepcopy(event))

    def _take_list(self, items: list[RawObject], before: str | None,
                   reason: str | None) -> None:
        listed_at, before_at = _int_rv(self.resource_version), _int_rv(before)
        went_back = listed_at is not None and before_at is not None and listed_at < before_at
        if went_back or reason == "reset":
            log.warning("%s: relisted at resourceVersion %s after %s: the server went back; "
                        "every object is compared whole", self, self.resource_version, before)
        fresh = {key_of(item): item for item in items}
        old_store = self._store
        self._store, self._by_uid, self._by_owner, self._deleted_rv = {}, {}, {}, {}
        for key, item in fresh.items():
            self._put(key, item)
        whole = went_back or reason == "reset"  # equal resourceVersions prove nothing then
        for key, item in fresh.items():
            old = old_store.get(key)
            if old is None or _rv(old) != _rv(item) or _rv(item) is None or (
                    whole and old != item):
                self._notify(old, item)
        for key, old in old_store.items():
            if key not in fresh:
                self._notify(old, None)
        self._gauge()
        self.synced.set()

    async def _watch_once(self) -> None:
        stream = self.client.watch(
            self.type, self.namespace, label_selector=self.label_selector,
            resource_version=self.resource_version, allow_bookmarks=True,
            timeout_seconds=self.settings.watch_timeout_seconds,
        )
        inactivity = self.settings.watch_inactivity_timeout
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            while True:
                try:
                    async with asyncio.timeout(inactivity) as self._watching:
                        event = await anext(stream)
                except StopAsyncIteration:
                    return
                finally:
                    self._watching = None
                if self.recorder is not None:
                    obj = event.get("object")
                    if isinstance(obj, dict):
                        strip(obj)
                    self.recorder.event(self.type, self.namespace, self.label_selector, event)
                self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            error = error_from_status(int(obj.get("code") or 500), obj)
            if isinstance(error, Gone):
                raise error
            if _too_large(error):
                raise _Relist("too_large", f"the watch was refused: {error}", pause=True)
            # client-go's reflector relists after any watch error it does not retry
            raise _Relist("error", f"the watch ended with an error: {error}", pause=True)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if self._behind(_int_rv(rv)):
            self._server_behind(f"a {kind} event carried resourceVersion {rv}")
            raise _Relist("reset", f"a watch event carried resourceVersion {rv}")
        if kind == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            log.warning("%s: ignoring watch event of type %r", self, kind)
            return
        key = key_of(obj)
        old = self._store.get(key)
        if kind != "DELETED" and old is not None and rv and (
                (old.get("metadata") or {}).get("resourceVersion") == rv):
            # the answer to our own write, stored already (``observe``): the same state
            self.resource_version = rv
            return
        strip(obj)
        if kind == "DELETED":
            self._remove(key)
            new_rv = _rv(obj)
            if new_rv is not None:
                self._deleted_rv[key] = new_rv
            if old is not None:
                self._notify(old, None)
        elif not self._stale_after_delete(key, old, obj):
            self._put(key, obj)
            # the answer of our own write was stored already: nothing new to report
            if old is None or _rv(old) != _rv(obj) or _rv(obj) is None:
                self._notify(old, obj)
        if rv:
            self.resource_version = rv
        self._gauge()

    def _stale_after_delete(self, key: Key, old: RawObject | None, obj: RawObject) -> bool:
        """A lagging event of an object already known deleted (``observe_deleted`` ran
        before the watch caught up): adding it back would make a sync delete it again."""
        deleted, new_rv = self._deleted_rv.get(key), _rv(obj)
        return old is None and deleted is not None and new_rv is not None and new_rv <= deleted

    # -- store bookkeeping ----------------------------------------------------------------

    def _put(self, key: Key, obj: RawObject) -> None:
        old = self._store.get(key)
        if old is not None:
            self._unindex(key, old)
        self._store[key] = obj
        self._deleted_rv.pop(key, None)
        uid = (obj.get("metadata") or {}).get("uid")
        if uid:
            self._by_uid[uid] = key
        for owner in self._owners(obj):
            self._by_owner.setdefault(owner, set()).add(key)

    def _owners(self, obj: RawObject) -> set[str]:
        owners = set()
        controller = _controller_uid(obj)
        if controller:
            owners.add(controller)
        if self.index_label:
            labelled = ((obj.get("metadata") or {}).get("labels") or {}).get(self.index_label)
            if labelled:
                owners.add(labelled)
        return owners

    def _remove(self, key: Key) -> None:
        old = self._store.pop(key, None)
        if old is not None:
            self._unindex(key, old)

    def _unindex(self, key: Key, obj: RawObject) -> None:
        uid = (obj.get("metadata") or {}).get("uid")
        if uid and self._by_uid.get(uid) == key:
            del self._by_uid[uid]
        for owner in self._owners(obj):
            keys = self._by_owner.get(owner)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[owner]

    def _notify(self, old: RawObject | None, new: RawObject | None) -> None:
        if self.listener is not None:
            try:
                self.listener(old, new)
            except Exception:  # a listener bug must not kill the watch
                log.exception("%s: change listener failed", self)

    def _restart(self, reason: str) -> None:
        self.restarts[reason] = self.restarts.get(reason, 0) + 1
        if self.metrics is not None:
            self.metrics.watch_restarts.labels(
                self.metrics.operator, self.type.key, reason
            ).inc()

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.cached_objects.labels(self.metrics.operator, self.type.key).set(
                len(self._store)
            )
