"""Tests of the echo-server example: pure plans first, then the whole operator.

The handler is a pure function, so most tests need no API server: ``plan_for`` runs it
and plans its answer, ``observe`` applies a plan to the request. ``check_operator`` then
property-tests the real runtime against the fake API server in virtual time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import echo_server_operator as example
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubeplan.core.crd import crd_of
from kubeplan.core.request import SyncRequest
from kubeplan.testkit.apiserver import FakeApiServer
from kubeplan.testkit.apiserver.controllers import DEFAULT_CONTROLLERS
from kubeplan.testkit.check import check_operator
from kubeplan.testkit.harness import expect_plan, observe, plan_for, request_from_dicts
from kubeplan.testkit.simulation import Simulation, as_definition, install_crd
from kubeplan.testkit.strategies import parents
from kubeplan.testkit.vtime import LoopClock, virtual_time

HERE = Path(__file__).parent
operator = example.operator
PARENT = yaml.safe_load((HERE / "echoserver.yaml").read_text())


def echo(replicas: int = 2, greeting: str = "Hi", **status: object) -> dict:
    parent = {**PARENT, "spec": {"greeting": greeting, "replicas": replicas, "port": 5678}}
    return {**parent, "status": status} if status else parent


def with_spec(request: SyncRequest, **changes: object) -> SyncRequest:
    """The same parent (uid and all) with a changed spec, and the same children."""
    parent = {**request.parent, "spec": {**request.spec, **changes}}
    return SyncRequest(parent, request.children)


def ready(request: SyncRequest, *names: str) -> SyncRequest:
    """The request after the kubelet marked these Pods Ready."""
    children = []
    for type_, obj in request.children.all():
        if obj["metadata"]["name"] in names:
            obj = {**obj, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        children.append((type_, obj))
    return SyncRequest(request.parent, request.children.from_objects(children))


def test_a_new_echo_server_gets_a_pod_per_replica_and_a_service() -> None:
    plan = plan_for(operator, request_from_dicts(echo(replicas=2), config=operator.config))
    expect_plan(plan).creates("Pod default/hello-0", "Pod default/hello-1",
                              "Service default/hello").deletes_nothing()
    expect_plan(plan).writes_status({"replicas": 2, "readyReplicas": 0})


def test_a_second_pass_does_nothing() -> None:
    request = request_from_dicts(echo(), config=operator.config)
    after = observe(request, plan_for(operator, request))
    expect_plan(plan_for(operator, after)).does_nothing()


def test_the_status_counts_the_pods_the_kubelet_reports_ready() -> None:
    request = request_from_dicts(echo(), config=operator.config)
    after = observe(request, plan_for(operator, request))
    plan = plan_for(operator, ready(after, "hello-0"))
    expect_plan(plan).touches_no_child().writes_status({"readyReplicas": 1})


def test_a_new_greeting_recreates_the_pods_and_leaves_the_service_alone() -> None:
    request = request_from_dicts(echo(greeting="Hi"), config=operator.config)
    after = observe(request, plan_for(operator, request))
    plan = plan_for(operator, with_spec(after, greeting="Hello"))
    expect_plan(plan).recreates("Pod default/hello-0", fields=["spec.containers"])
    expect_plan(plan).recreates("Pod default/hello-1").replaces_nothing().creates_nothing()


def test_fewer_replicas_delete_the_extra_pods() -> None:
    request = request_from_dicts(echo(replicas=3), config=operator.config)
    after = observe(request, plan_for(operator, request))
    plan = plan_for(operator, with_spec(after, replicas=1))
    expect_plan(plan).deletes("Pod default/hello-1", "Pod default/hello-2").creates_nothing()


def test_a_spec_out_of_bounds_is_reported_and_touches_nothing() -> None:
    plan = plan_for(operator, request_from_dicts(echo(replicas=500), config=operator.config))
    expect_plan(plan).fails("replicas").touches_no_child().has_condition("Synced", "False")


@settings(max_examples=30, deadline=None)
@given(parents(example.EchoServer, example.EchoServerSpec,
               overrides={"EchoServerSpec.replicas": st.integers(0, 5)}))
def test_any_spec_converges_in_one_plan(parent: dict) -> None:
    request = request_from_dicts(parent, config=operator.config)
    plan = plan_for(operator, request)
    spec = request.spec_as(example.EchoServerSpec)
    pods = [a for a in plan.child_actions if a.ref.type.kind == "Pod"]
    assert len(pods) == spec.replicas
    for action in pods:  # every Pod says the greeting on the port
        container = action.obj["spec"]["containers"][0]
        assert container["args"] == [f"-text={spec.greeting}", f"-listen=:{spec.port}"]
    expect_plan(plan_for(operator, observe(request, plan))).does_nothing()


def test_the_whole_operator_keeps_its_invariants() -> None:
    """The real runtime on the fake API server: scenarios of creates, edits, deletes,
    foreign objects, faults and restarts; every invariant must hold."""
    check_operator(operator, settings=settings(max_examples=15, deadline=None, database=None))


def test_crd_yaml_is_what_kubeplan_crd_prints() -> None:
    assert yaml.safe_load((HERE / "crd.yaml").read_text()) == crd_of(operator)


@pytest.mark.parametrize("replicas", [0, 20])
def test_the_crd_admits_the_bounds(replicas: int) -> None:
    schema = crd_of(operator)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    bounds = schema["properties"]["spec"]["properties"]["replicas"]
    assert bounds["minimum"] <= replicas <= bounds["maximum"]


async def test_the_sample_runs_under_the_plugin_harness(operator_harness, fake_apiserver) -> None:  # type: ignore[no-untyped-def]
    """The sample parent, reconciled by the real runtime through the pytest plugin's fixtures:
    it converges (Synced=True, children exist) and a further resync writes nothing."""
    harness = await operator_harness(operator)
    await harness.assert_converges(HERE / "echoserver.yaml")


async def _run_offline_with_a_kubelet(ready_after: float) -> list[dict]:
    """The operator on a fake that runs an emulated kubelet; the parent's status after
    creation, and again once the Pods' readiness delay has passed (virtual time)."""
    server = FakeApiServer(clock=LoopClock(), controllers=DEFAULT_CONTROLLERS | {"kubelet"})
    server.start()
    assert server.controllers.kubelet is not None
    server.controllers.kubelet.ready_delay = ready_after
    await install_crd(server, crd_of(operator))
    simulation = Simulation(server, as_definition(operator))
    await simulation.start()
    seen = []
    try:
        await simulation.client.create(operator.config.parent, PARENT)
        await simulation.settle()
        for _ in range(2):
            parent = server.get_object("example.kubeplan.dev/v1", "echoservers", "hello",
                                       "default")
            assert parent is not None
            seen.append(parent["status"])
            await asyncio.sleep(ready_after + 1)
            await simulation.settle()
    finally:
        await simulation.stop()
        await server.stop()
    return seen


@virtual_time
async def test_offline_the_status_follows_the_pods_the_emulated_kubelet_makes_ready() -> None:
    """No cluster: the fake's kubelet starts the operator's Pods and makes them Ready after
    10 s; the status the operator writes follows their readiness."""
    before, after = await _run_offline_with_a_kubelet(ready_after=10)
    assert (before["replicas"], before.get("readyReplicas", 0)) == (2, 0)
    assert (after["replicas"], after["readyReplicas"]) == (2, 2)


@pytest.mark.kubeplan_controllers("kubelet")
async def test_with_the_plugins_kubelet_the_status_counts_ready_pods(operator_harness) -> None:  # type: ignore[no-untyped-def]
    """The plugin's fake with the emulated kubelet named by the marker: the operator's Pods
    run and turn Ready, and the status it writes says so."""
    harness = await operator_harness(operator)
    await harness.apply_parent(PARENT)
    await harness.settle()
    parent = harness.parent("hello")
    assert parent is not None
    assert parent["status"]["readyReplicas"] == 2
    assert all(p["status"]["phase"] == "Running" for p in harness.children("hello")
               if p["kind"] == "Pod")
