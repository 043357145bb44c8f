"""Tests of the ordered example: Namespace first on the way up, last on the way down."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ordered_operator import operator

from kubeplan.core.crd import crd_of
from kubeplan.core.request import SyncRequest
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import CreateParent, DeleteParent, Scenario, Settle
from kubeplan.testkit.strategies import parents

HERE = Path(__file__).parent
example = __import__(operator.handler.__module__)
WORKSPACE = yaml.safe_load((HERE / "workspace.yaml").read_text())


def created() -> SyncRequest:
    """The workspace after its first plan ran (finalizer added, children created)."""
    request = request_from_dicts(WORKSPACE, config=operator.config)
    return observe(request, plan_for(operator, request))


def deleting(request: SyncRequest) -> SyncRequest:
    meta = {**request.parent["metadata"], "deletionTimestamp": "2025-01-01T00:00:00Z"}
    return SyncRequest({**request.parent, "metadata": meta}, request.children, finalizing=True)


def test_the_namespace_is_created_before_the_objects_inside_it() -> None:
    plan = plan_for(operator, request_from_dicts(WORKSPACE, config=operator.config))
    creates = [str(a.ref) for a in plan.child_actions]
    assert creates == ["v1/Namespace ws-data-team", "v1/ConfigMap ws-data-team/settings",
                       "v1/ServiceAccount ws-data-team/workspace"]
    expect_plan(plan).adds_finalizer()


def test_finalize_tears_down_from_the_inside_out() -> None:
    step1 = plan_for(operator, deleting(created()))
    expect_plan(step1).deletes("ConfigMap ws-data-team/settings",
                               "ServiceAccount ws-data-team/workspace").replaces_nothing()
    assert step1.finalized is False
    step2 = plan_for(operator, observe(deleting(created()), step1))
    expect_plan(step2).deletes("Namespace ws-data-team")
    step3 = plan_for(operator, observe(observe(deleting(created()), step1), step2))
    expect_plan(step3).removes_finalizer().touches_no_child()
    assert step3.finalized is True


@settings(max_examples=30, deadline=None)
@given(parents(example.Workspace, example.WorkspaceSpec,
               overrides={"WorkspaceSpec.settings": st.dictionaries(
                   st.sampled_from(["a", "b-c", "d.e"]), st.text(max_size=5), max_size=3)}))
def test_any_workspace_creates_its_namespace_first_and_converges(parent: dict) -> None:
    request = request_from_dicts(parent, config=operator.config)
    plan = plan_for(operator, request)
    kinds = [a.ref.type.kind for a in plan.child_actions]
    assert kinds[0] == "Namespace" and sorted(kinds[1:]) == ["ConfigMap", "ServiceAccount"]
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_the_runtime_deletes_in_order_then_releases_the_workspace() -> None:
    scenario = Scenario([
        CreateParent(name="t1", spec={"owner": "me"}, namespace=None),
        Settle(),
        DeleteParent(name="t1", namespace=None),
        Settle(),
    ])
    trace = run_scenario(operator, scenario)
    text = str(trace)
    first_inner = min(text.index("delete  v1/ConfigMap ws-t1/settings"),
                      text.index("delete  v1/ServiceAccount ws-t1/workspace"))
    assert first_inner < text.index("delete  v1/Namespace ws-t1")
    assert trace.final is not None and not trace.final.parents  # the finalizer was removed


def test_the_whole_operator_keeps_its_invariants() -> None:
    check_operator(operator, settings=settings(max_examples=10, deadline=None, database=None))


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample parent, reconciled by the real runtime through the pytest plugin's fixtures:
    it converges (Synced=True, children exist) and a further resync writes nothing."""
    harness = await operator_harness(operator)
    await harness.assert_converges(HERE / "workspace.yaml")
