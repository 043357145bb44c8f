"""Speed of the testkit's property test: scenarios per second, steps per second.

The goal (issue #5): a property test of 100 scenarios of up to 20 steps against one
operator runs in at most 10 s on this machine. This runs exactly that: ``check_operator``
on a member-like operator (a ``Member`` gets two ConfigMaps named after it and a status)
with 100 scenarios of up to 20 steps, faults included, and reports the whole run's wall
time, then the same scenarios one by one to split the time into scenario runs and the
rest (hypothesis generation and shrinking, invariants).

(The member example itself is not used: the property test finds a bug in it. A spec
``name`` such as ``":"`` gives the ConfigMap the invalid name ``member-``.)

    python bench/testkit_bench.py [--scenarios 100] [--max-steps 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from typing import Any, Literal

import attrs
from hypothesis import HealthCheck, settings

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import Scenario, check, run_scenario

GOAL_SECONDS = 10.0


Member = K8sType("bench.kubeplan.dev/v1", "Member", "members")


@attrs.frozen
class MemberSpec:
    name: str = "someone"
    member_of: Literal["chess", "go", "bridge"] | None = None


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec_as(MemberSpec)
    greeting = f"Hello, {spec.name}!" + (f" Welcome to {spec.member_of}." if spec.member_of
                                          else "")
    children = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{request.name}{suffix}", "namespace": request.namespace},
         "data": {"greeting": greeting, "club": spec.member_of or ""}}
        for suffix in ("", "-club")
    ]
    return SyncResponse(children=children, status={"greeting": greeting})


def load_member() -> Any:
    config = OperatorConfig("members", Member).with_child(core_v1.ConfigMap,
                                                          ChildConfig.replace())
    return OperatorDefinition(config, sync, spec_class=MemberSpec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # faults make the runtime log warnings by design
    operator = load_member()

    # Count what check_operator runs: wrap the runner it calls (a bench-only shim).
    durations: list[float] = []
    steps: list[int] = []

    def timed_run(operator: Any, scenario: Scenario, **options: Any) -> Any:
        trace = run_scenario(operator, scenario, **options)
        durations.append(trace.duration)
        steps.append(len(scenario.steps))
        return trace

    check.run_scenario = timed_run  # type: ignore[assignment]
    started = time.perf_counter()
    check.check_operator(
        operator,
        max_steps=args.max_steps,
        settings=settings(max_examples=args.scenarios, deadline=None, database=None,
                          derandomize=True, suppress_health_check=list(HealthCheck)),
    )
    whole = time.perf_counter() - started

    runs = sum(durations)
    print(f"check_operator: {args.scenarios} scenarios of up to {args.max_steps} steps "
          f"in {whole:.2f} s (goal: at most {GOAL_SECONDS:g} s) -> "
          f"{'OK' if whole <= GOAL_SECONDS else 'MISSED'}")
    print(f"  {len(durations)} scenario runs, {sum(steps)} steps "
          f"(mean {statistics.mean(steps):.1f} steps, max {max(steps)})")
    print(f"  overall: {len(durations) / whole:.1f} scenarios/s, {sum(steps) / whole:.1f} "
          "steps/s")
    print(f"  scenario runs alone: {runs:.2f} s, {len(durations) / runs:.1f} scenarios/s, "
          f"{sum(steps) / runs:.1f} steps/s; per scenario median "
          f"{statistics.median(durations) * 1000:.1f} ms, max {max(durations) * 1000:.1f} ms")
    print(f"  the rest (hypothesis, invariants): {whole - runs:.2f} s")
    return 0 if whole <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
