"""``OperatorClients``: the ``ApiClient`` an operator is given, and the wrappers it stacks on it.

::

    given client -- Lease renewals (never throttled nor recorded: a slow renewal loses
     |              leadership)
    RateLimitedClient (settings.qps) -- the watch caches (they record what they take
     |                                  themselves)
    RecordingClient (settings.record) -- the runtime's own requests: reads, writes, Events

The given client's ``observers`` (``KubeClient``'s request hooks) get the operator's
request metrics.
"""

from __future__ import annotations

import attrs

from kubeplan.adapters.clock import Clock
from kubeplan.adapters.metrics import OperatorMetrics
from kubeplan.adapters.protocol import ApiClient
from kubeplan.adapters.ratelimit import RateLimitedClient, TokenBucket
from kubeplan.adapters.recording import Recorder, RecordingClient
from kubeplan.adapters.settings import RuntimeSettings


@attrs.frozen
class OperatorClients:
    """The clients one operator talks through (see the module's docstring)."""

    #: the given client, for the Leases
    leases: ApiClient
    #: throttled, for the watch caches
    caches: ApiClient
    #: throttled and recorded, for everything else the runtime sends
    requests: ApiClient
    #: the client-side rate limit (``settings.qps``), None when off
    rate_limit: TokenBucket | None

    @classmethod
    def wrap(cls, client: ApiClient, settings: RuntimeSettings, *, clock: Clock,
             metrics: OperatorMetrics, recorder: Recorder | None) -> OperatorClients:
        """Stack the wrappers the settings (and a recorder) ask for on ``client``."""
        observers = getattr(client, "observers", None)
        if isinstance(observers, list):
            observers.append(metrics.observe_request)
        rate_limit = None
        throttled = client
        if settings.qps is not None:
            rate_limit = TokenBucket(settings.qps, settings.burst, clock=clock,
                                     on_wait=metrics.observe_throttle)
            throttled = RateLimitedClient(client, rate_limit)
        recorded = throttled if recorder is None else RecordingClient(throttled, recorder)
        return cls(leases=client, caches=throttled, requests=recorded, rate_limit=rate_limit)
