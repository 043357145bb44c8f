"""External sources as a scenario scripts them: items over virtual time, and faults.

A ``ScriptedSource`` stands in for one declared source. Scenario steps set its items
(``SetSourceItems``) and queue faults for its next answers (``SourceFault``): ``error``
(an HTTP 500, or a failed listing), ``timeout`` (no answer until the poller gives up),
``stale`` (the answer before the last change, as a lagging replica gives). It outlives an
operator restart, as a real source would.

For an ``HttpSource`` it is an ``HttpGet``: the runtime's own ``HttpFetcher`` sends its
conditional GETs to it, and it answers 304 while the ETag matches, so a scenario runs the
production conditional logic in virtual time. For an ``ObjectStoreSource`` it is the
fetch itself (the listing, scripted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import orjson

from kubeplan.adapters.sources.http import HttpAnswer, HttpFetcher, SourceReadError
from kubeplan.adapters.sources.poller import Fetch
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.sources import HttpSource, Item, Source, items_from_json

__all__ = ["SOURCE_FAULT_KINDS", "ScriptedSource", "SourceFaultKind"]

SourceFaultKind = Literal["error", "timeout", "stale"]
SOURCE_FAULT_KINDS: tuple[SourceFaultKind, ...] = get_args(SourceFaultKind)


class ScriptedSource:
    """One source's items and pending faults (see the module docstring)."""

    def __init__(self, name: str, source: Source) -> None:
        self.name = name
        self.source = source
        self.items: list[dict[str, Any]] = []
        self.version = 0
        self._previous: tuple[int, list[dict[str, Any]]] = (0, [])
        self.faults: list[SourceFaultKind] = []
        #: requests answered, by what they were answered with (200, 304, 500, timeout, stale)
        self.answers: dict[str, int] = {}

    def set_items(self, items: Sequence[Mapping[str, Any]]) -> None:
        """The items the source serves from now on (checked as the poller will read them:
        a list of objects with unique ids)."""
        items_from_json([dict(i) for i in items], id_field=self.source.id_field,
                        where=f"the items of source {self.name!r}")
        self._previous = (self.version, self.items)
        self.items = [dict(i) for i in items]
        self.version += 1

    def inject(self, kind: SourceFaultKind, count: int = 1) -> None:
        if kind not in SOURCE_FAULT_KINDS:
            raise InvalidArgument(f"a source fault is one of {', '.join(SOURCE_FAULT_KINDS)}, "
                                  f"got {kind!r}")
        self.faults.extend([kind] * count)

    def _count(self, what: str) -> None:
        self.answers[what] = self.answers.get(what, 0) + 1

    async def _fault(self) -> tuple[int, list[dict[str, Any]]] | None:
        """Play the next fault, if any: raise or hang for error and timeout, or give the
        (version, items) of a stale answer; None: answer truly."""
        if not self.faults:
            return None
        kind = self.faults.pop(0)
        self._count(kind)
        if kind == "timeout":
            await asyncio.sleep(self.source.timeout + 1.0)  # the poller gives up first
            raise SourceReadError("no answer (injected timeout)")
        if kind == "error":
            raise SourceReadError("scripted failure (injected fault)")
        return self._previous

    # -- an HttpGet ---------------------------------------------------------------------

    async def __call__(self, url: str, headers: Mapping[str, str],
                       timeout: float) -> HttpAnswer:
        try:
            answer = await self._fault()
        except SourceReadError:
            return HttpAnswer(500, {}, b"scripted failure (injected fault)")
        version, items = answer if answer is not None else (self.version, self.items)
        etag = f'"v{version}"'
        if headers.get("If-None-Match") == etag:
            self._count("304")
            return HttpAnswer(304, {"ETag": etag})
        self._count("200")
        source = self.source
        body: Any = items
        if isinstance(source, HttpSource) and source.items_field:
            for part in reversed(source.items_field.split(".")):
                body = {part: body}
        return HttpAnswer(200, {"ETag": etag}, orjson.dumps(body))

    # -- the fetch the runtime polls ----------------------------------------------------

    def fetch(self) -> Fetch:
        """The fetch an operator polls this source with (a new one per operator start:
        a restarted operator has no ETag)."""
        if isinstance(self.source, HttpSource):
            return HttpFetcher(self.source, self)

        async def listing() -> Mapping[str, Item] | None:
            answer = await self._fault()
            _version, items = answer if answer is not None else (self.version, self.items)
            self._count("200")
            return items_from_json(items, id_field=self.source.id_field)

        return listing
