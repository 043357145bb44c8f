"""``HandlerCaller``: how the runtime calls the user's handler.

The handler's ``sync`` (or ``finalize``, for a parent being deleted) is called with the
``SyncRequest``; what it returns, or the exception it raised, is handed to the planner,
which reports it on the parent. A handler's exception is never fatal to the operator.

A synchronous handler runs in a daemon thread (``settings.handler_threads``), so a slow
one holds up neither the other parents nor the watches and health probes, and the sync's
timeout holds for it too. A thread cannot be killed: a call that outlives its sync runs
on, and at most one call per parent is in flight.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubeplan.adapters.cache import Key
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.adapters.threads import DaemonThreadPool
from kubeplan.core.errors import PermanentError, RetryAfter
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.request import SyncRequest

log = logging.getLogger(__name__)


class HandlerCaller:
    """Calls one operator's handler (``info``) for its syncs; ``name`` is the operator's."""

    def __init__(self, info: HandlerInfo, settings: RuntimeSettings, *, name: str) -> None:
        self.info = info
        self.settings = settings
        self.name = name
        # synchronous handlers run in these threads (made when first needed); the call in
        # flight per parent, which outlives a sync that timed out
        self._pool: DaemonThreadPool | None = None
        self._calls: dict[Key, asyncio.Future[Any]] = {}

    async def call(self, key: Key, request: SyncRequest, finalizing: bool) -> Any:
        """The handler's response, or the exception it raised (the planner reports it)."""
        info = self.info
        fn, is_async = (
            (info.finalize, info.finalize_is_async) if finalizing and info.finalize
            else (info.sync, info.sync_is_async)
        )
        try:
            if is_async or not self.settings.handler_threads:
                result = fn(request)
            else:
                result = await self._in_thread(key, fn, request)
            if (is_async or asyncio.iscoroutine(result)) and isinstance(result, Awaitable):
                return await result
            return result
        except asyncio.CancelledError:
            raise
        except (PermanentError, RetryAfter) as exc:  # deliberate: said what to do next
            log.info("%s: handler on %s: %r", self.name, request.describe(), exc)
            return exc
        except Exception as exc:  # the user's bug: reported on the parent, never fatal
            log.warning("%s: handler raised on %s: %r", self.name, request.describe(), exc)
            return exc

    async def _in_thread(self, key: Key, fn: Callable[[SyncRequest], Any],
                         request: SyncRequest) -> Any:
        """``fn(request)`` in one of the handler threads.

        A call that outlives its sync's timeout runs on, and its result is dropped. A
        sync of a parent whose last call still runs waits for that one first (within its
        own timeout) instead of starting another, so a stuck handler holds one thread per
        stuck parent, and at most ``2 * workers`` threads exist (calls beyond them wait
        for a free thread)."""
        previous = self._calls.get(key)
        if previous is not None and not previous.done():
            log.warning("%s: the handler's last call for %s/%s is still running; waiting "
                        "for it before calling again", self.name, *key)
            await asyncio.wait({previous})  # never cancels it: it is the thread's state
        if self._pool is None:
            self._pool = DaemonThreadPool(
                2 * self.settings.workers, name=f"kubeplan-{self.name}-handler")
        call = asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(contextvars.copy_context().run, fn, request))
        self._calls[key] = call

        def finished(done: asyncio.Future[Any]) -> None:
            if self._calls.get(key) is done:
                del self._calls[key]
            if not done.cancelled():
                done.exception()  # retrieved: a call that outlived its sync raised unseen

        call.add_done_callback(finished)
        # shielded: a timeout cancels the wait, not the record of the running thread
        return await asyncio.shield(call)

    def close(self) -> None:
        """Give up the threads. A call still running (a stuck handler) cannot be stopped;
        it is not waited for, and its daemon thread does not hold the process at exit."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
