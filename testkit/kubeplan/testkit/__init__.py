"""kubeplan.testkit: test an operator without a cluster.

- ``harness``: the pure function alone: ``request_from_yaml``, ``plan_for``,
  ``expect_plan``, ``observe``;
- ``FakeApiServer``: an in-memory API server with Kubernetes semantics, faults and an
  HTTP face (``kubeplan.testkit.apiserver``);
- ``Scenario`` and its steps: what happens to an operator, as data that saves to YAML;
- ``run_scenario``: the real runtime against the fake server, in virtual time, giving a
  readable, deterministic ``Trace``;
- invariants (``assert_converged``, ``assert_quiet``, ``assert_safe``,
  ``assert_finalized``, ``assert_bounded_writes``, ``assert_invariants``);
- ``check_operator``: the one-call property test; ``strategies``: hypothesis pieces;
- the pytest plugin (``kubeplan.testkit.plugin``): ``fake_apiserver``,
  ``fake_apiserver_http``, ``operator_harness``, ``kubeplan_scenario``.

What the fake does not model: admission webhooks, RBAC beyond a bearer token, aggregated
APIs, and kube-controller-manager controllers other than garbage collection, namespace
lifecycle and CRD establishment.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types, for type checkers (at run time: __getattr__)
    from kubeplan.testkit import strategies
    from kubeplan.testkit.apiserver import FakeApiServer, Fault
    from kubeplan.testkit.check import (
        OperatorCheckFailed,
        check_operator,
        check_scenario,
        operator_scenarios,
    )
    from kubeplan.testkit.harness import (
        aplan_for,
        expect_plan,
        observe,
        plan_for,
        request_from_dicts,
        request_from_yaml,
    )
    from kubeplan.testkit.invariants import (
        InvariantViolation,
        NotConverged,
        NotFinalized,
        NotQuiet,
        TooManyWrites,
        Unsafe,
        assert_bounded_writes,
        assert_converged,
        assert_finalized,
        assert_invariants,
        assert_quiet,
        assert_safe,
    )
    from kubeplan.testkit.runner import SCENARIO_SETTINGS, arun_scenario, run_scenario
    from kubeplan.testkit.scenario import (
        Advance,
        CreateForeign,
        CreateParent,
        DeleteChild,
        DeleteParent,
        EditChild,
        FaultSpec,
        InjectFault,
        PatchParent,
        RestartOperator,
        Scenario,
        Settle,
    )
    from kubeplan.testkit.simulation import Simulation
    from kubeplan.testkit.trace import ClusterState, Trace
    from kubeplan.testkit.vtime import LoopClock, VirtualTimeLoop, run_virtual, virtual_time

# Exports are loaded on first use: ``kubeplan.testkit.apiserver`` is imported by the
# ``kubeplan`` command (``run --embedded``), which must not need hypothesis (a test extra)
# nor pay for the runner, the invariants and the strategies.
_EXPORTS: dict[str, str] = {
    "strategies": "",
    "FakeApiServer": "apiserver",
    "Fault": "apiserver",
    "OperatorCheckFailed": "check",
    "check_operator": "check",
    "check_scenario": "check",
    "operator_scenarios": "check",
    "aplan_for": "harness",
    "expect_plan": "harness",
    "observe": "harness",
    "plan_for": "harness",
    "request_from_dicts": "harness",
    "request_from_yaml": "harness",
    "InvariantViolation": "invariants",
    "NotConverged": "invariants",
    "NotFinalized": "invariants",
    "NotQuiet": "invariants",
    "TooManyWrites": "invariants",
    "Unsafe": "invariants",
    "assert_bounded_writes": "invariants",
    "assert_converged": "invariants",
    "assert_finalized": "invariants",
    "assert_invariants": "invariants",
    "assert_quiet": "invariants",
    "assert_safe": "invariants",
    "SCENARIO_SETTINGS": "runner",
    "arun_scenario": "runner",
    "run_scenario": "runner",
    "Advance": "scenario",
    "CreateForeign": "scenario",
    "CreateParent": "scenario",
    "DeleteChild": "scenario",
    "DeleteParent": "scenario",
    "EditChild": "scenario",
    "FaultSpec": "scenario",
    "InjectFault": "scenario",
    "PatchParent": "scenario",
    "RestartOperator": "scenario",
    "Scenario": "scenario",
    "Settle": "scenario",
    "Simulation": "simulation",
    "ClusterState": "trace",
    "Trace": "trace",
    "LoopClock": "vtime",
    "VirtualTimeLoop": "vtime",
    "run_virtual": "vtime",
    "virtual_time": "vtime",
}

# the names of _EXPORTS, spelled out so that type checkers and readers see them
__all__ = [
    "SCENARIO_SETTINGS",
    "Advance",
    "ClusterState",
    "CreateForeign",
    "CreateParent",
    "DeleteChild",
    "DeleteParent",
    "EditChild",
    "FakeApiServer",
    "Fault",
    "FaultSpec",
    "InjectFault",
    "InvariantViolation",
    "LoopClock",
    "NotConverged",
    "NotFinalized",
    "NotQuiet",
    "OperatorCheckFailed",
    "PatchParent",
    "RestartOperator",
    "Scenario",
    "Settle",
    "Simulation",
    "TooManyWrites",
    "Trace",
    "Unsafe",
    "VirtualTimeLoop",
    "aplan_for",
    "arun_scenario",
    "assert_bounded_writes",
    "assert_converged",
    "assert_finalized",
    "assert_invariants",
    "assert_quiet",
    "assert_safe",
    "check_operator",
    "check_scenario",
    "expect_plan",
    "observe",
    "operator_scenarios",
    "plan_for",
    "request_from_dicts",
    "request_from_yaml",
    "run_scenario",
    "run_virtual",
    "strategies",
    "virtual_time",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kubeplan.testkit' has no attribute {name!r}")
    if module == "":
        value: Any = importlib.import_module(f"kubeplan.testkit.{name}")
    else:
        value = getattr(importlib.import_module(f"kubeplan.testkit.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
