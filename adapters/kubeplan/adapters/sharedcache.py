"""Watch caches shared by several operators in one process.

``SharedCaches`` hands out one ``SharedWatchCache`` per collection, keyed by (type,
namespace, label selector, owner-index label): two operators that watch the same
collection get the same cache, so the process holds one copy of each object and makes one
LIST and one WATCH for it. Each operator subscribes with its own listener (events go to
its own queue), its own metrics (``kubeplan_cached_objects`` and
``kubeplan_watch_restarts`` are reported under every reader's ``operator`` label) and its
own "the server went back in time" hook. The owner index is by uid, which is unique
across the cluster, so one index serves every reader.

The caches are run by whoever holds the ``SharedCaches`` (``OperatorGroup``), never by the
operators reading them: one operator stopping does not end a watch another still reads.

An operator's own writes enter a cache through ``observe`` without calling its listener
(the runtime requeues the parent after a sync that wrote, and the watch event that follows
carries a resourceVersion already stored, so it is not reported again). In a shared cache
the other readers would then never hear of the change: ``observe`` and
``observe_deleted`` tell every reader but the one writing (``metrics.current_operator``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator

import attrs

from kubeplan.adapters.cache import ChangeListener, WatchCache, key_of
from kubeplan.adapters.clock import Clock
from kubeplan.adapters.metrics import OperatorMetrics, current_operator
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.types import K8sType

__all__ = ["CacheKey", "SharedCaches", "SharedWatchCache"]

log = logging.getLogger(__name__)

#: what makes two caches the same collection
CacheKey = tuple[K8sType, str | None, str | None, str | None]


@attrs.frozen
class _Reader:
    operator: str
    listener: ChangeListener
    metrics: OperatorMetrics
    on_server_behind: Callable[[], None]


class SharedWatchCache(WatchCache):
    """A ``WatchCache`` with several readers; ``owner`` is the first (its name labels the
    cache's own API requests, so that each request is counted once)."""

    def __init__(
        self,
        client: ApiClient,
        type_: K8sType,
        *,
        owner: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        index_label: str | None = None,
        settings: RuntimeSettings | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            client, type_, namespace=namespace, label_selector=label_selector,
            index_label=index_label, settings=settings, listener=self._tell_readers,
            metrics=None, rng=rng, clock=clock, on_server_behind=self._behind_for_all,
        )
        self.owner = owner
        self._readers: list[_Reader] = []

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", read by {', '.join(self.readers)}>"

    @property
    def readers(self) -> list[str]:
        """The names of the operators reading this cache, in subscription order."""
        return [reader.operator for reader in self._readers]

    def subscribe(self, operator: str, listener: ChangeListener, metrics: OperatorMetrics,
                  on_server_behind: Callable[[], None]) -> None:
        if operator in self.readers:
            raise InvalidArgument(f"{self!r}: operator {operator!r} subscribed twice")
        self._readers.append(_Reader(operator, listener, metrics, on_server_behind))
        self._gauge()

    # -- fan-out --------------------------------------------------------------------------

    def _tell_readers(self, old: RawObject | None, new: RawObject | None, *,
                      skip: str | None = None) -> None:
        for reader in list(self._readers):
            if reader.operator == skip:
                continue
            try:
                reader.listener(old, new)
            except Exception:  # one reader's bug must not keep the event from the others
                log.exception("%s: change listener of %s failed", self, reader.operator)

    def _behind_for_all(self) -> None:
        for reader in list(self._readers):
            reader.on_server_behind()

    def observe(self, obj: RawObject, *, written: bool = True) -> None:
        key = key_of(obj)
        before = self._store.get(key)
        super().observe(obj, written=written)
        after = self._store.get(key)
        if after is not None and after is not before:
            self._tell_readers(before, after, skip=current_operator.get())

    def observe_deleted(self, obj: RawObject) -> None:
        key = key_of(obj)
        before = self._store.get(key)
        super().observe_deleted(obj)
        if before is not None and key not in self._store:
            self._tell_readers(before, None, skip=current_operator.get())

    # -- metrics: under every reader's label ----------------------------------------------

    def _restart(self, reason: str) -> None:
        super()._restart(reason)
        for reader in self._readers:
            metrics = reader.metrics
            metrics.series(metrics.watch_restarts, metrics.operator, self.type.key,
                           reason).inc()

    def _gauge(self) -> None:
        for reader in self._readers:
            metrics = reader.metrics
            metrics.series(metrics.cached_objects, metrics.operator, self.type.key).set(
                len(self._store))


class SharedCaches:
    """One ``SharedWatchCache`` per collection, for the operators of one process.

    Every cache of every operator that is given this object comes from here (a collection
    only one operator reads is a cache with one reader), so the holder runs them all.
    The first reader's settings (page size, watch timeouts), random generator and clock
    make the cache; all readers must use the same client."""

    def __init__(self) -> None:
        self._caches: dict[CacheKey, SharedWatchCache] = {}
        self._client: ApiClient | None = None

    def __iter__(self) -> Iterator[SharedWatchCache]:
        return iter(list(self._caches.values()))

    def __len__(self) -> int:
        return len(self._caches)

    def cache(
        self,
        operator: str,
        client: ApiClient,
        type_: K8sType,
        *,
        listener: ChangeListener,
        metrics: OperatorMetrics,
        on_server_behind: Callable[[], None],
        namespace: str | None = None,
        label_selector: str | None = None,
        index_label: str | None = None,
        settings: RuntimeSettings | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> SharedWatchCache:
        """The cache of this collection, with ``operator`` subscribed to it."""
        if self._client is None:
            self._client = client
        elif client is not self._client:
            raise InvalidArgument(
                f"operator {operator!r} has a client of its own; the operators sharing "
                "watch caches must share one client")
        key: CacheKey = (type_, namespace, label_selector, index_label)
        cache = self._caches.get(key)
        if cache is None:
            cache = self._caches[key] = SharedWatchCache(
                client, type_, owner=operator, namespace=namespace,
                label_selector=label_selector, index_label=index_label, settings=settings,
                rng=rng, clock=clock)
        cache.subscribe(operator, listener, metrics, on_server_behind)
        return cache
