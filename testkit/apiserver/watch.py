"""Watch streams: the event log replayed and followed, as the watch cache serves it.

A watch is an async generator of raw events ``{"type", "object"}``. It starts from a
resourceVersion (only later changes), or from a snapshot (synthetic ``ADDED`` for
every current match; with ``sendInitialEvents`` followed by the
``k8s.io/initial-events-end`` bookmark), then follows the log, woken by the store's
per-write event rather than by polling. Selector transitions follow the cacher:
an object that starts matching arrives as ``ADDED``, one that stops matching as
``DELETED``. Bookmarks (when allowed) come every ``bookmark_interval`` seconds of
clock time, and the stream ends cleanly at ``timeoutSeconds``. A start RV older than
the retained log yields one ``ERROR`` event (410 Expired) and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import attrs
from kubeplan.testkit.apiserver import status
from kubeplan.testkit.apiserver.clock import Clock
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


async def _wait_any(*awaitables: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if task.cancelled():
                continue
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()


async def watch_events(
    spec: WatchSpec,
    *,
    store: Store,
    registry: Registry,
    clock: Clock,
    present: Callable[[Obj, ResourceInfo], Obj],
    closing: asyncio.Event,
) -> AsyncIterator[dict[str, Any]]:
    """The event stream of one watch (see the module docstring)."""
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
    if spec.start_rv is None or spec.send_initial_events:
        last = store.rv
        for obj in store.objects(gr, spec.namespace):
            if matches(obj):
                initial.append({"type": "ADDED", "object": obj})
        if spec.send_initial_events:
            initial.append(bookmark(last, initial_end=True))
    else:
        last = spec.start_rv
        if last < store.compacted_rv:
            yield expired_event(last, store.oldest_retained_rv)
            return

    def registered() -> bool:
        return registry.lookup(info.group, info.version, info.plural) is not None

    pending = initial
    while True:
        for event in pending:
            if limit is not None and sent >= limit:
                break
            if event["type"] != "BOOKMARK":
                event = {"type": event["type"], "object": present(event["object"], info)}
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
            continue
        changed = store.changed
        if last < store.compacted_rv:
            yield expired_event(last, store.oldest_retained_rv)
            return
        entries = store.entries_after(last)
        if not entries:
            wake_at = min(deadline, next_bookmark) if spec.allow_bookmarks else deadline
            delay = max(0.0, (wake_at - now).total_seconds())
            await _wait_any(changed.wait(), closing.wait(), clock.sleep(delay))
            if last < store.compacted_rv:
                # the log was compacted while we waited: events we never sent are gone, so
                # the client must relist (skipping ahead would silently lose them)
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
