"""Server-side apply and managedFields, against the documented SSA semantics."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeplan.testkit.apiserver.mergekeys import ssa_list_keys
from kubeplan.testkit.apiserver.schema import schema_list_keys
from kubeplan.testkit.apiserver.ssa import (
    ApplyConflict,
    ApplyError,
    apply,
    decode_fields,
    encode_fields,
    path_to_string,
    record_update,
)

DEPLOY_KEYS = ssa_list_keys("apps", "Deployment")


def _deploy(replicas: int = 2, image: str = "web:1", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": labels or {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "template": {
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def _apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "op",
    *,
    force: bool = False,
    now: str = "2024-01-01T00:00:00Z",
    **kw: Any,
) -> dict[str, Any]:
    return apply(live, config, manager=manager, force=force, list_keys=DEPLOY_KEYS, now=now, **kw)


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


# --------------------------------------------------------------------------------------
# encoding


def test_managed_fields_entry_shape_and_encoding() -> None:
    obj = _apply(None, _deploy())
    [entry] = obj["metadata"]["managedFields"]
    assert entry["manager"] == "op"
    assert entry["operation"] == "Apply"
    assert entry["apiVersion"] == "apps/v1"
    assert entry["time"] == "2024-01-01T00:00:00Z"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:template": {
                "f:spec": {
                    "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
                }
            },
        },
    }
    assert "subresource" not in entry


def test_server_owned_metadata_is_never_in_a_field_set() -> None:
    config = _deploy()
    config["metadata"].update(uid="u", resourceVersion="5", generation=3)
    obj = _apply(None, config)
    fields = obj["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"]
    assert set(fields) == {"f:labels"}
    assert "uid" not in obj["metadata"], "uid is the store's to assign"


def test_set_items_use_value_elements() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["a/b"]},
    }
    obj = apply(
        None, config, manager="m", force=False, list_keys=ssa_list_keys("", "ConfigMap"), now="t"
    )
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"a/b"': {}}}
    }


def test_fields_round_trip() -> None:
    fields = {
        ("f:spec", "f:x"),
        ("f:spec", "f:list", 'k:{"name":"a"}'),
        ("f:spec", "f:list", 'k:{"name":"a"}', "f:image"),
        ("f:metadata", "f:finalizers", 'v:"x"'),
    }
    encoded = encode_fields(fields)
    assert encoded["f:spec"]["f:list"]['k:{"name":"a"}'] == {".": {}, "f:image": {}}
    assert decode_fields(encoded) == fields


def test_path_rendering() -> None:
    assert path_to_string(("f:spec", "f:replicas")) == ".spec.replicas"
    assert (
        path_to_string(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"))
        == '.spec.containers[name="a"].image'
    )
    assert path_to_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


# --------------------------------------------------------------------------------------
# apply semantics


def test_apply_creates_from_nothing() -> None:
    obj = _apply(None, _deploy())
    assert obj["spec"]["replicas"] == 2
    assert obj["metadata"]["name"] == "web"


def test_apply_twice_is_a_no_op() -> None:
    first = _apply(None, _deploy())
    second = _apply(first, _deploy(), now="2030-01-01T00:00:00Z")
    assert second == first, "same config: same object and same managedFields (time kept)"


def test_apply_keeps_fields_set_by_others() -> None:
    live = _apply(None, _deploy())
    edited = copy.deepcopy(live)
    edited["metadata"]["annotations"] = {"note": "x"}
    edited = record_update(live, edited, manager="kubectl-edit", now="t2")
    again = _apply(edited, _deploy(replicas=3))
    assert again["metadata"]["annotations"] == {"note": "x"}
    assert again["spec"]["replicas"] == 3


def test_removing_a_field_from_config_removes_it_when_solely_owned() -> None:
    live = _apply(None, _deploy(app="web", tier="fe"))
    out = _apply(live, _deploy(app="web"))
    assert out["metadata"]["labels"] == {"app": "web"}


def test_removed_field_survives_when_another_manager_owns_it() -> None:
    live = _apply(None, _deploy(app="web", tier="fe"))
    live = _apply(live, _deploy(app="web", tier="fe"), manager="other")
    out = _apply(live, _deploy(app="web"))
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert set(_entries(out)) == {("op", "Apply"), ("other", "Apply")}


def test_removed_list_item_is_removed() -> None:
    two = _deploy()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s"})
    live = _apply(None, two)
    out = _apply(live, _deploy())
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_keyed_list_items_from_two_appliers_merge() -> None:
    live = _apply(None, _deploy())
    side = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s"}]}}},
    }
    out = _apply(live, side, manager="injector")
    names = [c["name"] for c in out["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "side"]
    assert out["spec"]["replicas"] == 2


def test_conflict_with_another_applier() -> None:
    live = _apply(None, _deploy())
    with pytest.raises(ApplyConflict) as err:
        _apply(live, _deploy(replicas=5), manager="other")
    assert err.value.conflicts == [("op", ".spec.replicas")]
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "op": .spec.replicas'
    assert err.value.causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "op"',
         "field": ".spec.replicas"}
    ]


def test_same_value_from_two_appliers_is_shared_not_a_conflict() -> None:
    live = _apply(None, _deploy())
    out = _apply(live, _deploy(), manager="other")
    for entry in out["metadata"]["managedFields"]:
        assert "f:replicas" in entry["fieldsV1"]["f:spec"]


def test_conflict_with_update_manager_names_its_api_version() -> None:
    live = _apply(None, _deploy())
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 7
    edited = record_update(live, edited, manager="kubectl-edit", now="t2")
    with pytest.raises(ApplyConflict) as err:
        _apply(edited, _deploy(replicas=2))
    assert err.value.message == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )


def test_several_conflicts_use_the_plural_message() -> None:
    live = _apply(None, _deploy())
    with pytest.raises(ApplyConflict) as err:
        _apply(live, _deploy(replicas=5, image="web:2"), manager="other")
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "op":\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="web"].image'
    )
    assert len(err.value.conflicts) == 2


def test_force_moves_ownership() -> None:
    live = _apply(None, _deploy())
    out = _apply(live, _deploy(replicas=5), manager="other", force=True)
    assert out["spec"]["replicas"] == 5
    mine = _entries(out)[("op", "Apply")]["fieldsV1"]
    theirs = _entries(out)[("other", "Apply")]["fieldsV1"]
    assert "f:replicas" not in mine["f:spec"]
    assert "f:replicas" in theirs["f:spec"]


def test_apply_rejects_managed_fields_in_body() -> None:
    config = _deploy()
    config["metadata"]["managedFields"] = [{"manager": "x"}]
    with pytest.raises(ApplyError, match=r"metadata\.managedFields must be nil"):
        _apply(None, config)


def test_apply_keeps_server_metadata_of_live_object() -> None:
    live = _apply(None, _deploy())
    live["metadata"].update(
        uid="u1", resourceVersion="7", generation=2, creationTimestamp="2024-01-01T00:00:00Z"
    )
    config = _deploy(replicas=4)
    config["metadata"]["uid"] = "other"
    out = _apply(live, config)
    assert out["metadata"]["uid"] == "u1"
    assert out["metadata"]["resourceVersion"] == "7"
    assert out["metadata"]["generation"] == 2


def test_inputs_are_not_mutated() -> None:
    live = _apply(None, _deploy())
    live_copy = copy.deepcopy(live)
    config = _deploy(replicas=9)
    config_copy = copy.deepcopy(config)
    _apply(live, config)
    assert live == live_copy and config == config_copy


def test_status_subresource_split() -> None:
    config = _deploy()
    config["status"] = {"readyReplicas": 1}
    main = _apply(None, config, has_status_subresource=True)
    assert "status" not in main
    status_cfg = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"readyReplicas": 2},
        "spec": {"replicas": 99},
    }
    out = _apply(
        main, status_cfg, manager="ctrl", subresource="status", has_status_subresource=True
    )
    assert out["status"] == {"readyReplicas": 2}
    assert out["spec"]["replicas"] == 2, "spec sent to /status is ignored"
    entry = _entries(out)[("ctrl", "Apply")]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}}}


def test_crd_list_types_from_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object"},
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set"},
                    "args": {"type": "array"},
                },
            }
        },
    }
    keys = schema_list_keys(schema)
    base = {"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"}}
    a = {**base, "spec": {"ports": [{"name": "a", "port": 1}], "tags": ["x"], "args": ["1"]}}
    b = {**base, "spec": {"ports": [{"name": "b", "port": 2}], "tags": ["y"]}}
    live = apply(None, a, manager="a", force=False, list_keys=keys, now="t")
    out = apply(live, b, manager="b", force=False, list_keys=keys, now="t")
    assert [p["name"] for p in out["spec"]["ports"]] == ["a", "b"]
    assert out["spec"]["tags"] == ["x", "y"]
    assert out["spec"]["args"] == ["1"]
    with pytest.raises(ApplyConflict) as err:
        apply(
            out,
            {**base, "spec": {"args": ["2"]}},
            manager="b",
            force=False,
            list_keys=keys,
            now="t",
        )
    assert err.value.conflicts == [("a", ".spec.args")], "atomic lists are owned whole"


# --------------------------------------------------------------------------------------
# record_update


def test_create_records_all_fields_with_update_operation() -> None:
    obj = {
        "apiVersion": "x.io/v1",
        "kind": "W",
        "metadata": {"name": "w", "labels": {"a": "1"}},
        "spec": {"size": 1},
    }
    out = record_update(None, obj, manager="kubectl-create", now="t1")
    [entry] = out["metadata"]["managedFields"]
    assert entry["operation"] == "Update"
    assert entry["manager"] == "kubectl-create"
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {".": {}, "f:size": {}},
    }
    built = record_update(None, obj, manager="m", now="t1", builtin=True)
    assert built["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"] == {"f:size": {}}


def test_update_takes_changed_fields_from_other_managers() -> None:
    live = _apply(None, _deploy())
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 4
    out = record_update(live, changed, manager="hpa", now="t2")
    entries = _entries(out)
    assert entries[("hpa", "Update")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entries[("op", "Apply")]["fieldsV1"]["f:spec"]


def test_update_that_changes_nothing_adds_no_entry() -> None:
    live = _apply(None, _deploy())
    out = record_update(live, copy.deepcopy(live), manager="noop", now="t2")
    assert set(_entries(out)) == {("op", "Apply")}
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_removed_fields_leave_all_sets_and_empty_managers_vanish() -> None:
    live = _apply(None, _deploy())
    edited = copy.deepcopy(live)
    edited["spec"]["replicas"] = 3
    edited = record_update(live, edited, manager="editor", now="t2")
    gone = copy.deepcopy(edited)
    del gone["spec"]["replicas"]
    out = record_update(edited, gone, manager="cleaner", now="t3")
    assert ("editor", "Update") not in _entries(out)
    assert ("cleaner", "Update") not in _entries(out)


def test_update_merges_with_previous_set_of_same_manager() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    first = record_update(None, obj, manager="m", now="t1")
    second_obj = copy.deepcopy(first)
    second_obj["data"]["b"] = "2"
    second = record_update(first, second_obj, manager="m", now="t2")
    [entry] = second["metadata"]["managedFields"]
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:a": {}, "f:b": {}}
    assert entry["time"] == "t2"


def test_reset_managed_fields_with_single_empty_entry() -> None:
    live = _apply(None, _deploy())
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = [{}]
    out = record_update(live, new, manager="m", now="t")
    assert "managedFields" not in out["metadata"]


# --------------------------------------------------------------------------------------
# properties

_labels = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(["1", "2"]), max_size=4
)


def _cm(labels: dict[str, str], data: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": labels},
    }
    if data is not None:
        obj["data"] = data
    return obj


def _cm_apply(
    live: dict[str, Any] | None, cfg: dict[str, Any], manager: str, force: bool = False
) -> dict[str, Any]:
    return apply(
        live, cfg, manager=manager, force=force, list_keys=ssa_list_keys("", "ConfigMap"), now="t"
    )


@given(_labels, _labels)
def test_property_apply_converges_to_config(first: dict[str, str], second: dict[str, str]) -> None:
    """A sole applier's object follows its config exactly, and re-applying is a no-op."""
    live = _cm_apply(None, _cm(first), "m")
    out = _cm_apply(live, _cm(second), "m")
    assert out["metadata"].get("labels", {}) == second
    assert _cm_apply(out, _cm(second), "m") == out


