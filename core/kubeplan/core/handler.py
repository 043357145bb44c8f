"""The handler protocol: what a user writes, and how kubeplan looks at it.

A handler is either a plain function ``sync(request) -> SyncResponse`` or an object with a
``sync`` method and, optionally, a ``finalize(request) -> FinalizeResponse`` method. Either may
be ``async def``. The core only describes the handler (``HandlerInfo.of``); calling it, and
awaiting it, is the adapters' job, so this module needs no event loop.

Only a handler with ``finalize`` gets a finalizer on its parents: without one there is nothing to
wait for, and Kubernetes garbage collection removes the children through their ownerReferences.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

import attrs

from kubeplan.core.errors import WrongArgumentType
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse

__all__ = ["FinalizeFn", "Handler", "HandlerInfo", "SyncFn"]

SyncFn = Callable[[SyncRequest], "SyncResponse | Awaitable[SyncResponse]"]
FinalizeFn = Callable[[SyncRequest], "FinalizeResponse | Awaitable[FinalizeResponse]"]


@runtime_checkable
class Handler(Protocol):
    """An object handler: ``sync`` is required, ``finalize`` optional (not part of the protocol)."""

    def sync(self, request: SyncRequest) -> SyncResponse | Awaitable[SyncResponse]: ...


def _is_async(fn: Callable[..., Any]) -> bool:
    # A function (or functools.partial of one), or an object whose __call__ is async.
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _describe(handler: Any) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__qualname__


@attrs.frozen
class HandlerInfo:
    """What kubeplan needs to know about a handler to call it and to plan around it."""

    sync: SyncFn
    finalize: FinalizeFn | None = None
    sync_is_async: bool = False
    finalize_is_async: bool = False
    name: str = ""

    @property
    def has_finalize(self) -> bool:
        return self.finalize is not None

    @classmethod
    def of(cls, handler: Any) -> HandlerInfo:
        """Describe a function or an object with ``sync`` (and maybe ``finalize``).

        Raises TypeError with the expected shapes for anything else (a class instead of an
        instance, a non-callable ``sync`` or ``finalize``, ...).
        """
        if isinstance(handler, HandlerInfo):
            return handler
        if isinstance(handler, type):
            raise WrongArgumentType(
                f"the handler {handler.__qualname__} is a class: pass an instance "
                f"({handler.__qualname__}()) or a sync function"
            )
        sync = getattr(handler, "sync", None)
        if sync is not None:
            if not callable(sync):
                raise WrongArgumentType(f"{_describe(handler)}.sync is not callable")
            finalize = getattr(handler, "finalize", None)
            if finalize is not None and not callable(finalize):
                raise WrongArgumentType(f"{_describe(handler)}.finalize is not callable")
            return cls(
                sync=sync,
                finalize=finalize,
                sync_is_async=_is_async(sync),
                finalize_is_async=finalize is not None and _is_async(finalize),
                name=type(handler).__qualname__,
            )
        if callable(handler):
            return cls(
                sync=handler,
                sync_is_async=_is_async(handler),
                name=getattr(handler, "__qualname__", type(handler).__qualname__),
            )
        raise WrongArgumentType(
            "a handler is a function sync(request) -> SyncResponse, or an object with a "
            "sync(request) method and optionally finalize(request) -> FinalizeResponse; "
            f"got {handler!r:.100} ({type(handler).__name__})"
        )
