"""Tests of the temp-namespace example: time is an input (``request.now``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from temp_namespace_operator import operator

from kubeplan.core.crd import crd_of
from kubeplan.core.request import SyncRequest
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.invariants import assert_invariants
from kubeplan.testkit.runner import run_scenario
from kubeplan.testkit.scenario import Advance, CreateForeign, CreateParent, Scenario, Settle
from kubeplan.testkit.strategies import parents
from kubeplan.testkit.vtime import EPOCH

HERE = Path(__file__).parent
example = __import__(operator.handler.__module__)
CREATED = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def temp(ttl: str = "30m") -> dict:
    parent = yaml.safe_load((HERE / "tempnamespace.yaml").read_text())
    parent["spec"]["ttl"] = ttl
    parent["metadata"]["creationTimestamp"] = CREATED.isoformat().replace("+00:00", "Z")
    return parent


def at(request: SyncRequest, now: datetime) -> SyncRequest:
    return attrs.evolve(request, now=now)


def test_before_the_ttl_the_namespace_exists_and_a_resync_is_asked_for_at_expiry() -> None:
    request = at(request_from_dicts(temp("30m"), config=operator.config),
                 CREATED + timedelta(minutes=10))
    plan = plan_for(operator, request)
    expect_plan(plan).creates("Namespace scratch").resyncs_after(20 * 60)
    expect_plan(plan).writes_status({"phase": "Active", "namespace": "scratch",
                                     "expiresAt": "2025-01-01T12:30:00Z"})
    labels = plan.child_actions[0].obj["metadata"]["labels"]
    assert labels["example.kubeplan.dev/temporary"] == "true"


def test_at_expiry_the_namespace_is_deleted_and_stays_deleted() -> None:
    request = at(request_from_dicts(temp("30m"), config=operator.config), CREATED)
    after = observe(request, plan_for(operator, request))
    expired = plan_for(operator, at(after, CREATED + timedelta(minutes=30)))
    expect_plan(expired).deletes("Namespace scratch").writes_status({"phase": "Expired"})
    gone = at(observe(after, expired), CREATED + timedelta(minutes=31))
    # the status remembers: even without a clock reading nothing comes back
    expect_plan(plan_for(operator, gone)).does_nothing()
    expect_plan(plan_for(operator, at(gone, None))).does_nothing()


def test_a_bad_ttl_is_reported_on_the_parent() -> None:
    request = at(request_from_dicts(temp("soon"), config=operator.config), CREATED)
    expect_plan(plan_for(operator, request)).fails("ttl").touches_no_child()


durations = st.tuples(st.integers(1, 999), st.sampled_from("smhd"))


@settings(max_examples=50, deadline=None)
@given(durations, st.integers(0, 10**7))
def test_the_namespace_exists_exactly_until_the_ttl(duration, elapsed: int) -> None:
    amount, unit = duration
    ttl = example.ttl_seconds(f"{amount}{unit}")
    request = at(request_from_dicts(temp(f"{amount}{unit}"), config=operator.config),
                 CREATED + timedelta(seconds=elapsed))
    plan = plan_for(operator, request)
    if elapsed < ttl:
        expect_plan(plan).creates("Namespace scratch").resyncs_after(ttl - elapsed)
    else:
        expect_plan(plan).creates_nothing()
        assert plan.status_update.status["phase"] == "Expired"


def test_the_runtime_deletes_the_namespace_when_the_ttl_runs_out() -> None:
    """The real runtime in virtual time: nothing but resync_after wakes it at expiry."""
    scenario = Scenario([
        CreateParent(name="scratch", spec={"ttl": "90s"}, namespace=None),
        Settle(),
        Advance(60),
    ])
    trace = run_scenario(operator, scenario)
    final = trace.final
    assert final is not None
    (parent,) = final.parents
    assert parent["status"]["phase"] == "Expired"
    assert not [ns for ns in final.objects[example.core_v1.Namespace]
                if ns["metadata"]["name"] == "scratch" and not
                ns["metadata"].get("deletionTimestamp")]


@pytest.mark.parametrize("ttl", ["1s", "59m", "7d"])
def test_expiry_is_creation_plus_ttl(ttl: str) -> None:
    request = at(request_from_dicts(temp(ttl), config=operator.config), CREATED)
    status = plan_for(operator, request).status_update.status
    expected = CREATED + timedelta(seconds=example.ttl_seconds(ttl))
    assert status["expiresAt"] == expected.isoformat().replace("+00:00", "Z")


def test_a_parent_backing_off_still_expires_on_time() -> None:
    """Found by the property test below: a Namespace of that name held by someone else
    puts the parent in backoff, and its expiry waited for the next retry (a minute past
    the ttl, so the quiet check met a late write); the sync the plan asks for comes first."""
    trace = run_scenario(operator, Scenario(seed=1, steps=(
        CreateParent("p0", spec={"ttl": "122s"}),
        CreateForeign({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p0"}}),
    )))
    assert_invariants(trace, operator)
    expired = [w for w in trace.writes if w.actor == "operator" and w.subresource == "status"
               and w.time >= 122.0]
    assert expired and expired[0].time < 123.0, [w.time for w in expired]


def test_the_whole_operator_keeps_its_invariants() -> None:
    ttls = durations.map(lambda d: f"{d[0]}{d[1]}")
    check_operator(
        operator,
        parents=parents(example.TempNamespace, example.TempNamespaceSpec,
                        overrides={"TempNamespaceSpec.ttl": ttls}),
        settings=settings(max_examples=10, deadline=None, database=None),
        # the runtime requeues right after a delete, before the watch reports the Namespace
        # gone, and deletes again (404): up to 7 writes for an expiry (reported to the lead)
        writes_per_change=8,
    )


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)
    assert EPOCH.tzinfo is not None  # the virtual clock is in UTC, as request.now is


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample parent, reconciled by the real runtime through the pytest plugin's fixtures:
    it converges (Synced=True, children exist) and a further resync writes nothing."""
    harness = await operator_harness(operator)
    await harness.assert_converges(HERE / "tempnamespace.yaml")
