"""``SyncInputs``: what a sync reads besides its parent and children, and what is new input.

Related objects (``config.related``): one watch cache per related type (per namespace
when the config restricts namespaces); ``related_index`` maps a related object to the
parents whose selectors match it, so a change syncs exactly those parents.

External sources (``config.sources``): one ``Poller`` each; ``source_index`` maps a
changed item to the parents that read it. Each parent's last reading is kept, so the
items a sync hands to the handler say what changed since that parent's previous sync.

``status_only_change`` and ``inputs_of`` say what counts as new input: a parent event
that changed only its status is not, and a parent held by a permanent error is synced
again only once something ``inputs_of`` records has changed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import orjson

from kubeplan.adapters.cache import Key, WatchCache, key_of
from kubeplan.adapters.clock import Clock
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.sources.build import pollers_for
from kubeplan.adapters.sources.poller import Fetch, Poller
from kubeplan.core import objects
from kubeplan.core.config import OperatorConfig
from kubeplan.core.related import RelatedIndex, SelectorError, resolve_selectors
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.sources import (
    SourceChange,
    SourceError,
    SourceIndex,
    SourceItems,
    diff_items,
    resolve_source_selection,
    selected_items,
)
from kubeplan.core.types import K8sType

log = logging.getLogger(__name__)

#: parent fields whose change alone is a status write (ours, as a rule), not new input
STATUS_ONLY_META = ("resourceVersion", "managedFields")

#: what a sync read, as ``inputs_of`` records it: the parent without its status, and one
#: (type, namespace, name, version) per child, related object and source item
Inputs = tuple[RawObject, frozenset[tuple[str, str, str, str]]]


class CacheFactory(Protocol):
    """How the operator makes a watch cache (its own, or a subscription to a shared one)."""

    def __call__(self, type_: K8sType, *, listener: Callable[..., None],
                 rng: random.Random, namespace: str | None = None) -> WatchCache: ...


def status_only_change(old: RawObject | None, new: RawObject) -> bool:
    """True when ``new`` differs from ``old`` only in status (and resourceVersion)."""
    if old is None:
        return False
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if {k: v for k, v in old_meta.items() if k not in STATUS_ONLY_META} != {
        k: v for k, v in new_meta.items() if k not in STATUS_ONLY_META
    }:
        return False
    rest = ("metadata", "status")
    return {k: v for k, v in old.items() if k not in rest} == {
        k: v for k, v in new.items() if k not in rest
    }


def inputs_of(request: SyncRequest) -> Inputs:
    """What a sync read, as compared to decide whether a permanent error still stands:
    the parent without its status, and (type, namespace, name, resourceVersion) of every
    child and related object."""
    parent = {k: v for k, v in request.parent.items() if k != "status"}
    meta = {k: v for k, v in (parent.get("metadata") or {}).items()
            if k not in STATUS_ONLY_META}
    parent["metadata"] = meta
    read = frozenset(
        (type_.key, objects.namespace_of(obj) or "", objects.name_of(obj) or "",
         objects.resource_version_of(obj) or "")
        for source in (request.children, request.related) for type_, obj in source.all()
    ) | frozenset(
        (f"source/{name}", "", item_id, orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
         .decode())
        for name, items in request.sources.items() for item_id, item in items.items()
    )
    return parent, read


class SyncInputs:
    """The related objects and external sources of one operator's parents.

    ``wake(key)`` is called for each parent a change concerns (the operator queues it).
    ``namespace`` is where sources find the Secrets they read; ``fetchers`` replaces the
    fetch of named sources (the testkit scripts them)."""

    def __init__(
        self,
        config: OperatorConfig,
        client: ApiClient,
        *,
        wake: Callable[[Key], None],
        make_cache: CacheFactory,
        namespaces: Sequence[str | None],
        child_rng: Callable[[], random.Random],
        clock: Clock,
        metrics: OperatorMetrics,
        namespace: str,
        fetchers: Mapping[str, Fetch] | None = None,
    ) -> None:
        self.config = config
        self._wake = wake
        # one cache per related type, cluster-wide unless the config restricts namespaces
        self.related_caches: dict[K8sType, list[WatchCache]] = {
            type_: [
                make_cache(type_, namespace=ns, listener=self._related_listener(type_),
                           rng=child_rng())
                for ns in (namespaces if type_.namespaced else [None])
            ]
            for type_ in config.related_types
        }
        self.related_index = RelatedIndex()
        self.source_index = SourceIndex()
        self.sources: dict[str, Poller] = pollers_for(
            config, client, clock=clock, rng=child_rng, on_change=self._on_source_change,
            namespace=namespace, fetchers=fetchers,
            observe=lambda name, result: metrics.series(
                metrics.source_polls, config.name, name, result).inc(),
        ) if config.sources else {}
        # (parent key, source) -> the items that parent last read (its plans name changes)
        self._source_seen: dict[tuple[Key, str], dict[str, Any]] = {}

    @property
    def caches(self) -> list[WatchCache]:
        """The related objects' caches."""
        return [cache for caches in self.related_caches.values() for cache in caches]

    def attempted(self) -> bool:
        """Has every source made its first reading (succeeded or failed)?"""
        return all(poller.attempted.is_set() for poller in self.sources.values())

    async def wait_attempted(self) -> None:
        """Return once every source has made its first reading."""
        await asyncio.gather(*(poller.attempted.wait() for poller in self.sources.values()))

    async def close(self) -> None:
        """Close the pollers (the operator stops them with its other tasks)."""
        for poller in self.sources.values():
            await poller.close()

    # -- the indexes ----------------------------------------------------------------------

    def index(self, key: Key, parent: RawObject) -> None:
        """Record what the parent (new or changed) selects, so changes there wake it."""
        if self.related_caches:
            self._index_related(key, parent)
        if self.sources:
            self._index_sources(key, parent)

    def forget(self, key: Key) -> None:
        """The parent is gone: nothing it read wakes it, and its last readings go."""
        self.related_index.remove(key)
        self.source_index.remove(key)
        for name in self.sources:
            self._source_seen.pop((key, name), None)

    def _index_related(self, key: Key, parent: RawObject) -> None:
        try:
            self.related_index.set(key, resolve_selectors(self.config.related, parent))
        except SelectorError as exc:  # reported on the parent by its next sync
            log.warning("%s: %s", self.config.name, exc)
            self.related_index.remove(key)

    def _index_sources(self, key: Key, parent: RawObject) -> None:
        try:
            self.source_index.set(key, resolve_source_selection(self.config.sources, parent))
        except SourceError as exc:  # reported on the parent by its next sync
            log.warning("%s: %s", self.config.name, exc)
            self.source_index.remove(key)

    def _related_listener(self, type_: K8sType) -> Callable[..., None]:
        def on_related_change(old: RawObject | None, new: RawObject | None) -> None:
            affected = set()
            for obj in (old, new):
                if obj is not None:
                    affected |= self.related_index.affected(type_, obj)
            for key in sorted(affected):
                self._wake(key)

        return on_related_change

    def _on_source_change(self, name: str, ids: Any) -> None:
        """A source's items changed (``ids``), or it started or stopped failing (None):
        sync exactly the parents that read them."""
        for key in sorted(self.source_index.affected(name, ids)):
            self._wake(key)

    # -- one sync's reading ---------------------------------------------------------------

    def read(
        self, key: Key, parent: RawObject,
    ) -> tuple[Children, dict[str, SourceItems], SelectorError | SourceError | None]:
        """The related objects and source items the parent reads now, or the error that
        keeps it from reading them (a select function failed, a source it reads is
        failing): the sync reports that error instead of calling the handler."""
        related: Children = Children.empty()
        if self.related_caches:
            try:
                related = self._related_of(key, parent)
            except SelectorError as exc:
                return related, {}, exc
        sources: dict[str, SourceItems] = {}
        if self.sources:
            try:
                sources = self._sources_of(key, parent)
            except SourceError as exc:
                return related, {}, exc
        return related, sources, None

    def _related_of(self, key: Key, parent: RawObject) -> Children:
        """The related objects the parent's selectors match, read from the caches (raises
        ``SelectorError`` when a select function fails: the sync reports it)."""
        selectors = resolve_selectors(self.config.related, parent)
        self.related_index.set(key, selectors)
        found: dict[K8sType, list[RawObject]] = {}
        for type_, items in selectors.items():
            chosen: dict[tuple[str, str], RawObject] = {}
            for cache in self.related_caches[type_]:
                for selector in items:
                    if selector.names is not None and (
                        selector.namespace is not None or not type_.namespaced
                    ):
                        candidates = [cache.get(n, selector.namespace) for n in selector.names]
                    else:
                        candidates = list(cache)
                    for obj in candidates:
                        if obj is not None and selector.matches(obj):
                            chosen[key_of(obj)] = obj
            found[type_] = list(chosen.values())
        return Children.build(found)

    def _sources_of(self, key: Key, parent: RawObject) -> dict[str, SourceItems]:
        """The items of each source the parent reads, with what changed since its last
        sync; raises ``SourceError`` when a select fails or a source it reads is failing
        (the sync then fails with it, and no child is touched)."""
        selections = resolve_source_selection(self.config.sources, parent)
        self.source_index.set(key, selections)
        out: dict[str, SourceItems] = {}
        for name, selection in selections.items():
            poller = self.sources[name]
            if poller.error is not None:
                raise poller.error
            items = selected_items(poller.items, selection)
            seen = self._source_seen.get((key, name))
            change = diff_items(seen, items) if seen is not None else SourceChange()
            self._source_seen[(key, name)] = items
            out[name] = SourceItems(name, items, change)
        for name in self.sources:
            if name not in selections:
                self._source_seen.pop((key, name), None)
                out[name] = SourceItems(name)
        return out
