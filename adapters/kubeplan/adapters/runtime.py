"""``Operator``: watch caches, work queue, handler, planner and executor wired into one loop.

::

    parent / child watch events -> WatchCache -> WorkQueue (key = parent namespace/name)
    worker: snapshot from the caches -> handler -> core planner -> Executor -> memo, caches

The runtime owns what the pure core takes as explicit inputs: the apply memo (one per
operator, in memory) and the clock. Reads for a sync come only from the caches.

This module is the orchestration; its parts live next to it: ``view.ClusterView`` (the
parent and child caches), ``inputs.SyncInputs`` (the related objects and external sources
a sync reads, and which parents their changes wake), ``handlers.HandlerCaller`` (calling
the user's handler, in a thread when it is synchronous), ``clients.OperatorClients`` (the
rate-limited and recorded clients) and ``WorkQueue.from_settings``; ``process`` runs
operators in a process (``serve``).

Outcome of a sync, and what happens next (``sync`` returns one ``SyncOutcome``;
``_settle`` alone acts on it, on the queue and the metrics):

* success: the parent's backoff is reset; if children were written the parent is synced
  once more (the handler may report on what it just created); ``resync_after`` schedules
  a later sync;
* a 409 (stale snapshot): synced again at once, from the state the watch brings in;
* the handler raised or returned something invalid, an action failed, or the sync timed
  out: per-parent exponential backoff with jitter;
* the handler raised ``PermanentError``: no retry, no backoff, and later syncs (resyncs,
  our own status writes) do not call the handler until an input has changed: the parent
  in anything but its status (spec, labels, annotations, ...), or the resourceVersion of
  a child or related object the sync read;
* the handler raised ``RetryAfter(seconds)``: synced again after exactly that long, with
  the backoff reset; our own status write does not sync it earlier.

Parent filters (``config.filters``): the label selector goes with the parent caches' list
and watch, so unselected parents are never cached; annotations and the predicate are
checked at each sync. A parent they do not select is not handed to the handler: it gets
``plan_unmatched``'s plan (its children deleted if the filter says so, kubeplan's finalizer
removed), nothing else. A parent that leaves the label selection arrives as a DELETED event
(the API server sends one to a watch whose selector no longer matches); when it held our
finalizer, or its children are to be deleted, one GET tells it from a real deletion.

``stop()`` (and SIGTERM under ``process.serve``) stops taking work, lets in-flight syncs
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
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kubeplan.adapters.cache import Key, WatchCache, key_of
from kubeplan.adapters.clients import OperatorClients
from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import ApiError, NotFound
from kubeplan.adapters.events import EventRecorder
from kubeplan.adapters.executor import ExecutionResult, Executor
from kubeplan.adapters.handlers import HandlerCaller
from kubeplan.adapters.inputs import Inputs, SyncInputs, inputs_of, status_only_change
from kubeplan.adapters.logs import log_context
from kubeplan.adapters.metrics import OperatorMetrics, current_operator
from kubeplan.adapters.outcome import Next, SyncOutcome
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.queue import WorkQueue
from kubeplan.adapters.recording import Recorder, current_sync
from kubeplan.adapters.scaleout import Leader, ScaleOut, Shards, scale_out_for
from kubeplan.adapters.settings import ENV_POD_NAME, ENV_POD_NAMESPACE, RuntimeSettings
from kubeplan.adapters.sharedcache import SharedCaches
from kubeplan.adapters.sources.poller import Fetch
from kubeplan.adapters.tracing import span
from kubeplan.adapters.view import ClusterView
from kubeplan.core import objects
from kubeplan.core.config import LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.errors import UsageError
from kubeplan.core.filters import FilterError
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.plan import Create, Plan
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.sources import SourceError
from kubeplan.core.types import K8sType
from kubeplan.core.unmatched import plan_unmatched

# imported where used: an operator without scale-out or a health port never loads them
# (aiohttp's web server alone is slow to import, and would delay the first request)
if TYPE_CHECKING:
    from kubeplan.adapters.health import HealthServer
    from kubeplan.adapters.leader import LeaderElector
    from kubeplan.adapters.sharding import ShardMembership

log = logging.getLogger(__name__)

#: called after each executed plan (the testkit records plans through it)
PlanHook = Callable[[Plan, ExecutionResult], None]

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


class Operator:
    """One operator running against one API server.

    ``client`` is any ``ApiClient`` (``KubeClient`` or the testkit's in-process client);
    the operator does not close it unless ``owns_client=True``. Several operators may run
    in one process and one event loop: they share nothing.

    Injection points (the testkit runs the runtime in virtual time through them):
    ``clock``, the one source of time (``SystemClock`` by default, the testkit's
    ``LoopClock`` in virtual time): ``monotonic()`` for queue latency, sync durations and
    Event aggregation, ``now()`` for condition and Event timestamps (read once per sync)
    and lease timing, ``sleep()`` for the resync period and the watches' reconnect
    backoff; ``rng`` (all jitter and Event names; default: seeded from ``settings.seed``
    when set) and ``on_plan``.

    Several operators in one process sharing watch caches and one metrics registry
    (``kubeplan.adapters.group.OperatorGroup`` builds them so): ``shared_caches`` gives
    every cache (the holder runs them; this operator does not), ``metrics`` the
    operator's view of the shared registry (``OperatorMetrics.for_operator``).

    External sources (``config.sources``): one ``Poller`` each, started with the caches;
    ``source_fetchers`` replaces the fetch of named sources (the testkit scripts them).
    """

    def __init__(
        self,
        config: OperatorConfig,
        handler: Any,
        client: ApiClient,
        *,
        settings: RuntimeSettings | None = None,
        owns_client: bool = False,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_plan: PlanHook | None = None,
        recorder: Recorder | None = None,
        shared_caches: SharedCaches | None = None,
        metrics: OperatorMetrics | None = None,
        source_fetchers: Mapping[str, Fetch] | None = None,
    ) -> None:
        self.config = config
        self.handler = HandlerInfo.of(handler)
        self.settings = settings = settings or RuntimeSettings()
        if recorder is None and settings.record is not None:
            recorder = Recorder(settings.record, redact_secrets=not settings.record_secrets)
        #: records the run (``settings.record``): the caches' lists and events, the
        #: runtime's requests and their answers, each sync's request digest and plan
        self.recording = recorder
        self.clock = clock = clock or SystemClock()
        self.metrics = metrics if metrics is not None else OperatorMetrics(config.name)
        self.shared_caches = shared_caches
        self.clients = OperatorClients.wrap(client, settings, clock=clock, metrics=self.metrics,
                                            recorder=recorder)
        #: the client-side rate limit (``settings.qps``), None when off
        self.rate_limit = self.clients.rate_limit
        self.client = client = self.clients.requests
        self.owns_client = owns_client
        self.on_plan = on_plan
        seeded = rng is not None or settings.seed is not None
        if rng is None:
            rng = random.Random(settings.seed) if settings.seed is not None else random.Random()
        # one generator per consumer, drawn in a fixed order: a seeded run replays exactly
        # however the consumers interleave
        def _child_rng() -> random.Random:
            return random.Random(rng.getrandbits(64))

        self.memo = ApplyMemo.empty()
        self.queue: WorkQueue[Key] = WorkQueue.from_settings(
            settings, rng=_child_rng(), clock=clock, on_depth=self.metrics.observe_queue_depth,
            on_latency=self.metrics.observe_queue_latency)
        self.view = ClusterView(
            config, self.clients.caches, settings, on_parent=self._on_parent_change,
            on_child=self._on_child_change, on_server_behind=self._server_went_back,
            child_rng=_child_rng, clock=clock, metrics=self.metrics, recorder=recorder,
            shared=shared_caches)
        self.identity = settings.identity or default_identity()
        self.lease_namespace = settings.lease_namespace or default_lease_namespace()
        self.inputs = SyncInputs(
            config, client, wake=self.queue.add, make_cache=self.view.make,
            namespaces=self.view.namespaces, child_rng=_child_rng, clock=clock,
            metrics=self.metrics, namespace=self.lease_namespace, fetchers=source_fetchers,
        )
        self.recorder = EventRecorder(
            client, config.field_manager, window=settings.event_aggregation_window,
            enabled=settings.post_events, clock=clock,
            rng=_child_rng() if seeded else None,
        )
        self.executor = Executor(
            client, config, recorder=self.recorder, observe=self.view.observe,
            observe_deleted=self._observe_delete, observe_read=self.view.observe_read,
            may_write=self._may_write,
            metrics=self.metrics, clock=clock, background_events=True,
        )
        # scale-out: one strategy (single, leader or shards), asked without branching
        self.scale_out: ScaleOut = scale_out_for(
            settings, self.clients.leases, name=config.name, identity=self.identity,
            lease_namespace=self.lease_namespace, clock=clock, drain=self._drain,
        )
        self.metrics.active.labels(config.name, self.scale_out.mode).set_function(
            lambda: 1.0 if self.is_active() else 0.0)
        # parent key -> (parent uid, task) of each sync running now (cancelled on a loss)
        self._inflight: dict[Key, tuple[str, asyncio.Task[Any]]] = {}
        self.health: HealthServer | None = None
        # parent key -> objects holding a child's name without being ours (see _foreign_of)
        self._foreign: dict[Key, dict[tuple[K8sType, str | None, str], RawObject]] = {}
        # parents whose next creation of children confirms the parent first (one GET):
        # those we have created children for (creating again means someone deleted them,
        # which is also how a parent deleted behind a stale cache looks: the garbage
        # collector removes each child we make) and those whose last sync met a conflict
        # (our view of them was behind). A converging parent creates once, GET-free.
        self._created_for: set[Key] = set()
        # parents held by a PermanentError: what their failed sync read (``inputs_of``)
        self._held: dict[Key, Inputs] = {}
        # parents waiting for the retry a RetryAfter asked for
        self._retrying: set[Key] = set()
        # parents that left the label selection (a DELETED event) holding our finalizer or
        # children to delete: the last object seen, until a sync tells it from a deletion
        self._departed: dict[Key, RawObject] = {}
        self.syncs = 0
        self._handler = HandlerCaller(self.handler, settings, name=config.name)
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
        return [*self.view.caches, *self.inputs.caches]

    @property
    def parent_caches(self) -> list[WatchCache]:
        """The parents' caches (``ClusterView.parents``)."""
        return self.view.parents

    @property
    def child_caches(self) -> dict[K8sType, WatchCache]:
        """The child types' caches (``ClusterView.children``)."""
        return self.view.children

    @property
    def related_caches(self) -> dict[K8sType, list[WatchCache]]:
        """The related types' caches (``SyncInputs.related_caches``)."""
        return self.inputs.related_caches

    def is_ready(self) -> bool:
        """Caches listed. A standby (not leader) is ready too: it is warm and waiting."""
        return (self._running and all(cache.synced.is_set() for cache in self.caches)
                and self.inputs.attempted())

    @property
    def is_leader(self) -> bool | None:
        """Leader election: does this replica lead now? (None without leader election)"""
        return self.scale_out.is_leader

    @property
    def is_member(self) -> bool | None:
        """Sharding: is this replica a live member now? (None without sharding)"""
        return self.scale_out.is_member

    @property
    def elector(self) -> LeaderElector | None:
        """The ``LeaderElector`` under leader election, else None."""
        return self.scale_out.elector if isinstance(self.scale_out, Leader) else None

    @property
    def membership(self) -> ShardMembership | None:
        """The ``ShardMembership`` under sharding, else None."""
        return self.scale_out.membership if isinstance(self.scale_out, Shards) else None

    def is_active(self) -> bool:
        """May this replica sync at all now (leader, member, or neither mode is on)?"""
        return self.scale_out.is_active()

    def _readiness_details(self) -> str:
        return self.scale_out.readiness()

    def is_alive(self) -> bool:
        return not self._running or not any(task.done() for task in self._tasks + self._workers)

    async def run(self) -> None:
        """Run until ``stop()``; raises if a watch or worker task dies of a bug."""
        if self._running:
            raise UsageError(f"{self!r} is already running")
        self._running = True
        crashed = False
        if self.recording is not None:
            self.recording.start(self.config, self.clock)
        # this task and those it starts work for this operator (the label of their API
        # requests on a client shared with other operators)
        working_for = current_operator.set(self.config.name)
        try:
            self._tasks = [
                asyncio.create_task(cache.run(), name=f"watch {cache.type} {cache.namespace}")
                for cache in (self.caches if self.shared_caches is None else ())
            ]
            self._tasks += [asyncio.create_task(poller.run(), name=f"source {name}")
                            for name, poller in self.inputs.sources.items()]
            # leases are held from the start: caches warm up while the election runs
            self._tasks += [asyncio.create_task(loop, name=name)
                            for name, loop in self.scale_out.with_caches()]
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
            if self.config.filters.labels is not None:
                await self._until_stopped(self._find_departed())
                if self._stop_requested.is_set():
                    return
            self._workers = [
                asyncio.create_task(self._worker(), name=f"{self.config.name} worker {i}")
                for i in range(self.settings.workers)
            ]
            if self.settings.resync_period:
                self._tasks.append(asyncio.create_task(self._resync_loop(), name="resync"))
            self._tasks += [asyncio.create_task(loop, name=name)
                            for name, loop in self.scale_out.with_workers(self)]
            await self._until_stopped(self._stop_requested.wait())
        except asyncio.CancelledError:
            crashed = True  # cancelled from outside: behave like a killed process
            raise
        finally:
            await self._shutdown(crashed=crashed)
            current_operator.reset(working_for)

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
                    raise UsageError(f"{self!r}: task {task.get_name()!r} ended") from exc
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
        self._handler.close()
        await self.inputs.close()
        if self.owns_client:
            await self.client.close()
        if self.recording is not None:
            self.recording.close()
        self._running = False
        self._stopped.set()

    async def _release_leases(self) -> None:
        """Give up leadership / membership so another replica takes over within one retry
        period instead of one lease duration. Best effort, bounded."""
        try:
            async with asyncio.timeout(self.settings.retry_period * 2):
                await self.scale_out.release()
        except TimeoutError:
            log.warning("%s: could not release the lease in time; it will expire",
                        self.config.name)

    # -- scale-out ------------------------------------------------------------------------

    def _may_write(self, parent_uid: str | None) -> bool:
        """The executor's gate, read right before each write."""
        return self.scale_out.may_write(parent_uid)

    def _may_sync(self, parent: RawObject) -> bool:
        """May a sync of ``parent`` start now? (Leader, or owner of its shard.)"""
        return self.scale_out.may_write(objects.uid_of(parent))

    def cancel_inflight(self, which: Callable[[str], bool]) -> None:
        """Cancel the syncs in flight of the parents (by uid) for which ``which`` is True
        (the scale-out strategy's hook: leadership or a shard was lost)."""
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

        self.cancel_inflight(lambda uid: not owns(uid))
        await self.queue.wait_no_processing(lost)

    def resync_all(self, only: Callable[[RawObject], bool] | None = None) -> int:
        """Queue every cached parent (for which ``only`` is True); returns how many."""
        count = 0
        for parent in self.view.all_parents():
            if only is None or only(parent):
                self.queue.add(key_of(parent))
                count += 1
        return count

    # -- helpers for tests and embedding --------------------------------------------------

    async def wait_synced(self) -> None:
        """Return once every watch cache has completed its first list and every source
        its first reading (succeeded or failed)."""
        await asyncio.gather(*(cache.synced.wait() for cache in self.caches),
                             self.inputs.wait_attempted())

    async def settle(self, timeout: float = 10.0, quiet: float = 0.05) -> None:
        """Return once no sync is queued or running and none started for ``quiet`` seconds
        (watch events of the last writes arrive shortly after them). Raises TimeoutError."""
        async with asyncio.timeout(timeout):
            await self.wait_synced()
            while True:
                await self.queue.wait_idle()
                await self.executor.drain_events()
                before = self.syncs
                await self.clock.sleep(quiet)
                if self.queue.is_idle() and self.syncs == before:
                    return

    # -- events -> queue ------------------------------------------------------------------

    def _on_parent_change(self, _old: RawObject | None, new: RawObject | None) -> None:
        key = key_of(new or _old or {})
        if (new is not None and status_only_change(_old, new)
                and (self.queue.is_processing(key) or self.queue.failures(key)
                     or key in self._held or key in self._retrying)):
            # a status write while the parent is being synced (our own, as a rule; another
            # writer's would make our status write fail with 409 and requeue) or while it
            # backs off after a failure: not new input. Letting it through would let a
            # failing parent's own status writes bypass its backoff.
            return
        if new is None:
            self.queue.drop(key)
            self._held.pop(key, None)
            self._retrying.discard(key)
            self._foreign.pop(key, None)
            self.inputs.forget(key)
            if _old is not None and self._may_have_departed(_old):
                self._departed[key] = _old
                self.queue.add(key)
            return
        self.inputs.index(key, new)
        if _old is not None and objects.generation_of(_old) != objects.generation_of(new):
            self.queue.reset_requeues(key)  # new input: its first requeue is not delayed
        self.queue.add(key)

    def _may_have_departed(self, old: RawObject) -> bool:
        """Could this DELETED event be ``old`` leaving the label selection, with something
        left to do for it (our finalizer to remove, children to delete)?"""
        if self.config.filters.labels is None:
            return False
        if self.config.finalizer in objects.finalizers_of(old):
            return True
        uid = objects.uid_of(old)
        if not uid or self.config.filters.unmatched_children != "delete":
            return False
        return self.view.has_children(uid)

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
        parent = self.view.parent_by_uid(owner_uid)
        if parent is not None:
            # limited: a parent whose children keep changing under it (a garbage
            # collector deleting each child it creates) slows down instead of spinning
            self.queue.add_limited(key_of(parent))

    def _observe_delete(self, type_: K8sType, obj: RawObject) -> None:
        if self.view.observe_deleted(type_, obj):
            uid = objects.uid_of(obj)
            if uid:
                self.memo = self.memo.forget(uid)

    def _server_went_back(self) -> None:
        """A cache found the server behind it (restored from a backup): every cache holds
        that lost future, so every cache relists."""
        for cache in self.caches:
            cache.request_relist("reset")

    async def _resync_loop(self) -> None:
        assert self.settings.resync_period is not None
        while True:
            await self.clock.sleep(self.settings.resync_period)
            self.resync_all()

    # -- syncing --------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            await self.scale_out.wait_active()  # a standby takes no work
            key = await self.queue.get()
            if key is None:
                return
            try:
                outcome = await self._run_sync(key)
            except asyncio.CancelledError:
                entry = self._inflight.get(key)
                if entry is not None:
                    entry[1].cancel()
                    await asyncio.gather(entry[1], return_exceptions=True)
                raise
            except Exception:
                log.exception("%s: sync of %s/%s crashed", self.config.name, *key)
                outcome = SyncOutcome.crashed()
            finally:
                self._inflight.pop(key, None)
            try:
                self._settle(key, outcome)
            finally:
                self.queue.done(key)

    async def _run_sync(self, key: Key) -> SyncOutcome:
        """``sync(key)`` as a task of its own, so that losing leadership or the parent's
        shard can cancel it without killing the worker."""
        parent = self.view.parent(key)
        if parent is not None and not self._may_sync(parent):
            return SyncOutcome.skipped()  # not ours (now): no backoff; a change requeues
        sync = asyncio.create_task(self.sync(key), name=f"sync {key[0]}/{key[1]}")
        self._inflight[key] = (objects.uid_of(parent or {}) or "", sync)
        await asyncio.wait({sync})
        if sync.cancelled():
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise asyncio.CancelledError
            log.info("%s: sync of %s/%s cancelled (no longer ours)", self.config.name, *key)
            return SyncOutcome.cancelled()
        return sync.result()  # raises what the sync raised

    def _settle(self, key: Key, outcome: SyncOutcome) -> None:
        """The one place that acts on a sync's outcome: the queue and the metrics."""
        if outcome.label is not None:
            self.metrics.series(self.metrics.syncs, self.config.name, outcome.label).inc()
        if outcome.error_kind is not None:
            self.metrics.sync_errors.labels(self.config.name, outcome.error_kind).inc()
        queue = self.queue
        match outcome.next:
            case Next.SKIP:
                return
            case Next.FORGET:
                queue.drop(key)
            case Next.BACKOFF:
                delay = queue.add_rate_limited(key)
                log.info("%s: %s/%s failed (%s); retrying in %.1fs", self.config.name, *key,
                         outcome.error_kind or outcome.label, delay)
            case Next.REQUEUE:
                if outcome.succeeded:
                    queue.forget(key)
                # handed out again once this sync is done, or after the requeue limit
                # when the parent keeps coming back
                delay = queue.requeue(key)
                if delay >= 1.0:
                    log.info("%s: %s/%s requeued %d times in a row; next sync in %.1fs",
                             self.config.name, *key, queue.requeues(key), delay)
            case Next.RETRY:
                queue.forget(key)
                queue.cancel_delayed(key)  # the time asked for, not an earlier backoff
                log.info("%s: %s/%s asked to be retried in %gs", self.config.name, *key,
                         outcome.after)
            case Next.DONE:
                queue.forget(key)
        if outcome.after:
            queue.add_after(key, outcome.after)

    async def sync(self, key: Key) -> SyncOutcome:
        """One sync of the parent ``key`` (called by the workers, one at a time per key);
        the caller acts on the outcome (``_settle``)."""
        parent = self.view.parent(key)
        if parent is None:
            self._created_for.discard(key)
            departed = self._departed.pop(key, None)
            if departed is not None:
                return await self._sync_departed(key, departed)
            return SyncOutcome.skipped()
        self._departed.pop(key, None)
        try:
            selected = self.config.selects(parent)
        except FilterError as exc:  # the user's predicate: reported, retried, never fatal
            log.warning("%s: %s", self.config.name, exc)
            return SyncOutcome.failed("handler")
        if not selected:
            return await self._sync_unmatched(key, parent)
        if objects.is_terminating(parent) and (
            self.config.finalizer not in objects.finalizers_of(parent)
        ):
            # nothing of ours holds it: garbage collection removes the children
            return SyncOutcome.skipped()
        self.syncs += 1
        number = self.syncs
        started = self.clock.monotonic()  # virtual time in the testkit
        where = f"{key[0]}/{key[1]}" if key[0] else key[1]
        sync_id = uuid.uuid4().hex[:16]
        tagged = current_sync.set(number)  # the requests this sync makes carry its number
        # every log record and span of this sync carries the parent and the sync id
        with log_context(operator=self.config.name, parent=where, sync_id=sync_id), \
                span("kubeplan.sync", operator=self.config.name, parent=where,
                     sync_id=sync_id) as current:
            outcome: SyncOutcome | None = None
            try:
                async with asyncio.timeout(self.settings.sync_timeout):
                    outcome = await self._sync(key, parent, number)
            except TimeoutError:
                log.warning("%s: sync of %s/%s took longer than %ss", self.config.name, *key,
                            self.settings.sync_timeout)
                outcome = SyncOutcome.timeout()
            finally:
                current_sync.reset(tagged)
                if self.recording is not None:
                    self.recording.synced(number, key, "crashed" if outcome is None
                                          else outcome.label or outcome.next.name.lower())
                self.metrics.series(self.metrics.sync_duration, self.config.name).observe(
                    self.clock.monotonic() - started)
                current.set_attribute("kubeplan.outcome", "crashed" if outcome is None
                                      else outcome.label or "skipped")
            return outcome

    async def _sync(self, key: Key, parent: RawObject, number: int) -> SyncOutcome:
        uid = objects.uid_of(parent)
        finalizing = objects.is_terminating(parent)
        observed = self.view.children_of(uid)
        for type_, obj in await self._foreign_of(key):
            observed[type_].append(obj)
        children = Children.build(observed)
        related, sources, inputs_error = self.inputs.read(key, parent)
        # one reading of the clock per sync: the handler, the planner and the executor's
        # conditions see one instant
        now = self.clock.now()
        request = SyncRequest(parent=parent, children=children, finalizing=finalizing,
                              related=related, now=now, sources=sources)
        self._retrying.discard(key)
        held = self._held.get(key)
        if held is not None:
            if held == inputs_of(request):
                return SyncOutcome.held()  # nothing it read changed: the error stands
            del self._held[key]
        if self.recording is not None:
            self.recording.sync_started(number, key, request)
        result = (inputs_error if inputs_error is not None
                  else await self._handler.call(key, request, finalizing))
        with span("kubeplan.plan") as planned:
            plan = make_plan(
                self.config, request, result, memo=self.memo, now=now,
                has_finalize=self.handler.has_finalize,
            )
            planned.set_attribute("kubeplan.actions", len(plan.actions))
            if plan.error is not None:
                planned.set_attribute("kubeplan.error", plan.error)
        if self.recording is not None:
            self.recording.planned(number, key, plan)
        if plan.actions:
            count = len(plan.actions)
            log.info("%s: %s/%s: %d action%s", self.config.name, *key, count,
                     "" if count == 1 else "s")
            log.debug("%s", plan)
        creates = any(isinstance(action, Create) for action in plan.actions)
        if creates and key in self._created_for:
            live = await self._live_parent(parent)
            if live is None:
                return self._drop_gone(key, parent)
            if objects.resource_version_of(live) != objects.resource_version_of(parent):
                # the cache is behind (a terminating parent looks alive in it): sync again
                # from what the server holds
                self.view.take_live_parent(live)
                return SyncOutcome.stale()
        if creates:
            self._created_for.add(key)
        executed = await self.executor.execute(plan, parent, now=now)
        self._executed(plan, executed)
        if executed.aborted:
            return SyncOutcome.aborted()  # not ours any more: whoever owns it syncs it
        if executed.parent_gone:
            return self._drop_gone(key, parent)
        for type_, obj in executed.foreign:
            self._foreign.setdefault(key, {})[
                (type_, objects.namespace_of(obj), objects.name_of(obj) or "")] = obj
        if executed.conflict:
            self._created_for.add(key)  # behind: confirm the parent before creating
            # a 409 on the parent (its status, its finalizers) says the cache is behind:
            # take the server's parent now, so the next sync does not meet the same 409
            # while the watch lags (a stalled watch made that a loop at one instant)
            live = await self._live_parent(parent)
            if live is None:
                return self._drop_gone(key, parent)
            if objects.resource_version_of(live) != objects.resource_version_of(parent):
                self.view.take_live_parent(live)
            return SyncOutcome.conflict()
        if plan.permanent and executed.ok:
            self._held[key] = inputs_of(request)
            log.info("%s: %s/%s: permanent error, not retried until an input changes: %s",
                     self.config.name, *key, plan.error)
            return SyncOutcome.permanent()
        if plan.retry_in is not None and executed.ok:
            self._retrying.add(key)
            return SyncOutcome.retry(plan.retry_in)
        after = float(plan.resync_after) if plan.resync_after else None
        if isinstance(result, SourceError) and executed.ok:
            # no backoff: the source's poller syncs its readers when it answers again
            return SyncOutcome.source_unavailable()
        if plan.error is not None or not executed.ok or plan.problems:
            return SyncOutcome.failed("handler" if plan.error is not None else
                                      "actions" if not executed.ok else "child_conflict",
                                      after=after)
        return SyncOutcome.ok(wrote_children=executed.wrote_children, after=after)

    async def _find_departed(self) -> None:
        """Parents that left the label selection while no operator watched (relabelled
        before a restart: the selected watch never lists them) and still hold our
        finalizer or owned children: found with one unselected list per parent cache at
        start, and released as a DELETED event of a selected watch releases them."""
        for cache in self.parent_caches:
            continue_: str | None = None
            while True:
                try:
                    page = await self.client.list(self.config.parent, cache.namespace,
                                                  limit=500, continue_=continue_)
                except ApiError as exc:  # not fatal: the next start looks again
                    log.warning("%s: cannot list parents outside the selection (%s)",
                                self.config.name, exc)
                    return
                for parent in page.get("items") or ():
                    if (not self.config.filters.matches_labels(parent)
                            and self._may_have_departed(parent)):
                        key = key_of(parent)
                        self._departed[key] = parent
                        self.queue.add(key)
                continue_ = (page.get("metadata") or {}).get("continue") or None
                if continue_ is None:
                    break

    async def _sync_departed(self, key: Key, departed: RawObject) -> SyncOutcome:
        """A DELETED event of a label-selected parent: deleted, or relabelled out of the
        selection? The server says (one GET); only the latter is released."""
        meta = departed.get("metadata") or {}
        try:
            live = await self.client.get(self.config.parent, meta.get("name", ""),
                                         meta.get("namespace"))
        except NotFound:
            return SyncOutcome.skipped()  # deleted: garbage collection takes the children
        except ApiError as exc:
            log.info("%s: cannot tell whether %s/%s was deleted (%s); asking again later",
                     self.config.name, *key, exc)
            self._departed[key] = departed
            return SyncOutcome(Next.BACKOFF, "unmatched")
        if objects.uid_of(live) != objects.uid_of(departed) or (
                self.config.filters.matches_labels(live)):
            return SyncOutcome.skipped()  # another object, or back in the selection
        outcome = await self._sync_unmatched(key, live)
        if outcome.next in (Next.REQUEUE, Next.BACKOFF):
            self._departed[key] = live  # the next sync finds no parent in the cache either
        return outcome

    def _executed(self, plan: Plan, executed: ExecutionResult) -> None:
        """What every executed plan leaves: the memo updated, the ``on_plan`` hook told."""
        self.memo = executed.apply_to(self.memo)
        if self.on_plan is not None:
            try:
                self.on_plan(plan, executed)
            except Exception:  # an observer's bug must not fail the sync
                log.exception("%s: on_plan hook failed", self.config.name)

    async def _sync_unmatched(self, key: Key, parent: RawObject) -> SyncOutcome:
        """A parent the filters do not select: the handler is not called, and its plan
        holds at most the deletes of its children and the removal of our finalizer."""
        uid = objects.uid_of(parent)
        observed = self.view.children_of(uid)
        request = SyncRequest(parent=parent, children=Children.build(observed),
                              now=self.clock.now())
        plan = plan_unmatched(self.config, request)
        if not plan.actions:
            return SyncOutcome(Next.DONE, "unmatched", succeeded=True)
        log.info("%s: %s/%s is not selected by the filters: %d action(s)",
                 self.config.name, *key, len(plan.actions))
        executed = await self.executor.execute(plan, parent, now=request.now,
                                               report_on_status=False)
        self._executed(plan, executed)
        if executed.aborted:
            return SyncOutcome.aborted()
        if executed.conflict:
            return SyncOutcome.conflict()
        if not executed.ok:
            return SyncOutcome.failed("actions")
        return SyncOutcome(Next.DONE, "unmatched", succeeded=True)

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

    def _drop_gone(self, key: Key, parent: RawObject) -> SyncOutcome:
        """The server says the parent is gone though the cache holds it: drop it from the
        cache until the watch or a relist says otherwise, or each child the garbage
        collector removes would trigger another sync that creates it again (the outcome
        forgets its backoff)."""
        self.view.drop_parent(parent)
        self._created_for.discard(key)
        log.info("%s: %s/%s is gone (the cache was stale); dropped", self.config.name, *key)
        return SyncOutcome.gone()

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
            if obj is None or objects.is_owned_by(obj, objects.uid_of(self.view.parent(key) or {})):
                del known[(type_, namespace, name)]
                continue
            found.append((type_, obj))
        if not known:
            del self._foreign[key]
        return found