@given(_labels, _labels)
def test_property_two_managers_conflict_unless_force(a: dict[str, str], b: dict[str, str]) -> None:
    live = _cm_apply(None, _cm(a), "one")
    clashing = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    if clashing:
        with pytest.raises(ApplyConflict) as err:
            _cm_apply(live, _cm(b), "two")
        assert [p for _, p in err.value.conflicts] == [f".metadata.labels.{k}" for k in clashing]
    out = _cm_apply(live, _cm(b), "two", force=True)
    assert out["metadata"]["labels"] == {**a, **b}


@given(_labels, st.sampled_from(["a", "b", "c", "d"]))
def test_property_dropped_field_kept_while_shared(labels: dict[str, str], key: str) -> None:
    labels = {**labels, key: "1"}
    live = _cm_apply(None, _cm(labels), "one")
    live = _cm_apply(live, _cm({key: "1"}), "two")
    dropped = {k: v for k, v in labels.items() if k != key}
    out = _cm_apply(live, _cm(dropped), "one")
    assert out["metadata"]["labels"] == labels


# --------------------------------------------------------------------------------------
# the direct create path against the general one

_field_names = st.sampled_from(["a", "b", "name", "port", "items", "spec", "status", "uid"])
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text("ab", max_size=2))
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_field_names, inner, max_size=4)),
    max_leaves=30,
)
#: how lists are merged, by their field name: atomic, keyed by name, by (name, port), a set
_rules = st.dictionaries(_field_names, st.sampled_from([None, "name", ("name", "port"), ""]))


