"""``OperatorGroup``: several operators in one process, sharing what can be shared.

::

    group = OperatorGroup(client, settings=RuntimeSettings(health_port=8080))
    group.add(secret_sync.config, secret_sync.handler)
    group.add(service_account_sync.config, service_account_sync.handler)
    await group.run()          # until group.stop()

What the operators share:

* the client (one connection pool);
* the watch caches (``sharedcache.SharedCaches``): one cache, one LIST and one WATCH per
  collection (type, namespace, label selector), however many operators read it, and one
  copy of each object in memory. Each operator's children are found under their own
  label selector (``kubeplan.dev/operator=NAME``), so child caches are shared only by
  operators of one name, which a group refuses; the types they *read* (related types, a
  parent type that is another's related type) are what gets shared;
* one metrics registry, each series labelled with its ``operator`` (the single-operator
  names and labels, unchanged);
* one health server (``settings.health_port`` of the group): ``/healthz`` is healthy
  while every operator and every shared watch runs, ``/readyz`` ready once every
  operator is, with one line per operator saying its scale-out state.

What each keeps: its queue, workers, apply memo, handler threads, Events, and its
scale-out (leader election or sharding, with a Lease of its own name).

Names must be unique in a group (they name the Leases, the field manager and the metrics'
``operator`` label): ``add`` refuses a second operator of one name.

One operator ending ends the group: if an operator's ``run()`` fails (a watch or worker
task died of a bug), the group stops the others gracefully (in-flight syncs get their
grace period, Leases are released) and ``run()`` raises a ``RuntimeError`` naming the
operator that failed; a shared watch that dies does the same. An operator stopped on its
own (``Operator.stop``) stops the group too, without an error. The command exits 1 then: a process
where one of its controllers is dead should be restarted whole by its supervisor, as a
controller-runtime manager does when one of its runnables fails.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from typing import TYPE_CHECKING, Any

import attrs

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.metrics import OperatorMetrics, current_operator
from kubeplan.adapters.process import burst_collector
from kubeplan.adapters.protocol import ApiClient
from kubeplan.adapters.runtime import Operator, PlanHook, default_identity
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.adapters.sharedcache import SharedCaches
from kubeplan.core.config import OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.errors import InvalidArgument, KubeplanError, NoSuchEntry, UsageError

if TYPE_CHECKING:
    from kubeplan.adapters.health import HealthServer

__all__ = ["OperatorFailed", "OperatorGroup"]

log = logging.getLogger(__name__)


class OperatorFailed(KubeplanError, RuntimeError):
    """One operator of a group (or a watch they share) failed; the others were stopped."""


class OperatorGroup:
    """Operators run side by side on one client, sharing watch caches, metrics and health.

    ``settings`` is every operator's default (``add`` takes settings of its own); the
    group serves the health endpoint on its ``health_port`` (the operators serve none),
    and one ``identity`` names this process in every operator's Leases. ``clock`` is every
    operator's clock (virtual time in the testkit)."""

    def __init__(
        self,
        client: ApiClient,
        *,
        settings: RuntimeSettings | None = None,
        owns_client: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or RuntimeSettings()
        self.owns_client = owns_client
        self.clock = clock or SystemClock()
        self.identity = self.settings.identity or default_identity()
        self.caches = SharedCaches()
        self.operators: list[Operator] = []
        self.health: HealthServer | None = None
        self._metrics: OperatorMetrics | None = None
        self._cache_tasks: list[asyncio.Task[None]] = []
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False

    def __repr__(self) -> str:
        return f"<OperatorGroup {', '.join(self.names)}>"

    @property
    def names(self) -> list[str]:
        return [op.config.name for op in self.operators]

    def add(self, config: OperatorConfig, handler: Any, *,
            settings: RuntimeSettings | None = None, rng: random.Random | None = None,
            on_plan: PlanHook | None = None) -> Operator:
        """Add an operator (before ``run``); returns it. Its health port is the group's."""
        if self._running:
            raise UsageError(f"{self!r} is running: add operators before run()")
        if config.name in self.names:
            raise InvalidArgument(
                f"two operators are named {config.name!r}: the operators of one process "
                "need unique names (they name its Leases, field manager and metrics); "
                "give one of them another OperatorConfig name")
        settings = attrs.evolve(settings or self.settings, health_port=None,
                                identity=self.identity)
        if self._metrics is None:
            metrics = self._metrics = OperatorMetrics(config.name)
        else:
            metrics = self._metrics.for_operator(config.name)
        operator = Operator(config, handler, self.client, settings=settings, clock=self.clock,
                            rng=rng, on_plan=on_plan, shared_caches=self.caches,
                            metrics=metrics)
        self.operators.append(operator)
        return operator

    def add_definition(self, definition: OperatorDefinition, *,
                       settings: RuntimeSettings | None = None) -> Operator:
        """``add`` for an ``OperatorDefinition``."""
        return self.add(definition.config, definition.handler, settings=settings)

    def operator(self, name: str) -> Operator:
        for op in self.operators:
            if op.config.name == name:
                return op
        raise NoSuchEntry(f"{self!r} has no operator named {name!r}")

    # -- state ----------------------------------------------------------------------------

    def is_ready(self) -> bool:
        """Every operator is ready (its caches listed)."""
        return self._running and all(op.is_ready() for op in self.operators)

    def is_alive(self) -> bool:
        """Every operator and every shared watch runs."""
        return all(op.is_alive() for op in self.operators) and not any(
            task.done() for task in self._cache_tasks)

    def render_metrics(self) -> bytes:
        """The /metrics payload: every operator's series, from the one registry."""
        return self._metrics.render() if self._metrics is not None else b""

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, *, collect_between_bursts: bool = False) -> None:
        """Run every operator until ``stop()``; raises ``RuntimeError`` when one of them
        (or a shared watch) fails, after stopping the others."""
        if not self.operators:
            raise InvalidArgument("an OperatorGroup needs at least one operator: add() them first")
        if self._running:
            raise UsageError(f"{self!r} is already running")
        self._running = True
        self._stopped.clear()
        loop = asyncio.get_running_loop()
        collector = (loop.create_task(burst_collector(self.operators).run())
                     if collect_between_bursts else None)
        op_tasks: dict[asyncio.Task[None], Operator] = {}
        failure: BaseException | None = None
        failed: str | None = None
        try:
            for cache in self.caches:
                # the cache's requests are its first reader's (counted once)
                context = contextvars.copy_context()
                context.run(current_operator.set, cache.owner)
                self._cache_tasks.append(loop.create_task(
                    cache.run(), name=f"the shared watch of {cache.type}"
                    + (f" in {cache.namespace}" if cache.namespace else ""),
                    context=context))
            if self.settings.health_port is not None:
                await self._start_health()
            for op in self.operators:
                op_tasks[loop.create_task(op.run(), name=f"operator {op.config.name}")] = op
            stop: asyncio.Future[Any] = loop.create_task(self._stop_requested.wait())
            try:
                done, _ = await asyncio.wait({stop, *op_tasks, *self._cache_tasks},
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()
            ended = next((task for task in done if task is not stop), None)
            if ended is not None:
                cause = ended.exception() if not ended.cancelled() else None
                owner = next((o for t, o in op_tasks.items() if t is ended), None)
                if owner is not None:
                    failed, failure = owner.config.name, cause
                    log.error("operator %s %s; stopping the others", failed,
                              f"failed: {cause!r}" if cause else "was stopped")
                else:  # a shared watch: only a bug ends one
                    failed = ended.get_name() if isinstance(ended, asyncio.Task) else "a watch"
                    failure = cause or RuntimeError(f"{failed} ended")
                    log.error("%s ended (%r); stopping every operator", failed, cause)
            await asyncio.gather(*(op.stop() for op in self.operators))
            results = await asyncio.gather(*op_tasks, return_exceptions=True)
            for task, result in zip(op_tasks, results, strict=True):
                if isinstance(result, Exception) and failure is None:
                    failed, failure = op_tasks[task].config.name, result
        finally:
            for task in op_tasks:
                task.cancel()  # only when run() itself was cancelled: a crash
            for task in self._cache_tasks:
                task.cancel()
            await asyncio.gather(*op_tasks, *self._cache_tasks, return_exceptions=True)
            self._cache_tasks = []
            if collector is not None:
                collector.cancel()
            if self.health is not None:
                await self.health.stop()
                self.health = None
            if self.owns_client:
                await self.client.close()
            self._running = False
            self._stopped.set()
        if failure is not None:
            raise OperatorFailed(f"{self!r}: {failed} failed: {failure}") from failure

    async def stop(self) -> None:
        """Stop every operator gracefully (each as ``Operator.stop``) and wait for it."""
        self._stop_requested.set()
        if self._running:
            await self._stopped.wait()

    async def _start_health(self) -> None:
        from kubeplan.adapters.health import HealthServer

        def detail(op: Operator) -> Any:
            return lambda: f"{op.config.name}: {op.scale_out.readiness()}"

        self.health = HealthServer(
            live=[self.is_alive], ready=[self.is_ready], metrics=[self.render_metrics],
            host=self.settings.health_host, port=self.settings.health_port or 0,
            details=[detail(op) for op in self.operators],
        )
        port = await self.health.start()
        log.info("%s: health and metrics on port %d", self, port)
