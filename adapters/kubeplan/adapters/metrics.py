"""Prometheus metrics of one operator, in its own ``CollectorRegistry``.

A registry per operator (instead of prometheus_client's global one) keeps several
operators in one process, and every test, independent. Names mirror controller-runtime
and client-go (``reconcile_total``, ``workqueue_depth``, ``rest_client_requests_total``)
so existing dashboards translate; every series carries the operator name as a label.

Several operators in one process (``kubeplan.adapters.group``) share one registry:
``for_operator`` gives each its own view of the same metric families, so one /metrics
serves them all, told apart by the ``operator`` label. ``current_operator`` says which
operator the running task works for; an API request is counted by that operator alone
(a client shared by several operators would otherwise count each request once per
operator).
"""

from __future__ import annotations

import contextvars
import copy
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: the name of the operator the running task works for (set by ``Operator.run``; None
#: outside any operator: such requests are counted by every operator that sees them)
current_operator: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kubeplan_current_operator", default=None)


class OperatorMetrics:
    """The metrics one ``Operator`` updates; ``render()`` is the /metrics payload."""

    def __init__(self, operator: str, registry: CollectorRegistry | None = None) -> None:
        self.operator = operator
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.syncs = Counter(
            "kubeplan_syncs", "Syncs by outcome (ok, error, conflict, timeout, failed_actions).",
            ["operator", "outcome"], registry=r,
        )
        self.sync_errors = Counter(
            "kubeplan_sync_errors", "Failed syncs by kind of error.",
            ["operator", "kind"], registry=r,
        )
        self.sync_duration = Histogram(
            "kubeplan_sync_duration_seconds", "Duration of a sync: handler, plan and execution.",
            ["operator"], registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.active = Gauge(
            "kubeplan_replica_active",
            "1 while this replica may sync (leader, or shard member; always 1 in single "
            "mode), by mode (single, leader, shard).",
            ["operator", "mode"], registry=r,
        )
        self.queue_depth = Gauge(
            "kubeplan_workqueue_depth", "Parents waiting to be synced.", ["operator"], registry=r,
        )
        self.queue_latency = Histogram(
            "kubeplan_workqueue_queue_duration_seconds",
            "Time a parent waited in the queue before its sync started.",
            ["operator"], registry=r,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.api_requests = Counter(
            "kubeplan_rest_client_requests", "API requests by verb and HTTP code (0: no answer).",
            ["operator", "verb", "code"], registry=r,
        )
        self.watch_restarts = Counter(
            "kubeplan_watch_restarts", "Watch restarts by resource and reason.",
            ["operator", "resource", "reason"], registry=r,
        )
        self.cached_objects = Gauge(
            "kubeplan_cached_objects", "Objects held in the watch cache.",
            ["operator", "resource"], registry=r,
        )
        self.actions = Counter(
            "kubeplan_actions", "Plan actions executed by kind and result.",
            ["operator", "action", "result"], registry=r,
        )
        self.source_polls = Counter(
            "kubeplan_source_polls", "Readings of external sources by result "
            "(read, unchanged, failed).", ["operator", "source", "result"], registry=r,
        )

        self.throttled = Counter(
            "kubeplan_client_rate_limited_requests",
            "API requests that waited for the client-side rate limit (--qps/--burst).",
            ["operator"], registry=r,
        )
        self.throttle_wait = Counter(
            "kubeplan_client_rate_limit_wait_seconds",
            "Seconds API requests spent waiting for the client-side rate limit, in all.",
            ["operator"], registry=r,
        )

        # labelled series by (id of the metric, labels): ``labels()`` validates and locks on
        # every call, and the runtime counts several things per request (a measurable share
        # of an operator's CPU while it converges)
        self._series: dict[tuple[int, tuple[str, ...]], Any] = {}

    def series(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once."""
        key = (id(metric), labels)  # the metrics live as long as this object
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = metric.labels(*labels)
        return found

    def for_operator(self, operator: str) -> OperatorMetrics:
        """The metrics of another operator in this one's registry: the same families
        (a registry holds each name once), its own ``operator`` label."""
        twin = copy.copy(self)
        twin.operator = operator
        twin._series = {}
        return twin

    def observe_request(self, verb: str, code: int) -> None:
        working_for = current_operator.get()
        if working_for is not None and working_for != self.operator:
            return  # another operator's request on a shared client
        self.series(self.api_requests, self.operator, verb, str(code)).inc()

    def observe_throttle(self, seconds: float) -> None:
        self.series(self.throttled, self.operator).inc()
        self.series(self.throttle_wait, self.operator).inc(seconds)

    def observe_queue_depth(self, depth: int) -> None:
        self.series(self.queue_depth, self.operator).set(depth)

    def observe_queue_latency(self, seconds: float) -> None:
        self.series(self.queue_latency, self.operator).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