#: lists of maps with keys, duplicates included (the first one wins)
_keyed_items = st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from(["x", "y"])},
    optional={"port": st.integers(1, 2), "a": _json}), max_size=4)


@st.composite
def _objects(draw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "x.io/v1", "kind": "W"}
    meta = {"name": "w", "namespace": "ns", "uid": "u-1", "creationTimestamp": "t0"}
    meta.update(draw(st.dictionaries(st.sampled_from(["labels", "annotations", "finalizers",
                                                      "generation", "ownerReferences"]),
                                     _json, max_size=3)))
    obj["metadata"] = meta
    for key in draw(st.lists(_field_names, max_size=4, unique=True)):
        obj[key] = draw(st.one_of(_json, _keyed_items,
                                  st.builds(lambda items: {"items": items}, _keyed_items)))
    return obj


@given(_objects(), _rules, st.booleans())
def test_property_direct_create_fields_equal_the_general_path(
        obj: dict[str, Any], rules: dict[str, Any], builtin: bool) -> None:
    import orjson

    def list_keys(field_path: tuple[str, ...]) -> Any:
        return rules.get(field_path[-1]) if field_path else None

    def record() -> bytes:
        out = record_update(None, copy.deepcopy(obj), manager="m", now="t1",
                            list_keys=list_keys, builtin=builtin, shared=True)
        return orjson.dumps(out)

    direct = record()
    with _general_creates():
        general = record()
    assert direct == general


