"""Validation of handler responses: every rule, each error naming parent, child and field."""

from __future__ import annotations

import datetime
import enum
import pickle
import uuid
from typing import Any

import attrs
import pytest
from core_builders import CLUSTER_CONFIG, CONFIG, Tenant, config_map, deployment, parent, service

from kubeplan.core.errors import (
    ChildSetsStatus,
    DuplicateChild,
    InvalidField,
    InvalidResponse,
    InvalidStatus,
    MissingField,
    NamespaceNotAllowed,
    NotAnObject,
    NotSerializable,
    ServerFieldSet,
    UndeclaredChildType,
    WrongResponseType,
)
from kubeplan.core.request import SyncRequest
from kubeplan.core.response import FinalizeResponse, SyncResponse
from kubeplan.core.validate import check_response, normalise_status, validate_response

REQUEST = SyncRequest(parent())
CLUSTER_REQUEST = SyncRequest(parent("acme", None, kind=Tenant))


def invalid(children: list[Any], *, request: SyncRequest = REQUEST, config: Any = CONFIG,
            **kwargs: Any) -> InvalidResponse:
    with pytest.raises(InvalidResponse) as caught:
        check_response(config, request, SyncResponse(children, **kwargs))
    return caught.value


class TestValidChildren:
    def test_namespace_defaults_to_the_parent_namespace(self) -> None:
        [child] = validate_response(CONFIG, REQUEST, SyncResponse([deployment()]))
        assert child["metadata"]["namespace"] == "default"

    def test_the_same_namespace_may_be_named(self) -> None:
        [child] = validate_response(CONFIG, REQUEST, SyncResponse([service(namespace="default")]))
        assert child["metadata"]["namespace"] == "default"

    def test_results_are_plain_json_copies(self) -> None:
        original = deployment()
        original["spec"]["template"]["spec"]["containers"][0]["args"] = ("--a", "--b")
        [child] = validate_response(CONFIG, REQUEST, SyncResponse([original]))
        assert child["spec"]["template"]["spec"]["containers"][0]["args"] == ["--a", "--b"]
        child["spec"]["replicas"] = 99
        assert original["spec"]["replicas"] == 2

    def test_order_and_hash_are_kept(self) -> None:
        checked = check_response(CONFIG, REQUEST, SyncResponse([service(), deployment()]))
        assert [c.type.kind for c in checked.children] == ["Service", "Deployment"]
        again = check_response(CONFIG, REQUEST, SyncResponse([service(), deployment()]))
        assert [c.hash for c in checked.children] == [c.hash for c in again.children]

    def test_attrs_children_are_unstructured(self) -> None:
        @attrs.define
        class Meta:
            name: str
            labels: dict[str, str] | None = None

        @attrs.define
        class ConfigMapChild:
            api_version: str
            kind: str
            metadata: Meta
            data: dict[str, str]

        [child] = validate_response(CONFIG, REQUEST, SyncResponse([
            ConfigMapChild("v1", "ConfigMap", Meta("settings"), {"a": "b"})
        ]))
        assert child == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                         "metadata": {"name": "settings", "namespace": "default"}}

    def test_enums_and_uuids_are_json(self) -> None:
        class Level(enum.Enum):
            DEBUG = "debug"

        child = config_map(data={"level": Level.DEBUG, "id": uuid.UUID(int=1)})  # type: ignore[dict-item]
        [plain] = validate_response(CONFIG, REQUEST, SyncResponse([child]))
        assert plain["data"] == {"level": "debug", "id": "00000000-0000-0000-0000-000000000001"}

    def test_a_null_status_is_no_status(self) -> None:
        child = service()
        child["status"] = None
        [plain] = validate_response(CONFIG, REQUEST, SyncResponse([child]))
        assert "status" not in plain

    def test_cluster_parent_children(self) -> None:
        children = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
                    config_map(namespace="team-a")]
        plain = validate_response(CLUSTER_CONFIG, CLUSTER_REQUEST, SyncResponse(children))
        assert "namespace" not in plain[0]["metadata"]
        assert plain[1]["metadata"]["namespace"] == "team-a"


