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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubeplan.adapters.backoff import Backoff
from kubeplan.adapters.cache import Key, WatchCache, key_of
from kubeplan.adapters.errors import NotFound
from kubeplan.adapters.events import EventRecorder
from kubeplan.adapters.executor import Executor
from kubeplan.adapters.health import HealthServer
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.queue import WorkQueue
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core import objects
from kubeplan.core.config import LABEL_PARENT_UID, OperatorConfig
from kubeplan.core.handler import HandlerInfo
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.planner import plan as make_plan
from kubeplan.core.request import Children, SyncRequest
from kubeplan.core.types import K8sType

log = logging.getLogger(__name__)


class Operator:
    """One operator running against one API server.

    ``client`` is any ``ApiClient`` (``KubeClient`` or the testkit's in-process client);
    the operator does not close it unless ``owns_client=True``. Several operators may run
    in one process and one event loop: they share nothing.
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
    ) -> None:
        self.config = config
        self.handler = HandlerInfo.of(handler)
        self.client = client
        self.settings = settings = settings or RuntimeSettings()
        self.owns_client = owns_client
        self.wall_clock = wall_clock
        self.memo = ApplyMemo.empty()
        self.metrics = OperatorMetrics(config.name)
        observers = getattr(client, "observers", None)
        if isinstance(observers, list):
            observers.append(self.metrics.observe_request)
        self.queue: WorkQueue[Key] = WorkQueue(
            Backoff(base=settings.backoff_base, cap=settings.backoff_cap,
                    jitter=settings.backoff_jitter),
            on_depth=self.metrics.observe_queue_depth,
            on_latency=self.metrics.observe_queue_latency,
        )
        namespaces = sorted(config.namespaces) if config.namespaces is not None else [None]
        self.parent_caches = [
            WatchCache(client, config.parent, namespace=ns, settings=settings,
                       listener=self._on_parent_change, metrics=self.metrics)
            for ns in (namespaces if config.parent.namespaced else [None])
        ]
        self.child_caches: dict[K8sType, WatchCache] = {
            type_: WatchCache(client, type_, label_selector=config.child_label_selector,
                              index_label=LABEL_PARENT_UID, settings=settings,
                              listener=self._on_child_change, metrics=self.metrics)
            for type_ in config.child_types
        }
        self.recorder = EventRecorder(
            client, config.field_manager, window=settings.event_aggregation_window,
            enabled=settings.post_events,
        )
        self.executor = Executor(
            client, config, recorder=self.recorder, observe=self._observe_write,
            metrics=self.metrics, wall_clock=wall_clock,
        )
        self.health: HealthServer | None = None
        # parent key -> objects holding a child's name without being ours (see _foreign_of)
        self._foreign: dict[Key, dict[tuple[K8sType, str | None, str], RawObject]] = {}
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
        return [*self.parent_caches, *self.child_caches.values()]

    def is_ready(self) -> bool:
        return self._running and all(cache.synced.is_set() for cache in self.caches)

    def is_alive(self) -> bool:
        return not self._running or not any(task.done() for task in self._tasks + self._workers)

    async def run(self) -> None:
        """Run until ``stop()``; raises if a watch or worker task dies of a bug."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        try:
            self._tasks = [
                asyncio.create_task(cache.run(), name=f"watch {cache.type} {cache.namespace}")
                for cache in self.caches
            ]
            if self.settings.health_port is not None:
                self.health = HealthServer(
                    live=[self.is_alive], ready=[self.is_ready], metrics=[self.metrics.render],
                    host=self.settings.health_host, port=self.settings.health_port,
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
            await self._until_stopped(self._stop_requested.wait())
        finally:
            await self._shutdown()

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

    async def _shutdown(self) -> None:
        self._stop_requested.set()
        self.queue.shutdown()
        if self._workers:
            try:
                async with asyncio.timeout(self.settings.grace_period):
                    await self.queue.wait_no_processing()
            except TimeoutError:
                log.warning("%s: %d syncs still running after the %ss grace period; cancelling",
                            self.config.name, self.queue.in_flight, self.settings.grace_period)
        for task in self._workers + self._tasks:
            task.cancel()
        await asyncio.gather(*self._workers, *self._tasks, return_exceptions=True)
        self._workers, self._tasks = [], []
        if self.health is not None:
            await self.health.stop()
            self.health = None
        if self.owns_client:
            await self.client.close()
        self._running = False
        self._stopped.set()

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
                before = self.syncs
                await asyncio.sleep(quiet)
                if self.queue.is_idle() and self.syncs == before:
                    return

    # -- events -> queue ------------------------------------------------------------------

    def _on_parent_change(self, _old: RawObject | None, new: RawObject | None) -> None:
        key = key_of(new or _old or {})
        if new is None:
            self.queue.cancel_delayed(key)
            self.queue.forget(key)
            self._foreign.pop(key, None)
            return
        self.queue.add(key)

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
            for cache in self.parent_caches:
                for parent in cache:
                    self.queue.add(key_of(parent))

    # -- syncing --------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.sync(key)
            except Exception:
                log.exception("%s: sync of %s/%s crashed", self.config.name, *key)
                self.metrics.syncs.labels(self.config.name, "crashed").inc()
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync(self, key: Key) -> None:
        """One sync of the parent ``key`` (called by the workers, one at a time per key)."""
        parent = self._parent(key)
        if parent is None:
            return
        if objects.is_terminating(parent) and (
            self.config.finalizer not in objects.finalizers_of(parent)
        ):
            return  # nothing of ours holds it: garbage collection removes the children
        self.syncs += 1
        started = time.monotonic()
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
            self.metrics.sync_duration.labels(self.config.name).observe(
                time.monotonic() - started)
            self.metrics.syncs.labels(self.config.name, outcome).inc()

    async def _sync(self, key: Key, parent: RawObject) -> str:
        uid = objects.uid_of(parent)
        finalizing = objects.is_terminating(parent)
        observed = {type_: cache.owned_by(uid) if uid else []
                    for type_, cache in self.child_caches.items()}
        for type_, obj in await self._foreign_of(key):
            observed[type_].append(obj)
        children = Children.build(observed)
        request = SyncRequest(parent=parent, children=children, finalizing=finalizing)
        result = await self._call_handler(request, finalizing)
        plan = make_plan(
            self.config, request, result, memo=self.memo, now=self.wall_clock(),
            has_finalize=self.handler.has_finalize,
        )
        if plan.actions:
            log.info("%s: %s/%s: %d actions", self.config.name, *key, len(plan.actions))
            log.debug("%s", plan)
        executed = await self.executor.execute(plan, parent)
        self.memo = executed.apply_to(self.memo)
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
            if is_async or asyncio.iscoroutine(result):
                result = await result
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the user's bug: reported on the parent, never fatal
            log.warning("%s: handler raised on %s: %r", self.config.name,
                        request.describe(), exc)
            return exc


async def serve(
    operators: list[Operator], *, install_signal_handlers: bool = True
) -> None:
    """Run operators until SIGTERM/SIGINT (or until each has been stopped)."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []
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

    async def main() -> None:
        client = await KubeClient.from_config(kubeconfig, context)
        operator = Operator(config, handler, client, settings=settings, owns_client=True)
        await serve([operator])

    asyncio.run(main())
