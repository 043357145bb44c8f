"""Leader election on a coordination.k8s.io/v1 Lease, through our ``ApiClient``.

Why not ``kubernetes_asyncio.leaderelection``: it reads and writes the Lease through its own
typed ``CoordinationV1Api`` (so it cannot run on the in-process fake client, which speaks
raw dicts through ``ApiClient``), it reads ``time.time()`` directly (so lease expiry cannot
be driven by a virtual clock in tests), its leader only notices a lost lease when a renewal
*attempt* returns, and it exits after losing instead of standing again. Its algorithm is
client-go's; this module keeps that algorithm (and its 15/10/2 s defaults) and fixes those
four points:

- all API access goes through ``ApiClient`` with raw dicts, on any implementation;
- time comes from an injected ``Clock``; ``is_leader`` is computed from the clock on every
  read, so it turns False the instant ``renew_deadline`` has passed since the start of the
  last successful renewal, even while a renewal request hangs;
- every write is a ``replace`` carrying the resourceVersion it was based on, so two
  candidates racing for a free Lease cannot both win (the loser gets 409);
- a candidate counts the holder's Lease as expired only when both the time it has seen
  the Lease unchanged *and* ``renewTime`` say so (``kubeplan.core.lease``).

There is no fencing token in Kubernetes: a deposed leader that was paused mid-write can
still send that write. The runtime must therefore check ``is_leader`` right before each
write and send writes with resourceVersion/uid preconditions; see docs/sharding.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from kubeplan.adapters.errors import AlreadyExists, ApiError, Conflict, NotFound
from kubeplan.adapters.leases import (
    Clock,
    DeadlineExceeded,
    WallClock,
    bounded,
    check_lease_timing,
    non_empty,
    positive_seconds,
    read_lease,
    reap,
)
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.lease import LeaseObservation, LeaseRecord, lease_body, observe

__all__ = ["LeaderElectionSettings", "LeaderElector"]

log = logging.getLogger(__name__)


@attrs.frozen
class LeaderElectionSettings:
    """Timing as in client-go: a leader that cannot renew for ``renew_deadline`` stops;
    others take over after ``lease_duration``; everybody retries every ``retry_period``.

    The gap ``lease_duration - renew_deadline`` is the safety margin: it must cover clock
    rate differences between replicas and the latency of one request.
    """

    lease_name: str = attrs.field(validator=non_empty)
    namespace: str = attrs.field(validator=non_empty)
    identity: str = attrs.field(validator=non_empty)
    lease_duration: float = attrs.field(default=15.0, validator=positive_seconds)
    renew_deadline: float = attrs.field(default=10.0, validator=positive_seconds)
    retry_period: float = attrs.field(default=2.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        check_lease_timing(lease_duration=self.lease_duration,
                           renew_deadline=self.renew_deadline, retry=self.retry_period,
                           retry_name="retry_period", holder="a leader")


Callback = Callable[[], None]


class LeaderElector:
    """Stand for leadership of one Lease; ``await run()`` until ``release()`` or cancellation.

    ``became_leader`` is set while this replica leads and ``lost_leadership`` once it has
    stopped leading (each is cleared when the other is set). ``is_leader`` is the authority:
    read it right before any write.
    """

    def __init__(
        self,
        client: ApiClient,
        settings: LeaderElectionSettings,
        *,
        clock: Clock | None = None,
        on_started_leading: Callback | None = None,
        on_stopped_leading: Callback | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock: Clock = clock or WallClock()
        self.became_leader = asyncio.Event()
        self.lost_leadership = asyncio.Event()
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._observation: LeaseObservation | None = None
        self._leading = False
        self._renewed_at: datetime | None = None  # start of the last successful write
        self._held: LeaseRecord | None = None  # what our last successful write returned
        self._stop = asyncio.Event()
        self._io = asyncio.Lock()

    # --- state ------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True only while the last successful renewal started less than renew_deadline ago."""
        if not self._leading or self._renewed_at is None:
            return False
        return self.clock.now() < self._renewed_at + timedelta(seconds=self.settings.renew_deadline)

    @property
    def leader(self) -> str | None:
        """The holder as last seen (this replica's identity while it leads)."""
        if self._leading:
            return self.settings.identity
        return None if self._observation is None else self._observation.record.holder

    async def wait_for_leadership(self) -> None:
        await self.became_leader.wait()

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Acquire, then renew every retry period; stand again after losing. Returns after
        ``release()``; cancelling it stops renewals without releasing (as a crash would)."""
        self._stop.clear()
        try:
            while not self._stop.is_set():
                async with self._io:
                    if self._stop.is_set():
                        break
                    pause = await (self._renew() if self._leading else self._try_acquire())
                await self._pause(pause)
        finally:
            if self._leading and not self.is_leader:
                self._lose("renew deadline passed")

    async def release(self) -> None:
        """Give the Lease up so that a standby takes over within one retry period.

        Call it after this replica has stopped writing. It clears ``holderIdentity`` with a
        resourceVersion precondition (if the Lease moved on, there is nothing to release).
        """
        self._stop.set()
        async with self._io:
            if not (self.is_leader and self._held is not None):
                if self._leading:
                    self._lose("stopped")
                return
            now = self.clock.now()
            held = self._held
            body = self._body(holder=None, acquire=now, renew=now, transitions=held.transitions,
                              version=held.version, duration=1.0)
            self._lose("released")
            try:
                await bounded(self.clock, self.client.replace(Lease, body),
                              self.settings.retry_period)
            except (ApiError, DeadlineExceeded) as exc:
                log.warning("could not release lease %s: %s", self.settings.lease_name, exc)

    # --- one round each ---------------------------------------------------------------------

    async def _try_acquire(self) -> float:
        """One candidate round; returns how long to wait before the next one."""
        settings = self.settings
        try:
            record = await bounded(
                self.clock, read_lease(self.client, settings.lease_name, settings.namespace),
                settings.retry_period,
            )
        except (ApiError, DeadlineExceeded) as exc:
            log.debug("reading lease %s failed: %s", settings.lease_name, exc)
            return settings.retry_period
        seen_at = self.clock.now()
        if record is None:
            await self._write(create=True, transitions=0, acquire=None, version=None)
            return settings.retry_period
        self._observation = observe(self._observation, record, seen_at)
        if record.holder == settings.identity:
            # Ours already (a restart with the same identity, or a write that timed out on
            # our side but landed): renew it as a new term, keeping acquireTime.
            await self._write(create=False, transitions=record.transitions,
                              acquire=record.acquire_time, version=record.version)
            return settings.retry_period
        if self._observation.is_expired(seen_at, settings.lease_duration):
            await self._write(create=False, transitions=record.transitions + 1, acquire=None,
                              version=record.version)
            return settings.retry_period
        until_expiry = (self._observation.expires_at(settings.lease_duration) - seen_at)
        return min(settings.retry_period, max(until_expiry.total_seconds(), 0.0))

    async def _renew(self) -> float:
        settings = self.settings
        assert self._held is not None and self._renewed_at is not None
        deadline = self._renewed_at + timedelta(seconds=settings.renew_deadline)
        start = self.clock.now()
        held = self._held
        body = self._body(holder=settings.identity, acquire=held.acquire_time, renew=start,
                          transitions=held.transitions, version=held.version)
        try:
            obj = await bounded(self.clock, self.client.replace(Lease, body),
                                (deadline - start).total_seconds())
        except Conflict:
            return await self._after_conflict()
        except NotFound:
            self._lose("the lease was deleted")
            return 0.0
        except (ApiError, DeadlineExceeded) as exc:
            now = self.clock.now()
            if now >= deadline:
                self._lose(f"no renewal within {settings.renew_deadline}s ({exc})")
                return 0.0
            log.info("renewing lease %s failed, will retry: %s", settings.lease_name, exc)
            return min(settings.retry_period, (deadline - now).total_seconds())
        if self.clock.now() >= deadline:
            # It landed, but too late: we may already have reported the loss.
            self._lose("renewal landed after the renew deadline")
            return 0.0
        self._hold(obj, start)
        return settings.retry_period

    async def _after_conflict(self) -> float:
        """Someone else wrote the Lease: still ours (e.g. a label edit) or lost at once."""
        try:
            record = await bounded(
                self.clock,
                read_lease(self.client, self.settings.lease_name, self.settings.namespace),
                self.settings.retry_period,
            )
        except (ApiError, DeadlineExceeded):
            record = None
        if record is not None and record.holder == self.settings.identity and self.is_leader:
            self._held = record
            return 0.0
        self._lose("another replica holds the lease")
        if record is not None:
            self._observation = observe(self._observation, record, self.clock.now())
        return self.settings.retry_period

    async def _write(self, *, create: bool, transitions: int, acquire: datetime | None,
                     version: str | None) -> None:
        """Create or take over the Lease; success makes this replica the leader."""
        start = self.clock.now()
        body = self._body(holder=self.settings.identity, acquire=acquire or start, renew=start,
                          transitions=transitions, version=version)
        try:
            request = (self.client.create(Lease, body, namespace=self.settings.namespace)
                       if create else self.client.replace(Lease, body))
            obj = await bounded(self.clock, request, self.settings.renew_deadline)
        except (AlreadyExists, Conflict):
            log.debug("lost the race for lease %s", self.settings.lease_name)
            return
        except (ApiError, DeadlineExceeded) as exc:
            log.info("taking lease %s failed: %s", self.settings.lease_name, exc)
            return
        if self.clock.now() >= start + timedelta(seconds=self.settings.renew_deadline):
            return
        self._hold(obj, start)
        self._leading = True
        self.lost_leadership.clear()
        self.became_leader.set()
        log.info("%s became leader of lease %s", self.settings.identity, self.settings.lease_name)
        if self._on_started is not None:
            self._on_started()

    # --- helpers ------------------------------------------------------------------------------

    def _hold(self, obj: RawObject, start: datetime) -> None:
        self._held = LeaseRecord.from_object(obj)
        self._renewed_at = start
        self._observation = observe(self._observation, self._held, self.clock.now())

    def _lose(self, why: str) -> None:
        was = self._leading
        self._leading = False
        self._renewed_at = None
        self._held = None
        self.became_leader.clear()
        self.lost_leadership.set()
        if was:
            log.warning("%s stopped leading lease %s: %s", self.settings.identity,
                        self.settings.lease_name, why)
            if self._on_stopped is not None:
                self._on_stopped()

    def _body(self, *, holder: str | None, acquire: datetime | None, renew: datetime,
              transitions: int, version: str | None, duration: float | None = None) -> RawObject:
        return lease_body(
            name=self.settings.lease_name,
            namespace=self.settings.namespace,
            holder=holder,
            duration=duration if duration is not None else self.settings.lease_duration,
            acquire_time=acquire,
            renew_time=renew,
            transitions=transitions,
            resource_version=version,
        )

    async def _pause(self, seconds: float) -> None:
        """Sleep on the clock, but wake at once when ``release()`` is called."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        stop = asyncio.ensure_future(self._stop.wait())
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({stop, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stop, timer):
                await reap(task)
