"""Tests of the versions example: a v1 Greeting (one name) is stored and synced as v2
(given and family names), at the three levels of docs/testing.md."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from versions_operator import GreetingV1, GreetingV2, operator, v1_to_v2, v2_to_v1

from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.core.versions import conversion_review, review
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.conversions import check_round_trips
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import CreateParent, PatchParent, Scenario, Settle

HERE = Path(__file__).parent
ADA_V1 = yaml.safe_load((HERE / "greeting.yaml").read_text())
VERSIONS = operator.version_set
assert VERSIONS is not None


# --- 1. the function alone ---------------------------------------------------------------


def test_sync_sees_v2_and_greets_by_full_name() -> None:
    parent = VERSIONS.convert(ADA_V1, "v2")
    assert parent["spec"] == {"givenName": "Ada", "familyName": "Lovelace"}
    request = request_from_dicts(parent, config=operator.config)
    plan = plan_for(operator, request)
    expect_plan(plan).creates("ConfigMap default/greeting-ada").writes_status(
        {"greeting": "Hello, Ada Lovelace!"})
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_a_name_without_a_space_has_no_family_name() -> None:
    assert v1_to_v2(GreetingV1("Hypatia")) == GreetingV2("Hypatia", None)
    assert v2_to_v1(GreetingV2("Hypatia", None)) == GreetingV1("Hypatia")
    # a trailing space is kept as an empty family name, so the round trip is exact
    assert v1_to_v2(GreetingV1("Ada ")) == GreetingV2("Ada", "")


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                max_size=30)


@settings(max_examples=200, deadline=None)
@given(names)
def test_v1_to_v2_and_back_loses_nothing(name: str) -> None:
    obj = {**ADA_V1, "spec": {"name": name}}
    assert VERSIONS.round_trips(obj, "v2")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")),
               max_size=15), st.none() | names)
def test_v2_to_v1_and_back_loses_nothing(given_name: str, family: str | None) -> None:
    spec = {"givenName": given_name, **({} if family is None else {"familyName": family})}
    obj = {**ADA_V1, "apiVersion": "example.kubeplan.dev/v2", "spec": spec}
    assert VERSIONS.round_trips(obj, "v1")


def test_every_round_trip_the_server_makes_is_lossless() -> None:
    """v1 -> v2 -> v1 for objects drawn from v1's schema, v2 -> v1 -> v2 from v2's."""
    check_round_trips(operator, settings=settings(max_examples=50, deadline=None,
                                                  database=None))


def test_the_webhook_answers_a_review_of_both_versions() -> None:
    v2 = VERSIONS.convert(ADA_V1, "v2")
    answer = review(VERSIONS, conversion_review([ADA_V1, v2], "example.kubeplan.dev/v1", "u"))
    assert [o["spec"] for o in answer["response"]["convertedObjects"]] == [
        {"name": "Ada Lovelace"}, {"name": "Ada Lovelace"}]


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


# --- 2. a scenario in virtual time: the fake converts through the webhook ----------------


def test_a_parent_written_in_v1_is_synced_in_v2_and_follows_v2_changes() -> None:
    scenario = Scenario([
        CreateParent(name="ada", spec={"name": "Ada Lovelace"}, version="v1"),  # a v1 client
        Settle(),
        PatchParent(name="ada", namespace="default", patch={"spec": {"familyName": None}}),
        Settle(),
    ])
    trace = run_scenario(operator, scenario)
    assert trace.final is not None
    (parent,) = trace.final.parents
    assert parent["apiVersion"] == "example.kubeplan.dev/v2"
    assert parent["spec"] == {"givenName": "Ada"}
    (configmap,) = trace.final.objects[core_v1.ConfigMap]
    assert configmap["data"] == {"greeting": "Hello, Ada!"}
    assert "create  v1/ConfigMap default/greeting-ada" in str(trace)


@settings(max_examples=15, deadline=None)
@given(names)
def test_any_name_written_in_v1_is_greeted_whole(name: str) -> None:
    """A property of the whole path: v1 client -> webhook -> v2 storage -> v2 sync."""
    trace = run_scenario(operator, Scenario([
        CreateParent(name="ada", spec={"name": name}, version="v1"), Settle()]))
    assert trace.final is not None
    (configmap,) = trace.final.objects[core_v1.ConfigMap]
    assert configmap["data"] == {"greeting": f"Hello, {name}!"}


async def test_a_v1_object_is_synced_as_v2_and_reads_back_as_v1(  # type: ignore[no-untyped-def]
        operator_harness, fake_apiserver) -> None:
    harness = await operator_harness(operator)
    stored = await harness.assert_converges(HERE / "greeting.yaml")
    assert stored["apiVersion"] == "example.kubeplan.dev/v2"
    assert stored["spec"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert stored["status"]["greeting"] == "Hello, Ada Lovelace!"
    as_v1 = fake_apiserver.get_object("example.kubeplan.dev/v1", "greetings", "ada", "default")
    assert as_v1["spec"] == {"name": "Ada Lovelace"}
    assert as_v1["status"]["greeting"] == "Hello, Ada Lovelace!"
    assert fake_apiserver.conversion_webhooks.calls  # the fake really asked the webhook


# --- 3. the property test of the whole operator ------------------------------------------


def test_the_whole_operator_keeps_its_invariants() -> None:
    """Its scenarios also create and patch Greetings in v1: every invariant holds while
    the fake converts through the operator's webhook."""
    check_operator(operator, settings=settings(max_examples=10, deadline=None, database=None))