@contextlib.contextmanager
def _general_creates() -> Iterator[None]:
    """Creates recorded the general way (walked, compared, encoded) while it lasts."""
    from kubeplan.testkit.apiserver.ssa import operations

    assert operations._FAST_CREATES is True  # the switch record_update reads is here
    operations._FAST_CREATES = False
    try:
        yield
    finally:
        operations._FAST_CREATES = True


def test_the_switch_chooses_the_path_a_create_takes() -> None:
    # the direct path renders every leaf as the one shared empty dict, the general path
    # decodes fresh ones: the comparison above is only worth something if both run
    from kubeplan.testkit.apiserver.ssa.creates import _LEAF

    def leaf() -> Any:
        out = record_update(None, _deploy(), manager="m", now="t", list_keys=DEPLOY_KEYS,
                            builtin=True, shared=True)
        return out["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:replicas"]

    assert leaf() is _LEAF
    with _general_creates():
        general = leaf()
    assert general == {} and general is not _LEAF


def test_direct_create_fields_of_a_deployment_share_its_large_lists() -> None:
    deploy = _deploy()
    deploy["spec"]["template"]["spec"]["containers"] = [
        {"name": f"c{i}", "image": "img:1", "env": [{"name": f"E{j}", "value": "v"}
                                                     for j in range(10)]}
        for i in range(3)]
    first = record_update(None, copy.deepcopy(deploy), manager="m", now="t",
                          list_keys=DEPLOY_KEYS, builtin=True, shared=True)
    second = record_update(None, copy.deepcopy(deploy), manager="m", now="t",
                           list_keys=DEPLOY_KEYS, builtin=True, shared=True)

    def containers(obj: dict[str, Any]) -> Any:
        fields = obj["metadata"]["managedFields"][0]["fieldsV1"]
        return fields["f:spec"]["f:template"]["f:spec"]["f:containers"]

    assert containers(first) is containers(second)  # one rendering for both objects
    # containers is in the Go zero value of a pod template (no omitempty): its items
    # are the creator's, the list itself carries no "."
    assert set(containers(first)) == {'k:{"name":"c0"}', 'k:{"name":"c1"}',
                                      'k:{"name":"c2"}'}


