"""A handler wrapper that counts calls per parent and raises the alarm on a hot loop.

The runner cannot see inside the runtime, but it does sit between the runtime and the
user's handler: wrapping ``sync`` and ``finalize`` tells it how often each parent was synced
or finalized, what finalize answered (for ``assert_finalized``) and how many children the
handler asked for (the default write bound). It is also the hot-loop detector: under
virtual time a hot loop never lets the clock move, so no timeout can end it; counting
calls per parent at one virtual instant can. Roperator's testkit noted the same gap ("a
proper required quiet period hot-loop detector is still missing").
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from kubeplan.core.errors import HandlerError, PermanentError
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.objects import name_of, namespace_of, resource_version_of, uid_of
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.testkit.trace import HandlerCalls, describe_key

__all__ = ["InstrumentedHandler"]


class InstrumentedHandler:
    """Wraps a handler; ``sync``/``finalize`` become async (the runtime awaits them).

    ``same_instant_limit``: calls for one parent at one virtual instant before the alarm
    is set (``alarm_message`` says which parent and how often), plus two for each child
    the call observes: a rollout replaces children one sync after another (a delete
    and a create each) without virtual time moving, and that is progress, not a loop.
    ``raise_alarm`` lets the runner raise it for other reasons (e.g. too many plans that
    write).
    """

    def __init__(
        self,
        handler: Any,
        *,
        clock: Callable[[], float],
        same_instant_limit: int = 40,
        on_call: Callable[[SyncRequest], None] | None = None,
    ) -> None:
        self.info = HandlerInfo.of(handler)
        #: told of each call before the handler runs (the simulation marks where a plan
        #: starts in the request log: the plan follows the call without another request)
        self.on_call = on_call
        self.clock = clock
        self.same_instant_limit = same_instant_limit
        self.calls: dict[str, HandlerCalls] = {}
        self.total = 0
        self.alarm = asyncio.Event()
        self.alarm_message = ""
        self._instant: dict[str, tuple[float, int]] = {}
        # parent uid -> the inputs of its last call, when that call raised PermanentError
        self._held: dict[str, Any] = {}
        self.sync = self._wrap(self.info.sync, self.info.sync_is_async, finalize=False)
        if self.info.finalize is not None:
            self.finalize = self._wrap(
                self.info.finalize, self.info.finalize_is_async, finalize=True
            )

    def _wrap(self, fn: Callable[..., Any], is_async: bool, *, finalize: bool) -> Any:
        # Always async (the runtime awaits it). The in-process client yields once per
        # request, so a runtime that requeues a parent at once still lets the runner see
        # the alarm.
        async def call(request: SyncRequest) -> Any:
            self._before(request, finalize)
            if self.on_call is not None:
                self.on_call(request)
            try:
                result = fn(request)
                if is_async or inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self._raised(request, exc)
                raise
            self._held.pop(uid_of(request.parent) or "", None)
            self._after(request, result)
            return result

        return call

    def _stats(self, request: SyncRequest) -> HandlerCalls:
        return self.calls.setdefault(uid_of(request.parent) or "", HandlerCalls())

    def _before(self, request: SyncRequest, finalize: bool) -> None:
        stats = self._stats(request)
        held = self._held.get(uid_of(request.parent) or "")
        if held is not None and held == _inputs(request):
            stats.repeated_permanent += 1
            if stats.first_repeat is None:
                stats.first_repeat = self.clock()
        if finalize:
            stats.finalizes += 1
        else:
            stats.syncs += 1
        self.total += 1
        uid = uid_of(request.parent) or ""
        now = self.clock()
        at, count = self._instant.get(uid, (now, 0))
        count = count + 1 if at == now else 1
        self._instant[uid] = (now, count)
        if self.alarm.is_set() or count <= self.same_instant_limit + 2 * len(request.children):
            return
        where = describe_key(namespace_of(request.parent), name_of(request.parent))
        self.raise_alarm(
                f"hot loop: parent {where} was synced {count} times at t={now:.3f}s "
                "without virtual time moving (each sync causes another: a write that "
                "never settles, e.g. a status that depends on the clock or on the order "
                "of the observed children)"
        )

    def forget_held_for(self, parent_uid: str | None) -> None:
        """A plan for this parent failed to write (its error status among them): syncing
        it again to get the writes done is a retry of the writes, not of the error."""
        self._held.pop(parent_uid or "", None)

    def forget_held(self) -> None:
        """The operator restarted: its memory of permanent errors is gone, so a call on
        unchanged inputs is no longer a repeat."""
        self._held.clear()

    def raise_alarm(self, message: str) -> None:
        if not self.alarm.is_set():
            self.alarm_message = message
            self.alarm.set()

    def _raised(self, request: SyncRequest, error: Exception) -> None:
        stats = self._stats(request)
        stats.raised += 1
        uid = uid_of(request.parent) or ""
        inner = error.error if isinstance(error, HandlerError) else error
        if isinstance(inner, PermanentError):
            stats.permanent += 1
            stats.where = describe_key(namespace_of(request.parent), name_of(request.parent))
            self._held[uid] = _inputs(request)
        else:
            self._held.pop(uid, None)

    def _after(self, request: SyncRequest, result: Any) -> None:
        stats = self._stats(request)
        if isinstance(result, SyncResponse | FinalizeResponse):
            children = result.children
            if isinstance(children, tuple):
                stats.max_children = max(stats.max_children, len(children))
        if isinstance(result, FinalizeResponse) and result.finalized:
            stats.finalized += 1


def _inputs(request: SyncRequest) -> tuple[Any, ...]:
    """What a permanent error may not be retried on unchanged (the testkit's own reading
    of the rule, not the runtime's code): the parent's metadata but its resourceVersion
    and managedFields, every top-level field but status, and each child's and related
    object's resourceVersion."""
    parent = request.parent
    meta = {k: v for k, v in (parent.get("metadata") or {}).items()
            if k not in ("resourceVersion", "managedFields")}
    rest = {k: v for k, v in parent.items() if k not in ("metadata", "status")}
    read = sorted(
        (str(type_), namespace_of(obj) or "", name_of(obj) or "",
         resource_version_of(obj) or "")
        for source in (request.children, request.related) for type_, obj in source.all())
    return (meta, rest, tuple(read))
