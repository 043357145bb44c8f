"""``ClusterView``: an operator's parent and child watch caches, the one place its syncs
read the cluster from.

The parents: one cache per namespace the config names (one cluster-wide cache
otherwise), listed and watched with the filters' label selector. The children: one
cache per child type, listed with the operator's child labels and indexed by the
parent uid label. What the executor writes, reads back or deletes is seen in them at
once (``observe``), so the next sync does not wait for the watch to bring it.

``make`` builds every cache of the operator, the related types' too: its own, or its
subscription to a shared one (``SharedCaches``, for several operators in one process).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from kubeplan.adapters.cache import Key, WatchCache
from kubeplan.adapters.clock import Clock
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.recording import Recorder
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.adapters.sharedcache import SharedCaches
from kubeplan.core import objects
from kubeplan.core.config import LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.types import K8sType

#: a watch cache's listener: (old, new), either None for an addition or a deletion
Listener = Callable[[RawObject | None, RawObject | None], None]


class ClusterView:
    """The parent and child caches of the operator ``config`` names.

    ``on_parent`` and ``on_child`` hear every change of a parent or a child;
    ``on_server_behind`` is told when a cache finds the server behind it (restored from
    a backup); ``child_rng`` gives each cache its own generator, in a fixed order."""

    def __init__(
        self,
        config: OperatorConfig,
        client: ApiClient,
        settings: RuntimeSettings,
        *,
        on_parent: Listener,
        on_child: Listener,
        on_server_behind: Callable[[], None],
        child_rng: Callable[[], random.Random],
        clock: Clock,
        metrics: OperatorMetrics,
        recorder: Recorder | None = None,
        shared: SharedCaches | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._settings = settings
        self._on_server_behind = on_server_behind
        self._clock = clock
        self._metrics = metrics
        self._recorder = recorder
        self._shared = shared
        #: the namespaces the config restricts the operator to, else ``[None]`` (all)
        self.namespaces: list[str | None] = (
            [*sorted(config.namespaces)] if config.namespaces is not None else [None])
        self.parents: list[WatchCache] = [
            self.make(config.parent, namespace=ns, listener=on_parent,
                      label_selector=config.filters.label_selector, rng=child_rng())
            for ns in (self.namespaces if config.parent.namespaced else [None])
        ]
        self.children: dict[K8sType, WatchCache] = {
            type_: self.make(type_, label_selector=config.child_label_selector,
                             index_label=LABEL_PARENT_UID, listener=on_child, rng=child_rng())
            for type_ in config.child_types
        }

    def make(self, type_: K8sType, *, listener: Callable[..., None], rng: random.Random,
             namespace: str | None = None, label_selector: str | None = None,
             index_label: str | None = None) -> WatchCache:
        """A cache of this operator's own, or its subscription to a shared one."""
        if self._shared is not None:  # (a shared cache is not recorded)
            return self._shared.cache(
                self.config.name, self._client, type_, namespace=namespace,
                label_selector=label_selector, index_label=index_label,
                settings=self._settings, listener=listener, metrics=self._metrics, rng=rng,
                clock=self._clock, on_server_behind=self._on_server_behind)
        return WatchCache(self._client, type_, namespace=namespace,
                          label_selector=label_selector, index_label=index_label,
                          settings=self._settings, listener=listener, metrics=self._metrics,
                          rng=rng, clock=self._clock, on_server_behind=self._on_server_behind,
                          recorder=self._recorder)

    @property
    def caches(self) -> list[WatchCache]:
        """The parent caches, then the child caches."""
        return [*self.parents, *self.children.values()]

    # -- reading --------------------------------------------------------------------------

    def parent(self, key: Key) -> RawObject | None:
        """The cached parent ``key`` (namespace, name), None when no cache holds it."""
        namespace, name = key
        for cache in self.parents:
            if cache.namespace in (None, namespace):
                found = cache.get(name, namespace)
                if found is not None:
                    return found
        return None

    def all_parents(self) -> Iterator[RawObject]:
        for cache in self.parents:
            yield from cache

    def parent_by_uid(self, uid: str) -> RawObject | None:
        for cache in self.parents:
            parent = cache.get_by_uid(uid)
            if parent is not None:
                return parent
        return None

    def children_of(self, uid: str | None) -> dict[K8sType, list[RawObject]]:
        """The cached children of the parent ``uid``, per child type (all empty without
        a uid)."""
        return {type_: cache.owned_by(uid) if uid else []
                for type_, cache in self.children.items()}

    def has_children(self, uid: str) -> bool:
        return any(cache.owned_by(uid) for cache in self.children.values())

    # -- what the executor wrote, read or deleted -----------------------------------------

    def observe(self, type_: K8sType, obj: RawObject, *, written: bool = True) -> None:
        """A parent or child as the server answered a write (or a read) of it."""
        if type_ == self.config.parent:
            for cache in self.parents:
                if cache.namespace in (None, objects.namespace_of(obj)):
                    cache.observe(obj, written=written)
        elif type_ in self.children:
            self.children[type_].observe(obj, written=written)

    def observe_read(self, type_: K8sType, obj: RawObject) -> None:
        """A parent or child as the server answered a read of it."""
        self.observe(type_, obj, written=False)

    def observe_deleted(self, type_: K8sType, obj: RawObject) -> bool:
        """A child the executor deleted; False when ``type_`` is no child type."""
        if type_ not in self.children:
            return False
        self.children[type_].observe_deleted(obj)
        return True

    def take_live_parent(self, live: RawObject) -> None:
        """The server's parent, newer than the cached one: every parent cache takes it."""
        for cache in self.parents:
            cache.observe(live, written=False)

    def drop_parent(self, parent: RawObject) -> None:
        """The server says the parent is gone: no parent cache holds it any more."""
        for cache in self.parents:
            cache.observe_deleted(parent)
