"""Tests of the decorator example: children of Services and Namespaces, at three levels."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from decorator_operator import (
    POLICY_ANNOTATION,
    QUOTA_LABEL,
    namespace_quota,
    network_policy,
)
from hypothesis import settings

from kubeplan.core import SyncResponse
from kubeplan.core.crd import parent_crd
from kubeplan.core.k8s import core_v1, networking_v1
from kubeplan.core.manifests import manifests_for
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import CreateParent, PatchParent, Scenario, Settle

HERE = Path(__file__).parent


def service(annotation: str | None = "isolate") -> dict:
    obj = yaml.safe_load((HERE / "service.yaml").read_text())
    if annotation is None:
        del obj["metadata"]["annotations"][POLICY_ANNOTATION]
    else:
        obj["metadata"]["annotations"][POLICY_ANNOTATION] = annotation
    return obj


def namespace(size: str | None = "small") -> dict:
    obj = yaml.safe_load((HERE / "namespace.yaml").read_text())
    if size is None:
        del obj["metadata"]["labels"][QUOTA_LABEL]
    else:
        obj["metadata"]["labels"][QUOTA_LABEL] = size
    return obj


# -- the function alone --------------------------------------------------------------------


def test_an_annotated_service_gets_a_network_policy_and_no_status() -> None:
    request = request_from_dicts(service(), config=network_policy.config)
    plan = plan_for(network_policy, request)
    expect_plan(plan).creates("NetworkPolicy default/isolate-web").writes_no_status()
    policy = plan.desired("NetworkPolicy default/isolate-web")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert policy["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    owner = policy["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Service", "web", True)
    expect_plan(plan_for(network_policy, observe(request, plan))).does_nothing()


@pytest.mark.parametrize("annotation", [None, "allow"])
def test_a_service_without_the_annotation_is_left_alone(annotation: str | None) -> None:
    request = request_from_dicts(service(annotation), config=network_policy.config)
    expect_plan(plan_for(network_policy, request)).does_nothing()


def test_removing_the_annotation_deletes_the_network_policy() -> None:
    request = request_from_dicts(service(), config=network_policy.config)
    created = observe(request, plan_for(network_policy, request))
    unannotated = request_from_dicts(
        service(None), [obj for _, obj in created.children.all()], config=network_policy.config)
    plan = plan_for(network_policy, unannotated)
    expect_plan(plan).deletes("NetworkPolicy default/isolate-web").writes_no_status()


def test_a_handler_returning_a_status_for_a_service_is_refused() -> None:
    def with_status(request):  # type: ignore[no-untyped-def]
        return SyncResponse(children=[], status={"phase": "Ready"})

    request = request_from_dicts(service(), config=network_policy.config)
    plan = plan_for((network_policy.config, with_status), request)
    expect_plan(plan).fails("decorates v1/Service, whose status it does not own")
    expect_plan(plan).writes_no_status().touches_no_child()


def test_a_labelled_namespace_gets_a_quota_in_it() -> None:
    request = request_from_dicts(namespace("large"), config=namespace_quota.config)
    plan = plan_for(namespace_quota, request)
    expect_plan(plan).creates("ResourceQuota team-a/default-quota").writes_no_status()
    assert plan.desired("ResourceQuota team-a/default-quota")["spec"]["hard"]["pods"] == "100"


def test_a_namespace_losing_its_label_keeps_its_quota() -> None:
    request = request_from_dicts(namespace(), config=namespace_quota.config)
    created = observe(request, plan_for(namespace_quota, request))
    unlabelled = request_from_dicts(
        namespace(None), [obj for _, obj in created.children.all()], config=namespace_quota.config)
    expect_plan(plan_for(namespace_quota, unlabelled)).does_nothing()


def test_the_label_selector_is_what_the_parents_are_listed_with() -> None:
    assert namespace_quota.config.filters.label_selector == f"{QUOTA_LABEL} in (large,small)"


def test_manifests_grant_read_only_parents_and_no_crd() -> None:
    objects = manifests_for(network_policy, target="decorator_operator:network_policy")
    assert "CustomResourceDefinition" not in [o["kind"] for o in objects]
    (role,) = [o for o in objects if o["kind"] == "ClusterRole"]
    services = [r for r in role["rules"] if r["apiGroups"] == [""]
                and "services" in r["resources"]]
    assert [r["verbs"] for r in services] == [["get", "list", "watch"]]
    assert not [r for r in role["rules"] if "services/status" in r["resources"]]
    assert parent_crd(network_policy) is None and parent_crd(namespace_quota) is None


# -- a scenario: the real runtime against the fake, in virtual time ------------------------


def test_services_coming_and_going_from_the_annotation() -> None:
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    trace = run_scenario(network_policy, Scenario([
        CreateParent("web", spec, metadata={"annotations": {POLICY_ANNOTATION: "isolate"}}),
        CreateParent("db", spec),
        Settle(),
        PatchParent("web", {"metadata": {"annotations": {POLICY_ANNOTATION: None}}}),
        PatchParent("db", {"metadata": {"annotations": {POLICY_ANNOTATION: "isolate"}}}),
        Settle(),
    ]))
    assert_invariants(trace, network_policy)
    assert trace.final is not None
    policies = [p["metadata"]["name"] for p in trace.final.objects[networking_v1.NetworkPolicy]]
    assert policies == ["isolate-db"]
    writes = {(w.resource, w.subresource) for w in trace.operator_writes}
    assert ("services", "status") not in writes and ("services", None) not in writes


def test_a_namespace_leaving_the_selection_keeps_its_quota() -> None:
    """The label selector goes to the server: removing the label arrives as a DELETED
    watch event, which must not be taken for the Namespace's deletion."""
    trace = run_scenario(namespace_quota, Scenario([
        CreateParent("team-a", {}, metadata={"labels": {QUOTA_LABEL: "small"}}),
        Settle(),
        PatchParent("team-a", {"metadata": {"labels": {QUOTA_LABEL: None}}}),
        Settle(),
    ]))
    assert_invariants(trace, namespace_quota)
    assert trace.final is not None
    (quota,) = trace.final.objects[core_v1.ResourceQuota]
    assert quota["metadata"]["namespace"] == "team-a"
    assert quota["spec"]["hard"]["pods"] == "10"


# -- property tests: the whole operator ----------------------------------------------------


def test_the_network_policy_operator_keeps_its_invariants() -> None:
    check_operator(network_policy, settings=settings(max_examples=10, deadline=None,
                                                     database=None))


def test_the_namespace_quota_operator_keeps_its_invariants() -> None:
    check_operator(namespace_quota, settings=settings(max_examples=10, deadline=None,
                                                      database=None))
