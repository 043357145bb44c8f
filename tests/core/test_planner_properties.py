"""Properties of the planner on generated parents and observed worlds.

1. Convergence: applying a plan to the world (``world.World``, a small model of the API server
   that also normalises values) and planning again gives an empty plan: at once, or after the
   create half of a recreate. This holds after server-side normalisation too, thanks to the
   apply memo, and with the memo lost (one extra write, then the memo holds).
2. Safety: no action ever targets an object without the parent's controller ownerReference,
   and every action on an existing child carries that child's uid.
3. A raising or invalid handler yields no child action.
4. Determinism: the same inputs give the same plan, whatever the order of observed children.
"""

from __future__ import annotations

from typing import Any

import pytest
from core_builders import CLUSTER_CONFIG, CONFIG, LATER, NOW, parent
from core_strategies import Scenario, broken_results, desired_children, scenarios
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from world import World

from kubeplan.core.config import OperatorConfig
from kubeplan.core.memo import ApplyMemo
from kubeplan.core.objects import is_owned_by, is_terminating, uid_of
from kubeplan.core.plan import Create, Delete, Plan, Recreate
from kubeplan.core.planner import plan
from kubeplan.core.response import SyncResponse
from kubeplan.core.status import find_condition

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_safe(result: Plan, world: World) -> None:
    """Every child action targets what it may: creates a free slot, the rest an owned child."""
    parent_uid = uid_of(world.parent or {})
    for action in result.child_actions:
        current = world.objects.get((action.ref.type, action.ref.namespace, action.ref.name))
        if isinstance(action, Create):
            assert current is None, f"{action.line()} over an existing object"
            continue
        assert current is not None, f"{action.line()} targets nothing"
        assert is_owned_by(current, parent_uid), f"{action.line()} targets a foreign object"
        assert action.ref.uid == uid_of(current), f"{action.line()} lacks the uid precondition"
        if isinstance(action, Delete | Recreate):
            assert not is_terminating(current), f"{action.line()} on a terminating child"


def converge(scenario: Scenario) -> list[Plan]:
    """Plan and apply until a plan is empty (at most three passes), checking safety each time."""
    plans: list[Plan] = []
    for index in range(3):
        if scenario.world.parent is None:
            break
        current = scenario.plan(now=NOW if index == 0 else LATER)
        note(f"pass {index + 1}:\n{current}")
        assert_safe(current, scenario.world)
        plans.append(current)
        if not current:
            break
        scenario.world.apply(current)
    return plans


@SETTINGS
@given(scenarios())
def test_plans_converge_and_are_safe(scenario: Scenario) -> None:
    note("\n".join(scenario.description))
    plans = converge(scenario)
    assert not scenario.world.refused, scenario.world.refused
    assert scenario.world.parent is None or not plans[-1], f"no convergence:\n{plans[-1]}"
    if plans and not any(isinstance(a, Recreate) for a in plans[0]):
        assert len(plans) <= 2, "a plan without recreate must converge in one pass"
    if len(plans) == 3:  # the create half of a recreate, and nothing else
        assert all(isinstance(a, Create) for a in plans[1].child_actions)


@SETTINGS
@given(scenarios(normalise=True))
def test_others_writing_fields_we_do_not_set_plans_nothing(scenario: Scenario) -> None:
    """After convergence, others' writes to a child's status move its resourceVersion only."""
    plans = converge(scenario)
    if scenario.world.parent is None or plans[-1]:
        return
    for child in scenario.world.owned():
        if not is_terminating(child):
            scenario.world.edit(child, lambda o: o.__setitem__("status", {"seen": 2}))
    again = scenario.plan(now=LATER)
    assert not again, str(again)


@SETTINGS
@given(st.sampled_from((CONFIG, CLUSTER_CONFIG)).flatmap(
    lambda config: st.tuples(st.just(config), desired_children(config))))
def test_normalisation_needs_the_memo_not_a_hot_loop(case: tuple[OperatorConfig, Any]) -> None:
    config, children = case
    kind = config.parent
    world = World(config, parent(kind=kind, namespace="default" if kind.namespaced else None))
    response = SyncResponse(children)
    for now in (NOW, LATER, LATER):
        world.apply(plan(config, world.request(), response, memo=world.memo, now=now,
                         has_finalize=False))
    assert not plan(config, world.request(), response, memo=world.memo, now=LATER,
                    has_finalize=False)
    # The same world planned without the memo replaces every normalised child, every time.
    normalised = [c for c in children if "1000m" in str(c) or "2000m" in str(c)]
    blind = plan(config, world.request(), response, memo=ApplyMemo.empty(), now=LATER,
                 has_finalize=False)
    touched = {a.ref.name for a in blind.child_actions}
    for child in normalised:
        if child["kind"] != "ConfigMap" or config is CLUSTER_CONFIG:  # on_delete never updates
            assert child["metadata"]["name"] in touched


@SETTINGS
@given(st.sampled_from((CONFIG, CLUSTER_CONFIG)).flatmap(
    lambda config: st.tuples(st.just(config), broken_results(config))), scenarios())
def test_a_failing_handler_plans_no_child_action(
    case: tuple[OperatorConfig, tuple[str, Any]], scenario: Scenario
) -> None:
    config, (how, result) = case
    if scenario.config is not config or scenario.world.parent is None:
        return
    if is_terminating(scenario.world.parent):
        return  # covered below: a terminating parent expects a FinalizeResponse
    note(how)
    failed = plan(config, scenario.world.request(), result, memo=scenario.world.memo, now=NOW,
                  has_finalize=scenario.has_finalize)
    assert failed.child_actions == ()
    assert failed.error
    status = failed.status_update.status if failed.status_update else (
        scenario.world.parent.get("status"))
    condition = find_condition(status, "Synced")
    assert condition is not None and condition["status"] == "False"
    assert condition["reason"] in ("SyncFailed", "InvalidResponse")


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_plans_do_not_depend_on_the_order_children_were_observed(
    scenario: Scenario, random: Any
) -> None:
    if scenario.world.parent is None:
        return
    order = list(range(len(scenario.world.objects)))
    first = scenario.plan()
    random.shuffle(order)
    second = scenario.plan(order)
    assert first == second
    assert str(first) == str(second)
    assert first.to_dict() == second.to_dict()


@pytest.mark.parametrize("config", [CONFIG, CLUSTER_CONFIG], ids=["namespaced", "cluster"])
def test_same_inputs_same_plan(config: OperatorConfig) -> None:
    kind = config.parent
    world = World(config, parent(kind=kind, namespace="default" if kind.namespaced else None))
    children = [{"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "web", **({} if kind.namespaced else {"namespace": "team-a"})}}]
    response = SyncResponse(children, status={"phase": "Ready"})
    plans = [plan(config, world.request(), response, memo=world.memo, now=NOW,
                  has_finalize=True) for _ in range(3)]
    assert plans[0] == plans[1] == plans[2]
