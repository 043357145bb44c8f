"""Tests of the member example (the README's quickstart operator)."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from member_operator import operator

from kubeplan.core.crd import crd_of
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.strategies import dns_labels, objects_of

HERE = Path(__file__).parent
Member = operator.config.parent
ADA = yaml.safe_load((HERE / "member.yaml").read_text())


def test_a_member_gets_a_greeting_configmap_and_status() -> None:
    plan = plan_for(operator, request_from_dicts(ADA, config=operator.config))
    expect_plan(plan).creates("ConfigMap default/member-ada").writes_status(
        {"greeting": "Hello, ada! Welcome to analytical-engines."}
    )
    created = plan.child_actions[0].obj
    assert created["data"] == {"greeting": "Hello, ada! Welcome to analytical-engines."}


def test_member_of_is_optional() -> None:
    parent = {**ADA, "spec": {"name": "grace"}}
    plan = plan_for(operator, request_from_dicts(parent, config=operator.config))
    expect_plan(plan).creates("ConfigMap default/member-ada").writes_status(
        {"greeting": "Hello, grace!"}
    )


def test_changing_the_group_replaces_the_configmap() -> None:
    request = request_from_dicts(ADA, config=operator.config)
    after = observe(request, plan_for(operator, request))
    expect_plan(plan_for(operator, after)).does_nothing()
    moved = {**after.parent, "spec": {"name": "ada", "memberOf": "babbage"}}
    plan = plan_for(operator, after.__class__(moved, after.children))
    expect_plan(plan).replaces("ConfigMap default/member-ada", fields=["data.greeting"])


specs = st.fixed_dictionaries(
    {"name": dns_labels(max_size=20)},
    optional={"memberOf": st.text(min_size=1, max_size=20)},
)


@settings(max_examples=40, deadline=None)
@given(objects_of(Member, specs))
def test_any_member_converges_and_greets_by_name(parent: dict) -> None:
    request = request_from_dicts(parent, config=operator.config)
    plan = plan_for(operator, request)
    (create,) = plan.child_actions
    assert create.obj["data"]["greeting"].startswith(f"Hello, {parent['spec']['name']}!")
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_the_whole_operator_keeps_its_invariants() -> None:
    check_operator(operator, settings=settings(max_examples=10, deadline=None, database=None))


def test_the_crd_is_the_operator_s() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample parent, reconciled by the real runtime through the pytest plugin's fixtures:
    it converges (Synced=True, children exist) and a further resync writes nothing."""
    harness = await operator_harness(operator)
    await harness.assert_converges(HERE / "member.yaml")
