"""run_scenario: the real runtime against the fake API server, in virtual time."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import core_v1
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit import (
    Advance,
    CreateForeign,
    CreateParent,
    DeleteChild,
    DeleteParent,
    EditChild,
    FaultSpec,
    InjectFault,
    NotQuiet,
    PatchParent,
    RestartOperator,
    Scenario,
    Settle,
    arun_scenario,
    assert_invariants,
    assert_quiet,
    run_scenario,
    virtual_time,
)

Greeter = K8sType("runner.kubeplan.dev/v1", "Greeter", "greeters")
CONFIG = OperatorConfig("greeter", Greeter).with_child(core_v1.ConfigMap, ChildConfig.replace())


def greet(request: SyncRequest) -> SyncResponse:
    """The member-like operator: one ConfigMap named after the parent, greeting it."""
    who = str(request.spec.get("who") or request.name)
    child = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": request.name, "namespace": request.namespace},
        "data": {"greeting": f"Hello, {who}!"},
    }
    return SyncResponse(children=[child], status={"greeting": f"Hello, {who}!"})


GREETER = OperatorDefinition(CONFIG, greet)

BUSY = Scenario(
    name="busy",
    seed=7,
    steps=[
        CreateParent("p0", {"who": "ada"}),
        CreateParent("p1", {}),
        Settle(),
        PatchParent("p0", {"spec": {"who": "grace"}}),
        InjectFault(FaultSpec("error", verb="patch", resource="v1/ConfigMap", count=2)),
        Advance(30),
        EditChild("v1/ConfigMap", "p1", {"data": {"greeting": "tampered"}}),
        DeleteChild("v1/ConfigMap", "p0"),
        CreateForeign({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p2"}}),
        CreateParent("p2", {}),
        RestartOperator(),
        InjectFault(FaultSpec("expire_watch")),
        DeleteParent("p1"),
        Advance(600),
    ],
)


def test_a_scenario_runs_the_operator_end_to_end() -> None:
    trace = run_scenario(GREETER, Scenario(steps=[CreateParent("p0", {"who": "ada"})]))
    assert trace.final is not None
    [child] = trace.final.objects[core_v1.ConfigMap]
    assert child["data"] == {"greeting": "Hello, ada!"}
    [parent] = trace.final.parents
    assert parent["status"]["greeting"] == "Hello, ada!"
    assert trace.quiet_writes == []
    text = str(trace)
    assert "step 1 t=0.000s: create parent p0" in text
    assert "create  v1/ConfigMap default/p0: missing" in text
    assert "operator create configmaps default/p0 -> 201" in text
    assert_invariants(trace, GREETER)


def test_the_same_scenario_and_seed_give_the_same_trace() -> None:
    first, second = run_scenario(GREETER, BUSY), run_scenario(GREETER, BUSY)
    assert str(first) == str(second)
    # Event names end in a random suffix chosen by the runtime; the text masks it
    assert [w.line() for w in first.writes] == [w.line() for w in second.writes]
    assert [p.text for p in first.plans] == [p.text for p in second.plans]


def test_a_busy_scenario_with_faults_restarts_and_foreign_objects_settles() -> None:
    trace = run_scenario(GREETER, BUSY)
    text = str(trace)
    assert "injected fault (500)" in text  # the fault hit the operator's replace
    assert "restart the operator" in text
    assert trace.hot_loop is None
    assert_invariants(trace, GREETER)
    final = trace.final
    assert final is not None
    names = sorted(p["metadata"]["name"] for p in final.parents)
    assert names == ["p0", "p2"]
    p2 = next(p for p in final.parents if p["metadata"]["name"] == "p2")
    [synced] = p2["status"]["conditions"]
    assert synced["reason"] == "ChildConflict"  # the foreign ConfigMap p2 is in the way


def test_a_failed_user_step_is_recorded_not_raised() -> None:
    trace = run_scenario(GREETER, Scenario(steps=[DeleteParent("nobody"), CreateParent("p0")]))
    assert trace.steps[0].outcome.startswith("rejected: 404")
    assert "[rejected: 404" in str(trace)
    assert trace.steps[1].ok


def test_a_config_and_handler_pair_is_accepted() -> None:
    trace = run_scenario((CONFIG, greet), Scenario(steps=[CreateParent("p0")]))
    assert len(trace.final.objects[core_v1.ConfigMap]) == 1  # type: ignore[union-attr]


def test_virtual_time_passes_without_real_waiting() -> None:
    trace = run_scenario(GREETER, Scenario(steps=[CreateParent("p0"), Advance(86_400)]))
    assert trace.final is not None and trace.final.time > 86_400
    assert trace.duration < 10  # a simulated day, with resyncs every 10 minutes


def _counting_handler() -> Any:
    counter = itertools.count()

    def sync(request: SyncRequest) -> SyncResponse:
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": request.name, "namespace": request.namespace},
            "data": {"n": str(next(counter))},
        }
        return SyncResponse(children=[child])

    return sync


def test_a_hot_loop_is_stopped_and_reported() -> None:
    trace = run_scenario((CONFIG, _counting_handler()), Scenario(steps=[CreateParent("p0")]))
    assert trace.hot_loop is not None and "hot loop" in trace.hot_loop
    assert "stopped: hot loop" in str(trace)
    with pytest.raises(NotQuiet, match="default/p0"):
        assert_quiet(trace)


@virtual_time
async def test_arun_scenario_runs_on_the_callers_loop() -> None:
    trace = await arun_scenario(GREETER, Scenario(steps=[CreateParent("p0"), Advance(3600)]))
    assert trace.final is not None and trace.final.time >= 3600
    assert_invariants(trace, GREETER)
