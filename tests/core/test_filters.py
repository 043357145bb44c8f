"""Parent filters and decorator mode in the pure core: config, matching, plans, manifests."""

from __future__ import annotations

from typing import Any

import pytest

from kubeplan.core import (
    ChildConfig,
    FilterError,
    FinalizeResponse,
    OperatorConfig,
    OperatorDefinition,
    ParentFilter,
    SyncRequest,
    SyncResponse,
)
from kubeplan.core.crd import SchemaError, crd_of, parent_crd
from kubeplan.core.k8s import core_v1, is_builtin
from kubeplan.core.manifests import manifests_for, rbac_rules
from kubeplan.core.types import K8sType
from kubeplan.core.unmatched import plan_unmatched
from kubeplan.testkit.harness import expect_plan, plan_for, request_from_dicts

Widget = K8sType("filters.kubeplan.dev/v1", "Widget", "widgets")
BASE = OperatorConfig("widget", Widget).with_child(core_v1.ConfigMap, ChildConfig.replace())


def widget(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
           **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "w", "namespace": "default", "uid": "u-1", **meta}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": Widget.api_version, "kind": "Widget", "metadata": metadata,
            "spec": {"size": 1}}


def configmap(request: SyncRequest) -> SyncResponse:
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": request.name}}
    return SyncResponse(children=[child], status={"seen": True})


class Finalizing:
    def sync(self, request: SyncRequest) -> SyncResponse:
        return configmap(request)

    def finalize(self, request: SyncRequest) -> FinalizeResponse:
        return FinalizeResponse(finalized=True)


# -- matching ------------------------------------------------------------------------------


class TestParentFilter:
    def test_the_label_selector_is_parsed_and_checked(self) -> None:
        chosen = ParentFilter(labels="app=web,tier!=db")
        assert chosen.label_selector == "app=web,tier!=db"
        assert chosen.matches(widget({"app": "web"}))
        assert chosen.matches(widget({"app": "web", "tier": "cache"}))
        assert not chosen.matches(widget({"app": "web", "tier": "db"}))
        assert not chosen.matches(widget({}))

    def test_a_bad_selector_is_refused_when_the_config_is_made(self) -> None:
        with pytest.raises(ValueError, match=r"labels: label selector 'app in \(web' is not"):
            BASE.selecting(labels="app in (web")

    @pytest.mark.parametrize(("condition", "value", "expected"), [
        ("on", "on", True), ("on", "off", False), ("on", None, False),
        ({"a", "b"}, "b", True), ({"a", "b"}, "c", False), ({"a", "b"}, None, False),
        (True, "", True), (True, None, False), (False, None, True), (False, "x", False),
    ])
    def test_annotation_conditions(self, condition: Any, value: str | None,
                                   expected: bool) -> None:
        chosen = ParentFilter(annotations={"example.com/policy": condition})
        annotations = {} if value is None else {"example.com/policy": value}
        assert chosen.matches(widget(annotations=annotations)) is expected

    @pytest.mark.parametrize(("annotations", "message"), [
        ({"example.com/policy": 3}, "a condition is a string"),
        ({"example.com/policy": set()}, "an empty set of values matches nothing"),
        ({"bad key!": "on"}, "annotation key 'bad key!'"),
    ])
    def test_bad_annotation_conditions_are_named(self, annotations: Any, message: str) -> None:
        with pytest.raises((TypeError, ValueError), match=message):
            ParentFilter(annotations=annotations)

    def test_the_predicate_decides_last_and_its_failure_names_the_parent(self) -> None:
        big = ParentFilter(labels="app=web", where=lambda p: p["spec"]["size"] > 3)
        assert not big.matches(widget({"app": "web"}))
        broken = ParentFilter(where=lambda p: p["spec"]["missing"])
        with pytest.raises(FilterError, match=r"Widget default/w: .*where\(\) raised KeyError"):
            broken.matches(widget())
        with pytest.raises(FilterError, match="must return True or False, got 1"):
            ParentFilter(where=lambda p: 1).matches(widget())

    def test_unmatched_children_is_keep_or_delete(self) -> None:
        with pytest.raises(ValueError, match="unmatched_children is 'keep'"):
            ParentFilter(unmatched_children="orphan")  # type: ignore[arg-type]


# -- the config ----------------------------------------------------------------------------


class TestDecoratorConfig:
    def test_a_built_in_parent_cannot_have_its_status_written(self) -> None:
        with pytest.raises(ValueError, match="v1/Service is a built-in type"):
            OperatorConfig("svc", core_v1.Service).decorating(status=True)
        assert OperatorConfig("svc", core_v1.Service).decorating().writes_status is False

    def test_a_custom_resource_may_opt_in(self) -> None:
        assert BASE.decorating(status=True).writes_status is True
        assert BASE.decorating().writes_status is False
        assert BASE.writes_status is True
        assert OperatorConfig("w", Widget, decorator=True).decorator is not None

    def test_built_in_types(self) -> None:
        assert is_builtin(core_v1.Namespace) and is_builtin(K8sType("apps/v1", "Foo", "foos"))
        assert not is_builtin(Widget)
        assert not is_builtin(K8sType("gateway.networking.k8s.io/v1", "Gateway", "gateways"))


