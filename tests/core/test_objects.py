"""Pure accessors on raw objects, and ObjectRef."""

from __future__ import annotations

from core_builders import deployment, owned

from kubeplan.core.k8s import apps_v1, core_v1
from kubeplan.core.objects import (
    ObjectKey,
    ObjectRef,
    controller_ref_of,
    describe_object,
    finalizers_of,
    generation_of,
    is_owned_by,
    is_terminating,
    key_of,
    name_of,
    namespace_of,
    ref_of,
    resource_version_of,
    uid_of,
)


class TestAccessors:
    def test_read_metadata(self) -> None:
        obj = {"metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                            "generation": 3, "finalizers": ["f"]}}
        assert name_of(obj) == "a"
        assert namespace_of(obj) == "ns"
        assert uid_of(obj) == "u"
        assert resource_version_of(obj) == "7"
        assert generation_of(obj) == 3
        assert finalizers_of(obj) == ("f",)

    def test_tolerate_missing_or_null_metadata(self) -> None:
        for obj in ({}, {"metadata": None}, {"metadata": "nonsense"}):
            assert name_of(obj) is None
            assert namespace_of(obj) is None
            assert not is_terminating(obj)
            assert controller_ref_of(obj) is None
            assert finalizers_of(obj) == ()

    def test_empty_namespace_is_none(self) -> None:
        assert namespace_of({"metadata": {"namespace": ""}}) is None

    def test_terminating(self) -> None:
        assert is_terminating({"metadata": {"deletionTimestamp": "2024-05-01T10:00:00Z"}})
        assert not is_terminating({"metadata": {"deletionTimestamp": None}})


class TestOwnership:
    def test_owned_by_the_controller_reference_uid(self) -> None:
        obj = owned(deployment(), uid="c-1", parent_uid="p-1")
        assert is_owned_by(obj, "p-1")
        assert not is_owned_by(obj, "p-2")
        assert not is_owned_by(obj, None)

    def test_a_non_controller_reference_is_not_ownership(self) -> None:
        obj = owned(deployment(), uid="c-1", parent_uid="p-1")
        obj["metadata"]["ownerReferences"][0]["controller"] = False
        assert controller_ref_of(obj) is None
        assert not is_owned_by(obj, "p-1")

    def test_labels_are_not_ownership(self) -> None:
        obj = deployment(labels={"kubeplan.dev/parent-uid": "p-1"})
        assert not is_owned_by(obj, "p-1")


class TestRefs:
    def test_str_is_readable(self) -> None:
        assert str(ObjectRef(apps_v1.Deployment, "web", "default")) == (
            "apps/v1/Deployment default/web"
        )
        assert str(ObjectRef(core_v1.Namespace, "team-a")) == "v1/Namespace team-a"
        assert repr(ObjectRef(core_v1.Namespace, "t", uid="u")) == (
            "ObjectRef('v1/Namespace t', uid='u')"
        )

    def test_ref_and_key_of_an_object(self) -> None:
        obj = owned(deployment(), uid="c-1")
        assert ref_of(apps_v1.Deployment, obj) == ObjectRef(
            apps_v1.Deployment, "web", "default", "c-1"
        )
        assert key_of(apps_v1.Deployment, obj) == ObjectKey(apps_v1.Deployment, "default", "web")
        # cluster-scoped types ignore a stray namespace
        ns = {"metadata": {"name": "t", "namespace": "x"}}
        assert ref_of(core_v1.Namespace, ns).namespace is None

    def test_to_dict(self) -> None:
        ref = ObjectRef(apps_v1.Deployment, "web", "default", "u")
        assert ref.to_dict() == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "namespace": "default", "uid": "u"}
        assert ref.without_uid().uid is None
        assert ref.key == ObjectKey(apps_v1.Deployment, "default", "web")

    def test_describe_object(self) -> None:
        assert describe_object("EchoServer", {"metadata": {"name": "d", "namespace": "n"}}) == (
            "EchoServer n/d"
        )
        assert describe_object("Tenant", {"metadata": {"name": "t"}}) == "Tenant t"
