"""Run a ``Scenario`` against the real runtime and the fake API server, in virtual time.

``run_scenario(definition, scenario)`` is the whole story in one call:

1. a fresh ``VirtualTimeLoop`` (sleeps are instant, the clock is deterministic) and a
   ``FakeApiServer`` on that clock, seeded with the scenario's seed (uids, generated names);
2. the operator's CRD is registered (``kubeplan.core.crd.parent_crd``; a built-in parent
   type has none), then the real ``Operator`` starts with the in-process client and waits
   for its caches;
3. each step is applied in order; the operator reacts concurrently, as it would in a
   cluster (a ``Settle`` or ``Advance`` step gives it time);
4. at the end every fault is removed and the system settles completely (pending retries
   included): the invariants speak of the state "after the faults stop and the system
   settles";
5. one more full resync is made and its writes recorded (``assert_quiet``);
6. the operator is stopped and the ``Trace`` returned.

Same scenario, same seed, same trace: everything random in a run (uids, backoff jitter)
is seeded, and time is virtual. A hot loop does not hang the run: it is detected by
counting handler calls, and by a ``ProgressGuard`` giving each step a budget of requests,
virtual time and event-loop turns at one instant (a storm of requests that never calls
the handler, a wait that never ends), and recorded as ``trace.hot_loop``.

Every write of the operator's that the server refuses as invalid (400, 422, no fault
injected) is listed in ``trace.refused_writes``; with ``stop_at_refused_write`` the run
ends at the first settle after one (``check_operator`` does this: such a write is a bug
whatever follows, and waiting out the operator's retries is most of a failing run).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from kubeplan.adapters.settings import RuntimeSettings
from kubeplan.core.crd import parent_crd
from kubeplan.core.types import K8sType
from kubeplan.testkit.apiserver.server import FakeApiServer
from kubeplan.testkit.progress import DEFAULT_BUDGET, ProgressBudget, ProgressGuard
from kubeplan.testkit.scenario import Advance, Scenario
from kubeplan.testkit.simulation import (
    SCENARIO_SETTINGS,
    HotLoop,
    Simulation,
    WriteRefused,
    as_definition,
    install_crd,
)
from kubeplan.testkit.trace import Trace
from kubeplan.testkit.vtime import LoopClock, run_virtual

__all__ = ["SCENARIO_SETTINGS", "arun_scenario", "run_scenario"]

#: large enough that a scenario's request log is never trimmed
_REQUEST_LOG_SIZE = 10_000_000


async def arun_scenario(
    operator: Any,
    scenario: Scenario,
    *,
    settings: RuntimeSettings | None = None,
    extra_types: Iterable[K8sType] = (),
    extra_crds: Iterable[Mapping[str, Any]] = (),
    quiet_check: bool = True,
    same_instant_limit: int = 40,
    step_limit: int = 100,
    budget: ProgressBudget = DEFAULT_BUDGET,
    stop_at_refused_write: bool = False,
) -> Trace:
    """``run_scenario`` on the running event loop (use a ``VirtualTimeLoop`` for speed:
    on an ordinary loop every ``Advance`` really sleeps)."""
    definition = as_definition(operator)
    started = time.perf_counter()
    server = FakeApiServer(
        clock=LoopClock(), seed=scenario.seed, request_log_size=_REQUEST_LOG_SIZE
    )
    async with server:
        own = parent_crd(definition)  # None: a built-in parent type
        if own is not None:
            await install_crd(server, own)
        for crd in extra_crds:
            await install_crd(server, crd)
        sim = Simulation(
            server,
            definition,
            scenario=scenario,
            settings=settings,
            extra_types=extra_types,
            same_instant_limit=same_instant_limit,
            step_limit=step_limit,
            stop_at_refused_write=stop_at_refused_write,
        )
        progress = ProgressGuard(server, budget, on_trip=lambda e: sim.handler.raise_alarm(str(e)))
        try:
            progress.start()
            await sim.start()
            for index, step in enumerate(scenario.steps):
                allow = step.seconds if isinstance(step, Advance) else 0.0
                progress.begin(f"step {index + 1} ({step.describe()})", allow_seconds=allow)
                await sim.apply(index, step)
            final = "settle at the end (faults removed)"
            progress.begin(final)
            sim.begin(len(scenario.steps), final)
            await sim.settle_fully()
            if quiet_check:
                progress.begin("the quiet check (one more full resync)")
                sim.trace.quiet_writes = await sim.resync_writes()
        except HotLoop as exc:
            sim.trace.hot_loop = str(exc)
        except WriteRefused as exc:
            sim.trace.stopped = str(exc)
        finally:
            progress.close()
            trace = sim.finish_trace()
            await sim.stop()
    trace.duration = time.perf_counter() - started
    return trace


def run_scenario(
    operator: Any,
    scenario: Scenario,
    *,
    settings: RuntimeSettings | None = None,
    extra_types: Iterable[K8sType] = (),
    extra_crds: Iterable[Mapping[str, Any]] = (),
    quiet_check: bool = True,
    same_instant_limit: int = 40,
    step_limit: int = 100,
    budget: ProgressBudget = DEFAULT_BUDGET,
    stop_at_refused_write: bool = False,
) -> Trace:
    """Run ``scenario`` against ``operator`` (an ``OperatorDefinition`` or a ``(config,
    handler)`` pair) on a fresh virtual-time loop; see the module docstring.

    ``settings`` are the runtime's (default ``SCENARIO_SETTINGS``); ``extra_types`` name
    types the scenario's steps use beyond the operator's own and the built-ins, and
    ``extra_crds`` are installed first for custom child types. The run is declared a hot
    loop when one parent is synced more than ``same_instant_limit`` times (plus two per
    child it has) at one virtual instant, or needs more than ``step_limit`` plans that
    write during one step, or when a step uses up ``budget`` (requests, virtual time,
    event-loop turns at one instant; see ``kubeplan.testkit.progress``).
    ``stop_at_refused_write`` ends the run at the first settle after a write the server
    refused as invalid. Must not be called from a running event loop (use
    ``arun_scenario`` there).
    """
    return run_virtual(
        arun_scenario(
            operator,
            scenario,
            settings=settings,
            extra_types=extra_types,
            extra_crds=extra_crds,
            quiet_check=quiet_check,
            same_instant_limit=same_instant_limit,
            step_limit=step_limit,
            budget=budget,
            stop_at_refused_write=stop_at_refused_write,
        )
    )