def test_creates_of_one_shape_share_their_field_sets_and_no_more() -> None:
    # the values differ, the keys do not: one fieldsV1 for both, down to f:data
    def created(data: dict[str, str], labels: dict[str, str]) -> dict[str, Any]:
        obj = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "labels": labels}, "data": data}
        out = record_update(None, obj, manager="m", now="t", shared=True)
        fields: dict[str, Any] = out["metadata"]["managedFields"][0]["fieldsV1"]
        return fields

    first = created({"a": "1", "b": "2"}, {"app": "x"})
    second = created({"a": "3", "b": "4"}, {"app": "y"})
    assert first is second
    assert first == {"f:data": {".": {}, "f:a": {}, "f:b": {}},
                     "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
    # another key is another node; the labels' node alone stays shared
    third = created({"a": "1", "c": "2"}, {"app": "x"})
    assert third["f:data"] == {".": {}, "f:a": {}, "f:c": {}}
    assert third["f:data"] is not first["f:data"]
    assert third["f:metadata"] is first["f:metadata"]
    # a caller that does not keep the result unchanged gets a node of its own
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "data": {"a": "1", "b": "2"}}
    own = record_update(None, obj, manager="m", now="t")
    assert own["metadata"]["managedFields"][0]["fieldsV1"]["f:data"] is not first["f:data"]