class TestMissingFields:
    @pytest.mark.parametrize("field", ["apiVersion", "kind"])
    def test_type_fields(self, field: str) -> None:
        child = deployment()
        del child[field]
        error = invalid([child])
        assert isinstance(error, MissingField)
        assert error.field == field
        assert error.parent == "EchoServer default/demo"
        assert str(error).startswith('EchoServer default/demo: child ')
        assert f"{field} is missing" in str(error)

    def test_name(self) -> None:
        child = deployment()
        del child["metadata"]["name"]
        error = invalid([service(), child])
        assert isinstance(error, MissingField)
        assert error.field == "metadata.name"
        assert error.child == "#1 (apps/v1/Deployment)"
        assert str(error) == (
            "EchoServer default/demo: child #1 (apps/v1/Deployment): metadata.name is missing"
        )

    def test_generate_name_is_explained(self) -> None:
        child = deployment()
        child["metadata"] = {"generateName": "web-"}
        assert "generateName is not supported" in str(invalid([child]))

    def test_metadata(self) -> None:
        child = deployment()
        del child["metadata"]
        error = invalid([child])
        assert isinstance(error, MissingField) and error.field == "metadata"

    def test_not_an_object(self) -> None:
        error = invalid(["web"])
        assert isinstance(error, NotAnObject)
        assert "child #0 is a str" in str(error)

    def test_children_must_be_a_list(self) -> None:
        with pytest.raises(InvalidField, match="children must be a list"):
            check_response(CONFIG, REQUEST, SyncResponse(deployment()))  # type: ignore[arg-type]


class TestTypes:
    def test_undeclared_child_type(self) -> None:
        child = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}}
        error = invalid([child])
        assert isinstance(error, UndeclaredChildType)
        assert error.child == 'apps/v1/StatefulSet "db"'
        assert error.field == "kind"
        assert "declared: apps/v1/Deployment, v1/Service, v1/ConfigMap" in str(error)

    def test_duplicate_child(self) -> None:
        error = invalid([deployment(), service(), deployment(replicas=3)])
        assert isinstance(error, DuplicateChild)
        assert error.child == 'apps/v1/Deployment "web"'
        assert "children #0 and #2" in str(error)

    def test_same_name_different_types_is_fine(self) -> None:
        assert len(validate_response(CONFIG, REQUEST, SyncResponse([deployment(), service()])))


class TestNamespaces:
    def test_namespaced_parent_other_namespace(self) -> None:
        error = invalid([deployment(namespace="other")])
        assert isinstance(error, NamespaceNotAllowed)
        assert error.field == "metadata.namespace"
        assert str(error) == (
            'EchoServer default/demo: child apps/v1/Deployment "web": metadata.namespace '
            '"other" is not allowed: children of a namespaced parent live in its namespace '
            '"default"'
        )

    def test_cluster_parent_namespaced_child_must_name_one(self) -> None:
        error = invalid([config_map()], request=CLUSTER_REQUEST, config=CLUSTER_CONFIG)
        assert isinstance(error, MissingField)
        assert error.field == "metadata.namespace"
        assert error.parent == "Tenant acme"
        assert "must name their namespace" in str(error)

    def test_cluster_scoped_child_names_none(self) -> None:
        child = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "t", "namespace": "x"}}
        error = invalid([child], request=CLUSTER_REQUEST, config=CLUSTER_CONFIG)
        assert isinstance(error, NamespaceNotAllowed)
        assert "is cluster-scoped" in str(error)

    def test_restricted_operator(self) -> None:
        config = CLUSTER_CONFIG.within_namespaces("team-a")
        assert validate_response(config, CLUSTER_REQUEST,
                                 SyncResponse([config_map(namespace="team-a")]))
        error = invalid([config_map(namespace="team-b")], request=CLUSTER_REQUEST, config=config)
        assert isinstance(error, NamespaceNotAllowed)
        assert "restricted to team-a" in str(error)

    def test_namespace_must_be_a_string(self) -> None:
        child = deployment()
        child["metadata"]["namespace"] = 3
        assert isinstance(invalid([child]), InvalidField)


