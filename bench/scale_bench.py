"""Scale-out figures (issue #8): failover time, shares of 3 sharded replicas, and the
convergence time of 1,000 parents with 1 and with 3 replicas.

    python bench/scale_bench.py [--parents 1000] [--skip-failover]

The fake API server runs over HTTP in its own process (``bench/suite/harness.py``); the
replicas are ``Operator``s in this process, each with its own ``KubeClient``, on the real
clock. The workload is the benchmark's Trio (a Deployment, a Service and a ConfigMap per
parent, ``bench/peers``).

* failover: two replicas with leader election and the default lease timing (D = 15 s,
  RD = 10 s, R = 2 s); the leader's task is cancelled (a crash: no release) and the time
  until the standby leads is measured on the real clock. Goal: at most D + R = 17 s.
* shares: 3 replicas in sharding mode; the share of parents each one synced. Goal: each
  within 10 % of a third.
* convergence: from creating 1,000 parents to every parent's status observed, with 1
  replica and with 3 sharded replicas. All replicas share this one process (one CPU's
  worth of Python), so 3 replicas show the cost of coordination, not a speed-up: on a
  cluster each replica has its own CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "suite"), str(HERE / "peers")]

import workload  # noqa: E402
from harness import FakeApiProcess  # noqa: E402
from kubeplan_operator import config, sync  # noqa: E402

from kubeplan.adapters.client import KubeClient  # noqa: E402
from kubeplan.adapters.runtime import Operator  # noqa: E402
from kubeplan.adapters.settings import RuntimeSettings  # noqa: E402
from kubeplan.core.request import SyncRequest  # noqa: E402
from kubeplan.core.response import SyncResponse  # noqa: E402

#: shorter leases for the convergence runs, so that 3 members agree on a view quickly
QUICK_LEASES = {"lease_duration": 6.0, "renew_deadline": 4.0, "retry_period": 1.0}


class Counting:
    """The Trio handler, remembering which parents this replica synced."""

    def __init__(self) -> None:
        self.parents: set[str] = set()

    def sync(self, request: SyncRequest) -> SyncResponse:
        self.parents.add(request.name)
        return sync(request)


async def _start(fake: FakeApiProcess, identity: str, handler: Any,
                 **settings: Any) -> tuple[Operator, asyncio.Task[None]]:
    client = await KubeClient.from_kubeconfig(fake.kubeconfig)
    operator = Operator(config, handler, client, owns_client=True, settings=RuntimeSettings(
        workers=8, resync_period=None, post_events=False, grace_period=5.0,
        identity=identity, lease_namespace="default", **settings))
    task = asyncio.create_task(operator.run())
    await asyncio.wait_for(operator.wait_synced(), 60)
    return operator, task


async def _stop(replicas: list[tuple[Operator, asyncio.Task[None]]]) -> None:
    for operator, task in replicas:
        await operator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _all_observed(fake: FakeApiProcess, count: int) -> bool:
    path = f"/apis/{workload.GROUP}/{workload.VERSION}/namespaces/{workload.NAMESPACE}/" \
           f"{workload.PLURAL}"
    items = (await fake.request("GET", path))["items"]
    done = sum((p.get("status") or {}).get("observedGeneration") == p["metadata"].get("generation")
               for p in items)
    return len(items) == count and done == count


async def failover() -> float:
    async with FakeApiProcess() as fake:
        await fake.install_crd()
        a = await _start(fake, "a", sync, leader_election=True)
        await asyncio.wait_for(a[0].elector.became_leader.wait(), 30)  # type: ignore[union-attr]
        b = await _start(fake, "b", sync, leader_election=True)
        await asyncio.sleep(3.0)  # b is a warm standby
        killed = time.perf_counter()
        a[1].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await a[1]
        await asyncio.wait_for(b[0].elector.became_leader.wait(), 60)  # type: ignore[union-attr]
        took = time.perf_counter() - killed
        await _stop([b])
        return took


async def converge(parents: int, replicas: int) -> tuple[float, list[float]]:
    async with FakeApiProcess() as fake:
        await fake.install_crd()
        handlers = [Counting() for _ in range(replicas)]
        mode = {"shards": True, **QUICK_LEASES} if replicas > 1 else {}
        running = [await _start(fake, f"r{i}", handlers[i], **mode) for i in range(replicas)]
        if replicas > 1:  # wait until the members agree on the view
            want = frozenset(f"r{i}" for i in range(replicas))
            while not all(op.membership.published_view == want  # type: ignore[union-attr]
                          for op, _ in running):
                await asyncio.sleep(0.1)
        started = time.perf_counter()
        await fake.create_parents(parents)
        while not await _all_observed(fake, parents):
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"{replicas} replicas: not converged within 600 s")
            await asyncio.sleep(0.25)
        took = time.perf_counter() - started
        await _stop(running)
        total = sum(len(h.parents) for h in handlers)
        return took, [len(h.parents) / total for h in handlers]


async def main(args: argparse.Namespace) -> None:
    print(f"scale benchmark: {args.parents} parents, fake API server over HTTP in its own "
          "process, replicas in this process, real clock")
    if not args.skip_failover:
        took = await failover()
        print(f"failover (leader killed -> standby leads; D=15 s, RD=10 s, R=2 s): "
              f"{took:.1f} s (goal <= 17 s: {'ok' if took <= 17 else 'MISSED'})")
    one, _ = await converge(args.parents, 1)
    print(f"convergence of {args.parents} parents, 1 replica: {one:.1f} s")
    three, shares = await converge(args.parents, 3)
    print(f"convergence of {args.parents} parents, 3 sharded replicas: {three:.1f} s")
    ok = all(abs(s - 1 / 3) <= 0.1 / 3 for s in shares)
    print("shares of 3 replicas: " + ", ".join(f"{s:.1%}" for s in shares)
          + f" (goal: each within 10 % of a third: {'ok' if ok else 'MISSED'})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--skip-failover", action="store_true")
    asyncio.run(main(parser.parse_args()))
