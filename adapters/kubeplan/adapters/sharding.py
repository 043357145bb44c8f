"""Shard membership: N replicas share the parents, coordinated through one Lease each.

Each replica holds ``<operator>-member-<identity>`` (label ``kubeplan.dev/shard-of``) and
renews it every ``renew_period``. On every renewal it also publishes the member list it has
adopted (``kubeplan.dev/members`` and its digest ``kubeplan.dev/members-seen``). A parent
belongs to its rendezvous owner among the live members (``kubeplan.core.sharding``), and a
replica may sync it only when no other live member still *claims* it under the view that
member published. The order of each round makes that check sound:

1. write our own Lease (renew, and publish our view once draining allows it);
2. list all member Leases (a quorum read, so it sees every write that finished before it);
3. only then use what was read to grant parents.

Two members that both publish a claim and then read can never both miss the other's claim
(whoever published second reads the first one's claim). A member whose view loses a parent
stops syncing it at once, waits for its in-flight syncs on it (``drain``), and only then
publishes the new view that releases it. A member that cannot renew for ``renew_deadline``
stops syncing everything; the others wait for its Lease to expire (``lease_duration``)
before taking its parents. docs/sharding.md has the full argument and its limits.

The watch on member Leases is only a hint that wakes the loop early; decisions are made
from the list, never from watch events (which may lag behind our own write).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
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
    reap,
)
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.core.errors import InvalidArgument
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.lease import LeaseObservation, LeaseRecord, lease_body, observe
from kubeplan.core.sharding import (
    LABEL_SHARD_OF,
    PeerClaim,
    may_sync,
    member_lease_name,
    rendezvous_owner,
    view_annotations,
    view_from_annotations,
)

__all__ = ["Drain", "ShardMembership", "ShardSettings"]

log = logging.getLogger(__name__)

#: ``await drain(owns)`` must return once no sync is in flight for a parent whose uid
#: ``owns(uid)`` now rejects (wait for those syncs, or cancel them and wait).
Drain = Callable[[Callable[[str], bool]], Awaitable[None]]


@attrs.frozen
class ShardSettings:
    """One replica's membership. ``renew_deadline``: stop syncing when the own Lease could
    not be renewed for this long (must be < ``lease_duration``, the time after which the
    others take our parents). ``gc_after``: delete member Leases that have been expired
    this long (crashed replicas; None keeps them)."""

    operator_name: str = attrs.field(validator=non_empty)
    namespace: str = attrs.field(validator=non_empty)
    identity: str = attrs.field(validator=non_empty)
    lease_duration: float = attrs.field(default=15.0, validator=positive_seconds)
    renew_period: float = attrs.field(default=2.0, validator=positive_seconds)
    renew_deadline: float = attrs.field(default=10.0, validator=positive_seconds)
    gc_after: float | None = 300.0

    def __attrs_post_init__(self) -> None:
        check_lease_timing(lease_duration=self.lease_duration,
                           renew_deadline=self.renew_deadline, retry=self.renew_period,
                           retry_name="renew_period", holder="a member")
        if self.gc_after is not None and self.gc_after < self.lease_duration:
            raise InvalidArgument("gc_after must be at least lease_duration (or None)")

    @property
    def lease_name(self) -> str:
        return member_lease_name(self.operator_name, self.identity)

    @property
    def selector(self) -> str:
        return f"{LABEL_SHARD_OF}={self.operator_name}"


class ShardMembership:
    """This replica's membership Lease and its answer to "may I sync this parent?".

    ``owns(uid)`` is the gate (read it before starting a sync); ``changes`` is set whenever
    its answers may have changed (the runtime clears it, then re-enqueues what it owns and
    cancels in-flight syncs it no longer owns); ``generation`` counts those changes.
    """

    def __init__(
        self,
        client: ApiClient,
        settings: ShardSettings,
        *,
        clock: Clock | None = None,
        drain: Drain | None = None,
        watch: bool = True,
    ) -> None:
        self.client = client
        self.settings = settings
        self.clock: Clock = clock or WallClock()
        self.changes = asyncio.Event()
        self.generation = 0
        self._drain_hook = drain
        self._use_watch = watch
        self._me = settings.identity
        self._held: LeaseRecord | None = None
        self._renewed_at: datetime | None = None
        self._published: frozenset[str] | None = None
        self._target: frozenset[str] = frozenset({self._me})
        self._drained: frozenset[str] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._peers: tuple[PeerClaim, ...] = ()
        self._snapshot_valid = False
        self._observations: dict[str, LeaseObservation] = {}
        self._leaving = False
        self._fingerprint: object = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._io = asyncio.Lock()

    # --- answers ------------------------------------------------------------------------------

    @property
    def is_member(self) -> bool:
        """Our Lease was renewed less than renew_deadline ago (and we are not leaving)."""
        if self._leaving or self._renewed_at is None:
            return False
        return self.clock.now() < self._renewed_at + timedelta(seconds=self.settings.renew_deadline)

    @property
    def members(self) -> frozenset[str]:
        """The live members as this replica currently sees them (its target view)."""
        return self._target

    @property
    def published_view(self) -> frozenset[str] | None:
        return self._published

    def owner_of(self, parent_uid: str) -> str:
        """The rendezvous owner of a parent under the current view (may not be safe yet)."""
        owner = rendezvous_owner(self._target, parent_uid)
        assert owner is not None  # the view always contains this replica
        return owner

    def owns(self, parent_uid: str) -> bool:
        """May this replica sync ``parent_uid`` now? (Owner, and the handoff is safe.)"""
        if not (self.is_member and self._snapshot_valid and self._published is not None):
            return False
        return may_sync(self._me, self._published, self._target, self._peers, parent_uid)

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Renew and observe until ``release()``; cancelling it is a crash (no release)."""
        self._stop.clear()
        watcher = asyncio.create_task(self._watch()) if self._use_watch else None
        try:
            while not self._stop.is_set():
                async with self._io:
                    if self._stop.is_set():
                        break
                    pause = await self._round()
                await self._pause(pause)
        finally:
            for task in (watcher, self._drain_task):
                if task is not None:
                    await reap(task)

    async def release(self) -> None:
        """Leave gracefully: stop owning everything, drain, then delete our Lease so the
        others take our parents at their next round instead of after lease_duration."""
        self._stop.set()
        self._leaving = True
        self._notify_if_changed(force=True)
        if self._drain_hook is not None:
            await self._drain_hook(self.owns)
        async with self._io:
            held = self._held
            if held is None:
                return
            try:
                await bounded(
                    self.clock,
                    self.client.delete(Lease, self.settings.lease_name, self.settings.namespace,
                                       uid=held.uid),
                    self.settings.renew_period,
                )
            except NotFound:
                pass
            except (ApiError, DeadlineExceeded) as exc:
                log.warning("could not delete member lease %s: %s", self.settings.lease_name, exc)
            self._held = None

    # --- one round ----------------------------------------------------------------------------

    async def _round(self) -> float:
        settings = self.settings
        if self._published is not None or self._held is not None:
            await self._renew()
        items = await self._list()
        if items is None:
            return self._next_pause()
        if self._published is None and self._held is None:
            # First round: join with the view we just read, then read again (below, next
            # round) before granting anything.
            self._target = self._live_view()
            self._drained = self._target
            await self._renew()
            items = await self._list()
            if items is None:
                return self._next_pause()
        target = self._live_view()
        if target != self._target:
            log.info("%s: members %s -> %s", self._me, sorted(self._target), sorted(target))
            self._target = target
            self._start_drain(target)
        if settings.gc_after is not None:
            await self._collect_garbage(items)
        self._notify_if_changed()
        return self._next_pause()

    async def _renew(self) -> None:
        """Write our Lease: renewTime, and the target view once its losses are drained."""
        settings = self.settings
        start = self.clock.now()
        view = self._target if self._drained == self._target else (self._published or self._target)
        was_member = self.is_member
        body = lease_body(
            name=settings.lease_name,
            namespace=settings.namespace,
            holder=self._me,
            duration=settings.lease_duration,
            acquire_time=self._held.acquire_time if self._held else start,
            renew_time=start,
            transitions=0,
            labels={LABEL_SHARD_OF: settings.operator_name},
            annotations=view_annotations(view),
            resource_version=self._held.version if self._held else None,
        )
        budget = settings.renew_deadline
        if self._renewed_at is not None and was_member:
            budget = (self._renewed_at + timedelta(seconds=settings.renew_deadline)
                      - start).total_seconds()
        try:
            if self._held is None:
                request = self.client.create(Lease, body, namespace=settings.namespace)
            else:
                request = self.client.replace(Lease, body)
            obj = await bounded(self.clock, request, max(budget, 1e-6))
        except (NotFound, AlreadyExists, Conflict) as exc:
            # Deleted (garbage-collected while we were away) or edited: start from what is
            # there now at the next round.
            log.info("%s: member lease needs a refresh: %s", self._me, exc)
            await self._refetch_own()
            return
        except (ApiError, DeadlineExceeded) as exc:
            log.info("%s: renewing member lease failed: %s", self._me, exc)
            return
        if self.clock.now() >= start + timedelta(seconds=settings.renew_deadline):
            return  # landed too late to count; the next round renews again
        self._held = LeaseRecord.from_object(obj)
        self._renewed_at = start
        if view != self._published or not was_member:
            # Grants must come from a list that follows this write (see the module doc).
            self._snapshot_valid = False
            self._published = view

    async def _refetch_own(self) -> None:
        try:
            obj = await bounded(self.clock, self.client.get(Lease, self.settings.lease_name,
                                                            self.settings.namespace),
                                self.settings.renew_period)
        except NotFound:
            self._held = None
            return
        except (ApiError, DeadlineExceeded):
            return
        self._held = LeaseRecord.from_object(obj)

    async def _list(self) -> list[LeaseRecord] | None:
        try:
            answer = await bounded(
                self.clock,
                self.client.list(Lease, self.settings.namespace,
                                 label_selector=self.settings.selector),
                self.settings.renew_period,
            )
        except (ApiError, DeadlineExceeded) as exc:
            log.info("%s: listing member leases failed: %s", self._me, exc)
            return None
        seen_at = self.clock.now()
        records = [LeaseRecord.from_object(item) for item in answer.get("items") or []]
        self._observations = {
            r.name: observe(self._observations.get(r.name), r, seen_at) for r in records
        }
        peers = []
        for name, obs in self._observations.items():
            record, holder = obs.record, obs.record.holder
            if name == self.settings.lease_name or holder is None or holder == self._me:
                continue
            if obs.is_expired(seen_at, self.settings.lease_duration):
                continue
            peers.append(PeerClaim(holder, view_from_annotations(record.annotations)))
        self._peers = tuple(sorted(peers, key=lambda p: p.identity))
        self._snapshot_valid = True
        return records

    def _live_view(self) -> frozenset[str]:
        """Us and every peer whose Lease had not expired at the last list."""
        return frozenset({self._me, *(peer.identity for peer in self._peers)})

    async def _collect_garbage(self, records: list[LeaseRecord]) -> None:
        """Delete Leases of members that have been gone for ``gc_after`` (with a
        uid + resourceVersion precondition, so a member that came back is not touched)."""
        assert self.settings.gc_after is not None
        now = self.clock.now()
        for record in records:
            obs = self._observations.get(record.name)
            if obs is None or record.name == self.settings.lease_name:
                continue
            gone_since = obs.expires_at(self.settings.lease_duration)
            if now < gone_since + timedelta(seconds=self.settings.gc_after):
                continue
            with contextlib.suppress(ApiError, DeadlineExceeded):
                await bounded(
                    self.clock,
                    self.client.delete(Lease, record.name, self.settings.namespace,
                                       uid=record.uid, resource_version=record.version),
                    self.settings.renew_period,
                )

    # --- drain, notifications, timing -----------------------------------------------------------

    def _start_drain(self, target: frozenset[str]) -> None:
        if self._drain_task is not None:
            self._drain_task.cancel()
        if self._drain_hook is None:
            self._drained = target
            self._wake.set()  # nothing to wait for: publish the new view at once
            return
        self._drain_task = asyncio.create_task(self._drain(target))

    async def _drain(self, target: frozenset[str]) -> None:
        assert self._drain_hook is not None
        self._notify_if_changed(force=True)  # stop starting syncs for lost parents first
        await self._drain_hook(self.owns)
        if self._target == target:
            self._drained = target
            self._wake.set()  # publish the new view now rather than at the next renewal

    def _notify_if_changed(self, *, force: bool = False) -> None:
        fingerprint = (self.is_member, self._snapshot_valid, self._published, self._target,
                       self._peers, self._leaving)
        if force or fingerprint != self._fingerprint:
            self._fingerprint = fingerprint
            self.generation += 1
            self.changes.set()

    def _next_pause(self) -> float:
        """Next round after renew_period, or earlier when a peer's Lease expires or our own
        renew deadline passes (both change ownership)."""
        now = self.clock.now()
        pause = self.settings.renew_period
        if self._renewed_at is not None and self.is_member:
            deadline = self._renewed_at + timedelta(seconds=self.settings.renew_deadline)
            pause = min(pause, (deadline - now).total_seconds())
        for name, obs in self._observations.items():
            if name == self.settings.lease_name or obs.is_free():
                continue
            until = (obs.expires_at(self.settings.lease_duration) - now).total_seconds()
            if until > 0:
                pause = min(pause, until)
        return max(pause, 0.0)

    async def _pause(self, seconds: float) -> None:
        """Sleep on the clock; wake early on release, a drained view or a watch hint."""
        if seconds > 0 and not self._wake.is_set():
            waiters = {
                asyncio.ensure_future(self._stop.wait()),
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(self.clock.sleep(seconds)),
            }
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waiters:
                    await reap(task)
        else:
            await asyncio.sleep(0)
        self._wake.clear()
        if not self.is_member:
            self._notify_if_changed()

    async def _watch(self) -> None:
        """Wake the loop when a member joins, leaves or publishes a new view."""
        while True:
            try:
                stream = self.client.watch(Lease, self.settings.namespace,
                                           label_selector=self.settings.selector,
                                           allow_bookmarks=False)
                async for event in stream:
                    if self._is_news(event):
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a hint only: it must never kill the loop
                log.debug("%s: member lease watch ended: %s", self._me, exc)
            await self.clock.sleep(self.settings.renew_period)

    def _is_news(self, event: RawObject) -> bool:
        kind = event.get("type")
        if kind in ("ADDED", "DELETED"):
            return True
        if kind != "MODIFIED":
            return False
        record = LeaseRecord.from_object(event.get("object") or {})
        known = self._observations.get(record.name)
        return known is None or known.record.annotations != record.annotations
