"""kubeplan.testkit: test an operator without a cluster.

- ``harness``: the pure function alone: ``request_from_yaml``, ``plan_for``, ``converge``,
  ``expect_plan``, ``observe``;
- ``FakeApiServer``: an in-memory API server with Kubernetes semantics, faults and an
  HTTP face (``kubeplan.testkit.apiserver``);
- ``Scenario`` and its steps: what happens to an operator, as data that saves to YAML;
- ``run_scenario``: the real runtime against the fake server, in virtual time, giving a
  readable, deterministic ``Trace``;
- ``kubeplan.testkit.replay``: a recording of a run (``kubeplan run --record``) replayed
  through the operator in virtual time, its plans compared (``replay``,
  ``assert_replays``);
- invariants (``assert_writes_accepted``, ``assert_converged``, ``assert_quiet``, ``assert_safe``,
  ``assert_finalized``, ``assert_permanent_held``, ``assert_bounded_writes``,
  ``assert_filters_respected``, ``assert_rollout_bounded``,
  ``assert_invariants``);
- ``check_operator``: the one-call property test; ``strategies``: hypothesis pieces;
- the pytest plugin (``kubeplan.testkit.plugin``): ``fake_apiserver``,
  ``fake_apiserver_http``, ``operator_harness``, ``kubeplan_scenario``.

- ``admit``: an operator's admission webhooks run on one object (``kubeplan.testkit.admission``);
  the fake runs the admission chain of the webhook configurations it stores.

What the fake does not model: aggregated APIs, and
kube-controller-manager controllers other than garbage collection, namespace lifecycle
and CRD establishment (and, opt-in, the ``default`` ServiceAccount and
``kube-root-ca.crt`` of every namespace). The admin may do everything; a ServiceAccount
token the fake issued is authorised by the RBAC objects it stores
(``kubeplan.testkit.permissions`` runs an operator under its generated RBAC).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real types, for type checkers (at run time: __getattr__)
    from kubeplan.testkit import strategies
    from kubeplan.testkit.admission import Admission, ChildDenied, admit
    from kubeplan.testkit.apiserver import FakeApiServer, Fault
    from kubeplan.testkit.check import (
        OperatorCheckFailed,
        check_operator,
        check_scenario,
        operator_scenarios,
    )
    from kubeplan.testkit.conversions import ConversionNotLossless, check_round_trips
    from kubeplan.testkit.harness import (
        aplan_for,
        converge,
        expect_plan,
        observe,
        plan_for,
        request_from_dicts,
        request_from_yaml,
    )
    from kubeplan.testkit.invariants import (
        FilteredParentWritten,
        InvariantViolation,
        NotConverged,
        NotFinalized,
        NotQuiet,
        PermanentRetried,
        RefusedWrite,
        RolloutTooWide,
        TooManyWrites,
        Unsafe,
        assert_bounded_writes,
        assert_converged,
        assert_filters_respected,
        assert_finalized,
        assert_invariants,
        assert_permanent_held,
        assert_quiet,
        assert_rollout_bounded,
        assert_safe,
        assert_writes_accepted,
    )
    from kubeplan.testkit.permissions import (
        ServiceAccountAccess,
        generated_service_account,
        without_verb,
    )
    from kubeplan.testkit.replay import (
        Divergence,
        Recording,
        RecordingError,
        ReplayResult,
        areplay,
        assert_replays,
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
        SetSourceItems,
        Settle,
        SourceFault,
    )
    from kubeplan.testkit.simulation import Simulation
    from kubeplan.testkit.sources import ScriptedSource
    from kubeplan.testkit.trace import ClusterState, Trace
    from kubeplan.testkit.vtime import LoopClock, VirtualTimeLoop, run_virtual, virtual_time

# Exports are loaded on first use: ``kubeplan.testkit.apiserver`` is imported by the
# ``kubeplan`` command (``run --embedded``), which must not need hypothesis (a test extra)
# nor pay for the runner, the invariants and the strategies.
_EXPORTS: dict[str, str] = {
    "strategies": "",
    "Admission": "admission",
    "ChildDenied": "admission",
    "admit": "admission",
    "FakeApiServer": "apiserver",
    "Fault": "apiserver",
    "OperatorCheckFailed": "check",
    "check_operator": "check",
    "check_scenario": "check",
    "ConversionNotLossless": "conversions",
    "check_round_trips": "conversions",
    "operator_scenarios": "check",
    "aplan_for": "harness",
    "converge": "harness",
    "expect_plan": "harness",
    "observe": "harness",
    "plan_for": "harness",
    "request_from_dicts": "harness",
    "request_from_yaml": "harness",
    "FilteredParentWritten": "invariants",
    "InvariantViolation": "invariants",
    "NotConverged": "invariants",
    "NotFinalized": "invariants",
    "PermanentRetried": "invariants",
    "NotQuiet": "invariants",
    "RefusedWrite": "invariants",
    "RolloutTooWide": "invariants",
    "TooManyWrites": "invariants",
    "Unsafe": "invariants",
    "assert_bounded_writes": "invariants",
    "assert_converged": "invariants",
    "assert_filters_respected": "invariants",
    "assert_finalized": "invariants",
    "assert_permanent_held": "invariants",
    "assert_invariants": "invariants",
    "assert_quiet": "invariants",
    "assert_rollout_bounded": "invariants",
    "assert_safe": "invariants",
    "assert_writes_accepted": "invariants",
    "Divergence": "replay",
    "Recording": "replay",
    "RecordingError": "replay",
    "ReplayResult": "replay",
    "areplay": "replay",
    "assert_replays": "replay",
    "ServiceAccountAccess": "permissions",
    "generated_service_account": "permissions",
    "without_verb": "permissions",
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
    "SetSourceItems": "scenario",
    "SourceFault": "scenario",
    "Simulation": "simulation",
    "ScriptedSource": "sources",
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
    "Admission",
    "Advance",
    "ChildDenied",
    "ClusterState",
    "ConversionNotLossless",
    "CreateForeign",
    "CreateParent",
    "DeleteChild",
    "DeleteParent",
    "Divergence",
    "EditChild",
    "FakeApiServer",
    "Fault",
    "FaultSpec",
    "FilteredParentWritten",
    "InjectFault",
    "InvariantViolation",
    "LoopClock",
    "NotConverged",
    "NotFinalized",
    "NotQuiet",
    "OperatorCheckFailed",
    "PatchParent",
    "PermanentRetried",
    "Recording",
    "RecordingError",
    "RefusedWrite",
    "ReplayResult",
    "RestartOperator",
    "RolloutTooWide",
    "Scenario",
    "ScriptedSource",
    "ServiceAccountAccess",
    "SetSourceItems",
    "Settle",
    "Simulation",
    "SourceFault",
    "TooManyWrites",
    "Trace",
    "Unsafe",
    "VirtualTimeLoop",
    "admit",
    "aplan_for",
    "areplay",
    "arun_scenario",
    "assert_bounded_writes",
    "assert_converged",
    "assert_filters_respected",
    "assert_finalized",
    "assert_invariants",
    "assert_permanent_held",
    "assert_quiet",
    "assert_replays",
    "assert_rollout_bounded",
    "assert_safe",
    "assert_writes_accepted",
    "check_operator",
    "check_round_trips",
    "check_scenario",
    "converge",
    "expect_plan",
    "generated_service_account",
    "observe",
    "operator_scenarios",
    "plan_for",
    "request_from_dicts",
    "request_from_yaml",
    "run_scenario",
    "run_virtual",
    "strategies",
    "virtual_time",
    "without_verb",
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
