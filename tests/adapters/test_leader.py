"""Leader election on a Lease against the fake API server, on a virtual clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from lease_testing import PartitionableClient, step

from kubeplan.adapters.errors import Conflict
from kubeplan.adapters.leader import LeaderElectionSettings, LeaderElector
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.lease import LeaseRecord, parse_time
from kubeplan.testkit.apiserver import FakeApiServer, Fault
from kubeplan.testkit.vtime import LoopClock

D, RD, R = 15.0, 10.0, 2.0


@pytest.fixture
def clock() -> LoopClock:
    return LoopClock()


@pytest.fixture
async def server(clock: LoopClock) -> AsyncIterator[FakeApiServer]:
    async with FakeApiServer(clock=clock) as fake:
        yield fake


class Electors:
    """Start electors on the same Lease and cancel whatever is left at the end."""

    def __init__(self, server: FakeApiServer, clock: LoopClock) -> None:
        self.server, self.clock = server, clock
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, identity: str, client: object = None) -> LeaderElector:
        settings = LeaderElectionSettings("op-leader", "default", identity)
        elector = LeaderElector(client or self.server.client(), settings, clock=self.clock)
        self.tasks[identity] = asyncio.create_task(elector.run())
        return elector

    async def kill(self, identity: str) -> None:
        task = self.tasks.pop(identity)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        for identity in list(self.tasks):
            await self.kill(identity)


@pytest.fixture
async def electors(server: FakeApiServer, clock: LoopClock) -> AsyncIterator[Electors]:
    group = Electors(server, clock)
    yield group
    await group.close()


def lease(server: FakeApiServer) -> LeaseRecord:
    obj = server.get_object("coordination.k8s.io/v1", "leases", "op-leader", "default")
    assert obj is not None
    return LeaseRecord.from_object(obj)


def never_two(*electors: LeaderElector):  # type: ignore[no-untyped-def]
    def check() -> None:
        leaders = [e.settings.identity for e in electors if e.is_leader]
        assert len(leaders) <= 1, f"two leaders at once: {leaders}"

    return check


def test_settings_are_validated() -> None:
    settings = LeaderElectionSettings("l", "ns", "me")
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (D, RD, R)
    with pytest.raises(ValueError, match="renew_deadline"):
        LeaderElectionSettings("l", "ns", "me", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="retry_period"):
        LeaderElectionSettings("l", "ns", "me", renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError, match="identity"):
        LeaderElectionSettings("l", "ns", "")


async def test_one_of_two_becomes_leader(server, clock, electors) -> None:
    a, b = electors.start("a"), electors.start("b")
    await step(clock, 30, check=never_two(a, b))
    assert [e.is_leader for e in (a, b)].count(True) == 1
    leader = a if a.is_leader else b
    record = lease(server)
    assert record.holder == leader.settings.identity
    assert record.duration == D
    assert record.transitions == 0
    assert leader.became_leader.is_set() and not leader.lost_leadership.is_set()
    other = b if leader is a else a
    assert other.leader == leader.settings.identity
    # Renewed every retry period: renewTime is at most R old, written as MicroTime.
    raw = server.get_object("coordination.k8s.io/v1", "leases", "op-leader", "default")
    assert raw is not None
    assert raw["spec"]["renewTime"].endswith("Z") and len(raw["spec"]["renewTime"]) == 27
    assert clock.now() - parse_time(raw["spec"]["renewTime"]) <= timedelta(seconds=R)


async def test_killed_leader_is_replaced_within_lease_duration_plus_retry(
    server, clock, electors
) -> None:
    a = electors.start("a")
    await step(clock, 1)
    assert a.is_leader
    b = electors.start("b")
    await step(clock, 7.25, check=never_two(a, b))
    await electors.kill("a")
    killed_at = clock.now()
    took = await step(clock, 40, check=never_two(a, b), until=lambda: b.is_leader)
    assert b.is_leader
    print(f"leader failover: {took}s of clock time from kill to takeover")
    assert took <= D + R, f"failover took {took}s"
    # a's last renewal was at most R before the kill; b must not lead before it expired.
    assert took >= D - R
    record = lease(server)
    assert record.holder == "b" and record.transitions == 1
    assert record.acquire_time is not None and record.acquire_time > killed_at


async def test_graceful_release_hands_over_within_one_retry_period(server, clock, electors) -> None:
    a = electors.start("a")
    await step(clock, 1)
    b = electors.start("b")
    await step(clock, 5, check=never_two(a, b))
    assert a.is_leader and not b.is_leader
    await a.release()
    assert not a.is_leader and a.lost_leadership.is_set()
    assert lease(server).holder is None
    took = await step(clock, 10, check=never_two(a, b), until=lambda: b.is_leader)
    assert b.is_leader and took <= R
    assert lease(server).transitions == 1
    await asyncio.wait_for(electors.tasks.pop("a"), 1)  # run() returned after release()


async def test_failing_renewals_stop_the_leader_at_the_renew_deadline(
    server, clock, electors
) -> None:
    stopped: list[str] = []
    settings = LeaderElectionSettings("op-leader", "default", "a")
    a = LeaderElector(server.client(), settings, clock=clock,
                      on_stopped_leading=lambda: stopped.append("a"))
    electors.tasks["a"] = asyncio.create_task(a.run())
    await step(clock, 1)
    b = electors.start("b")
    await step(clock, 3, check=never_two(a, b))
    assert a.is_leader
    last_renewal = lease(server).renew_time
    assert last_renewal is not None
    server.add_fault(Fault.error(500, verb="update", resource="leases", count=10_000))
    check = never_two(a, b)

    def until_not_leader() -> bool:
        return not a.is_leader

    await step(clock, 20, dt=0.05, check=check, until=until_not_leader)
    lost_after = (clock.now() - last_renewal).total_seconds()
    assert RD - 0.05 < lost_after <= RD + 0.05, lost_after
    assert a.lost_leadership.is_set() and stopped == ["a"]
    assert not b.is_leader  # nobody can take over before the lease has expired
    server.faults.clear()
    await step(clock, 20, check=check, until=lambda: a.is_leader or b.is_leader)
    assert a.is_leader != b.is_leader


async def test_partitioned_leader_stops_before_the_other_takes_over_and_its_stale_write_conflicts(
    server, clock, electors
) -> None:
    a_client = PartitionableClient(server.client())
    a = electors.start("a", a_client)
    await step(clock, 1)
    b = electors.start("b")
    await step(clock, 4, check=never_two(a, b))
    assert a.is_leader
    stale = server.get_object("coordination.k8s.io/v1", "leases", "op-leader", "default")
    assert stale is not None
    a_client.partitioned = True
    cut_at = clock.now()
    a_stopped_at = b_started_at = None
    check = never_two(a, b)
    for _ in range(200):
        await step(clock, 0.25, check=check)
        if a_stopped_at is None and not a.is_leader:
            a_stopped_at = clock.now()
        if b.is_leader:
            b_started_at = clock.now()
            break
    assert a_stopped_at is not None and b_started_at is not None
    assert a_stopped_at - cut_at <= timedelta(seconds=RD)
    assert b_started_at - a_stopped_at >= timedelta(seconds=D - RD - R)
    # The deposed leader comes back: its write based on the old resourceVersion is refused.
    a_client.partitioned = False
    stale["spec"]["holderIdentity"] = "a"
    with pytest.raises(Conflict):
        await a_client.replace(Lease, stale)
    await step(clock, 10, check=check)
    assert b.is_leader and not a.is_leader and lease(server).holder == "b"
