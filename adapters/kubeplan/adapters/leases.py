"""What leader election and shard membership share: a clock, deadline-bounded requests and
a way to read Leases.

Both protocols are only as safe as their timing, so time is injected (``Clock``): the
runtime passes ``WallClock``; tests pass a virtual clock whose ``sleep`` returns when the
test moves time, so a 15 s lease expires in microseconds of real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import attrs

from kubeplan.adapters.clock import Clock, SystemClock
from kubeplan.adapters.errors import NotFound
from kubeplan.adapters.protocol import ApiClient
from kubeplan.core.errors import InvalidArgument, KubeplanError
from kubeplan.core.k8s.coordination_v1 import Lease
from kubeplan.core.lease import LeaseRecord

__all__ = [
    "Clock",
    "DeadlineExceeded",
    "WallClock",
    "bounded",
    "check_lease_timing",
    "non_empty",
    "positive_seconds",
    "read_lease",
    "reap",
]

T = TypeVar("T")


#: the production clock, under the name leader election has always used
WallClock = SystemClock


def check_lease_timing(*, lease_duration: float, renew_deadline: float, retry: float,
                       retry_name: str, holder: str) -> None:
    """The ordering every Lease protocol needs: retry < renew deadline < lease duration.

    ``holder`` says who must stop before others take over (a leader, a shard member);
    ``retry_name`` is the settings' name for the retry interval.
    """
    if not renew_deadline < lease_duration:
        raise InvalidArgument(
            f"renew_deadline ({renew_deadline}s) must be shorter than lease_duration "
            f"({lease_duration}s): {holder} must stop before others take over"
        )
    if not retry < renew_deadline:
        raise InvalidArgument(
            f"{retry_name} ({retry}s) must be shorter than renew_deadline "
            f"({renew_deadline}s), or a single failed renewal loses the lease"
        )


class DeadlineExceeded(KubeplanError, TimeoutError):
    """A request did not answer before the protocol's deadline on the injected clock."""


async def reap(task: asyncio.Future[Any]) -> None:
    """Cancel a helper task and wait for it, without swallowing a cancellation of the
    *caller*: ``suppress(CancelledError)`` around the await would also swallow a cancel
    that lands on the caller while it waits, and a killed replica would then keep
    renewing its lease forever."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except Exception:  # the helper's own failure does not matter once it is cancelled
        pass


async def bounded(clock: Clock, request: Awaitable[T], seconds: float) -> T:
    """Await ``request`` but give up after ``seconds`` of *clock* time.

    ``asyncio.timeout`` measures loop time, which a virtual test clock does not drive; a
    renewal that hangs must still count against the renew deadline, so the race is run
    against ``clock.sleep``. On timeout the request is cancelled.
    """
    if seconds <= 0:
        if asyncio.iscoroutine(request):
            request.close()
        raise DeadlineExceeded("no time left before the deadline")
    work = asyncio.ensure_future(request)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not work.done():
            await reap(work)
    if work.cancelled():
        raise DeadlineExceeded(f"no answer within {seconds:.3f}s")
    return work.result()


async def read_lease(client: ApiClient, name: str, namespace: str) -> LeaseRecord | None:
    """The Lease, or None when it does not exist."""
    try:
        obj = await client.get(Lease, name, namespace)
    except NotFound:
        return None
    return LeaseRecord.from_object(obj)


# attrs validators shared by the leader-election and sharding settings


def positive_seconds(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise InvalidArgument(f"{attribute.name} must be > 0 seconds, got {value!r}")


def non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise InvalidArgument(f"{attribute.name} must not be empty")
