"""OperatorConfig and ChildConfig: a frozen declaration with clear errors."""

from __future__ import annotations

import attrs
import pytest
from core_builders import Echo, Tenant

from kubeplan.core.config import (
    ANNOTATION_DESIRED_HASH,
    LABEL_OPERATOR,
    LABEL_PARENT_UID,
    ChildConfig,
    OperatorConfig,
    UpdateStrategy,
)
from kubeplan.core.k8s import apps_v1, core_v1


class TestChildConfig:
    def test_constructors_name_the_strategy(self) -> None:
        assert ChildConfig.replace().strategy is UpdateStrategy.REPLACE
        assert ChildConfig.recreate().strategy is UpdateStrategy.RECREATE
        assert ChildConfig.on_delete().strategy is UpdateStrategy.ON_DELETE
        assert ChildConfig() == ChildConfig.replace()

    def test_is_frozen(self) -> None:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            ChildConfig.replace().strategy = UpdateStrategy.RECREATE  # type: ignore[misc]


class TestOperatorConfig:
    def test_with_child_returns_a_new_config(self) -> None:
        base = OperatorConfig("echo", Echo)
        extended = base.with_child(apps_v1.Deployment, ChildConfig.recreate())
        assert base.child_types == ()
        assert extended.child_types == (apps_v1.Deployment,)
        assert extended.children[apps_v1.Deployment] == ChildConfig.recreate()

    def test_with_child_defaults_to_replace_and_keeps_declaration_order(self) -> None:
        config = OperatorConfig("echo", Echo).with_child(core_v1.Service).with_child(
            apps_v1.Deployment
        )
        assert config.child_types == (core_v1.Service, apps_v1.Deployment)
        assert config.children[core_v1.Service].strategy is UpdateStrategy.REPLACE

    def test_declaring_a_type_again_replaces_its_config(self) -> None:
        config = OperatorConfig("echo", Echo).with_child(core_v1.Pod).with_child(
            core_v1.Pod, ChildConfig.on_delete()
        )
        assert config.child_types == (core_v1.Pod,)
        assert config.child_config(core_v1.Pod) == ChildConfig.on_delete()

    def test_children_cannot_be_mutated(self) -> None:
        config = OperatorConfig("echo", Echo).with_child(core_v1.Pod)
        with pytest.raises(TypeError):
            config.children[core_v1.Service] = ChildConfig()  # type: ignore[index]

    def test_equality_and_lookup(self) -> None:
        one = OperatorConfig("echo", Echo).with_child(core_v1.Pod)
        two = OperatorConfig("echo", Echo, {core_v1.Pod: ChildConfig.replace()})
        assert one == two
        assert hash(one) == hash(two)
        assert one.child_type_of("v1", "Pod") is core_v1.Pod
        assert one.child_type_of("v1", "Service") is None
        assert one.child_of("v1", "Pod") == (core_v1.Pod, ChildConfig.replace())

    def test_derived_names(self) -> None:
        config = OperatorConfig("echo", Echo)
        assert config.field_manager == "kubeplan-echo"
        assert config.finalizer == "kubeplan.dev/echo"
        assert config.child_label_selector == "kubeplan.dev/operator=echo"
        assert config.child_labels("u-1") == {LABEL_OPERATOR: "echo", LABEL_PARENT_UID: "u-1"}
        assert config.child_labels({"metadata": {"uid": "u-2"}})[LABEL_PARENT_UID] == "u-2"
        assert ANNOTATION_DESIRED_HASH == "kubeplan.dev/desired-hash"

    @pytest.mark.parametrize("name", ["", "Echo", "echo_server", "-echo", "echo-", "a" * 64,
                                      "echo.server"])
    def test_name_must_be_a_dns_label(self, name: str) -> None:
        with pytest.raises(ValueError, match="DNS-1123 label"):
            OperatorConfig(name, Echo)

    @pytest.mark.parametrize("name", ["echo", "a", "echo-server-2", "a" * 63])
    def test_valid_names(self, name: str) -> None:
        assert OperatorConfig(name, Echo).name == name

    def test_parent_must_be_a_type(self) -> None:
        with pytest.raises(TypeError):
            OperatorConfig("echo", "EchoServer")  # type: ignore[arg-type]

    def test_child_config_must_be_a_child_config(self) -> None:
        with pytest.raises(TypeError, match="must be a ChildConfig"):
            OperatorConfig("echo", Echo).with_child(core_v1.Pod, "replace")  # type: ignore[arg-type]

    def test_a_namespaced_parent_cannot_own_cluster_scoped_children(self) -> None:
        with pytest.raises(ValueError, match="cluster-scoped and cannot be a child"):
            OperatorConfig("echo", Echo).with_child(core_v1.Namespace)
        assert OperatorConfig("t", Tenant).with_child(core_v1.Namespace).child_types

    def test_namespace_restriction(self) -> None:
        config = OperatorConfig("echo", Echo)
        assert config.namespaces is None
        assert config.allows_namespace("anything")
        restricted = config.within_namespaces("a", "b")
        assert restricted.namespaces == frozenset({"a", "b"})
        assert restricted.allows_namespace("a") and not restricted.allows_namespace("c")
        assert OperatorConfig("echo", Echo, namespaces=["x"]).namespaces == frozenset({"x"})

    def test_namespace_restriction_refuses_a_bare_string(self) -> None:
        with pytest.raises(TypeError, match="not the string"):
            OperatorConfig("echo", Echo, namespaces="default")  # type: ignore[arg-type]
