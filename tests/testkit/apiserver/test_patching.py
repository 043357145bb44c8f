"""JSON patch, merge patch and strategic merge patch against documented semantics."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeplan.testkit.apiserver.mergekeys import list_merge_key, list_rule
from kubeplan.testkit.apiserver.patching import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    create_merge_patch,
)


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["f1", "f2"]},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80}],
                },
                {"name": "side", "image": "side:1"},
            ],
            "tolerations": [{"key": "k1"}],
        },
    }


# --------------------------------------------------------------------------------------
# RFC 6902


def test_json_patch_applies_operations_in_order() -> None:
    pod = _pod()
    out = apply_json_patch(
        pod,
        [
            {"op": "test", "path": "/metadata/name", "value": "p"},
            {"op": "replace", "path": "/metadata/labels/a", "value": "2"},
            {"op": "add", "path": "/metadata/labels/b", "value": "3"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "add", "path": "/spec/containers/-", "value": {"name": "x"}},
        ],
    )
    assert out["metadata"]["labels"] == {"a": "2", "b": "3"}
    assert out["metadata"]["finalizers"] == ["f2"]
    assert out["spec"]["containers"][-1] == {"name": "x"}
    assert pod == _pod(), "input must not be mutated"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            "testing value /metadata/name failed: test failed",
        ),
        (
            [{"op": "remove", "path": "/metadata/nope"}],
            "error in remove for path: '/metadata/nope'",
        ),
        (
            [{"op": "replace", "path": "/spec/nope", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/nope",
        ),
        (
            [{"op": "add", "path": "/nope/deeper", "value": 1}],
            'add operation does not apply: doc is missing path: "/nope/deeper"',
        ),
        ([{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate"),
    ],
)
def test_json_patch_op_failures_are_422(patch: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(_pod(), patch)
    assert err.value.code == 422
    assert err.value.reason == "Invalid"
    assert str(err.value).startswith(message)


def test_json_patch_failure_leaves_input_untouched() -> None:
    pod = _pod()
    with pytest.raises(PatchError):
        apply_json_patch(
            pod,
            [
                {"op": "replace", "path": "/metadata/name", "value": "changed"},
                {"op": "test", "path": "/metadata/name", "value": "p"},
            ],
        )
    assert pod == _pod()


@pytest.mark.parametrize("patch", [{"op": "add"}, "x", 3, [1]])
def test_json_patch_that_is_not_a_list_of_objects_is_400(patch: Any) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(_pod(), patch)
    assert err.value.code == 400


def test_json_patch_operation_limit() -> None:
    ops = [{"op": "test", "path": "/metadata/name", "value": "p"}] * 10001
    with pytest.raises(PatchError) as err:
        apply_json_patch(_pod(), ops)
    assert err.value.code == 413


# --------------------------------------------------------------------------------------
# RFC 7386 (examples from RFC 7386 appendix A)


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(target: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(target, patch) == result


def test_merge_patch_non_object_replaces_document() -> None:
    assert apply_merge_patch({"a": "b"}, ["c"]) == ["c"]
    assert apply_merge_patch({"a": "foo"}, "bar") == "bar"


def test_merge_patch_null_document_is_400() -> None:
    with pytest.raises(PatchError) as err:
        apply_merge_patch({"a": 1}, None)
    assert err.value.code == 400


def test_merge_patch_replaces_lists_and_does_not_mutate() -> None:
    pod = _pod()
    out = apply_merge_patch(pod, {"metadata": {"finalizers": ["f3"]}})
    assert out["metadata"]["finalizers"] == ["f3"]
    assert pod == _pod()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=10,
)
_doc = st.dictionaries(st.text(max_size=2), _json, max_size=4)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@given(_doc, _doc)
def test_create_merge_patch_round_trips(a: dict[str, Any], b: dict[str, Any]) -> None:
    b = _without_nulls(b)
    assert apply_merge_patch(a, create_merge_patch(a, b)) == b


@given(_doc, _doc)
def test_merge_patch_is_idempotent(a: dict[str, Any], patch: dict[str, Any]) -> None:
    once = apply_merge_patch(a, patch)
    assert apply_merge_patch(once, patch) == once


# --------------------------------------------------------------------------------------
# merge keys table


@pytest.mark.parametrize(
    ("group", "kind", "path", "key"),
    [
        ("", "Pod", ("spec", "containers"), "name"),
        ("", "Pod", ("spec", "initContainers", "env"), "name"),
        ("", "Pod", ("spec", "containers", "ports"), "containerPort"),
        ("", "Pod", ("spec", "containers", "volumeMounts"), "mountPath"),
        ("", "Pod", ("spec", "containers", "volumeDevices"), "devicePath"),
        ("", "Pod", ("spec", "volumes"), "name"),
        ("", "Pod", ("spec", "imagePullSecrets"), "name"),
        ("", "Pod", ("spec", "hostAliases"), "ip"),
        ("", "Pod", ("spec", "tolerations"), None),
        ("", "Pod", ("spec", "containers", "envFrom"), None),
        ("apps", "Deployment", ("spec", "template", "spec", "containers"), "name"),
        ("apps", "StatefulSet", ("spec", "template", "spec", "volumes"), "name"),
        ("batch", "Job", ("spec", "template", "spec", "ephemeralContainers"), "name"),
        (
            "batch",
            "CronJob",
            ("spec", "jobTemplate", "spec", "template", "spec", "containers", "env"),
            "name",
        ),
        ("apps", "Deployment", ("spec", "containers"), None),
        ("", "Service", ("spec", "ports"), "port"),
        ("", "ConfigMap", ("metadata", "ownerReferences"), "uid"),
        ("apps", "Deployment", ("status", "conditions"), "type"),
        ("", "ConfigMap", ("metadata", "finalizers"), None),
    ],
)
def test_merge_key_table(group: str, kind: str, path: tuple[str, ...], key: str | None) -> None:
    assert list_merge_key(group, kind, path) == key


def test_ssa_view_of_ports_uses_protocol_too() -> None:
    rule = list_rule("", "Service", ("spec", "ports"))
    assert rule is not None and rule.keys == ("port", "protocol")
    finalizers = list_rule("", "Pod", ("metadata", "finalizers"))
    assert finalizers is not None and finalizers.list_type == "set"


# --------------------------------------------------------------------------------------
# strategic merge patch


def _smp(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    return apply_strategic_merge_patch(obj, patch, "", "Pod")


def _names(obj: dict[str, Any]) -> list[str]:
    return [c["name"] for c in obj["spec"]["containers"]]


def test_smp_merges_keyed_lists_by_merge_key() -> None:
    pod = _pod()
    out = _smp(pod, {"spec": {"containers": [{"name": "app", "image": "app:2"}]}})
    app = out["spec"]["containers"][0]
    assert app["image"] == "app:2"
    assert app["env"] == [{"name": "A", "value": "1"}], "unmentioned fields survive"
    assert _names(out) == ["app", "side"]
    assert pod == _pod()


def test_smp_new_items_go_before_server_only_items() -> None:
    """apimachinery mergeSortedSlice: patch items not in the live list come first."""
    out = _smp(_pod(), {"spec": {"containers": [{"name": "new", "image": "n"}]}})
    assert _names(out) == ["new", "app", "side"]


def test_smp_nested_keyed_lists() -> None:
    out = _smp(
        _pod(),
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "env": [{"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 80, "name": "http"}],
                    }
                ]
            }
        },
    )
    app = out["spec"]["containers"][0]
    assert {e["name"] for e in app["env"]} == {"A", "B"}
    assert app["ports"] == [{"containerPort": 80, "name": "http"}]


def test_smp_replaces_lists_without_strategy() -> None:
    out = _smp(_pod(), {"spec": {"tolerations": [{"key": "k2"}]}})
    assert out["spec"]["tolerations"] == [{"key": "k2"}]


def test_smp_primitive_merge_list_is_a_set_union() -> None:
    out = _smp(_pod(), {"metadata": {"finalizers": ["f3", "f1"]}})
    assert sorted(out["metadata"]["finalizers"]) == ["f1", "f2", "f3"]


def test_smp_delete_from_primitive_list() -> None:
    out = _smp(_pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}})
    assert out["metadata"]["finalizers"] == ["f2"]


def test_smp_patch_delete_on_list_item() -> None:
    out = _smp(_pod(), {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})
    assert _names(out) == ["app"]


def test_smp_patch_replace_on_list() -> None:
    out = _smp(
        _pod(), {"spec": {"containers": [{"name": "only", "image": "o"}, {"$patch": "replace"}]}}
    )
    assert out["spec"]["containers"] == [{"name": "only", "image": "o"}]


def test_smp_patch_replace_and_delete_on_maps() -> None:
    out = _smp(_pod(), {"metadata": {"labels": {"b": "2", "$patch": "replace"}}})
    assert out["metadata"]["labels"] == {"b": "2"}
    out = _smp(_pod(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert out["metadata"]["labels"] == {}


def test_smp_null_deletes_a_field() -> None:
    out = _smp(_pod(), {"metadata": {"labels": None}, "spec": {"tolerations": None}})
    assert "labels" not in out["metadata"]
    assert "tolerations" not in out["spec"]


def test_smp_retain_keys_clears_other_fields() -> None:
    dep = {
        "spec": {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1},
            }
        }
    }
    out = apply_strategic_merge_patch(
        dep,
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        "apps",
        "Deployment",
    )
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_retain_keys_must_cover_patch_fields() -> None:
    with pytest.raises(PatchError) as err:
        _smp(_pod(), {"spec": {"$retainKeys": ["containers"], "tolerations": []}})
    assert err.value.code == 400
    assert str(err.value) == "invalid patch format of retainKeys"


def test_smp_set_element_order() -> None:
    out = _smp(
        _pod(),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "side"}, {"name": "app"}],
                "containers": [{"name": "app", "image": "app:3"}],
            }
        },
    )
    assert _names(out) == ["side", "app"]
    assert out["spec"]["containers"][1]["image"] == "app:3"


def test_smp_works_at_nested_pod_specs() -> None:
    cron = {
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}
            }
        }
    }
    out = apply_strategic_merge_patch(
        cron,
        {
            "spec": {
                "jobTemplate": {
                    "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}}}
                }
            }
        },
        "batch",
        "CronJob",
    )
    containers = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["b", "a"]


def test_smp_unknown_directive_values_fail() -> None:
    with pytest.raises(PatchError) as err:
        _smp(_pod(), {"metadata": {"labels": {"$patch": "explode"}}})
    assert "unknown patch type: explode" in str(err.value)
    with pytest.raises(PatchError, match="merging lists cannot yet be specified"):
        _smp(_pod(), {"spec": {"containers": [{"$patch": "merge"}]}})
    with pytest.raises(PatchError, match="unknown strategic merge patch directive"):
        _smp(_pod(), {"$frobnicate": 1})


def test_smp_missing_merge_key_fails() -> None:
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        _smp(_pod(), {"spec": {"containers": [{"image": "x"}]}})


def test_smp_rejects_non_object_patch() -> None:
    with pytest.raises(PatchError) as err:
        _smp(_pod(), ["x"])
    assert err.value.code == 400


def test_smp_does_not_mutate_patch() -> None:
    patch = {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}
    before = copy.deepcopy(patch)
    _smp(_pod(), patch)
    assert patch == before


def test_smp_without_lists_equals_merge_patch_on_maps() -> None:
    patch = {"metadata": {"labels": {"a": None, "c": "3"}, "annotations": {"x": "y"}}}
    assert _smp(_pod(), patch) == apply_merge_patch(_pod(), patch)


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2", None])))
def test_smp_on_label_maps_matches_merge_patch(labels: dict[str, Any]) -> None:
    patch = {"metadata": {"labels": labels}}
    assert _smp(_pod(), patch) == apply_merge_patch(_pod(), patch)
