"""Runtime settings: every knob of the adapters in one frozen value.

Defaults follow the controller world (see the performance anchors): a 10-minute full
resync (controller-runtime uses 10 h, but a level-based operator that cannot see every
external change benefits from a shorter one; a resync with nothing changed makes no
write), client-go's per-item backoff shape (exponential, capped), kopf's 70 s watch
inactivity timeout (the API server sends a bookmark about once a minute, so a silent
stream for longer than that is stalled), and controller-runtime's 30 s graceful shutdown.
"""

from __future__ import annotations

from typing import Any

import attrs

from kubeplan.core.errors import InvalidArgument

#: environment variables ``kubeplan run`` reads (the manifests' Deployment sets them)
ENV_LEADER_ELECTION = "KUBEPLAN_LEADER_ELECTION"
ENV_SHARDING = "KUBEPLAN_SHARDING"
ENV_POD_NAME = "POD_NAME"
ENV_POD_NAMESPACE = "POD_NAMESPACE"


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise InvalidArgument(f"RuntimeSettings.{attribute.name} must be > 0, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise InvalidArgument(f"RuntimeSettings.{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class RuntimeSettings:
    """How an ``Operator`` runs. All durations are in seconds."""

    #: syncs running at once (different parents; one parent never syncs twice at once)
    workers: int = attrs.field(default=4, validator=_positive)
    #: every parent is synced again after this long even if nothing changed (None: never)
    resync_period: float | None = attrs.field(default=600.0, validator=_positive)
    #: a sync (handler + plan execution) taking longer is cancelled and retried with backoff
    sync_timeout: float = attrs.field(default=60.0, validator=_positive)
    #: run synchronous handlers in threads, off the event loop: a slow handler holds up
    #: neither other parents nor watches and health probes, and ``sync_timeout`` holds for
    #: it (the sync counts as timed out; the thread runs on, one per parent at most).
    #: False calls them on the loop (deterministic; the testkit's scenarios do), where a
    #: slow handler blocks everything and no timeout can interrupt it
    handler_threads: bool = True
    #: per-parent backoff after a failed sync: base * 2**(failures-1), capped, with jitter
    backoff_base: float = attrs.field(default=0.5, validator=_positive)
    backoff_cap: float = attrs.field(default=300.0, validator=_positive)
    #: jitter as a fraction of the delay (0.2: the delay is scaled by a factor in [0.8, 1.2])
    backoff_jitter: float = 0.2
    #: the requeue limit (``backoff.RequeueLimiter``, client-go's default controller rate
    #: limiter): a parent synced again because it wrote children, met a 409 or its children
    #: changed waits requeue_base * 2**(n-1) (capped) on its n-th requeue in a row, and from
    #: the second on also for a token of a bucket shared by all parents (requeue_qps a
    #: second, requeue_burst at most; None: no bucket); the streak ends once the parent has
    #: stayed settled for twice its last delay plus requeue_quiet. requeue_base=0 with
    #: requeue_qps=None turns the limit off (the testkit's scenarios do, to see hot loops)
    requeue_base: float = attrs.field(default=0.005, validator=_non_negative)
    requeue_cap: float = attrs.field(default=1000.0, validator=_positive)
    requeue_qps: float | None = attrs.field(default=10.0, validator=_positive)
    requeue_burst: int = attrs.field(default=100, validator=_positive)
    requeue_quiet: float = attrs.field(default=10.0, validator=_positive)
    #: client-side rate limit of the operator's API requests (``ratelimit.TokenBucket``):
    #: qps requests a second with bursts of ``burst``, shared by all its requests (each
    #: read, write, list page and watch start; not the Lease renewals of leader election
    #: and sharding, which must not wait behind a backlog). None: no client-side limit,
    #: the server's flow control (429 + Retry-After, honoured) is the limit
    qps: float | None = attrs.field(default=None, validator=_positive)
    burst: int = attrs.field(default=10, validator=_positive)
    #: a watch stream silent for this long is considered stalled and restarted
    watch_inactivity_timeout: float = attrs.field(default=70.0, validator=_positive)
    #: ``timeoutSeconds`` asked of the server for each watch request
    watch_timeout_seconds: int = attrs.field(default=300, validator=_positive)
    #: reconnect backoff of the watch after an error
    watch_backoff_base: float = attrs.field(default=0.2, validator=_positive)
    watch_backoff_cap: float = attrs.field(default=30.0, validator=_positive)
    #: page size of the initial LIST (None: one request)
    list_page_size: int | None = 500
    #: on stop, in-flight syncs get this long to finish before they are cancelled
    grace_period: float = attrs.field(default=30.0, validator=_positive)
    #: the /healthz /readyz /metrics endpoint (None: not served; 0: any free port)
    health_port: int | None = None
    health_host: str = "0.0.0.0"
    #: post Kubernetes Events on the parent
    post_events: bool = True
    #: identical Events on the same parent within this window update one Event's count
    event_aggregation_window: float = attrs.field(default=600.0, validator=_positive)
    #: seed of every random jitter (queue backoff, watch reconnects) and of Event names;
    #: None: system randomness. Tests and simulations set it to replay a run exactly.
    seed: int | str | None = None
    #: leader election: one replica syncs, the others stand by with warm caches
    leader_election: bool = False
    #: sharding: every replica is a member and syncs the parents assigned to it
    #: (exclusive with ``leader_election``)
    shards: bool = False
    #: namespace of the Lease objects (None: the pod's namespace, else "default")
    lease_namespace: str | None = None
    #: this replica's name in the Leases (None: $POD_NAME, else hostname + random suffix)
    identity: str | None = None
    #: lease timing (see docs/sharding.md): others take over after ``lease_duration``; a
    #: holder stops at ``renew_deadline`` after its last renewal; renew every ``retry_period``
    lease_duration: float = attrs.field(default=15.0, validator=_positive)
    renew_deadline: float = attrs.field(default=10.0, validator=_positive)
    retry_period: float = attrs.field(default=2.0, validator=_positive)
    #: record what the operator saw and did to this file (JSON lines, see
    #: ``kubeplan.adapters.recording``; replayed by ``kubeplan.testkit.replay``); None: no
    record: str | None = None
    #: write Secret values into the recording as they are (default: redacted to hashes)
    record_secrets: bool = False

    def __attrs_post_init__(self) -> None:
        if self.leader_election and self.shards:
            raise InvalidArgument(
                "RuntimeSettings: choose leader_election or shards, not both (in sharding "
                "mode every replica is active; leader election keeps one active)"
            )
