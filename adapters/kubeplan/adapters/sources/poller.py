"""The polling loop every external source shares.

A ``Poller`` calls its ``fetch`` (one reading of the source: its items by id, or None for
"unchanged since the last reading", an HTTP 304), every ``interval`` seconds scaled by a
random factor within ``1 ± jitter``; a fetch that raises or outlives ``timeout`` is a
failure, retried after an exponential backoff (``kubeplan.adapters.backoff.Backoff``).

After each reading the poller tells the runtime which item ids changed
(``on_change(name, ids)``); when the source starts or stops failing it tells it that every
reader is affected (``ids`` None), since their syncs fail, or may succeed again. While it
fails, ``error`` holds the ``SourceError`` the parents that read it are given and
``items`` keeps the last good reading (never handed to a handler meanwhile).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from kubeplan.adapters.backoff import Backoff
from kubeplan.adapters.clock import Clock
from kubeplan.core.sources import Item, Source, SourceError, diff_items

__all__ = ["Fetch", "OnChange", "Poller"]

log = logging.getLogger(__name__)

#: one reading of a source: id -> item, or None when the source says nothing changed
Fetch = Callable[[], Awaitable[Mapping[str, Item] | None]]
#: told the ids that changed (None: every reader of the source)
OnChange = Callable[[str, Iterable[str] | None], None]


class Poller:
    """One source polled until cancelled; see the module docstring."""

    def __init__(self, name: str, source: Source, fetch: Fetch, *, clock: Clock,
                 rng: random.Random, on_change: OnChange | None = None,
                 close: Callable[[], Awaitable[None]] | None = None,
                 observe: Callable[[str, str], None] | None = None) -> None:
        self.name = name
        self.source = source
        self.fetch = fetch
        self.clock = clock
        self.rng = rng
        self.on_change = on_change
        self._close = close
        #: told each reading's result: read, unchanged (304) or failed (the metrics)
        self.observe = observe
        self.items: Mapping[str, Item] = MappingProxyType({})
        self.error: SourceError | None = None
        #: set once the first reading has been tried (succeeded or failed)
        self.attempted = asyncio.Event()
        self.backoff = Backoff(base=source.backoff_base, cap=source.backoff_cap,
                               jitter=0.2, rng=rng)
        self.failures = 0
        #: fetches made and readings that found a change (for metrics and the bench)
        self.fetches = 0
        self.changes = 0

    def __repr__(self) -> str:
        return f"<Poller {self.name}: {self.source.describe()}>"

    async def run(self) -> None:
        while True:
            await self.poll_once()
            await self.clock.sleep(self.next_delay())

    def next_delay(self) -> float:
        """The wait before the next reading: backoff after a failure, else the jittered
        interval."""
        if self.failures:
            return self.backoff.delay(self.failures)
        jitter = self.source.jitter
        return self.source.interval * (self.rng.uniform(1 - jitter, 1 + jitter) if jitter
                                       else 1.0)

    async def poll_once(self) -> None:
        """One reading: the items updated and the runtime told, or the failure noted."""
        self.fetches += 1
        try:
            async with asyncio.timeout(self.source.timeout):
                found = await self.fetch()
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._failed(f"no answer within {self.source.timeout:g}s")
            return
        except Exception as exc:  # the source's fault, reported on the parents that read it
            self._failed(str(exc) or type(exc).__name__)
            return
        finally:
            self.attempted.set()
        recovered = self.error is not None
        self.error, self.failures = None, 0
        self._observed("unchanged" if found is None else "read")
        if recovered:
            log.info("source %s: answering again", self.name)
        if found is None:  # unchanged
            if recovered:
                self._tell(None)
            return
        change = diff_items(self.items, found)
        self.items = MappingProxyType(dict(found))
        if change:
            self.changes += 1
        if recovered:
            self._tell(None)
        elif change:
            self._tell(change.ids)

    def _observed(self, result: str) -> None:
        if self.observe is not None:
            self.observe(self.name, result)

    def _failed(self, message: str) -> None:
        self._observed("failed")
        first = self.error is None
        self.failures += 1
        self.error = SourceError(self.name, f"{self.source.describe()}: {message}")
        log.warning("source %s: %s (failure %d)", self.name, message, self.failures)
        if first:
            self._tell(None)

    def _tell(self, ids: Iterable[str] | None) -> None:
        if self.on_change is not None:
            self.on_change(self.name, ids)

    async def close(self) -> None:
        if self._close is not None:
            await self._close()

    def stats(self) -> dict[str, Any]:
        return {"fetches": self.fetches, "changes": self.changes, "failures": self.failures,
                "items": len(self.items)}
