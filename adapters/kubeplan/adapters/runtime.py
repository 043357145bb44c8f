"""``Operator``: watch caches, work queue, handler, planner and executor wired into one loop.

::

    parent / child watch events -> WatchCache -> WorkQueue (key = parent namespace/name)
    worker: snapshot from the caches -> handler -> core planner -> Executor -> memo, caches

The runtime owns what the pure core takes as explicit inputs: the apply memo (one per
operator, in memory) and the clock. Reads for a sync come only from the caches.

Outcome of a sync, and what happens next:

* success: the parent's backoff is reset; if children were written the parent is synced
  once more (the handler may report on what it just created); ``resync_after`` schedules
  a later sync;
* a 409 (stale snapshot): synced again at once, from the state the watch brings in;
* the handler raised or returned something invalid, an action failed, or the sync timed
  out: per-parent exponential backoff with jitter.

``stop()`` (and SIGTERM under ``run_operator``) stops taking work, lets in-flight syncs
finish within ``grace_period``, then cancels the rest and closes the watches.

Scale-out (docs/sharding.md): with ``settings.leader_election`` the caches start at once
(a standby stays warm) but workers take work only while the ``LeaderElector`` says this
replica leads; with ``settings.shards`` each sync starts only for a parent the
``ShardMembership`` says this replica owns. In both modes the executor asks again right
before each write, in-flight syncs are cancelled when leadership or a parent is lost, and
``stop()`` releases the Lease after the last write. Cancelling ``run()`` is a crash: the
Lease is left to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubeplan.adapters.backoff import Backoff
from kubeplan.adapters.cache import Key, WatchCache, key_of
from kubeplan.adapters.errors import ApiError, NotFound
from kubeplan.adapters.events import EventRecorder
from kubeplan.adapters.executor import ExecutionResult, Executor
from kubeplan.adapters.gctuning import FreezeWhileBusy
from kubeplan.adapters.leases import Clock, WallClock
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.queue import WorkQueue
from kubeplan.adapters.settings import ENV_POD_NAME, ENV_POD_NAMESPACE, RuntimeSettings
from kubeplan.core import objects
from kubeplan.core.config import LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.plan import Create, Plan
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.related import RelatedIndex, SelectorError, resolve_selectors
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.types import K8sType

# imported where used: an operator without scale-out or a health port never loads them
# (aiohttp's web server alone takes 15 ms to import, before the first request)
if TYPE_CHECKING:
    from kubeplan.adapters.health import HealthServer
    from kubeplan.adapters.leader import LeaderElector
    from kubeplan.adapters.sharding import ShardMembership

log = logging.getLogger(__name__)

#: called after each executed plan (the testkit records plans through it)
PlanHook = Callable[[Plan, ExecutionResult], None]

#: parent fields whose change alone is a status write (ours, as a rule), not new input
_STATUS_ONLY_META = ("resourceVersion", "managedFields")


def default_identity() -> str:
    """This replica's name in the Leases: the pod name (downward API ``POD_NAME``), else
    the host name plus a random suffix (two processes on one host must differ)."""
    return os.environ.get(ENV_POD_NAME) or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def default_lease_namespace() -> str:
    """The pod's namespace (downward API ``POD_NAMESPACE`` or the service account's
    namespace file), else ``default``."""
    if os.environ.get(ENV_POD_NAMESPACE):
        return os.environ[ENV_POD_NAMESPACE]
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _status_only_change(old: RawObject | None, new: RawObject) -> bool:
    """True when ``new`` differs from ``old`` only in status (and resourceVersion)."""
    if old is None:
        return False
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    if {k: v for k, v in old_meta.items() if k not in _STATUS_ONLY_META} != {
        k: v for k, v in new_meta.items() if k not in _STATUS_ONLY_META
    }:
        return False
    rest = ("metadata", "status")
    return {k: v for k, v in old.items() if k not in rest} == {
        k: v for k, v in new.items() if k not in rest
    }


class Operator:
    """One operator running against one API server.

    ``client`` is any ``ApiClient`` (``KubeClient`` or the testkit's in-process client);
    the operator does not close it unless ``owns_client=True``. Several operators may run
    in one process and one event loop: they share nothing.

    Injection points (the testkit runs the runtime in virtual time through them):
    ``clock`` (monotonic seconds: queue latency, Event aggregation), ``wall_clock``
    (condition timestamps), ``lease_clock`` (lease timing), ``rng`` (all jitter and Event
    names; default: seeded from ``settings.seed`` when set) and ``on_plan``.
    """

    def __init__(
        self,
        config: OperatorConfig,
        handler: Any,
        client: ApiClient,
        *,
        settings: RuntimeSettings | None = None,
        owns_client: bool = False,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        lease_clock: Clock | None = None,
        rng: random.Random | None = None,
        on_plan: PlanHook | None = None,
    ) -> None:
        self.config = config
        self.handler = HandlerInfo.of(handler)
        self.client = client
        self.settings = settings = settings or RuntimeSettings()
        self.owns_client = owns_client
        self.wall_clock = wall_clock
        self.clock = clock
        self.on_plan = on_plan
        seeded = rng is not None or settings.seed is not None
        if rng is None:
            rng = random.Random(settings.seed) if settings.seed is not None else random.Random()
        # one generator per consumer, drawn in a fixed order: a seeded run replays exactly
        # however the consumers interleave
        def _child_rng() -> random.Random:
            return random.Random(rng.getrandbits(64))

        self.memo = ApplyMemo.empty()
        self.metrics = OperatorMetrics(config.name)
        observers = getattr(client, "observers", None)
        if isinstance(observers, list):
            observers.append(self.metrics.observe_request)
        self.queue: WorkQueue[Key] = WorkQueue(
            Backoff(base=settings.backoff_base, cap=settings.backoff_cap,
                    jitter=settings.backoff_jitter, rng=_child_rng()),
            clock=clock,
            on_depth=self.metrics.observe_queue_depth,
            on_latency=self.metrics.observe_queue_latency,
        )
        namespaces = sorted(config.namespaces) if config.namespaces is not None else [None]
        self.parent_caches = [
            WatchCache(client, config.parent, namespace=ns, settings=settings,
                       listener=self._on_parent_change, metrics=self.metrics,
                       rng=_child_rng())
            for ns in (namespaces if config.parent.namespaced else [None])
        ]
        self.child_caches: dict[K8sType, WatchCache] = {
            type_: WatchCache(client, type_, label_selector=config.child_label_selector,
                              index_label=LABEL_PARENT_UID, settings=settings,
                              listener=self._on_child_change, metrics=self.metrics,
                              rng=_child_rng())
            for type_ in config.child_types
        }
        # related (read-only) types: one cache each, cluster-wide unless the config restricts
        # namespaces; the index maps a related object to the parents whose selectors match it
        self.related_caches: dict[K8sType, list[WatchCache]] = {
            type_: [
                WatchCache(client, type_, namespace=ns, settings=settings,
                           listener=self._related_listener(type_), metrics=self.metrics,
                           rng=_child_rng())
                for ns in (namespaces if type_.namespaced else [None])
            ]
            for type_ in config.related_types
        }
        self.related_index = RelatedIndex()
        self.recorder = EventRecorder(
            client, config.field_manager, window=settings.event_aggregation_window,
            enabled=settings.post_events, clock=clock, wall_clock=wall_clock,
            rng=_child_rng() if seeded else None,
        )
        self.executor = Executor(
            client, config, recorder=self.recorder, observe=self._observe_write,
            observe_deleted=self._observe_delete, may_write=self._may_write,
            metrics=self.metrics, wall_clock=wall_clock, background_events=True,
        )
        # scale-out: at most one of the two (RuntimeSettings refuses both)
        self.identity = settings.identity or default_identity()
        self.lease_namespace = settings.lease_namespace or default_lease_namespace()
        self.lease_clock: Clock = lease_clock or WallClock()
        self.elector: LeaderElector | None = None
        self.membership: ShardMembership | None = None
        if settings.leader_election:
            from kubeplan.adapters.leader import LeaderElectionSettings, LeaderElector

            self.elector = LeaderElector(
                client,
                LeaderElectionSettings(
                    f"{config.name}-leader", self.lease_namespace, self.identity,
                    lease_duration=settings.lease_duration,
                    renew_deadline=settings.renew_deadline, retry_period=settings.retry_period,
                ),
                clock=self.lease_clock,
            )
        elif settings.shards:
            from kubeplan.adapters.sharding import ShardMembership, ShardSettings

            self.membership = ShardMembership(
                client,
                ShardSettings(
                    config.name, self.lease_namespace, self.identity,
                    lease_duration=settings.lease_duration,
                    renew_period=settings.retry_period, renew_deadline=settings.renew_deadline,
                ),
                clock=self.lease_clock, drain=self._drain,
            )
        mode = "leader" if self.elector else "shard" if self.membership else "single"
        self.metrics.active.labels(config.name, mode).set_function(
            lambda: 1.0 if self.is_active() else 0.0)
        # parent key -> (parent uid, task) of each sync running now (cancelled on a loss)
        self._inflight: dict[Key, tuple[str, asyncio.Task[Any]]] = {}
        self.health: HealthServer | None = None
        # parent key -> objects holding a child's name without being ours (see _foreign_of)
        self._foreign: dict[Key, dict[tuple[K8sType, str | None, str], RawObject]] = {}
        # parents we have created children for: creating again means someone deleted
        # them, which is also how a parent deleted behind a stale cache looks (the garbage
        # collector removes each child we make), so the parent is confirmed first (one GET
        # per re-creation; a converging parent creates once)
        self._created_for: set[Key] = set()
        self.syncs = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._workers: list[asyncio.Task[Any]] = []
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False

    def __repr__(self) -> str:
        return f"<Operator {self.config.name}: {self.config.parent}>"

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def caches(self) -> list[WatchCache]:
        related = [cache for caches in self.related_caches.values() for cache in caches]
        return [*self.parent_caches, *self.child_caches.values(), *related]

    def is_ready(self) -> bool:
        """Caches listed. A standby (not leader) is ready too: it is warm and waiting."""
        return self._running and all(cache.synced.is_set() for cache in self.caches)

    @property
    def is_leader(self) -> bool | None:
        """Leader election: does this replica lead now? (None without leader election)"""
        return None if self.elector is None else self.elector.is_leader

    @property
    def is_member(self) -> bool | None:
        """Sharding: is this replica a live member now? (None without sharding)"""
        return None if self.membership is None else self.membership.is_member

    def is_active(self) -> bool:
        """May this replica sync at all now (leader, member, or neither mode is on)?"""
        if self.elector is not None:
            return self.elector.is_leader
        if self.membership is not None:
            return self.membership.is_member
        return True

    def _readiness_details(self) -> str:
        if self.elector is not None:
            return f"is_leader: {str(self.elector.is_leader).lower()}"
        if self.membership is not None:
            return f"is_member: {str(self.membership.is_member).lower()}"
        return "mode: single"

    def is_alive(self) -> bool:
        return not self._running or not any(task.done() for task in self._tasks + self._workers)

    async def run(self) -> None:
        """Run until ``stop()``; raises if a watch or worker task dies of a bug."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        crashed = False
        try:
            self._tasks = [
                asyncio.create_task(cache.run(), name=f"watch {cache.type} {cache.namespace}")
                for cache in self.caches
            ]
            # leases are held from the start: caches warm up while the election runs
            if self.elector is not None:
                self._tasks.append(asyncio.create_task(self.elector.run(), name="election"))
            if self.membership is not None:
                self._tasks.append(asyncio.create_task(self.membership.run(), name="shards"))
            if self.settings.health_port is not None:
                from kubeplan.adapters.health import HealthServer

                self.health = HealthServer(
                    live=[self.is_alive], ready=[self.is_ready], metrics=[self.metrics.render],
                    host=self.settings.health_host, port=self.settings.health_port,
                    details=[self._readiness_details],
                )
                port = await self.health.start()
                log.info("%s: health and metrics on port %d", self.config.name, port)
            await self._until_stopped(self.wait_synced())
            if self._stop_requested.is_set():
                return
            log.info("%s: caches synced, %d parents", self.config.name,
                     sum(len(c) for c in self.parent_caches))
            self._workers = [
                asyncio.create_task(self._worker(), name=f"{self.config.name} worker {i}")
                for i in range(self.settings.workers)
            ]
            if self.settings.resync_period:
                self._tasks.append(asyncio.create_task(self._resync_loop(), name="resync"))
            if self.elector is not None:
                self._tasks.append(asyncio.create_task(self._follow_leadership(),
                                                       name="follow leadership"))
            if self.membership is not None:
                self._tasks.append(asyncio.create_task(self._follow_shards(),
                                                       name="follow shards"))
            await self._until_stopped(self._stop_requested.wait())
        except asyncio.CancelledError:
            crashed = True  # cancelled from outside: behave like a killed process
            raise
        finally:
            await self._shutdown(crashed=crashed)

    async def _until_stopped(self, awaitable: Any) -> None:
        """Await ``awaitable`` unless a stop is requested or a background task dies first."""
        main = asyncio.ensure_future(awaitable)
        stop = asyncio.create_task(self._stop_requested.wait())
        try:
            while True:
                watched = {main, stop, *self._tasks, *self._workers}
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                if main in done or stop in done:
                    return
                for task in done:  # a background task ended: only a bug does that
                    exc = task.exception() if not task.cancelled() else None
                    raise RuntimeError(f"{self!r}: task {task.get_name()!r} ended") from exc
        finally:
            for fut in (main, stop):
                if not fut.done():
                    fut.cancel()

    async def stop(self) -> None:
        """Stop taking work, let in-flight syncs finish (``grace_period``), close watches."""
        self._stop_requested.set()
        if self._running:
            await self._stopped.wait()

    async def _shutdown(self, crashed: bool = False) -> None:
        """Stop workers (waiting ``grace_period`` for in-flight syncs unless ``crashed``),
        then the other tasks; release the Lease only on a graceful stop, after the last
        write (a crash leaves it to expire, as a killed process would)."""
        self._stop_requested.set()
        self.queue.shutdown()
        if self._workers and not crashed:
            try:
                async with asyncio.timeout(self.settings.grace_period):
                    await self.queue.wait_no_processing()
            except TimeoutError:
                log.warning("%s: %d syncs still running after the %ss grace period; cancelling",
                            self.config.name, self.queue.in_flight, self.settings.grace_period)
        for _uid, sync_task in list(self._inflight.values()):
            sync_task.cancel()
        for task in self._workers + self._tasks:
            task.cancel()
        await asyncio.gather(*self._workers, *self._tasks, return_exceptions=True)
        if not crashed:
            await self._release_leases()
        await self.executor.drain_events(timeout=0 if crashed else
                                         min(self.settings.grace_period, 5.0))
        self._workers, self._tasks = [], []
        if self.health is not None:
            await self.health.stop()
            self.health = None
        if self.owns_client:
            await self.client.close()
        self._running = False
        self._stopped.set()

    async def _release_leases(self) -> None:
        """Give up leadership / membership so another replica takes over within one retry
        period instead of one lease duration. Best effort, bounded."""
        try:
            async with asyncio.timeout(self.settings.retry_period * 2):
                if self.elector is not None:
                    await self.elector.release()
                if self.membership is not None:
                    await self.membership.release()
        except TimeoutError:
            log.warning("%s: could not release the lease in time; it will expire",
                        self.config.name)

    # -- scale-out ------------------------------------------------------------------------

    def _may_write(self, parent_uid: str | None) -> bool:
        """The executor's gate, read right before each write."""
        if self.elector is not None:
            return self.elector.is_leader
        if self.membership is not None:
            return bool(parent_uid) and self.membership.owns(parent_uid or "")
        return True

    def _may_sync(self, parent: RawObject) -> bool:
        """May a sync of ``parent`` start now? (Leader, or owner of its shard.)"""
        return self._may_write(objects.uid_of(parent))

    async def _follow_leadership(self) -> None:
        """Resync everything on becoming leader (keys were dropped while standing by);
        cancel in-flight syncs on losing it (they would be refused at their next write)."""
        elector = self.elector
        assert elector is not None
        while True:
            await elector.became_leader.wait()
            log.info("%s: %s leads", self.config.name, self.identity)
            self.resync_all()
            await elector.lost_leadership.wait()
            log.warning("%s: %s lost leadership; cancelling in-flight syncs",
                        self.config.name, self.identity)
            self._cancel_inflight(lambda _uid: True)

    async def _follow_shards(self) -> None:
        """On every membership change: cancel syncs of parents no longer ours, and queue
        every cached parent we own now (a parent that moved to us has had no event)."""
        membership = self.membership
        assert membership is not None
        while True:
            await membership.changes.wait()
            membership.changes.clear()
            self._cancel_inflight(lambda uid: not membership.owns(uid))
            self.resync_all(only=lambda parent: membership.owns(objects.uid_of(parent) or ""))

    def _cancel_inflight(self, which: Callable[[str], bool]) -> None:
        for uid, task in list(self._inflight.values()):
            if which(uid):
                task.cancel()

    async def _drain(self, owns: Callable[[str], bool]) -> None:
        """ShardMembership's drain hook: return once no sync is in flight for a parent
        ``owns`` says is no longer ours (they are cancelled: their writes would be refused
        by the gate anyway)."""
        def lost(key: Key) -> bool:
            entry = self._inflight.get(key)
            return entry is None or not owns(entry[0])

        self._cancel_inflight(lambda uid: not owns(uid))
        await self.queue.wait_no_processing(lost)

    def resync_all(self, only: Callable[[RawObject], bool] | None = None) -> int:
        """Queue every cached parent (for which ``only`` is True); returns how many."""
        count = 0
        for cache in self.parent_caches:
            for parent in cache:
                if only is None or only(parent):
                    self.queue.add(key_of(parent))
                    count += 1
        return count

    # -- helpers for tests and embedding --------------------------------------------------

    async def wait_synced(self) -> None:
        """Return once every watch cache has completed its first list."""
        await asyncio.gather(*(cache.synced.wait() for cache in self.caches))

    async def settle(self, timeout: float = 10.0, quiet: float = 0.05) -> None:
        """Return once no sync is queued or running and none started for ``quiet`` seconds
        (watch events of the last writes arrive shortly after them). Raises TimeoutError."""
        async with asyncio.timeout(timeout):
            await self.wait_synced()
            while True:
                await self.queue.wait_idle()
                await self.executor.drain_events()
                before = self.syncs
                await asyncio.sleep(quiet)
                if self.queue.is_idle() and self.syncs == before:
                    return

    # -- events -> queue ------------------------------------------------------------------

    def _on_parent_change(self, _old: RawObject | None, new: RawObject | None) -> None:
        key = key_of(new or _old or {})
        if (new is not None and _status_only_change(_old, new)
                and (self.queue.is_processing(key) or self.queue.failures(key))):
            # a status write while the parent is being synced (our own, as a rule; another
            # writer's would make our status write fail with 409 and requeue) or while it
            # backs off after a failure: not new input. Letting it through would let a
            # failing parent's own status writes bypass its backoff.
            return
        if new is None:
            self.queue.cancel_delayed(key)
            self.queue.forget(key)
            self._foreign.pop(key, None)
            self.related_index.remove(key)
            return
        if self.related_caches:
            self._index_related(key, new)
        self.queue.add(key)

    def _index_related(self, key: Key, parent: RawObject) -> None:
        try:
            self.related_index.set(key, resolve_selectors(self.config.related, parent))
        except SelectorError as exc:  # reported on the parent by its next sync
            log.warning("%s: %s", self.config.name, exc)
            self.related_index.remove(key)

    def _related_listener(self, type_: K8sType) -> Callable[..., None]:
        def on_related_change(old: RawObject | None, new: RawObject | None) -> None:
            affected = set()
            for obj in (old, new):
                if obj is not None:
                    affected |= self.related_index.affected(type_, obj)
            for key in sorted(affected):
                self.queue.add(key)

        return on_related_change

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

    def _on_child_change(self, old: RawObject | None, new: RawObject | None) -> None:
        obj = new or old or {}
        if new is None:
            uid = objects.uid_of(obj)
            if uid:
                self.memo = self.memo.forget(uid)
        owner = objects.controller_ref_of(obj)
        owner_uid = (owner or {}).get("uid") or objects.labels_of(obj).get(LABEL_PARENT_UID)
        if not owner_uid:
            return
        for cache in self.parent_caches:
            parent = cache.get_by_uid(owner_uid)
            if parent is not None:
                self.queue.add(key_of(parent))
                return

    def _observe_delete(self, type_: K8sType, obj: RawObject) -> None:
        if type_ in self.child_caches:
            self.child_caches[type_].observe_deleted(obj)
            uid = objects.uid_of(obj)
            if uid:
                self.memo = self.memo.forget(uid)

    def _observe_write(self, type_: K8sType, obj: RawObject) -> None:
        if type_ == self.config.parent:
            for cache in self.parent_caches:
                if cache.namespace in (None, objects.namespace_of(obj)):
                    cache.observe(obj)
        elif type_ in self.child_caches:
            self.child_caches[type_].observe(obj)

    def _parent(self, key: Key) -> RawObject | None:
        namespace, name = key
        for cache in self.parent_caches:
            if cache.namespace in (None, namespace):
                found = cache.get(name, namespace)
                if found is not None:
                    return found
        return None

    async def _resync_loop(self) -> None:
        assert self.settings.resync_period is not None
        while True:
            await asyncio.sleep(self.settings.resync_period)
            self.resync_all()

    # -- syncing --------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            if self.elector is not None:
                await self.elector.became_leader.wait()  # standby: take no work
            key = await self.queue.get()
            if key is None:
                return
            try:
                parent = self._parent(key)
                if parent is not None and not self._may_sync(parent):
                    continue  # not ours (now): dropped without backoff; a change requeues
                # each sync is a task of its own so that losing leadership or the parent's
                # shard can cancel it without killing the worker
                sync = asyncio.create_task(self.sync(key), name=f"sync {key[0]}/{key[1]}")
                self._inflight[key] = (objects.uid_of(parent or {}) or "", sync)
                await asyncio.wait({sync})
                if sync.cancelled():
                    if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                        raise asyncio.CancelledError
                    log.info("%s: sync of %s/%s cancelled (no longer ours)",
                             self.config.name, *key)
                    self.metrics.syncs.labels(self.config.name, "cancelled").inc()
                elif sync.exception() is not None:
                    raise sync.exception()  # type: ignore[misc]
            except asyncio.CancelledError:
                entry = self._inflight.get(key)
                if entry is not None:
                    entry[1].cancel()
                    await asyncio.gather(entry[1], return_exceptions=True)
                raise
            except Exception:
                log.exception("%s: sync of %s/%s crashed", self.config.name, *key)
                self.metrics.syncs.labels(self.config.name, "crashed").inc()
                self.queue.add_rate_limited(key)
            finally:
                self._inflight.pop(key, None)
                self.queue.done(key)

    async def sync(self, key: Key) -> None:
        """One sync of the parent ``key`` (called by the workers, one at a time per key)."""
        parent = self._parent(key)
        if parent is None:
            self._created_for.discard(key)
            return
        if objects.is_terminating(parent) and (
            self.config.finalizer not in objects.finalizers_of(parent)
        ):
            return  # nothing of ours holds it: garbage collection removes the children
        self.syncs += 1
        started = self.clock()  # the injected clock: virtual time in the testkit
        outcome = "ok"
        try:
            async with asyncio.timeout(self.settings.sync_timeout):
                outcome = await self._sync(key, parent)
        except TimeoutError:
            outcome = "timeout"
            log.warning("%s: sync of %s/%s took longer than %ss", self.config.name, *key,
                        self.settings.sync_timeout)
            self.queue.add_rate_limited(key)
        finally:
            self.metrics.series(self.metrics.sync_duration, self.config.name).observe(
                self.clock() - started)
            self.metrics.series(self.metrics.syncs, self.config.name, outcome).inc()

    async def _sync(self, key: Key, parent: RawObject) -> str:
        uid = objects.uid_of(parent)
        finalizing = objects.is_terminating(parent)
        observed = {type_: cache.owned_by(uid) if uid else []
                    for type_, cache in self.child_caches.items()}
        for type_, obj in await self._foreign_of(key):
            observed[type_].append(obj)
        children = Children.build(observed)
        related, related_error = Children.empty(), None
        if self.related_caches:
            try:
                related = self._related_of(key, parent)
            except SelectorError as exc:
                related_error = exc
        # one reading of the wall clock per sync: the handler and the planner see one instant
        now = self.wall_clock()
        request = SyncRequest(parent=parent, children=children, finalizing=finalizing,
                              related=related, now=now)
        result = (related_error if related_error is not None
                  else await self._call_handler(request, finalizing))
        plan = make_plan(
            self.config, request, result, memo=self.memo, now=now,
            has_finalize=self.handler.has_finalize,
        )
        if plan.actions:
            log.info("%s: %s/%s: %d actions", self.config.name, *key, len(plan.actions))
            log.debug("%s", plan)
        creates = any(isinstance(action, Create) for action in plan.actions)
        if creates and key in self._created_for:
            live = await self._live_parent(parent)
            if live is None:
                return self._drop_gone(key, parent)
            if objects.resource_version_of(live) != objects.resource_version_of(parent):
                # the cache is behind (a terminating parent looks alive in it): sync again
                # from what the server holds
                for cache in self.parent_caches:
                    cache.observe(live)
                self.queue.add(key)
                return "stale"
        if creates:
            self._created_for.add(key)
        executed = await self.executor.execute(plan, parent)
        self.memo = executed.apply_to(self.memo)
        if self.on_plan is not None:
            try:
                self.on_plan(plan, executed)
            except Exception:  # an observer's bug must not fail the sync
                log.exception("%s: on_plan hook failed", self.config.name)
        if executed.aborted:
            return "aborted"  # not ours any more: whoever owns the parent syncs it
        if executed.parent_gone:
            return self._drop_gone(key, parent)
        for type_, obj in executed.foreign:
            self._foreign.setdefault(key, {})[
                (type_, objects.namespace_of(obj), objects.name_of(obj) or "")] = obj
        if executed.conflict:
            self.queue.add(key)  # handed out again as soon as this sync is done
            return "conflict"
        if plan.error is not None or not executed.ok or plan.problems:
            kind = ("handler" if plan.error is not None else
                    "actions" if not executed.ok else "child_conflict")
            self.metrics.sync_errors.labels(self.config.name, kind).inc()
            delay = self.queue.add_rate_limited(key)
            log.info("%s: %s/%s failed (%s); retrying in %.1fs", self.config.name, *key, kind,
                     delay)
            return {"handler": "error", "actions": "failed_actions"}.get(kind, "child_conflict")
        self.queue.forget(key)
        if executed.wrote_children:
            self.queue.add(key)
        if plan.resync_after:
            self.queue.add_after(key, float(plan.resync_after))
        return "ok"

    async def _live_parent(self, parent: RawObject) -> RawObject | None:
        """The parent as the server holds it (one GET), None if it is gone or another
        object now has its name; the cached one when the server cannot tell."""
        meta = parent.get("metadata") or {}
        try:
            live = await self.client.get(self.config.parent, meta.get("name", ""),
                                         meta.get("namespace"))
        except NotFound:
            return None
        except ApiError:  # cannot tell (unreachable, refused): carry on, the writes will say
            return parent
        return live if objects.uid_of(live) == objects.uid_of(parent) else None

    def _drop_gone(self, key: Key, parent: RawObject) -> str:
        """The server says the parent is gone though the cache holds it: forget it until
        the watch or a relist says otherwise, or each child the garbage collector removes
        would trigger another sync that creates it again."""
        for cache in self.parent_caches:
            cache.observe_deleted(parent)
        self.queue.forget(key)
        self._created_for.discard(key)
        log.info("%s: %s/%s is gone (the cache was stale); dropped", self.config.name, *key)
        return "gone"

    async def _foreign_of(self, key: Key) -> list[tuple[K8sType, RawObject]]:
        """Objects that held one of this parent's child names without being ours, read
        again (they are not in the caches: they lack our labels). Only parents in that
        state pay these GETs; a clash resolved (object deleted or adopted) is forgotten."""
        known = self._foreign.get(key)
        if not known:
            return []
        found: list[tuple[K8sType, RawObject]] = []
        for (type_, namespace, name) in list(known):
            try:
                obj = await self.client.get(type_, name, namespace)
            except NotFound:
                obj = None
            if obj is None or objects.is_owned_by(obj, objects.uid_of(self._parent(key) or {})):
                del known[(type_, namespace, name)]
                continue
            found.append((type_, obj))
        if not known:
            del self._foreign[key]
        return found

    async def _call_handler(self, request: SyncRequest, finalizing: bool) -> Any:
        """The handler's response, or the exception it raised (the planner reports it)."""
        info = self.handler
        fn, is_async = (
            (info.finalize, info.finalize_is_async) if finalizing and info.finalize
            else (info.sync, info.sync_is_async)
        )
        try:
            result = fn(request)
            if (is_async or asyncio.iscoroutine(result)) and isinstance(result, Awaitable):
                return await result
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the user's bug: reported on the parent, never fatal
            log.warning("%s: handler raised on %s: %r", self.config.name,
                        request.describe(), exc)
            return exc


async def serve(
    operators: list[Operator], *, install_signal_handlers: bool = True,
    collect_between_bursts: bool = False,
) -> None:
    """Run operators until SIGTERM/SIGINT (or until each has been stopped).

    ``collect_between_bursts``: the process is the operators' own, so the garbage collector
    may be steered for them (``gctuning.FreezeWhileBusy``, syncs as the measure of work):
    leave it False when embedding operators in a program of your own."""
    loop = asyncio.get_running_loop()
    collector = (loop.create_task(burst_collector(operators).run())
                 if collect_between_bursts else None)
    installed: list[signal.Signals] = []
    stopping: list[asyncio.Task[None]] = []

    def _stop() -> None:
        log.info("stopping %d operator(s)", len(operators))
        stopping.extend(loop.create_task(op.stop()) for op in operators)

    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, _stop)
                installed.append(sig)
    try:
        await asyncio.gather(*(op.run() for op in operators))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if collector is not None:
            collector.cancel()


def burst_collector(operators: list[Operator]) -> FreezeWhileBusy:
    """The ``FreezeWhileBusy`` of a process that runs these operators: their syncs are the
    measure of work, a freeze every 500 (about 1,500 newly cached children in a burst)."""
    return FreezeWhileBusy(lambda: sum(op.syncs for op in operators), every=500)


def run_operator(
    config: OperatorConfig,
    handler: Any,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    settings: RuntimeSettings | None = None,
) -> None:
    """Run one operator until SIGTERM or Ctrl-C (blocking). Configuration comes from the
    kubeconfig (and context) when given, else in-cluster, else the default kubeconfig."""
    from kubeplan.adapters.client import KubeClient
    from kubeplan.adapters.gctuning import tune_gc

    tune_gc()  # run_operator owns the process

    async def main() -> None:
        client = await KubeClient.from_config(kubeconfig, context)
        operator = Operator(config, handler, client, settings=settings, owns_client=True)
        await serve([operator], collect_between_bursts=True)

    asyncio.run(main())
