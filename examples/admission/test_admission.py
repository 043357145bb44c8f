"""Tests of the admission example: a Site's validator and mutator, at the three levels of
docs/testing.md (the functions alone, a scenario in virtual time, check_operator)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from admission_operator import MAX_REPLICAS, operator
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core.crd import crd_of
from kubeplan.core.k8s import core_v1
from kubeplan.testkit.admission import admit
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import CreateParent, PatchParent, Scenario, Settle

HERE = Path(__file__).parent
SHOP = yaml.safe_load((HERE / "site.yaml").read_text())
PHISH = yaml.safe_load((HERE / "bad-site.yaml").read_text())


def site(**spec: object) -> dict:
    return {**SHOP, "spec": {**SHOP["spec"], **spec}}


# --- 1. the functions alone --------------------------------------------------------------


def test_a_site_under_example_com_is_allowed_and_gets_the_web_tier() -> None:
    result = admit(operator, SHOP)
    assert result.allowed
    assert result.object is not None
    assert result.object["spec"] == {"domain": "shop.example.com", "replicas": 2, "tier": "web"}
    assert result.called == ("default-tier.site.kubeplan.dev", "check-site.site.kubeplan.dev")


def test_a_site_elsewhere_is_denied_naming_the_field() -> None:
    result = admit(operator, PHISH)
    assert not result.allowed
    assert result.message == (
        'admission webhook "check-site.site.kubeplan.dev" denied the request: spec.domain: '
        "'shop.example.net' is not under example.com")
    assert result.fields == ("spec.domain",)
    assert result.code == 403


def test_the_domain_cannot_change_but_the_replicas_can() -> None:
    assert admit(operator, site(replicas=3, tier="web"), old=SHOP).allowed
    moved = admit(operator, site(domain="new.example.com"), old=SHOP)
    assert not moved.allowed
    assert "cannot change from 'shop.example.com' to 'new.example.com'" in moved.message
    # the mutator is declared for CREATE only: an update keeps the tier it is given
    assert admit(operator, site(tier=None), old=SHOP).object["spec"].get("tier") is None


def test_no_replicas_is_allowed_with_a_warning() -> None:
    result = admit(operator, site(replicas=0))
    assert result.allowed
    assert result.warnings == ("site shop has no replicas",)


def test_a_spec_that_does_not_read_fails_closed_with_the_error() -> None:
    result = admit(operator, {**SHOP, "spec": {"replicas": 1}}, old=SHOP)
    assert not result.allowed
    assert result.code == 500
    assert result.called == ("check-site.site.kubeplan.dev",)  # the mutator is for CREATE
    assert "check_site failed: StructureError" in result.message
    assert "required field missing @ $.domain" in result.message


@settings(max_examples=100, deadline=None)
@given(st.integers(-10, 3 * MAX_REPLICAS))
def test_replicas_are_allowed_exactly_within_the_bounds(replicas: int) -> None:
    assert admit(operator, site(replicas=replicas)).allowed == (0 <= replicas <= MAX_REPLICAS)


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


# --- 2. a scenario in virtual time: the fake runs the admission chain ---------------------


def test_a_denied_site_is_never_stored_and_an_allowed_one_converges() -> None:
    trace = run_scenario(operator, Scenario([
        CreateParent(name="phish", spec=PHISH["spec"]),
        CreateParent(name="shop", spec=SHOP["spec"]),
        Settle(),
        PatchParent(name="shop", namespace="default",
                    patch={"spec": {"domain": "elsewhere.example.com"}}),
        Settle(),
    ]))
    assert trace.steps[0].outcome.startswith("rejected: 403")
    assert trace.steps[3].outcome.startswith("rejected: 403")
    assert trace.final is not None
    (parent,) = trace.final.parents
    assert parent["metadata"]["name"] == "shop"
    assert parent["spec"] == {"domain": "shop.example.com", "replicas": 2, "tier": "web"}
    (configmap,) = trace.final.objects[core_v1.ConfigMap]
    assert configmap["data"] == {"domain": "shop.example.com", "replicas": "2", "tier": "web"}


async def test_the_harness_sees_the_denial_as_the_api_server_words_it(  # type: ignore[no-untyped-def]
        operator_harness, fake_apiserver) -> None:
    from kubeplan.adapters.errors import ApiError

    harness = await operator_harness(operator)
    stored = await harness.assert_converges(HERE / "site.yaml")
    assert stored["spec"]["tier"] == "web"
    client = fake_apiserver.client()
    with pytest.raises(ApiError) as denied:
        await client.create(operator.config.parent, PHISH)
    assert denied.value.status == 403
    assert 'admission webhook "check-site.site.kubeplan.dev" denied the request' in str(
        denied.value)
    assert fake_apiserver.get_object("example.kubeplan.dev/v1", "sites", "phish",
                                     "default") is None


# --- 3. the property test of the whole operator ------------------------------------------


def test_the_whole_operator_keeps_its_invariants() -> None:
    """Random Sites, most of them denied: every invariant holds, 'admitted' included
    (nothing its validator denies is stored, and none of its own writes is denied)."""
    check_operator(operator, settings=settings(max_examples=10, deadline=None, database=None))
