"""Watch streams: the event log replayed and followed, as the watch cache serves it.

A watch is an async generator of raw events ``{"type", "object"}``. It starts from a
resourceVersion (only later changes), or from a snapshot (synthetic ``ADDED`` for
every current match; with ``sendInitialEvents`` followed by the
``k8s.io/initial-events-end`` bookmark), then follows the log, woken by the store's
per-write event rather than by polling. Selector transitions follow the cacher:
an object that starts matching arrives as ``ADDED``, one that stops matching as
``DELETED``. Bookmarks (when allowed) come every ``bookmark_interval`` seconds of
clock time, and the stream ends cleanly at ``timeoutSeconds``. A start RV older than
the resource's watch cache window (``watchcache.py``) or the retained log yields one
``ERROR`` event (410 Expired) and ends. A start RV the
server has not reached is waited for; with ``sendInitialEvents`` only for 3 seconds,
then one ``ERROR`` event (504 Timeout, ResourceVersionTooLarge) ends the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
import orjson

from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.clock import Clock, SystemClock
from kubeplan.testkit.apiserver.registry import Registry, ResourceInfo
from kubeplan.testkit.apiserver.store import LogEntry, Obj, Store

__all__ = ["WatchSpec", "watch_events"]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@attrs.frozen
class WatchSpec:
    """Everything a watch needs to know about what to send."""

    info: ResourceInfo
    namespace: str | None = None
    label_selector: Any = None
    field_selector: Any = None
    start_rv: int | None = None
    send_initial_events: bool = False
    allow_bookmarks: bool = False
    timeout_seconds: float = 1800.0
    bookmark_interval: float = 60.0
    drop_after: int | None = None
    stall_after: int | None = None


def _matcher(spec: WatchSpec) -> Callable[[Obj | None], bool]:
    label = spec.label_selector
    field = spec.field_selector
    namespace = spec.namespace

    def matches(obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if namespace is not None and (meta.get("namespace") or "") != namespace:
            return False
        if label is not None and not label.matches(meta.get("labels") or {}):
            return False
        return field is None or field.matches(obj)

    return matches


def expired_event(requested: int, oldest: int) -> dict[str, Any]:
    body = status.status_body(410, "Expired", f"too old resource version: {requested} ({oldest})")
    return {"type": "ERROR", "object": body}


def too_large_event(requested: int, current: int) -> dict[str, Any]:
    """The ERROR event of a watch whose RV the server did not reach in time."""
    body = status.status_body(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )
    return {"type": "ERROR", "object": body}


#: how long (clock seconds) the watch cache waits for a resourceVersion it has not
#: reached (``blockTimeout`` in the apiserver's cacher)
TOO_LARGE_RV_WAIT = 3.0


async def _wait_for_rv(
    store: Store, closing: asyncio.Event, clock: Clock, rv: int, seconds: float
) -> bool:
    """Wait until the store reaches ``rv`` (True) or ``seconds`` pass (False)."""
    deadline = clock.now() + timedelta(seconds=seconds)
    wakeup = _Wakeup(store, closing, clock)
    try:
        while store.rv < rv:
            now = clock.now()
            if closing.is_set() or now >= deadline:
                return False
            await wakeup.wait(deadline, now)
        return True
    finally:
        wakeup.close()


def _transition(entry: LogEntry, matches: Callable[[Obj | None], bool]) -> tuple[str, Obj] | None:
    if entry.type == "ADDED":
        return ("ADDED", entry.obj) if matches(entry.obj) else None
    if entry.type == "DELETED":
        return ("DELETED", entry.obj) if matches(entry.prev) else None
    now_match = matches(entry.obj)
    was_match = matches(entry.prev)
    if now_match and was_match:
        return "MODIFIED", entry.obj
    if now_match:
        return "ADDED", entry.obj
    if was_match:
        assert entry.prev is not None
        gone = dict(entry.prev)
        gone["metadata"] = {**entry.prev["metadata"], "resourceVersion": str(entry.rv)}
        return "DELETED", gone
    return None


#: loop iterations a woken watch lets pass before it reads the log (see below)
_COALESCE_TURNS = 5


async def _let_the_burst_commit() -> None:
    """Yield a few turns of the event loop before reading the log after a wake-up.

    A commit wakes every watch at once, and the requests being served in the same burst
    commit more right after. Read at once, each change goes out in a write (a syscall and
    an HTTP chunk) of its own, to each watcher; after a few turns, one write carries the
    burst (bench/NOTES.md has the measurement: a fraction of the writes, less CPU). No
    time passes (not even in virtual time): an idle server delivers as promptly as before;
    events and their order are untouched.
    """
    for _ in range(_COALESCE_TURNS):
        await asyncio.sleep(0)


class _Wakeup:
    """How an idle watch waits: until the next commit, the server closing, or a time.

    One future per wait, resolved by the store on commit, by a long-lived task on
    ``closing``, or by a timer. Three tasks per wait cost more than the rest of serving
    an event. The timer: for the system clock one loop timer per wake-up time, kept
    across waits (the time only moves when a bookmark is sent); for other clocks a
    ``clock.sleep`` task per wait, as virtual time orders its timers by when they were
    set.
    """

    def __init__(self, store: Store, closing: asyncio.Event, clock: Clock) -> None:
        self._store = store
        self._closing = closing
        self._clock = clock
        self._future: asyncio.Future[None] | None = None
        self._closing_task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: datetime | None = None
        self._timer_fired = False

    def _wake(self, _: Any = None) -> None:
        """Wake the wait in progress (``closing`` was set, or the time came)."""
        if self._future is not None:
            _resolve(self._future)

    def _ring(self) -> None:
        self._timer_fired = True
        self._wake()

    async def wait(self, wake_at: datetime, now: datetime) -> None:
        loop = asyncio.get_running_loop()
        if self._closing_task is None:
            self._closing_task = asyncio.ensure_future(self._closing.wait())
            self._closing_task.add_done_callback(self._wake)
        self._future = future = loop.create_future()
        self._store.wake_on_commit(future)
        delay = max(0.0, (wake_at - now).total_seconds())
        sleeper: asyncio.Future[None] | None = None
        if type(self._clock) is SystemClock:
            if self._timer is None or self._timer_fired or self._timer_at != wake_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_later(delay, self._ring)
                self._timer_at = wake_at
                self._timer_fired = False
        else:
            sleeper = asyncio.ensure_future(self._clock.sleep(delay))
            # resolves this wait's own future: a cancelled sleeper's callback runs later
            # and must not wake the next wait
            sleeper.add_done_callback(lambda _: _resolve(future))
        try:
            await future
        finally:
            self._future = None
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()

    def close(self) -> None:
        if self._closing_task is not None and not self._closing_task.done():
            self._closing_task.cancel()
        if self._timer is not None:
            self._timer.cancel()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WatchEvent(dict):  # type: ignore[type-arg]
    """A watch event that also carries its JSON line (``line``), serialised once for
    every watcher of the same change, for faces that write events as JSON lines.

    ``more``: the stream yields another event right after this one without waiting, so
    a face may write them together (kube-apiserver flushes when no event is queued).
    """

    __slots__ = ("line", "more")

    def __init__(self, type_: str, obj: Obj, line: bytes) -> None:
        super().__init__(type=type_, object=obj)
        self.line = line
        self.more = False


# (event type, id(stored object), apiVersion shown) -> (stored object, JSON line). The
# stored object is held so its id cannot be reused while the entry lives, and stored
# objects never change, so a line stays right for as long as it is kept.
_LINES: dict[tuple[str, int, str], tuple[Obj, bytes]] = {}
_LINES_KEPT = 256


def _encoded(
    type_: str, obj: Obj, info: ResourceInfo, present: Callable[[Obj, ResourceInfo], Obj]
) -> WatchEvent:
    shown = present(obj, info)
    key = (type_, id(obj), info.api_version)
    hit = _LINES.get(key)
    if hit is not None and hit[0] is obj:
        return WatchEvent(type_, shown, hit[1])
    line = orjson.dumps({"type": type_, "object": shown}, option=orjson.OPT_APPEND_NEWLINE)
    _LINES[key] = (obj, line)
    if len(_LINES) > _LINES_KEPT:
        del _LINES[next(iter(_LINES))]
    return WatchEvent(type_, shown, line)


async def watch_events(
    spec: WatchSpec,
    *,
    store: Store,
    registry: Registry,
    clock: Clock,
    present: Callable[[Obj, ResourceInfo], Obj],
    closing: asyncio.Event,
    encode: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """The event stream of one watch (see the module docstring).

    ``encode``: object events are ``WatchEvent``s carrying their JSON line (then
    ``present`` must show stored objects unchanged: their lines are shared).
    """
    info = spec.info
    gr = info.group_resource
    matches = _matcher(spec)
    deadline = clock.now() + timedelta(seconds=spec.timeout_seconds)
    interval = timedelta(seconds=spec.bookmark_interval)
    next_bookmark = clock.now() + interval
    sent = 0
    limit = spec.drop_after if spec.drop_after is not None else spec.stall_after

    def bookmark(rv: int, initial_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return {
            "type": "BOOKMARK",
            "object": {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta},
        }

    initial: list[dict[str, Any]] = []
    if spec.send_initial_events and spec.start_rv is not None and spec.start_rv > store.rv:
        # The watch cache waits (3 s) to reach the RV before it lists the initial events,
        # then gives up with 504 (a watch from a future RV without them just waits).
        reached = await _wait_for_rv(store, closing, clock, spec.start_rv, TOO_LARGE_RV_WAIT)
        if not reached:
            if not closing.is_set():
                yield too_large_event(spec.start_rv, store.rv)
            return
    if spec.start_rv is None or spec.send_initial_events:
        last = store.rv
        for obj in store.objects(gr, spec.namespace):
            if matches(obj):
                initial.append({"type": "ADDED", "object": obj})
        if spec.send_initial_events and spec.allow_bookmarks:
            # the end marker is a bookmark: only clients that take bookmarks get it
            initial.append(bookmark(last, initial_end=True))
    else:
        last = spec.start_rv
        if last < store.compacted_rv:
            yield expired_event(last, store.oldest_retained_rv)
            return
        oldest = store.watch_cache.oldest(gr, store.rv)
        if last < oldest:  # before the resource's watch cache window
            yield expired_event(last, oldest)
            return

    def registered() -> bool:
        return registry.lookup(info.group, info.version, info.plural) is not None

    wakeup = _Wakeup(store, closing, clock)
    try:
        pending = initial
        while True:
            for index, event in enumerate(pending):
                if limit is not None and sent >= limit:
                    break
                if event["type"] != "BOOKMARK":
                    try:
                        if encode:
                            event = _encoded(event["type"], event["object"], info, present)
                            event.more = index + 1 < len(pending) and (
                                limit is None or sent + 1 < limit
                            )
                        else:
                            event = {"type": event["type"],
                                     "object": present(event["object"], info)}
                    except status.StatusError:
                        # an event that does not convert (its conversion webhook failed)
                        # ends the watch, as the real server's encoder does
                        return
                yield event
                sent += 1
            if limit is not None and sent >= limit:
                if spec.drop_after is not None:
                    return
                await closing.wait()  # stalled: stay open, say nothing
                return
            if closing.is_set() or clock.now() >= deadline or not registered():
                return
            now = clock.now()
            if spec.allow_bookmarks and now >= next_bookmark:
                yield bookmark(last)
                next_bookmark = now + interval
                pending = []  # sent already: the loop goes round to read the log
                continue
            if last < store.compacted_rv:
                yield expired_event(last, store.oldest_retained_rv)
                return
            entries = store.entries_after(last)
            if not entries:
                wake_at = min(deadline, next_bookmark) if spec.allow_bookmarks else deadline
                await wakeup.wait(wake_at, now)
                await _let_the_burst_commit()
                if last < store.compacted_rv:
                    # the log was compacted while we waited: events we never sent are gone,
                    # so the client must relist (skipping ahead would silently lose them)
                    yield expired_event(last, store.oldest_retained_rv)
                    return
                entries = store.entries_after(last)
            pending = []
            for entry in entries:
                if entry.group_resource != gr:
                    continue
                change = _transition(entry, matches)
                if change is not None:
                    pending.append({"type": change[0], "object": change[1]})
            if entries:
                last = entries[-1].rv
    finally:
        wakeup.close()
