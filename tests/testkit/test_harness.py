"""The pure-function harness: requests from YAML, plans from handlers, fluent assertions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kubeplan.core.config import ChildConfig, OperatorConfig
from kubeplan.core.definition import OperatorDefinition
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.plan import Plan
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.types import K8sType
from kubeplan.testkit.harness import (
    aplan_for,
    expect_plan,
    observe,
    plan_for,
    request_from_dicts,
    request_from_yaml,
    stable_uid,
)
from kubeplan.testkit.vtime import virtual_time

Web = K8sType("example.com/v1", "Web", "webs")
CONFIG = (
    OperatorConfig("web-operator", Web)
    .with_child(apps_v1.Deployment, ChildConfig.replace())
    .with_child(core_v1.Service, ChildConfig.replace())
    .with_child(core_v1.ConfigMap, ChildConfig.recreate())
)

PARENT_YAML = """\
apiVersion: example.com/v1
kind: Web
metadata: {name: web, namespace: default, generation: 1}
spec: {replicas: 2, port: 8080}
"""


def sync(request: SyncRequest) -> SyncResponse:
    spec = request.spec
    labels = {"app": request.name}
    return SyncResponse(
        children=[
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": request.name, "namespace": request.namespace},
                "spec": {
                    "replicas": spec["replicas"],
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": request.name, "namespace": request.namespace},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": spec["port"]}]},
            },
        ],
        status={"replicas": spec["replicas"]},
    )


OPERATOR = (CONFIG, sync)


def first_pass() -> tuple[SyncRequest, Plan]:
    request = request_from_yaml(PARENT_YAML, CONFIG)
    return request, plan_for(OPERATOR, request)


class TestRequests:
    def test_parent_only(self) -> None:
        request = request_from_yaml(PARENT_YAML, CONFIG)
        assert request.name == "web" and request.spec == {"replicas": 2, "port": 8080}
        assert len(request.children) == 0
        assert request.uid == stable_uid("example.com/v1", "Web", "default", "web")

    def test_multi_document_yaml_gives_children(self) -> None:
        text = (
            PARENT_YAML
            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
        )
        request = request_from_yaml(text, CONFIG)
        service = request.children.of(core_v1.Service).get("web")
        assert service is not None
        owner = service["metadata"]["ownerReferences"][0]
        assert owner["uid"] == request.uid and owner["controller"] is True

    def test_mapping_form_and_lists(self, tmp_path: Path) -> None:
        path = tmp_path / "request.yaml"
        path.write_text(
            "parent:\n"
            "  apiVersion: example.com/v1\n  kind: Web\n"
            "  metadata: {name: web, namespace: default}\n"
            "children:\n"
            "- kind: List\n  apiVersion: v1\n  items:\n"
            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: default}}\n"
            "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: default}}\n"
        )
        request = request_from_yaml(path, CONFIG)
        assert sorted(request.children.of(core_v1.ConfigMap)) == ["a", "b"]
        assert request_from_yaml(str(path), CONFIG) == request

    def test_foreign_children_stay_foreign(self) -> None:
        parent = {"apiVersion": "example.com/v1", "kind": "Web", "metadata": {"name": "web"}}
        child = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "ownerReferences": []},
        }
        request = request_from_dicts(parent, [child], CONFIG)
        assert request.children.of(core_v1.ConfigMap).get("x")["metadata"]["ownerReferences"] == []

    def test_bad_input(self) -> None:
        with pytest.raises(ValueError, match="no YAML documents"):
            request_from_yaml("---\n")
        with pytest.raises(ValueError, match="not valid YAML"):
            request_from_yaml("a: [")
        with pytest.raises(ValueError, match="unknown keys"):
            request_from_yaml("parent: {}\nkids: []\n")
        with pytest.raises(ValueError, match="cannot tell the type"):
            request_from_yaml(PARENT_YAML + "---\napiVersion: x/v1\nkind: Y\nmetadata: {name: y}\n")


class TestPlanFor:
    def test_first_pass_creates_everything(self) -> None:
        _, plan = first_pass()
        (
            expect_plan(plan)
            .succeeds()
            .creates("apps/v1/Deployment default/web", "Service web")
            .replaces_nothing()
            .deletes_nothing()
            .writes_status({"replicas": 2, "observedGeneration": 1})
            .has_condition("Synced", "True")
        )

    def test_second_pass_does_nothing(self) -> None:
        request, plan = first_pass()
        expect_plan(plan_for(OPERATOR, observe(request, plan))).does_nothing()

    def test_changed_spec_replaces_with_fields(self) -> None:
        request, plan = first_pass()
        after = observe(request, plan)
        changed = SyncRequest(
            {**after.parent, "spec": {"replicas": 3, "port": 8080}}, after.children
        )
        (
            expect_plan(plan_for(OPERATOR, changed))
            .replaces("apps/v1/Deployment web", fields=["spec.replicas"])
            .creates_nothing()
            .deletes_nothing()
        )

    def test_undesired_owned_child_is_deleted(self) -> None:
        text = (
            PARENT_YAML
            + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old, namespace: default}\n"
        )
        plan = plan_for(OPERATOR, request_from_yaml(text, CONFIG))
        expect_plan(plan).deletes("v1/ConfigMap default/old")

    def test_failing_handler_touches_no_child(self) -> None:
        def broken(request: SyncRequest) -> SyncResponse:
            raise KeyError("replicas")

        plan = plan_for((CONFIG, broken), request_from_yaml(PARENT_YAML, CONFIG))
        expect_plan(plan).fails("replicas").touches_no_child().has_condition("Synced", "False")

    def test_async_handler(self) -> None:
        async def async_sync(request: SyncRequest) -> SyncResponse:
            await asyncio.sleep(60)  # virtual: instant
            return sync(request)

        plan = plan_for((CONFIG, async_sync), request_from_yaml(PARENT_YAML, CONFIG))
        expect_plan(plan).creates("Deployment web", "Service web")

    @virtual_time
    async def test_aplan_for_inside_a_loop(self) -> None:
        async def async_sync(request: SyncRequest) -> SyncResponse:
            return sync(request)

        request = request_from_yaml(PARENT_YAML, CONFIG)
        with pytest.raises(RuntimeError, match="aplan_for"):
            plan_for((CONFIG, async_sync), request)
        expect_plan(await aplan_for((CONFIG, async_sync), request)).creates(
            "Deployment web", "Service web"
        )

    def test_definition_and_finalize(self) -> None:
        class Handler:
            def sync(self, request: SyncRequest) -> SyncResponse:
                return sync(request)

            def finalize(self, request: SyncRequest) -> FinalizeResponse:
                return FinalizeResponse(finalized=True)

        definition = OperatorDefinition(CONFIG, Handler())
        request = request_from_yaml(PARENT_YAML, CONFIG)
        expect_plan(plan_for(definition, request)).adds_finalizer()
        deleting = request_from_dicts(
            {
                **request.parent,
                "metadata": {
                    **request.parent["metadata"],
                    "deletionTimestamp": "2026-01-01T00:00:00Z",
                    "finalizers": [CONFIG.finalizer],
                },
            },
            config=CONFIG,
        )
        expect_plan(plan_for(definition, deleting)).removes_finalizer()

    def test_plans_are_deterministic(self) -> None:
        assert first_pass()[1] == first_pass()[1]

    def test_bad_operator(self) -> None:
        with pytest.raises(TypeError, match="OperatorDefinition"):
            plan_for(sync, request_from_yaml(PARENT_YAML, CONFIG))  # type: ignore[arg-type]


class TestExpectations:
    def test_mismatch_shows_the_whole_plan(self) -> None:
        _, plan = first_pass()
        with pytest.raises(AssertionError) as info:
            expect_plan(plan).creates("Deployment web")
        message = str(info.value)
        assert "only ['Deployment web'], also: v1/Service default/web" in message
        assert "the plan was:" in message and str(plan).splitlines()[0] in message

    @pytest.mark.parametrize(
        ("check", "message"),
        [
            (lambda e: e.creates("ConfigMap web"), "expected the plan to create ConfigMap web"),
            (lambda e: e.creates_nothing(), "create nothing, it would create"),
            (lambda e: e.replaces("Deployment web"), "expected the plan to replace Deployment web"),
            (lambda e: e.deletes("Deployment web"), "expected the plan to delete"),
            (lambda e: e.does_nothing(), "expected an empty plan"),
            (lambda e: e.writes_no_status(), "not to write the parent's status"),
            (lambda e: e.writes_status({"replicas": 9}), "expected the status to contain"),
            (lambda e: e.fails(), "record a handler error"),
            (lambda e: e.has_problem("x"), "expected a problem"),
            (lambda e: e.touches_no_child(), "no action on any child"),
            (lambda e: e.resyncs_after(5), "resync after 5s"),
            (lambda e: e.has_condition("Ready", "True"), "Ready=True"),
        ],
    )
    def test_each_assertion_fails_readably(self, check: Any, message: str) -> None:
        _, plan = first_pass()
        with pytest.raises(AssertionError, match="the plan was") as info:
            check(expect_plan(plan))
        assert message in str(info.value)

    def test_replace_fields_mismatch(self) -> None:
        request, plan = first_pass()
        after = observe(request, plan)
        changed = SyncRequest(
            {**after.parent, "spec": {"replicas": 3, "port": 8080}}, after.children
        )
        with pytest.raises(AssertionError, match=r"because of \['spec.template'\]"):
            expect_plan(plan_for(OPERATOR, changed)).replaces(
                "Deployment web", fields=["spec.template"]
            )

    def test_bad_reference(self) -> None:
        _, plan = first_pass()
        with pytest.raises(ValueError, match="TYPE NAME"):
            expect_plan(plan).creates("web")

    def test_conflict_with_a_foreign_object(self) -> None:
        text = (
            PARENT_YAML
            + "---\napiVersion: v1\nkind: Service\n"
            + "metadata: {name: web, namespace: default, ownerReferences: []}\n"
        )
        plan = plan_for(OPERATOR, request_from_yaml(text, CONFIG))
        (
            expect_plan(plan)
            .creates("Deployment web")
            .has_problem("already exists and is not owned")
            .has_condition("Synced", "False")
        )


# -- inspecting a plan and converging over several passes (issue 17) ----------------------


def test_a_plan_hands_out_one_childs_desired_object() -> None:
    _, plan = first_pass()
    deployment = plan.desired("Deployment web")
    assert deployment["spec"]["replicas"] == 2
    assert plan.desired("apps/v1/Deployment default/web") is deployment
    assert [o["kind"] for o in plan.desired_objects()] == ["Deployment", "Service"]
    assert plan.desired_objects("v1/Service") == [plan.desired("Service web")]
    with pytest.raises(LookupError, match="the plan writes no child ConfigMap web"):
        plan.desired("ConfigMap web")


def test_a_plans_actions_are_easy_to_inspect() -> None:
    _, plan = first_pass()
    action = plan.action("Service default/web")
    assert action.ref.kind == "Service" and action.ref.api_version == "v1"
    assert plan.find("Service other") is None
    with pytest.raises(LookupError, match="no action on Service other"):
        plan.action("Service other")
    status = plan.status_update
    assert status is not None
    assert status.obj == {"status": status.status} and plan.desired_status == status.status
    assert plan.desired_status is not None and plan.desired_status["replicas"] == 2
    objects = [a.obj for a in plan.actions]  # every writing action has an obj
    assert objects[-1]["status"]["replicas"] == 2


def phase_sync(request: SyncRequest) -> SyncResponse:
    """A phase that depends on the observed children: Ready once the Deployment exists."""
    response = sync(request)
    ready = bool(request.children.of(apps_v1.Deployment))
    status = {**(response.status or {}), "phase": "Ready" if ready else "Pending"}
    return SyncResponse(children=response.children, status=status)


def test_a_status_that_depends_on_the_children_converges_in_two_passes() -> None:
    from kubeplan.testkit import converge

    request = request_from_yaml(PARENT_YAML, CONFIG)
    first = plan_for((CONFIG, phase_sync), request)
    with pytest.raises(AssertionError, match="expected an empty plan"):
        expect_plan(plan_for((CONFIG, phase_sync), observe(request, first))).does_nothing()
    settled = converge((CONFIG, phase_sync), request)
    assert settled.passes == 2
    assert settled.final_plan.desired_status is not None
    assert settled.final_plan.desired_status["phase"] == "Ready"
    expect_plan(plan_for((CONFIG, phase_sync), settled.request)).does_nothing()
    assert converge(OPERATOR, request).passes == 1


def test_converge_fails_for_an_operator_that_never_settles() -> None:
    from kubeplan.testkit import converge

    def counting(request: SyncRequest) -> SyncResponse:
        count = int((request.parent.get("status") or {}).get("count") or 0)
        return SyncResponse(children=sync(request).children, status={"count": count + 1})

    request = request_from_yaml(PARENT_YAML, CONFIG)
    with pytest.raises(AssertionError, match="still writes after 3 passes") as caught:
        converge((CONFIG, counting), request, max_passes=3)
    assert "pass 3:" in str(caught.value)
