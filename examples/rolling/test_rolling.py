"""Tests of the rolling example: one ConfigMap at a time, each next once the last is ready."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rolling_operator import READY_LABEL, fleet_operator, operator, ready_at_its_version

from kubeplan.core.crd import crd_of
from kubeplan.core.plan import Plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.rollout import ANNOTATION_UPDATED_AT, Check
from kubeplan.core.status import find_condition
from kubeplan.testkit.check import check_operator, check_scenario
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import RolloutTooWide, assert_rollout_bounded
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import (
    Advance,
    CreateParent,
    EditChild,
    PatchParent,
    RestartOperator,
    Scenario,
    Settle,
)
from kubeplan.testkit.vtime import EPOCH

HERE = Path(__file__).parent
FLEET = yaml.safe_load((HERE / "fleet.yaml").read_text())
NAMES = ("web-0", "web-1", "web-2")


def label(request: SyncRequest, value: str, *names: str) -> SyncRequest:
    """The request with the ConfigMaps ``names`` (all when none) labelled ``ready=value``."""
    children = []
    for type_, obj in request.children.all():
        if not names or obj["metadata"]["name"] in names:
            labels = {**obj["metadata"].get("labels", {}), READY_LABEL: value}
            obj = {**obj, "metadata": {**obj["metadata"], "labels": labels}}
        children.append((type_, obj))
    return SyncRequest(request.parent, children)


def with_version(request: SyncRequest, version: str) -> SyncRequest:
    parent = {**request.parent, "spec": {**request.parent["spec"], "version": version}}
    return SyncRequest(parent, list(request.children.all()))


def settled(op: Any = operator) -> SyncRequest:
    """The fleet at v1, every member created and ready."""
    request = request_from_dicts(FLEET, config=op.config)
    request = observe(request, plan_for(op, request))
    return label(request, "true")


def step(op: Any, request: SyncRequest, now: datetime.datetime = EPOCH) -> tuple[Plan, SyncRequest]:
    plan = plan_for(op, request, now=now)
    return plan, observe(request, plan)


def rollout_of(plan: Plan) -> Mapping[str, Any]:
    assert plan.desired_status is not None
    return plan.desired_status["rollout"]["ConfigMap"]


def test_a_new_version_recreates_one_member_and_the_others_wait() -> None:
    plan = plan_for(operator, with_version(settled(), "v2"))
    expect_plan(plan).recreates("ConfigMap default/web-0", fields=["data.version"])
    expect_plan(plan).creates_nothing().replaces_nothing()
    expect_plan(plan).waits("ConfigMap default/web-1", "ConfigMap default/web-2",
                            match="rollout: 1 of at most 1 updating (web-0)")
    assert "wait    v1/ConfigMap default/web-1: rollout" in str(plan)
    assert rollout_of(plan) == {"total": 3, "updated": 1, "ready": 2, "updating": ["web-0"],
                                "waiting": 2}
    expect_plan(plan).has_condition("RolledOut", "False", "Progressing")
    assert plan.desired_status is not None and plan.desired_status["version"] == "v2"


def test_the_next_member_goes_only_once_the_updated_one_is_ready() -> None:
    plan, request = step(operator, with_version(settled(), "v2"))
    plan, request = step(operator, request)  # web-0 is gone: created again, stamped
    expect_plan(plan).creates("ConfigMap default/web-0").recreates_nothing()
    assert ANNOTATION_UPDATED_AT in plan.desired("ConfigMap web-0")["metadata"]["annotations"]
    plan, request = step(operator, request)  # web-0 exists, not ready yet: nothing moves
    assert not plan.child_actions and len(plan.waiting) == 2
    plan, request = step(operator, label(request, "true", "web-0"))
    expect_plan(plan).recreates("ConfigMap default/web-1")
    expect_plan(plan).waits("ConfigMap web-2", match="(web-1)")


def test_the_rollout_finishes_in_name_order_and_then_does_nothing() -> None:
    request = with_version(settled(), "v2")
    order = []
    for _ in range(12):
        plan, request = step(operator, label(request, "true"))
        order += [a.ref.name for a in plan.child_actions if a.verb == "recreate"]
    assert order == list(NAMES)
    plan = plan_for(operator, request)
    expect_plan(plan).does_nothing()
    assert not plan.waiting
    final = request.parent["status"]
    assert final["rollout"]["ConfigMap"] == {"total": 3, "updated": 3, "ready": 3,
                                             "updating": [], "waiting": 0}
    assert (find_condition(final, "RolledOut") or {}).get("reason") == "Complete"


def test_a_failed_check_halts_the_rollout_and_names_the_member() -> None:
    plan, request = step(operator, with_version(settled(), "v2"))
    plan, request = step(operator, request)
    plan, request = step(operator, label(request, "false", "web-0"))
    expect_plan(plan).touches_no_child().waits(
        "ConfigMap web-1", "ConfigMap web-2",
        match="rollout halted: ConfigMap web-0: check app_ready failed")
    expect_plan(plan).has_condition("RolledOut", "False", "CheckFailed")
    assert rollout_of(plan)["halted"] == "ConfigMap web-0: check app_ready failed"
    # once it passes, the rollout goes on with the next member
    plan, request = step(operator, label(request, "true", "web-0"))
    expect_plan(plan).recreates("ConfigMap default/web-1")
    expect_plan(plan).has_condition("RolledOut", "False", "Progressing")


def test_a_check_not_passing_within_the_timeout_halts_and_a_resync_is_asked_for() -> None:
    plan, request = step(operator, with_version(settled(), "v2"))
    plan, request = step(operator, request)
    plan, request = step(operator, request, EPOCH + datetime.timedelta(seconds=60))
    expect_plan(plan).resyncs_after(240)  # created at EPOCH, timeout 5 min
    plan, request = step(operator, request, EPOCH + datetime.timedelta(minutes=6))
    expect_plan(plan).has_condition("RolledOut", "False", "CheckTimedOut")
    assert "has not passed within 300s of its update at 2026-01-01T00:00:00Z" in str(
        find_condition(plan.desired_status, "RolledOut"))
    assert plan.resync_after is None and not plan.child_actions


def test_max_unavailable_two_updates_two_at_a_time() -> None:
    two = fleet_operator(max_unavailable=2)
    plan = plan_for(two, with_version(settled(two), "v2"))
    assert [a.ref.name for a in plan.child_actions] == ["web-0", "web-1"]
    assert [w.ref.name for w in plan.waiting] == ["web-2"]


def test_an_unready_old_member_does_not_block_the_rollout_but_an_updated_one_does() -> None:
    # old members that are not ready are updated like the others (they are not in flight)
    request = label(with_version(settled(), "v2"), "false", "web-1", "web-2")
    plan = plan_for(operator, request)
    expect_plan(plan).recreates("ConfigMap default/web-0")


def test_in_place_rolling_replaces_and_reads_conditions_of_the_current_generation() -> None:
    op = fleet_operator(check=Check(condition="Ready"))
    in_place = op.config.children
    assert all(c.rollout is not None for c in in_place.values())
    from kubeplan.core.config import ChildConfig, OperatorConfig
    from kubeplan.core.definition import OperatorDefinition
    from kubeplan.core.k8s import core_v1
    config = OperatorConfig("rolling", op.config.parent).with_child(
        core_v1.ConfigMap, ChildConfig.rolling(check=Check(condition="Ready")))
    op = OperatorDefinition(config, op.handler)
    request = request_from_dicts(FLEET, config=config)
    request = observe(request, plan_for(op, request))
    ready = {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}
    children = [(t, {**o, "metadata": {**o["metadata"], "generation": 1}, "status": ready})
                for t, o in request.children.all()]
    request = with_version(SyncRequest(request.parent, children), "v2")
    plan = plan_for(op, request)
    expect_plan(plan).replaces("ConfigMap default/web-0", fields=["data.version"])
    assert ANNOTATION_UPDATED_AT in plan.desired("ConfigMap web-0")["metadata"]["annotations"]
    assert Check("Ready")({"metadata": {"generation": 2}, "status": ready}) is None  # stale
    assert Check("Ready")({"metadata": {"generation": 1}, "status": ready}) is True
    assert Check("Ready", failed_condition="Failed")(
        {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) is False


def test_a_handler_status_field_named_rollout_is_refused() -> None:
    from kubeplan.core.response import SyncResponse
    op = fleet_operator()
    bad = type(op)(op.config, lambda r: SyncResponse(children=[], status={"rollout": 1}))
    plan = plan_for(bad, request_from_dicts(FLEET, config=op.config))
    expect_plan(plan).fails("sets 'rollout'")


def test_bad_rolling_options_are_refused_with_the_option_named() -> None:
    with pytest.raises(ValueError, match="max_unavailable"):
        fleet_operator(max_unavailable=0)
    with pytest.raises(ValueError, match="timeout"):
        fleet_operator(timeout=datetime.timedelta(0))
    with pytest.raises(TypeError, match="check must be a function"):
        fleet_operator(check="Ready")


# -- the runtime, in virtual time ---------------------------------------------------------

READY = {"metadata": {"labels": {READY_LABEL: "true"}}}
FAILED = {"metadata": {"labels": {READY_LABEL: "false"}}}


def mark(patch: dict[str, Any], *names: str) -> list[EditChild | Settle]:
    """Label the members (as their application would), then let the operator react."""
    return [*(EditChild(type_key="v1/ConfigMap", name=n, namespace="default", patch=patch)
              for n in names), Settle()]


def test_the_runtime_halts_on_a_failed_check_and_goes_on_once_it_passes() -> None:
    scenario = Scenario([
        CreateParent(name="web", namespace="default", spec={"version": "v1", "replicas": 3}),
        Settle(),
        *mark(READY, *NAMES),
        PatchParent(name="web", namespace="default", patch={"spec": {"version": "v2"}}),
        Settle(),
        *mark(FAILED, "web-0"),
        Advance(30),
        *mark(READY, "web-0"),
        *mark(READY, "web-1"),
        *mark(READY, "web-2"),
    ])
    trace = run_scenario(operator, scenario)
    text = str(trace)
    halted = text.index("rollout halted: ConfigMap web-0: check app_ready failed")
    assert text.index("recreate v1/ConfigMap default/web-0") < halted
    assert halted < text.index("recreate v1/ConfigMap default/web-1")
    assert text.index("recreate v1/ConfigMap default/web-1") < text.index(
        "recreate v1/ConfigMap default/web-2")
    assert trace.final is not None
    members = trace.final.objects[operator.config.child_types[0]]
    assert sorted(m["data"]["version"] for m in members) == ["v2", "v2", "v2"]
    fleet = trace.final.parents[0]
    assert (find_condition(fleet["status"], "RolledOut") or {}).get("reason") == "Complete"
    assert_rollout_bounded(trace, operator)


def test_the_runtime_rechecks_on_its_own_and_halts_when_the_timeout_passes() -> None:
    scenario = Scenario([
        CreateParent(name="web", namespace="default", spec={"version": "v1", "replicas": 2}),
        Settle(),
        *mark(READY, "web-0", "web-1"),
        PatchParent(name="web", namespace="default", patch={"spec": {"version": "v2"}}),
        Settle(),
        Advance(301),  # nobody reports web-0 ready: the resync kubeplan asked for finds out
    ])
    trace = run_scenario(operator, scenario)
    assert trace.final is not None
    fleet = trace.final.parents[0]
    condition = find_condition(fleet["status"], "RolledOut") or {}
    assert condition.get("reason") == "CheckTimedOut", condition
    assert "ConfigMap web-0: check app_ready has not passed within 300s" in condition["message"]
    assert "recreate v1/ConfigMap default/web-1" not in str(trace)


def test_in_place_the_runtime_replaces_one_member_at_a_time() -> None:
    """In place, a member keeps its labels, so its check must name the version it is
    ready at: ``ready=v2`` (``ready_at_its_version``)."""
    in_place = fleet_operator(check=ready_at_its_version, in_place=True)

    def ready_at(version: str, *names: str) -> list[EditChild | Settle]:
        return mark({"metadata": {"labels": {READY_LABEL: version}}}, *names)

    scenario = Scenario([
        CreateParent(name="web", namespace="default", spec={"version": "v1", "replicas": 3}),
        Settle(),
        *ready_at("v1", *NAMES),
        PatchParent(name="web", namespace="default", patch={"spec": {"version": "v2"}}),
        Settle(),
        *ready_at("v2", "web-0"),
        *ready_at("v2", "web-1"),
    ])
    trace = run_scenario(in_place, scenario)
    text = str(trace)
    assert "recreate" not in text
    replaced = [line.split()[2].rstrip(":") for line in text.splitlines()
                if line.strip().startswith("replace v1/ConfigMap")]
    assert replaced == ["default/web-0", "default/web-1", "default/web-2"]
    assert text.index("wait    v1/ConfigMap default/web-2: rollout: 1 of at most 1 updating "
                      "(web-1)") < text.index("replace v1/ConfigMap default/web-2")
    assert trace.final is not None
    members = trace.final.objects[in_place.config.child_types[0]]
    assert sorted(m["data"]["version"] for m in members) == ["v2", "v2", "v2"]
    assert_rollout_bounded(trace, in_place)
    # judged by a check that never passes, the three members replaced in place would all
    # be updating at the end: the invariant sees in-place updates in the fake's log too
    with pytest.raises(RolloutTooWide, match="3 ConfigMap children updating at once"):
        assert_rollout_bounded(trace, fleet_operator(check=lambda child: None, in_place=True))


def test_the_rollout_invariant_fails_for_an_operator_that_updates_all_at_once() -> None:
    """The invariant can fail: the same scenario, checked against a bound of 1 while the
    operator itself is allowed 3 at a time."""
    wide = fleet_operator(max_unavailable=3)
    scenario = Scenario([
        CreateParent(name="web", namespace="default", spec={"version": "v1", "replicas": 3}),
        Settle(),
        *mark(READY, *NAMES),
        PatchParent(name="web", namespace="default", patch={"spec": {"version": "v2"}}),
        Settle(),
    ])
    trace = run_scenario(wide, scenario)
    with pytest.raises(RolloutTooWide, match="3 ConfigMap children updating at once"):
        assert_rollout_bounded(trace, operator)


def ready_unless_failed(child: Mapping[str, Any]) -> bool | None:
    """Members that report ready as soon as they exist (as if a kubelet ran them), unless
    labelled ``ready=false``."""
    labels = (child.get("metadata") or {}).get("labels") or {}
    return labels.get(READY_LABEL) != "false"


@pytest.mark.parametrize("max_unavailable", [1, 2])
def test_the_whole_operator_keeps_its_invariants(max_unavailable: int) -> None:
    check_operator(
        fleet_operator(check=ready_unless_failed, max_unavailable=max_unavailable),
        settings=settings(max_examples=30, deadline=None, database=None),
        operator_name=f"rolling_operator:fleet_operator(max_unavailable={max_unavailable})",
    )


@settings(max_examples=25, deadline=None, database=None)
@given(
    in_place=st.booleans(),
    max_unavailable=st.integers(1, 3),
    replicas=st.integers(1, 4),
    changes=st.lists(st.tuples(st.sampled_from(["v1", "v2", "v3"]), st.integers(1, 4),
                               st.sampled_from(["settle", "restart", "fail", "none"])),
                     min_size=1, max_size=4),
)
def test_drawn_version_changes_keep_every_invariant(
    in_place: bool, max_unavailable: int, replicas: int, changes: list[tuple[str, int, str]]
) -> None:
    """check_operator's scenarios are generic; these always roll: the fleet exists, then
    its version and size change, with settles, operator restarts and a member reporting
    failure in between, and every invariant (the rollout bound among them) must hold."""
    steps: list[Any] = [
        CreateParent(name="p0", namespace="default",
                     spec={"version": "v0", "replicas": replicas}),
        Settle(),
    ]
    for version, size, then in changes:
        steps.append(PatchParent(name="p0", namespace="default",
                                 patch={"spec": {"version": version, "replicas": size}}))
        if then == "settle":
            steps.append(Settle())
        elif then == "restart":
            steps.append(RestartOperator())
        elif then == "fail":
            steps += [EditChild(type_key="v1/ConfigMap", name="p0-0", namespace="default",
                                patch=FAILED), Settle()]
    drawn = fleet_operator(check=ready_unless_failed, in_place=in_place,
                           max_unavailable=max_unavailable)
    check_scenario(drawn, Scenario(steps), operator_name="rolling_operator:fleet_operator")


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample fleet, reconciled by the real runtime through the pytest plugin's fixtures:
    its members are created and a further resync writes nothing."""
    harness = await operator_harness(operator)
    await harness.assert_converges(HERE / "fleet.yaml")