class TestForbiddenContent:
    def test_child_sets_status(self) -> None:
        child = deployment()
        child["status"] = {"readyReplicas": 1}
        error = invalid([child])
        assert isinstance(error, ChildSetsStatus)
        assert error.field == "status"
        assert "belongs to its own controller" in str(error)

    @pytest.mark.parametrize("field", ["uid", "resourceVersion", "managedFields",
                                       "creationTimestamp"])
    def test_server_fields(self, field: str) -> None:
        child = deployment()
        child["metadata"][field] = "x"
        error = invalid([child])
        assert isinstance(error, ServerFieldSet)
        assert error.field == f"metadata.{field}"
        assert "copied" in str(error)

    def test_null_creation_timestamp_is_tolerated(self) -> None:
        child = deployment()
        child["metadata"]["creationTimestamp"] = None  # as generated YAML often has
        assert validate_response(CONFIG, REQUEST, SyncResponse([child]))

    @pytest.mark.parametrize("labels", [{"a": 1}, ["a"], {1: "a"}])
    def test_labels_map_strings(self, labels: Any) -> None:
        child = deployment(labels=labels)
        error = invalid([child])
        assert isinstance(error, InvalidField) and error.field == "metadata.labels"

    def test_foreign_controller_reference(self) -> None:
        child = deployment(ownerReferences=[{"apiVersion": "v1", "kind": "Other", "name": "o",
                                             "uid": "x", "controller": True}])
        error = invalid([child])
        assert isinstance(error, InvalidField)
        assert error.field == "metadata.ownerReferences[0]"

    def test_other_owner_references_are_fine(self) -> None:
        child = deployment(ownerReferences=[{"apiVersion": "v1", "kind": "Other", "name": "o",
                                             "uid": "x"}])
        assert validate_response(CONFIG, REQUEST, SyncResponse([child]))


class TestSerialisable:
    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            ({"a", "b"}, "is a set"),
            (datetime.datetime(2024, 1, 1), "is a datetime"),
            (b"bytes", "is a bytes"),
            (float("nan"), "nan is not a JSON number"),
            (float("inf"), "inf is not a JSON number"),
            (2**70, "does not fit in 64 bits"),
            (object(), "is a object"),
        ],
    )
    def test_values(self, value: Any, problem: str) -> None:
        child = deployment()
        child["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": value}]
        error = invalid([child])
        assert isinstance(error, NotSerializable)
        assert error.field == "spec.template.spec.containers[0].env[0].value"
        assert problem in str(error)
        assert error.child == 'apps/v1/Deployment "web"'

    def test_non_string_keys(self) -> None:
        child = config_map(data={1: "x"})  # type: ignore[dict-item]
        error = invalid([child])
        assert isinstance(error, NotSerializable)
        assert error.field == "data"
        assert "key 1 that is not a string" in str(error)

    def test_plain_nulls_are_fine(self) -> None:
        child = deployment()
        child["spec"]["paused"] = None
        assert validate_response(CONFIG, REQUEST, SyncResponse([child]))


class TestStatus:
    def test_status_must_be_an_object(self) -> None:
        error = invalid([], status=["ready"])
        assert isinstance(error, InvalidStatus)
        assert error.field == "status"
        assert error.child is None
        assert str(error) == (
            "EchoServer default/demo: status must be an object (a dict or an attrs instance), "
            "got a list"
        )

    def test_status_values_must_be_json(self) -> None:
        error = invalid([], status={"when": datetime.date(2024, 1, 1)})
        assert isinstance(error, NotSerializable)
        assert error.field == "status.when"

    def test_conditions_must_be_objects_with_a_type(self) -> None:
        error = invalid([], status={"conditions": [{"status": "True"}]})
        assert isinstance(error, InvalidStatus) and error.field == "status.conditions"

    def test_nulls_are_dropped(self) -> None:
        assert normalise_status({"a": None, "b": {"c": None, "d": 1}, "e": [None]},
                                parent="p") == {"b": {"d": 1}, "e": [None]}

    def test_attrs_status(self) -> None:
        @attrs.define
        class Status:
            ready_replicas: int
            message: str | None = None

        assert normalise_status(Status(2), parent="p") == {"readyReplicas": 2}


class TestResponseType:
    def test_sync_must_return_a_sync_response(self) -> None:
        with pytest.raises(WrongResponseType, match="sync must return a SyncResponse, got dict"):
            check_response(CONFIG, REQUEST, {"children": []})

    def test_finalize_must_return_a_finalize_response(self) -> None:
        request = SyncRequest(parent(deleting=True), finalizing=True)
        with pytest.raises(WrongResponseType, match=r"finalize .* must return a FinalizeResponse"):
            check_response(CONFIG, request, SyncResponse())
        checked = check_response(CONFIG, request, FinalizeResponse(finalized=True, retry_after=5))
        assert checked.finalized is True and checked.resync_after == 5.0

    @pytest.mark.parametrize("delay", [-1, "10", True, float("nan")])
    def test_resync_after(self, delay: Any) -> None:
        error = invalid([], resync_after=delay)
        assert isinstance(error, InvalidField) and error.field == "resync_after"


def test_errors_pickle() -> None:
    error = invalid([deployment(namespace="other")])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is NamespaceNotAllowed
    assert (copy.parent, copy.child, copy.field, str(copy)) == (
        error.parent, error.child, error.field, str(error)
    )
    assert isinstance(error, ValueError)