# -- plans ---------------------------------------------------------------------------------


class TestUnmatchedPlans:
    def test_the_handler_is_not_called_and_nothing_is_written(self) -> None:
        def explode(request: SyncRequest) -> SyncResponse:
            raise AssertionError("the handler must not be called for an unmatched parent")

        config = BASE.selecting(labels="app=web")
        request = request_from_dicts(widget({"app": "db"}), config=config)
        expect_plan(plan_for((config, explode), request)).does_nothing()

    def test_children_are_kept_by_default_and_our_finalizer_removed(self) -> None:
        config = BASE.selecting(annotations={"example.com/on": True})
        child = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "w", "namespace": "default"}}
        parent = widget(finalizers=["other", config.finalizer])
        plan = plan_for((config, Finalizing()), request_from_dicts(parent, [child],
                                                                   config=config))
        expect_plan(plan).touches_no_child().writes_no_status().removes_finalizer()
        (action,) = plan.actions
        assert action.finalizers == ("other",)  # type: ignore[attr-defined]

    def test_children_are_deleted_when_asked_for(self) -> None:
        config = BASE.selecting(labels="app=web", unmatched_children="delete")
        owned = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "w", "namespace": "default"}}
        foreign = {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "x", "namespace": "default", "ownerReferences": []}}
        request = request_from_dicts(widget({}), [owned, foreign], config=config)
        plan = plan_unmatched(config, request)
        expect_plan(plan).deletes("ConfigMap default/w").writes_no_status()
        assert "no longer matches" in plan.actions[0].line()


class TestDecoratorPlans:
    def test_no_status_is_planned_not_even_synced_conditions(self) -> None:
        config = BASE.decorating()

        def quiet(request: SyncRequest) -> SyncResponse:
            return SyncResponse(children=configmap(request).children)

        request = request_from_dicts(widget(generation=2), config=config)
        expect_plan(plan_for((config, quiet), request)).creates("ConfigMap default/w") \
            .writes_no_status()

    def test_a_failure_is_an_error_without_a_status_write(self) -> None:
        config = BASE.decorating()

        def broken(request: SyncRequest) -> SyncResponse:
            raise RuntimeError("down")

        plan = plan_for((config, broken), request_from_dicts(widget(), config=config))
        expect_plan(plan).fails("down").writes_no_status().touches_no_child()

    def test_a_returned_status_is_refused_unless_the_decorator_writes_it(self) -> None:
        request = request_from_dicts(widget(), config=BASE.decorating())
        expect_plan(plan_for((BASE.decorating(), configmap), request)).fails(
            "whose status it does not own")
        allowed = BASE.decorating(status=True)
        expect_plan(plan_for((allowed, configmap), request)).writes_status({"seen": True})

    def test_finalize_stays_optional_and_works(self) -> None:
        config = BASE.decorating()
        request = request_from_dicts(widget(), config=config)
        expect_plan(plan_for((config, Finalizing()), request)).adds_finalizer() \
            .writes_no_status()


# -- deploying -----------------------------------------------------------------------------


class TestManifests:
    def _parent_rules(self, definition: OperatorDefinition) -> dict[str, list[str]]:
        role = next(o for o in manifests_for(definition, target="m:op")
                    if o["kind"] == "ClusterRole")
        return {resource: rule["verbs"] for rule in role["rules"]
                for resource in rule["resources"] if resource.startswith("services")}

    def test_a_service_decorator_reads_services_only(self) -> None:
        config = OperatorConfig("svc", core_v1.Service).decorating() \
            .with_child(core_v1.ConfigMap)
        assert self._parent_rules(OperatorDefinition(config, configmap)) == {
            "services": ["get", "list", "watch"], "services/finalizers": ["update"]}

    def test_with_finalize_it_may_patch_the_finalizers(self) -> None:
        config = OperatorConfig("svc", core_v1.Service).decorating() \
            .with_child(core_v1.ConfigMap)
        rules = self._parent_rules(OperatorDefinition(config, Finalizing()))
        assert rules["services"] == ["get", "list", "watch", "update", "patch"]
        assert "services/status" not in rules

    def test_no_crd_for_a_built_in_parent_nor_a_decorated_one(self) -> None:
        config = OperatorConfig("svc", core_v1.Service).decorating()
        definition = OperatorDefinition(config, configmap)
        with pytest.raises(SchemaError, match="v1/Service is a built-in type"):
            crd_of(definition)
        assert parent_crd(definition) is None
        decorated = OperatorDefinition(BASE.decorating(), configmap)
        kinds = [o["kind"] for o in manifests_for(decorated, target="m:op")]
        assert "CustomResourceDefinition" not in kinds
        assert parent_crd(decorated) is not None  # tests still install it in the fake

    def test_a_status_writing_decorator_keeps_the_status_verbs(self) -> None:
        rules = rbac_rules(BASE.decorating(status=True), leader_election=False,
                           has_finalize=False)
        resources = {r for rule in rules for r in rule["resources"]}
        assert "widgets/status" in resources
        assert "widgets/status" not in {
            r for rule in rbac_rules(BASE.decorating(), leader_election=False)
            for r in rule["resources"]}
