"""How an operator shares the parents with its replicas, as one strategy object.

The ``Operator`` holds one ``ScaleOut`` and asks it, without knowing the mode, whether it
may sync or write for a parent, what to run beside the caches and the workers, and what to
give up on a graceful stop (docs/sharding.md):

* ``Single``: one replica; it may always sync and write;
* ``Leader(elector)``: every replica warms its caches, one leads (``LeaderElector``): the
  workers wait for leadership, becoming leader queues every cached parent (keys were
  dropped while standing by), losing it cancels the syncs in flight;
* ``Shards(membership)``: every replica is a member (``ShardMembership``) and syncs the
  parents it owns; on each membership change the syncs of parents no longer ours are
  cancelled and the parents that moved to us are queued.

``scale_out_for`` builds the one the settings ask for (the leases' modules are imported
only then: an operator without scale-out never loads them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from kubeplan.adapters.clock import Clock
from kubeplan.adapters.protocol import ApiClient, RawObject
from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core import objects

if TYPE_CHECKING:
    from kubeplan.adapters.leader import LeaderElector
    from kubeplan.adapters.sharding import ShardMembership

__all__ = ["Leader", "ScaleOut", "ScaleOutHost", "Shards", "Single", "scale_out_for"]

log = logging.getLogger(__name__)

#: a background loop with its task name
Loop = tuple[str, Coroutine[Any, Any, None]]


class ScaleOutHost(Protocol):
    """What a strategy asks of the operator it serves."""

    def resync_all(self, only: Callable[[RawObject], bool] | None = None) -> int: ...

    def cancel_inflight(self, which: Callable[[str], bool]) -> None: ...


class ScaleOut(Protocol):
    """One replica's part in its operator's scale-out."""

    #: ``single``, ``leader`` or ``shard`` (the ``mode`` label of ``kubeplan_replica_active``)
    mode: str

    @property
    def is_leader(self) -> bool | None:
        """Leader election: does this replica lead now? (None in other modes)"""

    @property
    def is_member(self) -> bool | None:
        """Sharding: is this replica a live member now? (None in other modes)"""

    def is_active(self) -> bool:
        """May this replica sync at all now?"""

    def readiness(self) -> str:
        """One line for the readiness endpoint."""

    def may_write(self, parent_uid: str | None) -> bool:
        """The executor's gate, read right before each write (and before each sync)."""

    async def wait_active(self) -> None:
        """Return once a worker may take work (a standby waits here)."""

    def with_caches(self) -> list[Loop]:
        """Loops started with the caches (the leases are held while the caches warm up)."""

    def with_workers(self, host: ScaleOutHost) -> list[Loop]:
        """Loops started with the workers (following leadership or membership)."""

    async def release(self) -> None:
        """Give the lease(s) up after the last write of a graceful stop."""


class Single:
    """One replica: always active, nothing to hold or follow."""

    mode = "single"
    is_leader: bool | None = None
    is_member: bool | None = None

    def is_active(self) -> bool:
        return True

    def readiness(self) -> str:
        return "mode: single"

    def may_write(self, parent_uid: str | None) -> bool:
        return True

    async def wait_active(self) -> None:
        return None

    def with_caches(self) -> list[Loop]:
        return []

    def with_workers(self, host: ScaleOutHost) -> list[Loop]:
        return []

    async def release(self) -> None:
        return None


class Leader:
    """Leader election: the workers take work only while ``elector`` says we lead."""

    mode = "leader"
    is_member: bool | None = None

    def __init__(self, elector: LeaderElector, *, name: str = "operator") -> None:
        self.elector = elector
        self.name = name  # the operator's, for the log

    @property
    def is_leader(self) -> bool | None:
        return self.elector.is_leader

    def is_active(self) -> bool:
        return self.elector.is_leader

    def readiness(self) -> str:
        return f"is_leader: {str(self.elector.is_leader).lower()}"

    def may_write(self, parent_uid: str | None) -> bool:
        return self.elector.is_leader

    async def wait_active(self) -> None:
        await self.elector.became_leader.wait()

    def with_caches(self) -> list[Loop]:
        return [("election", self.elector.run())]

    def with_workers(self, host: ScaleOutHost) -> list[Loop]:
        return [("follow leadership", self._follow(host))]

    async def _follow(self, host: ScaleOutHost) -> None:
        """Resync everything on becoming leader; cancel in-flight syncs on losing it (they
        would be refused at their next write)."""
        elector = self.elector
        identity = elector.settings.identity
        while True:
            await elector.became_leader.wait()
            log.info("%s: %s leads", self.name, identity)
            host.resync_all()
            await elector.lost_leadership.wait()
            log.warning("%s: %s lost leadership; cancelling in-flight syncs", self.name,
                        identity)
            host.cancel_inflight(lambda _uid: True)

    async def release(self) -> None:
        await self.elector.release()


class Shards:
    """Sharding: each sync (and write) only for a parent ``membership`` says we own."""

    mode = "shard"
    is_leader: bool | None = None

    def __init__(self, membership: ShardMembership) -> None:
        self.membership = membership

    @property
    def is_member(self) -> bool | None:
        return self.membership.is_member

    def is_active(self) -> bool:
        return self.membership.is_member

    def readiness(self) -> str:
        return f"is_member: {str(self.membership.is_member).lower()}"

    def may_write(self, parent_uid: str | None) -> bool:
        return bool(parent_uid) and self.membership.owns(parent_uid or "")

    async def wait_active(self) -> None:
        return None  # every member works; each sync asks ``may_write`` for its parent

    def with_caches(self) -> list[Loop]:
        return [("shards", self.membership.run())]

    def with_workers(self, host: ScaleOutHost) -> list[Loop]:
        return [("follow shards", self._follow(host))]

    async def _follow(self, host: ScaleOutHost) -> None:
        """On every membership change: cancel syncs of parents no longer ours, and queue
        every cached parent we own now (a parent that moved to us has had no event)."""
        membership = self.membership
        while True:
            await membership.changes.wait()
            membership.changes.clear()
            host.cancel_inflight(lambda uid: not membership.owns(uid))
            host.resync_all(only=lambda parent: membership.owns(objects.uid_of(parent) or ""))

    async def release(self) -> None:
        await self.membership.release()


def scale_out_for(
    settings: RuntimeSettings, client: ApiClient, *, name: str, identity: str,
    lease_namespace: str, clock: Clock,
    drain: Callable[[Callable[[str], bool]], Awaitable[None]],
) -> ScaleOut:
    """The strategy ``settings`` ask for (``RuntimeSettings`` refuses leader election and
    shards together). ``drain`` is the shard handoff hook: it returns once no sync is in
    flight for a parent no longer ours."""
    if settings.leader_election:
        from kubeplan.adapters.leader import LeaderElectionSettings, LeaderElector

        return Leader(LeaderElector(
            client,
            LeaderElectionSettings(
                f"{name}-leader", lease_namespace, identity,
                lease_duration=settings.lease_duration,
                renew_deadline=settings.renew_deadline, retry_period=settings.retry_period,
            ),
            clock=clock,
        ), name=name)
    if settings.shards:
        from kubeplan.adapters.sharding import ShardMembership, ShardSettings

        return Shards(ShardMembership(
            client,
            ShardSettings(
                name, lease_namespace, identity,
                lease_duration=settings.lease_duration,
                renew_period=settings.retry_period, renew_deadline=settings.renew_deadline,
            ),
            clock=clock, drain=drain,
        ))
    return Single()