async def test_a_write_to_one_object_leaves_the_shared_field_sets_of_others() -> None:
    from kubeplan.core.types import K8sType
    from kubeplan.testkit.apiserver import FakeApiServer

    cm = K8sType("v1", "ConfigMap", "configmaps")

    def body(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default"}, "data": data}

    async with FakeApiServer() as server:
        client = server.client()
        for name in ("one", "two"):
            await client.create(cm, body(name, {"a": "1"}), namespace="default")
        before = (await client.get(cm, "two", "default"))["metadata"]["managedFields"]
        # an update that takes a field from the creator, a patch that adds one, an apply
        await client.replace(cm, {**(await client.get(cm, "one", "default")),
                                  "data": {"b": "2"}})
        await client.patch(cm, "one", {"data": {"c": "3"}}, namespace="default",
                           field_manager="patcher")
        await client.apply(cm, body("one", {"d": "4"}), field_manager="applier")
        one = await client.get(cm, "one", "default")
        assert one["data"] == {"b": "2", "c": "3", "d": "4"}
        managers = {e["manager"]: e["fieldsV1"] for e in one["metadata"]["managedFields"]}
        assert managers["applier"] == {"f:data": {"f:d": {}}}
        assert managers["patcher"] == {"f:data": {"f:c": {}}}
        after = (await client.get(cm, "two", "default"))["metadata"]["managedFields"]
        assert after == before
        assert before[0]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
        await client.close()


@contextlib.contextmanager
def _general_scalars() -> Iterator[None]:
    """Scalars merged and compared by the general recursion while it lasts."""
    from kubeplan.testkit.apiserver.ssa import fieldsets, merge

    assert merge._SCALAR_SHORTCUTS is True and fieldsets._SCALAR_SHORTCUTS is True
    merge._SCALAR_SHORTCUTS = fieldsets._SCALAR_SHORTCUTS = False
    try:
        yield
    finally:
        merge._SCALAR_SHORTCUTS = fieldsets._SCALAR_SHORTCUTS = True


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_objects(), _objects(), _objects(), _rules, st.booleans())
def test_property_scalar_shortcuts_of_merge_and_compare_equal_the_general_path(
        first: dict[str, Any], second: dict[str, Any], config: dict[str, Any],
        rules: dict[str, Any], force: bool) -> None:
    import orjson

    def list_keys(field_path: tuple[str, ...]) -> Any:
        return rules.get(field_path[-1]) if field_path else None

    def outcome() -> bytes:
        # an update by one manager, then an apply by another over it
        live = record_update(None, copy.deepcopy(first), manager="a", now="t1",
                             list_keys=list_keys, builtin=True, shared=True)
        live = record_update(live, copy.deepcopy(second), manager="b", now="t2",
                             list_keys=list_keys)
        try:
            applied = apply(copy.deepcopy(live), copy.deepcopy(config), manager="c",
                            force=force, list_keys=list_keys, now="t3")
            again = apply(copy.deepcopy(applied), copy.deepcopy(second), manager="c",
                          force=True, list_keys=list_keys, now="t4")
        except ApplyConflict as exc:
            return orjson.dumps([live, exc.message, exc.conflicts])
        return orjson.dumps([live, applied, again])

    fast = outcome()
    with _general_scalars():
        general = outcome()
    assert fast == general


def test_list_rules_of_a_memo_caller_are_asked_once_for_all_its_operations() -> None:
    from kubeplan.testkit.apiserver.ssa.paths import _Rules

    asked: list[tuple[str, ...]] = []

    def list_keys(path: tuple[str, ...]) -> Any:
        asked.append(path)
        return ("name",) if path == ("spec", "items") else None

    first = _Rules(list_keys, memo=True)
    assert first.at_fields(("spec", "items")).keys == ("name",)
    second = _Rules(list_keys, memo=True)  # another write of the same resource
    assert second.at_fields(("spec", "items")).keys == ("name",)
    assert asked == [("spec", "items")]
    # a caller that may change its list_keys between operations asks again each time
    _Rules(list_keys, memo=False).at_fields(("spec", "items"))
    _Rules(list_keys, memo=False).at_fields(("spec", "items"))
    assert len(asked) == 3

    def other(path: tuple[str, ...]) -> Any:  # another resource: answers of its own
        return ("id",) if path == ("spec", "items") else None

    assert _Rules(other, memo=True).at_fields(("spec", "items")).keys == ("id",)


def test_recording_an_update_leaves_no_reference_cycle_behind() -> None:
    # the field-set walkers are closures that call each other: left as they were, each
    # write left a cycle (walkers, rules, path sets) for the garbage collector to find
    import gc

    old = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "template": {"spec": {"containers": [
               {"name": "a", "image": "x"}]}}}}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 2
    new["spec"]["template"]["spec"]["containers"].append({"name": "b", "image": "y"})
    gc.collect()
    gc.disable()
    try:
        recorded = record_update(old, new, manager="m", now="2026-01-01T00:00:00Z",
                                 list_keys=DEPLOY_KEYS)
        applied = apply(recorded, {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "metadata": {"name": "d"}, "spec": {"replicas": 3}},
                        manager="a", force=True, now="2026-01-01T00:00:00Z",
                        list_keys=DEPLOY_KEYS)
        assert applied["spec"]["replicas"] == 3
        assert gc.collect() == 0
    finally:
        gc.enable()
