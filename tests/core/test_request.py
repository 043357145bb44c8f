"""SyncRequest and Children: grouped, ordered, read-only views of what was observed."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
import pytest
from core_builders import CONFIG, config_map, deployment, parent, service

from kubeplan.core.convert import camel_case, unstructure
from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.request import Children, ChildrenOfType, SyncRequest
from kubeplan.core.types import K8sType


def pod(name: str, namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}


class TestChildrenOfType:
    def test_mapping_by_name_sorted(self) -> None:
        view = ChildrenOfType(core_v1.Pod, [pod("b"), pod("a"), pod("c")])
        assert list(view) == ["a", "b", "c"]
        assert view["b"]["metadata"]["name"] == "b"
        assert len(view) == 3
        assert "a" in view and "z" not in view
        assert view.get("z") is None
        assert view.get("z", default=1) == 1

    def test_same_name_in_several_namespaces(self) -> None:
        view = ChildrenOfType(core_v1.Pod, [pod("x", "b"), pod("x", "a"), pod("y", "a")])
        assert list(view) == ["a/x", "y", "b/x"]  # sorted by (namespace, name)
        assert view.get("x", namespace="b")["metadata"]["namespace"] == "b"
        assert view.get("x") is None  # ambiguous
        assert view["a/x"]["metadata"]["namespace"] == "a"
        with pytest.raises(KeyError, match="exists in namespaces a, b"):
            view["x"]

    def test_get_with_namespace(self) -> None:
        view = ChildrenOfType(core_v1.Pod, [pod("x", "a")])
        assert view.get("x", namespace="a") is not None
        assert view.get("x", namespace="b") is None
        assert view.get("x") is not None
        with pytest.raises(TypeError, match="namespace must be a string"):
            view.get("x", {})  # type: ignore[arg-type]

    def test_cluster_scoped(self) -> None:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}
        view = ChildrenOfType(core_v1.Namespace, [ns])
        assert view.get("t") is ns

    def test_duplicates_and_nameless_objects_are_refused(self) -> None:
        with pytest.raises(ValueError, match="listed twice"):
            ChildrenOfType(core_v1.Pod, [pod("a"), pod("a")])
        with pytest.raises(ValueError, match=r"no metadata\.name"):
            ChildrenOfType(core_v1.Pod, [{"metadata": {}}])


class TestChildren:
    def test_of_and_all_are_deterministic(self) -> None:
        one = Children.from_objects([(core_v1.Service, service("b")), (core_v1.Pod, pod("z")),
                                     (core_v1.Service, service("a"))])
        two = Children.build({core_v1.Pod: [pod("z")],
                              core_v1.Service: [service("a"), service("b")]})
        assert one == two
        assert [obj["metadata"]["name"] for _, obj in one.all()] == [
            name for _, name in sorted(
                (t, o["metadata"]["name"]) for t, o in two.all()
            )
        ]
        assert len(one) == 3
        assert list(one.of(core_v1.Service)) == ["a", "b"]
        assert len(one.of(apps_v1.Deployment)) == 0
        assert one.types == tuple(sorted((core_v1.Pod, core_v1.Service)))

    def test_empty(self) -> None:
        assert not Children.empty()
        assert len(Children.empty()) == 0
        assert list(Children.empty().all()) == []


class TestSyncRequest:
    def test_accessors(self) -> None:
        request = SyncRequest(parent(status={"phase": "Ready"}))
        assert request.name == "demo"
        assert request.namespace == "default"
        assert request.uid == "uid-parent"
        assert request.generation == 2
        assert request.spec == {"replicas": 2, "image": "nginx:1.25"}
        assert request.status == {"phase": "Ready"}
        assert request.describe() == "EchoServer default/demo"
        assert not request.finalizing

    def test_build_groups_by_declared_type(self) -> None:
        request = SyncRequest.build(
            parent(), [deployment(namespace="default"), service(namespace="default"),
                       config_map(namespace="default")], config=CONFIG,
        )
        assert list(request.children.of(apps_v1.Deployment)) == ["web"]
        assert request.children.of(core_v1.Service).get("web") is not None
        assert len(request.children) == 3

    def test_build_uses_the_catalogue_without_config(self) -> None:
        request = SyncRequest.build(parent(), [pod("p")])
        assert list(request.children.of(core_v1.Pod)) == ["p"]

    def test_build_refuses_unknown_types(self) -> None:
        with pytest.raises(ValueError, match="cannot tell the type"):
            SyncRequest.build(parent(), [{"apiVersion": "x/v1", "kind": "Y",
                                          "metadata": {"name": "n"}}])

    def test_build_derives_finalizing(self) -> None:
        assert SyncRequest.build(parent(deleting=True)).finalizing
        assert not SyncRequest.build(parent(deleting=True), finalizing=False).finalizing

    def test_custom_types_from_config(self) -> None:
        Widget = K8sType("example.com/v1", "Widget", "widgets")
        config = CONFIG.with_child(Widget)
        widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        request = SyncRequest.build(parent(), [widget], config=config)
        assert request.children.of(Widget)["w"] is widget


@attrs.define
class Port:
    name: str
    container_port: int


@attrs.define
class EchoSpec:
    replicas: int
    image: str
    ports: list[Port] = attrs.Factory(list)
    log_level: str | None = None


@attrs.define
class EchoStatus:
    observed_generation: int | None = None
    ready_replicas: int = 0


@attrs.define
class Meta:
    name: str
    namespace: str | None = None


@attrs.define
class Whole:
    api_version: str
    kind: str
    metadata: Meta


class TestStructuring:
    def test_spec_as_maps_camel_case_to_snake_case(self) -> None:
        spec = {"replicas": 3, "image": "x", "logLevel": "debug", "unknownField": 1,
                "ports": [{"name": "http", "containerPort": 80}]}
        request = SyncRequest(parent(spec=spec))
        assert request.spec_as(EchoSpec) == EchoSpec(3, "x", [Port("http", 80)], "debug")

    def test_status_and_parent_as(self) -> None:
        request = SyncRequest(parent(status={"observedGeneration": 2, "readyReplicas": 1}))
        assert request.status_as(EchoStatus) == EchoStatus(2, 1)
        whole = request.parent_as(Whole)
        assert whole.api_version == "example.com/v1"
        assert whole.metadata == Meta("demo", "default")

    def test_missing_required_field_raises_cattrs_error(self) -> None:
        with pytest.raises(cattrs.errors.ClassValidationError):
            SyncRequest(parent(spec={"image": "x"})).spec_as(EchoSpec)

    def test_unstructure_omits_none_and_uses_camel_case(self) -> None:
        assert unstructure(EchoSpec(1, "x", [Port("p", 8)])) == {
            "replicas": 1, "image": "x", "ports": [{"name": "p", "containerPort": 8}],
        }

    def test_camel_case(self) -> None:
        assert camel_case("observed_generation") == "observedGeneration"
        assert camel_case("continue_") == "continue"
        assert camel_case("name") == "name"