# check_operator's finds, replayed as they were drawn (each failed before its fix)
FOUND = {
    # a DELETE answered 404 by a fault left the cache "missing" while creates met 409
    "delete-404": """
steps:
- {kind: create_parent, name: p0, spec: {version: '1'}}
- {kind: settle}
- {kind: inject_fault, fault: {kind: error, code: 404, resource: v1/ConfigMap}}
- {kind: patch_parent, name: p0, patch: {spec: {version: '0'}}}
- {kind: settle}
""",
    # the parent changed behind a stalled watch: each status patch from the stale cache
    # met 409 and the sync came straight back, at one virtual instant
    "stalled-watch-409": """
steps:
- {kind: create_parent, name: p0, spec: {version: '0'}}
- {kind: restart_operator}
- {kind: advance, seconds: 600.0}
- {kind: delete_parent, name: p0}
- {kind: delete_parent, name: p0}
- {kind: inject_fault, fault: {kind: watch_stall, seconds: 1.0}}
- {kind: create_parent, name: p0, spec: {version: '0'}}
- {kind: create_parent, name: p1, spec: {version: '1'}}
- {kind: patch_parent, name: p1, patch: {spec: {version: '0'}}}
- {kind: settle}
""",
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_scenarios_check_operator_found_keep_every_invariant(name: str) -> None:
    from kubeplan.testkit.invariants import assert_invariants
    from kubeplan.testkit.scenario import Scenario

    rolling = fleet_operator(max_unavailable=1)
    trace = run_scenario(rolling, Scenario.from_yaml(FOUND[name]))
    assert_invariants(trace, rolling)


def test_twenty_members_ready_at_once_roll_in_one_instant_without_a_hot_loop() -> None:
    """Found by check_operator: members that are ready at once (``ready_unless_failed``)
    roll in 41 syncs at one virtual instant, which is progress; the hot-loop alarm (then
    40 syncs a parent, whatever its children) took it for a loop."""
    from kubeplan.testkit.invariants import assert_invariants
    from kubeplan.testkit.scenario import Scenario

    rolling = fleet_operator(check=ready_unless_failed, max_unavailable=1)
    trace = run_scenario(rolling, Scenario.from_yaml("""
steps:
- {kind: create_parent, name: p0, spec: {version: A}}
- {kind: patch_parent, name: p0, patch: {spec: {version: A, replicas: 20}}}
- {kind: settle}
- {kind: patch_parent, name: p0, patch: {spec: {version: '0'}}}
"""))
    assert trace.hot_loop is None, trace.hot_loop
    assert_invariants(trace, rolling)
    assert trace.syncs > 40  # the case the old alarm met
